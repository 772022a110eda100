//! Keys while a popup is open: forms, confirmations, help. Each popup is
//! a keymap scope, so its keys are named actions like everywhere else.
use crossterm::event::KeyEvent;

use crate::tui::keymap::Keymap;
use crate::tui::msg::{Action, Effect, Focus, PaneRef};
use crate::tui::state::forms::{Confirm, FieldKind, Form, FormKind, Popup};
use crate::tui::state::procs::Proc;
use crate::tui::state::term::TermPane;
use crate::tui::state::waits::WaitGroup;
use crate::tui::state::State;

use super::stdin;

pub fn on_key(state: &mut State, key: KeyEvent, keymap: &Keymap, fx: &mut Vec<Effect>) {
    let Some(popup) = state.popup.take() else {
        return;
    };
    let action = keymap.lookup_popup(popup.scope(), &key);
    state.popup = match popup {
        Popup::Help { scroll } => {
            let scroll = match action {
                Some(Action::Cancel) => return,
                Some(Action::Down) => scroll.saturating_add(1),
                Some(Action::Up) => scroll.saturating_sub(1),
                Some(Action::PageDown) => scroll.saturating_add(HELP_PAGE),
                Some(Action::PageUp) => scroll.saturating_sub(HELP_PAGE),
                _ => scroll,
            };
            Some(Popup::Help { scroll })
        }
        Popup::Confirm(c) => match action {
            Some(Action::Confirm) => {
                confirmed(state, c, fx);
                None
            }
            Some(Action::Cancel) => None,
            _ => Some(Popup::Confirm(c)),
        },
        Popup::Form(form) => form_key(state, form, key, action, fx),
    };
}

/// Rows the help scrolls by a page.
const HELP_PAGE: u16 = 10;

fn confirmed(state: &mut State, c: Confirm, fx: &mut Vec<Effect>) {
    match c {
        Confirm::StopSandbox { id } => {
            state.info(format!("stopping {id}"));
            fx.push(Effect::StopSandbox(id));
        }
        Confirm::Signal {
            sandbox_id,
            pid,
            signal,
            ..
        } => {
            state.info(format!("sending SIG{signal} to pid {pid}…"));
            fx.push(Effect::Signal {
                sandbox_id,
                pid,
                signal,
            });
        }
        Confirm::Quit { .. } => {
            state.quitting = true;
            fx.push(Effect::Quit);
        }
    }
}

fn form_key(
    state: &mut State,
    mut form: Form,
    key: KeyEvent,
    action: Option<Action>,
    fx: &mut Vec<Effect>,
) -> Option<Popup> {
    match action {
        Some(Action::Cancel) => {
            if let FormKind::Search { target, from } = form.kind {
                // Back to where the view was before the search began.
                if let Some(p) = state.pane_mut(target) {
                    p.search = None;
                    p.scroll = from;
                }
            }
            return None;
        }
        Some(Action::Submit) => return submit(state, form, fx),
        Some(Action::NextField) => form.focus_next(true),
        Some(Action::PrevField) => form.focus_next(false),
        _ => {
            if let Some(field) = form.focused_field_mut() {
                match &mut field.kind {
                    FieldKind::Toggle(on) => {
                        if action == Some(Action::Toggle) {
                            *on = !*on;
                        }
                    }
                    // In a text field the toggle keys (space, arrows) type
                    // and move as usual.
                    FieldKind::Text(ta) => {
                        ta.input(key);
                    }
                }
            }
            form.error = None;
            if let FormKind::Search { target, from } = form.kind {
                // Incremental: the pane shows the nearest match as it is typed.
                let query = form.single_value();
                if let Some(p) = state.pane_mut(target) {
                    if !p.preview(&query, from) && !query.is_empty() {
                        form.error = Some(format!("no match for `{query}`"));
                    }
                }
            }
        }
    }
    Some(Popup::Form(form))
}

