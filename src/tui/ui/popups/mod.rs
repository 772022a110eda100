//! Popups drawn over everything else.
mod confirm;
mod form;
mod help;

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::Frame;

use ratatui::text::Span;

use super::Style;
use crate::tui::keymap::PopupScope;
use crate::tui::state::forms::Popup;
use crate::tui::state::State;

pub fn render(state: &State, st: &Style, frame: &mut Frame, area: Rect) {
    match &state.popup {
        None => {}
        Some(Popup::Help { scroll }) => help::render(*scroll, st, frame, area),
        Some(Popup::Form(f)) => form::render(f, st, frame, area),
        Some(Popup::Confirm(c)) => confirm::render(c, st, frame, area),
    }
}

/// A popup's hints from its keymap scope: `keys label` pairs, spaced.
pub fn hint_spans<'a>(st: &Style, scope: PopupScope, sep: &'a str) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    for (keys, label) in st.keymap.popup_hints(scope) {
        if !spans.is_empty() {
            spans.push(Span::styled(sep, st.theme.dim));
        }
        spans.push(Span::styled(keys.join("/"), st.theme.key_hint));
        spans.push(Span::styled(format!(" {label}"), st.theme.dim));
    }
    spans
}

/// A rectangle of the given size centred in `area` (clamped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}
