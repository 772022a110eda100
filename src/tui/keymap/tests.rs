use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::defaults::DEFAULTS;
use super::teaching::TEACHING;
use super::*;

fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, mods)
}

#[test]
fn every_default_parses() {
    for r in DEFAULTS.iter().chain(TEACHING) {
        for k in r.keys.iter() {
            assert!(KeyCombo::parse(k).is_ok(), "{}: {k}", r.name);
        }
    }
}

#[test]
fn the_defaults_have_no_conflicts() {
    Keymap::default().check_conflicts().unwrap();
}

#[test]
fn parses_specs() {
    let c = KeyCombo::parse("ctrl-d").unwrap();
    assert_eq!(
        c,
        KeyCombo {
            code: KeyCode::Char('d'),
            mods: KeyModifiers::CONTROL
        }
    );
    assert_eq!(
        KeyCombo::parse("shift-g").unwrap(),
        KeyCombo::parse("G").unwrap()
    );
    assert_eq!(KeyCombo::parse("shift-tab").unwrap().code, KeyCode::BackTab);
    assert_eq!(KeyCombo::parse("f3").unwrap().code, KeyCode::F(3));
    assert!(KeyCombo::parse("ctrl-").is_err());
    assert!(KeyCombo::parse("hyper").is_err());
    assert!(KeyCombo::parse("f13").is_err());
}

#[test]
fn focus_scope_wins_over_global() {
    let km = Keymap::default();
    let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
    assert_eq!(km.lookup(Focus::Sandboxes, &n), Some(Action::NewSandbox));
    assert_eq!(km.lookup(Focus::Output, &n), Some(Action::SearchNext));
    let shift_n = key(KeyCode::Char('N'), KeyModifiers::SHIFT);
    assert_eq!(km.lookup(Focus::Output, &shift_n), Some(Action::SearchPrev));
}

#[test]
fn stdin_box_keeps_letters() {
    let km = Keymap::default();
    let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
    assert_eq!(km.lookup(Focus::Stdin, &q), None);
    let ctrl_d = key(KeyCode::Char('d'), KeyModifiers::CONTROL);
    assert_eq!(km.lookup(Focus::Stdin, &ctrl_d), Some(Action::SendEof));
    let tab = key(KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(km.lookup(Focus::Stdin, &tab), Some(Action::FocusNext));
    let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(km.lookup(Focus::Stdin, &ctrl_c), Some(Action::Quit));
    let up = key(KeyCode::Up, KeyModifiers::NONE);
    assert_eq!(km.lookup(Focus::Stdin, &up), Some(Action::HistoryPrev));
}

#[test]
fn popups_are_scopes_of_their_own() {
    let mut km = Keymap::default();
    let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
    assert_eq!(
        km.lookup_popup(PopupScope::Confirm, &n),
        Some(Action::Cancel)
    );
    assert_eq!(km.lookup_popup(PopupScope::Form, &n), None, "typed");
    let esc = key(KeyCode::Esc, KeyModifiers::NONE);
    assert_eq!(
        km.lookup_popup(PopupScope::Help, &esc),
        Some(Action::Cancel)
    );
    km.rebind("confirm_yes", &["o".into()]).unwrap();
    let o = key(KeyCode::Char('o'), KeyModifiers::NONE);
    assert_eq!(
        km.lookup_popup(PopupScope::Confirm, &o),
        Some(Action::Confirm)
    );
    let y = key(KeyCode::Char('y'), KeyModifiers::NONE);
    assert_eq!(km.lookup_popup(PopupScope::Confirm, &y), None);
    assert_eq!(
        km.popup_hints(PopupScope::Confirm),
        vec![
            (vec!["o".to_string()], "yes"),
            (vec!["n".into(), "N".into(), "Esc".into()], "no")
        ]
    );
}

#[test]
fn hints_skip_shadowed_global_keys() {
    let km = Keymap::default();
    let out = km.hints(Focus::Output);
    assert!(out.contains(&("n".to_string(), "next")));
    assert!(!out.iter().any(|(_, l)| *l == "new"));
    let sb = km.hints(Focus::Sandboxes);
    assert!(sb.contains(&("n".to_string(), "new")));
    let stdin = km.hints(Focus::Stdin);
    assert_eq!(stdin.len(), 4);
}

#[test]
fn rebinding_changes_lookup_and_help() {
    let mut km = Keymap::default();
    km.rebind("quit", &["ctrl-q".into()]).unwrap();
    let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
    assert_eq!(km.lookup(Focus::Sandboxes, &q), None);
    let cq = key(KeyCode::Char('q'), KeyModifiers::CONTROL);
    assert_eq!(km.lookup(Focus::Sandboxes, &cq), Some(Action::Quit));
    let help = km.help();
    assert!(help[0].1.iter().any(|(k, _)| k == "Ctrl-Q"));
    assert!(km.rebind("nope", &["x".into()]).is_err());
}

#[test]
fn a_key_bound_twice_in_one_scope_is_refused_with_both_names() {
    let mut km = Keymap::default();
    km.rebind("kill", &["x".into()]).unwrap();
    let e = km.check_conflicts().unwrap_err().to_string();
    assert!(
        e.contains("`exec`") && e.contains("`kill`") && e.contains(" x ") && e.contains("global"),
        "{e}"
    );
    // In another scope the same key is fine: the panel's binding wins there.
    let mut km = Keymap::default();
    km.rebind("search_next", &["x".into()]).unwrap();
    km.check_conflicts().unwrap();
    let mut km = Keymap::default();
    km.rebind("dialog_ok", &["tab".into()]).unwrap();
    let e = km.check_conflicts().unwrap_err().to_string();
    assert!(
        e.contains("dialog_next_field") && e.contains("dialog"),
        "{e}"
    );
}
