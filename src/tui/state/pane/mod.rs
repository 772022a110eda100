//! One output pane: a bounded ring of lines plus how it is being viewed.
//!
//! The stream task does not touch the ring directly. It pushes raw chunks
//! into a small shared inbox (bounded in bytes, so a flood slows the process
//! instead of growing memory) and posts a payload-free "pane N changed";
//! update then drains the inbox into the ring. Render reads the ring without
//! any lock.
use std::collections::VecDeque;

use crate::client::StreamKind;

mod inbox;
mod sanitize;

pub use inbox::{InboxInner, PaneInbox, INBOX_LIMIT};
use sanitize::{decode_utf8, plain_text, strip_controls};

/// Longest line kept; longer output is split so one endless line cannot
/// grow without bound.
const MAX_LINE_CHARS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: StreamKind,
    pub text: String,
    /// Ended with a newline; an open line is continued by the next chunk of
    /// the same stream (prompts without a newline still show).
    pub complete: bool,
    /// Where the echo of what was sent to stdin starts in `text` (a byte
    /// offset): `Some(0)` for a line that is all input, a later offset when
    /// the input followed a prompt on the same line, `None` for output only.
    pub input_from: Option<usize>,
}

impl Line {
    fn output(stream: StreamKind, text: String, complete: bool) -> Line {
        Line {
            stream,
            text,
            complete,
            input_from: None,
        }
    }

