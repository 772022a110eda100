//! Colours and text styles, configurable through `[colors]`. With `NO_COLOR`
//! every distinction is made with modifiers (bold, italic, reverse) instead.
use anyhow::bail;
use ratatui::style::{Color, Modifier, Style};

use crate::client::{ProcessStatus, SandboxState};

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    pub header: Style,
    pub selected: Style,
    pub marked: Style,
    pub stdout: Style,
    pub stderr: Style,
    /// Input sent to a process, echoed in its pane.
    pub stdin: Style,
    pub search_match: Style,
    pub running: Style,
    pub ok: Style,
    pub failed: Style,
    pub pending: Style,
    pub dim: Style,
    pub error: Style,
    pub info: Style,
    pub status_bar: Style,
    pub key_hint: Style,
}

/// The names accepted in `[colors]`, each with what it colours.
pub const COLOR_KEYS: &[(&str, &str)] = &[
    ("border", "panel borders"),
    ("border_focused", "the border of the focused panel"),
    ("title", "panel titles"),
    ("header", "table headers"),
    ("selected", "background of the selected row"),
    ("marked", "processes marked for a wait"),
    ("stdout", "standard output text"),
    ("stderr", "standard error text"),
    ("stdin", "input sent to a process, echoed in its pane"),
    ("search_match", "background of search matches"),
    ("running", "running sandboxes and processes"),
    ("ok", "exit 0, completed sandboxes"),
    (
        "failed",
        "non-zero exits, failed sandboxes, timeouts, kills",
    ),
    ("pending", "creating, pending and terminating states"),
    ("dim", "secondary text"),
    ("error", "error messages"),
    ("info", "informational messages"),
    ("status_bar", "status bar background"),
    ("key_hint", "keys in the hint line"),
];

impl Default for Theme {
    fn default() -> Self {
        let fg = |c| Style::default().fg(c);
        Theme {
            border: fg(Color::DarkGray),
            border_focused: fg(Color::Cyan),
            title: Style::default().add_modifier(Modifier::BOLD),
            header: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::default().bg(Color::DarkGray),
            marked: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            stdout: Style::default(),
            stderr: fg(Color::Red),
            stdin: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
            search_match: Style::default().bg(Color::Yellow).fg(Color::Black),
            running: fg(Color::Green),
            ok: fg(Color::Blue),
            failed: fg(Color::Red),
            pending: fg(Color::Yellow),
            dim: fg(Color::DarkGray),
            error: fg(Color::Red).add_modifier(Modifier::BOLD),
            info: fg(Color::Cyan),
            status_bar: Style::default().bg(Color::Black),
            key_hint: fg(Color::Cyan).add_modifier(Modifier::BOLD),
        }
    }
}

impl Theme {
    /// No colour at all: distinctions that matter (selection, stderr,
    /// failures) survive as modifiers.
    pub fn monochrome() -> Theme {
        let plain = Style::default();
        let bold = plain.add_modifier(Modifier::BOLD);
        Theme {
            border: plain,
            border_focused: bold,
            title: bold,
            header: bold.add_modifier(Modifier::UNDERLINED),
            selected: plain.add_modifier(Modifier::REVERSED),
            marked: bold,
            stdout: plain,
            stderr: plain.add_modifier(Modifier::ITALIC),
            stdin: plain.add_modifier(Modifier::DIM),
            search_match: plain.add_modifier(Modifier::REVERSED),
            running: bold,
            ok: plain,
            failed: bold.add_modifier(Modifier::UNDERLINED),
            pending: plain.add_modifier(Modifier::ITALIC),
            dim: plain,
            error: bold,
            info: plain,
            status_bar: plain,
            key_hint: bold,
        }
    }

    /// Sets one entry from a colour spec: a name (`red`, `lightblue`,
    /// `darkgray`, `reset`, ...), an index (`"42"`) or `#rrggbb`. Names that
    /// mean a background (`selected`, `search_match`, `status_bar`) set the
    /// background; the others set the foreground.
    pub fn set(&mut self, name: &str, spec: &str) -> anyhow::Result<()> {
        let color: Color = match spec.parse() {
            Ok(c) => c,
            Err(_) => bail!("unknown colour `{spec}`"),
        };
        let slot = match name {
            "border" => &mut self.border,
            "border_focused" => &mut self.border_focused,
            "title" => &mut self.title,
            "header" => &mut self.header,
            "selected" => &mut self.selected,
            "marked" => &mut self.marked,
            "stdout" => &mut self.stdout,
            "stderr" => &mut self.stderr,
            "stdin" => &mut self.stdin,
            "search_match" => &mut self.search_match,
            "running" => &mut self.running,
            "ok" => &mut self.ok,
            "failed" => &mut self.failed,
            "pending" => &mut self.pending,
            "dim" => &mut self.dim,
            "error" => &mut self.error,
            "info" => &mut self.info,
            "status_bar" => &mut self.status_bar,
            "key_hint" => &mut self.key_hint,
            other => bail!("unknown colour key `{other}`"),
        };
        *slot = if matches!(name, "selected" | "search_match" | "status_bar") {
            slot.bg(color)
        } else {
            slot.fg(color)
        };
        Ok(())
    }

    pub fn sandbox_state(&self, s: SandboxState) -> Style {
        match s {
            SandboxState::Running => self.running,
            SandboxState::Completed => self.ok,
            SandboxState::Failed => self.failed,
            SandboxState::Terminated | SandboxState::Unknown => self.dim,
            _ => self.pending,
        }
    }

    pub fn process_status(&self, s: Option<&ProcessStatus>) -> Style {
        match s {
            None => self.running,
            Some(ProcessStatus::Exited(0)) => self.ok,
            Some(_) => self.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_key_can_be_set() {
        let mut t = Theme::default();
        for (name, _) in COLOR_KEYS {
            t.set(name, "#102030").unwrap();
        }
        assert_eq!(t.stderr.fg, Some(Color::Rgb(0x10, 0x20, 0x30)));
        assert_eq!(t.selected.bg, Some(Color::Rgb(0x10, 0x20, 0x30)));
        assert!(t.set("stderr", "notacolour").is_err());
        assert!(t.set("nope", "red").is_err());
    }

    #[test]
    fn monochrome_has_no_colours() {
        let t = Theme::monochrome();
        assert_eq!(t.stderr.fg, None);
        assert!(t.stderr.add_modifier.contains(Modifier::ITALIC));
    }
}
