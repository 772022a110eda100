//! Popups drawn over everything else.
mod confirm;
mod form;
mod help;

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::Frame;

use super::Style;
use crate::tui::state::forms::Popup;
use crate::tui::state::State;

pub fn render(state: &State, st: &Style, frame: &mut Frame, area: Rect) {
    match &state.popup {
        None => {}
        Some(Popup::Help { scroll }) => help::render(*scroll, st, frame, area),
        Some(Popup::Form(f)) => form::render(f, st.theme, frame, area),
        Some(Popup::Confirm(c)) => confirm::render(c, st.theme, frame, area),
    }
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
