//! A terminal pane: a process on a pseudo-terminal, shown through a terminal
//! emulator's screen plus its bounded scrollback.
//!
//! Output reaches it through the same inbox as a line pane; update feeds the
//! bytes to the emulator, render reads its cells. The emulator's size is the
//! pane's inner size, and it changes only together with the size sent to
//! the process, so what the program draws always fits the pane. Answers the
//! program asks the terminal for (cursor position, device attributes) are
//! collected here and sent back as input.
mod keys;

use std::fmt;
use std::sync::{Arc, Mutex};

use alacritty_terminal::event::{Event, EventListener};
use alacritty_terminal::grid::{Dimensions, Scroll};
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Cell;
use alacritty_terminal::term::{Config, Term, TermMode};
use alacritty_terminal::vte::ansi::Processor;

pub use keys::{encode_key, encode_paste};

/// Rows kept above the screen. An emulator row costs far more than a line of
/// text (a cell per column), so this is smaller than a line pane's ring.
pub const MAX_SCROLLBACK: usize = 3000;

/// Answers and titles the emulator reports while it parses.
#[derive(Clone, Default)]
struct Reports {
    inner: Arc<Mutex<ReportsInner>>,
}

#[derive(Default)]
struct ReportsInner {
    replies: Vec<u8>,
    title: Option<String>,
}

impl EventListener for Reports {
    fn send_event(&self, event: Event) {
        let Ok(mut r) = self.inner.lock() else { return };
        match event {
            Event::PtyWrite(text) => r.replies.extend_from_slice(text.as_bytes()),
            Event::Title(t) => r.title = Some(t),
            Event::ResetTitle => r.title = None,
            _ => {}
        }
    }
}

/// The emulator's idea of its size.
struct Size {
    rows: u16,
    cols: u16,
}

impl Dimensions for Size {
    fn total_lines(&self) -> usize {
        usize::from(self.rows)
    }
    fn screen_lines(&self) -> usize {
        usize::from(self.rows)
    }
    fn columns(&self) -> usize {
        usize::from(self.cols)
    }
}

/// The modes a program set that change what keys send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modes {
    pub app_cursor: bool,
    pub bracketed_paste: bool,
}

pub struct TermPane {
    term: Term<Reports>,
    parser: Processor,
    reports: Reports,
    /// Rows and columns the process was last told about.
    size: (u16, u16),
}

impl fmt::Debug for TermPane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TermPane")
            .field("size", &self.size)
            .field("scrolled", &self.scrolled())
            .finish_non_exhaustive()
    }
}

