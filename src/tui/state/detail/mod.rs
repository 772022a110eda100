//! The detail screen of one sandbox: what is in it already, apart from the
//! processes this TUI started. Each tab is a view of its own; what a tab
//! shows is fetched when it opens (and refreshed), never guessed.
mod files;
mod logs;

use std::time::Instant;

use crate::client::{ProcessInfo, SandboxDetails};

pub use files::{classify, join, parent, FileContent, FileView, FilesView, START_DIR};
pub use logs::{LogView, TAILS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Image, resources, environment, tags, timestamps, mounts.
    Info,
    /// The main process's output.
    Logs,
    /// Everything running inside, whoever started it.
    Processes,
    Files,
    /// Ports of the sandbox forwarded to this machine.
    Ports,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::Info, Tab::Logs, Tab::Processes, Tab::Files, Tab::Ports];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Info => "Info",
            Tab::Logs => "Log",
            Tab::Processes => "Processes",
            Tab::Files => "Files",
            Tab::Ports => "Ports",
        }
    }

    pub fn step(self, forward: bool) -> Tab {
        let n = Tab::ALL.len();
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        Tab::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// Something asked of the server: on its way, there, or why not.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    Loading,
    Ready(T),
    Failed(String),
}

/// The processes tab: the last listing and the selected row (by pid, so a
/// refresh that reorders rows keeps it).
#[derive(Debug)]
pub struct ProcsView {
    pub list: Fetched<Vec<ProcessInfo>>,
    pub selected: Option<u32>,
    /// When the last listing was asked for; the tab refreshes itself.
    pub asked: Option<Instant>,
    pub in_flight: bool,
}

impl ProcsView {
    pub fn rows(&self) -> &[ProcessInfo] {
        match &self.list {
            Fetched::Ready(v) => v,
            _ => &[],
        }
    }

    pub fn selected_index(&self) -> Option<usize> {
        let pid = self.selected?;
        self.rows().iter().position(|p| p.pid == pid)
    }

    pub fn move_by(&mut self, delta: isize) {
        let rows = self.rows();
        if rows.is_empty() {
            return;
        }
        let cur = self.selected_index().unwrap_or(0) as isize;
        let next = cur.saturating_add(delta).clamp(0, rows.len() as isize - 1) as usize;
        self.selected = Some(rows[next].pid);
    }
}

#[derive(Debug)]
pub struct Detail {
    pub sandbox_id: String,
    pub tab: Tab,
    /// Tells this screen's answers from those of an earlier one.
    pub generation: u64,
    pub info: Fetched<Box<SandboxDetails>>,
    pub logs: LogView,
    pub procs: ProcsView,
    pub files: FilesView,
    /// Selected row of the ports tab.
    pub port_row: usize,
}

impl Detail {
    pub fn new(sandbox_id: String, tab: Tab, generation: u64, logs: LogView) -> Detail {
        Detail {
            sandbox_id,
            tab,
            generation,
            info: Fetched::Loading,
            logs,
            procs: ProcsView {
                list: Fetched::Loading,
                selected: None,
                asked: None,
                in_flight: false,
            },
            files: FilesView::new(files::START_DIR),
            port_row: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_cycle_both_ways() {
        assert_eq!(Tab::Info.step(true), Tab::Logs);
        assert_eq!(Tab::Ports.step(true), Tab::Info);
        assert_eq!(Tab::Info.step(false), Tab::Ports);
    }
}
