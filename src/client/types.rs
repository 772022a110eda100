//! Domain types of the client module: what the CLI and the TUI see instead of
//! the wire messages.
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Lifecycle state of a sandbox, as the server reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxState {
    Creating,
    Pending,
    Preparing,
    Running,
    Paused,
    Terminating,
    Completed,
    Failed,
    Terminated,
    /// A value this client does not know (a newer server).
    Unknown,
}

impl SandboxState {
    /// Terminal states never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Terminated)
    }

    /// Lower-case name for display (`running`, `completed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Pending => "pending",
            Self::Preparing => "preparing",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Terminating => "terminating",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Terminated => "terminated",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sandbox as last reported by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Sandbox {
    pub id: String,
    pub display_name: String,
    pub state: SandboxState,
    pub state_reason: String,
    pub image: String,
    pub tags: Vec<String>,
    pub created: Option<SystemTime>,
    pub started: Option<SystemTime>,
    pub ended: Option<SystemTime>,
    /// Exit code of the sandbox's main command once it has ended.
    pub exit_code: Option<i32>,
    pub runner_id: String,
    pub max_lifetime: Option<Duration>,
}

/// What to create. `Default` gives the server's defaults: image `python:3.11`,
/// a keep-alive main command, no tags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxRequest {
    /// Image name; empty means the default (`python:3.11`).
    pub image: String,
    /// Main command and its arguments; empty means a keep-alive.
    pub command: Vec<String>,
    pub tags: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    pub max_lifetime: Option<Duration>,
    pub display_name: Option<String>,
    /// Files written into the sandbox before its main command starts.
    pub files: Vec<(String, Vec<u8>)>,
    /// What it may reach on the network.
    pub egress: crate::client::Egress,
    /// Ports of the sandbox to publish.
    pub services: Vec<ServiceRequest>,
    /// Start with the files of this snapshot in `/workspace` (a scratch
    /// volume named `workspace`, as the Python client's default).
    pub from_snapshot: Option<String>,
}

/// A port of the sandbox to make reachable from outside it (the Python
/// client's `Service`): TCP, with a plain URL unless `endpoint` says more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// The port the sandbox's program listens on.
    pub port: u16,
    pub name: String,
    pub visibility: Visibility,
    pub endpoint: Option<ServiceEndpoint>,
}

/// Who may reach a service. A local server publishes PUBLIC ones on its
/// publish address and PRIVATE ones on loopback; one sandbox cannot have
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    #[default]
    Public,
    Private,
}

/// A product endpoint on a PUBLIC service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceEndpoint {
    /// An HTTPS URL open to anyone (where the server terminates TLS; a
    /// local server reports a plain `http://` URL).
    Https,
    /// Raw TCP to the sandbox's own TLS server, reported as `host:port`.
    TlsPassthrough,
}

/// Which sandboxes `list` returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Every tag must be present (AND).
    pub tags: Vec<String>,
    /// Include completed, failed and terminated sandboxes.
    pub include_terminated: bool,
}

/// Options of one exec. `Default` is the seed API's default: no stdin, the
/// sandbox's working directory, no timeout, no check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOptions {
    /// Open stdin for writing (`Process::take_stdin`).
    pub stdin: bool,
    /// Absolute working directory; a relative one is an error before any RPC.
    pub cwd: Option<String>,
    /// Kill the process and fail with `Error::Timeout` after this long.
    pub timeout: Option<Duration>,
    /// A non-zero exit becomes `Error::Execution`.
    pub check: bool,
    /// Extra environment for this process.
    pub env: BTreeMap<String, String>,
    /// Run on a pseudo-terminal of this size (columns, rows).
    pub tty: Option<(u16, u16)>,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

/// A piece of a process's output, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub stream: StreamKind,
    pub data: bytes::Bytes,
}

/// How a process ended: what `poll()` says once it is no longer running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Ended with this exit code (128+N when killed by signal N inside).
    Exited(i32),
    /// Killed because its timeout ran out.
    TimedOut,
    /// Killed at the user's request (or the stream was cancelled).
    Killed,
    /// Could not run or the stream broke; the text says why.
    Error(String),
}

impl ProcessStatus {
    /// The exit code, where there is one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Exited(c) => Some(*c),
            _ => None,
        }
    }
}

impl std::fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(c) => write!(f, "exit {c}"),
            Self::TimedOut => f.write_str("timeout"),
            Self::Killed => f.write_str("killed"),
            Self::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// Everything a finished process produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub returncode: i32,
}

impl ExecResult {
    /// stdout as text, invalid UTF-8 replaced.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// stderr as text, invalid UTF-8 replaced.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Where a file-system snapshot is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotState {
    Creating,
    Ready,
    Failed,
    Deleting,
    Unknown,
}

impl SnapshotState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Deleting => "deleting",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for SnapshotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A copy of a sandbox's scratch volume (or workspace), to start new
/// sandboxes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub state: SnapshotState,
    /// Why it failed, or what it left out.
    pub state_reason: String,
    pub size_bytes: u64,
    pub source_sandbox_id: String,
    pub source_volume: String,
    /// Taken when its sandbox was stopped, rather than on request.
    pub on_stop: bool,
    pub created: Option<SystemTime>,
    pub completed: Option<SystemTime>,
}
