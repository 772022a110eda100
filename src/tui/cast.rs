//! asciicast v2 (what `asciinema play` and its web player replay): a JSON
//! header line with the terminal's size, then one JSON array per event,
//! `[seconds, "o", text]` for output and `[seconds, "r", "COLSxROWS"]`
//! for a resize, in time order.
use std::io::{self, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// Writes one cast as events come. Times are measured from its creation
/// unless given.
pub struct CastWriter<W: Write> {
    out: W,
    start: Instant,
    /// The end of a UTF-8 sequence a write cut in two, kept for the next.
    partial: Vec<u8>,
    size: (u16, u16),
    pub events: u64,
}

impl<W: Write> CastWriter<W> {
    /// Writes the header of a `cols` x `rows` screen.
    pub fn new(mut out: W, cols: u16, rows: u16, title: &str) -> io::Result<CastWriter<W>> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = json!({
            "version": 2,
            "width": cols,
            "height": rows,
            "timestamp": timestamp,
            "title": title,
            "env": {"TERM": "xterm-256color"},
        });
        writeln!(out, "{header}")?;
        Ok(CastWriter {
            out,
            start: Instant::now(),
            partial: Vec::new(),
            size: (cols, rows),
            events: 0,
        })
    }

    fn event(&mut self, at: f64, kind: &str, data: &str) -> io::Result<()> {
        // Six decimals: what asciinema writes, and enough for a frame.
        let at = (at * 1e6).round() / 1e6;
        writeln!(self.out, "{}", json!([at, kind, data]))?;
        self.events += 1;
        Ok(())
    }

    /// Output at `at` seconds. Bytes that are not UTF-8 are shown as the
    /// replacement character; a sequence cut at the end waits for the rest.
    pub fn output_at(&mut self, at: f64, data: &[u8]) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(data);
        let keep = incomplete_tail(&buf);
        self.partial = buf.split_off(buf.len() - keep);
        if buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        self.event(at, "o", &text)
    }

    /// Output now.
    pub fn output(&mut self, data: &[u8]) -> io::Result<()> {
        self.output_at(self.elapsed(), data)
    }

    /// The screen is now `cols` x `rows`; written only when that changes.
    pub fn resize(&mut self, cols: u16, rows: u16) -> io::Result<()> {
        if self.size == (cols, rows) {
            return Ok(());
        }
        self.size = (cols, rows);
        self.event(self.elapsed(), "r", &format!("{cols}x{rows}"))
    }

    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// How many bytes at the end of `buf` start a UTF-8 sequence that is not
/// complete yet (0 when the end is complete or not UTF-8 at all).
fn incomplete_tail(buf: &[u8]) -> usize {
    for back in 1..=3.min(buf.len()) {
        let b = buf[buf.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 0,
        };
        return if need > back { back } else { 0 };
    }
    0
}

/// A process's output as it arrived, for saving its pane as a cast. Holds
/// at most `limit` bytes; the oldest output goes first past that (the
/// saved cast then starts later).
#[derive(Debug)]
pub struct Timeline {
    pub chunks: std::collections::VecDeque<(f64, bytes::Bytes)>,
    bytes: usize,
    limit: usize,
    /// Output older than what is kept was dropped.
    pub cut: bool,
}

/// Per process: enough for a long lesson, bounded for a flood.
pub const TIMELINE_LIMIT: usize = 4 * 1024 * 1024;

impl Timeline {
    pub fn new(limit: usize) -> Timeline {
        Timeline {
            chunks: Default::default(),
            bytes: 0,
            limit,
            cut: false,
        }
    }

    pub fn push(&mut self, at: f64, data: bytes::Bytes) {
        self.bytes += data.len();
        self.chunks.push_back((at, data));
        while self.bytes > self.limit {
            match self.chunks.pop_front() {
                Some((_, d)) => {
                    self.bytes -= d.len();
                    self.cut = true;
                }
                None => break,
            }
        }
    }

