//! Output panes, tiled; each shows the bottom of its ring (or wherever the
//! reader scrolled to).
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::term_pane;
use super::{ellipsize, panel, Style as Chrome};
use crate::client::StreamKind;
use crate::tui::msg::{Focus, ProcKey};
use crate::tui::state::pane::Pane;
use crate::tui::state::procs::Proc;
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(state: &State, st: &Chrome, frame: &mut Frame, area: Rect) -> Vec<(ProcKey, Rect)> {
    let theme = st.theme;
    let keys = super::tiles::fit(state.tiled_panes(), state.selected_proc, area);
    if keys.is_empty() {
        let block = panel(" Output ", state.focus == Focus::Output, theme);
        let text = Span::styled("Output of the selected process appears here.", theme.dim);
        frame.render_widget(Paragraph::new(text).block(block), area);
        return Vec::new();
    }
    let rects = tile(area, keys.len());
    let mut hits = Vec::new();
    for (key, rect) in keys.iter().zip(rects) {
        if let Some(p) = state.proc(*key) {
            let selected = state.selected_proc == Some(*key);
            if let Some(term) = &p.term {
                let leave = st.keymap.key_for(crate::tui::msg::Action::LeaveTerminal);
                let look = term_pane::Look {
                    selected,
                    head: title_head(state, p),
                    output_focus: state.focus == Focus::Output && selected,
                    typing: state.focus == Focus::Terminal && selected,
                    leave_key: &leave,
                };
                term_pane::render(p, term, &look, theme, frame, rect);
                hits.push((*key, rect));
                continue;
            }
            render_pane(
                p,
                (selected, title_head(state, p)),
                state.focus == Focus::Output && selected,
                theme,
                frame,
                rect,
            );
            hits.push((*key, rect));
        }
    }
    hits
}

/// One row of up to three panes side by side; more go into a grid.
fn tile(area: Rect, n: usize) -> Vec<Rect> {
    let cols = if n <= 3 {
        n
    } else {
        (n as f64).sqrt().ceil() as usize
    };
    let rows = n.div_ceil(cols);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(area);
    let mut out = Vec::with_capacity(n);
    for (r, row) in row_areas.iter().enumerate() {
        let in_row = (n - r * cols).min(cols);
        let cells =
            Layout::horizontal(vec![Constraint::Ratio(1, in_row as u32); in_row]).split(*row);
        out.extend(cells.iter().copied());
    }
    out
}

/// The head of a pane's title: its process, whether what is typed reaches
/// it too (a broadcast to the marked processes), and in the presenter
/// layout, where the lists are gone, the sandbox it runs in.
pub fn title_head(state: &State, p: &Proc) -> String {
    let mut head = if state.broadcast && p.marked {
        format!(" ⇶ p{} ", p.key)
    } else {
        format!(" p{} ", p.key)
    };
    if state.presenter {
        head.push_str(&format!(
            "{} $ ",
            super::sandbox_label(state, &p.sandbox_id)
        ));
    }
    head
}

