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
    let mut block = panel(title, state.focus == Focus::Sandboxes, theme);
    // Rows show short ids; the selected sandbox's full id (what the CLI
    // takes) sits in the bottom border.
    if let Some(sb) = state.sandboxes.selected() {
        block = block.title_bottom(
            Line::from(Span::styled(format!(" {} ", sb.id), theme.dim)).right_aligned(),
        );
        // Why a sandbox failed or ended is worth showing where it is selected.
        if !sb.state_reason.is_empty() {
            let room = (area.width as usize / 2).saturating_sub(4);
            let reason = format!(" {} ", ellipsize(&sb.state_reason, room));
            block = block.title_bottom(Line::from(Span::styled(reason, theme.dim)).left_aligned());
        }
    }
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
                Cell::from(short_id(&sb.id).to_string()),
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
        Constraint::Length(widest(&|s| short_id(&s.id).chars().count(), 2, 36)),
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

/// Long ids (UUIDs) are cut to their first 8 characters, like short commit
/// hashes; shorter ids stay whole.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((i, _)) if id.len() > 12 => &id[..i],
        _ => id,
    }
}