impl TermPane {
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> TermPane {
        let (rows, cols) = (rows.max(1), cols.max(1));
        let config = Config {
            scrolling_history: scrollback.min(MAX_SCROLLBACK),
            ..Config::default()
        };
        let reports = Reports::default();
        TermPane {
            term: Term::new(config, &Size { rows, cols }, reports.clone()),
            parser: Processor::new(),
            reports,
            size: (rows, cols),
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.parser.advance(&mut self.term, data);
    }

    /// What the program asked the terminal to answer since the last call.
    pub fn take_replies(&mut self) -> Vec<u8> {
        match self.reports.inner.lock() {
            Ok(mut r) => std::mem::take(&mut r.replies),
            Err(_) => Vec::new(),
        }
    }

    /// The window title the program set (OSC 0 or 2), if any.
    pub fn title(&self) -> Option<String> {
        self.reports.inner.lock().ok().and_then(|r| r.title.clone())
    }

    /// (rows, cols)
    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// Takes a new size; returns whether it differs from the old one (and
    /// so has to be sent to the process).
    pub fn resize(&mut self, rows: u16, cols: u16) -> bool {
        let (rows, cols) = (rows.max(1), cols.max(1));
        if (rows, cols) == self.size {
            return false;
        }
        self.term.resize(Size { rows, cols });
        self.size = (rows, cols);
        true
    }

    pub fn modes(&self) -> Modes {
        let m = self.term.mode();
        Modes {
            app_cursor: m.contains(TermMode::APP_CURSOR),
            bracketed_paste: m.contains(TermMode::BRACKETED_PASTE),
        }
    }

    pub fn alternate_screen(&self) -> bool {
        self.term.mode().contains(TermMode::ALT_SCREEN)
    }

    /// The cell at a row and column of the view (scrollback included).
    pub fn cell(&self, row: u16, col: u16) -> Option<&Cell> {
        let (rows, cols) = self.size;
        if row >= rows || col >= cols {
            return None;
        }
        let line = Line(i32::from(row) - self.scrolled() as i32);
        Some(&self.term.grid()[line][Column(usize::from(col))])
    }

    /// Where the cursor is on the view, when it shows there.
    pub fn cursor(&self) -> Option<(u16, u16)> {
        if !self.term.mode().contains(TermMode::SHOW_CURSOR) || self.scrolled() > 0 {
            return None;
        }
        let p = self.term.grid().cursor.point;
        let row = u16::try_from(p.line.0).ok()?;
        let col = u16::try_from(p.column.0).ok()?;
        Some((row, col))
    }

    /// Rows the view sits above the live screen; 0 = live.
    pub fn scrolled(&self) -> usize {
        self.term.grid().display_offset()
    }

    pub fn scroll_up(&mut self, n: usize) {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        self.term.scroll_display(Scroll::Delta(n));
    }

    pub fn scroll_down(&mut self, n: usize) {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        self.term.scroll_display(Scroll::Delta(-n));
    }

    /// Up (negative) or down by `delta` rows; the far ends of `isize`
    /// (what Home and End send) jump to the top and back to the live screen.
    pub fn scroll_by(&mut self, delta: isize) {
        match delta {
            d if d <= isize::MIN / 4 => self.to_top(),
            d if d >= isize::MAX / 4 => self.to_bottom(),
            d if d < 0 => self.scroll_up(d.unsigned_abs()),
            d => self.scroll_down(d.unsigned_abs()),
        }
    }

    pub fn to_top(&mut self) {
        self.term.scroll_display(Scroll::Top);
    }

    pub fn to_bottom(&mut self) {
        self.term.scroll_display(Scroll::Bottom);
    }

    /// A row of the view as text, trailing blanks dropped.
    pub fn row_text(&self, row: u16) -> String {
        let (_, cols) = self.size;
        let text: String = (0..cols)
            .filter_map(|c| self.cell(row, c))
            .filter(|c| {
                !c.flags.intersects(
                    alacritty_terminal::term::cell::Flags::WIDE_CHAR_SPACER
                        | alacritty_terminal::term::cell::Flags::LEADING_WIDE_CHAR_SPACER,
                )
            })
            .map(|c| c.c)
            .collect();
        text.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alacritty_terminal::vte::ansi::{Color, NamedColor};

    #[test]
    fn draws_like_a_terminal() {
        let mut t = TermPane::new(4, 20, 100);
        t.feed(b"hello\r\n\x1b[31mred\x1b[0m world");
        assert_eq!(t.row_text(0), "hello");
        assert_eq!(t.row_text(1), "red world");
        let cell = t.cell(1, 0).expect("a cell");
        assert_eq!(cell.fg, Color::Named(NamedColor::Red));
        assert_eq!(t.cursor(), Some((1, 9)));
        // Cursor addressing and clearing, as full-screen programs do.
        t.feed(b"\x1b[2J\x1b[3;5HX");
        assert_eq!(t.row_text(0), "");
        assert_eq!(t.row_text(2), "    X");
        // A hidden cursor is not drawn.
        t.feed(b"\x1b[?25l");
        assert_eq!(t.cursor(), None);
    }

    #[test]
    fn the_alternate_screen_comes_and_goes() {
        let mut t = TermPane::new(3, 10, 100);
        t.feed(b"shell$ ");
        t.feed(b"\x1b[?1049h\x1b[Hfull");
        assert!(t.alternate_screen());
        assert_eq!(t.row_text(0), "full");
        t.feed(b"\x1b[?1049l");
        assert!(!t.alternate_screen());
        assert_eq!(t.row_text(0), "shell$");
    }

    #[test]
    fn scrollback_is_bounded_and_scrollable_past_a_screenful() {
        let mut t = TermPane::new(2, 10, 5);
        for i in 0..20 {
            t.feed(format!("{i}\r\n").as_bytes());
        }
        t.to_top();
        assert_eq!(t.scrolled(), 5);
        assert_eq!(t.row_text(0), "14");
        assert_eq!(t.cursor(), None, "no cursor in the scrollback");
        t.scroll_down(2);
        assert_eq!(t.scrolled(), 3);
        t.to_bottom();
        assert_eq!(t.row_text(0), "19");
    }

    #[test]
    fn answers_what_programs_ask_the_terminal() {
        let mut t = TermPane::new(5, 10, 0);
        t.feed(b"ab\x1b[6n");
        assert_eq!(t.take_replies(), b"\x1b[1;3R");
        assert!(t.take_replies().is_empty());
        t.feed(b"\x1b]2;my title\x07");
        assert_eq!(t.title().as_deref(), Some("my title"));
    }

    #[test]
    fn resize_reports_only_changes() {
        let mut t = TermPane::new(24, 80, 10);
        assert!(!t.resize(24, 80));
        assert!(t.resize(10, 40));
        assert_eq!(t.size(), (10, 40));
        // Never zero: a pane squeezed to nothing still has one cell.
        assert!(t.resize(0, 0));
        assert_eq!(t.size(), (1, 1));
    }
}
