//! The sandbox detail screen, drawn over the lists and panes: a tab bar in
//! the title, the tab's own view, and its keys in the bottom border.
mod files;
mod info;
mod logs;
mod ports;
mod processes;

use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::sandbox_label;
use crate::tui::state::detail::{Detail, Fetched, Tab};
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    match d.tab {
        Tab::Info => info::render(state, d, theme, frame, area),
        Tab::Logs => logs::render(state, d, theme, frame, area),
        Tab::Processes => processes::render(state, d, theme, frame, area),
        Tab::Files => files::render(state, d, theme, frame, area),
        Tab::Ports => ports::render(state, d, theme, frame, area),
    }
}

/// The screen's frame: the sandbox, the tabs (the open one marked) and
/// what the tab says about itself.
fn tab_block<'a>(state: &State, d: &Detail, status: &str, theme: &Theme) -> Block<'a> {
    let name = sandbox_label(state, &d.sandbox_id);
    let mut spans = vec![Span::raw(format!(" {name} "))];
    for t in Tab::ALL {
        let label = format!(" {} ", t.title());
        spans.push(if t == d.tab {
            Span::styled(label, theme.selected).bold()
        } else {
            Span::styled(label, theme.dim)
        });
    }
    if !status.is_empty() {
        spans.push(Span::raw(format!(" {status} ")));
    }
    // The screen has the keys: drawn like a focused panel.
    Block::default()
        .borders(ratatui::widgets::Borders::ALL)
        .border_type(ratatui::widgets::BorderType::Thick)
        .border_style(theme.border_focused)
        .title(Line::from(spans))
        .title_bottom(
            Line::from(Span::styled(format!(" {} ", keys_of(d)), theme.dim)).right_aligned(),
        )
}

/// The keys of the open tab, for its bottom border.
fn keys_of(d: &Detail) -> &'static str {
    match d.tab {
        Tab::Info => "r refresh · Tab next · Esc close",
        Tab::Logs => "f follow · t timestamps · T tail · / search · Esc close",
        Tab::Processes => "k TERM · K KILL · r refresh · Esc close",
        Tab::Files if d.files.open.is_some() => "D download · / search · Backspace back",
        Tab::Files => "Enter open · Backspace up · D download · U upload · r refresh",
        Tab::Ports => "a add · k close · Esc close",
    }
}

/// What a tab shows while its answer is on its way or when it failed;
/// `None` once it is there.
fn pending<T>(f: &Fetched<T>, what: &str, theme: &Theme) -> Option<Paragraph<'static>> {
    match f {
        Fetched::Loading => Some(Paragraph::new(Span::styled(
            format!("Reading {what}…"),
            theme.dim,
        ))),
        Fetched::Failed(e) => Some(Paragraph::new(Span::styled(
            format!("Cannot show {what}: {e}"),
            theme.error,
        ))),
        Fetched::Ready(_) => None,
    }
}
