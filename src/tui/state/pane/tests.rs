//! The pane's ring, view and sanitising, through its public face.
use bytes::Bytes;

use super::sanitize::MAX_ESCAPE;
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
    garbage.extend(std::iter::repeat_n(b'x', MAX_ESCAPE * 2));
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
    p.search = Some(Search::new("ALPHA"));
    assert!(p.find(false));
    assert_eq!(p.search.as_ref().unwrap().current, Some(2));
    assert!(p.find(false));
    assert_eq!(p.search.as_ref().unwrap().current, Some(0));
    assert!(p.find(true));
    assert_eq!(p.search.as_ref().unwrap().current, Some(2));
    p.search = Some(Search::new("zzz"));
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

#[test]
fn the_top_of_a_pane_fills_the_view() {
    // Home or a match near the top used to leave the view at "first line
    // on the bottom row": one line of text and blank rows above.
    let mut p = Pane::new(100, false);
    for i in 0..50 {
        p.append(Stdout, format!("line {i}\n").as_bytes());
    }
    p.set_view_rows(10);
    p.to_top();
    assert_eq!(p.scroll, 40, "line 0 on the top row");
    p.scroll_up(100);
    assert_eq!(p.scroll, 40);
    // One step down from the top moves the view at once.
    p.scroll_down(1);
    assert_eq!(p.scroll, 39);
    p.search = Some(Search::new("line 2"));
    assert!(p.find(false));
    assert_eq!(
        p.scroll, 40,
        "a match near the top shows with the lines below it"
    );
}

#[test]
fn search_counts_matches_and_previews_as_typed() {
    let mut p = Pane::new(100, false);
    for l in ["alpha", "beta", "alpha two", "gamma", "alphabet"] {
        p.append(Stdout, format!("{l}\n").as_bytes());
    }
    assert!(p.preview("alp", 0));
    let s = p.search.clone().unwrap();
    assert_eq!((s.total, s.nth, s.current), (3, 3, Some(4)));
    assert!(p.find(false));
    assert_eq!(p.search.as_ref().map(|s| s.nth), Some(2));
    // Typing more narrows from where the search began, not from the match.
    assert!(p.preview("alpha t", 0));
    let s = p.search.clone().unwrap();
    assert_eq!((s.total, s.nth, s.current), (1, 1, Some(2)));
    assert!(!p.preview("alphax", 0));
    assert_eq!(p.search.as_ref().map(|s| s.total), Some(0));
    assert!(!p.preview("", 0));
    assert!(p.search.is_none());
}
