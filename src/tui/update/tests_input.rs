//! Update tests for the stdin box (EOF after typing, history), marks and
//! waits, kill reports, saving and popup keys. Same harness as `tests`.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tests::Harness;
use super::*;
use crate::client::ProcessStatus;
use crate::tui::state::forms::Popup;

fn notice(h: &Harness) -> String {
    h.state
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

#[test]
fn ctrl_d_sends_what_is_typed_then_eof() {
    let mut h = Harness::new();
    let key = h.exec("cat");
    h.key(KeyCode::Char('i'));
    h.typ("partial");
    let fx = h.ctrl('d');
    assert!(
        matches!(&fx[..], [Effect::StdinWrite { key: k, data }, Effect::StdinEof { key: k2 }]
            if *k == key && *k2 == key && data == "partial"),
        "{fx:?}"
    );
    assert!(h.state.stdin.is_empty());
    assert!(notice(&h).contains("then EOF"), "{}", notice(&h));
}

#[test]
fn up_and_down_recall_lines_sent_to_this_process() {
    let mut h = Harness::new();
    let first = h.exec("cat");
    h.key(KeyCode::Char('i'));
    for line in ["one", "two"] {
        h.typ(line);
        h.key(KeyCode::Enter);
    }
    h.typ("draft");
    h.key(KeyCode::Up);
    assert_eq!(h.state.stdin.lines().join(""), "two");
    h.key(KeyCode::Up);
    assert_eq!(h.state.stdin.lines().join(""), "one");
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    assert_eq!(h.state.stdin.lines().join(""), "draft");
    // A recalled line is sent like a typed one.
    h.state.stdin = tui_textarea::TextArea::default();
    h.key(KeyCode::Up);
    let fx = h.key(KeyCode::Enter);
    assert!(
        matches!(&fx[..], [Effect::StdinWrite { key, data }] if *key == first && data == "two\n")
    );
    // Another process has a history of its own.
    h.key(KeyCode::Esc);
    h.exec("cat");
    h.key(KeyCode::Char('i'));
    h.key(KeyCode::Up);
    assert!(h.state.stdin.is_empty());
}

#[test]
fn kill_says_sent_until_the_exit_arrives() {
    let mut h = Harness::new();
    let key = h.exec("sleep 100");
    h.key(KeyCode::Tab);
    h.key(KeyCode::Char('k'));
    assert!(notice(&h).contains("kill sent to p1"), "{}", notice(&h));
    assert_eq!(h.state.proc(key).unwrap().state_label(), "running");
    h.end(key, ProcessStatus::Killed);
    assert!(notice(&h).contains("killed"), "{}", notice(&h));
}

fn mark_all(h: &mut Harness, keys: &[u64]) {
    h.state.focus = Focus::Processes;
    for k in keys {
        h.state.selected_proc = Some(*k);
        h.key(KeyCode::Char(' '));
    }
}

#[test]
fn u_clears_every_mark() {
    let mut h = Harness::new();
    let keys = [h.exec("sleep 1"), h.exec("sleep 2")];
    mark_all(&mut h, &keys);
    assert_eq!(h.state.marked().len(), 2);
    h.key(KeyCode::Char('u'));
    assert!(h.state.marked().is_empty());
    assert!(notice(&h).contains("unmarked 2"), "{}", notice(&h));
}

#[test]
fn a_finished_wait_uses_up_its_marks() {
    let mut h = Harness::new();
    let keys = [h.exec("sleep 1"), h.exec("sleep 2")];
    let other = h.exec("sleep 3");
    mark_all(&mut h, &keys);
    h.key(KeyCode::Char('w'));
    h.key(KeyCode::Enter);
    assert_eq!(h.state.waits[0].n, 1);
    // While waiting the marks show what is waited for.
    assert_eq!(h.state.marked(), keys.to_vec());
    // A process marked meanwhile is not part of the wait and keeps its mark.
    h.state.selected_proc = Some(other);
    h.key(KeyCode::Char(' '));
    h.end(keys[1], ProcessStatus::Exited(0));
    assert!(h.state.waits[0].is_done());
    assert_eq!(h.state.marked(), vec![other]);
}

#[test]
fn save_goes_into_the_save_dir_unless_absolute() {
    let mut h = Harness::new();
    h.exec("echo hi");
    h.state.focus = Focus::Processes;
    h.key(KeyCode::Char('S'));
    let fx = h.key(KeyCode::Enter);
    assert!(
        matches!(&fx[..], [Effect::Save { path, .. }] if path == std::path::Path::new("/saved/here/sandscope-p1.log")),
        "{fx:?}"
    );
    h.key(KeyCode::Char('S'));
    let Some(Popup::Form(form)) = &mut h.state.popup else {
        panic!("the save dialog")
    };
    if let Some(crate::tui::state::forms::FieldKind::Text(ta)) =
        form.focused_field_mut().map(|f| &mut f.kind)
    {
        **ta = tui_textarea::TextArea::new(vec!["mine.log".into()]);
    }
    let fx = h.key(KeyCode::Enter);
    assert!(
        matches!(&fx[..], [Effect::Save { path, .. }] if path == std::path::Path::new("/saved/here/mine.log")),
        "{fx:?}"
    );
}

#[test]
fn popup_keys_follow_the_keymap() {
    let mut h = Harness::new();
    h.keymap.rebind("confirm_yes", &["o".into()]).unwrap();
    h.keymap.rebind("help_close", &["x".into()]).unwrap();
    h.key(KeyCode::Char('s'));
    assert!(matches!(h.state.popup, Some(Popup::Confirm(_))));
    // `y` is no longer yes; `o` is.
    assert!(h.key(KeyCode::Char('y')).is_empty());
    assert!(h.state.popup.is_some());
    let fx = h.key(KeyCode::Char('o'));
    assert!(matches!(&fx[..], [Effect::StopSandbox(id)] if id == "sb-1"));
    h.key(KeyCode::Char('?'));
    h.key(KeyCode::Esc);
    assert!(
        matches!(h.state.popup, Some(Popup::Help { .. })),
        "Esc was rebound away"
    );
    h.key(KeyCode::Char('x'));
    assert!(h.state.popup.is_none());
    // In a dialog, a toggle key in a text field is typed.
    h.key(KeyCode::Char('x'));
    h.typ("echo a b");
    let fx = h.send(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert!(matches!(&fx[..], [Effect::Exec { argv, .. }] if argv == &["echo", "a", "b"]));
}
