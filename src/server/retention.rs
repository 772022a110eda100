//! How long, and how much of, finished sandboxes are remembered. One task
//! removes records older than the retention, caps the number of finished
//! records, drops the logs of the longest-finished sandboxes once all
//! finished logs together pass a budget, and gives freed memory back.
use super::heap;
use super::registry::{Entry, Registry};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a finished sandbox's record stays unless configured otherwise.
/// Clients poll records of sandboxes that ended seconds to minutes ago;
/// a day leaves room for someone looking the next morning.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Logs of all finished sandboxes together, in the bytes they are charged.
const MAX_ENDED_LOGS: usize = 256 << 20;
/// Finished records kept at most, whatever their age (each is at most
/// `record::MAX_FINISHED_RECORD`).
const MAX_ENDED_RECORDS: usize = 10_000;
/// Longest wait between two passes.
const MAX_TICK: Duration = Duration::from_secs(60);
/// Shortest wait between two passes: sandboxes ending in a burst cost one
/// pass, and memory is returned at most once a second (returning it walks
/// the whole heap).
const PASS_GAP: Duration = Duration::from_secs(1);

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    pub logs_dropped: usize,
}

/// One pass over the finished sandboxes, as of `now`.
pub fn sweep(registry: &Registry, now: Instant, retention: Duration) -> Swept {
    let ended = registry.ended();
    let over = ended.len().saturating_sub(MAX_ENDED_RECORDS);
    let (gone, kept): (Vec<_>, Vec<_>) = ended
        .into_iter()
        .enumerate()
        .partition(|(i, (_, at))| *i < over || now.saturating_duration_since(*at) >= retention);
    let gone: Vec<Arc<Entry>> = gone.into_iter().map(|(_, (e, _))| e).collect();
    registry.remove(&gone);
    // The most recently finished keep their logs: they are the likeliest
    // to be read.
    let mut total = 0;
    let mut logs_dropped = 0;
    for (_, (e, _)) in kept.iter().rev() {
        let charged = e.logs.charged();
        if charged == 0 {
            continue;
        }
        if total + charged > MAX_ENDED_LOGS {
            e.discard_logs();
            logs_dropped += 1;
        } else {
            total += charged;
        }
    }
    Swept {
        removed: gone.len(),
        logs_dropped,
    }
}

/// Run the passes for `registry` until it is dropped: every `retention / 4`
/// (at most a minute apart), and whenever a sandbox ends or is freed.
pub fn spawn(registry: &Arc<Registry>, retention: Duration) {
    let weak = Arc::downgrade(registry);
    let housekeeping = registry.housekeeping();
    let tick = (retention / 4).min(MAX_TICK);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = housekeeping.bell.notified() => {}
            }
            let Some(registry) = weak.upgrade() else {
                return;
            };
            let swept = sweep(&registry, Instant::now(), retention);
            drop(registry);
            if swept != Swept::default() {
                tracing::debug!(?swept, "finished sandboxes swept");
            }
            if housekeeping.take_freed() {
                let _ = tokio::task::spawn_blocking(heap::release_free_memory).await;
            }
            tokio::time::sleep(PASS_GAP).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1 as pb;

    fn finished(registry: &Registry, tag: &str) -> Arc<Entry> {
        let sb = pb::Sandbox {
            sandbox_id: uuid::Uuid::new_v4().to_string(),
            spec: Some(pb::SandboxSpec {
                tags: vec![tag.into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let (e, _) = registry.insert(sb, tag);
        e.logs.push(0, b"some output\n");
        e.update(|s| s.state = pb::State::Completed as i32);
        e
    }

    #[test]
    fn records_older_than_the_retention_go_with_their_request_ids() {
        let r = Registry::default();
        let old = finished(&r, "old");
        let running = {
            let sb = pb::Sandbox {
                sandbox_id: "running".into(),
                ..Default::default()
            };
            r.insert(sb, "").0
        };
        let later = Instant::now() + Duration::from_secs(120);
        let fresh = finished(&r, "fresh");
        let swept = sweep(&r, later, Duration::from_secs(60));
        assert_eq!(swept.removed, 2, "both ended more than a minute before");
        assert!(r.get(&old.id).is_none() && r.get(&fresh.id).is_none());
        assert!(
            r.get(&running.id).is_some(),
            "running sandboxes never expire"
        );
        // The request id may make a new sandbox now.
        let (again, made) = r.insert(
            pb::Sandbox {
                sandbox_id: "new".into(),
                ..Default::default()
            },
            "old",
        );
        assert!(made && again.id == "new");
        assert_eq!(
            sweep(&r, Instant::now(), Duration::from_secs(60)),
            Swept::default()
        );
    }

    #[test]
    fn deleting_an_ended_sandbox_frees_its_log_and_keeps_its_record() {
        let r = Registry::default();
        let e = finished(&r, "t");
        assert!(e.logs.charged() > 0);
        e.mark_deleted();
        assert_eq!(e.logs.charged(), 0);
        assert!(r.housekeeping().take_freed());
        assert!(r.get(&e.id).is_some());
    }

    #[test]
    fn a_sandbox_deleted_while_running_loses_its_log_when_it_ends() {
        let r = Registry::default();
        let (e, _) = r.insert(
            pb::Sandbox {
                sandbox_id: "a".into(),
                ..Default::default()
            },
            "",
        );
        e.update(|s| s.state = pb::State::Running as i32);
        e.logs.push(0, b"line\n");
        e.mark_deleted();
        assert!(e.logs.charged() > 0, "still running: followers read on");
        e.update(|s| s.state = pb::State::Completed as i32);
        assert_eq!(e.logs.charged(), 0);
    }
}
