//! Screen snapshots on ratatui's TestBackend, driven through update like a
//! user would, with time pinned so the pictures are stable.
use std::time::{Duration, SystemTime};

use crossterm::event::KeyCode;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use super::*;
use crate::client::{ProcessStatus, StreamKind};
use crate::tui::update::tests::Harness;

fn pin_time(h: &mut Harness) {
    // Sandboxes in the tests were created relative to this wall time.
    h.state.wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    // Monotonic times only move forward from the harness's start, so the
    // picture does not depend on how long the machine has been up.
    let base = h
        .state
        .procs
        .iter()
        .map(|p| p.started)
        .min()
        .unwrap_or(h.state.now);
    let at = |secs: u64| base + Duration::from_secs(secs);
    h.state.now = at(40);
    for (i, p) in h.state.procs.iter_mut().enumerate() {
        p.started = at(40 - 10 * (i as u64 + 1));
        if p.ended.is_some() {
            p.ended = Some(p.started + Duration::from_millis(1500));
        }
    }
    for w in &mut h.state.waits {
        w.started = at(35);
        if w.done_at.is_some() {
            w.done_at = Some(at(37));
        }
        for f in &mut w.finished {
            f.after = Duration::from_secs(1);
        }
    }
}

fn draw(h: &Harness, theme: &Theme, w: u16, ht: u16) -> (Terminal<TestBackend>, Hits) {
    let mut term = Terminal::new(TestBackend::new(w, ht)).unwrap();
    let style = Style {
        theme,
        keymap: &h.keymap,
    };
    let mut hits = Hits::default();
    term.draw(|f| hits = render(&h.state, &style, f)).unwrap();
    (term, hits)
}

fn screen(h: &mut Harness, w: u16, ht: u16) -> String {
    pin_time(h);
    let (term, _) = draw(h, &Theme::default(), w, ht);
    term.backend().to_string()
}

fn output(h: &mut Harness, key: u64, stream: StreamKind, text: &str) {
    h.state
        .proc_mut(key)
        .unwrap()
        .pane
        .append(stream, text.as_bytes());
}

/// A sandbox, a finished `echo` with stdout and stderr, and a running `cat`.
fn two_processes() -> (Harness, u64, u64) {
    let mut h = Harness::new();
    let done = h.exec("sh -c 'echo hello; echo oops >&2; exit 3'");
    output(&mut h, done, StreamKind::Stdout, "hello\n");
    output(&mut h, done, StreamKind::Stderr, "oops\n");
    h.end(done, ProcessStatus::Exited(3));
    let cat = h.exec("cat");
    output(&mut h, cat, StreamKind::Stdout, "typed line\n");
    h.state.notice = None;
    (h, done, cat)
}

#[test]
fn main_screen() {
    let (mut h, _, _) = two_processes();
    h.key(KeyCode::Tab);
    insta::assert_snapshot!(screen(&mut h, 120, 30));
}

#[test]
fn empty_screen_tells_what_to_do() {
    let mut h = Harness::new();
    h.state.sandboxes.replace(vec![]);
    insta::assert_snapshot!(screen(&mut h, 100, 16));
}

#[test]
fn exec_dialog() {
    let (mut h, _, _) = two_processes();
    h.key(KeyCode::Char('x'));
    h.typ("python3 -i");
    insta::assert_snapshot!(screen(&mut h, 100, 30));
}

#[test]
fn create_dialog() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('n'));
    insta::assert_snapshot!(screen(&mut h, 100, 24));
}

#[test]
fn help_lists_every_binding() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('?'));
    let text = screen(&mut h, 120, 110);
    for b in &h.keymap.bindings {
        assert!(text.contains(b.help), "help misses {}", b.name);
    }
    insta::assert_snapshot!(text);
}

#[test]
fn stdin_box_focused_then_closed() {
    let (mut h, _, cat) = two_processes();
    h.key(KeyCode::Char('i'));
    h.typ("abc");
    let focused = screen(&mut h, 100, 26);
    assert!(focused.contains("stdin → p2 (cat)"));
    h.ctrl('d');
    let closed = screen(&mut h, 100, 26);
    assert!(closed.contains("stdin is closed (EOF sent)"));
    h.end(cat, ProcessStatus::Exited(0));
    let exited = screen(&mut h, 100, 26);
    assert!(exited.contains("has exited (exit 0)"));
    insta::assert_snapshot!(closed);
}

