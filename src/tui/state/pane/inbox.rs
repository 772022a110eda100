//! The shared inbox between a stream task and its pane: bounded in bytes,
//! so a flood slows the process instead of growing memory, and it posts
//! one payload-free "changed" per batch, not one per chunk.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::client::StreamKind;

/// Bytes the inbox may hold before the stream task has to wait.
pub const INBOX_LIMIT: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct InboxInner {
    pub chunks: VecDeque<(StreamKind, Bytes)>,
    pub bytes: usize,
    /// A "changed" message is on its way; no need to send another.
    pub notified: bool,
}

/// The shared inbox between a stream task and the pane.
#[derive(Debug, Clone, Default)]
pub struct PaneInbox {
    pub inner: Arc<Mutex<InboxInner>>,
    /// Signalled when update drained the inbox, to wake a waiting producer.
    pub drained: Arc<Notify>,
}

impl PaneInbox {
    /// Adds a chunk; returns whether the caller should post "changed".
    pub fn push(&self, stream: StreamKind, data: Bytes) -> bool {
        let Ok(mut g) = self.inner.lock() else {
            return false;
        };
        g.bytes += data.len();
        g.chunks.push_back((stream, data));
        !std::mem::replace(&mut g.notified, true)
    }

    pub fn is_full(&self) -> bool {
        self.inner
            .lock()
            .map(|g| g.bytes >= INBOX_LIMIT)
            .unwrap_or(false)
    }

    pub(super) fn take(&self) -> Vec<(StreamKind, Bytes)> {
        let taken = match self.inner.lock() {
            Ok(mut g) => {
                g.notified = false;
                g.bytes = 0;
                g.chunks.drain(..).collect()
            }
            Err(_) => Vec::new(),
        };
        self.drained.notify_waiters();
        taken
    }
}
