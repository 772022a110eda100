use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::centered;
use crate::tui::ui::{panel, Style};

/// Every binding, generated from the keymap.
pub fn render(scroll: u16, st: &Style, frame: &mut Frame, area: Rect) {
    let theme = st.theme;
    let mut lines = Vec::new();
    for (title, rows) in st.keymap.help() {
        if rows.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(title, theme.header)));
        for (keys, help) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<18}"), theme.key_hint),
                Span::raw(help),
            ]));
        }
        lines.push(Line::from(""));
    }
    lines.push(Line::from(Span::styled(
        "Dialogs: Enter accepts, Esc cancels, Tab/↑↓ move between fields, Space toggles.",
        theme.dim,
    )));
    lines.push(Line::from(Span::styled(
        "Mouse: click focuses and selects, the wheel scrolls. Keys can be changed in [keys].",
        theme.dim,
    )));
    let full = lines.len() as u16 + 2;
    let height = full.min(area.height);
    let rect = centered(area, 90, height);
    frame.render_widget(Clear, rect);
    // On a short terminal the list goes on below the frame: say how to get there.
    let title = if full > height {
        " Help · ↑↓ PgUp PgDn scroll · Esc closes "
    } else {
        " Help · Esc closes "
    };
    let block = panel(title, true, theme);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), rect);
}
