//! The response side of one StreamExec: the ready frame, then the process's
//! output straight from its event queue, then its exit. No task or queue
//! sits between the process and HTTP/2, so a client that reads slowly
//! leaves the output in the process's pipe, and each chunk costs one
//! hand-over less.
use crate::proto::v1 as pb;
use crate::server::process::{Event, Killer, Spawned};
use crate::server::registry::now_ts;
use crate::server::service::errors;
use futures::Stream;
use pb::exec_stream_response::Message as Out;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use tonic::Status;

/// After a kill, how long the exit may take before the stream gives up.
pub const REAP_WAIT: Duration = Duration::from_secs(5);

type Frame = Result<pb::ExecStreamResponse, Status>;

fn frame(m: Out) -> Frame {
    Ok(pb::ExecStreamResponse { message: Some(m) })
}

/// The process's kill switch, shared by the deadline and the stream.
#[derive(Clone)]
struct SharedKiller(Arc<Mutex<Option<Killer>>>);

impl SharedKiller {
    fn fire(&self) {
        let k = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(k) = k {
            k.kill();
        }
    }
}

enum State {
    Running,
    /// Out of time: the group was killed; wait (at most this long) for the
    /// exit, then end with the timeout.
    Reaping(Pin<Box<Sleep>>),
    Done,
}

pub struct ExecStream {
    ready: Option<pb::ExecStreamResponse>,
    proc: Spawned,
    killer: SharedKiller,
    /// Feeds the request stream (stdin, resize) to the process.
    feeder: JoinHandle<()>,
    /// Kills the group at the deadline even while the client is not
    /// reading (then nothing polls this stream), and says so here.
    watchdog: Option<(JoinHandle<()>, oneshot::Receiver<()>)>,
    deadline: Option<Duration>,
    state: State,
}

impl ExecStream {
    pub fn new(mut proc: Spawned, feeder: JoinHandle<()>, deadline: Option<Duration>) -> Self {
        let killer = SharedKiller(Arc::new(Mutex::new(proc.take_killer())));
        let watchdog = deadline.map(|d| {
            let (expired_tx, expired_rx) = oneshot::channel();
            let killer = killer.clone();
            let task = tokio::spawn(async move {
                tokio::time::sleep(d).await;
                killer.fire();
                let _ = expired_tx.send(());
            });
            (task, expired_rx)
        });
        let ready = pb::ExecStreamResponse {
            message: Some(Out::Ready(pb::ExecStreamReady {
                ready_time: Some(now_ts()),
            })),
        };
        ExecStream {
            ready: Some(ready),
            proc,
            killer,
            feeder,
            watchdog,
            deadline,
            state: State::Running,
        }
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.feeder.abort();
        if let Some((task, _)) = &self.watchdog {
            task.abort();
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.watchdog {
            Some((_, rx)) => Pin::new(rx).poll(cx).is_ready(),
            None => false,
        }
    }

    fn poll_running(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        match self.proc.events.poll_recv(cx) {
            Poll::Ready(Some(Event::Output(stream, data))) => {
                Poll::Ready(Some(frame(Out::Output(pb::ExecStreamOutput {
                    stream,
                    data,
                }))))
            }
            Poll::Ready(Some(Event::Exit(code))) => {
                self.finish();
                Poll::Ready(Some(frame(Out::Exit(pb::ExecStreamExit {
                    exit_code: code,
                    completed_time: Some(now_ts()),
                }))))
            }
            Poll::Ready(None) => {
                self.finish();
                Poll::Ready(Some(Err(errors::internal("the process handle was lost"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Discards output until the exit, then ends with the timeout.
    fn poll_reaping(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        loop {
            match self.proc.events.poll_recv(cx) {
                Poll::Ready(Some(Event::Output(..))) => continue,
                Poll::Ready(Some(Event::Exit(_)) | None) => break,
                Poll::Pending => {
                    let State::Reaping(wait) = &mut self.state else {
                        break;
                    };
                    if wait.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    tracing::warn!(pid = ?self.proc.pid, "exec did not exit after SIGKILL");
                    break;
                }
            }
        }
        self.finish();
        let secs = self.deadline.map_or(0.0, |d| d.as_secs_f64());
        Poll::Ready(Some(Err(errors::command_timeout(secs))))
    }
}

impl Stream for ExecStream {
    type Item = Frame;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        let this = &mut *self;
        if let Some(ready) = this.ready.take() {
            return Poll::Ready(Some(Ok(ready)));
        }
        if matches!(this.state, State::Running) && this.expired(cx) {
            this.state = State::Reaping(Box::pin(tokio::time::sleep(REAP_WAIT)));
        }
        match this.state {
            State::Running => this.poll_running(cx),
            State::Reaping(_) => this.poll_reaping(cx),
            State::Done => Poll::Ready(None),
        }
    }
}

impl Drop for ExecStream {
    /// The client went away (or the server is stopping) before the exit:
    /// kill the group and reap it in the background.
    fn drop(&mut self) {
        self.feeder.abort();
        if let Some((task, _)) = &self.watchdog {
            task.abort();
        }
        if matches!(self.state, State::Done) {
            return;
        }
        self.killer.fire();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut events = std::mem::replace(&mut self.proc.events, mpsc::channel(1).1);
        let pid = self.proc.pid;
        runtime.spawn(async move {
            let reaped = tokio::time::timeout(REAP_WAIT, async {
                while let Some(ev) = events.recv().await {
                    if matches!(ev, Event::Exit(_)) {
                        break;
                    }
                }
            })
            .await;
            if reaped.is_err() {
                tracing::warn!(?pid, "exec did not exit after SIGKILL");
            }
        });
    }
}
