//! Update tests: messages in, state and effects out. No terminal, no server.
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::*;
use crate::client::{ProcessStatus, SandboxState, StreamKind};
use crate::tui::msg::{Focus, NetEvent};
use crate::tui::state::forms::{Confirm, Popup};
use crate::tui::state::procs::{Phase, StdinState};
use crate::tui::state::sandboxes::tests::sandbox;
use crate::tui::state::View;

pub fn new_state() -> State {
    let view = View {
        scrollback_lines: 100,
        max_tiles: 4,
        wrap: false,
        echo_stdin: true,
        shell: Vec::new(),
        downloads: std::env::temp_dir().join("sandscope-test-downloads"),
        save_dir: "/saved/here".into(),
    };
    let mut s = State::new("http://127.0.0.1:1".into(), "embedded".into(), view, false);
    s.sandboxes
        .replace(vec![sandbox("sb-1", SandboxState::Running, 10)]);
    s.connection = crate::tui::state::Connection::Connected;
    s
}

pub struct Harness {
    pub state: State,
    pub keymap: Keymap,
    pub hits: Hits,
}

impl Harness {
    pub fn new() -> Harness {
        Harness {
            state: new_state(),
            keymap: Keymap::default(),
            hits: Hits::default(),
        }
    }

    pub fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        let ctx = Ctx {
            keymap: &self.keymap,
            hits: &self.hits,
        };
        update(&mut self.state, msg, &ctx, &mut fx);
        fx
    }

    pub fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    pub fn ctrl(&mut self, c: char) -> Vec<Effect> {
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
    }

    pub fn typ(&mut self, text: &str) -> Vec<Effect> {
        let mut fx = Vec::new();
        for c in text.chars() {
            fx.extend(self.key(KeyCode::Char(c)));
        }
        fx
    }

    pub fn net(&mut self, ev: NetEvent) -> Vec<Effect> {
        self.send(Msg::Net(ev))
    }

    /// Opens the exec dialog, runs `cmd` with the defaults, and confirms the
    /// start the way the network side would.
    pub fn exec(&mut self, cmd: &str) -> u64 {
        self.key(KeyCode::Char('x'));
        self.typ(cmd);
        let fx = self.key(KeyCode::Enter);
        let key = fx
            .iter()
            .find_map(|e| match e {
                Effect::Exec { key, .. } => Some(*key),
                _ => None,
            })
            .expect("an exec effect");
        self.net(NetEvent::ExecStarted { key, stdin: true });
        key
    }

    pub fn end(&mut self, key: u64, status: ProcessStatus) {
        self.net(NetEvent::ProcessEnded { key, status });
    }
}

#[test]
fn exec_dialog_enter_runs_with_defaults_and_selects_the_process() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('x'));
    assert!(matches!(h.state.popup, Some(Popup::Form(_))));
    h.typ("cat");
    let fx = h.key(KeyCode::Enter);
    assert!(h.state.popup.is_none());
    let Some(Effect::Exec {
        key,
        sandbox_id,
        argv,
        opts,
        ..
    }) = fx.into_iter().next()
    else {
        panic!("expected an exec");
    };
    assert_eq!(sandbox_id, "sb-1");
    assert_eq!(argv, vec!["cat"]);
    assert!(opts.stdin, "stdin is open by default");
    assert_eq!(h.state.selected_proc, Some(key));
    assert_eq!(h.state.tiled_panes(), vec![key]);
    assert_eq!(h.state.proc(key).unwrap().state_label(), "starting");
}

#[test]
fn exec_refuses_bad_input_and_stays_open() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('x'));
    h.typ("echo 'unbalanced");
    let fx = h.key(KeyCode::Enter);
    assert!(fx.is_empty());
    match &h.state.popup {
        Some(Popup::Form(f)) => assert!(f.error.as_deref().unwrap_or("").contains("quotes")),
        other => panic!("dialog closed: {other:?}"),
    }
    h.key(KeyCode::Esc);
    assert!(h.state.popup.is_none());
}

