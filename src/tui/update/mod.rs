//! Update: state + message -> new state + effects. No I/O happens here, so
//! every behaviour can be tested without a terminal or a server.
mod actions;
mod broadcast;
mod demo;
mod detail;
mod filter;
mod mouse;
mod net;
mod popup;
mod stdin;
mod terminal;

use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyEvent, KeyEventKind};

use super::keymap::Keymap;
use super::msg::{Effect, Focus, Msg, PaneRef};
use super::state::State;
use super::ui::Hits;

/// What update needs besides the state: the keymap and where things were
/// drawn last (for the mouse and page sizes).
pub struct Ctx<'a> {
    pub keymap: &'a Keymap,
    pub hits: &'a Hits,
}

/// Applies one message. Returns whether the screen needs a redraw.
pub fn update(state: &mut State, msg: Msg, ctx: &Ctx, fx: &mut Vec<Effect>) -> bool {
    match msg {
        Msg::Key(key) => {
            // Only presses: some terminals also report releases and repeats.
            if key.kind != KeyEventKind::Press {
                return false;
            }
            on_key(state, key, ctx, fx);
            true
        }
        Msg::Mouse(ev) => mouse::on_mouse(state, ev, ctx, fx),
        Msg::Paste(text) => {
            if state.popup.is_none() && state.focus == Focus::Terminal {
                terminal::on_paste(state, &text, fx);
            } else {
                popup::on_paste(state, &text, fx);
            }
            true
        }
        Msg::Resize => true,
        Msg::Drawn => on_drawn(state, ctx, fx),
        Msg::Tick => {
            let now = Instant::now();
            detail::on_tick(state, now, fx);
            on_tick(state, now, SystemTime::now())
        }
        Msg::Terminate => {
            state.quitting = true;
            fx.push(Effect::Quit);
            false
        }
        Msg::Net(ev) => {
            state.now = Instant::now();
            state.wall = SystemTime::now();
            net::on_net(state, ev, fx)
        }
    }
}

/// A frame is on screen: panes learn how many rows they got (where
/// scrolling stops), terminal panes take their size. Returns whether that
/// changes what is shown.
fn on_drawn(state: &mut State, ctx: &Ctx, fx: &mut Vec<Effect>) -> bool {
    let mut changed = false;
    for (key, rect) in &ctx.hits.panes {
        if let Some(p) = state.proc_mut(*key) {
            let before = p.pane.scroll;
            p.pane
                .set_view_rows(usize::from(rect.height.saturating_sub(2)));
            changed |= p.pane.scroll != before;
        }
    }
    if let (Some(rect), Some(p)) = (ctx.hits.detail, state.pane_mut(PaneRef::Logs)) {
        let before = p.scroll;
        p.set_view_rows(usize::from(rect.height.saturating_sub(2)));
        changed |= p.scroll != before;
    }
    changed | terminal::on_drawn(state, ctx, fx)
}

/// Time moves; redraw only if something shown depends on it.
pub fn on_tick(state: &mut State, now: Instant, wall: SystemTime) -> bool {
    state.now = now;
    state.wall = wall;
    let young_sandbox = state.sandboxes.visible().iter().any(|s| {
        s.created
            .and_then(|c| wall.duration_since(c).ok())
            .is_some_and(|age| age < Duration::from_secs(120))
    });
    state.has_clocks() || young_sandbox
}

fn on_key(state: &mut State, key: KeyEvent, ctx: &Ctx, fx: &mut Vec<Effect>) {
    state.now = Instant::now();
    state.wall = SystemTime::now();
    if state.popup.is_some() {
        popup::on_key(state, key, ctx.keymap, fx);
        return;
    }
    if state.focus == Focus::Terminal {
        terminal::on_key(state, key, ctx, fx);
        return;
    }
    if state.typing_filter() {
        filter::on_key(state, key);
        return;
    }
    match ctx.keymap.lookup(state.focus, &key) {
        Some(action) => actions::apply(state, action, ctx, fx),
        None if state.focus == Focus::Stdin => stdin::type_key(state, key),
        None => {}
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_demo;
#[cfg(test)]
mod tests_input;
#[cfg(test)]
mod tests_snapshot;
