//! A terminal pane: the emulator's cells drawn straight into the frame, with
//! the program's colours and attributes, and its cursor when the pane has
//! the keys.
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use alacritty_terminal::term::cell::{Cell as TermCell, Flags};
use alacritty_terminal::vte::ansi::{Color as AnsiColor, NamedColor};

use super::{ellipsize, panel};
use crate::tui::state::procs::Proc;
use crate::tui::state::term::TermPane;
use crate::tui::theme::Theme;

/// How the pane is drawn: selected in the list, and whether keys go to it.
pub struct Look<'a> {
    pub selected: bool,
    /// The start of the title: the process, and what else applies to it.
    pub head: String,
    pub output_focus: bool,
    pub typing: bool,
    /// The key that leaves the pane, for its caption.
    pub leave_key: &'a str,
}

pub fn render(
    p: &Proc,
    term: &TermPane,
    look: &Look,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let (rows, cols) = term.size();
    let mut tail = format!(" · {} · {cols}x{rows} ", p.state_label());
    if term.scrolled() > 0 {
        tail.push_str(&format!("· ↑{} ", term.scrolled()));
    }
    let head = &look.head;
    let room = (area.width as usize).saturating_sub(head.width() + tail.width() + 3);
    // What the program calls itself (vim, a prompt's cwd), as terminals show.
    let name = term.title().unwrap_or_else(|| p.display_command());
    let title = format!("{head}{}{tail}", ellipsize(&name, room));
    let mut block = panel(title, look.typing || look.output_focus, theme);
    if look.selected && !(look.typing || look.output_focus) {
        block = block.border_style(theme.border_focused);
    }
    let caption = if look.typing {
        Some(format!(
            " typing into the terminal · {} leaves ",
            look.leave_key
        ))
    } else if term.scrolled() > 0 {
        Some(" scrolled back: End returns ".to_string())
    } else if look.output_focus && p.is_live() {
        Some(" Enter or i types into it ".to_string())
    } else {
        None
    };
    if let Some(c) = caption {
        block = block.title_bottom(Line::from(c).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    draw_cells(term, frame.buffer_mut(), inner);
    if let Some((row, col)) = term.cursor().filter(|_| look.typing) {
        if row < inner.height && col < inner.width {
            frame.set_cursor_position(Position::new(inner.x + col, inner.y + row));
        }
    }
}

/// Copies the visible cells (scrollback offset included) into the buffer.
/// The emulator is sized to the pane, but a frame drawn before the resize
/// lands may differ: what does not fit is cut.
fn draw_cells(term: &TermPane, buf: &mut Buffer, area: Rect) {
    let (rows, cols) = term.size();
    let mut symbol = String::new();
    for row in 0..rows.min(area.height) {
        for col in 0..cols.min(area.width) {
            let Some(cell) = term.cell(row, col) else {
                continue;
            };
            // The second half of a wide character belongs to the first.
            if cell
                .flags
                .intersects(Flags::WIDE_CHAR_SPACER | Flags::LEADING_WIDE_CHAR_SPACER)
            {
                continue;
            }
            let Some(out) = buf.cell_mut(Position::new(area.x + col, area.y + row)) else {
                continue;
            };
            symbol.clear();
            symbol.push(if cell.flags.contains(Flags::HIDDEN) || cell.c == '\0' {
                ' '
            } else {
                cell.c
            });
            if let Some(marks) = cell.zerowidth() {
                symbol.extend(marks);
            }
            out.set_symbol(&symbol);
            out.set_style(style_of(cell));
        }
    }
}

fn style_of(cell: &TermCell) -> Style {
    let f = cell.flags;
    let mut m = Modifier::empty();
    for (flag, modifier) in [
        (Flags::BOLD, Modifier::BOLD),
        (Flags::DIM, Modifier::DIM),
        (Flags::ITALIC, Modifier::ITALIC),
        (Flags::ALL_UNDERLINES, Modifier::UNDERLINED),
        (Flags::INVERSE, Modifier::REVERSED),
        (Flags::STRIKEOUT, Modifier::CROSSED_OUT),
    ] {
        if f.intersects(flag) {
            m |= modifier;
        }
    }
    Style::default()
        .fg(color(cell.fg))
        .bg(color(cell.bg))
        .add_modifier(m)
}

/// The program's colours as the user's terminal's own: the 16 named ones
/// by index (so the user's palette applies), the rest as given.
fn color(c: AnsiColor) -> Color {
    match c {
        AnsiColor::Indexed(i) => Color::Indexed(i),
        AnsiColor::Spec(rgb) => Color::Rgb(rgb.r, rgb.g, rgb.b),
        AnsiColor::Named(n) => {
            let i = n as usize;
            if i < 16 {
                Color::Indexed(i as u8)
            } else {
                // Foreground, background, cursor and the dim variants.
                match n {
                    NamedColor::DimBlack => Color::Indexed(0),
                    NamedColor::DimRed => Color::Indexed(1),
                    NamedColor::DimGreen => Color::Indexed(2),
                    NamedColor::DimYellow => Color::Indexed(3),
                    NamedColor::DimBlue => Color::Indexed(4),
                    NamedColor::DimMagenta => Color::Indexed(5),
                    NamedColor::DimCyan => Color::Indexed(6),
                    NamedColor::DimWhite => Color::Indexed(7),
                    _ => Color::Reset,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_colours_attributes_and_wide_characters() {
        let mut t = TermPane::new(2, 8, 0);
        t.feed("\x1b[1;32mok\x1b[0m 日本".as_bytes());
        let area = Rect::new(0, 0, 8, 2);
        let mut buf = Buffer::empty(area);
        draw_cells(&t, &mut buf, area);
        let c = &buf[(0, 0)];
        assert_eq!(c.symbol(), "o");
        assert_eq!(c.fg, Color::Indexed(2));
        assert_eq!(buf[(1, 0)].fg, Color::Indexed(2));
        assert!(c.modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(2, 0)].fg, Color::Reset);
        assert_eq!(buf[(3, 0)].symbol(), "日");
        assert_eq!(buf[(5, 0)].symbol(), "本");
    }

    #[test]
    fn a_pane_smaller_than_the_screen_is_cut_not_overrun() {
        let mut t = TermPane::new(3, 10, 0);
        t.feed(b"0123456789\r\nabc");
        let area = Rect::new(1, 1, 4, 1);
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 3));
        draw_cells(&t, &mut buf, area);
        let row: String = (0..6).map(|x| buf[(x, 1)].symbol().to_string()).collect();
        assert_eq!(row, " 0123 ");
        assert_eq!(buf[(1, 2)].symbol(), " ");
    }
}
