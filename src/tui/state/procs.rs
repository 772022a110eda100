//! Processes started from this TUI, each with its output pane.
use std::time::{Duration, Instant};

use crate::client::ProcessStatus;
use crate::tui::cast::{Timeline, TIMELINE_LIMIT};

use super::history::History;
use super::pane::Pane;
use super::term::TermPane;
use crate::tui::msg::ProcKey;

/// Where a process is in its life, as `poll()` would see it plus the two
/// moments before the server confirmed the exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Running,
    Ended(ProcessStatus),
    /// The exec itself failed (bad cwd, sandbox gone, ...).
    FailedToStart(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinState {
    /// The exec was started without stdin.
    NotOpened,
    Open,
    /// EOF was sent.
    Closed,
}

#[derive(Debug)]
pub struct Proc {
    pub key: ProcKey,
    pub sandbox_id: String,
    pub argv: Vec<String>,
    pub phase: Phase,
    pub stdin: StdinState,
    pub started: Instant,
    pub ended: Option<Instant>,
    pub marked: bool,
    pub pane: Pane,
    /// Lines from a script to write as soon as the exec is running.
    pub queued_input: Vec<String>,
    pub close_after_input: bool,
    /// Started with `check`: a non-zero exit is reported as a failure.
    pub check: bool,
    /// Runs on a pseudo-terminal, which echoes input itself.
    pub tty: bool,
    /// The emulator of a process on a terminal. Its output also goes to
    /// `pane`, as text, for search and saved transcripts.
    pub term: Option<TermPane>,
    /// Shown instead of the command where that says less (a shell pane's
    /// bash-else-sh line).
    pub label: Option<String>,
    /// Lines sent to its stdin, for Up and Down in the stdin box.
    pub history: History,
    /// Its output with the time it arrived, for a pane saved as a cast.
    pub timeline: Timeline,
}

impl Proc {
    pub fn new(
        key: ProcKey,
        sandbox_id: String,
        argv: Vec<String>,
        pane: Pane,
        now: Instant,
    ) -> Proc {
        Proc {
            key,
            sandbox_id,
            argv,
            phase: Phase::Starting,
            stdin: StdinState::NotOpened,
            started: now,
            ended: None,
            marked: false,
            pane,
            queued_input: Vec::new(),
            close_after_input: false,
            check: false,
            tty: false,
            term: None,
            label: None,
            history: History::default(),
            timeline: Timeline::new(TIMELINE_LIMIT),
        }
    }

    /// Moves what arrived from the inbox into the pane (and the emulator).
    /// Returns whether anything arrived.
    pub fn drain_output(&mut self) -> bool {
        let at = self.started.elapsed().as_secs_f64();
        let timeline = &mut self.timeline;
        let mut keep = |data: &[u8]| timeline.push(at, bytes::Bytes::copy_from_slice(data));
        match &mut self.term {
            Some(term) => self.pane.drain_inbox_into(|data| {
                keep(data);
                term.feed(data)
            }),
            None => self.pane.drain_inbox_into(keep),
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Starting | Phase::Running)
    }

    /// Runs on a terminal and still reads what is typed into its pane.
    pub fn takes_keys(&self) -> bool {
        self.term.is_some() && self.is_live() && self.stdin == StdinState::Open
    }

    /// The command as a person would type it.
    pub fn command_line(&self) -> String {
        shlex::try_join(self.argv.iter().map(String::as_str))
            .unwrap_or_else(|_| self.argv.join(" "))
    }

    /// What titles show: the label, else the command line.
    pub fn display_command(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.command_line())
    }

    /// The command cut to a length that leaves room in a one-line message
    /// for what happened to it.
    pub fn brief_command(&self) -> String {
        const MAX: usize = 40;
        let full = self.command_line();
        if full.chars().count() <= MAX {
            return full;
        }
        let mut cut: String = full.chars().take(MAX - 1).collect();
        cut.push('…');
        cut
    }

    /// `running`, `exit N`, `timeout`, `killed`, `error`.
    pub fn state_label(&self) -> String {
        match &self.phase {
            Phase::Starting => "starting".into(),
            Phase::Running => "running".into(),
            Phase::Ended(ProcessStatus::Exited(c)) => format!("exit {c}"),
            Phase::Ended(ProcessStatus::TimedOut) => "timeout".into(),
            Phase::Ended(ProcessStatus::Killed) => "killed".into(),
            Phase::Ended(ProcessStatus::Error(_)) | Phase::FailedToStart(_) => "error".into(),
        }
    }

    /// What `poll()` returns: `None` while running, else the exit code. A
    /// process that was killed (by its timeout or by the user) or never ran
    /// has no exit code, so it shows `-`; STATE says which of these it was.
    pub fn poll_label(&self) -> String {
        match &self.phase {
            Phase::Starting | Phase::Running => "None".into(),
            Phase::Ended(ProcessStatus::Exited(c)) => c.to_string(),
            Phase::Ended(
                ProcessStatus::TimedOut | ProcessStatus::Killed | ProcessStatus::Error(_),
            )
            | Phase::FailedToStart(_) => "-".into(),
        }
    }

    pub fn status(&self) -> Option<&ProcessStatus> {
        match &self.phase {
            Phase::Ended(s) => Some(s),
            _ => None,
        }
    }

    /// How it ended, counting a failed start as an error, for wait groups.
    pub fn outcome(&self) -> Option<ProcessStatus> {
        match &self.phase {
            Phase::Ended(s) => Some(s.clone()),
            Phase::FailedToStart(e) => Some(ProcessStatus::Error(e.clone())),
            _ => None,
        }
    }

    pub fn duration(&self, now: Instant) -> Duration {
        self.ended
            .unwrap_or(now)
            .saturating_duration_since(self.started)
    }

    pub fn error_text(&self) -> Option<&str> {
        match &self.phase {
            Phase::Ended(ProcessStatus::Error(e)) | Phase::FailedToStart(e) => Some(e),
            _ => None,
        }
    }
}

