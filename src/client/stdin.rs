//! Writing to a process's stdin over its exec stream.
use super::error::{Error, Result};
use super::process::{wait_ended, EndedRx};
use crate::proto::v1 as pb;
use crate::proto::v1::exec_stream_request::Message;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

/// The wire limit for one stdin frame.
pub(crate) const STDIN_CHUNK: usize = 64 * 1024;

/// Writes to a process's stdin. Clones share one stream: a close through
/// any of them closes it for all.
#[derive(Clone, Debug)]
pub struct StdinWriter {
    tx: mpsc::Sender<pb::ExecStreamRequest>,
    /// `true` once closed. The lock also keeps one `write`'s frames together
    /// when clones write concurrently.
    closed: Arc<Mutex<bool>>,
    ended: EndedRx,
}

impl StdinWriter {
    pub(crate) fn new(tx: mpsc::Sender<pb::ExecStreamRequest>, ended: EndedRx) -> Self {
        Self {
            tx,
            closed: Arc::new(Mutex::new(false)),
            ended,
        }
    }

    fn exited(&self) -> bool {
        self.ended.borrow().is_some()
    }

    /// Sends bytes, in frames of at most 64 KiB. Returns once they are
    /// queued on the stream, so a process that does not read slows the writer.
    pub async fn write(&self, data: impl Into<Bytes>) -> Result<()> {
        let data: Bytes = data.into();
        let closed = self.closed.lock().await;
        if *closed {
            return Err(Error::StdinClosed);
        }
        if self.exited() {
            return Err(Error::ProcessExited);
        }
        let mut at = 0;
        while at < data.len() {
            let end = data.len().min(at + STDIN_CHUNK);
            // A slice of the caller's buffer: the frame shares it, no copy.
            self.send(Message::Stdin(data.slice(at..end))).await?;
            at = end;
        }
        drop(closed);
        Ok(())
    }

    /// Sends `text` and a newline.
    pub async fn write_line(&self, text: &str) -> Result<()> {
        let mut line = String::with_capacity(text.len() + 1);
        line.push_str(text);
        line.push('\n');
        self.write(line).await
    }

    /// Signals EOF after everything written so far. Closing twice, or after
    /// the process exited, is not an error.
    pub async fn close(&self) -> Result<()> {
        let mut closed = self.closed.lock().await;
        if *closed {
            return Ok(());
        }
        *closed = true;
        if self.exited() {
            return Ok(());
        }
        match self.send(Message::Close(pb::ExecStreamClose {})).await {
            // The process ending while EOF was on its way is still an EOF.
            Ok(()) | Err(Error::ProcessExited) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Queues one frame, giving up as soon as the process has ended: a stream
    /// that is being torn down may not accept frames any more.
    async fn send(&self, msg: Message) -> Result<()> {
        let frame = pb::ExecStreamRequest { message: Some(msg) };
        let mut ended = self.ended.clone();
        tokio::select! {
            sent = self.tx.send(frame) => sent.map_err(|_| Error::ProcessExited),
            _ = wait_ended(&mut ended) => Err(Error::ProcessExited),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::process::Ended;
    use crate::client::types::ProcessStatus;
    use tokio::sync::watch;

    fn frames(rx: &mut mpsc::Receiver<pb::ExecStreamRequest>) -> Vec<Message> {
        let mut out = Vec::new();
        while let Ok(f) = rx.try_recv() {
            out.extend(f.message);
        }
        out
    }

    #[tokio::test]
    async fn writes_are_split_into_64k_frames_and_close_is_idempotent() {
        let (tx, mut rx) = mpsc::channel(16);
        let (_ended_tx, ended_rx) = watch::channel(None);
        let w = StdinWriter::new(tx, ended_rx);
        assert!(w.write(vec![7u8; STDIN_CHUNK * 2 + 1]).await.is_ok());
        assert!(w.write_line("hi").await.is_ok());
        assert!(w.close().await.is_ok());
        assert!(w.clone().close().await.is_ok());
        assert!(matches!(w.write(&b"x"[..]).await, Err(Error::StdinClosed)));
        let sizes: Vec<usize> = frames(&mut rx)
            .into_iter()
            .map(|m| match m {
                Message::Stdin(d) => d.len(),
                Message::Close(_) => 0,
                _ => usize::MAX,
            })
            .collect();
        // One close frame only, after the data.
        assert_eq!(sizes, [STDIN_CHUNK, STDIN_CHUNK, 1, 3, 0]);
    }

    #[tokio::test]
    async fn writing_after_exit_is_an_error_not_a_panic() {
        let (tx, _rx) = mpsc::channel(1);
        let (ended_tx, ended_rx) = watch::channel(None);
        let w = StdinWriter::new(tx, ended_rx);
        ended_tx.send_replace(Some(Ended {
            status: ProcessStatus::Exited(0),
            error: None,
            at: std::time::Instant::now(),
        }));
        assert!(matches!(
            w.write(&b"x"[..]).await,
            Err(Error::ProcessExited)
        ));
        assert!(w.close().await.is_ok());
    }

    #[tokio::test]
    async fn a_blocked_write_gives_up_when_the_process_ends() {
        // Queue of one frame that nobody reads: the second frame blocks.
        let (tx, _rx) = mpsc::channel(1);
        let (ended_tx, ended_rx) = watch::channel(None);
        let w = StdinWriter::new(tx, ended_rx);
        let writer = tokio::spawn({
            let w = w.clone();
            async move { w.write(vec![0u8; STDIN_CHUNK * 3]).await }
        });
        tokio::task::yield_now().await;
        ended_tx.send_replace(Some(Ended {
            status: ProcessStatus::Exited(0),
            error: None,
            at: std::time::Instant::now(),
        }));
        let r = writer.await.unwrap_or(Ok(()));
        assert!(matches!(r, Err(Error::ProcessExited)), "{r:?}");
    }

    #[tokio::test]
    async fn a_gone_stream_reads_as_exited() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let (_ended_tx, ended_rx) = watch::channel(None);
        let w = StdinWriter::new(tx, ended_rx);
        assert!(matches!(
            w.write(&b"x"[..]).await,
            Err(Error::ProcessExited)
        ));
    }
}
