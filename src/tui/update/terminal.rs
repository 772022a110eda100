//! Terminal panes: keys and pastes go to the program as a terminal would
//! send them, the pane's size follows the layout, and a shell opens in the
//! selected sandbox.
use std::collections::HashMap;

use crossterm::event::KeyEvent;

use crate::client::{ExecOptions, SandboxState};
use crate::tui::msg::{Action, Effect, Focus, ProcKey};
use crate::tui::state::term::{encode_key, encode_paste};
use crate::tui::state::State;

use super::popup::start_exec;
use super::Ctx;

/// Until the first frame shows how big the pane is.
const FIRST_SIZE: (u16, u16) = (80, 24);

/// The shell when none is configured: bash where the image has it (what
/// people expect), else the POSIX sh every image has.
const DEFAULT_SHELL: &str = "if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi";

/// The process a terminal focus types into, if it still takes input.
fn target(state: &State) -> Option<ProcKey> {
    state.selected().filter(|p| p.takes_keys()).map(|p| p.key)
}

pub fn on_key(state: &mut State, key: KeyEvent, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if ctx.keymap.lookup(Focus::Terminal, &key) == Some(Action::LeaveTerminal) {
        state.focus = Focus::Output;
        return;
    }
    let Some(pk) = target(state) else {
        // The program ended (or its stdin did): the pane stays, read-only.
        state.focus = Focus::Output;
        state.info("the program has ended; keys work on the panels again");
        return;
    };
    let data = state
        .proc(pk)
        .and_then(|p| p.term.as_ref())
        .and_then(|t| encode_key(&key, t.modes()));
    if let Some(data) = data {
        if let Some(t) = state.proc_mut(pk).and_then(|p| p.term.as_mut()) {
            // Typing brings the view back to the live screen, as terminals do.
            t.to_bottom();
        }
        if !super::broadcast::keys(state, pk, &data, fx) {
            fx.push(Effect::TermInput { key: pk, data });
        }
    }
}

pub fn on_paste(state: &mut State, text: &str, fx: &mut Vec<Effect>) {
    let Some(pk) = target(state) else { return };
    if let Some(t) = state.proc(pk).and_then(|p| p.term.as_ref()) {
        let data = encode_paste(text, t.modes());
        if !super::broadcast::keys(state, pk, &data, fx) {
            fx.push(Effect::TermInput { key: pk, data });
        }
    }
}

/// After a frame: every terminal pane on screen takes the size it was drawn
/// at, and a live process is told. Returns whether any size changed.
pub fn on_drawn(state: &mut State, ctx: &Ctx, fx: &mut Vec<Effect>) -> bool {
    let inner: HashMap<ProcKey, (u16, u16)> = ctx
        .hits
        .panes
        .iter()
        .map(|(k, r)| (*k, (r.height.saturating_sub(2), r.width.saturating_sub(2))))
        .collect();
    let mut changed = false;
    for p in &mut state.procs {
        let (Some(t), Some(&(rows, cols))) = (p.term.as_mut(), inner.get(&p.key)) else {
            continue;
        };
        if rows == 0 || cols == 0 || !t.resize(rows, cols) {
            continue;
        }
        changed = true;
        if p.is_live() {
            fx.push(Effect::TermResize {
                key: p.key,
                cols,
                rows,
            });
        }
    }
    changed
}

/// The size a new terminal pane starts with: that of the selected pane on
/// screen (where the new one will most likely go), else a classic 80x24.
fn first_size(ctx: &Ctx) -> (u16, u16) {
    ctx.hits
        .panes
        .last()
        .map(|(_, r)| (r.width.saturating_sub(2), r.height.saturating_sub(2)))
        .filter(|(c, r)| *c > 0 && *r > 0)
        .unwrap_or(FIRST_SIZE)
}

/// Options of an exec on a terminal of the given size.
pub fn tty_options(cols: u16, rows: u16) -> ExecOptions {
    ExecOptions {
        stdin: true,
        tty: Some((cols, rows)),
        ..ExecOptions::default()
    }
}

