//! The table of sandboxes: their records (spec + status), the handle of the
//! running instance, and the request-id map for idempotent creates.
//!
//! A record stays after its sandbox ends, so Get keeps answering, until the
//! retention policy (`retention.rs`) removes it. When a sandbox ends its
//! record shrinks (`record.rs`); when it is both ended and deleted, its log
//! goes too.
use super::logs::LogBuffer;
use super::record;
use super::runtime::Instance;
use crate::proto::v1 as pb;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{watch, Notify};

pub fn now_ts() -> prost_types::Timestamp {
    prost_types::Timestamp::from(SystemTime::now())
}

pub fn is_terminal(state: pb::State) -> bool {
    matches!(
        state,
        pb::State::Completed | pb::State::Failed | pb::State::Terminated
    )
}

/// One sandbox. Locks are short and never held across an await.
pub struct Entry {
    pub id: String,
    /// Creation order, for listing and paging.
    pub seq: u64,
    record: Mutex<pb::Sandbox>,
    instance: Mutex<Option<Instance>>,
    /// `Some(grace)` once a stop has been requested; a later, shorter grace
    /// replaces it.
    stop: watch::Sender<Option<Duration>>,
    state: watch::Sender<pb::State>,
    pub logs: Arc<LogBuffer>,
    /// The create's request id, if any, to forget along with the record.
    request_id: String,
    /// Whether it ended and whether it was deleted, under one lock: the
    /// two happen in either order, and whichever comes second frees the
    /// log.
    life: Mutex<Life>,
    /// Wakes the retention task: something ended or was freed.
    housekeeping: Arc<Housekeeping>,
    /// Snapshots that keep the sandbox's files until they are taken.
    pub files: crate::server::snapshots::Hold,
}

#[derive(Default)]
struct Life {
    /// When the sandbox became terminal.
    ended: Option<Instant>,
    /// A Delete (or a purge) asked for it.
    deleted: bool,
}

/// The retention task's doorbell, and whether memory was freed since it
/// last looked.
#[derive(Default)]
pub struct Housekeeping {
    pub bell: Notify,
    freed: AtomicBool,
}

impl Housekeeping {
    fn freed(&self) {
        self.freed.store(true, Ordering::SeqCst);
        self.bell.notify_one();
    }

    /// Whether memory was freed since the last call.
    pub fn take_freed(&self) -> bool {
        self.freed.swap(false, Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Entry {
    pub fn snapshot(&self) -> pb::Sandbox {
        lock(&self.record).clone()
    }

    pub fn state(&self) -> pb::State {
        *self.state.borrow()
    }

    pub fn state_name(&self) -> &'static str {
        state_name(self.state())
    }

    /// Apply `f` to the record; the state watch follows `status.state`.
    pub fn update(&self, f: impl FnOnce(&mut pb::SandboxStatus)) {
        let mut rec = lock(&self.record);
        let status = rec.status.get_or_insert_with(Default::default);
        let was_terminal = is_terminal(state_of(status));
        f(status);
        let st = state_of(status);
        let ends = !was_terminal && is_terminal(st);
        if ends {
            record::shrink_finished(&mut rec);
        }
        drop(rec);
        self.state.send_if_modified(|s| {
            let changed = *s != st;
            *s = st;
            changed
        });
        if ends {
            self.on_end();
        }
    }

    /// The sandbox has just become terminal: no output comes any more, and
    /// a deleted one needs its log no longer.
    fn on_end(&self) {
        let deleted = {
            let mut life = lock(&self.life);
            life.ended.get_or_insert_with(Instant::now);
            life.deleted
        };
        self.logs.close();
        if deleted {
            self.discard_logs();
        }
        // Its log now counts against what finished sandboxes may keep.
        self.housekeeping.bell.notify_one();
    }

    /// When the sandbox became terminal, if it has.
    pub fn ended_at(&self) -> Option<Instant> {
        lock(&self.life).ended
    }

    /// Remember that the sandbox was deleted: its log goes as soon as it
    /// has ended (at once, if it already has).
    pub fn mark_deleted(&self) {
        let ended = {
            let mut life = lock(&self.life);
            life.deleted = true;
            life.ended.is_some()
        };
        if ended {
            self.discard_logs();
        }
    }

    /// Free the log of an ended sandbox (deleted, or over the budget of
    /// what finished sandboxes keep).
    pub fn discard_logs(&self) {
        if self.logs.charged() > 0 {
            self.logs.discard();
            self.housekeeping.freed();
        }
    }

    pub fn instance(&self) -> Option<Instance> {
        lock(&self.instance).clone()
    }

    pub fn set_instance(&self, inst: Option<Instance>) {
        *lock(&self.instance) = inst;
    }

    /// Record a stop request; keeps the shortest grace asked for.
    pub fn request_stop(&self, grace: Duration) {
        self.stop.send_modify(|g| {
            *g = Some(match *g {
                Some(old) if old < grace => old,
                _ => grace,
            })
        });
    }

    pub fn stop_watch(&self) -> watch::Receiver<Option<Duration>> {
        self.stop.subscribe()
    }

    pub fn state_watch(&self) -> watch::Receiver<pb::State> {
        self.state.subscribe()
    }

    /// Wait until the sandbox is terminal or `timeout` passes.
    pub async fn wait_terminal(&self, timeout: Duration) -> bool {
        let mut rx = self.state_watch();
        tokio::time::timeout(timeout, rx.wait_for(|s| is_terminal(*s)))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false)
    }
}

fn state_of(status: &pb::SandboxStatus) -> pb::State {
    pb::State::try_from(status.state).unwrap_or(pb::State::Creating)
}

pub fn state_name(s: pb::State) -> &'static str {
    match s {
        pb::State::Unspecified => "unspecified",
        pb::State::Creating => "creating",
        pb::State::Running => "running",
        pb::State::Completed => "completed",
        pb::State::Failed => "failed",
        pb::State::Terminating => "terminating",
        pb::State::Terminated => "terminated",
        pb::State::Pending => "pending",
        pb::State::Paused => "paused",
        pb::State::Preparing => "preparing",
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Arc<Entry>>,
    by_request: HashMap<String, String>,
    next_seq: u64,
}

#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
    housekeeping: Arc<Housekeeping>,
}

