//! `sandscope stop`: ask the server to stop a sandbox.
use super::connect::{connect, explain};
use super::GlobalArgs;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Sandbox id.
    pub id: String,
    /// Seconds between SIGTERM and SIGKILL.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=u64::from(super::args::MAX_WIRE)))]
    pub grace: u64,
    /// Snapshot the workspace (or this scratch volume; repeat for several)
    /// once the sandbox's processes are gone, and print the snapshot ids.
    #[arg(long, value_name = "VOLUME", num_args = 0..=1, default_missing_value = "workspace")]
    pub snapshot: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: StopArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let grace = Duration::from_secs(args.grace);
    let url = client.endpoint().url.clone();
    if args.snapshot.is_empty() {
        let sb = client
            .stop(&args.id, grace)
            .await
            .map_err(|e| explain(&url, e))?;
        println!("{} {}", sb.id, sb.state);
    } else {
        let (sb, ids) = client
            .stop_with_snapshot(&args.id, grace, &args.snapshot)
            .await
            .map_err(|e| explain(&url, e))?;
        println!("{} {}", sb.id, sb.state);
        for id in ids {
            println!("snapshot {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
