//! The ports tab: this sandbox's forwards and their URLs.
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::tab_block;
use crate::tui::state::detail::Detail;
use crate::tui::state::forwards::{self, ForwardState};
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let fwds: Vec<_> = forwards::of(&state.forwards, &d.sandbox_id).collect();
    let block = tab_block(state, d, &format!("{} forwarded", fwds.len()), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if fwds.is_empty() {
        let text = "No ports forwarded. Press a to forward one: a port a program in the \
                    sandbox listens on, reached from this machine through 127.0.0.1.";
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    let rows = fwds.iter().enumerate().map(|(i, f)| {
        let (state_text, style) = match &f.state {
            ForwardState::Starting => ("starting".to_string(), theme.pending),
            ForwardState::Listening { tool, .. } => {
                (format!("listening (relay: {tool})"), theme.running)
            }
            ForwardState::Failed(e) => (format!("failed: {e}"), theme.error),
        };
        let row_style = if i == d.port_row {
            theme.selected
        } else {
            ratatui::style::Style::default()
        };
        Row::new(vec![
            Cell::from(f.remote.to_string()),
            Cell::from(f.url().unwrap_or_else(|| "-".into())),
            Cell::from(format!("{} open · {} total", f.active, f.total)),
            Cell::from(Span::styled(state_text, style)),
        ])
        .style(row_style)
    });
    let header =
        Row::new(["PORT", "URL", "CONNECTIONS", "STATE"].map(|h| Span::styled(h, theme.dim)));
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(28),
            Constraint::Length(22),
            Constraint::Min(10),
        ],
    )
    .header(header);
    frame.render_widget(table, inner);
}