#[test]
fn tiled_panes_and_wait_view() {
    let mut h = Harness::new();
    let keys: Vec<u64> = ["sleep 1", "sleep 2", "sleep 3"]
        .iter()
        .map(|c| h.exec(c))
        .collect();
    h.key(KeyCode::Tab);
    for k in &keys {
        output(
            &mut h,
            *k,
            StreamKind::Stdout,
            &format!("job {k} working\n"),
        );
        h.state.selected_proc = Some(*k);
        h.key(KeyCode::Char(' '));
    }
    h.key(KeyCode::Char('w'));
    h.key(KeyCode::Enter);
    h.end(keys[1], ProcessStatus::Exited(0));
    h.state.notice = None;
    let text = screen(&mut h, 140, 34);
    assert!(text.contains("done: 1 of 3 finished"));
    insta::assert_snapshot!(text);
}

#[test]
fn zoom_shows_one_pane_and_scroll_position() {
    let (mut h, _, cat) = two_processes();
    for i in 0..40 {
        output(&mut h, cat, StreamKind::Stdout, &format!("row {i}\n"));
    }
    h.state.focus = crate::tui::msg::Focus::Output;
    h.key(KeyCode::Char('z'));
    h.key(KeyCode::PageUp);
    let text = screen(&mut h, 80, 20);
    assert!(text.contains("paused: End to follow"));
    assert!(!text.contains("Sandboxes"));
    insta::assert_snapshot!(text);
}

#[test]
fn stderr_is_styled_differently_with_and_without_colour() {
    let (mut h, done, _) = two_processes();
    h.state.selected_proc = Some(done);
    h.state.zoom = true;
    pin_time(&mut h);
    for (theme, check) in [
        (
            Theme::default(),
            (|c: &ratatui::buffer::Cell| c.fg == Color::Red) as fn(&ratatui::buffer::Cell) -> bool,
        ),
        (Theme::monochrome(), |c: &ratatui::buffer::Cell| {
            c.modifier.contains(Modifier::ITALIC)
        }),
    ] {
        let (term, hits) = draw(&h, &theme, 60, 12);
        let pane = hits.panes[0].1;
        let buf = term.backend().buffer();
        let row = |y: u16| {
            (pane.x + 1..pane.right() - 1)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        };
        let y_err = (pane.y..pane.bottom())
            .find(|y| row(*y).starts_with("oops"))
            .unwrap();
        let y_out = (pane.y..pane.bottom())
            .find(|y| row(*y).starts_with("hello"))
            .unwrap();
        assert!(check(&buf[(pane.x + 1, y_err)]));
        assert!(!check(&buf[(pane.x + 1, y_out)]));
    }
}

