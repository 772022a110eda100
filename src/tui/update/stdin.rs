//! The stdin box: typing, sending lines, pasting, EOF, history.
use crossterm::event::{KeyCode, KeyEvent};

use crate::tui::msg::{Effect, ProcKey};
use crate::tui::state::procs::{Phase, StdinState};
use crate::tui::state::State;

pub fn type_key(state: &mut State, key: KeyEvent) {
    // A newline in the box would send nothing useful: Enter is bound to
    // "send", so only a stray one from a terminal could get here.
    if matches!(key.code, KeyCode::Enter) {
        return;
    }
    state.stdin.input(key);
    // The box holds one line; a newline some other key produced is folded
    // back so what is shown is what Enter sends.
    if state.stdin.lines().len() > 1 {
        let line = state.stdin.lines().join("");
        state.stdin = tui_textarea::TextArea::new(vec![line]);
        state.stdin.move_cursor(tui_textarea::CursorMove::End);
    }
}

/// The process stdin goes to, or a message saying why there is none.
fn target(state: &State) -> Result<ProcKey, String> {
    let p = state.selected().ok_or("no process selected")?;
    match (&p.phase, p.stdin) {
        (Phase::Starting | Phase::Running, StdinState::Open) => Ok(p.key),
        (Phase::Starting | Phase::Running, StdinState::Closed) => {
            Err(format!("stdin of p{} is closed (EOF was sent)", p.key))
        }
        (Phase::Starting | Phase::Running, StdinState::NotOpened) => {
            Err(format!("p{} was started without stdin", p.key))
        }
        _ => Err(format!(
            "p{} has exited ({}); nothing was sent",
            p.key,
            p.state_label()
        )),
    }
}

/// Shows input in the process's pane, as a terminal's echo would, unless
/// turned off or a pseudo-terminal echoes it already. Output that arrived
/// before the input goes first.
pub fn echo(state: &mut State, key: ProcKey, data: &str) {
    if !state.view.echo_stdin {
        return;
    }
    if let Some(p) = state.proc_mut(key).filter(|p| !p.tty) {
        p.drain_output();
        p.pane.echo_input(data);
    }
}

/// How the end of input is shown in the pane, like a terminal shows Ctrl-D.
pub const EOF_ECHO: &str = "^D\n";

pub fn send_line(state: &mut State, fx: &mut Vec<Effect>) {
    if state.broadcast {
        let line = state.stdin.lines().join("");
        state.stdin = tui_textarea::TextArea::default();
        super::broadcast::send_line(state, &line, fx);
        return;
    }
    match target(state) {
        Ok(key) => {
            let line = state.stdin.lines().join("");
            line_to(state, key, &line, fx);
            state.stdin = tui_textarea::TextArea::default();
        }
        Err(e) => state.error(e),
    }
}

/// One line to one process's stdin, echoed and remembered like a typed one.
pub fn line_to(state: &mut State, key: ProcKey, line: &str, fx: &mut Vec<Effect>) {
    remember(state, key, line);
    let data = format!("{line}\n");
    echo(state, key, &data);
    fx.push(Effect::StdinWrite { key, data });
}

/// The end of input to one process: Ctrl-D on its terminal if it has one,
/// else its stdin is closed.
pub fn eof_to(state: &mut State, key: ProcKey, fx: &mut Vec<Effect>) {
    if state.proc(key).is_some_and(|p| p.term.is_some()) {
        fx.push(Effect::TermInput {
            key,
            data: vec![0x04],
        });
        return;
    }
    echo(state, key, EOF_ECHO);
    fx.push(Effect::StdinEof { key });
    if let Some(p) = state.proc_mut(key) {
        p.stdin = StdinState::Closed;
    }
}

/// Like a terminal's Ctrl-D: what is typed but not sent goes first (as
/// is, without a newline), then the end of input.
pub fn send_eof(state: &mut State, fx: &mut Vec<Effect>) {
    if state.broadcast {
        super::broadcast::send_eof(state, fx);
        return;
    }
    match target(state) {
        Ok(key) => {
            let typed = state.stdin.lines().join("");
            if !typed.is_empty() {
                remember(state, key, &typed);
                echo(state, key, &typed);
                fx.push(Effect::StdinWrite {
                    key,
                    data: typed.clone(),
                });
                state.stdin = tui_textarea::TextArea::default();
            }
            eof_to(state, key, fx);
            state.info(if typed.is_empty() {
                format!("sent EOF to p{key}")
            } else {
                format!("sent {} typed byte(s), then EOF, to p{key}", typed.len())
            });
        }
        Err(e) => state.error(e),
    }
}

fn remember(state: &mut State, key: ProcKey, line: &str) {
    if let Some(p) = state.proc_mut(key) {
        p.history.push(line);
    }
}

/// Up / Down in the stdin box: an earlier or later line sent to the
/// selected process replaces what the box shows.
pub fn recall(state: &mut State, older: bool) {
    let current = state.stdin.lines().join("");
    let Some(p) = state.selected_mut() else {
        return;
    };
    if let Some(text) = p.history.step(older, &current) {
        state.stdin = tui_textarea::TextArea::new(vec![text]);
        state.stdin.move_cursor(tui_textarea::CursorMove::End);
    }
}

/// Pasted text: every complete line is sent at once (the box's current
/// text goes in front of the first); a last line without a newline stays
/// in the box to be edited.
pub fn paste(state: &mut State, text: &str, fx: &mut Vec<Effect>) {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let Some(last_nl) = text.rfind('\n') else {
        state.stdin.insert_str(&text);
        return;
    };
    if state.broadcast {
        let head = state.stdin.lines().join("");
        let (lines, tail) = text.split_at(last_nl + 1);
        let data = format!("{head}{lines}");
        for line in data.lines() {
            super::broadcast::send_line(state, line, fx);
        }
        state.stdin = tui_textarea::TextArea::default();
        state.stdin.insert_str(tail);
        return;
    }
    let key = match target(state) {
        Ok(k) => k,
        Err(e) => {
            state.error(e);
            return;
        }
    };
    let head = state.stdin.lines().join("");
    let (lines, tail) = text.split_at(last_nl + 1);
    let data = format!("{head}{lines}");
    let count = data.matches('\n').count();
    for line in data.lines() {
        remember(state, key, line);
    }
    echo(state, key, &data);
    fx.push(Effect::StdinWrite { key, data });
    state.stdin = tui_textarea::TextArea::default();
    state.stdin.insert_str(tail);
    state.info(format!("sent {count} pasted line(s) to p{key}"));
}
