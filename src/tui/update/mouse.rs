//! Mouse: a click focuses what is under it (and selects the row), the wheel
//! scrolls what is under it.
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::tui::msg::{Effect, Focus};
use crate::tui::state::State;

use super::{actions::step, Ctx};

const WHEEL_LINES: usize = 3;

fn inside(r: Rect, x: u16, y: u16) -> bool {
    r.contains(Position { x, y })
}

pub fn on_mouse(state: &mut State, ev: MouseEvent, ctx: &Ctx, _fx: &mut Vec<Effect>) -> bool {
    if state.popup.is_some() {
        return false;
    }
    let (x, y) = (ev.column, ev.row);
    let hits = ctx.hits;
    match ev.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            if inside(hits.sandboxes, x, y) {
                state.focus = Focus::Sandboxes;
                if let Some(i) = hits.sandbox_row(y) {
                    state.sandboxes.select_index(i);
                    state.fix_proc_selection();
                }
            } else if inside(hits.processes, x, y) {
                state.focus = Focus::Processes;
                if let Some(i) = hits.process_row(y) {
                    let key = state.listed_procs().get(i).map(|p| p.key);
                    if key.is_some() {
                        state.selected_proc = key;
                    }
                }
            } else if let Some((key, _)) = hits.panes.iter().find(|(_, r)| inside(*r, x, y)) {
                state.selected_proc = Some(*key);
                // A click in a live terminal pane is a click into it.
                let live_term = state
                    .proc(*key)
                    .is_some_and(|p| p.term.is_some() && p.is_live());
                state.focus = if live_term {
                    Focus::Terminal
                } else {
                    Focus::Output
                };
            } else if hits.stdin.is_some_and(|r| inside(r, x, y)) {
                state.focus = Focus::Stdin;
            } else {
                return false;
            }
            true
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let up = ev.kind == MouseEventKind::ScrollUp;
            if let Some((key, _)) = hits.panes.iter().find(|(_, r)| inside(*r, x, y)) {
                if let Some(t) = state.proc_mut(*key).and_then(|p| p.term.as_mut()) {
                    if up {
                        t.scroll_up(WHEEL_LINES);
                    } else {
                        t.scroll_down(WHEEL_LINES);
                    }
                } else if let Some(p) = state.proc_mut(*key) {
                    if up {
                        p.pane.scroll_up(WHEEL_LINES);
                    } else {
                        p.pane.scroll_down(WHEEL_LINES);
                    }
                }
                return true;
            }
            let focus = if inside(hits.sandboxes, x, y) {
                Focus::Sandboxes
            } else if inside(hits.processes, x, y) {
                Focus::Processes
            } else {
                return false;
            };
            let saved = state.focus;
            state.focus = focus;
            step(state, if up { -1 } else { 1 });
            state.focus = saved;
            true
        }
        _ => false,
    }
}
