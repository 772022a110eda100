//! What each named action does.
use crate::client::SandboxState;
use crate::tui::msg::{Action, Effect, Focus};
use crate::tui::state::detail::Tab;
use crate::tui::state::forms::{Confirm, Form, Popup};
use crate::tui::state::procs::{Phase, StdinState};
use crate::tui::state::State;

use super::{stdin, Ctx};

pub fn apply(state: &mut State, action: Action, ctx: &Ctx, fx: &mut Vec<Effect>) {
    match action {
        Action::Quit => fx.push(Effect::CheckQuit),
        Action::Help => state.popup = Some(Popup::Help { scroll: 0 }),
        Action::FocusNext => cycle_focus(state, true),
        Action::FocusPrev => cycle_focus(state, false),
        Action::NewSandbox => {
            let form = Form::create_sandbox(state.last_snapshot.as_deref());
            state.popup = Some(Popup::Form(form));
        }
        Action::StopSandbox => stop_sandbox(state),
        Action::Snapshot => snapshot(state, fx),
        Action::ToggleTerminated => {
            state.sandboxes.show_terminated = !state.sandboxes.show_terminated;
            let on = state.sandboxes.show_terminated;
            state.info(if on {
                "showing terminated sandboxes"
            } else {
                "hiding terminated sandboxes"
            });
            fx.push(Effect::RefreshSandboxes {
                include_terminated: on,
            });
        }
        Action::Exec => open_exec(state),
        Action::FocusStdin => focus_stdin(state),
        Action::Kill if state.focus == Focus::Detail => super::detail::kill(state, false, fx),
        Action::Kill => kill(state, fx),
        Action::Mark => {
            if let Some(p) = state.selected_mut() {
                p.marked = !p.marked;
            }
        }
        Action::ClearMarks => {
            let marked = state.marked();
            state.unmark(&marked);
            state.info(match marked.len() {
                0 => "no process was marked".to_string(),
                n => format!("unmarked {n} process(es)"),
            });
        }
        Action::WaitMarked => {
            let marked = state.marked();
            if marked.is_empty() {
                state.error("mark processes with Space first, then wait for N of them");
            } else {
                state.popup = Some(Popup::Form(Form::wait_n(marked)));
            }
        }
        Action::ClearWait => {
            let before = state.waits.len();
            state.waits.retain(|w| !w.is_done());
            if state.waits.len() == before {
                state.waits.clear();
            }
        }
        Action::Zoom => state.zoom = !state.zoom,
        Action::Search => match state.focused_pane() {
            Some(target) => {
                let (current, from) = state
                    .pane(target)
                    .map(|p| {
                        let q = p.search.as_ref().map(|s| s.query.clone());
                        (q.unwrap_or_default(), p.scroll)
                    })
                    .unwrap_or_default();
                state.popup = Some(Popup::Form(Form::search(target, &current, from)));
            }
            None => state.error("select a process to search its output"),
        },
        Action::SearchNext | Action::SearchPrev => {
            let forward = action == Action::SearchNext;
            let found = state
                .focused_pane()
                .and_then(|t| state.pane_mut(t))
                .map(|p| (p.search.is_some(), p.find(forward)));
            match found {
                Some((false, _)) | None => state.error("no search yet: press / to search"),
                Some((true, false)) => state.error("no match"),
                Some((true, true)) => {}
            }
        }
        Action::Wrap => {
            if let Some(p) = state.focused_pane().and_then(|t| state.pane_mut(t)) {
                p.wrap = !p.wrap;
            }
        }
        Action::Save => match state.selected() {
            Some(p) => {
                let name = format!("sandscope-p{}.log", p.key);
                let path = state.view.save_dir.join(name);
                let path = path.display().to_string();
                state.popup = Some(Popup::Form(Form::save(p.key, &path)));
            }
            None => state.error("select a process to save its output"),
        },
        Action::ToggleAllProcesses => {
            state.all_procs = !state.all_procs;
            state.fix_proc_selection();
        }
        Action::Up => step(state, -1),
        Action::Down => step(state, 1),
        Action::PageUp => step(state, -(page(state, ctx) as isize)),
        Action::PageDown => step(state, page(state, ctx) as isize),
        Action::Top => step(state, isize::MIN / 2),
        Action::Bottom => step(state, isize::MAX / 2),
        Action::Open => match state.focus {
            Focus::Detail => super::detail::open_selected(state, fx),
            Focus::Sandboxes => state.focus = Focus::Processes,
            Focus::Processes | Focus::Output if live_terminal(state) => {
                state.focus = Focus::Terminal
            }
            Focus::Processes if state.selected().is_some() => state.focus = Focus::Output,
            _ => {}
        },
        Action::SendLine => stdin::send_line(state, fx),
        Action::SendEof => stdin::send_eof(state, fx),
        Action::LeaveStdin => state.focus = Focus::Processes,
        Action::Shell => super::terminal::open_shell(state, ctx, fx),
        Action::LeaveTerminal => state.focus = Focus::Output,
        Action::Filter => super::filter::start(state),
        Action::Logs => super::detail::open(state, Tab::Logs, fx),
        Action::Detail => super::detail::open(state, Tab::Info, fx),
        Action::NextTab => super::detail::switch_tab(state, true, fx),
        Action::PrevTab => super::detail::switch_tab(state, false, fx),
        Action::Refresh => super::detail::refresh(state, fx),
        Action::Parent => super::detail::parent(state, fx),
        Action::Download => super::detail::start_download(state, fx),
        Action::Upload => super::detail::start_upload(state),
        Action::AddForward => super::detail::add_forward(state),
        Action::KillHard => super::detail::kill(state, true, fx),
        Action::CloseDetail => super::detail::close(state, fx),
        Action::ToggleFollow => super::detail::toggle_follow(state, fx),
        Action::ToggleTimestamps => super::detail::toggle_timestamps(state, fx),
        Action::CycleTail => super::detail::cycle_tail(state, fx),
        Action::HistoryPrev => stdin::recall(state, true),
        Action::HistoryNext => stdin::recall(state, false),
        Action::NextStep => super::demo::next_step(state, fx),
        Action::RestartDemo => super::demo::restart(state, fx),
        Action::Broadcast => super::broadcast::toggle(state),
        Action::Presenter => {
            state.presenter = !state.presenter;
            state.fix_proc_selection();
        }
        Action::Record => match &state.recording {
            Some(_) => fx.push(Effect::StopRecording),
            None => {
                let name = chrono::Local::now().format("sandscope-%Y%m%d-%H%M%S.cast");
                fx.push(Effect::StartRecording(
                    state.view.save_dir.join(name.to_string()),
                ));
            }
        },
        // Only bound in popups, which take their keys before this.
        Action::Submit
        | Action::Cancel
        | Action::Confirm
        | Action::NextField
        | Action::PrevField
        | Action::Toggle => {}
    }
}

