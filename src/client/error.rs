//! The client's one error type. Callers match on the variant; the text is
//! ready to show a person.
use super::types::ExecResult;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Bad input caught before any RPC (relative cwd, empty command, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The sandbox is not in a state that allows this (e.g. exec after stop).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("authentication failed: {0}")]
    Unauthenticated(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The exec's timeout ran out; the process was killed.
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    /// `check` was set and the command exited non-zero.
    #[error("command exited with code {}", .result.returncode)]
    Execution { result: Box<ExecResult> },
    /// stdin was written after `close()`.
    #[error("stdin is closed")]
    StdinClosed,
    /// stdin was written after the process had exited.
    #[error("the process has already exited")]
    ProcessExited,
    /// The process was killed at the caller's request (`Process::kill`).
    #[error("the process was killed")]
    Killed,
    /// The TLS handshake failed: an untrusted or unsuitable certificate, or
    /// no TLS on the other side.
    #[error("TLS with {endpoint} failed: {message}")]
    Tls { endpoint: String, message: String },
    /// The server is not reachable or the connection broke.
    #[error("cannot reach {endpoint}: {message}")]
    Unavailable { endpoint: String, message: String },
    /// Any other status from the server, with its machine-readable reason.
    #[error("{code}: {message}")]
    Server {
        code: String,
        message: String,
        reason: Option<String>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
