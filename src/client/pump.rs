//! One task per process: reads the exec response stream, forwards output
//! with backpressure, and records how the process ended.
use super::error::Error;
use super::process::{Control, Ended};
use super::status;
use super::types::{OutputChunk, ProcessStatus, StreamKind};
use crate::proto::v1 as pb;
use crate::proto::v1::exec_stream_response::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

pub(crate) struct Pump {
    pub stream: tonic::Streaming<pb::ExecStreamResponse>,
    /// A frame that arrived in place of `ready` and still has to be handled.
    pub first: Option<pb::ExecStreamResponse>,
    pub out: mpsc::Sender<OutputChunk>,
    pub ended: watch::Sender<Option<Ended>>,
    pub control: Arc<Control>,
    /// When to give up, and the timeout it came from (for the error text).
    pub deadline: Option<(Instant, Duration)>,
    pub endpoint: String,
    /// Dropped when the pump ends, which ends the request stream too.
    pub requests_end: oneshot::Sender<()>,
}

/// What one step of the stream produced.
enum Step {
    Frame(pb::ExecStreamResponse),
    End(Ended),
}

impl Pump {
    pub(crate) async fn run(mut self) {
        let ended = self.pump().await;
        tracing::debug!(status = %ended.status, "exec ended");
        // Dropping both directions of the stream here cancels it
        // (RST_STREAM) if the server has not finished, which is what makes
        // the server kill the process group on kill and timeout. The request
        // side has to end as well: a stream still sending is not cancelled.
        drop(self.requests_end);
        drop(self.stream);
        self.ended.send_replace(Some(ended));
    }

    async fn pump(&mut self) -> Ended {
        // Once the reader is gone, output is discarded but the stream is
        // still read to the end, so the process is not blocked on its pipe.
        let mut reader_gone = false;
        let mut pending = self.first.take();
        loop {
            let frame = match pending.take() {
                Some(f) => f,
                None => match self.next_frame().await {
                    Step::Frame(f) => f,
                    Step::End(e) => return e,
                },
            };
            match frame.message {
                Some(Message::Output(o)) => {
                    if reader_gone || o.data.is_empty() {
                        continue;
                    }
                    let stream = match pb::exec_stream_output::Stream::try_from(o.stream) {
                        Ok(pb::exec_stream_output::Stream::Stderr) => StreamKind::Stderr,
                        // The protocol reads 0 (and anything unknown) as stdout.
                        _ => StreamKind::Stdout,
                    };
                    let chunk = OutputChunk {
                        stream,
                        data: o.data,
                    };
                    if let Some(e) = self.forward(chunk, &mut reader_gone).await {
                        return e;
                    }
                }
                Some(Message::Exit(x)) => {
                    return Ended {
                        status: ProcessStatus::Exited(x.exit_code),
                        error: None,
                        at: std::time::Instant::now(),
                    }
                }
                Some(Message::Error(e)) => {
                    let code = if e.code.is_empty() {
                        "exec_error".to_string()
                    } else {
                        e.code.clone()
                    };
                    return failed(Error::Server {
                        code: code.clone(),
                        message: e.message,
                        reason: Some(code),
                    });
                }
                // A second `ready` carries nothing new.
                Some(Message::Ready(_)) | None => {}
            }
        }
    }

    /// Hands one chunk to the reader, waiting while the reader is behind (the
    /// backpressure) but still honouring kill and the deadline.
    async fn forward(&mut self, chunk: OutputChunk, reader_gone: &mut bool) -> Option<Ended> {
        let deadline = self.deadline;
        let control = self.control.clone();
        tokio::select! {
            sent = self.out.send(chunk) => {
                if sent.is_err() {
                    *reader_gone = true;
                }
                None
            }
            _ = control.kill.notified() => Some(killed()),
            _ = sleep_until(deadline) => Some(timed_out(deadline)),
        }
    }

    async fn next_frame(&mut self) -> Step {
        let deadline = self.deadline;
        let control = self.control.clone();
        tokio::select! {
            msg = self.stream.message() => match msg {
                Ok(Some(f)) => Step::Frame(f),
                Ok(None) => Step::End(failed(Error::Server {
                    code: "unknown".into(),
                    message: "the exec stream ended without an exit status".into(),
                    reason: None,
                })),
                Err(st) if st.code() == tonic::Code::DeadlineExceeded && deadline.is_some() => {
                    Step::End(timed_out(deadline))
                }
                Err(st) => Step::End(failed(status::from_status(&st, &self.endpoint))),
            },
            _ = control.kill.notified() => Step::End(killed()),
            _ = sleep_until(deadline) => Step::End(timed_out(deadline)),
        }
    }
}

async fn sleep_until(deadline: Option<(Instant, Duration)>) {
    match deadline {
        Some((at, _)) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn killed() -> Ended {
    Ended {
        status: ProcessStatus::Killed,
        at: std::time::Instant::now(),
        error: Some(Error::Killed),
    }
}

fn timed_out(deadline: Option<(Instant, Duration)>) -> Ended {
    Ended {
        status: ProcessStatus::TimedOut,
        at: std::time::Instant::now(),
        error: Some(Error::Timeout(deadline.map(|d| d.1).unwrap_or_default())),
    }
}

fn failed(err: Error) -> Ended {
    Ended {
        status: ProcessStatus::Error(err.to_string()),
        at: std::time::Instant::now(),
        error: Some(err),
    }
}
