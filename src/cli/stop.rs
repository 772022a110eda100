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
}

pub async fn run(global: &GlobalArgs, args: StopArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let sb = client
        .stop(&args.id, Duration::from_secs(args.grace))
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    println!("{} {}", sb.id, sb.state);
    Ok(ExitCode::SUCCESS)
}
