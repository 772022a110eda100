//! The log tab: the main process's output (StreamLogs), followed or read
//! once, from a chosen tail.
use crate::client::LogOptions;

use crate::tui::state::pane::Pane;

/// Lines of the backlog a log view starts with, and what `T` cycles
/// through (0 = the whole log).
pub const TAILS: [u32; 4] = [200, 2000, 20_000, 0];

/// The sandbox's log, read through a stream the network side keeps open
/// while following.
#[derive(Debug)]
pub struct LogView {
    pub pane: Pane,
    pub opts: LogOptions,
    /// Which stream feeds the pane: a restart (new options) makes the old
    /// one's late events stale.
    pub generation: u64,
    /// Why the stream ended, once it has (`None` while it runs).
    pub ended: Option<String>,
    /// A stream has been asked for (the tab was opened once).
    pub started: bool,
}

impl LogView {
    pub fn new(pane: Pane, generation: u64) -> LogView {
        LogView {
            pane,
            opts: LogOptions {
                follow: true,
                tail_lines: TAILS[0],
                timestamps: false,
            },
            generation,
            ended: None,
            started: false,
        }
    }

    /// The next tail length after the current one.
    pub fn next_tail(&self) -> u32 {
        let i = TAILS
            .iter()
            .position(|t| *t == self.opts.tail_lines)
            .unwrap_or(0);
        TAILS[(i + 1) % TAILS.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_cycles_through_to_everything_and_back() {
        let mut v = LogView::new(Pane::new(10, false), 1);
        let mut seen = vec![v.opts.tail_lines];
        for _ in 0..4 {
            v.opts.tail_lines = v.next_tail();
            seen.push(v.opts.tail_lines);
        }
        assert_eq!(seen, [200, 2000, 20_000, 0, 200]);
    }
}