impl Registry {
    /// Insert a new sandbox record (state CREATING), or return the one made
    /// earlier for the same non-empty `request_id` (`false` = existing).
    pub fn insert(&self, mut sandbox: pb::Sandbox, request_id: &str) -> (Arc<Entry>, bool) {
        let mut g = lock(&self.inner);
        if !request_id.is_empty() {
            if let Some(e) = g
                .by_request
                .get(request_id)
                .and_then(|id| g.entries.get(id))
            {
                return (e.clone(), false);
            }
        }
        let id = sandbox.sandbox_id.clone();
        let seq = g.next_seq;
        g.next_seq += 1;
        let state = sandbox
            .status
            .as_ref()
            .and_then(|s| pb::State::try_from(s.state).ok())
            .unwrap_or(pb::State::Creating);
        sandbox.status.get_or_insert_with(Default::default).state = state as i32;
        let entry = Arc::new(Entry {
            id: id.clone(),
            seq,
            record: Mutex::new(sandbox),
            instance: Mutex::new(None),
            stop: watch::channel(None).0,
            state: watch::channel(state).0,
            logs: Arc::new(LogBuffer::new()),
            request_id: request_id.to_string(),
            life: Mutex::default(),
            housekeeping: self.housekeeping.clone(),
            files: Default::default(),
        });
        g.entries.insert(id.clone(), entry.clone());
        if !request_id.is_empty() {
            g.by_request.insert(request_id.to_string(), id);
        }
        (entry, true)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        lock(&self.inner).entries.get(id).cloned()
    }

    /// Every sandbox, newest first.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        let mut v: Vec<_> = lock(&self.inner).entries.values().cloned().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.seq));
        v
    }

    pub fn active(&self) -> usize {
        self.all()
            .iter()
            .filter(|e| !is_terminal(e.state()))
            .count()
    }

    /// Ended sandboxes with the time each ended, the longest ended first.
    pub fn ended(&self) -> Vec<(Arc<Entry>, Instant)> {
        let mut v: Vec<_> = lock(&self.inner)
            .entries
            .values()
            .filter_map(|e| e.ended_at().map(|t| (e.clone(), t)))
            .collect();
        v.sort_by_key(|(e, t)| (*t, e.seq));
        v
    }

    /// Forget these sandboxes: Get answers NOT_FOUND for them from now on,
    /// and their request ids may be used again.
    pub fn remove(&self, gone: &[Arc<Entry>]) {
        if gone.is_empty() {
            return;
        }
        let mut g = lock(&self.inner);
        for e in gone {
            g.entries.remove(&e.id);
            if !e.request_id.is_empty() && g.by_request.get(&e.request_id) == Some(&e.id) {
                g.by_request.remove(&e.request_id);
            }
        }
        if g.entries.capacity() > 2 * g.entries.len() + 64 {
            g.entries.shrink_to_fit();
            g.by_request.shrink_to_fit();
        }
        drop(g);
        self.housekeeping.freed();
    }

    /// What the retention task waits on.
    pub fn housekeeping(&self) -> Arc<Housekeeping> {
        self.housekeeping.clone()
    }
}
