//! The log tab: its options, and the log stream's events.
use crate::tui::msg::Effect;
use crate::tui::state::detail::LogView;
use crate::tui::state::State;

/// (Re)reads the log with the view's options into a fresh pane.
pub fn restart(state: &mut State, fx: &mut Vec<Effect>) {
    let generation = state.alloc_generation();
    let pane = state.new_pane();
    let Some(d) = state.detail.as_mut() else {
        return;
    };
    d.logs.pane = pane;
    d.logs.generation = generation;
    d.logs.ended = None;
    d.logs.started = true;
    fx.push(Effect::StreamLogs {
        generation,
        sandbox_id: d.sandbox_id.clone(),
        opts: d.logs.opts.clone(),
        inbox: d.logs.pane.inbox.clone(),
    });
}

pub fn toggle_follow(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.logs.opts.follow = !d.logs.opts.follow;
        restart(state, fx);
    }
}

pub fn toggle_timestamps(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.logs.opts.timestamps = !d.logs.opts.timestamps;
        restart(state, fx);
    }
}

pub fn cycle_tail(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.logs.opts.tail_lines = d.logs.next_tail();
        restart(state, fx);
    }
}

/// The log view of the current stream, if `generation` is it.
fn current(state: &mut State, generation: u64) -> Option<&mut LogView> {
    state
        .detail
        .as_mut()
        .map(|d| &mut d.logs)
        .filter(|l| l.generation == generation)
}

pub fn on_changed(state: &mut State, generation: u64) -> bool {
    current(state, generation).is_some_and(|l| l.pane.drain_inbox())
}

pub fn on_ended(state: &mut State, generation: u64, error: Option<String>) -> bool {
    let Some(l) = current(state, generation) else {
        return false;
    };
    l.pane.drain_inbox();
    l.ended = Some(match error {
        Some(e) => format!("the log stream failed: {e}"),
        None if l.opts.follow => "the main process has ended".to_string(),
        None => "end of the log (f follows it)".to_string(),
    });
    true
}
