//! `sandscope ps` and `sandscope kill`: the processes inside a sandbox,
//! whoever started them, and signalling one of them. Both run through an
//! exec in the sandbox (the API has no process RPCs); the client's
//! `processes` and `signal_process` do the work.
use super::connect::{connect, explain};
use super::ls::age;
use super::output::{self, cell, Format};
use super::GlobalArgs;
use crate::client::ProcessInfo;
use serde_json::json;
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Sandbox id.
    pub id: String,
    /// `table` (default) or `json`.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Sandbox id.
    pub id: String,
    /// The process id inside the sandbox (as `sandscope ps` shows it).
    pub pid: u32,
    /// Signal name or number.
    #[arg(long, short, default_value = "TERM", value_name = "SIGNAL")]
    pub signal: String,
}

pub async fn run(global: &GlobalArgs, args: PsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let procs = client
        .processes(&args.id)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    match args.output {
        Format::Table => {
            // On a terminal, one process per screen line, as `ps` does:
            // a long command line (bubblewrap's own, say) is cut, not wrapped.
            let width = std::io::stdout()
                .is_terminal()
                .then(crossterm::terminal::size)
                .and_then(Result::ok)
                .map(|(cols, _)| usize::from(cols));
            print!("{}", fit(&table(&procs), width));
        }
        Format::Json => output::print_json(&to_json(&procs))?,
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn kill(global: &GlobalArgs, args: KillArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    client
        .signal_process(&args.id, args.pid, &args.signal)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    Ok(ExitCode::SUCCESS)
}

pub fn table(procs: &[ProcessInfo]) -> String {
    let rows: Vec<Vec<String>> = procs
        .iter()
        .map(|p| {
            vec![
                p.pid.to_string(),
                p.ppid.to_string(),
                p.state.to_string(),
                match (&p.user, p.uid) {
                    (Some(u), _) => cell(u),
                    (None, Some(uid)) => uid.to_string(),
                    (None, None) => "-".into(),
                },
                p.elapsed.map_or_else(|| "-".into(), age),
                cell(&p.command()),
            ]
        })
        .collect();
    output::table(&["PID", "PPID", "S", "USER", "ELAPSED", "COMMAND"], &rows)
}

/// Each line cut to `width` characters, when there is a width.
fn fit(text: &str, width: Option<usize>) -> String {
    let Some(w) = width.filter(|w| *w > 0) else {
        return text.to_string();
    };
    text.lines()
        .map(|l| {
            let mut line: String = l.chars().take(w).collect();
            line.push('\n');
            line
        })
        .collect()
}

fn to_json(procs: &[ProcessInfo]) -> serde_json::Value {
    serde_json::Value::Array(
        procs
            .iter()
            .map(|p| {
                json!({
                    "pid": p.pid,
                    "ppid": p.ppid,
                    "state": p.state.to_string(),
                    "uid": p.uid,
                    "user": p.user,
                    "elapsed_seconds": p.elapsed.map(|e| e.as_secs_f64()),
                    "name": p.name,
                    "cmdline": p.cmdline,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn long_lines_are_cut_only_with_a_width() {
        assert_eq!(fit("abcdef\nxy\n", Some(3)), "abc\nxy\n");
        assert_eq!(fit("abcdef\n", None), "abcdef\n");
    }
}
