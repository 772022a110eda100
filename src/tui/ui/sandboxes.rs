//! The sandboxes panel.
use std::time::Duration;

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::{ellipsize, panel, window_start};
use crate::tui::msg::Focus;
use crate::tui::state::procs::fmt_duration;
use crate::tui::state::State;
use crate::tui::theme::Theme;

/// Returns (first row y, first index, rows) for hit-testing.
pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) -> (u16, usize, u16) {
    let sbs = state.sandboxes.visible();
    let shown_hint = if state.sandboxes.show_terminated {
        "all"
    } else {
        "active"
    };
    let title = format!(" Sandboxes ({} {shown_hint}) ", sbs.len());
    let block = panel(title, state.focus == Focus::Sandboxes, theme);
    let inner = block.inner(area);
    if sbs.is_empty() {
        let text = if state.sandboxes.loaded {
            "No sandboxes. Press n to create one."
        } else {
            "Loading…"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return (0, 0, 0);
    }
    let rows_h = inner.height.saturating_sub(1) as usize;
    let sel = state.sandboxes.selected_index();
    let first = window_start(sel, rows_h);
    let rows = sbs
        .iter()
        .enumerate()
        .skip(first)
        .take(rows_h)
        .map(|(i, sb)| {
            let (live, total) = state.proc_count(&sb.id);
            let age = sb
                .created
                .and_then(|c| state.wall.duration_since(c).ok())
                .map(fmt_age)
                .unwrap_or_else(|| "-".into());
            let procs = if total == 0 {
                "-".to_string()
            } else {
                format!("{live}/{total}")
            };
            let row = Row::new(vec![
                Cell::from(sb.id.clone()),
                Cell::from(ellipsize(&sb.display_name, 18)),
                Cell::from(Span::styled(
                    sb.state.as_str(),
                    theme.sandbox_state(sb.state),
                )),
                Cell::from(sb.image.clone()),
                Cell::from(sb.tags.join(",")),
                Cell::from(age),
                Cell::from(procs),
            ]);
            if Some(i) == sel {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let header =
        Row::new(["ID", "NAME", "STATE", "IMAGE", "TAGS", "AGE", "PROCS"]).style(theme.header);
    // Columns as wide as their widest value (within reason), tags get the rest.
    let widest = |f: &dyn Fn(&crate::client::Sandbox) -> usize, lo: usize, hi: usize| {
        sbs.iter().map(|s| f(s)).max().unwrap_or(0).clamp(lo, hi) as u16
    };
    let widths = [
        Constraint::Length(widest(&|s| s.id.chars().count(), 2, 36)),
        Constraint::Length(widest(&|s| s.display_name.chars().count(), 4, 18)),
        Constraint::Length(11),
        Constraint::Length(widest(&|s| s.image.chars().count(), 5, 24)),
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
    if let Some(reason) = state
        .sandboxes
        .selected()
        .map(|s| s.state_reason.as_str())
        .filter(|r| !r.is_empty())
    {
        // The reason a sandbox failed is worth a line of its own.
        let y = area.bottom().saturating_sub(1);
        let line = Line::from(Span::styled(
            format!(" {} ", ellipsize(reason, area.width as usize - 4)),
            theme.dim,
        ));
        frame.render_widget(
            Paragraph::new(line),
            Rect::new(area.x + 1, y, area.width.saturating_sub(2), 1),
        );
    }
    (inner.y + 1, first, rows_h.min(sbs.len() - first) as u16)
}

/// Age at the granularity a person cares about.
pub fn fmt_age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        let full = fmt_duration(d);
        // 4m05s -> 4m: seconds are noise once it is minutes old.
        match full.find('m') {
            Some(i) if s < 3600 => full[..=i].to_string(),
            _ => full,
        }
    }
}
