//! Starting a command: argument checks, the `cwd` rewrite, opening the
//! exec stream and waiting for the server's `ready`.
use super::connect::Rpc;
use super::error::{Error, Result};
use super::process::{Control, Process};
use super::pump::Pump;
use super::status;
use super::stdin::StdinWriter;
use super::types::ExecOptions;
use crate::proto::v1 as pb;
use crate::proto::v1::exec_stream_request::Message as Up;
use crate::proto::v1::exec_stream_response::Message as Down;
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

/// Frames queued towards the server. Small: each stdin frame is up to
/// 64 KiB and a full queue is what slows a writer down.
const REQUEST_QUEUE: usize = 4;
/// Output chunks buffered for a reader that is behind.
const OUTPUT_QUEUE: usize = 32;

/// The argv the server runs: `argv` itself, or with a working directory, a
/// shell that changes into it and then execs the command (as the Python
/// client does, since the protocol has no cwd field).
pub(crate) fn wire_command(argv: &[String], cwd: Option<&str>) -> Result<Vec<String>> {
    if !matches!(argv.first(), Some(a) if !a.is_empty()) {
        return Err(Error::InvalidArgument("the command is empty".into()));
    }
    let Some(cwd) = cwd else {
        return Ok(argv.to_vec());
    };
    if !cwd.starts_with('/') {
        return Err(Error::InvalidArgument(format!(
            "the working directory must be an absolute path, got {cwd:?}"
        )));
    }
    let quote = |s: &str| {
        shlex::try_quote(s)
            .map(|q| q.into_owned())
            .map_err(|_| Error::InvalidArgument(format!("{s:?} contains a NUL byte")))
    };
    let mut words = Vec::with_capacity(argv.len());
    for a in argv {
        words.push(quote(a)?);
    }
    Ok(vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("cd {} && exec {}", quote(cwd)?, words.join(" ")),
    ])
}

pub(crate) async fn start(
    mut rpc: Rpc,
    endpoint: &str,
    sandbox_id: &str,
    argv: &[String],
    opts: ExecOptions,
) -> Result<Process> {
    let command = wire_command(argv, opts.cwd.as_deref())?;
    if sandbox_id.is_empty() {
        return Err(Error::InvalidArgument("the sandbox id is empty".into()));
    }
    let deadline = opts.timeout.map(|t| (Instant::now() + t, t));
    let (cols, rows) = opts.tty.unwrap_or((0, 0));
    let init = pb::ExecStreamInit {
        sandbox_id: sandbox_id.to_string(),
        command,
        tty: opts.tty.is_some(),
        tty_width: u32::from(cols),
        tty_height: u32::from(rows),
        env: opts.env.into_iter().collect(),
        container: String::new(),
    };

    let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
    let frame = |m| pb::ExecStreamRequest { message: Some(m) };
    // The queue is empty, so these cannot fail for lack of room.
    let _ = req_tx.try_send(frame(Up::Init(init)));
    if !opts.stdin {
        // Without stdin the process gets EOF at once, so `cat` and friends end.
        let _ = req_tx.try_send(frame(Up::Close(pb::ExecStreamClose {})));
    }
    // The request side ends when the pump is done (dropping `requests_end`).
    // A kill drops the response stream, but HTTP/2 cancels a stream only
    // once neither side is in use: while a stdin writer kept the request
    // side open, the server never heard of the kill and the process lived on.
    let (requests_end, requests_ended) = oneshot::channel::<()>();
    let requests = ReceiverStream::new(req_rx).take_until(requests_ended);
    let mut request = tonic::Request::new(requests);
    if let Some(t) = opts.timeout {
        request.set_timeout(t);
    }

    let open = async {
        let mut stream = rpc
            .stream_exec(request)
            .await
            .map_err(|s| status::from_status(&s, endpoint))?
            .into_inner();
        let first = match stream.message().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(Error::Server {
                    code: "unknown".into(),
                    message: "the exec stream ended before the command started".into(),
                    reason: None,
                })
            }
            Err(s) => return Err(status::from_status(&s, endpoint)),
        };
        Ok((stream, first))
    };
    let (stream, first) = match deadline {
        Some((at, t)) => tokio::time::timeout_at(at, open)
            .await
            .map_err(|_| Error::Timeout(t))??,
        None => open.await?,
    };
    let mut started_at = None;
    let first = match first.message {
        Some(Down::Ready(r)) => {
            started_at = r.ready_time.and_then(|t| {
                let nanos = u32::try_from(t.nanos).ok()?;
                let secs = u64::try_from(t.seconds).ok()?;
                std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
            });
            None
        }
        Some(Down::Error(e)) => {
            return Err(Error::Server {
                code: e.code.clone(),
                message: e.message,
                reason: Some(e.code).filter(|c| !c.is_empty()),
            })
        }
        // A server that skips `ready` still gets its output delivered.
        _ => Some(first),
    };

    let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
    let (ended_tx, ended_rx) = watch::channel(None);
    let control = Arc::new(Control {
        kill: Notify::new(),
        requests: opts.tty.is_some().then(|| req_tx.clone()),
    });
    let stdin = opts
        .stdin
        .then(|| StdinWriter::new(req_tx.clone(), ended_rx.clone()));
    // From here on only the stdin writer (and a TTY's resize) keep the request
    // side open; when they are gone the server sees a half-close, i.e. EOF.
    drop(req_tx);

    let pump = Pump {
        stream,
        first,
        out: out_tx,
        ended: ended_tx,
        control: control.clone(),
        deadline,
        endpoint: endpoint.to_string(),
        requests_end,
    };
    tokio::spawn(pump.run());

    Ok(Process {
        sandbox_id: sandbox_id.to_string(),
        argv: argv.to_vec(),
        check: opts.check,
        stdin,
        output: Some(out_rx),
        ended: ended_rx,
        control,
        stdout: Vec::new(),
        stderr: Vec::new(),
        started_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_command_is_rejected() {
        assert!(matches!(
            wire_command(&[], None),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            wire_command(&v(&[""]), None),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn relative_cwd_is_rejected() {
        let e = wire_command(&v(&["ls"]), Some("tmp"));
        assert!(matches!(e, Err(Error::InvalidArgument(m)) if m.contains("absolute")));
    }

    #[test]
    fn cwd_becomes_a_quoted_shell_command() {
        let cmd = wire_command(&v(&["echo", "a b", "it's"]), Some("/my dir")).unwrap_or_default();
        assert_eq!(cmd[0], "/bin/sh");
        assert_eq!(cmd[1], "-c");
        let parsed = shlex::split(&cmd[2]).unwrap_or_default();
        assert_eq!(
            parsed,
            v(&["cd", "/my dir", "&&", "exec", "echo", "a b", "it's"])
        );
    }

    #[test]
    fn without_cwd_argv_is_unchanged() {
        assert_eq!(
            wire_command(&v(&["ls", "-la"]), None).ok(),
            Some(v(&["ls", "-la"]))
        );
    }
}
