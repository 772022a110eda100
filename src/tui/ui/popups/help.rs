use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::centered;
use crate::tui::keymap::PopupScope;
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
        "Mouse: click focuses and selects, the wheel scrolls. Keys can be changed in [keys].",
        theme.dim,
    )));
    let full = lines.len() as u16 + 2;
    let height = full.min(area.height);
    let rect = centered(area, 90, height);
    frame.render_widget(Clear, rect);
    // On a short terminal the list goes on below the frame: say how to get there.
    let mut title = String::from(" Help");
    for (keys, label) in st.keymap.popup_hints(PopupScope::Help) {
        if label == "scroll" && full <= height {
            continue;
        }
        let key = keys.into_iter().next().unwrap_or_default();
        title.push_str(&format!(" · {key} {label}"));
    }
    title.push(' ');
    let block = panel(title, true, theme);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), rect);
}