#[test]
fn hits_map_rows_to_items() {
    let (mut h, done, cat) = two_processes();
    pin_time(&mut h);
    let (_, hits) = draw(&h, &Theme::default(), 120, 30);
    let first = hits.process_rows.0;
    assert_eq!(hits.process_row(first), Some(0));
    assert_eq!(hits.process_row(first + 1), Some(1));
    assert_eq!(hits.process_row(first + 2), None);
    assert_eq!(h.state.listed_procs()[0].key, done);
    assert_eq!(
        hits.panes.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec![done, cat]
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    let (mut h, _, _) = two_processes();
    pin_time(&mut h);
    let setups: [fn(&mut Harness); 5] = [
        |_| {},
        |h| {
            h.key(KeyCode::Char('?'));
        },
        |h| {
            h.key(KeyCode::Char('x'));
        },
        |h| {
            h.key(KeyCode::Char('s'));
        },
        |h| {
            h.state.zoom = true;
            h.state.proc_mut(1).unwrap().pane.wrap = true;
        },
    ];
    for setup in setups {
        setup(&mut h);
        for (w, ht) in [(1, 1), (5, 3), (20, 6), (40, 10)] {
            draw(&h, &Theme::default(), w, ht);
        }
        h.state.popup = None;
    }
}

#[test]
fn narrow_terminal_keeps_bottom_lines_whole() {
    let (mut h, _, _) = two_processes();
    h.state
        .error("listing sandboxes failed: transport error: connection refused (os error 111)");
    let text = screen(&mut h, 80, 24);
    let lines: Vec<&str> = text.lines().collect();
    // The TestBackend prints each row quoted; the last two are the bars.
    let hints = lines[lines.len() - 1];
    let status = lines[lines.len() - 2];
    assert!(status.contains("● connected"), "{status}");
    assert!(status.contains("…"), "the message is cut visibly: {status}");
    assert!(
        hints.contains("q quit") && hints.contains("? help"),
        "{hints}"
    );
    // The hints shown are the first ones of the list, each one whole.
    let shown = hints.trim_matches('"').trim_end();
    let pieces: Vec<&str> = shown.split("  ").collect();
    let all: Vec<String> = h
        .keymap
        .hints(h.state.focus)
        .iter()
        .map(|(k, l)| format!("{k} {l}"))
        .collect();
    assert!(pieces.len() < all.len(), "80 columns cannot hold all hints");
    assert_eq!(pieces, all[..pieces.len()].to_vec());
    insta::assert_snapshot!(text);
}

#[test]
fn echoed_input_is_styled_apart_from_output() {
    let mut h = Harness::new();
    let py = h.exec("python3 -i -q");
    output(&mut h, py, StreamKind::Stderr, ">>> ");
    h.key(KeyCode::Char('i'));
    h.typ("print(6*7)");
    h.key(KeyCode::Enter);
    output(&mut h, py, StreamKind::Stdout, "42\n");
    h.state.zoom = true;
    pin_time(&mut h);
    for theme in [Theme::default(), Theme::monochrome()] {
        let (term, hits) = draw(&h, &theme, 60, 12);
        let pane = hits.panes[0].1;
        let buf = term.backend().buffer();
        let x0 = pane.x + 1;
        let row = |y: u16| {
            (x0..pane.right() - 1)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        };
        let y = (pane.y..pane.bottom())
            .find(|y| row(*y).starts_with(">>> print(6*7)"))
            .expect("prompt and input share a line");
        let y_out = (pane.y..pane.bottom())
            .find(|y| row(*y).starts_with("42"))
            .unwrap();
        let looks = |x: u16, y: u16| {
            let c = &buf[(x, y)];
            (c.fg, c.modifier)
        };
        let style_of = |s: ratatui::style::Style| {
            (
                s.fg.unwrap_or(Color::Reset),
                s.add_modifier - s.sub_modifier,
            )
        };
        assert_eq!(looks(x0, y), style_of(theme.stderr), "the prompt");
        assert_eq!(looks(x0 + 4, y), style_of(theme.stdin), "the input");
        assert_eq!(looks(x0, y_out), style_of(theme.stdout), "the output");
        assert_ne!(style_of(theme.stdin), style_of(theme.stdout));
        assert_ne!(style_of(theme.stdin), style_of(theme.stderr));
    }
}

#[test]
fn poll_column_shows_no_code_for_timeouts_and_kills() {
    let mut h = Harness::new();
    let timed = h.exec("sleep 30");
    let killed = h.exec("sleep 31");
    let ok = h.exec("true");
    h.end(timed, ProcessStatus::TimedOut);
    h.end(killed, ProcessStatus::Killed);
    h.end(ok, ProcessStatus::Exited(0));
    let text = screen(&mut h, 120, 30);
    // The processes panel is right of the sandboxes panel on its rows.
    let row = |cmd: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.contains(cmd)).unwrap();
        let (_, rest) = line.split_once(cmd).unwrap();
        rest.split_whitespace()
            .take_while(|w| !w.starts_with('│') && !w.starts_with('┃'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("sleep 30")[..2], ["timeout", "-"]);
    assert_eq!(row("sleep 31")[..2], ["killed", "-"]);
    assert_eq!(row("true")[..3], ["exit", "0", "0"]);
    assert!(!text.contains("-9"), "{text}");
}

#[test]
fn wait_header_counts_members_that_finished_before_it() {
    let mut h = Harness::new();
    let keys: Vec<u64> = (1..=6).map(|i| h.exec(&format!("sleep {i}"))).collect();
    for k in &keys[..5] {
        h.end(*k, ProcessStatus::Exited(0));
    }
    h.state.focus = crate::tui::msg::Focus::Processes;
    for k in &keys {
        h.state.selected_proc = Some(*k);
        h.key(KeyCode::Char(' '));
    }
    h.key(KeyCode::Char('w'));
    h.key(KeyCode::Backspace);
    h.typ("2");
    h.key(KeyCode::Enter);
    let (term, _) = draw(&h, &Theme::default(), 120, 40);
    let text = term.backend().to_string();
    assert!(
        text.contains("done: 5 of 6 finished (waited for 2)"),
        "{text}"
    );
    // Over at once: the marks are used up.
    assert!(h.state.marked().is_empty());
}

#[test]
fn all_sandboxes_lists_which_sandbox_runs_each_process() {
    let mut h = Harness::new();
    h.state.sandboxes.replace(vec![
        crate::tui::state::sandboxes::tests::sandbox(
            "sb-1",
            crate::client::SandboxState::Running,
            10,
        ),
        crate::tui::state::sandboxes::tests::sandbox(
            "sb-2",
            crate::client::SandboxState::Running,
            10,
        ),
    ]);
    h.exec("echo one");
    h.state.sandboxes.select_id("sb-2");
    h.exec("echo two");
    h.state.focus = crate::tui::msg::Focus::Processes;
    h.key(KeyCode::Char('a'));
    let text = screen(&mut h, 140, 30);
    let row = |cmd: &str| {
        text.lines()
            .find(|l| l.contains(cmd))
            .unwrap_or("")
            .to_string()
    };
    assert!(text.contains("SANDBOX"), "{text}");
    assert!(row("echo one").contains("sb-1-name"), "{text}");
    assert!(row("echo two").contains("sb-2-name"), "{text}");
}

#[test]
fn small_terminal_keeps_panes_readable() {
    let mut h = Harness::new();
    let keys: Vec<u64> = (1..=4).map(|i| h.exec(&format!("job {i}"))).collect();
    for k in &keys {
        for line in 0..8 {
            output(
                &mut h,
                *k,
                StreamKind::Stdout,
                &format!("p{k} line {line}\n"),
            );
        }
    }
    h.state.selected_proc = Some(keys[0]);
    h.state.focus = crate::tui::msg::Focus::Processes;
    h.state.notice = None;
    pin_time(&mut h);
    let (term, hits) = draw(&h, &Theme::default(), 80, 24);
    // Fewer tiles, each with room for several lines, the selected among them.
    assert!(hits.panes.len() < 4, "{:?}", hits.panes);
    assert!(hits.panes.iter().any(|(k, _)| *k == keys[0]));
    for (_, r) in &hits.panes {
        assert!(r.height >= 7 && r.width >= 24, "{r:?}");
    }
    let text = term.backend().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let hints = lines[lines.len() - 1].trim_matches('"').trim_end();
    // Every hint shown is whole.
    let all: Vec<String> = h
        .keymap
        .hints(h.state.focus)
        .iter()
        .map(|(k, l)| format!("{k} {l}"))
        .collect();
    for piece in hints.split("  ") {
        assert!(
            all.contains(&piece.to_string()),
            "cut hint {piece:?} in {hints:?}"
        );
    }
    insta::assert_snapshot!(text);
}

/// The presenter layout: no lists and no hints, every process's pane on
/// the whole screen, the demo's caption large above them, and the panes
/// of a broadcast marked in their titles.
#[test]
fn presenter_layout_with_caption_and_broadcast() {
    let (mut h, a, b) = two_processes();
    let script = crate::tui::script::Script::parse(
        "[[sandbox]]\nname = \"a\"\n[[step]]\npause = \"Two processes, one line each\"\n",
    )
    .unwrap();
    let mut demo = crate::tui::state::demo::Demo::new(std::sync::Arc::new(script));
    demo.phase = crate::tui::state::demo::DemoPhase::Paused;
    demo.caption = Some("Two processes, one line each".into());
    h.state.demo = Some(demo);
    for k in [a, b] {
        h.state.proc_mut(k).unwrap().marked = true;
    }
    h.key(KeyCode::Char('P'));
    h.key(KeyCode::Char('b'));
    assert!(h.state.presenter && h.state.broadcast);
    let s = screen(&mut h, 100, 24);
    assert!(!s.contains("Sandboxes ("), "the lists are hidden:\n{s}");
    assert!(s.contains("⇶ p1") && s.contains("⇶ p2"), "{s}");
    insta::assert_snapshot!(s);
}