pub fn open_shell(state: &mut State, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(sb) = state.sandboxes.selected() else {
        state.error("create a sandbox first (n)");
        return;
    };
    if sb.state != SandboxState::Running {
        let msg = format!(
            "sandbox {} is {}; a shell needs it running",
            sb.id, sb.state
        );
        state.error(msg);
        return;
    }
    let id = sb.id.clone();
    let argv = if state.view.shell.is_empty() {
        vec!["/bin/sh".into(), "-c".into(), DEFAULT_SHELL.into()]
    } else {
        state.view.shell.clone()
    };
    let (cols, rows) = first_size(ctx);
    let default = state.view.shell.is_empty();
    let key = start_exec(state, id, argv, tty_options(cols, rows), fx);
    if let Some(p) = state.proc_mut(key).filter(|_| default) {
        p.label = Some("shell".into());
    }
    state.focus = Focus::Terminal;
    let leave = ctx.keymap.key_for(Action::LeaveTerminal);
    state.info(format!("shell opened; {leave} leaves the terminal pane"));
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::layout::Rect;

    use crate::tui::msg::{Effect, Focus, Msg, NetEvent};
    use crate::tui::update::tests::Harness;

    fn inputs(fx: &[Effect]) -> Vec<Vec<u8>> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::TermInput { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    /// Opens a shell and confirms its start as the network side would.
    fn shell(h: &mut Harness) -> u64 {
        let fx = h.key(KeyCode::Char('o'));
        let Some(Effect::Exec { key, opts, .. }) = fx.first() else {
            panic!("a shell exec: {fx:?}");
        };
        assert_eq!(opts.tty, Some((80, 24)));
        assert!(opts.stdin);
        let key = *key;
        h.net(NetEvent::ExecStarted { key, stdin: true });
        key
    }

    #[test]
    fn every_key_but_the_chord_goes_to_the_program() {
        let mut h = Harness::new();
        shell(&mut h);
        assert_eq!(h.state.focus, Focus::Terminal);
        let mut fx = h.typ("q?");
        fx.extend(h.ctrl('c'));
        fx.extend(h.key(KeyCode::Tab));
        fx.extend(h.key(KeyCode::Esc));
        assert_eq!(
            inputs(&fx),
            [
                b"q".to_vec(),
                b"?".to_vec(),
                vec![3],
                b"\t".to_vec(),
                vec![0x1b]
            ]
        );
        assert!(h.state.popup.is_none() && !h.state.quitting);
        // Ctrl-] arrives from crossterm as Ctrl-5.
        let fx = h.send(Msg::Key(KeyEvent::new(
            KeyCode::Char('5'),
            KeyModifiers::CONTROL,
        )));
        assert!(inputs(&fx).is_empty());
        assert_eq!(h.state.focus, Focus::Output);
        // Enter (or i) types into it again.
        h.key(KeyCode::Enter);
        assert_eq!(h.state.focus, Focus::Terminal);
    }

    #[test]
    fn the_pane_size_reaches_the_program_once_per_change() {
        let mut h = Harness::new();
        let key = shell(&mut h);
        h.hits.panes = vec![(key, Rect::new(0, 10, 62, 22))];
        let fx = h.send(Msg::Drawn);
        assert!(
            matches!(
                fx.as_slice(),
                [Effect::TermResize {
                    cols: 60,
                    rows: 20,
                    ..
                }]
            ),
            "{fx:?}"
        );
        assert!(
            h.send(Msg::Drawn).is_empty(),
            "the same size is not sent again"
        );
    }

    #[test]
    fn questions_to_the_terminal_are_answered() {
        let mut h = Harness::new();
        let key = shell(&mut h);
        let inbox = h.state.proc(key).unwrap().pane.inbox.clone();
        inbox.push(
            crate::client::StreamKind::Stdout,
            bytes::Bytes::from_static(b"$ \x1b[6n"),
        );
        let fx = h.net(NetEvent::PaneChanged(key));
        assert_eq!(inputs(&fx), [b"\x1b[1;3R".to_vec()]);
    }
}
