//! Render: pure functions of the state that draw one frame and return where
//! things ended up, for mouse hit-testing.
mod caption;
mod detail;
mod panes;
mod popups;
mod processes;
mod sandboxes;
pub use sandboxes::short_id;
mod status;
mod stdin;
mod term_pane;
mod tiles;
mod waits;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui::Frame;

use super::keymap::Keymap;
use super::msg::{Focus, ProcKey};
use super::state::procs::StdinState;
use super::state::State;
use super::theme::Theme;

/// Where panels were drawn in the last frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hits {
    pub sandboxes: Rect,
    pub processes: Rect,
    /// Rows of the sandbox table: (first row's y, index of the first shown item, rows).
    pub sandbox_rows: (u16, usize, u16),
    pub process_rows: (u16, usize, u16),
    pub panes: Vec<(ProcKey, Rect)>,
    pub stdin: Option<Rect>,
    /// The detail screen, when it is open.
    pub detail: Option<Rect>,
}

fn row_at(rows: (u16, usize, u16), y: u16) -> Option<usize> {
    let (top, first, count) = rows;
    (y >= top && y < top + count).then(|| first + (y - top) as usize)
}

impl Hits {
    pub fn sandbox_row(&self, y: u16) -> Option<usize> {
        row_at(self.sandbox_rows, y)
    }
    pub fn process_row(&self, y: u16) -> Option<usize> {
        row_at(self.process_rows, y)
    }
}

/// What render needs besides the state.
pub struct Style<'a> {
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
}

pub fn render(state: &State, st: &Style, frame: &mut Frame) -> Hits {
    let mut hits = Hits::default();
    let area = frame.area();
    // A process on a terminal takes its keys in its pane, not in the box.
    let show_stdin = state
        .selected()
        .is_some_and(|p| p.stdin != StdinState::NotOpened && p.term.is_none())
        || state.focus == Focus::Stdin;
    // On a projector the box shows only while something is being typed.
    let show_stdin = show_stdin
        && (!state.presenter
            || state.focus == Focus::Stdin
            || !state.stdin.lines().join("").is_empty());
    let wait_h = waits::height(state);
    let caption_h = caption::height(state, area.width);
    // The presenter layout keeps one status row, and only for an error.
    let presenter = state.presenter && state.detail.is_none();
    let status_h = if !presenter {
        2
    } else if state
        .notice
        .as_ref()
        .is_some_and(|n| n.level == super::state::Level::Error)
    {
        1
    } else {
        0
    };
    let [caption_area, body, stdin_area, wait_area, status_area] = Layout::vertical([
        Constraint::Length(caption_h),
        Constraint::Min(3),
        Constraint::Length(if show_stdin { 3 } else { 0 }),
        Constraint::Length(wait_h),
        Constraint::Length(status_h),
    ])
    .areas(area);
    if caption_h > 0 {
        caption::render(state, st, frame, caption_area);
    }

    if let Some(d) = &state.detail {
        detail::render(state, d, st.theme, frame, body);
        hits.detail = Some(body);
        status::render(state, st, frame, status_area);
        popups::render(state, st, frame, area);
        return hits;
    }
    let panes_area = if state.zoom || presenter {
        body
    } else {
        let n = state
            .sandboxes
            .visible()
            .len()
            .max(state.listed_procs().len());
        let top_h = (n as u16 + 3)
            .clamp(6, 12)
            .min(body.height.saturating_sub(3));
        let [top, rest] =
            Layout::vertical([Constraint::Length(top_h), Constraint::Min(0)]).areas(body);
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        hits.sandboxes = left;
        hits.processes = right;
        hits.sandbox_rows = sandboxes::render(state, st.theme, frame, left);
        hits.process_rows = processes::render(state, st.theme, frame, right);
        rest
    };
    hits.panes = panes::render(state, st, frame, panes_area);
    if show_stdin {
        stdin::render(state, st, frame, stdin_area);
        hits.stdin = Some(stdin_area);
    }
    if wait_h > 0 {
        waits::render(state, st.theme, frame, wait_area);
    }
    status::render(state, st, frame, status_area);
    popups::render(state, st, frame, area);
    hits
}

/// A bordered block whose border shows focus.
pub fn panel<'a>(title: impl Into<Span<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let (border, kind) = if focused {
        (theme.border_focused, BorderType::Thick)
    } else {
        (theme.border, BorderType::Plain)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(kind)
        .border_style(border)
        .title(title.into().style(theme.title))
}

/// A pane's search as its border shows it: `/query 3/17`, or `no match`.
pub fn search_flag(s: &crate::tui::state::pane::Search) -> String {
    let count = match s.total {
        0 => "no match".to_string(),
        n => format!("{}/{n}", s.nth),
    };
    format!("/{} {count}", ellipsize(&s.query, 16))
}

/// What a sandbox is called on screen: its name, else its short id.
pub fn sandbox_label(state: &State, id: &str) -> String {
    state
        .sandboxes
        .get(id)
        .filter(|s| !s.display_name.is_empty())
        .map(|s| s.display_name.clone())
        .unwrap_or_else(|| short_id(id).to_string())
}

/// Cuts a string to `max` characters, marking the cut with an ellipsis.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// First shown row so that `selected` is visible in `rows` rows.
pub fn window_start(selected: Option<usize>, rows: usize) -> usize {
    match selected {
        Some(s) if rows > 0 && s >= rows => s + 1 - rows,
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
