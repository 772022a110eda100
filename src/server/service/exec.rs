//! StreamExec (bidirectional) and unary Exec.
mod stream;

use super::errors;
use super::lifecycle::{exec_env, lookup};
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::process::{self, Event};
use crate::server::runtime::{ExecSpec, Instance};
use pb::exec_stream_request::Message as In;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use stream::REAP_WAIT;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

pub use stream::ExecStream;

/// Default and maximum output kept by unary Exec.
const DEFAULT_MAX_OUTPUT: usize = 16 << 20;

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
    let proc = process::spawn(&*shared.runtime, &instance, &spec, tty).await;
    let feeder = tokio::spawn(feed(input, proc.stdin.clone(), proc.resizer()));
    Ok(ExecStream::new(proc, feeder, deadline))
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
                        if s.send(Some(data)).await.is_err() {
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
    let mut proc = process::spawn(&*shared.runtime, &instance, &spec, None).await;
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
