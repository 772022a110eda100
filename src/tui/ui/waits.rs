//! The wait view: which marked processes finished, in what order, which are
//! pending, and for how long the wait has run.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{ellipsize, panel};
use crate::tui::state::procs::fmt_duration;
use crate::tui::state::State;
use crate::tui::theme::Theme;

const MAX_ROWS: u16 = 8;

pub fn height(state: &State) -> u16 {
    match state.waits.last() {
        Some(w) => (w.members.len() as u16).min(MAX_ROWS) + 2,
        None => 0,
    }
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(w) = state.waits.last() else { return };
    // Counts what is listed below: members that had finished before the
    // wait began count as much as those that finished during it.
    let (finished, total) = (w.finished.len(), w.members.len());
    let status = if w.is_done() {
        format!("done: {finished} of {total} finished (waited for {})", w.n)
    } else {
        format!("waiting for {} of {total} · {finished} finished", w.n)
    };
    let title = format!(
        " wait #{} · {status} · elapsed {} ",
        w.id,
        fmt_duration(w.elapsed(state.now))
    );
    let block = panel(title, false, theme);
    let mut lines = Vec::new();
    for (i, f) in w.finished.iter().enumerate() {
        let cmd = state
            .proc(f.key)
            .map(|p| p.display_command())
            .unwrap_or_default();
        let counted = i < w.n;
        let mark = if counted { theme.ok } else { theme.dim };
        let status_style = theme.process_status(Some(&f.status));
        let label = match &f.status {
            crate::client::ProcessStatus::Error(_) => "error".to_string(),
            s => s.to_string(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:>2}. ", i + 1), mark),
            Span::raw(format!("p{:<3} ", f.key)),
            Span::styled(format!("{label:<9}"), status_style),
            Span::styled(format!(" after {:<8} ", fmt_duration(f.after)), theme.dim),
            Span::raw(ellipsize(&cmd, 60)),
        ]));
    }
    for key in w.pending() {
        let (cmd, label) = state
            .proc(key)
            .map(|p| (p.display_command(), p.state_label()))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled("  … ", theme.pending),
            Span::raw(format!("p{key:<3} ")),
            Span::styled(format!("{label:<9}"), theme.pending),
            Span::styled(" pending        ", theme.dim),
            Span::raw(ellipsize(&cmd, 60)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
