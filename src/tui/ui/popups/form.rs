use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::centered;
use crate::tui::keymap::PopupScope;
use crate::tui::msg::Action;
use crate::tui::state::forms::{FieldKind, Form};
use crate::tui::ui::{panel, Style};

const LABEL_W: u16 = 14;

pub fn render(form: &Form, st: &Style, frame: &mut Frame, area: Rect) {
    let theme = st.theme;
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
                let hint = if focused {
                    format!("  ({} toggles)", st.keymap.key_for(Action::Toggle))
                } else {
                    String::new()
                };
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
        None => Line::from(first_keys(st)),
    };
    frame.render_widget(Paragraph::new(footer), areas[n + 1]);
}

/// The footer: the first key of each hinted dialog binding, so it fits
/// the dialog's width.
fn first_keys<'a>(st: &Style) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    for (keys, label) in st.keymap.popup_hints(PopupScope::Form) {
        let key = keys.into_iter().next().unwrap_or_default();
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", st.theme.dim));
        }
        spans.push(Span::styled(key, st.theme.key_hint));
        spans.push(Span::styled(format!(" {label}"), st.theme.dim));
    }
    spans
}
