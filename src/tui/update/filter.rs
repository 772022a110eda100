//! Typing into a list's filter box: the list narrows with every key.
//! Enter keeps the filter and gives the keys back to the list; Esc clears
//! it; Up and Down still move through what is left.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::state::filter::ListFilter;
use crate::tui::state::State;

use super::actions::step;

pub fn start(state: &mut State) {
    if let Some(f) = state.focused_filter_mut() {
        f.editing = true;
    }
}

pub fn on_key(state: &mut State, key: KeyEvent) {
    match key.code {
        KeyCode::Up => return step(state, -1),
        KeyCode::Down => return step(state, 1),
        _ => {}
    }
    let Some(f) = state.focused_filter_mut() else {
        return;
    };
    match key.code {
        KeyCode::Enter => f.editing = false,
        KeyCode::Esc => *f = ListFilter::default(),
        KeyCode::Backspace => {
            f.query.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => f.query.clear(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => f.query.push(c),
        _ => return,
    }
    changed(state);
}

/// After the query changed: keep the selections on rows still listed.
fn changed(state: &mut State) {
    state.sandboxes.refilter();
    let listed = state.listed_procs();
    if !listed.iter().any(|p| Some(p.key) == state.selected_proc) {
        state.selected_proc = listed.last().map(|p| p.key);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;

    use crate::client::SandboxState;
    use crate::tui::msg::Focus;
    use crate::tui::state::sandboxes::tests::sandbox;
    use crate::tui::update::tests::Harness;

    fn listed(h: &Harness) -> Vec<String> {
        h.state
            .sandboxes
            .visible()
            .iter()
            .map(|s| s.id.clone())
            .collect()
    }

    #[test]
    fn typing_narrows_the_list_and_keys_come_back_after_enter() {
        let mut h = Harness::new();
        let mut gpu = sandbox("sb-2", SandboxState::Running, 5);
        gpu.tags = vec!["gpu".into()];
        h.state.sandboxes.replace(vec![
            sandbox("sb-1", SandboxState::Running, 10),
            gpu,
            sandbox("sb-3", SandboxState::Running, 1),
        ]);
        h.state.focus = Focus::Sandboxes;
        h.key(KeyCode::Char('/'));
        // `n` and `q` are text here, not "new sandbox" and "quit".
        let fx = h.typ("gpu");
        assert!(fx.is_empty() && h.state.popup.is_none());
        assert_eq!(listed(&h), ["sb-2"]);
        assert_eq!(
            h.state.sandboxes.selected().map(|s| s.id.as_str()),
            Some("sb-2")
        );
        h.key(KeyCode::Backspace);
        h.key(KeyCode::Backspace);
        h.key(KeyCode::Backspace);
        assert_eq!(listed(&h).len(), 3);
        h.typ("sb-1");
        h.key(KeyCode::Enter);
        assert_eq!(listed(&h), ["sb-1"]);
        // The filter stays; keys are the list's again.
        h.key(KeyCode::Char('n'));
        assert!(h.state.popup.is_some(), "n opens the new-sandbox dialog");
        h.key(KeyCode::Esc);
        // Esc while typing a filter clears it.
        h.key(KeyCode::Char('/'));
        h.key(KeyCode::Esc);
        assert_eq!(listed(&h).len(), 3);
    }

    #[test]
    fn processes_filter_by_command_and_state() {
        let mut h = Harness::new();
        let a = h.exec("sleep 100");
        let b = h.exec("python3 -i");
        h.end(b, crate::client::ProcessStatus::Exited(0));
        h.state.focus = Focus::Processes;
        h.key(KeyCode::Char('/'));
        h.typ("running");
        let keys: Vec<u64> = h.state.listed_procs().iter().map(|p| p.key).collect();
        assert_eq!(keys, [a]);
        assert_eq!(h.state.selected_proc, Some(a));
        h.key(KeyCode::Esc);
        h.key(KeyCode::Char('/'));
        h.typ("PYTHON");
        let keys: Vec<u64> = h.state.listed_procs().iter().map(|p| p.key).collect();
        assert_eq!(keys, [b]);
    }
}
