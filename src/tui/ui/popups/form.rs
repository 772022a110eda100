use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::centered;
use crate::tui::state::forms::{FieldKind, Form};
use crate::tui::theme::Theme;
use crate::tui::ui::panel;

const LABEL_W: u16 = 14;

pub fn render(form: &Form, theme: &Theme, frame: &mut Frame, area: Rect) {
    let height = form.fields.len() as u16 + 4;
    let rect = centered(area, 76, height);
    frame.render_widget(Clear, rect);
    let block = panel(format!(" {} ", form.title), true, theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut rows = vec![Constraint::Length(1); form.fields.len()];
    rows.push(Constraint::Length(1));
    rows.push(Constraint::Length(1));
    let areas = Layout::vertical(rows).split(inner);
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focused;
        let [label_area, value_area] =
            Layout::horizontal([Constraint::Length(LABEL_W), Constraint::Min(1)]).areas(areas[i]);
        let label_style = if focused {
            theme.key_hint
        } else {
            theme.header
        };
        let marker = if focused { "▸" } else { " " };
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("{marker}{}", field.label),
                label_style,
            )),
            label_area,
        );
        match &field.kind {
            FieldKind::Toggle(on) => {
                let text = if *on { "[x] on" } else { "[ ] off" };
                let hint = if focused { "  (Space toggles)" } else { "" };
                let line = Line::from(vec![Span::raw(text), Span::styled(hint, theme.dim)]);
                frame.render_widget(Paragraph::new(line), value_area);
            }
            FieldKind::Text(ta) if focused => {
                let mut ta = (**ta).clone();
                ta.set_cursor_line_style(ratatui::style::Style::default());
                ta.set_placeholder_style(theme.dim);
                frame.render_widget(&ta, value_area);
            }
            FieldKind::Text(ta) => {
                let value = ta.lines().join("");
                let span = if value.is_empty() {
                    Span::styled(ta.placeholder_text().to_string(), theme.dim)
                } else {
                    Span::raw(value)
                };
                frame.render_widget(Paragraph::new(span), value_area);
            }
        }
    }
    let n = form.fields.len();
    let footer = match &form.error {
        Some(e) => Line::from(Span::styled(e.clone(), theme.error)),
        None => Line::from(Span::styled(
            "Enter: ok · Esc: cancel · Tab/↑↓: fields",
            theme.dim,
        )),
    };
    frame.render_widget(Paragraph::new(footer), areas[n + 1]);
}
