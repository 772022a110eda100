//! `sandscope logs`: print a sandbox's main-process output.
use super::connect::{connect, explain};
use super::GlobalArgs;
use crate::client::LogOptions;
use std::process::ExitCode;
use tokio::io::AsyncWriteExt;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Sandbox id.
    pub id: String,
    /// Keep printing new output until the main process ends.
    #[arg(long, short)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(super::args::MAX_WIRE)))]
    pub tail: u32,
    /// Prefix each line with its time (RFC 3339, UTC).
    #[arg(long)]
    pub timestamps: bool,
}

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let opts = LogOptions {
        follow: args.follow,
        tail_lines: args.tail,
        timestamps: args.timestamps,
    };
    let mut stream = client
        .logs(&args.id, opts)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    let mut out = tokio::io::stdout();
    while let Some(chunk) = stream.next().await {
        let data = chunk.map_err(|e| explain(&client.endpoint().url, e))?;
        if out.write_all(&data).await.is_err() {
            // The reader went away (e.g. `| head`); nothing more to do.
            return Ok(ExitCode::SUCCESS);
        }
        let _ = out.flush().await;
    }
    Ok(ExitCode::SUCCESS)
}
