//! What a key press sends to a program on a terminal: the bytes an xterm
//! sends, in the modes the program asked for (application cursor keys,
//! bracketed paste).
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Modes;

/// The bytes for a key, or `None` for keys a terminal sends nothing for.
pub fn encode_key(ev: &KeyEvent, modes: Modes) -> Option<Vec<u8>> {
    let mods = ev.modifiers;
    let alt = mods.contains(KeyModifiers::ALT);
    let ctrl = mods.contains(KeyModifiers::CONTROL);
    // xterm's modifier parameter: 1 + shift + 2·alt + 4·ctrl.
    let param =
        1 + u8::from(mods.contains(KeyModifiers::SHIFT)) + 2 * u8::from(alt) + 4 * u8::from(ctrl);
    let app_cursor = modes.app_cursor;
    let mut out = Vec::new();
    match ev.code {
        KeyCode::Char(c) => {
            if alt {
                out.push(0x1b);
            }
            match ctrl.then(|| control_byte(c)).flatten() {
                Some(b) => out.push(b),
                None => {
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        KeyCode::Enter => prefixed(&mut out, alt, b"\r"),
        KeyCode::Tab => prefixed(&mut out, alt, b"\t"),
        KeyCode::BackTab => out.extend_from_slice(b"\x1b[Z"),
        KeyCode::Backspace => prefixed(&mut out, alt, if ctrl { b"\x08" } else { b"\x7f" }),
        KeyCode::Esc => prefixed(&mut out, alt, b"\x1b"),
        KeyCode::Up => cursor(&mut out, b'A', param, app_cursor),
        KeyCode::Down => cursor(&mut out, b'B', param, app_cursor),
        KeyCode::Right => cursor(&mut out, b'C', param, app_cursor),
        KeyCode::Left => cursor(&mut out, b'D', param, app_cursor),
        KeyCode::Home => cursor(&mut out, b'H', param, app_cursor),
        KeyCode::End => cursor(&mut out, b'F', param, app_cursor),
        KeyCode::Insert => tilde(&mut out, 2, param),
        KeyCode::Delete => tilde(&mut out, 3, param),
        KeyCode::PageUp => tilde(&mut out, 5, param),
        KeyCode::PageDown => tilde(&mut out, 6, param),
        KeyCode::F(n @ 1..=4) => {
            let last = b'P' + (n - 1);
            if param > 1 {
                out.extend_from_slice(format!("\x1b[1;{param}").as_bytes());
                out.push(last);
            } else {
                out.extend_from_slice(&[0x1b, b'O', last]);
            }
        }
        KeyCode::F(n @ 5..=12) => {
            const CODES: [u8; 8] = [15, 17, 18, 19, 20, 21, 23, 24];
            tilde(&mut out, CODES[usize::from(n - 5)], param);
        }
        _ => return None,
    }
    Some(out)
}

/// Pasted text as the program expects it: wrapped in the bracketed-paste
/// markers when it turned that mode on (so an editor does not auto-indent
/// or a shell does not run each line), with newlines as Enter would send.
pub fn encode_paste(text: &str, modes: Modes) -> Vec<u8> {
    let body = text.replace("\r\n", "\r").replace('\n', "\r");
    if !modes.bracketed_paste {
        return body.into_bytes();
    }
    // A paste must not be able to end the bracket early.
    let body = body.replace("\x1b[201~", "");
    let mut out = b"\x1b[200~".to_vec();
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"\x1b[201~");
    out
}

/// Ctrl plus a character, as the terminal's control byte. Some terminals
/// report Ctrl-\ ] ^ _ as Ctrl-4..7 (the keys that send them on a US
/// keyboard), so both spellings are taken.
fn control_byte(c: char) -> Option<u8> {
    Some(match c {
        'a'..='z' => c as u8 - b'a' + 1,
        'A'..='Z' => c as u8 - b'A' + 1,
        '@' | ' ' | '2' => 0,
        '[' | '3' => 0x1b,
        '\\' | '4' => 0x1c,
        ']' | '5' => 0x1d,
        '^' | '6' => 0x1e,
        '_' | '7' | '/' => 0x1f,
        '?' | '8' => 0x7f,
        _ => return None,
    })
}

fn prefixed(out: &mut Vec<u8>, alt: bool, bytes: &[u8]) {
    if alt {
        out.push(0x1b);
    }
    out.extend_from_slice(bytes);
}

fn cursor(out: &mut Vec<u8>, last: u8, param: u8, app_cursor: bool) {
    if param > 1 {
        out.extend_from_slice(format!("\x1b[1;{param}").as_bytes());
    } else if app_cursor {
        out.extend_from_slice(b"\x1bO");
    } else {
        out.extend_from_slice(b"\x1b[");
    }
    out.push(last);
}

fn tilde(out: &mut Vec<u8>, code: u8, param: u8) {
    let seq = if param > 1 {
        format!("\x1b[{code};{param}~")
    } else {
        format!("\x1b[{code}~")
    };
    out.extend_from_slice(seq.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(setup: &[u8]) -> Modes {
        let mut t = super::super::TermPane::new(24, 80, 0);
        t.feed(setup);
        t.modes()
    }

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn enc(code: KeyCode, mods: KeyModifiers, p: &Modes) -> Vec<u8> {
        encode_key(&key(code, mods), *p).unwrap_or_default()
    }

    #[test]
    fn keys_send_what_an_xterm_sends() {
        let p = screen(b"");
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(enc(KeyCode::Char('a'), none, &p), b"a");
        assert_eq!(enc(KeyCode::Char('é'), none, &p), "é".as_bytes());
        assert_eq!(enc(KeyCode::Char('c'), ctrl, &p), b"\x03");
        assert_eq!(enc(KeyCode::Char('z'), ctrl, &p), b"\x1a");
        assert_eq!(enc(KeyCode::Char('d'), ctrl, &p), b"\x04");
        assert_eq!(enc(KeyCode::Char('5'), ctrl, &p), b"\x1d");
        assert_eq!(enc(KeyCode::Char('x'), KeyModifiers::ALT, &p), b"\x1bx");
        assert_eq!(enc(KeyCode::Enter, none, &p), b"\r");
        assert_eq!(enc(KeyCode::Tab, none, &p), b"\t");
        assert_eq!(enc(KeyCode::BackTab, KeyModifiers::SHIFT, &p), b"\x1b[Z");
        assert_eq!(enc(KeyCode::Backspace, none, &p), b"\x7f");
        assert_eq!(enc(KeyCode::Esc, none, &p), b"\x1b");
        assert_eq!(enc(KeyCode::Up, none, &p), b"\x1b[A");
        assert_eq!(enc(KeyCode::Left, ctrl, &p), b"\x1b[1;5D");
        assert_eq!(enc(KeyCode::PageDown, none, &p), b"\x1b[6~");
        assert_eq!(enc(KeyCode::Delete, KeyModifiers::SHIFT, &p), b"\x1b[3;2~");
        assert_eq!(enc(KeyCode::F(1), none, &p), b"\x1bOP");
        assert_eq!(enc(KeyCode::F(5), none, &p), b"\x1b[15~");
        assert_eq!(enc(KeyCode::F(12), none, &p), b"\x1b[24~");
        assert!(encode_key(&key(KeyCode::CapsLock, none), p).is_none());
    }

    #[test]
    fn cursor_keys_follow_the_programs_mode() {
        // vi and less switch to application cursor keys.
        let p = screen(b"\x1b[?1h");
        assert_eq!(enc(KeyCode::Up, KeyModifiers::NONE, &p), b"\x1bOA");
        assert_eq!(enc(KeyCode::Home, KeyModifiers::NONE, &p), b"\x1bOH");
    }

    #[test]
    fn paste_is_bracketed_only_when_asked() {
        let plain = screen(b"");
        assert_eq!(encode_paste("a\nb", plain), b"a\rb");
        let bracketed = screen(b"\x1b[?2004h");
        assert_eq!(
            encode_paste("x\x1b[201~y\n", bracketed),
            b"\x1b[200~xy\r\x1b[201~"
        );
    }
}