fn cycle_focus(state: &mut State, forward: bool) {
    let stdin_ok = state
        .selected()
        .is_some_and(|p| p.stdin == StdinState::Open && p.is_live());
    let mut order = vec![Focus::Sandboxes, Focus::Processes, Focus::Output];
    if stdin_ok {
        order.push(Focus::Stdin);
    }
    let i = order.iter().position(|f| *f == state.focus).unwrap_or(0);
    let n = order.len();
    state.focus = order[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }];
}

fn stop_sandbox(state: &mut State) {
    match state.sandboxes.selected() {
        Some(sb) if !sb.state.is_terminal() => {
            state.popup = Some(Popup::Confirm(Confirm::StopSandbox { id: sb.id.clone() }));
        }
        Some(sb) => {
            let msg = format!("sandbox {} is already {}", sb.id, sb.state);
            state.error(msg);
        }
        None => state.error("no sandbox selected"),
    }
}

fn snapshot(state: &mut State, fx: &mut Vec<Effect>) {
    match state.sandboxes.selected() {
        Some(sb) if sb.state == SandboxState::Running => {
            let id = sb.id.clone();
            state.info(format!("taking a snapshot of {id}…"));
            fx.push(Effect::Snapshot(id));
        }
        Some(sb) => {
            let msg = format!(
                "sandbox {} is {}; snapshots are of running sandboxes",
                sb.id, sb.state
            );
            state.error(msg);
        }
        None => state.error("no sandbox selected"),
    }
}

