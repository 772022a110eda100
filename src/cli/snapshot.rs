//! `sandscope snapshot create|ls|get|rm`: file-system snapshots of
//! sandboxes, to start new ones from (`sandscope create --from-snapshot`).
use super::connect::{connect, explain};
use super::output::{cell, print_json, table, time, Format};
use super::GlobalArgs;
use crate::client::Snapshot;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// How long `snapshot create` waits for the copy by default.
const WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot a running sandbox's workspace (or a scratch volume); prints the id once ready.
    Create(CreateArgs),
    /// List snapshots.
    Ls(LsArgs),
    /// Show one snapshot.
    Get(GetArgs),
    /// Delete snapshots.
    Rm(RmArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Sandbox id.
    pub sandbox: String,
    /// Scratch volume to snapshot (default: the only one, else the workspace).
    #[arg(long, value_name = "NAME")]
    pub volume: Option<String>,
    /// Print the id at once instead of waiting until the snapshot is ready.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only snapshots of this sandbox.
    #[arg(long, value_name = "ID")]
    pub sandbox: Option<String>,
    #[arg(long, short, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Snapshot id.
    pub id: String,
    #[arg(long, short, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Snapshot ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let url = client.endpoint().url.clone();
    let explain = |e| explain(&url, e);
    match args.command {
        SnapshotCommand::Create(a) => {
            let snap = client
                .snapshot(&a.sandbox, a.volume.as_deref())
                .await
                .map_err(explain)?;
            if !a.no_wait {
                client
                    .wait_snapshot(&snap.id, WAIT)
                    .await
                    .map_err(explain)?;
            }
            println!("{}", snap.id);
        }
        SnapshotCommand::Ls(a) => {
            let mut list = client.list_snapshots().await.map_err(explain)?;
            if let Some(sb) = &a.sandbox {
                list.retain(|s| &s.source_sandbox_id == sb);
            }
            match a.output {
                Format::Table => print!("{}", snapshot_table(&list, SystemTime::now())),
                Format::Json => print_json(&serde_json::Value::Array(
                    list.iter().map(snapshot_json).collect(),
                ))?,
            }
        }
        SnapshotCommand::Get(a) => {
            let snap = client.get_snapshot(&a.id).await.map_err(explain)?;
            match a.output {
                Format::Table => print!("{}", snapshot_table(&[snap], SystemTime::now())),
                Format::Json => print_json(&snapshot_json(&snap))?,
            }
        }
        SnapshotCommand::Rm(a) => {
            let mut failed = false;
            for id in &a.ids {
                match client.delete_snapshot(id).await {
                    Ok(()) => println!("{id} deleted"),
                    Err(e) => {
                        eprintln!("sandscope: {id}: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "1.5 MiB"-style sizes.
fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn snapshot_table(list: &[Snapshot], now: SystemTime) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.state.to_string(),
                size(s.size_bytes),
                cell(&s.source_sandbox_id),
                cell(&s.source_volume),
                if s.on_stop { "on stop" } else { "manual" }.to_string(),
                s.created
                    .and_then(|c| now.duration_since(c).ok())
                    .map(super::ls::age)
                    .unwrap_or_else(|| "-".into()),
                cell(&s.state_reason),
            ]
        })
        .collect();
    table(
        &[
            "ID", "STATE", "SIZE", "SANDBOX", "VOLUME", "TAKEN", "AGE", "NOTE",
        ],
        &rows,
    )
}

fn snapshot_json(s: &Snapshot) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "state": s.state.as_str(),
        "state_reason": s.state_reason,
        "size_bytes": s.size_bytes,
        "source_sandbox_id": s.source_sandbox_id,
        "source_volume": s.source_volume,
        "trigger": if s.on_stop { "on_stop" } else { "manual" },
        "created": s.created.map(time),
        "completed": s.completed.map(time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
    }
}
