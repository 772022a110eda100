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
    let mut title = format!(" Sandboxes ({} {shown_hint}) ", sbs.len());
    if let Some(f) = state.sandboxes.filter.label() {
        title.push_str(&format!("{f} "));
    }
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
        let text = if state.sandboxes.filter.is_active() {
            "No sandbox matches the filter (Esc in the filter clears it)."
        } else if state.sandboxes.loaded {
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
    // Columns as wide as their widest value (within reason), tags get the rest.
    let widest = |f: &dyn Fn(&crate::client::Sandbox) -> usize, lo: usize, hi: usize| {
        sbs.iter().map(|s| f(s)).max().unwrap_or(0).clamp(lo, hi) as u16
    };
    let cols = columns(
        inner.width,
        [
            widest(&|s| short_id(&s.id).chars().count(), 2, 36),
            widest(&|s| s.display_name.chars().count(), 4, 18),
            widest(&|s| s.image.chars().count(), 5, 24),
        ],
    );
    let rows = sbs
        .iter()
        .enumerate()
        .skip(first)
        .take(rows_h)
        .map(|(i, sb)| {
            let cells = cols.iter().map(|(c, _)| match c {
                Col::Id => Cell::from(short_id(&sb.id).to_string()),
                Col::Name => Cell::from(ellipsize(&sb.display_name, 18)),
                Col::State => Cell::from(Span::styled(
                    sb.state.as_str(),
                    theme.sandbox_state(sb.state),
                )),
                Col::Image => Cell::from(sb.image.clone()),
                Col::Tags => Cell::from(sb.tags.join(",")),
                Col::Age => Cell::from(
                    sb.created
                        .and_then(|c| state.wall.duration_since(c).ok())
                        .map(fmt_age)
                        .unwrap_or_else(|| "-".into()),
                ),
                Col::Procs => {
                    let (live, total) = state.proc_count(&sb.id);
                    Cell::from(if total == 0 {
                        "-".to_string()
                    } else {
                        format!("{live}/{total}")
                    })
                }
            });
            let row = Row::new(cells);
            if Some(i) == sel {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let header = Row::new(cols.iter().map(|(c, _)| c.title())).style(theme.header);
    let widths = cols.iter().map(|(_, w)| *w);
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
    (inner.y + 1, first, rows_h.min(sbs.len() - first) as u16)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Id,
    Name,
    State,
    Image,
    Tags,
    Age,
    Procs,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Id => "ID",
            Col::Name => "NAME",
            Col::State => "STATE",
            Col::Image => "IMAGE",
            Col::Tags => "TAGS",
            Col::Age => "AGE",
            Col::Procs => "PROCS",
        }
    }
}

/// Narrowest TAGS column worth showing.
const MIN_TAGS: u16 = 6;

/// The columns that fit whole in `width`, in their usual order, given the
/// widths the ID, NAME and IMAGE values need. ID, NAME and STATE always
/// show; then PROCS, AGE, IMAGE and TAGS as far as there is room, so a
/// narrow panel loses whole columns instead of squeezing every one.
fn columns(width: u16, [id, name, image]: [u16; 3]) -> Vec<(Col, Constraint)> {
    let mut cols = vec![
        (Col::Id, id),
        (Col::Name, name),
        (Col::State, 11),
        (Col::Image, image),
        (Col::Tags, MIN_TAGS),
        (Col::Age, 5),
        (Col::Procs, 5),
    ];
    let need = |cols: &[(Col, u16)]| -> u16 {
        cols.iter().map(|(_, w)| *w).sum::<u16>() + cols.len() as u16 - 1
    };
    for drop in [Col::Tags, Col::Image, Col::Age, Col::Procs] {
        if need(&cols) <= width {
            break;
        }
        cols.retain(|(c, _)| *c != drop);
    }
    cols.into_iter()
        .map(|(c, w)| {
            let constraint = if c == Col::Tags {
                Constraint::Fill(1)
            } else {
                Constraint::Length(w)
            };
            (c, constraint)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(width: u16) -> Vec<&'static str> {
        columns(width, [8, 11, 11])
            .into_iter()
            .map(|(c, _)| c.title())
            .collect()
    }

    #[test]
    fn narrow_panels_drop_whole_columns_in_order() {
        let all = ["ID", "NAME", "STATE", "IMAGE", "TAGS", "AGE", "PROCS"];
        assert_eq!(names(120), all);
        // 8+11+11+11+6+5+5 plus 6 gaps.
        assert_eq!(names(63), all);
        assert_eq!(names(62), ["ID", "NAME", "STATE", "IMAGE", "AGE", "PROCS"]);
        assert_eq!(names(44), ["ID", "NAME", "STATE", "AGE", "PROCS"]);
        assert_eq!(names(40), ["ID", "NAME", "STATE", "PROCS"]);
        assert_eq!(names(10), ["ID", "NAME", "STATE"]);
    }
}
