//! StreamExec (bidirectional) and unary Exec.
use super::errors;
use super::lifecycle::{exec_env, lookup};
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::process::{self, Event, Spawned};
use crate::server::registry::now_ts;
use crate::server::runtime::{ExecSpec, Instance};
use pb::exec_stream_request::Message as In;
use pb::exec_stream_response::Message as Out;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

/// Response frames buffered toward a client; more output waits in the pipe.
const FRAMES: usize = 16;
/// Default and maximum output kept by unary Exec.
const DEFAULT_MAX_OUTPUT: usize = 16 << 20;
/// After a kill, how long the exit may take before the stream gives up.
const REAP_WAIT: Duration = Duration::from_secs(5);

pub type ExecStream = ReceiverStream<Result<pb::ExecStreamResponse, Status>>;

fn frame(m: Out) -> Result<pb::ExecStreamResponse, Status> {
    Ok(pb::ExecStreamResponse { message: Some(m) })
}

/// Validate an exec request and find where it runs.
fn prepare(
    shared: &Shared,
    sandbox_id: &str,
    container: &str,
    command: Vec<String>,
    env: HashMap<String, String>,
    tty: bool,
) -> Result<(Instance, ExecSpec), Status> {
    if command.is_empty() || command[0].is_empty() {
        return Err(errors::invalid("command", "must name a program to run"));
    }
    let entry = lookup(shared, sandbox_id)?;
    let sb = entry.snapshot();
    let name = sb
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| c.name.clone())
        .unwrap_or_default();
    if !container.trim().is_empty() && container != name {
        return Err(errors::invalid(
            "container",
            format!("sandbox {sandbox_id} has no container {container:?} (it has {name:?})"),
        ));
    }
    let running = entry.state() == pb::State::Running;
    let instance = entry.instance().filter(|_| running);
    let Some(instance) = instance else {
        return Err(errors::sandbox_not_running(sandbox_id, entry.state_name()));
    };
    let mut full_env = exec_env(shared, &entry);
    if tty {
        full_env.insert("TERM".into(), "xterm-256color".into());
    }
    full_env.extend(env);
    let spec = ExecSpec {
        argv: command,
        env: full_env,
        cwd: instance.default_cwd.clone(),
        tty,
    };
    Ok((instance, spec))
}

