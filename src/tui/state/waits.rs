//! Wait groups: "wait for N of these marked processes", shown live. The
//! outcome is derived from the same status events that drive `poll()`, so
//! the order is the order in which the processes were seen to finish.
use std::time::{Duration, Instant};

use crate::client::ProcessStatus;
use crate::tui::msg::ProcKey;

#[derive(Debug, Clone)]
pub struct Finished {
    pub key: ProcKey,
    pub status: ProcessStatus,
    /// Time from the group's start (zero when it had finished before).
    pub after: Duration,
}

#[derive(Debug, Clone)]
pub struct WaitGroup {
    pub id: u64,
    pub members: Vec<ProcKey>,
    pub n: usize,
    pub started: Instant,
    pub finished: Vec<Finished>,
    /// When the n-th member finished.
    pub done_at: Option<Instant>,
}

impl WaitGroup {
    /// `already` lists members that had ended before the wait began, in the
    /// order they ended.
    pub fn new(
        id: u64,
        members: Vec<ProcKey>,
        n: usize,
        now: Instant,
        already: Vec<(ProcKey, ProcessStatus)>,
    ) -> WaitGroup {
        let n = n.clamp(1, members.len().max(1));
        let mut g = WaitGroup {
            id,
            members,
            n,
            started: now,
            finished: Vec::new(),
            done_at: None,
        };
        for (key, status) in already {
            g.record(key, status, now);
        }
        g
    }

    pub fn is_done(&self) -> bool {
        self.done_at.is_some()
    }

    /// Notes that a member ended. Later finishers are still recorded (the
    /// view keeps showing them) but do not change `done_at`.
    pub fn record(&mut self, key: ProcKey, status: ProcessStatus, now: Instant) {
        if !self.members.contains(&key) || self.finished.iter().any(|f| f.key == key) {
            return;
        }
        let after = now.saturating_duration_since(self.started);
        self.finished.push(Finished { key, status, after });
        if self.done_at.is_none() && self.finished.len() >= self.n {
            self.done_at = Some(now);
        }
    }

    pub fn pending(&self) -> Vec<ProcKey> {
        self.members
            .iter()
            .copied()
            .filter(|k| !self.finished.iter().any(|f| f.key == *k))
            .collect()
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        self.done_at
            .unwrap_or(now)
            .saturating_duration_since(self.started)
    }

    /// 1-based place in which a member finished, if it did.
    pub fn place(&self, key: ProcKey) -> Option<usize> {
        self.finished
            .iter()
            .position(|f| f.key == key)
            .map(|i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_after_n_in_finishing_order() {
        let t0 = Instant::now();
        let mut g = WaitGroup::new(1, vec![1, 2, 3], 2, t0, vec![]);
        assert!(!g.is_done());
        g.record(3, ProcessStatus::Exited(0), t0 + Duration::from_secs(1));
        g.record(9, ProcessStatus::Exited(0), t0 + Duration::from_secs(1));
        g.record(3, ProcessStatus::Exited(5), t0 + Duration::from_secs(1));
        assert!(!g.is_done());
        g.record(1, ProcessStatus::Exited(2), t0 + Duration::from_secs(2));
        assert!(g.is_done());
        assert_eq!(g.place(3), Some(1));
        assert_eq!(g.place(1), Some(2));
        assert_eq!(g.pending(), vec![2]);
        assert_eq!(
            g.elapsed(t0 + Duration::from_secs(9)),
            Duration::from_secs(2)
        );
        g.record(2, ProcessStatus::Killed, t0 + Duration::from_secs(3));
        assert_eq!(g.place(2), Some(3));
        assert_eq!(g.done_at, Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn members_done_before_count_at_once() {
        let t0 = Instant::now();
        let g = WaitGroup::new(1, vec![1, 2], 1, t0, vec![(2, ProcessStatus::Exited(0))]);
        assert!(g.is_done());
        assert_eq!(g.place(2), Some(1));
    }

    #[test]
    fn n_is_clamped() {
        let g = WaitGroup::new(1, vec![1, 2], 7, Instant::now(), vec![]);
        assert_eq!(g.n, 2);
        let g = WaitGroup::new(1, vec![1, 2], 0, Instant::now(), vec![]);
        assert_eq!(g.n, 1);
    }
}