    /// The output part and the echoed input part of the text.
    pub fn split_input(&self) -> (&str, &str) {
        match self.input_from {
            Some(at) if self.text.is_char_boundary(at) => self.text.split_at(at),
            _ => (&self.text, ""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    /// Absolute number of the line of the current match.
    pub current: Option<u64>,
    /// Lines that match, and which of them (from 1, top down) is current;
    /// counted when the search moves.
    pub total: usize,
    pub nth: usize,
}

impl Search {
    pub fn new(query: impl Into<String>) -> Search {
        Search {
            query: query.into(),
            current: None,
            total: 0,
            nth: 0,
        }
    }
}

#[derive(Debug)]
pub struct Pane {
    pub inbox: PaneInbox,
    lines: VecDeque<Line>,
    capacity: usize,
    /// Absolute number of `lines[0]`: lines dropped so far.
    first: u64,
    /// Undecoded tail of a UTF-8 sequence split across chunks, per stream.
    pending: [Vec<u8>; 2],
    /// How many lines the view sits above the bottom; 0 = following.
    pub scroll: usize,
    pub wrap: bool,
    pub search: Option<Search>,
    pub bytes_out: u64,
    /// Rows the pane had in the last frame (0 before the first): scrolling
    /// stops where the first line is at the top, not at the bottom row.
    pub view_rows: usize,
}

fn idx(s: StreamKind) -> usize {
    match s {
        StreamKind::Stdout => 0,
        StreamKind::Stderr => 1,
    }
}

impl Pane {
    pub fn new(capacity: usize, wrap: bool) -> Pane {
        Pane {
            inbox: PaneInbox::default(),
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            first: 0,
            pending: [Vec::new(), Vec::new()],
            scroll: 0,
            wrap,
            search: None,
            bytes_out: 0,
            view_rows: 0,
        }
    }

    pub fn following(&self) -> bool {
        self.scroll == 0
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn first_number(&self) -> u64 {
        self.first
    }

    pub fn lines(&self) -> &VecDeque<Line> {
        &self.lines
    }

    /// Moves everything from the inbox into the ring. Returns whether
    /// anything arrived.
    pub fn drain_inbox(&mut self) -> bool {
        self.drain_inbox_into(|_| {})
    }

    /// Like `drain_inbox`, also handing each chunk to `also` (a terminal
    /// pane's emulator) in the order it arrived.
    pub fn drain_inbox_into(&mut self, mut also: impl FnMut(&[u8])) -> bool {
        let chunks = self.inbox.take();
        let any = !chunks.is_empty();
        for (stream, data) in chunks {
            also(&data);
            self.append(stream, &data);
        }
        any
    }

    /// Appends raw output, splitting lines and stripping terminal control
    /// sequences (they would corrupt the screen).
    pub fn append(&mut self, stream: StreamKind, data: &[u8]) {
        self.bytes_out += data.len() as u64;
        let before = self.total();
        match plain_text(&self.pending[idx(stream)], data) {
            Some(text) => self.append_plain(stream, text),
            None => self.append_general(stream, data),
        }
        if self.scroll > 0 {
            // Keep the text the reader is looking at in place.
            self.scroll = self.scroll.saturating_add((self.total() - before) as usize);
            self.clamp_scroll();
        }
    }

    /// Text with nothing to strip or carry over: lines go straight from the
    /// chunk into the ring, without the copies the general path makes.
    fn append_plain(&mut self, stream: StreamKind, text: &str) {
        let mut pieces = text.split('\n');
        if let Some(first) = pieces.next() {
            self.put(stream, first);
        }
        for piece in pieces {
            self.close_line(stream);
            self.put(stream, piece);
        }
    }

    fn append_general(&mut self, stream: StreamKind, data: &[u8]) {
        let mut buf = std::mem::take(&mut self.pending[idx(stream)]);
        buf.extend_from_slice(data);
        let (mut text, rest) = decode_utf8(&buf);
        let mut tail = rest.to_vec();
        if rest.is_empty() && text.ends_with('\r') {
            // Maybe the first half of a CRLF: decide when the next byte comes.
            text.pop();
            tail.push(b'\r');
        }
        // Tabs line up with what the open line already holds.
        let col = self.open_line(stream).map_or(0, |l| l.text.chars().count());
        let (clean, unfinished) = strip_controls(&text, col);
        // An escape sequence cut by the chunk's end is finished by the next.
        let mut carry = unfinished.as_bytes().to_vec();
        carry.extend_from_slice(&tail);
        self.pending[idx(stream)] = carry;
        let pieces: Vec<&str> = clean.split('\n').collect();
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            if i > 0 {
                self.close_line(stream);
            }
            let piece = if i < last {
                piece.trim_end_matches('\r')
            } else {
                piece
            };
            self.extend_line(stream, piece);
        }
    }

    /// Shows what was sent to stdin the way a terminal would have echoed
    /// it: after the prompt on an open line, else on lines of its own. The
    /// process's own output is not touched; this only marks the pane.
    pub fn echo_input(&mut self, data: &str) {
        let before = self.total();
        let (clean, _) = strip_controls(&data.replace("\r\n", "\n"), 0);
        let body = clean.strip_suffix('\n').unwrap_or(&clean);
        for (i, piece) in body.split('\n').enumerate() {
            let piece = piece.trim_end_matches('\r');
            let mut rest = piece;
            let mut first = true;
            while first || !rest.is_empty() {
                let open = self
                    .lines
                    .back_mut()
                    .filter(|l| i == 0 && first && !l.complete && l.input_from.is_none());
                let room = match &open {
                    Some(l) => MAX_LINE_CHARS.saturating_sub(l.text.chars().count()),
                    None => MAX_LINE_CHARS,
                };
                let cut = rest
                    .char_indices()
                    .nth(room)
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                let (now, later) = rest.split_at(cut);
                match open {
                    Some(l) => {
                        l.input_from = Some(l.text.len());
                        l.text.push_str(now);
                        l.complete = true;
                    }
                    None => self.push_line(Line {
                        stream: StreamKind::Stdout,
                        text: now.to_string(),
                        complete: true,
                        input_from: Some(0),
                    }),
                }
                rest = later;
                first = false;
            }
        }
        if self.scroll > 0 {
            self.scroll = self.scroll.saturating_add((self.total() - before) as usize);
            self.clamp_scroll();
        }
    }

    fn total(&self) -> u64 {
        self.first + self.lines.len() as u64
    }

    fn open_line(&mut self, stream: StreamKind) -> Option<&mut Line> {
        self.lines
            .back_mut()
            .filter(|l| !l.complete && l.stream == stream)
    }

    fn extend_line(&mut self, stream: StreamKind, piece: &str) {
        let mut piece = piece;
        // A carriage return redraws the line (progress bars): keep what
        // follows the last one.
        if let Some(pos) = piece.rfind('\r') {
            piece = &piece[pos + 1..];
            if let Some(l) = self.open_line(stream) {
                l.text.clear();
            }
        }
        self.put(stream, piece);
    }

    /// Adds text without line breaks to the open line of `stream` (or a new
    /// one), splitting at `MAX_LINE_CHARS`.
    fn put(&mut self, stream: StreamKind, piece: &str) {
        let mut rest = piece;
        while !rest.is_empty() {
            let used = match self.open_line(stream) {
                Some(line) => line.text.chars().count(),
                None => 0,
            };
            let room = MAX_LINE_CHARS.saturating_sub(used);
            // A character takes at least a byte: text no longer than the
            // room in bytes fits without counting its characters.
            let cut = if rest.len() <= room {
                rest.len()
            } else {
                rest.char_indices()
                    .nth(room)
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len())
            };
            let (now, later) = rest.split_at(cut);
            let full = !later.is_empty();
            match self.open_line(stream) {
                Some(line) => {
                    line.text.push_str(now);
                    line.complete = full;
                }
                None => self.push_text(stream, now, full),
            }
            rest = later;
        }
    }

    fn close_line(&mut self, stream: StreamKind) {
        match self.open_line(stream) {
            Some(l) => l.complete = true,
            None => self.push_text(stream, "", true),
        }
    }

    fn push_line(&mut self, line: Line) {
        if self.lines.len() >= self.capacity {
            self.lines.pop_front();
            self.first += 1;
        }
        self.grow();
        self.lines.push_back(line);
    }

    /// Grows the ring by doubling, as usual, but never past its bound: a
    /// full pane holds exactly `capacity` slots, not the next power of two.
    fn grow(&mut self) {
        let len = self.lines.len();
        if len == self.lines.capacity() && len < self.capacity {
            self.lines
                .reserve_exact(len.max(4).min(self.capacity - len));
        }
    }

    /// A new output line; once the ring is full, the dropped line's buffer
    /// is reused when it is about the right size, which spares an
    /// allocation and a free per line under a flood.
    fn push_text(&mut self, stream: StreamKind, text: &str, complete: bool) {
        let mut buf = String::new();
        if self.lines.len() >= self.capacity {
            if let Some(old) = self.lines.pop_front() {
                self.first += 1;
                if old.text.capacity() <= 2 * text.len() + 64 {
                    buf = old.text;
                    buf.clear();
                }
            }
        }
        buf.push_str(text);
        self.grow();
        self.lines.push_back(Line::output(stream, buf, complete));
    }

    /// Drops a trailing empty open line: it only marks "a newline was the
    /// last thing printed" and should not take a row.
    pub fn visible_len(&self) -> usize {
        match self.lines.back() {
            Some(l) if !l.complete && l.text.is_empty() => self.lines.len() - 1,
            _ => self.lines.len(),
        }
    }

    /// Furthest the view can sit above the bottom. Unwrapped, that puts the
    /// first line on the top row; wrapped lines take rows the ring does not
    /// know about, so there it is the first line at the bottom and render
    /// fills the rest of the view downwards.
    fn max_scroll(&self) -> usize {
        let len = self.visible_len();
        if self.wrap || self.view_rows == 0 {
            len.saturating_sub(1)
        } else {
            len.saturating_sub(self.view_rows)
        }
    }

    fn clamp_scroll(&mut self) {
        self.scroll = self.scroll.min(self.max_scroll());
    }

    /// The pane was drawn this many rows high.
    pub fn set_view_rows(&mut self, rows: usize) {
        self.view_rows = rows;
        self.clamp_scroll();
    }

    pub fn scroll_up(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_add(n);
        self.clamp_scroll();
    }

    /// Scrolling back to the bottom resumes following.
    pub fn scroll_down(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
    }

    /// Up (negative) or down by `delta` rows.
    pub fn scroll_by(&mut self, delta: isize) {
        if delta < 0 {
            self.scroll_up(delta.unsigned_abs());
        } else {
            self.scroll_down(delta.unsigned_abs());
        }
    }

    pub fn to_top(&mut self) {
        self.scroll = usize::MAX;
        self.clamp_scroll();
    }

    pub fn to_bottom(&mut self) {
        self.scroll = 0;
    }

    /// Jumps to the next (or previous) line containing the query, starting
    /// after the current match. Returns false when there is none.
    pub fn find(&mut self, forward: bool) -> bool {
        let Some(search) = &self.search else {
            return false;
        };
        if search.query.is_empty() {
            return false;
        }
        let needle = search.query.to_lowercase();
        let len = self.visible_len();
        if len == 0 {
            return false;
        }
        let bottom_line = len - 1 - self.scroll.min(len - 1);
        let start = match search.current {
            Some(abs) if abs >= self.first => (abs - self.first) as usize,
            _ => bottom_line,
        };
        let matches = |i: usize| self.lines[i].text.to_lowercase().contains(&needle);
        let found = if forward {
            (start + 1..len)
                .chain(0..=start.min(len - 1))
                .find(|&i| matches(i))
        } else {
            (0..start.min(len))
                .rev()
                .chain((start.min(len - 1)..len).rev())
                .find(|&i| matches(i))
        };
        match found {
            Some(i) => {
                self.select_match(i, &needle);
                true
            }
            None => {
                if let Some(s) = &mut self.search {
                    (s.current, s.total, s.nth) = (None, 0, 0);
                }
                false
            }
        }
    }

    /// Makes line `i` (an index into the ring) the current match of
    /// `needle` (lower-cased), counting the matches.
    fn select_match(&mut self, i: usize, needle: &str) {
        let len = self.visible_len();
        let abs = self.first + i as u64;
        let (total, nth) = (0..len)
            .filter(|&j| self.lines[j].text.to_lowercase().contains(needle))
            .fold((0, 0), |(t, n), j| (t + 1, n + usize::from(j <= i)));
        if let Some(s) = &mut self.search {
            s.current = Some(abs);
            s.total = total;
            s.nth = nth;
        }
        // Put the match on the bottom row of the view (or as low as it goes
        // near the top); follow stops unless the match is the last line.
        self.scroll = len - 1 - i;
        self.clamp_scroll();
    }

    /// Searches as the query is typed: the match nearest the bottom of the
    /// view the search began from (`from`, a scroll offset), that line
    /// included.
    pub fn preview(&mut self, query: &str, from: usize) -> bool {
        self.search = (!query.is_empty()).then(|| Search::new(query));
        self.scroll = from;
        self.clamp_scroll();
        let len = self.visible_len();
        if self.search.is_none() || len == 0 {
            return false;
        }
        let needle = query.to_lowercase();
        let bottom = len - 1 - self.scroll.min(len - 1);
        if self.lines[bottom].text.to_lowercase().contains(&needle) {
            self.select_match(bottom, &needle);
            return true;
        }
        self.find(false)
    }

    /// The whole transcript as text, stderr lines and lines that are only
    /// echoed input prefixed so a saved file keeps the distinction (input
    /// typed after a prompt stays on the prompt's line, as on a terminal).
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i + 1 == self.lines.len() && !l.complete && l.text.is_empty() {
                break;
            }
            if l.input_from == Some(0) {
                out.push_str("[stdin] ");
            } else if l.stream == StreamKind::Stderr {
                out.push_str("[stderr] ");
            }
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests;
