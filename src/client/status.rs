//! The one place where a `tonic::Status` (or a transport failure) becomes a
//! `client::Error`.
use super::error::Error;
use tonic::Code;
use tonic_types::StatusExt;

/// Only reasons from this domain are trusted to pick an error kind; others
/// are carried along as text.
const TRUSTED_DOMAIN: &str = "cwsandbox.com";

/// Translates a status from the server. `endpoint` names the server in
/// "cannot reach" errors.
pub(crate) fn from_status(status: &tonic::Status, endpoint: &str) -> Error {
    let details = status.get_error_details();
    let info = details.error_info().filter(|i| !i.reason.is_empty());
    let reason = info.map(|i| i.reason.clone());
    let trusted = info.is_some_and(|i| i.domain == TRUSTED_DOMAIN);
    let mut message = status.message().to_string();
    if message.is_empty() {
        message = status.code().description().to_string();
    }

    if trusted && reason.as_deref() == Some("CWSANDBOX_SANDBOX_NOT_FOUND") {
        return Error::NotFound(message);
    }
    match status.code() {
        Code::NotFound => Error::NotFound(message),
        Code::FailedPrecondition => Error::FailedPrecondition(message),
        Code::Unauthenticated => Error::Unauthenticated(message),
        Code::PermissionDenied => Error::PermissionDenied(message),
        Code::InvalidArgument => {
            // Field violations say which part of the request was wrong;
            // without them the message alone is often too vague.
            let violations: Vec<String> = details
                .bad_request()
                .map(|b| {
                    b.field_violations
                        .iter()
                        .map(|v| format!("{}: {}", v.field, v.description))
                        .collect()
                })
                .unwrap_or_default();
            if violations.is_empty() {
                Error::InvalidArgument(message)
            } else {
                Error::InvalidArgument(format!("{message} ({})", violations.join("; ")))
            }
        }
        Code::Unavailable => Error::Unavailable {
            endpoint: endpoint.to_string(),
            message: with_cause(message, status),
        },
        code => Error::Server {
            code: code_name(code).to_string(),
            message,
            reason,
        },
    }
}

/// The message, followed by the transport error under it when there is one:
/// for a connection the server refused, only that says why (an HTTP/2
/// GOAWAY's text, for instance).
fn with_cause(message: String, status: &tonic::Status) -> String {
    let Some(cause) = std::error::Error::source(status) else {
        return message;
    };
    let cause = error_chain(cause);
    if message.contains(&cause) {
        message
    } else {
        format!("{message}: {cause}")
    }
}

/// Translates a failure to open the connection at all.
pub(crate) fn from_transport(err: &tonic::transport::Error, endpoint: &str) -> Error {
    Error::Unavailable {
        endpoint: endpoint.to_string(),
        message: error_chain(err),
    }
}

/// "a: b: c" for an error and its sources, because tonic's top-level
/// transport error text alone ("transport error") says nothing useful.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The canonical lower-case gRPC code name, as users see it in error text.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn trusted_not_found_reason_wins_over_code() {
        let st = tonic::Status::with_error_details(
            Code::Internal,
            "sandbox x not found",
            ErrorDetails::with_error_info("CWSANDBOX_SANDBOX_NOT_FOUND", TRUSTED_DOMAIN, []),
        );
        assert!(matches!(from_status(&st, "e"), Error::NotFound(m) if m == "sandbox x not found"));
    }

    #[test]
    fn untrusted_reason_is_kept_but_does_not_pick_the_kind() {
        let st = tonic::Status::with_error_details(
            Code::Internal,
            "boom",
            ErrorDetails::with_error_info("CWSANDBOX_SANDBOX_NOT_FOUND", "example.com", []),
        );
        match from_status(&st, "e") {
            Error::Server {
                code,
                message,
                reason,
            } => {
                assert_eq!(code, "internal");
                assert_eq!(message, "boom");
                assert_eq!(reason.as_deref(), Some("CWSANDBOX_SANDBOX_NOT_FOUND"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn codes_map_to_kinds() {
        let e = from_status(&tonic::Status::unauthenticated("bad token"), "e");
        assert!(matches!(e, Error::Unauthenticated(m) if m == "bad token"));
        let e = from_status(&tonic::Status::failed_precondition("stopped"), "e");
        assert!(matches!(e, Error::FailedPrecondition(_)));
        let e = from_status(&tonic::Status::unavailable("down"), "http://h:1");
        assert!(matches!(e, Error::Unavailable { endpoint, .. } if endpoint == "http://h:1"));
        let e = from_status(&tonic::Status::permission_denied("no"), "e");
        assert!(matches!(e, Error::PermissionDenied(_)));
    }

    #[test]
    fn field_violations_are_listed() {
        let st = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "bad request",
            ErrorDetails::with_bad_request_violation("container", "unknown container"),
        );
        match from_status(&st, "e") {
            Error::InvalidArgument(m) => {
                assert_eq!(m, "bad request (container: unknown container)")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_message_falls_back_to_code_description() {
        let e = from_status(&tonic::Status::not_found(""), "e");
        assert!(matches!(e, Error::NotFound(m) if !m.is_empty()));
    }
}
