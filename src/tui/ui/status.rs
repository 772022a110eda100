//! The two bottom lines: connection and the latest message, then key hints
//! for the focused panel.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Style;
use crate::tui::state::{Connection, Level, State};

pub fn render(state: &State, st: &Style, frame: &mut Frame, area: Rect) {
    let theme = st.theme;
    let (dot, conn_style, conn) = match &state.connection {
        Connection::Connecting => ("○", theme.pending, "connecting".to_string()),
        Connection::Connected => ("●", theme.running, "connected".to_string()),
        Connection::Broken(_) => ("○", theme.failed, "disconnected".to_string()),
    };
    let mut first = vec![
        Span::styled(format!("{dot} {conn} "), conn_style),
        Span::raw(format!("{} ", state.endpoint)),
        Span::styled(format!("({}) ", state.server_kind), theme.dim),
        Span::styled(format!("[{}] ", state.focus.name()), theme.dim),
    ];
    if let Some(n) = &state.notice {
        let style = match n.level {
            Level::Info => theme.info,
            Level::Error => theme.error,
        };
        first.push(Span::styled(n.text.clone(), style));
    }
    let mut hints = Vec::new();
    for (key, label) in st.keymap.hints(state.focus) {
        hints.push(Span::styled(key, theme.key_hint));
        hints.push(Span::raw(format!(" {label}  ")));
    }
    let lines = vec![Line::from(first), Line::from(hints)];
    frame.render_widget(Paragraph::new(lines).style(theme.status_bar), area);
}