/// Human short duration: `850ms`, `12.3s`, `4m05s`, `2h03m`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 1 {
        format!("{}ms", d.as_millis())
    } else if s < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// Human byte count: `512B`, `1.5K`, `3.2M`.
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_poll() {
        let now = Instant::now();
        let mut p = Proc::new(
            1,
            "sb".into(),
            vec!["sh".into(), "-c".into(), "exit 3".into()],
            Pane::new(10, false),
            now,
        );
        assert_eq!(p.command_line(), "sh -c 'exit 3'");
        assert_eq!(p.brief_command(), "sh -c 'exit 3'");
        assert_eq!(p.poll_label(), "None");
        p.phase = Phase::Ended(ProcessStatus::Exited(3));
        assert_eq!(p.state_label(), "exit 3");
        assert_eq!(p.poll_label(), "3");
        // No exit code: POLL says so, STATE says why.
        p.phase = Phase::Ended(ProcessStatus::TimedOut);
        assert_eq!(
            (p.state_label().as_str(), p.poll_label().as_str()),
            ("timeout", "-")
        );
        p.phase = Phase::Ended(ProcessStatus::Killed);
        assert_eq!(
            (p.state_label().as_str(), p.poll_label().as_str()),
            ("killed", "-")
        );
        p.phase = Phase::Ended(ProcessStatus::Error("lost".into()));
        assert_eq!(
            (p.state_label().as_str(), p.poll_label().as_str()),
            ("error", "-")
        );
        p.phase = Phase::FailedToStart("no".into());
        assert_eq!(
            (p.state_label().as_str(), p.poll_label().as_str()),
            ("error", "-")
        );
        p.phase = Phase::Ended(ProcessStatus::Exited(-2));
        assert_eq!(p.poll_label(), "-2");
    }

    #[test]
    fn long_commands_are_cut_for_messages() {
        let argv = vec!["sh".into(), "-c".into(), "x".repeat(100)];
        let p = Proc::new(1, "sb".into(), argv, Pane::new(10, false), Instant::now());
        let brief = p.brief_command();
        assert_eq!(brief.chars().count(), 40);
        assert!(brief.starts_with("sh -c xxx") && brief.ends_with('…'));
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(fmt_duration(Duration::from_millis(12_300)), "12.3s");
        assert_eq!(fmt_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(fmt_duration(Duration::from_secs(7380)), "2h03m");
        assert_eq!(fmt_bytes(512), "512B");
        assert_eq!(fmt_bytes(1536), "1.5K");
        assert_eq!(fmt_bytes(3 << 20), "3.0M");
    }
}