#[test]
fn exec_needs_a_running_sandbox() {
    let mut h = Harness::new();
    h.state
        .sandboxes
        .replace(vec![sandbox("sb-2", SandboxState::Creating, 1)]);
    h.key(KeyCode::Char('x'));
    assert!(h.state.popup.is_none());
    assert!(h.state.notice.as_ref().unwrap().text.contains("creating"));
}

#[test]
fn stdin_line_eof_and_exit() {
    let mut h = Harness::new();
    let key = h.exec("cat");
    h.key(KeyCode::Char('i'));
    assert_eq!(h.state.focus, Focus::Stdin);
    // Letters bound elsewhere (q, x, k) are text here.
    h.typ("qxk hello");
    let fx = h.key(KeyCode::Enter);
    assert!(
        matches!(&fx[..], [Effect::StdinWrite { key: k, data }] if *k == key && data == "qxk hello\n")
    );
    assert!(h.state.stdin.is_empty());
    let fx = h.ctrl('d');
    assert!(matches!(&fx[..], [Effect::StdinEof { key: k }] if *k == key));
    assert_eq!(h.state.proc(key).unwrap().stdin, StdinState::Closed);
    // A second line after EOF is refused with a message, not sent.
    h.typ("late");
    assert!(h.key(KeyCode::Enter).is_empty());
    assert!(h.state.notice.as_ref().unwrap().text.contains("closed"));
    // Output arrives, then the exit.
    let inbox = h.state.proc(key).unwrap().pane.inbox.clone();
    assert!(inbox.push(StreamKind::Stdout, Bytes::from_static(b"qxk hello\n")));
    h.net(NetEvent::PaneChanged(key));
    h.end(key, ProcessStatus::Exited(0));
    let p = h.state.proc(key).unwrap();
    assert_eq!(p.state_label(), "exit 0");
    // What was sent is echoed before what cat printed back.
    assert_eq!(
        pane_parts(&h, key),
        owned(&[("", "qxk hello"), ("", "^D"), ("qxk hello", "")])
    );
}

/// Each line of a pane as (output part, echoed input part).
fn pane_parts(h: &Harness, key: u64) -> Vec<(String, String)> {
    let pane = &h.state.proc(key).unwrap().pane;
    pane.lines()
        .iter()
        .take(pane.visible_len())
        .map(|l| {
            let (out, input) = l.split_input();
            (out.to_string(), input.to_string())
        })
        .collect()
}

