//! The log tab.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::tab_block;
use crate::tui::state::detail::Detail;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::ui::panes::visible_lines;
use crate::tui::ui::search_flag;

pub fn render(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let v = &d.logs;
    let mut parts = vec![
        if v.opts.follow {
            "following"
        } else {
            "not following"
        }
        .to_string(),
        match v.opts.tail_lines {
            0 => "whole log".to_string(),
            n => format!("last {n} lines"),
        },
    ];
    if v.opts.timestamps {
        parts.push("timestamps".into());
    }
    if !v.pane.following() {
        parts.push(format!("↑{}", v.pane.scroll));
    }
    let mut block = tab_block(state, d, &parts.join(" · "), theme);
    let mut bottom = Vec::new();
    if let Some(s) = &v.pane.search {
        bottom.push(search_flag(s));
    }
    if let Some(why) = &v.ended {
        bottom.push(why.clone());
    }
    if !bottom.is_empty() {
        block = block.title_bottom(Line::from(format!(" {} ", bottom.join(" · "))).left_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = visible_lines(&v.pane, inner.width as usize, inner.height as usize, theme);
    if lines.is_empty() {
        let text = match &v.ended {
            Some(_) => "The log is empty: the main process printed nothing.",
            None => "Waiting for the main process to print…",
        };
        lines.push(Line::from(Span::styled(text, theme.dim)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
