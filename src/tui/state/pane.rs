//! One output pane: a bounded ring of lines plus how it is being viewed.
//!
//! The stream task does not touch the ring directly. It pushes raw chunks
//! into a small shared inbox (bounded in bytes, so a flood slows the process
//! instead of growing memory) and posts a payload-free "pane N changed";
//! update then drains the inbox into the ring. Render reads the ring without
//! any lock.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::client::StreamKind;

/// Longest line kept; longer output is split so one endless line cannot
/// grow without bound.
const MAX_LINE_CHARS: usize = 4096;
/// Longest escape sequence carried over to the next chunk when a chunk
/// ends inside it; longer unfinished ones are dropped, so garbage cannot
/// hold text back forever.
const MAX_ESCAPE: usize = 256;
/// Bytes the inbox may hold before the stream task has to wait.
pub const INBOX_LIMIT: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct InboxInner {
    pub chunks: VecDeque<(StreamKind, Bytes)>,
    pub bytes: usize,
    /// A "changed" message is on its way; no need to send another.
    pub notified: bool,
}

/// The shared inbox between a stream task and the pane.
#[derive(Debug, Clone, Default)]
pub struct PaneInbox {
    pub inner: Arc<Mutex<InboxInner>>,
    /// Signalled when update drained the inbox, to wake a waiting producer.
    pub drained: Arc<Notify>,
}

impl PaneInbox {
    /// Adds a chunk; returns whether the caller should post "changed".
    pub fn push(&self, stream: StreamKind, data: Bytes) -> bool {
        let Ok(mut g) = self.inner.lock() else {
            return false;
        };
        g.bytes += data.len();
        g.chunks.push_back((stream, data));
        !std::mem::replace(&mut g.notified, true)
    }

    pub fn is_full(&self) -> bool {
        self.inner
            .lock()
            .map(|g| g.bytes >= INBOX_LIMIT)
            .unwrap_or(false)
    }

    fn take(&self) -> Vec<(StreamKind, Bytes)> {
        let taken = match self.inner.lock() {
            Ok(mut g) => {
                g.notified = false;
                g.bytes = 0;
                g.chunks.drain(..).collect()
            }
            Err(_) => Vec::new(),
        };
        self.drained.notify_waiters();
        taken
    }
}

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
        let chunks = self.inbox.take();
        let any = !chunks.is_empty();
        for (stream, data) in chunks {
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

    fn clamp_scroll(&mut self) {
        self.scroll = self.scroll.min(self.visible_len().saturating_sub(1));
    }

    pub fn scroll_up(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_add(n);
        self.clamp_scroll();
    }

    /// Scrolling back to the bottom resumes following.
    pub fn scroll_down(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
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
                let abs = self.first + i as u64;
                if let Some(s) = &mut self.search {
                    s.current = Some(abs);
                }
                // Put the match on the bottom row of the view; follow stops
                // unless the match is the last line.
                self.scroll = len - 1 - i;
                true
            }
            None => false,
        }
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

/// Decodes what is valid, returning an incomplete trailing sequence to be
/// completed by the next chunk. Invalid bytes become U+FFFD.
fn decode_utf8(buf: &[u8]) -> (String, &[u8]) {
    let mut out = String::new();
    let mut rest = buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return (out, &[]);
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    None => return (out, bad),
                    Some(n) => {
                        out.push('\u{FFFD}');
                        rest = &bad[n..];
                    }
                }
            }
        }
    }
}

/// `data` as text when it needs none of the general path's work: nothing
/// carried over from the previous chunk, valid UTF-8, and no byte that
/// stripping or carriage-return handling would act on.
fn plain_text<'a>(pending: &[u8], data: &'a [u8]) -> Option<&'a str> {
    if !pending.is_empty() || !data.chunks(256).all(is_plain) {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// No control characters besides newline. 0xC2 starts the C1 controls
/// (U+0080..U+009F) and a few printable characters alike; those go the
/// general way too. Checked without early exit so the loop vectorises.
fn is_plain(block: &[u8]) -> bool {
    !block.iter().fold(false, |bad, &b| {
        bad | ((b < 0x20) & (b != b'\n')) | (b == 0x7f) | (b == 0xc2)
    })
}

/// Bytes that may start something `strip_controls` must look at: C0
/// controls, DEL, and the lead byte of the C1 controls.
fn maybe_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == 0xc2
}

