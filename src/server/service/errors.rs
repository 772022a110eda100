//! The one place where server-side failures become `tonic::Status`.
//!
//! Every status the server emits carries an AIP-193 `ErrorInfo` in domain
//! `cwsandbox.com`, because clients pick their exception class from the
//! reason only when the domain matches.
//!
//! A status travels in response headers, and clients refuse headers past a
//! few KiB (gRPC's usual limit is 8 KiB): request text repeated in one
//! (an id, a path, a name) is cut here, so a huge id still gets its
//! NOT_FOUND rather than a transport error.
use crate::server::clip::clip;
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub const DOMAIN: &str = "cwsandbox.com";
/// Longest request text (id, path, name) repeated in a message or in
/// error metadata.
const MAX_ECHO: usize = 256;
/// Longest message, whoever built it. It travels twice (as grpc-message,
/// percent-encoded, and inside the details), so 1 KiB of it stays well
/// within what clients accept.
const MAX_MESSAGE: usize = 1 << 10;

pub mod reason {
    pub const SANDBOX_NOT_FOUND: &str = "CWSANDBOX_SANDBOX_NOT_FOUND";
    pub const SANDBOX_NOT_RUNNING: &str = "CWSANDBOX_SANDBOX_NOT_RUNNING";
    pub const INVALID_REQUEST: &str = "CWSANDBOX_INVALID_REQUEST";
    pub const NOT_IMPLEMENTED: &str = "CWSANDBOX_NOT_IMPLEMENTED";
    pub const SHARE_TOKEN: &str = "CWSANDBOX_HTTPS_SHARE_TOKEN_NOT_SUPPORTED";
    pub const FSS_NOT_FOUND: &str = "CWSANDBOX_FSS_NOT_FOUND";
    pub const FSS_NOT_READY: &str = "CWSANDBOX_FSS_NOT_READY";
    pub const VOLUME_NOT_SNAPSHOTTABLE: &str = "CWSANDBOX_VOLUME_NOT_SNAPSHOTTABLE";
    pub const NO_SUITABLE_RUNNER: &str = "CWSANDBOX_NO_SUITABLE_RUNNER";
    pub const RUNNER_NOT_FOUND: &str = "CWSANDBOX_RUNNER_NOT_FOUND";
    pub const COMMAND_TIMEOUT: &str = "CWSANDBOX_COMMAND_TIMEOUT";
    pub const FILE_NOT_FOUND: &str = "CWSANDBOX_FILE_NOT_FOUND";
    pub const FILE_IS_DIRECTORY: &str = "CWSANDBOX_FILE_IS_DIRECTORY";
    pub const FILE_PERMISSION_DENIED: &str = "CWSANDBOX_FILE_PERMISSION_DENIED";
    pub const FILE_IO_FAILED: &str = "CWSANDBOX_FILE_IO_FAILED";
    pub const FILE_TOO_LARGE: &str = "CWSANDBOX_FILE_TOO_LARGE";
    pub const INTERNAL: &str = "CWSANDBOX_INTERNAL";
}

/// A status with `ErrorInfo{reason, domain, metadata}`.
pub fn status(
    code: Code,
    message: impl Into<String>,
    reason: &str,
    metadata: HashMap<String, String>,
) -> Status {
    let metadata = metadata
        .into_iter()
        .map(|(k, v)| (k, echo(&v)))
        .collect::<HashMap<_, _>>();
    Status::with_error_details(
        code,
        clip(&message.into(), MAX_MESSAGE),
        ErrorDetails::with_error_info(reason, DOMAIN, metadata),
    )
}

/// Request text as an error may repeat it.
fn echo(s: &str) -> String {
    clip(s, MAX_ECHO).into_owned()
}

fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), echo(v)))
        .collect()
}

/// A missing or wrong bearer token. Plain: clients only look at the code.
pub fn unauthenticated(why: &str) -> Status {
    Status::unauthenticated(why)
}

pub fn sandbox_not_found(id: &str) -> Status {
    status(
        Code::NotFound,
        format!("sandbox {:?} not found", echo(id)),
        reason::SANDBOX_NOT_FOUND,
        meta(&[("sandbox_id", id)]),
    )
}

pub fn sandbox_not_running(id: &str, state: &str) -> Status {
    status(
        Code::FailedPrecondition,
        format!("sandbox {} is not running (state {state})", echo(id)),
        reason::SANDBOX_NOT_RUNNING,
        meta(&[("sandbox_id", id), ("state", state)]),
    )
}

