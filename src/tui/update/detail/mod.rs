//! The sandbox detail screen: opening it on a tab, moving between tabs, and
//! what each tab asks of the server and does with the answer.
mod files;
mod logs;
mod ports;

use std::time::{Duration, Instant};

use crate::tui::msg::{Effect, Focus, NetEvent};
use crate::tui::state::detail::{Detail, Fetched, LogView, Tab};
use crate::tui::state::forms::{Confirm, Popup};
use crate::tui::state::forwards;
use crate::tui::state::State;

pub use files::{open_selected, parent, start_download, start_upload, upload};
pub use logs::{cycle_tail, toggle_follow, toggle_timestamps};
pub use ports::{add_forward, start as start_forward, stop_forward};

/// How often an open processes tab lists again.
const PROCESS_REFRESH: Duration = Duration::from_secs(2);

/// Opens the selected sandbox's detail screen on `tab` (any state: a
/// finished sandbox's log and files are still worth a look).
pub fn open(state: &mut State, tab: Tab, fx: &mut Vec<Effect>) {
    let Some(sb) = state.sandboxes.selected() else {
        state.error("select a sandbox first");
        return;
    };
    let id = sb.id.clone();
    let generation = state.alloc_generation();
    let log_generation = state.alloc_generation();
    let logs = LogView::new(state.new_pane(), log_generation);
    state.detail = Some(Detail::new(id, tab, generation, logs));
    state.focus = Focus::Detail;
    enter_tab(state, fx);
}

pub fn close(state: &mut State, fx: &mut Vec<Effect>) {
    // Esc on an open file goes back to its directory first.
    if let Some(d) = state.detail.as_mut() {
        if d.tab == Tab::Files && d.files.open.is_some() {
            d.files.open = None;
            return;
        }
    }
    if state.detail.take().is_some() {
        fx.push(Effect::StopLogs);
    }
    state.focus = Focus::Sandboxes;
}

pub fn switch_tab(state: &mut State, forward: bool, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.tab = d.tab.step(forward);
        enter_tab(state, fx);
    }
}

/// A tab that shows nothing yet asks for it.
fn enter_tab(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(d) = state.detail.as_ref() else {
        return;
    };
    match d.tab {
        Tab::Info if d.info == Fetched::Loading => fetch(state, fx),
        Tab::Logs if !d.logs.started => logs::restart(state, fx),
        Tab::Processes => fetch(state, fx),
        Tab::Files if d.files.list == Fetched::Loading => fetch(state, fx),
        _ => {}
    }
}

/// `r`: the tab asks again.
pub fn refresh(state: &mut State, fx: &mut Vec<Effect>) {
    match state.detail.as_ref().map(|d| d.tab) {
        Some(Tab::Logs) => logs::restart(state, fx),
        Some(_) => fetch(state, fx),
        None => {}
    }
}

fn fetch(state: &mut State, fx: &mut Vec<Effect>) {
    let now = state.now;
    let Some(d) = state.detail.as_mut() else {
        return;
    };
    let (generation, sandbox_id) = (d.generation, d.sandbox_id.clone());
    match d.tab {
        Tab::Info => fx.push(Effect::FetchDetails {
            generation,
            sandbox_id,
        }),
        Tab::Processes => {
            d.procs.in_flight = true;
            d.procs.asked = Some(now);
            fx.push(Effect::FetchProcesses {
                generation,
                sandbox_id,
            });
        }
        Tab::Files => {
            let cwd = d.files.cwd.clone();
            files::list(state, cwd, fx);
        }
        Tab::Logs | Tab::Ports => {}
    }
}

/// The processes tab keeps itself current while it is open.
pub fn on_tick(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    let due = state.detail.as_ref().is_some_and(|d| {
        d.tab == Tab::Processes
            && !d.procs.in_flight
            && d.procs
                .asked
                .is_none_or(|t| now.saturating_duration_since(t) >= PROCESS_REFRESH)
    });
    if due {
        fetch(state, fx);
    }
}

pub fn move_by(state: &mut State, delta: isize) {
    let Some(d) = state.detail.as_mut() else {
        return;
    };
    match d.tab {
        Tab::Processes => d.procs.move_by(delta),
        Tab::Files => files::move_by(d, delta),
        Tab::Ports => {
            let n = forwards::of(&state.forwards, &d.sandbox_id).count();
            let next = (d.port_row as isize).saturating_add(delta);
            d.port_row = next.clamp(0, n.saturating_sub(1) as isize) as usize;
        }
        Tab::Logs => d.logs.pane.scroll_by(delta),
        Tab::Info => {}
    }
}

/// `k` / `K`: signal the selected process (after asking), or close the
/// selected forward.
pub fn kill(state: &mut State, hard: bool, fx: &mut Vec<Effect>) {
    let Some(d) = state.detail.as_ref() else {
        return;
    };
    match d.tab {
        Tab::Processes => {
            let Some(p) = d.procs.selected_index().map(|i| &d.procs.rows()[i]) else {
                state.error("no process selected");
                return;
            };
            let confirm = Confirm::Signal {
                sandbox_id: d.sandbox_id.clone(),
                pid: p.pid,
                signal: if hard { "KILL" } else { "TERM" },
                command: p.command(),
            };
            state.popup = Some(Popup::Confirm(confirm));
        }
        Tab::Ports => stop_forward(state, fx),
        _ => {}
    }
}

/// The detail screen's answers; those for an older screen are dropped.
pub fn on_net(state: &mut State, ev: NetEvent, fx: &mut Vec<Effect>) -> bool {
    match ev {
        NetEvent::LogsChanged { generation } => logs::on_changed(state, generation),
        NetEvent::LogsEnded { generation, error } => logs::on_ended(state, generation, error),
        NetEvent::Details { generation, result } => {
            let Some(d) = current(state, generation) else {
                return false;
            };
            d.info = match result {
                Ok(v) => Fetched::Ready(v),
                Err(e) => Fetched::Failed(e),
            };
            true
        }
        NetEvent::Processes { generation, result } => {
            let Some(d) = current(state, generation) else {
                return false;
            };
            d.procs.in_flight = false;
            d.procs.list = match result {
                Ok(v) => Fetched::Ready(v),
                Err(e) => Fetched::Failed(e),
            };
            if d.procs.selected_index().is_none() {
                d.procs.selected = d.procs.rows().first().map(|p| p.pid);
            }
            true
        }
        NetEvent::Listing {
            request,
            path,
            result,
        } => files::on_listing(state, request, path, result, fx),
        NetEvent::FileRead {
            generation,
            path,
            result,
        } => files::on_read(state, generation, path, result),
        NetEvent::Done(result) => {
            match result {
                Ok(text) => state.info(text),
                Err(e) => state.error(e),
            }
            // A signal changes the process table: show it at once.
            if state
                .detail
                .as_ref()
                .is_some_and(|d| d.tab == Tab::Processes)
            {
                fetch(state, fx);
            }
            true
        }
        other => ports::on_net(state, other),
    }
}

fn current(state: &mut State, generation: u64) -> Option<&mut Detail> {
    state.detail.as_mut().filter(|d| d.generation == generation)
}

#[cfg(test)]
mod tests;