fn owned(parts: &[(&str, &str)]) -> Vec<(String, String)> {
    parts
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn output(h: &mut Harness, key: u64, stream: StreamKind, data: &'static [u8]) {
    let inbox = h.state.proc(key).unwrap().pane.inbox.clone();
    inbox.push(stream, Bytes::from_static(data));
    h.net(NetEvent::PaneChanged(key));
}

#[test]
fn interactive_session_reads_like_a_transcript() {
    let mut h = Harness::new();
    let key = h.exec("python3 -i -q");
    output(&mut h, key, StreamKind::Stderr, b">>> ");
    h.key(KeyCode::Char('i'));
    h.typ("print(6*7)");
    // The next prompt is already in the inbox, not yet drained: the echo
    // still lands after the first prompt, and the prompt after the echo.
    let inbox = h.state.proc(key).unwrap().pane.inbox.clone();
    inbox.push(StreamKind::Stdout, Bytes::from_static(b"early\n"));
    h.key(KeyCode::Enter);
    output(&mut h, key, StreamKind::Stdout, b"42\n");
    output(&mut h, key, StreamKind::Stderr, b">>> ");
    h.send(Msg::Paste("a = 1\nb = 2\n".into()));
    output(&mut h, key, StreamKind::Stderr, b">>> ");
    h.ctrl('d');
    assert_eq!(
        pane_parts(&h, key),
        owned(&[
            (">>> ", ""),
            ("early", ""),
            ("", "print(6*7)"),
            ("42", ""),
            (">>> ", "a = 1"),
            ("", "b = 2"),
            (">>> ", "^D"),
        ])
    );
}

#[test]
fn echo_can_be_turned_off_and_skips_terminals() {
    let mut h = Harness::new();
    h.state.view.echo_stdin = false;
    let key = h.exec("cat");
    h.key(KeyCode::Char('i'));
    h.typ("quiet");
    assert_eq!(h.key(KeyCode::Enter).len(), 1);
    h.ctrl('d');
    assert!(pane_parts(&h, key).is_empty());

    h.state.view.echo_stdin = true;
    h.key(KeyCode::Esc);
    let tty = h.exec("bash");
    h.state.proc_mut(tty).unwrap().tty = true;
    h.key(KeyCode::Char('i'));
    h.typ("ls");
    assert_eq!(h.key(KeyCode::Enter).len(), 1);
    assert!(pane_parts(&h, tty).is_empty(), "a tty echoes by itself");
}

#[test]
fn writing_to_an_exited_process_says_so() {
    let mut h = Harness::new();
    let key = h.exec("sh -c 'exit 3'");
    h.end(key, ProcessStatus::Exited(3));
    assert_eq!(h.state.proc(key).unwrap().state_label(), "exit 3");
    let fx = h.key(KeyCode::Char('i'));
    assert!(fx.is_empty());
    assert_ne!(h.state.focus, Focus::Stdin);
    assert!(h
        .state
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("has exited (exit 3)"));
}

#[test]
fn paste_sends_complete_lines_and_keeps_the_rest() {
    let mut h = Harness::new();
    let key = h.exec("cat");
    h.key(KeyCode::Char('i'));
    h.typ(">");
    let fx = h.send(Msg::Paste("a\r\nb\nrest".into()));
    assert!(
        matches!(&fx[..], [Effect::StdinWrite { key: k, data }] if *k == key && data == ">a\nb\n")
    );
    assert_eq!(h.state.stdin.lines().join(""), "rest");
}

#[test]
fn kill_asks_the_network_and_status_shows_killed() {
    let mut h = Harness::new();
    let key = h.exec("sleep 100");
    h.key(KeyCode::Tab);
    let fx = h.key(KeyCode::Char('k'));
    assert!(matches!(&fx[..], [Effect::Kill(k)] if *k == key));
    h.end(key, ProcessStatus::Killed);
    assert_eq!(h.state.proc(key).unwrap().state_label(), "killed");
    // Killing again is refused.
    assert!(h.key(KeyCode::Char('k')).is_empty());
}

#[test]
fn stop_needs_confirmation() {
    let mut h = Harness::new();
    assert!(h.key(KeyCode::Char('s')).is_empty());
    assert!(
        matches!(&h.state.popup, Some(Popup::Confirm(Confirm::StopSandbox { id })) if id == "sb-1")
    );
    assert!(h.key(KeyCode::Char('n')).is_empty());
    assert!(h.state.popup.is_none());
    h.key(KeyCode::Char('s'));
    let fx = h.key(KeyCode::Char('y'));
    assert!(matches!(&fx[..], [Effect::StopSandbox(id)] if id == "sb-1"));
}

#[test]
fn quit_confirms_only_when_sandboxes_run() {
    let mut h = Harness::new();
    let fx = h.key(KeyCode::Char('q'));
    assert!(matches!(&fx[..], [Effect::CheckQuit]));
    let fx = h.net(NetEvent::QuitCheck { active: 2 });
    assert!(fx.is_empty());
    assert!(matches!(
        h.state.popup,
        Some(Popup::Confirm(Confirm::Quit { active: 2 }))
    ));
    h.key(KeyCode::Esc);
    assert!(!h.state.quitting);
    h.key(KeyCode::Char('q'));
    h.net(NetEvent::QuitCheck { active: 1 });
    let fx = h.key(KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::Quit]));
    assert!(h.state.quitting);

    let mut h = Harness::new();
    h.key(KeyCode::Char('q'));
    let fx = h.net(NetEvent::QuitCheck { active: 0 });
    assert!(matches!(&fx[..], [Effect::Quit]));
}