fn open_exec(state: &mut State) {
    match state.sandboxes.selected() {
        Some(sb) if sb.state == SandboxState::Running => {
            let label = if sb.display_name.is_empty() {
                crate::tui::ui::short_id(&sb.id).to_string()
            } else {
                sb.display_name.clone()
            };
            state.popup = Some(Popup::Form(Form::exec(&sb.id, &label)));
        }
        Some(sb) => {
            let msg = format!(
                "sandbox {} is {}; commands run in running sandboxes",
                sb.id, sb.state
            );
            state.error(msg);
        }
        None => state.error("create a sandbox first (n)"),
    }
}

/// The selected process runs on a terminal and still takes keys.
fn live_terminal(state: &State) -> bool {
    state.selected().is_some_and(|p| p.takes_keys())
}

fn focus_stdin(state: &mut State) {
    if state.broadcast {
        // The box types for every marked process, whichever is selected.
        state.focus = Focus::Stdin;
        return;
    }
    if live_terminal(state) {
        state.focus = Focus::Terminal;
        return;
    }
    let Some(p) = state.selected() else {
        state.error("select a process first");
        return;
    };
    match (&p.phase, p.stdin) {
        (Phase::Starting | Phase::Running, StdinState::Open) => state.focus = Focus::Stdin,
        (Phase::Starting | Phase::Running, StdinState::Closed) => {
            state.error("stdin of this process is closed (EOF was sent)")
        }
        (Phase::Starting | Phase::Running, StdinState::NotOpened) => state.error(
            "this process was started without stdin (turn on \"stdin open\" in the exec dialog)",
        ),
        _ => {
            let msg = format!(
                "p{} has exited ({}); it reads no more input",
                p.key,
                p.state_label()
            );
            state.error(msg);
        }
    }
}

fn kill(state: &mut State, fx: &mut Vec<Effect>) {
    match state.selected() {
        Some(p) if p.is_live() => {
            let (key, cmd) = (p.key, p.brief_command());
            fx.push(Effect::Kill(key));
            // Only the exit says it is gone; until then this is a request.
            state.info(format!("kill sent to p{key} ({cmd})"));
        }
        Some(p) => {
            let msg = format!("p{} is not running ({})", p.key, p.state_label());
            state.error(msg);
        }
        None => state.error("no process selected"),
    }
}

fn page(state: &State, ctx: &Ctx) -> usize {
    let rows = match state.focus {
        Focus::Output | Focus::Terminal => state
            .selected_proc
            .and_then(|k| ctx.hits.panes.iter().find(|(pk, _)| *pk == k))
            .map(|(_, r)| r.height.saturating_sub(2)),
        Focus::Sandboxes => Some(ctx.hits.sandboxes.height.saturating_sub(3)),
        Focus::Detail => ctx.hits.detail.map(|r| r.height.saturating_sub(2)),
        _ => Some(ctx.hits.processes.height.saturating_sub(3)),
    };
    rows.unwrap_or(10).max(1) as usize
}

/// Moves the selection, or scrolls the pane when the output has focus.
pub fn step(state: &mut State, delta: isize) {
    match state.focus {
        Focus::Sandboxes => {
            state.sandboxes.move_by(delta);
            state.fix_proc_selection();
        }
        Focus::Processes | Focus::Stdin => {
            let listed: Vec<_> = state.listed_procs().iter().map(|p| p.key).collect();
            if listed.is_empty() {
                return;
            }
            let cur = state
                .selected_proc
                .and_then(|k| listed.iter().position(|x| *x == k))
                .unwrap_or(listed.len() - 1) as isize;
            let next = cur
                .saturating_add(delta)
                .clamp(0, listed.len() as isize - 1) as usize;
            state.selected_proc = Some(listed[next]);
        }
        Focus::Detail => super::detail::move_by(state, delta),
        Focus::Output | Focus::Terminal => {
            if let Some(p) = state.selected_mut() {
                match p.term.as_mut() {
                    Some(t) => t.scroll_by(delta),
                    None => p.pane.scroll_by(delta),
                }
            }
        }
    }
}