/// Removes escape sequences and control characters except newline and
/// carriage return; tabs become spaces to the next multiple of 8, counting
/// from column `col`. Returns the cleaned text and the escape sequence the
/// text ends in the middle of (empty if none, or if it is already too long
/// to be anything but garbage).
fn strip_controls(s: &str, mut col: usize) -> (String, &str) {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        // Ordinary text is copied in runs, not character by character.
        let run = rest.bytes().position(maybe_control).unwrap_or(rest.len());
        let (plain, tail) = rest.split_at(run);
        out.push_str(plain);
        col += plain.chars().count();
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        match c {
            '\u{1b}' => match skip_escape(chars.as_str()) {
                Some(after) => {
                    rest = after;
                    continue;
                }
                None if tail.len() <= MAX_ESCAPE => return (out, tail),
                None => break,
            },
            '\n' | '\r' => {
                col = 0;
                out.push(c);
            }
            '\t' => {
                let n = 8 - col % 8;
                out.extend(std::iter::repeat(' ').take(n));
                col += n;
            }
            c if c.is_control() => {}
            c => {
                col += 1;
                out.push(c);
            }
        }
        rest = chars.as_str();
    }
    (out, "")
}

/// What follows an escape sequence whose ESC has been read: CSI runs to its
/// final byte, OSC to BEL or ESC \, anything else is one character. `None`
/// when the text ends before the sequence does.
fn skip_escape(s: &str) -> Option<&str> {
    let mut chars = s.chars();
    match chars.next()? {
        '[' => {
            // CSI: parameters then one final byte in @..~
            loop {
                if ('@'..='~').contains(&chars.next()?) {
                    break;
                }
            }
        }
        ']' => {
            // OSC: until BEL or ESC \
            loop {
                match chars.next()? {
                    '\u{7}' => break,
                    '\u{1b}' => {
                        chars.next()?;
                        break;
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Some(chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use StreamKind::{Stderr, Stdout};

    fn texts(p: &Pane) -> Vec<String> {
        p.lines()
            .iter()
            .take(p.visible_len())
            .map(|l| l.text.clone())
            .collect()
    }

    #[test]
    fn splits_lines_across_chunks() {
        let mut p = Pane::new(100, false);
        p.append(Stdout, b"hel");
        p.append(Stdout, b"lo\nwor");
        p.append(Stdout, b"ld\n");
        assert_eq!(texts(&p), vec!["hello", "world"]);
        assert_eq!(p.bytes_out, 12);
    }

    #[test]
    fn stderr_gets_its_own_lines() {
        let mut p = Pane::new(100, false);
        p.append(Stdout, b">>> ");
        p.append(Stderr, b"oops\n");
        p.append(Stdout, b"ok\n");
        let lines: Vec<_> = p
            .lines()
            .iter()
            .map(|l| (l.stream, l.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![(Stdout, ">>> "), (Stderr, "oops"), (Stdout, "ok")]
        );
    }

    #[test]
    fn ring_is_bounded() {
        let mut p = Pane::new(3, false);
        for i in 0..10 {
            p.append(Stdout, format!("{i}\n").as_bytes());
        }
        assert_eq!(texts(&p), vec!["7", "8", "9"]);
        assert_eq!(p.first_number(), 7);
        assert!(p.len() <= 3);
    }

    #[test]
    fn a_full_ring_holds_no_spare_slots() {
        let mut p = Pane::new(1000, false);
        for i in 0..3000 {
            p.append(Stdout, format!("{i}\n").as_bytes());
        }
        assert_eq!(p.len(), 1000);
        // Not the next power of two.
        assert!(p.lines().capacity() < 1024, "{}", p.lines().capacity());
    }

    #[test]
    fn long_lines_are_split() {
        let mut p = Pane::new(100, false);
        p.append(Stdout, "x".repeat(MAX_LINE_CHARS * 2 + 5).as_bytes());
        assert_eq!(p.len(), 3);
    }

    fn lines_of(chunks: &[&[u8]], capacity: usize) -> Vec<(StreamKind, String, bool)> {
        let mut p = Pane::new(capacity, false);
        for c in chunks {
            p.append(Stdout, c);
        }
        p.lines()
            .iter()
            .map(|l| (l.stream, l.text.clone(), l.complete))
            .collect()
    }

    #[test]
    fn any_chunking_gives_the_same_lines() {
        // Plain chunks take the fast path, the rest the general one; where
        // the cut falls must not matter.
        let text = "plain line\n\x1b[1mbold\x1b[0m\ttab\r\nhé日本\nprogress 10%\rdone\n\
                    \u{85}c1 \u{a9} sign\nlast open"
            .as_bytes();
        let whole = lines_of(&[text], 100);
        for cut in 0..=text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(lines_of(&[a, b], 100), whole, "cut at {cut}");
        }
        let shown: Vec<&str> = whole.iter().map(|(_, t, _)| t.as_str()).collect();
        assert_eq!(
            shown,
            vec![
                "plain line",
                "bold    tab",
                "hé日本",
                "done",
                "c1 \u{a9} sign",
                "last open"
            ]
        );
    }

    #[test]
    fn unfinished_escapes_wait_for_the_next_chunk_but_not_forever() {
        let mut p = Pane::new(10, false);
        p.append(Stdout, b"red\x1b[3");
        p.append(Stdout, b"1mtext\x1b");
        p.append(Stdout, b"[0m\n");
        assert_eq!(texts(&p), vec!["redtext"]);
        let mut garbage = b"a\x1b]".to_vec();
        garbage.extend(std::iter::repeat(b'x').take(MAX_ESCAPE * 2));
        p.append(Stdout, &garbage);
        p.append(Stdout, b"\nb\n");
        assert_eq!(texts(&p), vec!["redtext", "a", "b"]);
    }

    #[test]
    fn full_ring_reuses_lines_without_mixing_their_text() {
        let mut p = Pane::new(3, false);
        p.append(Stdout, format!("{}\n", "long ".repeat(100)).as_bytes());
        for line in ["a\n", "bb\n", "ccc\n", "dddd\n", "e"] {
            p.append(Stdout, line.as_bytes());
        }
        assert_eq!(texts(&p), vec!["ccc", "dddd", "e"]);
        assert_eq!(p.first_number(), 3);
        // A line that filled up exactly continues on a new line.
        let mut p = Pane::new(10, false);
        p.append(Stdout, "x".repeat(MAX_LINE_CHARS).as_bytes());
        p.append(Stdout, b"yz\n");
        assert_eq!(
            texts(&p),
            vec!["x".repeat(MAX_LINE_CHARS), "yz".to_string()]
        );
    }

    #[test]
    fn utf8_split_across_chunks() {
        let mut p = Pane::new(10, false);
        let s = "héllo\n".as_bytes();
        p.append(Stdout, &s[..2]);
        p.append(Stdout, &s[2..]);
        assert_eq!(texts(&p), vec!["héllo"]);
        p.append(Stdout, b"\xff\n");
        assert_eq!(texts(&p)[1], "\u{FFFD}");
    }

    #[test]
    fn escapes_and_carriage_returns() {
        let mut p = Pane::new(10, false);
        p.append(Stdout, b"\x1b[31mred\x1b[0m\tx\n");
        p.append(Stdout, b"10%\r50%\r100%\n");
        p.append(Stdout, b"crlf\r");
        p.append(Stdout, b"\nnext\r\n");
        assert_eq!(texts(&p), vec!["red     x", "100%", "crlf", "next"]);
    }

    #[test]
    fn follow_stops_when_scrolled_and_resumes_at_bottom() {
        let mut p = Pane::new(100, false);
        for i in 0..20 {
            p.append(Stdout, format!("{i}\n").as_bytes());
        }
        p.scroll_up(5);
        assert!(!p.following());
        p.append(Stdout, b"new\n");
        // The view stays on the same text.
        assert_eq!(p.scroll, 6);
        p.scroll_down(100);
        assert!(p.following());
        p.append(Stdout, b"more\n");
        assert_eq!(p.scroll, 0);
    }

    #[test]
    fn search_moves_between_matches() {
        let mut p = Pane::new(100, false);
        for l in ["alpha", "beta", "alpha two", "gamma"] {
            p.append(Stdout, format!("{l}\n").as_bytes());
        }
        p.search = Some(Search {
            query: "ALPHA".into(),
            current: None,
        });
        assert!(p.find(false));
        assert_eq!(p.search.as_ref().unwrap().current, Some(2));
        assert!(p.find(false));
        assert_eq!(p.search.as_ref().unwrap().current, Some(0));
        assert!(p.find(true));
        assert_eq!(p.search.as_ref().unwrap().current, Some(2));
        p.search = Some(Search {
            query: "zzz".into(),
            current: None,
        });
        assert!(!p.find(true));
    }

    #[test]
    fn inbox_coalesces_notifications() {
        let mut p = Pane::new(100, false);
        assert!(p.inbox.push(Stdout, Bytes::from_static(b"a\n")));
        assert!(!p.inbox.push(Stderr, Bytes::from_static(b"b\n")));
        assert!(p.drain_inbox());
        assert_eq!(texts(&p), vec!["a", "b"]);
        assert!(p.inbox.push(Stdout, Bytes::from_static(b"c\n")));
    }

    fn parts(p: &Pane) -> Vec<(&str, &str)> {
        p.lines().iter().map(Line::split_input).collect()
    }

    #[test]
    fn echoed_input_follows_the_prompt_like_a_terminal() {
        let mut p = Pane::new(100, false);
        p.append(Stderr, b">>> ");
        p.echo_input("print(6*7)\n");
        p.append(Stdout, b"42\n");
        p.append(Stderr, b">>> ");
        p.echo_input("^D\n");
        assert_eq!(
            parts(&p),
            vec![(">>> ", "print(6*7)"), ("42", ""), (">>> ", "^D")]
        );
        assert_eq!(p.lines()[0].stream, Stderr);
        // Output after the echo starts a line of its own.
        p.append(Stderr, b"bye\n");
        assert_eq!(parts(&p)[3], ("bye", ""));
        assert_eq!(
            p.transcript(),
            "[stderr] >>> print(6*7)\n42\n[stderr] >>> ^D\n[stderr] bye\n"
        );
    }

    #[test]
    fn input_without_a_prompt_gets_its_own_lines() {
        let mut p = Pane::new(100, false);
        p.append(Stdout, b"ready\n");
        p.echo_input("one\r\n\ntwo\n");
        p.append(Stdout, b"ONE\n");
        assert_eq!(
            parts(&p),
            vec![
                ("ready", ""),
                ("", "one"),
                ("", ""),
                ("", "two"),
                ("ONE", "")
            ]
        );
        assert_eq!(
            p.transcript(),
            "ready\n[stdin] one\n[stdin] \n[stdin] two\nONE\n"
        );
        // Control characters are not echoed raw; long input is split.
        p.echo_input(&format!("\x1b[31m{}\n", "y".repeat(MAX_LINE_CHARS + 3)));
        let n = p.len();
        assert_eq!(p.lines()[n - 2].text.len(), MAX_LINE_CHARS);
        assert_eq!(p.lines()[n - 1].text, "yyy");
        assert_eq!(p.lines()[n - 1].input_from, Some(0));
    }

    #[test]
    fn echo_keeps_a_scrolled_view_in_place() {
        let mut p = Pane::new(100, false);
        for i in 0..10 {
            p.append(Stdout, format!("{i}\n").as_bytes());
        }
        p.scroll_up(3);
        p.echo_input("a\nb\n");
        assert_eq!(p.scroll, 5);
    }

    #[test]
    fn transcript_marks_stderr() {
        let mut p = Pane::new(100, false);
        p.append(Stdout, b"out\n");
        p.append(Stderr, b"err\n");
        assert_eq!(p.transcript(), "out\n[stderr] err\n");
    }
}