#[test]
fn create_dialog_enter_accepts_defaults_and_new_sandbox_is_selected() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('n'));
    let fx = h.key(KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::CreateSandbox(req)] if *req == Default::default()));
    h.net(NetEvent::SandboxCreated(sandbox(
        "sb-new",
        SandboxState::Creating,
        0,
    )));
    assert_eq!(h.state.sandboxes.selected().unwrap().id, "sb-new");
    // A later refresh that still lists it keeps the selection.
    h.net(NetEvent::SandboxList(Ok(vec![
        sandbox("sb-1", SandboxState::Running, 10),
        sandbox("sb-new", SandboxState::Running, 0),
    ])));
    assert_eq!(h.state.sandboxes.selected().unwrap().id, "sb-new");
}

#[test]
fn wait_for_n_of_marked_in_finishing_order() {
    let mut h = Harness::new();
    let a = h.exec("sleep 3");
    let b = h.exec("sleep 1");
    let c = h.exec("sleep 2");
    h.key(KeyCode::Tab);
    for k in [a, b, c] {
        h.state.selected_proc = Some(k);
        h.key(KeyCode::Char(' '));
    }
    h.key(KeyCode::Char('w'));
    assert!(matches!(h.state.popup, Some(Popup::Form(_))));
    h.key(KeyCode::Backspace);
    h.typ("2");
    h.key(KeyCode::Enter);
    let w = h.state.waits.last().unwrap();
    assert_eq!((w.n, w.members.len()), (2, 3));
    h.end(b, ProcessStatus::Exited(0));
    assert!(!h.state.waits[0].is_done());
    h.end(c, ProcessStatus::Exited(1));
    let w = &h.state.waits[0];
    assert!(w.is_done());
    assert_eq!(w.place(b), Some(1));
    assert_eq!(w.place(c), Some(2));
    assert_eq!(w.pending(), vec![a]);
}

#[test]
fn wait_without_marks_explains() {
    let mut h = Harness::new();
    h.exec("true");
    h.key(KeyCode::Char('w'));
    assert!(h.state.popup.is_none());
    assert!(h.state.notice.as_ref().unwrap().text.contains("Space"));
}

#[test]
fn exec_failure_is_a_message_not_a_crash() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('x'));
    h.typ("nosuchcommand");
    let fx = h.key(KeyCode::Enter);
    let Some(Effect::Exec { key, .. }) = fx.into_iter().next() else {
        panic!()
    };
    h.net(NetEvent::ExecFailed {
        key,
        error: "not found: nosuchcommand".into(),
    });
    assert_eq!(h.state.proc(key).unwrap().state_label(), "error");
    assert!(h
        .state
        .notice
        .as_ref()
        .unwrap()
        .text
        .contains("did not start"));
}

#[test]
fn broken_connection_is_reported_once() {
    let mut h = Harness::new();
    h.net(NetEvent::SandboxList(Err("cannot reach".into())));
    assert!(h.state.notice.is_some());
    h.state.notice = None;
    h.net(NetEvent::SandboxList(Err("cannot reach".into())));
    assert!(h.state.notice.is_none());
    h.net(NetEvent::SandboxList(Ok(vec![])));
    assert_eq!(h.state.connection, crate::tui::state::Connection::Connected);
}

