//! The two bottom lines: connection and the latest message, then key hints
//! for the focused panel. Each is exactly one row at any width: what does
//! not fit is left out whole (a hint, the server kind, the endpoint) or,
//! for the message, cut at a word with an ellipsis.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::Style;
use crate::tui::state::{Connection, Level, State};

/// Space between two hints.
const HINT_GAP: &str = "  ";

pub fn render(state: &State, st: &Style, frame: &mut Frame, area: Rect) {
    let width = area.width as usize;
    let lines = vec![status_line(state, st, width), hint_line(state, st, width)];
    frame.render_widget(Paragraph::new(lines).style(st.theme.status_bar), area);
}

fn status_line<'a>(state: &'a State, st: &Style, width: usize) -> Line<'a> {
    let theme = st.theme;
    let (dot, conn_style, conn) = match &state.connection {
        Connection::Connecting => ("○", theme.pending, "connecting"),
        Connection::Connected => ("●", theme.running, "connected"),
        Connection::Broken(_) => ("○", theme.failed, "disconnected"),
    };
    let conn = Span::styled(format!("{dot} {conn} "), conn_style);
    let endpoint = Span::raw(format!("{} ", state.endpoint));
    let kind = Span::styled(format!("({}) ", state.server_kind), theme.dim);
    let focus = Span::styled(format!("[{}] ", state.focus.name()), theme.dim);
    let notice = state.notice.as_ref().map(|n| {
        let style = match n.level {
            Level::Info => theme.info,
            Level::Error => theme.error,
        };
        (n.text.as_str(), style)
    });
    // The message is what changed, so the static parts make room for it,
    // least useful first; the message is cut only when they are all gone.
    let notice_w = notice.map_or(0, |(t, _)| t.width())
        + modes(state, st).iter().map(Span::width).sum::<usize>();
    let mut fixed = vec![Some(conn), Some(endpoint), Some(kind), Some(focus)];
    for drop in [2, 1, 3] {
        let used: usize = fixed.iter().flatten().map(Span::width).sum();
        if used + notice_w <= width {
            break;
        }
        fixed[drop] = None;
    }
    let mut spans: Vec<Span> = modes(state, st);
    spans.extend(fixed.into_iter().flatten());
    let used: usize = spans.iter().map(Span::width).sum();
    if let Some((text, style)) = notice {
        let room = width.saturating_sub(used);
        spans.push(Span::styled(cut_at_word(text, room), style));
    }
    Line::from(spans)
}

/// What is on that changes what keys and the screen do: recording and
/// broadcasting. Always shown, first.
fn modes<'a>(state: &State, st: &Style) -> Vec<Span<'a>> {
    let mut out = Vec::new();
    if state.recording.is_some() {
        out.push(Span::styled("● REC ", st.theme.error));
    }
    if state.broadcast {
        let marked: Vec<String> = state.marked().iter().map(|k| format!("p{k}")).collect();
        out.push(Span::styled(
            format!("⇶ BROADCAST {} ", marked.join(" ")),
            st.theme.marked,
        ));
    }
    out
}

fn hint_line<'a>(state: &State, st: &Style, width: usize) -> Line<'a> {
    let theme = st.theme;
    let mut spans = Vec::new();
    let mut used = 0;
    // The filter box takes text, so the list's keys do not apply.
    let hints = if state.typing_filter() {
        vec![
            ("type".to_string(), "to filter"),
            ("Enter".to_string(), "keep"),
            ("Esc".to_string(), "clear"),
            ("↑↓".to_string(), "move"),
        ]
    } else {
        st.keymap.hints(state.focus)
    };
    for (key, label) in hints {
        let gap = if spans.is_empty() { 0 } else { HINT_GAP.len() };
        let need = gap + key.width() + 1 + label.width();
        if used + need > width {
            break;
        }
        if gap > 0 {
            spans.push(Span::raw(HINT_GAP));
        }
        spans.push(Span::styled(key, theme.key_hint));
        spans.push(Span::raw(format!(" {label}")));
        used += need;
    }
    Line::from(spans)
}

/// Cuts `text` to at most `max` columns, at a space when there is one,
/// marking the cut with an ellipsis. A single word longer than the room is
/// cut inside, since showing part of it beats showing nothing.
pub fn cut_at_word(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1;
    let mut fits = 0;
    let mut last_space = None;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if text[..end].width() > room {
            break;
        }
        fits = end;
        if c == ' ' {
            last_space = Some(i);
        }
    }
    let cut = match last_space {
        Some(i) if i > 0 => text[..i].trim_end(),
        _ => &text[..fits],
    };
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_words() {
        assert_eq!(cut_at_word("short", 10), "short");
        assert_eq!(cut_at_word("p2 finished: exit 3", 14), "p2 finished:…");
        assert_eq!(cut_at_word("p2 finished: exit 3", 12), "p2…");
        assert_eq!(cut_at_word("unbreakable", 6), "unbre…");
        assert_eq!(cut_at_word("anything", 0), "");
        assert_eq!(cut_at_word("日本語 テキスト", 8), "日本語…");
    }
}