fn clamp_dim(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

pub async fn stream_exec(
    shared: Arc<Shared>,
    deadline: Option<Duration>,
    mut input: Streaming<pb::ExecStreamRequest>,
) -> Result<ExecStream, Status> {
    let init = match input.message().await? {
        Some(pb::ExecStreamRequest {
            message: Some(In::Init(init)),
        }) => init,
        Some(_) => return Err(errors::invalid("init", "the first frame must be init")),
        None => return Err(errors::invalid("init", "the stream ended before init")),
    };
    let tty = init
        .tty
        .then(|| (clamp_dim(init.tty_width), clamp_dim(init.tty_height)));
    let (instance, spec) = prepare(
        &shared,
        &init.sandbox_id,
        &init.container,
        init.command,
        init.env,
        init.tty,
    )?;
    tracing::debug!(sandbox = %init.sandbox_id, argv = ?spec.argv, tty = init.tty, "exec");
    let proc = process::spawn(&*shared.runtime, &instance, &spec, tty);
    let (tx, rx) = mpsc::channel(FRAMES);
    let ready = pb::ExecStreamReady {
        ready_time: Some(now_ts()),
    };
    // The channel is empty, so the ready frame goes first without waiting.
    let _ = tx.try_send(frame(Out::Ready(ready)));
    tokio::spawn(drive(proc, input, tx, deadline));
    Ok(ReceiverStream::new(rx))
}

/// Feed request frames to the process: stdin with backpressure, close and
/// half-close as EOF, resize on a terminal.
async fn feed(
    mut input: Streaming<pb::ExecStreamRequest>,
    proc_stdin: mpsc::Sender<Option<bytes::Bytes>>,
    pty: Option<Arc<crate::server::pty::Pty>>,
) {
    let mut stdin = Some(proc_stdin);
    loop {
        match input.message().await {
            Ok(Some(f)) => match f.message {
                Some(In::Stdin(data)) => {
                    if let Some(s) = &stdin {
                        if s.send(Some(data.into())).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                Some(In::Close(_)) => {
                    if let Some(s) = stdin.take() {
                        let _ = s.send(None).await;
                    }
                }
                Some(In::Resize(r)) => {
                    if let Some(p) = &pty {
                        p.resize(clamp_dim(r.width), clamp_dim(r.height));
                    }
                }
                Some(In::Init(_)) | None => {}
            },
            Ok(None) => {
                if let Some(s) = stdin.take() {
                    let _ = s.send(None).await;
                }
                return;
            }
            // The client went away; the output side notices and kills.
            Err(_) => return,
        }
    }
}

enum End {
    Exited,
    ClientGone,
    TimedOut,
}

async fn drive(
    mut proc: Spawned,
    input: Streaming<pb::ExecStreamRequest>,
    tx: mpsc::Sender<Result<pb::ExecStreamResponse, Status>>,
    deadline: Option<Duration>,
) {
    let feeder = tokio::spawn(feed(input, proc.stdin.clone(), proc.resizer()));
    let expiry = sleep_opt(deadline);
    tokio::pin!(expiry);
    let end = loop {
        let ev = tokio::select! {
            ev = proc.events.recv() => ev,
            _ = tx.closed() => break End::ClientGone,
            _ = &mut expiry => break End::TimedOut,
        };
        let msg = match ev {
            Some(Event::Output(stream, data)) => Out::Output(pb::ExecStreamOutput {
                stream,
                data: data.to_vec(),
            }),
            Some(Event::Exit(code)) => {
                let exit = pb::ExecStreamExit {
                    exit_code: code,
                    completed_time: Some(now_ts()),
                };
                let _ = tx.send(frame(Out::Exit(exit))).await;
                break End::Exited;
            }
            None => {
                let _ = tx
                    .send(Err(errors::internal("the process handle was lost")))
                    .await;
                break End::Exited;
            }
        };
        tokio::select! {
            r = tx.send(frame(msg)) => if r.is_err() { break End::ClientGone },
            _ = &mut expiry => break End::TimedOut,
        }
    };
    feeder.abort();
    if matches!(end, End::Exited) {
        return;
    }
    // Cancelled or out of time: kill the group and reap it before leaving.
    proc.kill();
    let reaped = tokio::time::timeout(REAP_WAIT, async {
        while let Some(ev) = proc.events.recv().await {
            if matches!(ev, Event::Exit(_)) {
                break;
            }
        }
    })
    .await;
    if reaped.is_err() {
        tracing::warn!(pid = ?proc.pid, "exec did not exit after SIGKILL");
    }
    if let End::TimedOut = end {
        let secs = deadline.map_or(0.0, |d| d.as_secs_f64());
        // A client that stopped reading gets a few seconds to take it.
        let status = Err(errors::command_timeout(secs));
        let _ = tokio::time::timeout(REAP_WAIT, tx.send(status)).await;
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

pub async fn exec(
    shared: Arc<Shared>,
    deadline: Option<Duration>,
    req: pb::ExecRequest,
) -> Result<pb::ExecResponse, Status> {
    let (instance, spec) = prepare(
        &shared,
        &req.sandbox_id,
        &req.container,
        req.command,
        req.env,
        false,
    )?;
    let max = match req.max_output_bytes {
        n if n <= 0 => DEFAULT_MAX_OUTPUT,
        n => n as usize,
    };
    let mut proc = process::spawn(&*shared.runtime, &instance, &spec, None);
    let _ = proc.stdin.send(None).await;
    let mut resp = pb::ExecResponse::default();
    let collect = async {
        while let Some(ev) = proc.events.recv().await {
            match ev {
                Event::Output(stream, data) => {
                    let (buf, produced, truncated) = if stream == 2 {
                        (
                            &mut resp.stderr,
                            &mut resp.stderr_bytes_produced,
                            &mut resp.stderr_truncated,
                        )
                    } else {
                        (
                            &mut resp.stdout,
                            &mut resp.stdout_bytes_produced,
                            &mut resp.stdout_truncated,
                        )
                    };
                    *produced += data.len() as i64;
                    let room = max.saturating_sub(buf.len());
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                    if data.len() > room {
                        *truncated = true;
                    }
                }
                Event::Exit(code) => return Some(code),
            }
        }
        None
    };
    let outcome = match deadline {
        Some(d) => tokio::time::timeout(d, collect).await.ok(),
        None => Some(collect.await),
    };
    match outcome {
        Some(Some(code)) => {
            resp.exit_code = code;
            Ok(resp)
        }
        Some(None) => Err(errors::internal("the process handle was lost")),
        None => {
            proc.kill();
            let _ = tokio::time::timeout(REAP_WAIT, async {
                while proc.events.recv().await.is_some() {}
            })
            .await;
            Err(errors::command_timeout(
                deadline.map_or(0.0, |d| d.as_secs_f64()),
            ))
        }
    }
}