#[test]
fn focus_cycles_and_includes_stdin_only_when_open() {
    let mut h = Harness::new();
    assert_eq!(h.state.focus, Focus::Sandboxes);
    h.key(KeyCode::Tab);
    assert_eq!(h.state.focus, Focus::Processes);
    h.key(KeyCode::Tab);
    assert_eq!(h.state.focus, Focus::Output);
    h.key(KeyCode::Tab);
    assert_eq!(h.state.focus, Focus::Sandboxes);
    h.exec("cat");
    h.send(Msg::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    assert_eq!(h.state.focus, Focus::Stdin);
}

#[test]
fn output_scrolling_search_and_zoom() {
    let mut h = Harness::new();
    let key = h.exec("seq 50");
    for i in 0..50 {
        h.state
            .proc_mut(key)
            .unwrap()
            .pane
            .append(StreamKind::Stdout, format!("line {i}\n").as_bytes());
    }
    h.state.focus = Focus::Output;
    h.key(KeyCode::Up);
    assert!(!h.state.proc(key).unwrap().pane.following());
    h.key(KeyCode::End);
    assert!(h.state.proc(key).unwrap().pane.following());
    h.key(KeyCode::Char('/'));
    h.typ("line 1");
    h.key(KeyCode::Enter);
    let pane = &h.state.proc(key).unwrap().pane;
    assert_eq!(pane.search.as_ref().unwrap().current, Some(19));
    h.key(KeyCode::Char('N'));
    assert_eq!(
        h.state
            .proc(key)
            .unwrap()
            .pane
            .search
            .as_ref()
            .unwrap()
            .current,
        Some(18)
    );
    h.key(KeyCode::Char('z'));
    assert!(h.state.zoom);
    h.key(KeyCode::Char('W'));
    assert!(h.state.proc(key).unwrap().pane.wrap);
    let fx = h.key(KeyCode::Char('S'));
    assert!(fx.is_empty());
    let fx = h.key(KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::Save { text, .. }] if text.starts_with("line 0\n")));
}

#[test]
fn ticks_redraw_only_when_clocks_run() {
    let mut h = Harness::new();
    let later = h.state.wall + Duration::from_secs(3600);
    assert!(!on_tick(&mut h.state, Instant::now(), later));
    let key = h.exec("sleep 9");
    assert!(on_tick(&mut h.state, Instant::now(), later));
    h.end(key, ProcessStatus::Exited(0));
    assert!(!on_tick(&mut h.state, Instant::now(), later));
    assert_eq!(
        h.state.proc(key).unwrap().phase,
        Phase::Ended(ProcessStatus::Exited(0))
    );
}

#[test]
fn mouse_click_focuses_and_wheel_scrolls() {
    let mut h = Harness::new();
    let key = h.exec("seq 100");
    for i in 0..100 {
        h.state
            .proc_mut(key)
            .unwrap()
            .pane
            .append(StreamKind::Stdout, format!("{i}\n").as_bytes());
    }
    h.hits.panes = vec![(key, Rect::new(0, 20, 80, 20))];
    h.hits.sandboxes = Rect::new(0, 0, 80, 10);
    h.hits.sandbox_rows = (2, 0, 1);
    let click = |col, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    };
    h.send(Msg::Mouse(click(5, 25)));
    assert_eq!(h.state.focus, Focus::Output);
    h.send(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 5,
        row: 25,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(h.state.proc(key).unwrap().pane.scroll, 3);
    h.send(Msg::Mouse(click(5, 2)));
    assert_eq!(h.state.focus, Focus::Sandboxes);
}

#[test]
fn check_failure_is_called_out() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('x'));
    h.typ("false");
    // command, via sh -c, cwd, timeout, check
    for _ in 0..4 {
        h.key(KeyCode::Tab);
    }
    h.key(KeyCode::Char(' '));
    let fx = h.key(KeyCode::Enter);
    let Some(Effect::Exec { key, opts, .. }) = fx.into_iter().next() else {
        panic!("expected an exec");
    };
    assert!(opts.check);
    h.net(NetEvent::ExecStarted { key, stdin: true });
    h.end(key, ProcessStatus::Exited(1));
    let notice = h.state.notice.clone().unwrap();
    assert_eq!(notice.level, crate::tui::state::Level::Error);
    assert!(
        notice.text.ends_with("exit 1 (check failed)"),
        "{}",
        notice.text
    );
}

#[test]
fn terminate_quits_without_asking() {
    let mut h = Harness::new();
    h.exec("sleep 100");
    let fx = h.send(Msg::Terminate);
    assert!(matches!(&fx[..], [Effect::Quit]));
    assert!(h.state.quitting);
    assert!(h.state.popup.is_none());
}
