//! The processes panel: what poll() says about each process, live.
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::{panel, sandbox_label, window_start};
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
            .map(|s| sandbox_label(state, &s.id))
            .unwrap_or_else(|| "no sandbox".into())
    };
    let mut title = format!(" Processes · {scope} ({}) ", listed.len());
    if let Some(f) = state.proc_filter.label() {
        title.push_str(&format!("{f} "));
    }
    let block = panel(title, state.focus == Focus::Processes, theme);
    let inner = block.inner(area);
    if listed.is_empty() {
        let text = if state.proc_filter.is_active() {
            "No process matches the filter (Esc in the filter clears it)."
        } else if state.sandboxes.selected().is_some() {
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
    let cols = columns(inner.width, state.all_procs);
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
            let cells = cols.iter().map(|c| match c {
                Col::Key => Cell::from(Span::styled(
                    format!("{mark}p{}", p.key),
                    if p.marked { theme.marked } else { theme.stdout },
                )),
                Col::Sandbox => Cell::from(sandbox_label(state, &p.sandbox_id)),
                Col::Command => Cell::from(p.display_command()),
                Col::State => Cell::from(Span::styled(p.state_label(), state_style)),
                Col::Poll => Cell::from(p.poll_label()),
                Col::Time => Cell::from(fmt_duration(p.duration(state.now))),
                Col::Out => Cell::from(fmt_bytes(p.pane.bytes_out)),
            });
            let row = Row::new(cells);
            if Some(i) == sel {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let header = Row::new(cols.iter().map(|c| c.title())).style(theme.header);
    let widths = cols.iter().map(|c| c.constraint());
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block)
            .column_spacing(1),
        area,
    );
    (inner.y + 1, first, rows_h.min(listed.len() - first) as u16)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Key,
    Sandbox,
    Command,
    State,
    Poll,
    Time,
    Out,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Key => "  #",
            Col::Sandbox => "SANDBOX",
            Col::Command => "COMMAND",
            Col::State => "STATE",
            Col::Poll => "POLL",
            Col::Time => "TIME",
            Col::Out => "OUT",
        }
    }

    /// Column widths; COMMAND takes what is left, at least `MIN_COMMAND`.
    fn width(self) -> u16 {
        match self {
            Col::Key => 5,
            Col::Sandbox => 12,
            Col::Command => MIN_COMMAND,
            Col::State => 9,
            Col::Poll => 5,
            Col::Time | Col::Out => 7,
        }
    }

    fn constraint(self) -> Constraint {
        match self {
            Col::Command => Constraint::Min(MIN_COMMAND),
            other => Constraint::Length(other.width()),
        }
    }
}

const MIN_COMMAND: u16 = 12;

/// The columns that fit whole in `width`: on a narrow panel the optional
/// ones are left out (OUT first, then TIME, then POLL) rather than every
/// column being squeezed until none is readable. Listing every sandbox's
/// processes, which sandbox each runs in matters most after the command.
fn columns(width: u16, all_sandboxes: bool) -> Vec<Col> {
    let mut cols = vec![Col::Key, Col::Command, Col::State];
    let need = |cols: &[Col]| -> u16 {
        cols.iter().map(|c| c.width()).sum::<u16>() + cols.len() as u16 - 1
    };
    let sandbox = all_sandboxes.then_some(Col::Sandbox);
    for extra in sandbox.into_iter().chain([Col::Poll, Col::Time, Col::Out]) {
        let mut more = cols.clone();
        more.push(extra);
        if need(&more) <= width {
            cols = more;
        }
    }
    // Shown in a fixed order whatever was left out.
    cols.sort_by_key(|c| *c as u8);
    cols
}

/// A sandbox as the panels name it: its display name, else its short id.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_panels_drop_optional_columns_whole() {
        let all = vec![
            Col::Key,
            Col::Command,
            Col::State,
            Col::Poll,
            Col::Time,
            Col::Out,
        ];
        assert_eq!(columns(80, false), all);
        assert_eq!(columns(50, false), all);
        assert_eq!(columns(49, false), all[..5].to_vec());
        assert_eq!(columns(34, false), all[..4].to_vec());
        assert_eq!(columns(20, false), all[..3].to_vec());
    }

    #[test]
    fn all_sandboxes_adds_the_sandbox_column_first() {
        let cols = columns(80, true);
        assert_eq!(cols[..3], [Col::Key, Col::Sandbox, Col::Command]);
        assert_eq!(cols.len(), 7);
        let cols = columns(42, true);
        assert_eq!(cols, [Col::Key, Col::Sandbox, Col::Command, Col::State]);
    }
}
