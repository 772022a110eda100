//! Cutting text a peer sent to a length the server is willing to repeat
//! (in error messages, in records it keeps for a long time).
use std::borrow::Cow;

/// `s` itself when it has at most `max` bytes; else its first bytes, cut on
/// a character boundary, and a note of how long it was. The result may
/// exceed `max` by the note (under 32 bytes).
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…({} bytes)", &s[..end], s.len()))
}

/// [`clip`] in place.
pub fn clip_in_place(s: &mut String, max: usize) {
    if let Cow::Owned(cut) = clip(s, max) {
        *s = cut;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert!(matches!(clip("abc", 3), Cow::Borrowed("abc")));
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        assert_eq!(clip("abcdef", 4), "abcd…(6 bytes)");
        // 'é' is two bytes: a cut after one byte would split it.
        assert_eq!(clip("aé", 2), "a…(3 bytes)");
        let mut s = "x".repeat(20_000);
        clip_in_place(&mut s, 256);
        assert!(s.len() < 256 + 32, "{}", s.len());
    }
}
