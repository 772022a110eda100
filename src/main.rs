//! The `sandscope` binary: argument parsing and dispatch only.
use clap::Parser;
use sandscope::cli::logging::Logger;
use sandscope::cli::{self, Cli, Command};
use sandscope::tui::Target;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args = Cli::parse();
    let _logs = cli::logging::init(match args.command {
        Some(Command::Serve(_)) => Logger::Server,
        None => Logger::Ui,
        Some(_) => Logger::Command,
    });
    let runtime = match runtime_for(&args.command) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sandscope: cannot start the async runtime: {e}");
            return ExitCode::from(cli::exec::EXIT_FAILED);
        }
    };
    let failure_code = match args.command {
        Some(Command::Exec(_)) | Some(Command::Sh(_)) => cli::exec::EXIT_FAILED,
        _ => 1,
    };
    let outcome = runtime.block_on(dispatch(args));
    // A stdin copy may still sit in a blocking read; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "command failed");
            eprintln!("sandscope: {e:#}");
            ExitCode::from(failure_code)
        }
    }
}

/// The server and the terminal UI (which embeds one) get a worker per core;
/// a subcommand is one client with one connection, and a single-threaded
/// runtime starts faster and hands its work between fewer threads.
fn runtime_for(command: &Option<Command>) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        Some(Command::Serve(_)) | None => tokio::runtime::Runtime::new(),
        Some(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}

async fn dispatch(args: Cli) -> anyhow::Result<ExitCode> {
    let g = &args.global;
    match args.command {
        Some(Command::Serve(a)) => cli::serve::run(a).await,
        Some(Command::Create(a)) => cli::create::run(g, a).await,
        Some(Command::Ls(a)) => cli::ls::run(g, a).await,
        Some(Command::Exec(a)) => cli::exec::run(g, a).await,
        Some(Command::Stop(a)) => cli::stop::run(g, a).await,
        Some(Command::Logs(a)) => cli::logs::run(g, a).await,
        Some(Command::Get(a)) => cli::get::run(g, a).await,
        Some(Command::Sh(a)) => cli::sh::run(g, a).await,
        Some(Command::Files(a)) => cli::files::run(g, a).await,
        Some(Command::Ps(a)) => cli::ps::run(g, a).await,
        Some(Command::Kill(a)) => cli::ps::kill(g, a).await,
        Some(Command::PortForward(a)) => cli::forward::run(g, a).await,
        Some(Command::Snapshot(a)) => cli::snapshot::run(g, a).await,
        Some(Command::Play(a)) => cli::play::run(a).await,
        None => {
            let target = match cli::connect::configured(g)? {
                Some(ep) => Target::Remote(ep),
                None => Target::Embedded(cli::embedded::start().await?),
            };
            let opts = sandscope::tui::TuiOptions {
                target,
                script: args.script,
                config_path: g.config.clone(),
                record: args.record,
            };
            sandscope::tui::run(opts).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
