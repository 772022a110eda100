//! The files tab: a directory listing, or a file opened from it.
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::{pending, tab_block};
use crate::client::EntryKind;
use crate::tui::state::detail::{Detail, Fetched, FileContent};
use crate::tui::state::procs::fmt_bytes;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::ui::panes::visible_lines;
use crate::tui::ui::window_start;

pub fn render(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    if let Some(open) = &d.files.open {
        let status = match &open.content {
            Fetched::Ready(FileContent::Binary { size, .. }) => {
                format!("{} · binary, {}", open.path, fmt_bytes(*size as u64))
            }
            Fetched::Ready(FileContent::Text(p)) => {
                format!("{} · {} lines", open.path, p.visible_len())
            }
            _ => open.path.clone(),
        };
        let block = tab_block(state, d, &status, theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if let Some(p) = pending(&open.content, &open.path, theme) {
            frame.render_widget(p, inner);
            return;
        }
        let lines = match &open.content {
            Fetched::Ready(FileContent::Text(pane)) => {
                visible_lines(pane, inner.width as usize, inner.height as usize, theme)
            }
            Fetched::Ready(FileContent::Binary { dump, .. }) => {
                let mut l = vec![Line::from(Span::styled(
                    "Not text: the first bytes in hex (D downloads the whole file).",
                    theme.dim,
                ))];
                l.extend(dump.iter().map(|r| Line::from(r.clone())));
                l
            }
            _ => Vec::new(),
        };
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let entries = d.files.entries();
    // Before the first listing is there, a count would say "0".
    let status = match &d.files.list {
        Fetched::Ready(_) => format!("{} · {} entries", d.files.cwd, entries.len()),
        _ => format!("{} · reading…", d.files.cwd),
    };
    let block = tab_block(state, d, &status, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(p) = pending(&d.files.list, &d.files.cwd, theme) {
        frame.render_widget(p, inner);
        return;
    }
    if entries.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("(empty directory)", theme.dim)),
            inner,
        );
        return;
    }
    let shown = inner.height.saturating_sub(1) as usize;
    let first = window_start(Some(d.files.selected), shown);
    let rows = entries
        .iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .map(|(i, e)| {
            let mut name = e.name.clone();
            match e.kind {
                EntryKind::Dir => name.push('/'),
                EntryKind::Symlink => {
                    name.push_str(" -> ");
                    name.push_str(e.link_target.as_deref().unwrap_or("?"));
                }
                _ => {}
            }
            let style = if i == d.files.selected {
                theme.selected
            } else {
                ratatui::style::Style::default()
            };
            Row::new(vec![
                Cell::from(e.mode.clone().unwrap_or_default()),
                Cell::from(e.size.map(fmt_bytes).unwrap_or_default()),
                Cell::from(name),
            ])
            .style(style)
        });
    let header = Row::new(["MODE", "SIZE", "NAME"].map(|h| Span::styled(h, theme.dim)));
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(header);
    frame.render_widget(table, inner);
}