fn render_pane(
    p: &Proc,
    (selected, head): (bool, String),
    focused: bool,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let pane = &p.pane;
    let mut tail = format!(" · {} ", p.state_label());
    if !pane.following() {
        tail.push_str(&format!("· ↑{} ", pane.scroll));
    }
    // The command gets what the border leaves (two corners and a bit of
    // line), so the state at the end of the title always shows.
    let room = (area.width as usize).saturating_sub(head.width() + tail.width() + 3);
    let title = format!("{head}{}{tail}", ellipsize(&p.display_command(), room));
    let mut block = panel(title, focused, theme);
    if selected && !focused {
        block = block.border_style(theme.border_focused);
    }
    let mut flags = Vec::new();
    if pane.wrap {
        flags.push("wrap".to_string());
    }
    if let Some(s) = &pane.search {
        flags.push(super::search_flag(s));
    }
    if !pane.following() {
        flags.push("paused: End to follow".into());
    }
    if !flags.is_empty() {
        block = block.title_bottom(Line::from(format!(" {} ", flags.join(" · "))).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = visible_lines(pane, inner.width as usize, inner.height as usize, theme);
    if lines.is_empty() {
        if let Some(e) = p.error_text() {
            lines.push(Line::from(Span::styled(e.to_string(), theme.error)));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The rows to show, cut (or wrapped) to the width, ending `scroll` lines
/// above the bottom.
pub(super) fn visible_lines<'a>(
    pane: &'a Pane,
    width: usize,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    if width == 0 || height == 0 {
        return Vec::new();
    }
    let len = pane.visible_len();
    let end = len.saturating_sub(pane.scroll);
    let query = pane
        .search
        .as_ref()
        .map(|s| s.query.to_lowercase())
        .filter(|q| !q.is_empty());
    let current = pane.search.as_ref().and_then(|s| s.current);
    // The rows of line `i`, cut or wrapped, styled.
    let rows_of = |i: usize| -> Vec<Line<'a>> {
        let l = &pane.lines()[i];
        let base = match l.stream {
            StreamKind::Stdout => theme.stdout,
            StreamKind::Stderr => theme.stderr,
        };
        let is_current = current == Some(pane.first_number() + i as u64);
        let pieces: Vec<String> = if pane.wrap {
            wrap_chars(&l.text, width)
        } else {
            vec![cut_to_width(&l.text, width)]
        };
        // Echoed input starts this many characters into the line.
        let input_at = l.input_from.map(|_| l.split_input().0.chars().count());
        let mut at = 0;
        pieces
            .into_iter()
            .map(|piece| {
                let start = at;
                at += piece.chars().count();
                let look = Look {
                    base,
                    query: query.as_deref(),
                    current: is_current,
                };
                match input_at {
                    Some(at) => with_input(piece, at.saturating_sub(start), &look, theme),
                    None => styled(piece, look.base, look.query, look.current, theme),
                }
            })
            .collect()
    };
    let mut rows: Vec<Line> = Vec::new();
    for i in (0..end).rev() {
        for row in rows_of(i).into_iter().rev() {
            rows.push(row);
            if rows.len() >= height {
                break;
            }
        }
        if rows.len() >= height {
            break;
        }
    }
    rows.reverse();
    // At the top of the pane the view still fills up, with the lines below.
    let mut next = end;
    while rows.len() < height && next < len {
        for row in rows_of(next) {
            if rows.len() < height {
                rows.push(row);
            }
        }
        next += 1;
    }
    rows
}

/// How a row of output is drawn.
struct Look<'q> {
    base: Style,
    query: Option<&'q str>,
    current: bool,
}

/// A row whose echoed input starts `at` characters in (possibly past its
/// end): the output part in the stream's style, the input in the stdin style.
fn with_input<'a>(row: String, at: usize, look: &Look, theme: &Theme) -> Line<'a> {
    let cut = row.char_indices().nth(at).map_or(row.len(), |(b, _)| b);
    let (out, input) = row.split_at(cut);
    let mut spans = Vec::new();
    if !out.is_empty() {
        let part = styled(out.to_string(), look.base, look.query, look.current, theme);
        spans.extend(part.spans);
    }
    if !input.is_empty() {
        let part = styled(
            input.to_string(),
            theme.stdin,
            look.query,
            look.current,
            theme,
        );
        spans.extend(part.spans);
    }
    Line::from(spans)
}

/// Splits a line into rows of at most `width` terminal columns (wide
/// characters count two), never splitting a character.
fn wrap_chars(text: &str, width: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width && used > 0 {
            rows.push(String::new());
            used = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push(c);
        }
        used += w;
    }
    rows
}

/// The part of a line that fits in `width` columns.
fn cut_to_width(text: &str, width: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= width
        })
        .collect()
}

