//! The stdin box under the panes, bound to the selected process.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{panel, Style};
use crate::tui::msg::{Action, Focus};
use crate::tui::state::procs::StdinState;
use crate::tui::state::State;

pub fn render(state: &State, st: &Style, frame: &mut Frame, area: Rect) {
    let theme = st.theme;
    let focused = state.focus == Focus::Stdin;
    if state.broadcast {
        let marked: Vec<String> = state.marked().iter().map(|k| format!("p{k}")).collect();
        let title = format!(
            " broadcast → {} ({}) ",
            super::ellipsize(&marked.join(" "), 60),
            marked.len()
        );
        let block = panel(title, focused, theme).border_style(theme.marked);
        let hint = format!(
            " {} send to all · {} EOF to all · {} ends the broadcast ",
            st.keymap.key_for(Action::SendLine),
            st.keymap.key_for(Action::SendEof),
            st.keymap.key_for(Action::Broadcast)
        );
        let mut ta = state.stdin.clone();
        ta.set_block(block.title_bottom(Line::from(Span::styled(hint, theme.dim)).right_aligned()));
        ta.set_cursor_line_style(ratatui::style::Style::default());
        frame.render_widget(&ta, area);
        return;
    }
    let Some(p) = state.selected() else {
        let block = panel(" stdin ", focused, theme);
        frame.render_widget(
            Paragraph::new(Span::styled("no process selected", theme.dim)).block(block),
            area,
        );
        return;
    };
    let title = format!(
        " stdin → p{} ({}) ",
        p.key,
        super::ellipsize(&p.display_command(), 40)
    );
    let block = panel(title, focused, theme);
    let notice = if !p.is_live() {
        Some(format!(
            "p{} has exited ({}); stdin is gone",
            p.key,
            p.state_label()
        ))
    } else if p.stdin == StdinState::Closed {
        Some("stdin is closed (EOF sent)".to_string())
    } else {
        None
    };
    if let Some(text) = notice {
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return;
    }
    if focused {
        let mut ta = state.stdin.clone();
        let km = st.keymap;
        let hint = format!(
            " {} send · {} EOF · {} leave ",
            km.key_for(Action::SendLine),
            km.key_for(Action::SendEof),
            km.key_for(Action::LeaveStdin)
        );
        ta.set_block(block.title_bottom(Line::from(Span::styled(hint, theme.dim)).right_aligned()));
        ta.set_cursor_line_style(ratatui::style::Style::default());
        frame.render_widget(&ta, area);
    } else {
        let text = state.stdin.lines().join("");
        let line = if text.is_empty() {
            Line::from(Span::styled(
                format!(
                    "press {} to type into stdin",
                    st.keymap.key_for(Action::FocusStdin)
                ),
                theme.dim,
            ))
        } else {
            Line::from(text)
        };
        frame.render_widget(Paragraph::new(line).block(block), area);
    }
}
