use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::centered;
use crate::tui::state::forms::Confirm;
use crate::tui::theme::Theme;
use crate::tui::ui::panel;

pub fn render(c: &Confirm, theme: &Theme, frame: &mut Frame, area: Rect) {
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
        Line::from(vec![
            Span::styled("y", theme.key_hint),
            Span::raw(" / Enter: yes    "),
            Span::styled("n", theme.key_hint),
            Span::raw(" / Esc: no"),
        ]),
    ];
    let block = panel(title, true, theme);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        rect,
    );
}
