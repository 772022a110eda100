//! `sandscope exec`: run a command in a sandbox with its output streamed to
//! ours, byte for byte, and exit with its code.
use super::connect::{connect, explain};
use super::create::parse_env;
use super::sink::copy_output;
use super::GlobalArgs;
use crate::client::{Error, ExecOptions, StdinWriter};
use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Exit code for a command that ran out of time (as `timeout(1)` uses).
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code when sandscope itself failed, not the command (as `docker run`).
pub const EXIT_FAILED: u8 = 125;
/// Exit code after Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code after SIGTERM (128 + 15).
pub const EXIT_TERMINATED: u8 = 143;
/// Exit code after SIGHUP (128 + 1).
pub const EXIT_HANGUP: u8 = 129;
/// Exit code when our stdout was closed under us (128 + SIGPIPE).
pub const EXIT_BROKEN_PIPE: u8 = 141;

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Sandbox id.
    #[arg(long, short)]
    pub sandbox: String,
    /// Copy our stdin to the command, then send EOF.
    #[arg(long, short = 'i')]
    pub stdin: bool,
    /// Absolute working directory.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Kill the command after this many seconds (exit 124).
    #[arg(long, value_name = "S", value_parser = super::args::seconds)]
    pub timeout: Option<Duration>,
    /// Report a non-zero exit as an error (the exit code stays the command's).
    #[arg(long)]
    pub check: bool,
    /// An environment variable for this command; repeat for several.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: ExecArgs) -> anyhow::Result<ExitCode> {
    // Caught from the start: a signal while the command starts still stops it.
    let mut stop = StopSignals::install()?;
    let client = connect(global).await?;
    let url = client.endpoint().url.clone();
    let opts = ExecOptions {
        stdin: args.stdin,
        cwd: args.cwd,
        timeout: args.timeout,
        check: args.check,
        env: args.env.into_iter().collect(),
        tty: None,
    };
    let started = tokio::select! {
        p = client.exec(&args.sandbox, &args.command, opts) => p,
        // Dropping the half-started exec cancels its stream, which kills it.
        code = stop.next() => return Ok(stopped(code)),
    };
    let mut process = started.map_err(|e| explain(&url, e))?;
    if let Some(writer) = process.take_stdin() {
        tokio::spawn(copy_stdin(writer));
    }
    let Some(output) = process.take_output() else {
        anyhow::bail!("the command's output was already taken");
    };

    tokio::select! {
        copied = copy_output(output) => {
            if copied.is_err() {
                process.kill();
                return Ok(ExitCode::from(EXIT_BROKEN_PIPE));
            }
        }
        code = stop.next() => {
            process.kill();
            return Ok(stopped(code));
        }
    }

    match process.wait().await {
        Ok(code) => Ok(exit_code(code)),
        Err(Error::Timeout(d)) => {
            eprintln!(
                "sandscope: the command timed out after {}s and was killed",
                d.as_secs_f64()
            );
            Ok(ExitCode::from(EXIT_TIMEOUT))
        }
        Err(Error::Execution { result }) => {
            eprintln!(
                "sandscope: the command exited with code {}",
                result.returncode
            );
            Ok(exit_code(result.returncode))
        }
        Err(e) => {
            eprintln!("sandscope: {:#}", explain(&url, e));
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP: each stops the remote command, and we exit
/// as if the signal had killed us.
struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<StopSignals> {
        let on = |kind| signal(kind).context("cannot watch for signals");
        Ok(StopSignals {
            int: on(SignalKind::interrupt())?,
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    /// Waits for one of them and returns the exit code it stands for.
    async fn next(&mut self) -> u8 {
        tokio::select! {
            _ = self.int.recv() => EXIT_INTERRUPTED,
            _ = self.term.recv() => EXIT_TERMINATED,
            _ = self.hup.recv() => EXIT_HANGUP,
        }
    }
}

fn stopped(code: u8) -> ExitCode {
    eprintln!("sandscope: interrupted; the command was killed");
    ExitCode::from(code)
}

/// Our exit status for the command's code; shells only see the low 8 bits.
pub(crate) fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code.rem_euclid(256)).unwrap_or(1))
}

/// Copies our stdin to the command, then closes it (EOF). Stops quietly if
/// the command ends first.
pub(crate) async fn copy_stdin(writer: StdinWriter) {
    let mut input = tokio::io::stdin();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if writer
                    .write(bytes::Bytes::copy_from_slice(&buf[..n]))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading stdin failed; sending EOF");
                break;
            }
        }
    }
    let _ = writer.close().await;
}
