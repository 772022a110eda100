//! A running command: its output stream, stdin writer, status and the
//! caller-facing waits. The wire side lives in `pump.rs`.
use super::error::{Error, Result};
use super::stdin::StdinWriter;
use super::types::{ExecResult, OutputChunk, ProcessStatus, StreamKind};
use crate::proto::v1 as pb;
use std::sync::Arc;
use tokio::sync::{mpsc, watch, Notify};

/// How a process ended, with the error `wait()` reports for endings that are
/// not a plain exit.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub status: ProcessStatus,
    pub error: Option<Error>,
    /// When the client learnt of the end; orders `wait(processes, n)`.
    pub at: std::time::Instant,
}

pub(crate) type EndedRx = watch::Receiver<Option<Ended>>;

/// What the `Process` handle shares with its pump task.
pub(crate) struct Control {
    /// Fired by `kill()`; `notify_one` keeps a permit, so a kill issued
    /// before the pump first waits is not lost.
    pub kill: Notify,
    /// Kept only for TTY execs, where resize frames go up the stream.
    pub requests: Option<mpsc::Sender<pb::ExecStreamRequest>>,
}

/// A command started by `Client::exec`. Dropping it does not stop the command.
pub struct Process {
    pub(crate) sandbox_id: String,
    pub(crate) argv: Vec<String>,
    pub(crate) check: bool,
    pub(crate) stdin: Option<StdinWriter>,
    /// `None` once taken by `take_output`; while here, `wait`/`result` collect it.
    pub(crate) output: Option<mpsc::Receiver<OutputChunk>>,
    pub(crate) ended: EndedRx,
    pub(crate) control: Arc<Control>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// When the server says the command started (its `ready` frame).
    pub(crate) started_at: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("sandbox_id", &self.sandbox_id)
            .field("argv", &self.argv)
            .field("status", &self.poll())
            .finish_non_exhaustive()
    }
}

impl Process {
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    /// When the command started, by the server's clock; `None` if the
    /// server did not say.
    pub fn started_at(&self) -> Option<std::time::SystemTime> {
        self.started_at
    }

    /// The command as the caller gave it (before any `cwd` rewriting).
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The stdin writer; `Some` once, and only when `ExecOptions::stdin` was set.
    pub fn take_stdin(&mut self) -> Option<StdinWriter> {
        self.stdin.take()
    }

    /// stdout and stderr in arrival order; `Some` once. After this, `result()`
    /// carries only the return code: the bytes belong to the stream's reader.
    pub fn take_output(&mut self) -> Option<OutputStream> {
        self.output.take().map(|rx| OutputStream { rx })
    }

    /// `None` while the command runs.
    pub fn poll(&self) -> Option<ProcessStatus> {
        self.ended.borrow().as_ref().map(|e| e.status.clone())
    }

    /// A watcher that can be moved to another task. A new watcher reports
    /// the ending once through `changed()`, even if it happened before.
    pub fn status(&self) -> StatusWatch {
        let mut rx = self.ended.clone();
        if rx.borrow().is_some() {
            rx.mark_changed();
        }
        StatusWatch { rx }
    }

    /// Cancels the exec stream; the server kills the process group. The
    /// status becomes `Killed` unless the process had already ended.
    pub fn kill(&self) {
        self.control.kill.notify_one();
    }

    /// Changes the terminal size of a TTY exec; ignored otherwise.
    pub fn resize(&self, cols: u16, rows: u16) {
        if let Some(tx) = &self.control.requests {
            let frame = pb::ExecStreamRequest {
                message: Some(pb::exec_stream_request::Message::Resize(
                    pb::ExecStreamResize {
                        width: u32::from(cols),
                        height: u32::from(rows),
                    },
                )),
            };
            // A full queue means stdin is busy; a later resize will follow,
            // and blocking a UI thread on it would be worse.
            let _ = tx.try_send(frame);
        }
    }