/// INVALID_ARGUMENT with a BadRequest violation on `field`, which clients
/// turn into a validation error that names the field.
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    let description = clip(&description.into(), MAX_MESSAGE / 2).into_owned();
    let field = echo(field);
    let mut details = ErrorDetails::with_bad_request_violation(&field, description.clone());
    details.set_error_info(reason::INVALID_REQUEST, DOMAIN, meta(&[("field", &field)]));
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid {field}: {description}"),
        details,
    )
}

/// A message that does not decode (a string that is not UTF-8, a malformed
/// field): INVALID_ARGUMENT on the field prost names, as a path from the
/// message's top (`sandbox.spec.containers.command`; a oneof goes by its
/// own name).
pub fn undecodable(err: &prost::DecodeError) -> Status {
    let text = err.to_string();
    // prost writes "failed to decode Protobuf message: " then one
    // "Message.field: " per level, innermost first, then what was wrong.
    let mut rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let is_ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    let mut fields = Vec::new();
    while let Some((level, after)) = rest.split_once(": ") {
        match level.split_once('.') {
            Some((message, field)) if is_ident(message) && is_ident(field) => {
                fields.push(field);
                rest = after;
            }
            _ => break,
        }
    }
    fields.reverse();
    let field = if fields.is_empty() {
        "request".to_string()
    } else {
        fields.join(".")
    };
    invalid(&field, rest)
}

pub fn unimplemented(what: &str) -> Status {
    status(
        Code::Unimplemented,
        format!("{what} is not implemented by this server"),
        reason::NOT_IMPLEMENTED,
        HashMap::new(),
    )
}

/// Clients raise their snapshot-not-found error on this reason.
pub fn snapshot_not_found(id: &str) -> Status {
    status(
        Code::NotFound,
        format!("file-system snapshot {:?} not found", echo(id)),
        reason::FSS_NOT_FOUND,
        meta(&[("file_system_snapshot_id", id)]),
    )
}

pub fn snapshot_not_ready(id: &str, state: &str) -> Status {
    status(
        Code::FailedPrecondition,
        format!(
            "file-system snapshot {} is not ready to restore (it is {state})",
            echo(id)
        ),
        reason::FSS_NOT_READY,
        meta(&[("file_system_snapshot_id", id), ("state", state)]),
    )
}

pub fn failed_precondition(reason: &str, message: impl Into<String>) -> Status {
    status(Code::FailedPrecondition, message, reason, HashMap::new())
}

pub fn internal(message: impl Into<String>) -> Status {
    status(Code::Internal, message, reason::INTERNAL, HashMap::new())
}

pub fn command_timeout(seconds: f64) -> Status {
    status(
        Code::DeadlineExceeded,
        format!("command timed out after {seconds:.1}s and was killed"),
        reason::COMMAND_TIMEOUT,
        HashMap::new(),
    )
}

pub fn runner_not_found(id: &str) -> Status {
    status(
        Code::NotFound,
        format!("runner {:?} not found", echo(id)),
        reason::RUNNER_NOT_FOUND,
        meta(&[("runner_id", id)]),
    )
}

/// What went wrong with a file operation, independent of gRPC.
#[derive(Debug)]
pub enum FileFailure {
    NotFound,
    IsDirectory,
    PermissionDenied(String),
    TooLarge { size: u64, max: u64 },
    Io(String),
}

pub fn file_error(failure: FileFailure, path: &str, operation: &str) -> Status {
    let mut md = meta(&[("filepath", path), ("operation", operation)]);
    let path = echo(path);
    let (code, reason, message) = match failure {
        FileFailure::NotFound => (
            Code::NotFound,
            reason::FILE_NOT_FOUND,
            format!("{operation} {path}: no such file or directory"),
        ),
        FileFailure::IsDirectory => (
            Code::FailedPrecondition,
            reason::FILE_IS_DIRECTORY,
            format!("{operation} {path}: is a directory"),
        ),
        FileFailure::PermissionDenied(why) => (
            Code::PermissionDenied,
            reason::FILE_PERMISSION_DENIED,
            format!("{operation} {path}: {why}"),
        ),
        FileFailure::TooLarge { size, max } => {
            md.insert("size_bytes".into(), size.to_string());
            md.insert("max_size_bytes".into(), max.to_string());
            (
                Code::ResourceExhausted,
                reason::FILE_TOO_LARGE,
                format!("{operation} {path}: {size} bytes exceeds the {max}-byte limit"),
            )
        }
        FileFailure::Io(why) => (
            Code::Internal,
            reason::FILE_IO_FAILED,
            format!("{operation} {path}: {why}"),
        ),
    };
    status(code, message, reason, md)
}
