//! The command line: one file per subcommand. Arguments are parsed by clap
//! in `main.rs`; everything here works through `crate::client`.
pub mod args;
pub mod connect;
pub mod create;
pub mod embedded;
pub mod exec;
pub mod files;
pub mod forward;
pub mod get;
pub mod log_fields;
pub mod logging;
pub mod logs;
pub mod ls;
pub mod output;
pub mod play;
pub mod ps;
pub mod rawterm;
pub mod sh;
mod sink;
pub mod snapshot;
pub mod stop;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Sandboxes on this machine or a hosted service: a terminal UI, a CLI and a
/// local server.
#[derive(Debug, Parser)]
#[command(name = "sandscope", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Open the terminal UI and run this script of sandboxes and commands.
    #[arg(long, value_name = "FILE.toml")]
    pub script: Option<PathBuf>,

    /// Record the terminal UI's screen as an asciicast v2 file (replay it
    /// with `asciinema play`); R starts and stops a recording too.
    #[arg(long, value_name = "FILE.cast")]
    pub record: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags that apply to every subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Server URL (http://host:port or https://host); overrides the profile.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Profile from the config file.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Config file (default: the user's config dir, or $SANDSCOPE_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// CA certificates (PEM) to trust for an https:// endpoint instead of
    /// the system's; overrides the profile's ca_file.
    #[arg(long, global = true, value_name = "PEM", env = "SANDSCOPE_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local sandbox server until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Create a sandbox and print its id once it runs.
    Create(create::CreateArgs),
    /// List sandboxes.
    Ls(ls::LsArgs),
    /// Run a command in a sandbox, streaming its output; exits with its code.
    Exec(exec::ExecArgs),
    /// Stop a sandbox.
    Stop(stop::StopArgs),
    /// Print a sandbox's main-process log.
    Logs(logs::LogsArgs),
    /// Show everything the server says about one sandbox.
    Get(get::GetArgs),
    /// An interactive shell in a sandbox, on a terminal; exits with its code.
    Sh(sh::ShArgs),
    /// List, copy out of and copy into a sandbox's files.
    Files(files::FilesArgs),
    /// List the processes running in a sandbox, whoever started them.
    Ps(ps::PsArgs),
    /// Send a signal to a process in a sandbox.
    Kill(ps::KillArgs),
    /// Forward a local port to a port inside a sandbox, until Ctrl-C.
    PortForward(forward::ForwardArgs),
    /// Snapshot a sandbox's files; list and delete snapshots.
    Snapshot(snapshot::SnapshotArgs),
    /// Replay a recording of the terminal UI (an asciicast v2 file).
    Play(play::PlayArgs),
}

pub mod serve;
