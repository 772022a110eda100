//! The processes panel: what poll() says about each process, live.
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::{panel, window_start};
use crate::tui::msg::Focus;
use crate::tui::state::procs::{fmt_bytes, fmt_duration};
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> (u16, usize, u16) {
    let listed = state.listed_procs();
    let scope = if state.all_procs {
        "all sandboxes".to_string()
    } else {
        state
            .sandboxes
            .selected()
            .map(|s| {
                if s.display_name.is_empty() {
                    super::sandboxes::short_id(&s.id).to_string()
                } else {
                    s.display_name.clone()
                }
            })
            .unwrap_or_else(|| "no sandbox".into())
    };
    let title = format!(" Processes · {scope} ({}) ", listed.len());
    let block = panel(title, state.focus == Focus::Processes, theme);
    let inner = block.inner(area);
    if listed.is_empty() {
        let text = if state.sandboxes.selected().is_some() {
            "No processes here. Press x to run a command."
        } else {
            "No processes."
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return (0, 0, 0);
    }
    let rows_h = inner.height.saturating_sub(1) as usize;
    let sel = state
        .selected_proc
        .and_then(|k| listed.iter().position(|p| p.key == k));
    let first = window_start(sel, rows_h);
    let rows = listed
        .iter()
        .enumerate()
        .skip(first)
        .take(rows_h)
        .map(|(i, p)| {
            let mark = if p.marked { "*" } else { " " };
            let state_style = if p.is_live() {
                theme.running
            } else {
                theme.process_status(p.status())
            };
            let state_style = if p.error_text().is_some() {
                theme.failed
            } else {
                state_style
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(
                    format!("{mark}p{}", p.key),
                    if p.marked { theme.marked } else { theme.stdout },
                )),
                Cell::from(p.command_line()),
                Cell::from(Span::styled(p.state_label(), state_style)),
                Cell::from(p.poll_label()),
                Cell::from(fmt_duration(p.duration(state.now))),
                Cell::from(fmt_bytes(p.pane.bytes_out)),
            ]);
            if Some(i) == sel {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let header = Row::new(["  #", "COMMAND", "STATE", "POLL", "TIME", "OUT"]).style(theme.header);
    let widths = [
        Constraint::Length(5),
        Constraint::Min(12),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block)
            .column_spacing(1),
        area,
    );
    (inner.y + 1, first, rows_h.min(listed.len() - first) as u16)
}