/// Validates and carries out a form; an invalid one stays open with the
/// reason shown in it.
fn submit(state: &mut State, mut form: Form, fx: &mut Vec<Effect>) -> Option<Popup> {
    let result = match &form.kind {
        FormKind::CreateSandbox => form
            .sandbox_request()
            .and_then(|req| form.count().map(|n| (req, n)))
            .map(|(req, n)| {
                state.info(match n {
                    1 => "creating a sandbox…".to_string(),
                    n => format!("creating {n} sandboxes…"),
                });
                fx.extend(std::iter::repeat_n(req, n).map(Effect::CreateSandbox));
            }),
        FormKind::Exec { sandbox_id } => form.exec_request().map(|(argv, opts)| {
            let tty = opts.tty.is_some();
            start_exec(state, sandbox_id.clone(), argv, opts, fx);
            if tty {
                // A program on a terminal is used from its pane at once.
                state.focus = Focus::Terminal;
            }
        }),
        FormKind::WaitN { members } => form.wait_n_value().map(|n| {
            start_wait(state, members.clone(), n);
        }),
        FormKind::Search { target, from } => {
            let query = form.single_value();
            let (target, from) = (*target, *from);
            match state.pane_mut(target) {
                Some(p) if query.is_empty() => {
                    p.search = None;
                    Ok(())
                }
                Some(p) => {
                    if p.preview(&query, from) {
                        if let PaneRef::Proc(_) = target {
                            state.focus = Focus::Output;
                        }
                        Ok(())
                    } else {
                        Err(format!("`{query}` is not in this pane"))
                    }
                }
                None => Ok(()),
            }
        }
        FormKind::Upload { .. } => super::detail::upload(state, &form.single_value(), fx),
        FormKind::Forward => super::detail::start_forward(state, &form.single_value(), fx),
        FormKind::Save { key } => {
            let path = form.single_value();
            if path.trim().is_empty() {
                Err("type a file name".to_string())
            } else {
                // A bare name goes into the save directory, never into
                // whatever directory the TUI happened to start in.
                let path = state.view.save_dir.join(path.trim());
                match state.proc(*key) {
                    // A `.cast` file replays the output with its timing.
                    Some(p) if path.extension().is_some_and(|e| e == "cast") => {
                        let (rows, cols) = match &p.term {
                            Some(t) => t.size(),
                            None => (30, 120),
                        };
                        let title = format!("p{} {}", p.key, p.brief_command());
                        p.timeline
                            .to_cast(cols, rows, &title, p.term.is_some())
                            .map(|text| fx.push(Effect::Save { path, text }))
                            .map_err(|e| format!("cannot write the cast: {e}"))
                    }
                    Some(p) => {
                        fx.push(Effect::Save {
                            path,
                            text: p.pane.transcript(),
                        });
                        Ok(())
                    }
                    None => Ok(()),
                }
            }
        }
    };
    match result {
        Ok(()) => None,
        Err(e) => {
            form.error = Some(e);
            Some(Popup::Form(form))
        }
    }
}

/// Registers a process and asks the network side to start it. Shared by
/// the exec dialog and scripts.
pub fn start_exec(
    state: &mut State,
    sandbox_id: String,
    argv: Vec<String>,
    opts: crate::client::ExecOptions,
    fx: &mut Vec<Effect>,
) -> crate::tui::msg::ProcKey {
    let key = state.alloc_key();
    let pane = state.new_pane();
    let inbox = pane.inbox.clone();
    let mut proc = Proc::new(key, sandbox_id.clone(), argv.clone(), pane, state.now);
    proc.check = opts.check;
    proc.tty = opts.tty.is_some();
    if let Some((cols, rows)) = opts.tty {
        proc.term = Some(TermPane::new(rows, cols, state.view.scrollback_lines));
    }
    state.procs.push(proc);
    // The new process is selected and its pane is on screen, even when the
    // list was showing another sandbox.
    if state.sandboxes.selected().map(|s| s.id.as_str()) != Some(sandbox_id.as_str()) {
        state.sandboxes.select_id(&sandbox_id);
    }
    state.selected_proc = Some(key);
    if state.selected().is_none() {
        state.all_procs = true;
    }
    fx.push(Effect::Exec {
        key,
        sandbox_id,
        argv,
        opts,
        inbox,
    });
    key
}

/// Starts a wait group; returns its id.
pub fn start_wait(state: &mut State, members: Vec<u64>, n: usize) -> u64 {
    let id = state.alloc_wait();
    let mut already: Vec<_> = members
        .iter()
        .filter_map(|k| state.proc(*k))
        .filter_map(|p| p.outcome().map(|s| (p.ended, p.key, s)))
        .collect();
    already.sort_by_key(|(ended, key, _)| (*ended, *key));
    let already = already.into_iter().map(|(_, k, s)| (k, s)).collect();
    let group = WaitGroup::new(id, members, n, state.now, already);
    if group.is_done() {
        // Over before it began: the marks are used up all the same.
        state.unmark(&group.members);
    }
    state.info(format!(
        "waiting for {} of {} processes",
        group.n,
        group.members.len()
    ));
    state.waits.push(group);
    id
}

pub fn on_paste(state: &mut State, text: &str, fx: &mut Vec<Effect>) {
    match &mut state.popup {
        Some(Popup::Form(form)) => {
            if let Some(field) = form.focused_field_mut() {
                if let FieldKind::Text(ta) = &mut field.kind {
                    ta.insert_str(text.replace(['\r', '\n'], " "));
                }
            }
        }
        Some(_) => {}
        None if state.focus == Focus::Stdin => stdin::paste(state, text, fx),
        None => {}
    }
}
