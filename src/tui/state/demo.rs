//! A demo script being walked through: which run of it, which step, what
//! that step waits for, and the caption on screen.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::tui::msg::ProcKey;
use crate::tui::script::Script;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoPhase {
    /// The run's sandboxes are being created.
    Starting,
    /// Between steps; the next one starts at once.
    Ready,
    /// A pause: until the next-step key.
    Paused,
    /// Typing `rest` into `key`, one character per timer.
    Typing {
        key: ProcKey,
        rest: String,
    },
    /// Until `key`'s output matches the step's pattern, or `deadline`.
    Expecting {
        key: ProcKey,
        deadline: Instant,
    },
    /// Until wait group `id` is done.
    Waiting {
        id: u64,
    },
    /// A step went wrong; the next-step key goes on with the one after.
    Failed(String),
    Finished,
}

/// Where an `expect` starts looking in a pane: a line number and a char
/// offset in it, just past the previous match.
pub type Cursor = (u64, usize);

#[derive(Debug)]
pub struct Demo {
    pub script: Arc<Script>,
    /// Counts restarts; events of an earlier run are not this run's.
    pub run: u64,
    /// The script's sandbox names and the ids of this run's sandboxes.
    pub sandboxes: BTreeMap<String, String>,
    /// Processes by their script names (the latest one of a name).
    pub procs: HashMap<String, ProcKey>,
    pub cursors: HashMap<ProcKey, Cursor>,
    /// Index of the step running now, or the next to run.
    pub step: usize,
    pub phase: DemoPhase,
    pub caption: Option<String>,
    /// Only the newest timer asked for counts.
    pub timer: u64,
}

impl Demo {
    pub fn new(script: Arc<Script>) -> Demo {
        Demo {
            script,
            run: 1,
            sandboxes: BTreeMap::new(),
            procs: HashMap::new(),
            cursors: HashMap::new(),
            step: 0,
            phase: DemoPhase::Starting,
            caption: None,
            timer: 0,
        }
    }

    /// Back to the start, as run `run + 1`.
    pub fn restart(&mut self) {
        self.run += 1;
        self.sandboxes.clear();
        self.procs.clear();
        self.cursors.clear();
        self.step = 0;
        self.phase = DemoPhase::Starting;
        self.caption = None;
    }

    pub fn next_timer(&mut self) -> u64 {
        self.timer += 1;
        self.timer
    }

    /// "step 3/12", for the banner.
    pub fn progress(&self) -> String {
        let total = self.script.steps.len();
        let shown = match self.phase {
            DemoPhase::Finished => total,
            _ => (self.step + 1).min(total),
        };
        format!("step {shown}/{total}")
    }

    /// What the demo is doing, in a few words, for the banner's title.
    pub fn doing(&self) -> String {
        let step = self.script.steps.get(self.step);
        match &self.phase {
            DemoPhase::Starting => "starting the sandboxes…".into(),
            DemoPhase::Ready => String::new(),
            DemoPhase::Paused => "paused".into(),
            DemoPhase::Typing { .. } | DemoPhase::Expecting { .. } | DemoPhase::Waiting { .. } => {
                step.map(|s| format!("{}…", s.describe()))
                    .unwrap_or_default()
            }
            DemoPhase::Failed(_) => "stopped".into(),
            DemoPhase::Finished => "the end".into(),
        }
    }
}