    /// The cast text. Output that was not on a terminal gets the carriage
    /// returns a terminal would have added, so lines start at the left.
    pub fn to_cast(&self, cols: u16, rows: u16, title: &str, tty: bool) -> io::Result<String> {
        let mut w = CastWriter::new(Vec::new(), cols, rows, title)?;
        for (at, data) in &self.chunks {
            if tty {
                w.output_at(*at, data)?;
            } else {
                w.output_at(*at, &crlf(data))?;
            }
        }
        let out = w.finish()?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// A cast read back: its screen size and its events in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Cast {
    pub width: u16,
    pub height: u16,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: f64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Output(String),
    Resize(u16, u16),
    /// Input, markers and kinds a later version may add: kept, not played.
    Other,
}

impl Cast {
    /// Reads asciicast v2 text; a line that is not what the format says is
    /// an error naming the line.
    pub fn parse(text: &str) -> Result<Cast, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, first) = lines.next().ok_or("the file is empty")?;
        let header: serde_json::Value =
            serde_json::from_str(first).map_err(|e| format!("line 1: not a cast header: {e}"))?;
        if header["version"] != 2 {
            return Err(format!(
                "line 1: version {} is not asciicast v2",
                header["version"]
            ));
        }
        let size = |k: &str| {
            header[k]
                .as_u64()
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| *v > 0)
                .ok_or(format!("line 1: the header has no {k}"))
        };
        let (width, height) = (size("width")?, size("height")?);
        let mut events = Vec::new();
        let mut last = 0.0;
        for (i, line) in lines {
            let n = i + 1;
            let ev: (f64, String, String) = serde_json::from_str(line)
                .map_err(|e| format!("line {n}: not an event [time, kind, data]: {e}"))?;
            let (at, kind, data) = ev;
            if !(at.is_finite() && at >= last) {
                return Err(format!("line {n}: time {at} is before the event above it"));
            }
            last = at;
            let kind = match kind.as_str() {
                "o" => EventKind::Output(data),
                "r" => {
                    let (c, r) = data
                        .split_once('x')
                        .and_then(|(c, r)| Some((c.parse().ok()?, r.parse().ok()?)))
                        .ok_or(format!("line {n}: resize {data:?} is not COLSxROWS"))?;
                    EventKind::Resize(c, r)
                }
                _ => EventKind::Other,
            };
            events.push(Event { at, kind });
        }
        Ok(Cast {
            width,
            height,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<serde_json::Value> {
        std::str::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn header_then_events_in_order() {
        let mut w = CastWriter::new(Vec::new(), 100, 30, "t").unwrap();
        w.output_at(0.5, b"\x1b[1mhello\r\n").unwrap();
        w.resize(100, 30).unwrap();
        w.resize(80, 24).unwrap();
        w.output_at(1.25, "wörld".as_bytes()).unwrap();
        let v = lines(&w.finish().unwrap());
        assert_eq!(v[0]["version"], 2);
        assert_eq!(v[0]["width"], 100);
        assert_eq!(v[0]["height"], 30);
        assert_eq!(v[1], json!([0.5, "o", "\u{1b}[1mhello\r\n"]));
        assert_eq!(v[2][1], "r");
        assert_eq!(v[2][2], "80x24");
        assert_eq!(v[3], json!([1.25, "o", "wörld"]));
        assert_eq!(v.len(), 4, "an unchanged size is no event");
    }

    #[test]
    fn a_split_character_waits_for_its_end() {
        let mut w = CastWriter::new(Vec::new(), 80, 24, "t").unwrap();
        let e = "é".as_bytes();
        w.output_at(0.1, &[b'a', e[0]]).unwrap();
        w.output_at(0.2, &[e[1], b'b']).unwrap();
        w.output_at(0.3, &[0xff]).unwrap();
        let v = lines(&w.finish().unwrap());
        assert_eq!(v[1][2], "a");
        assert_eq!(v[2][2], "éb");
        assert_eq!(v[3][2], "\u{fffd}");
    }

    #[test]
    fn a_timeline_keeps_the_newest_and_ends_lines_like_a_terminal() {
        let mut t = Timeline::new(10);
        t.push(0.1, bytes::Bytes::from_static(b"first\n"));
        t.push(0.2, bytes::Bytes::from_static(b"second\n"));
        assert!(t.cut);
        let cast = t.to_cast(80, 24, "p1", false).unwrap();
        let v = lines(cast.as_bytes());
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], json!([0.2, "o", "second\r\n"]));
    }

    #[test]
    fn a_written_cast_reads_back() {
        let mut w = CastWriter::new(Vec::new(), 90, 20, "t").unwrap();
        w.output(b"hi").unwrap();
        w.resize(70, 10).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let c = Cast::parse(&text).unwrap();
        assert_eq!((c.width, c.height), (90, 20));
        assert_eq!(c.events[0].kind, EventKind::Output("hi".into()));
        assert_eq!(c.events[1].kind, EventKind::Resize(70, 10));
    }

    #[test]
    fn a_bad_cast_names_its_line() {
        let head = "{\"version\": 2, \"width\": 80, \"height\": 24}\n";
        for (text, want) in [
            ("", "empty"),
            (
                "{\"version\": 1, \"width\": 80, \"height\": 24}",
                "line 1: version 1",
            ),
            ("{\"version\": 2, \"height\": 24}", "no width"),
            (
                &format!("{head}[1.0, \"o\"]\n") as &str,
                "line 2: not an event",
            ),
            (
                &format!("{head}[2.0, \"o\", \"a\"]\n[1.0, \"o\", \"b\"]\n"),
                "line 3: time 1",
            ),
            (&format!("{head}[1.0, \"r\", \"wide\"]\n"), "line 2: resize"),
        ] {
            let err = Cast::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
