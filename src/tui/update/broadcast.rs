//! Broadcast input: one line (or EOF, or a terminal's keystrokes) to every
//! marked process. A process that cannot take it is skipped and named;
//! it never stops the others from getting theirs.
use crate::tui::msg::{Effect, ProcKey};
use crate::tui::state::procs::StdinState;
use crate::tui::state::State;

use super::stdin::{eof_to, line_to};

/// The broadcast key: on (for the marked processes) or off.
pub fn toggle(state: &mut State) {
    if state.broadcast {
        state.broadcast = false;
        state.info("broadcast off: input goes to the selected process again");
        return;
    }
    let marked = state.marked();
    if marked.is_empty() {
        state.error("mark the processes to broadcast to with Space first");
        return;
    }
    state.broadcast = true;
    let names: Vec<String> = marked.iter().map(|k| format!("p{k}")).collect();
    state.info(format!(
        "broadcast to {}: i types a line for all of them, b ends it",
        names.join(" ")
    ));
}

/// The marked processes that take input, and why each of the others does
/// not ("p3 exit 0", "p4 no stdin").
fn targets(state: &State) -> (Vec<ProcKey>, Vec<String>) {
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for p in state.procs.iter().filter(|p| p.marked) {
        if !p.is_live() {
            skipped.push(format!("p{} {}", p.key, p.state_label()));
        } else {
            match p.stdin {
                StdinState::Open => ok.push(p.key),
                StdinState::NotOpened => skipped.push(format!("p{} no stdin", p.key)),
                StdinState::Closed => skipped.push(format!("p{} stdin closed", p.key)),
            }
        }
    }
    (ok, skipped)
}

/// Says what happened: how many got it, and who was skipped and why.
fn report(state: &mut State, what: &str, sent: &[ProcKey], skipped: &[String]) {
    let to: Vec<String> = sent.iter().map(|k| format!("p{k}")).collect();
    let mut text = if sent.is_empty() {
        format!("{what} reached no process")
    } else {
        format!("{what} sent to {} ({})", to.len(), to.join(" "))
    };
    if !skipped.is_empty() {
        text.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    if sent.is_empty() {
        state.error(text);
    } else {
        state.info(text);
    }
}

/// A line to every marked process: on a terminal as typed keys and
/// Enter, else to its stdin.
pub fn send_line(state: &mut State, line: &str, fx: &mut Vec<Effect>) {
    let (sent, skipped) = targets(state);
    for &key in &sent {
        if state.proc(key).is_some_and(|p| p.term.is_some()) {
            let mut data = line.as_bytes().to_vec();
            data.push(b'\r');
            fx.push(Effect::TermInput { key, data });
            if let Some(p) = state.proc_mut(key) {
                p.history.push(line);
            }
        } else {
            line_to(state, key, line, fx);
        }
    }
    report(state, "line", &sent, &skipped);
}

pub fn send_eof(state: &mut State, fx: &mut Vec<Effect>) {
    let (sent, skipped) = targets(state);
    for &key in &sent {
        eof_to(state, key, fx);
    }
    report(state, "EOF", &sent, &skipped);
}

/// Keystrokes typed into a marked terminal pane go to every marked
/// process on a terminal. Returns false when the pane is not part of the
/// broadcast (its keys then go to it alone).
pub fn keys(state: &mut State, from: ProcKey, data: &[u8], fx: &mut Vec<Effect>) -> bool {
    if !state.broadcast || !state.proc(from).is_some_and(|p| p.marked) {
        return false;
    }
    let (sent, _) = targets(state);
    for key in sent {
        if state.proc(key).is_some_and(|p| p.term.is_some()) {
            fx.push(Effect::TermInput {
                key,
                data: data.to_vec(),
            });
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ProcessStatus;
    use crate::tui::update::tests::Harness;

    #[test]
    fn a_line_goes_to_every_marked_process_and_the_rest_are_named() {
        let mut h = Harness::new();
        let keys: Vec<ProcKey> = (0..4).map(|_| h.exec("cat")).collect();
        h.end(keys[1], ProcessStatus::Exited(0));
        for p in &mut h.state.procs {
            p.marked = p.key != keys[3];
        }
        h.state.proc_mut(keys[2]).unwrap().stdin = StdinState::NotOpened;
        toggle(&mut h.state);
        assert!(h.state.broadcast);
        let mut fx = Vec::new();
        send_line(&mut h.state, "hello", &mut fx);
        let to: Vec<ProcKey> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::StdinWrite { key, data } if data == "hello\n" => Some(*key),
                _ => None,
            })
            .collect();
        assert_eq!(to, vec![keys[0]]);
        let notice = h.state.notice.as_ref().unwrap().text.clone();
        assert!(notice.contains("sent to 1 (p1)"), "{notice}");
        assert!(notice.contains("p2 exit 0"), "{notice}");
        assert!(notice.contains("p3 no stdin"), "{notice}");
        assert!(!notice.contains("p4"), "{notice}");
    }

    #[test]
    fn keys_typed_into_a_marked_terminal_reach_every_marked_terminal() {
        use crate::tui::state::term::TermPane;
        let mut h = Harness::new();
        let k: Vec<ProcKey> = (0..4).map(|_| h.exec("sh")).collect();
        for p in &mut h.state.procs {
            p.marked = p.key != k[3];
            if p.key != k[2] {
                p.term = Some(TermPane::new(24, 80, 100));
            }
        }
        toggle(&mut h.state);
        let mut fx = Vec::new();
        assert!(super::keys(&mut h.state, k[0], b"ls\r", &mut fx));
        let to: Vec<ProcKey> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::TermInput { key, data } if data == b"ls\r" => Some(*key),
                _ => None,
            })
            .collect();
        // The marked pipe (k[2]) gets no keystrokes; the unmarked pane
        // neither.
        assert_eq!(to, vec![k[0], k[1]]);
        // From a pane outside the broadcast, keys go to it alone.
        assert!(!super::keys(&mut h.state, k[3], b"x", &mut Vec::new()));
        // A line from the box reaches terminals as typed, with Enter.
        let mut fx = Vec::new();
        send_line(&mut h.state, "pwd", &mut fx);
        assert!(fx.iter().any(
            |e| matches!(e, Effect::TermInput { key, data } if *key == k[1] && data == b"pwd\r")
        ));
        assert!(fx.iter().any(
            |e| matches!(e, Effect::StdinWrite { key, data } if *key == k[2] && data == "pwd\n")
        ));
    }

    #[test]
    fn broadcast_needs_marks() {
        let mut h = Harness::new();
        h.exec("cat");
        toggle(&mut h.state);
        assert!(!h.state.broadcast);
        assert!(h.state.notice.as_ref().unwrap().text.contains("Space"));
    }
}
