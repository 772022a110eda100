use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, hint_spans};
use crate::tui::keymap::PopupScope;
use crate::tui::state::forms::Confirm;
use crate::tui::ui::{panel, Style};

pub fn render(c: &Confirm, st: &Style, frame: &mut Frame, area: Rect) {
    let theme = st.theme;
    let (title, text) = match c {
        Confirm::StopSandbox { id } => (
            " Stop sandbox ",
            format!("Stop sandbox {id}? Its processes will be terminated."),
        ),
        Confirm::Signal {
            pid,
            signal,
            command,
            ..
        } => (
            " Signal ",
            format!("Send SIG{signal} to pid {pid} ({command})?"),
        ),
        Confirm::Quit { active } => (
            " Quit ",
            format!(
                "The embedded server still runs {active} sandbox(es). Quit and stop {}?",
                if *active == 1 { "it" } else { "them" }
            ),
        ),
    };
    let rect = centered(area, 60, 6);
    frame.render_widget(Clear, rect);
    let lines = vec![
        Line::from(text),
        Line::from(""),
        Line::from(hint_spans(st, PopupScope::Confirm, "    ")),
    ];
    let block = panel(title, true, theme);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        rect,
    );
}
