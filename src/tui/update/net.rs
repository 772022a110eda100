//! Reactions to what the network side reports.
use crate::client::ProcessStatus;
use crate::tui::msg::{Effect, NetEvent, ProcKey, ScriptEvent};
use crate::tui::state::forms::{Confirm, Popup};
use crate::tui::state::procs::{Phase, StdinState};
use crate::tui::state::{Connection, State};

use super::stdin::{echo, EOF_ECHO};

pub fn on_net(state: &mut State, ev: NetEvent, fx: &mut Vec<Effect>) -> bool {
    match ev {
        NetEvent::SandboxList(Ok(list)) => {
            if matches!(state.connection, Connection::Broken(_)) {
                state.info("connected again");
            }
            let was_broken = state.connection != Connection::Connected;
            state.connection = Connection::Connected;
            let changed = state.sandboxes.replace(list);
            state.fix_proc_selection();
            return changed || was_broken;
        }
        NetEvent::SandboxList(Err(e)) => {
            // Report a broken connection once, not on every refresh.
            if !matches!(state.connection, Connection::Broken(_)) {
                state.error(format!("listing sandboxes failed: {e}"));
            }
            state.connection = Connection::Broken(e);
        }
        NetEvent::SandboxUpdated(sb) => {
            state.sandboxes.upsert(sb);
            state.fix_proc_selection();
        }
        NetEvent::SandboxCreated(sb) => {
            let id = sb.id.clone();
            state.info(format!("created {id} ({})", sb.state));
            state.sandboxes.upsert(sb);
            state.sandboxes.select_id(&id);
            state.fix_proc_selection();
        }
        NetEvent::SandboxFailed { what, error } => state.error(format!("{what}: {error}")),
        NetEvent::Snapshot(Ok(snap)) => {
            state.info(format!(
                "snapshot {} of {} ready ({} bytes): n creates sandboxes from it",
                snap.id, snap.source_sandbox_id, snap.size_bytes
            ));
            state.last_snapshot = Some(snap.id);
        }
        NetEvent::Snapshot(Err(e)) => state.error(format!("snapshot: {e}")),
        NetEvent::ExecStarted { key, stdin } => {
            tracing::info!(key, "process started");
            exec_started(state, key, stdin, fx);
        }
        NetEvent::ExecFailed { key, error } => {
            let now = state.now;
            if let Some(p) = state.proc_mut(key) {
                p.phase = Phase::FailedToStart(error.clone());
                p.ended = Some(now);
            }
            finished(state, key, ProcessStatus::Error(error.clone()));
            state.error(format!("p{key} did not start: {error}"));
            super::demo::on_ended(state, key, fx);
            super::demo::on_wait(state, fx);
        }
        NetEvent::PaneChanged(key) => {
            let Some(p) = state.proc_mut(key) else {
                return false;
            };
            let changed = p.drain_output();
            // The program asked its terminal something (where the cursor
            // is, what terminal this is): the emulator's answer is input.
            let live = p.is_live();
            if let Some(replies) = p.term.as_mut().map(|t| t.take_replies()) {
                if live && !replies.is_empty() {
                    fx.push(Effect::TermInput { key, data: replies });
                }
            }
            if changed {
                super::demo::on_output(state, key, fx);
            }
            return changed;
        }
        NetEvent::ProcessEnded { key, status } => {
            let now = state.now;
            let Some(p) = state.proc_mut(key) else {
                return false;
            };
            // Output that arrived before the exit belongs before the status.
            p.drain_output();
            // What the pane received, to check a run against what the
            // process printed.
            tracing::info!(key, bytes_out = p.pane.bytes_out, %status, "process finished");
            p.phase = Phase::Ended(status.clone());
            p.ended = Some(now);
            let mut text = format!(
                "p{key} ({}) finished: {}",
                p.brief_command(),
                p.state_label()
            );
            if p.check && matches!(status, ProcessStatus::Exited(c) if c != 0) {
                text.push_str(" (check failed)");
            }
            let failed = status != ProcessStatus::Exited(0);
            finished(state, key, status);
            if failed {
                state.error(text);
            } else {
                state.info(text);
            }
            super::demo::on_ended(state, key, fx);
            super::demo::on_wait(state, fx);
        }
        ev @ (NetEvent::LogsChanged { .. }
        | NetEvent::LogsEnded { .. }
        | NetEvent::Details { .. }
        | NetEvent::Processes { .. }
        | NetEvent::Listing { .. }
        | NetEvent::FileRead { .. }
        | NetEvent::Done(_)
        | NetEvent::ForwardListening { .. }
        | NetEvent::ForwardFailed { .. }
        | NetEvent::ForwardCounts { .. }) => return super::detail::on_net(state, ev, fx),
        NetEvent::StdinClosed { key } => {
            if let Some(p) = state.proc_mut(key) {
                p.stdin = StdinState::Closed;
            }
        }
        NetEvent::StdinFailed { key, error } => state.error(format!("stdin of p{key}: {error}")),
        NetEvent::Saved { path, result } => match result {
            Ok(n) => state.info(format!("saved {n} bytes to {}", path.display())),
            Err(e) => state.error(format!("saving {} failed: {e}", path.display())),
        },
        NetEvent::QuitCheck { active } => {
            if active == 0 {
                state.quitting = true;
                fx.push(Effect::Quit);
            } else {
                state.popup = Some(Popup::Confirm(Confirm::Quit { active }));
            }
        }
        NetEvent::Script(ev) => on_script(state, ev, fx),
        NetEvent::RecordingStarted(path) => {
            state.info(format!("recording the screen to {}", path.display()));
            state.recording = Some(path);
        }
        NetEvent::RecordingStopped { path, result } => {
            state.recording = None;
            match result {
                Ok(summary) => state.info(format!("recorded {summary} to {}", path.display())),
                Err(e) => state.error(format!("recording to {} failed: {e}", path.display())),
            }
        }
    }
    true
}

fn exec_started(state: &mut State, key: ProcKey, stdin: bool, fx: &mut Vec<Effect>) {
    let Some(p) = state.proc_mut(key) else { return };
    if p.phase == Phase::Starting {
        p.phase = Phase::Running;
    }
    if stdin {
        p.stdin = StdinState::Open;
    }
    let input = std::mem::take(&mut p.queued_input);
    let close = std::mem::replace(&mut p.close_after_input, false);
    if !stdin {
        return;
    }
    if close {
        p.stdin = StdinState::Closed;
    }
    if !input.is_empty() {
        let mut data = input.join("\n");
        data.push('\n');
        echo(state, key, &data);
        fx.push(Effect::StdinWrite { key, data });
    }
    if close {
        echo(state, key, EOF_ECHO);
        fx.push(Effect::StdinEof { key });
    }
}

fn finished(state: &mut State, key: ProcKey, status: ProcessStatus) {
    let now = state.now;
    let mut done = Vec::new();
    for w in &mut state.waits {
        let was_done = w.is_done();
        w.record(key, status.clone(), now);
        if w.is_done() && !was_done {
            done.extend(w.members.iter().copied());
        }
    }
    // A wait that is over has used its marks; the next wait starts from
    // none rather than silently including these again.
    state.unmark(&done);
}

fn on_script(state: &mut State, ev: ScriptEvent, fx: &mut Vec<Effect>) {
    match ev {
        ScriptEvent::Ready { run, ids, errors } => {
            super::demo::on_ready(state, run, ids, errors, fx)
        }
        ScriptEvent::Timer { run, token } => super::demo::on_timer(state, run, token, fx),
    }
}
