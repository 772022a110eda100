//! The demo's banner: the presenter's caption for the step, and where the
//! demo is. In the presenter layout it is larger, for the back of the room.
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::Style;
use crate::tui::msg::Action;
use crate::tui::state::demo::{Demo, DemoPhase};
use crate::tui::state::State;

/// Rows the banner takes (0: none), for a screen `width` wide.
pub fn height(state: &State, width: u16) -> u16 {
    let Some(d) = &state.demo else { return 0 };
    let text = banner_text(d);
    if text.is_empty() && !state.presenter {
        return 0;
    }
    let inner = width.saturating_sub(4).max(1) as usize;
    let lines = text
        .lines()
        .map(|l| l.chars().count().div_ceil(inner).max(1))
        .sum::<usize>()
        .max(1) as u16;
    if state.presenter {
        // A blank row above and below the text: it reads as a slide.
        (lines + 4).min(12)
    } else {
        (lines + 2).min(6)
    }
}

/// The caption; a failed step says what went wrong instead.
fn banner_text(d: &Demo) -> String {
    match &d.phase {
        DemoPhase::Failed(e) => e.clone(),
        _ => d.caption.clone().unwrap_or_default(),
    }
}

pub fn render(state: &State, st: &Style, frame: &mut Frame, area: Rect) {
    let Some(d) = &state.demo else { return };
    let theme = st.theme;
    let km = st.keymap;
    let mut title = format!(" demo · {}", d.progress());
    let doing = d.doing();
    if !doing.is_empty() {
        title.push_str(&format!(" · {doing}"));
    }
    title.push(' ');
    let keys = match d.phase {
        DemoPhase::Finished => format!(" {} again ", km.key_for(Action::RestartDemo)),
        _ => format!(
            " {} next · {} restart ",
            km.key_for(Action::NextStep),
            km.key_for(Action::RestartDemo)
        ),
    };
    let failed = matches!(d.phase, DemoPhase::Failed(_));
    let border = if failed {
        theme.error
    } else {
        theme.border_focused
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(border)
        .title(Span::styled(title, theme.title))
        .title_bottom(Line::from(Span::styled(keys, theme.dim)).right_aligned());
    let text_style = if failed {
        theme.error
    } else {
        theme.info.add_modifier(Modifier::BOLD)
    };
    let mut lines: Vec<Line> = Vec::new();
    if state.presenter {
        lines.push(Line::raw(""));
    }
    lines.extend(
        banner_text(d)
            .lines()
            .map(|l| Line::from(Span::styled(l.to_string(), text_style))),
    );
    let para = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .alignment(if state.presenter {
            Alignment::Center
        } else {
            Alignment::Left
        });
    frame.render_widget(para, area);
}