/// Highlights every occurrence of the query; the current match's line is
/// marked as a whole.
fn styled<'a>(
    text: String,
    base: Style,
    query: Option<&str>,
    current: bool,
    theme: &Theme,
) -> Line<'a> {
    let base = if current {
        base.patch(theme.selected)
    } else {
        base
    };
    let Some(q) = query else {
        return Line::from(Span::styled(text, base));
    };
    let lower = text.to_lowercase();
    // Lower-casing can change byte lengths; offsets in `lower` are only
    // offsets in `text` when every character kept its length.
    let same_shape = lower.len() == text.len()
        && text
            .chars()
            .zip(lower.chars())
            .all(|(a, b)| a.len_utf8() == b.len_utf8());
    if !same_shape {
        return Line::from(Span::styled(text, base));
    }
    let mut spans = Vec::new();
    let mut pos = 0;
    while let Some(off) = lower[pos..].find(q) {
        let start = pos + off;
        let end = start + q.len();
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) || q.is_empty() {
            break;
        }
        if start > pos {
            spans.push(Span::styled(text[pos..start].to_string(), base));
        }
        spans.push(Span::styled(
            text[start..end].to_string(),
            base.patch(theme.search_match),
        ));
        pos = end;
    }
    spans.push(Span::styled(text[pos..].to_string(), base));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str, q: &str) -> Vec<String> {
        let line = styled(
            text.to_string(),
            Style::default(),
            Some(q),
            false,
            &Theme::default(),
        );
        line.spans.iter().map(|s| s.content.to_string()).collect()
    }

    #[test]
    fn highlights_every_match_case_insensitively() {
        assert_eq!(
            spans("Error: an error", "error"),
            vec!["Error", ": an ", "error", ""]
        );
        assert_eq!(spans("none here", "x"), vec!["none here"]);
    }

    #[test]
    fn wide_characters_wrap_by_columns() {
        assert_eq!(
            wrap_chars("日本語テキスト", 6),
            vec!["日本語", "テキス", "ト"]
        );
        assert_eq!(wrap_chars("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(wrap_chars("", 4), vec![""]);
        assert_eq!(cut_to_width("日本語", 5), "日本");
        assert_eq!(cut_to_width("abc", 5), "abc");
    }

    #[test]
    fn wrapped_input_keeps_its_style_on_every_row() {
        let theme = Theme::default();
        let mut pane = Pane::new(10, true);
        pane.append(StreamKind::Stderr, b">>> ");
        pane.echo_input("print(6*7)\n");
        let rows = visible_lines(&pane, 6, 10, &theme);
        let looks: Vec<Vec<(String, Style)>> = rows
            .iter()
            .map(|r| {
                r.spans
                    .iter()
                    .map(|s| (s.content.to_string(), s.style))
                    .collect()
            })
            .collect();
        assert_eq!(
            looks,
            vec![
                vec![(">>> ".into(), theme.stderr), ("pr".into(), theme.stdin)],
                vec![("int(6*".into(), theme.stdin)],
                vec![("7)".into(), theme.stdin)],
            ]
        );
    }

    #[test]
    fn the_top_of_a_pane_shows_a_full_view() {
        // Scrolled as far up as a wrapped pane goes (the first line on the
        // bottom row), the view still fills with the lines below it.
        let theme = Theme::default();
        let mut pane = Pane::new(100, true);
        for i in 0..30 {
            pane.append(StreamKind::Stdout, format!("l{i}\n").as_bytes());
        }
        pane.to_top();
        let rows = visible_lines(&pane, 10, 5, &theme);
        let texts: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(texts, ["l0", "l1", "l2", "l3", "l4"]);
    }

    #[test]
    fn odd_unicode_does_not_panic() {
        // 'İ' lower-cases to two characters; 'ẞ' to a shorter one.
        for text in ["İİ abc", "ẞ x ẞ", "ǅ ǆ", "ﬀ"] {
            let out = spans(text, "i");
            assert_eq!(out.concat(), text);
        }
    }
}