    /// Waits for the end and returns the exit code. Fails with `Timeout`
    /// when the timeout ran out, `Execution` for a non-zero exit with
    /// `check`, `Killed` after `kill()`, or the stream's error.
    pub async fn wait(&mut self) -> Result<i32> {
        let ended = self.settle().await;
        match ended.status {
            ProcessStatus::Exited(code) if code != 0 && self.check => Err(Error::Execution {
                result: Box::new(ExecResult {
                    stdout: self.stdout.clone(),
                    stderr: self.stderr.clone(),
                    returncode: code,
                }),
            }),
            ProcessStatus::Exited(code) => Ok(code),
            ProcessStatus::Killed => Err(ended.error.unwrap_or(Error::Killed)),
            ProcessStatus::TimedOut | ProcessStatus::Error(_) => {
                Err(ended.error.unwrap_or_else(|| Error::Server {
                    code: "unknown".into(),
                    message: ended.status.to_string(),
                    reason: None,
                }))
            }
        }
    }

    /// Waits for the end and returns everything the process printed (unless
    /// `take_output` was called) and its return code.
    pub async fn result(mut self) -> Result<ExecResult> {
        let returncode = self.wait().await?;
        Ok(ExecResult {
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
            returncode,
        })
    }

    /// Drains untaken output into the buffers, then waits for the end.
    /// Cancel-safe: `wait(processes, n)` drops it for the processes that are
    /// still running.
    /// When the end was recorded, if it was.
    pub(crate) fn ended_at(&self) -> Option<std::time::Instant> {
        self.ended.borrow().as_ref().map(|e| e.at)
    }

    pub(crate) async fn settle(&mut self) -> Ended {
        if let Some(rx) = &mut self.output {
            while let Some(chunk) = rx.recv().await {
                match chunk.stream {
                    StreamKind::Stdout => self.stdout.extend_from_slice(&chunk.data),
                    StreamKind::Stderr => self.stderr.extend_from_slice(&chunk.data),
                }
            }
        }
        wait_ended(&mut self.ended).await
    }
}

/// Waits until the pump has recorded how the process ended.
pub(crate) async fn wait_ended(rx: &mut EndedRx) -> Ended {
    let seen = match rx.wait_for(|e| e.is_some()).await {
        Ok(e) => e.clone(),
        // The pump always records an ending before it stops; this only
        // happens when the runtime is shutting down under us.
        Err(_) => None,
    };
    seen.or_else(|| rx.borrow().clone()).unwrap_or_else(lost)
}

fn lost() -> Ended {
    let text = "the exec stream task stopped".to_string();
    Ended {
        at: std::time::Instant::now(),
        status: ProcessStatus::Error(text.clone()),
        error: Some(Error::Server {
            code: "unknown".into(),
            message: text,
            reason: None,
        }),
    }
}

/// A cloneable watcher of a process's status.
#[derive(Clone, Debug)]
pub struct StatusWatch {
    rx: EndedRx,
}

impl StatusWatch {
    /// `None` while running.
    pub fn current(&self) -> Option<ProcessStatus> {
        self.rx.borrow().as_ref().map(|e| e.status.clone())
    }

    /// Waits for the next status not yet seen by this watcher. `None` when
    /// nothing more will change (the ending was already seen).
    pub async fn changed(&mut self) -> Option<ProcessStatus> {
        loop {
            if self.rx.changed().await.is_err() {
                return None;
            }
            if let Some(e) = self.rx.borrow_and_update().as_ref() {
                return Some(e.status.clone());
            }
        }
    }
}

/// stdout and stderr chunks of one process, in arrival order.
#[derive(Debug)]
pub struct OutputStream {
    rx: mpsc::Receiver<OutputChunk>,
}

impl OutputStream {
    /// The next chunk; `None` after the last one.
    pub async fn next(&mut self) -> Option<OutputChunk> {
        self.rx.recv().await
    }
}
