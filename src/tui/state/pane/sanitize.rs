//! Turning raw output into text a line view can show: UTF-8 decoded across
//! chunk boundaries, terminal control sequences removed.

/// Longest escape sequence carried over to the next chunk when a chunk
/// ends inside it; longer unfinished ones are dropped, so garbage cannot
/// hold text back forever.
pub(super) const MAX_ESCAPE: usize = 256;

/// Decodes what is valid, returning an incomplete trailing sequence to be
/// completed by the next chunk. Invalid bytes become U+FFFD.
pub(super) fn decode_utf8(buf: &[u8]) -> (String, &[u8]) {
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
pub(super) fn plain_text<'a>(pending: &[u8], data: &'a [u8]) -> Option<&'a str> {
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
pub(super) fn strip_controls(s: &str, mut col: usize) -> (String, &str) {
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
                out.extend(std::iter::repeat_n(' ', n));
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
