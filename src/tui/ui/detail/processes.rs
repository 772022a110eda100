//! The processes tab: everything running inside the sandbox.
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{pending, tab_block};
use crate::tui::state::detail::Detail;
use crate::tui::state::procs::fmt_duration;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::ui::window_start;

pub fn render(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = d.procs.rows();
    let status = if d.procs.in_flight {
        format!("{} processes · refreshing", rows.len())
    } else {
        format!("{} processes · every 2s", rows.len())
    };
    let block = tab_block(state, d, &status, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if rows.is_empty() {
        if let Some(p) = pending(&d.procs.list, "the processes", theme) {
            frame.render_widget(p, inner);
        }
        return;
    }
    let shown = inner.height.saturating_sub(1) as usize;
    let sel = d.procs.selected_index();
    let first = window_start(sel, shown);
    let body = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .map(|(i, p)| {
            let style = if Some(i) == sel {
                theme.selected
            } else {
                ratatui::style::Style::default()
            };
            Row::new(vec![
                Cell::from(p.pid.to_string()),
                Cell::from(p.ppid.to_string()),
                Cell::from(p.state.to_string()),
                Cell::from(
                    p.user
                        .clone()
                        .or(p.uid.map(|u| u.to_string()))
                        .unwrap_or_default(),
                ),
                Cell::from(p.elapsed.map(fmt_duration).unwrap_or_default()),
                Cell::from(p.command()),
            ])
            .style(style)
        });
    let header = Row::new(
        ["PID", "PPID", "S", "USER", "TIME", "COMMAND"].map(|h| Span::styled(h, theme.dim)),
    );
    let table = Table::new(
        body,
        [
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(2),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(header);
    frame.render_widget(table, inner);
}
