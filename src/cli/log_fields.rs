//! Log fields that cannot forge lines: every field (the message included)
//! is written with its control characters escaped, so text that came from
//! a request or a process (a command, an id, a path, an error quoting
//! them) can neither start a line of its own nor reach a terminal as an
//! escape sequence. Only field values are touched: what the formatter adds
//! itself (time, level, target, colours) is ours.
use std::fmt::{self, Write};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::FormatFields;

/// `DefaultFields`, written through [`Escaping`].
#[derive(Debug, Default)]
pub struct EscapedFields(DefaultFields);

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut escaping = Escaping(&mut writer);
        self.0.format_fields(Writer::new(&mut escaping), fields)
    }
}

/// Whether `c` must not appear raw in a log line: C0 controls (newlines
/// and ESC among them), DEL, C1 controls, the Unicode line and paragraph
/// separators, and the bidirectional overrides that reorder what a reader
/// sees.
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes to the inner writer with [`must_escape`] characters spelled out
/// as Rust escapes (`\n`, `\u{1b}`).
pub struct Escaping<'a, W: Write>(pub &'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some((i, c)) = rest.char_indices().find(|(_, c)| must_escape(*c)) {
            self.0.write_str(&rest[..i])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        Escaping(&mut out).write_str(s).unwrap();
        out
    }

    #[test]
    fn controls_are_spelled_out_and_the_rest_kept() {
        assert_eq!(escaped("plain é ✓"), "plain é ✓");
        assert_eq!(escaped("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escaped("\x1b[2J\x07\x7f"), "\\u{1b}[2J\\u{7}\\u{7f}");
        assert_eq!(
            escaped("\u{9b}\u{85}\u{2028}\u{202e}"),
            "\\u{9b}\\u{85}\\u{2028}\\u{202e}"
        );
    }
}
