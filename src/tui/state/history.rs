//! Lines sent to one process's stdin, to recall with Up and Down as a
//! shell does. Each process has its own: what a REPL was sent is rarely
//! what another program wants.
use std::collections::VecDeque;

/// Lines kept per process; older ones are forgotten.
const MAX_LINES: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct History {
    lines: VecDeque<String>,
    /// The line being shown while browsing; `None` when not browsing.
    at: Option<usize>,
    /// What was typed before browsing began, given back past the newest.
    draft: String,
}

impl History {
    /// Remembers a sent line (not an empty one, nor a repeat of the last),
    /// and ends browsing.
    pub fn push(&mut self, line: &str) {
        self.at = None;
        self.draft.clear();
        if line.is_empty() || self.lines.back().is_some_and(|l| l == line) {
            return;
        }
        if self.lines.len() >= MAX_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_string());
    }

    /// The text the box should show after Up (`older`) or Down, given what
    /// it shows now; `None` when there is nothing further that way.
    pub fn step(&mut self, older: bool, current: &str) -> Option<String> {
        let last = self.lines.len().checked_sub(1)?;
        match (self.at, older) {
            (None, true) => {
                self.draft = current.to_string();
                self.at = Some(last);
            }
            (None, false) => return None,
            (Some(0), true) => return None,
            (Some(i), true) => self.at = Some(i - 1),
            (Some(i), false) if i < last => self.at = Some(i + 1),
            (Some(_), false) => {
                self.at = None;
                return Some(std::mem::take(&mut self.draft));
            }
        }
        self.at.and_then(|i| self.lines.get(i)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_and_down_walk_the_lines_and_give_the_draft_back() {
        let mut h = History::default();
        assert_eq!(h.step(true, "x"), None);
        h.push("one");
        h.push("two");
        h.push("two");
        h.push("");
        assert_eq!(h.step(true, "draft").as_deref(), Some("two"));
        assert_eq!(h.step(true, "two").as_deref(), Some("one"));
        assert_eq!(h.step(true, "one"), None);
        assert_eq!(h.step(false, "one").as_deref(), Some("two"));
        assert_eq!(h.step(false, "two").as_deref(), Some("draft"));
        assert_eq!(h.step(false, "draft"), None);
        // Sending ends browsing: Up starts from the newest again.
        h.step(true, "");
        h.push("three");
        assert_eq!(h.step(true, "").as_deref(), Some("three"));
    }

    #[test]
    fn keeps_a_bounded_number_of_lines() {
        let mut h = History::default();
        for i in 0..MAX_LINES + 5 {
            h.push(&i.to_string());
        }
        let mut oldest = None;
        let mut cur = String::new();
        while let Some(l) = h.step(true, &cur) {
            cur = l.clone();
            oldest = Some(l);
        }
        assert_eq!(oldest.as_deref(), Some("5"));
    }
}
