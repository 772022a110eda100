//! Walking through a demo script: each step starts when the one before it
//! is over, a pause holds until the next-step key, an expect until the
//! process prints what it waits for, typing goes one character per timer.
use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

use crate::tui::msg::{Effect, ProcKey};
use crate::tui::script::{Step, StepDef};
use crate::tui::state::demo::{Cursor, DemoPhase};
use crate::tui::state::pane::Pane;
use crate::tui::state::procs::{Phase, StdinState};
use crate::tui::state::State;

use super::popup::{start_exec, start_wait};

/// The sandboxes of a run are up (or some failed to come up).
pub fn on_ready(
    state: &mut State,
    run: u64,
    ids: BTreeMap<String, String>,
    errors: Vec<String>,
    fx: &mut Vec<Effect>,
) {
    let Some(demo) = state.demo.as_mut().filter(|d| d.run == run) else {
        // A run the presenter restarted before it was up: not wanted.
        for id in ids.into_values() {
            fx.push(Effect::StopSandbox(id));
        }
        return;
    };
    demo.sandboxes = ids;
    if errors.is_empty() {
        demo.phase = DemoPhase::Ready;
        advance(state, fx);
    } else {
        let text = format!("script: {}", errors.join("; "));
        demo.phase = DemoPhase::Failed(text.clone());
        state.error(text);
    }
}

/// Runs steps until one has to wait (or there are none left).
fn advance(state: &mut State, fx: &mut Vec<Effect>) {
    loop {
        let Some(demo) = state.demo.as_mut() else {
            return;
        };
        if demo.phase != DemoPhase::Ready {
            return;
        }
        let Some(def) = demo.script.steps.get(demo.step).cloned() else {
            demo.phase = DemoPhase::Finished;
            let interactive = demo.script.has_steps();
            state.info(if interactive {
                "the demo is over (ctrl-r runs it again on fresh sandboxes)"
            } else {
                "script started everything"
            });
            return;
        };
        if let Some(c) = &def.caption {
            demo.caption = (!c.is_empty()).then(|| c.clone());
        }
        if let Err(e) = begin(state, &def, fx) {
            fail(state, &def, e);
            return;
        }
    }
}

/// The step is over: on to the next one.
fn done(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.demo.as_mut() {
        d.step += 1;
        d.phase = DemoPhase::Ready;
    }
    advance(state, fx);
}

fn fail(state: &mut State, def: &StepDef, why: String) {
    let at = if def.line > 0 {
        format!(" (line {})", def.line)
    } else {
        String::new()
    };
    let text = format!(
        "{}{at}: {why}; > goes on, ctrl-r starts again",
        def.describe()
    );
    if let Some(d) = state.demo.as_mut() {
        d.phase = DemoPhase::Failed(text.clone());
    }
    state.error(text);
}

/// The process a step names, if it still takes input when `input` is set.
fn target(state: &State, name: &str, input: bool) -> Result<ProcKey, String> {
    let key = state
        .demo
        .as_ref()
        .and_then(|d| d.procs.get(name).copied())
        .ok_or_else(|| format!("process {name:?} did not start"))?;
    let p = state
        .proc(key)
        .ok_or_else(|| format!("process {name:?} is gone"))?;
    // A process still starting takes its input once it runs.
    let starting = p.phase == Phase::Starting;
    if input && !starting && !(p.is_live() && p.stdin == StdinState::Open) {
        return Err(format!(
            "p{key} ({name}) takes no input ({})",
            if p.is_live() {
                "its stdin is not open".to_string()
            } else {
                p.state_label()
            }
        ));
    }
    Ok(key)
}

/// Starts a step. Steps that are over at once call `done` themselves.
fn begin(state: &mut State, def: &StepDef, fx: &mut Vec<Effect>) -> Result<(), String> {
    let set = |state: &mut State, phase: DemoPhase| {
        if let Some(d) = state.demo.as_mut() {
            d.phase = phase;
        }
    };
    match &def.step {
        Step::Pause => set(state, DemoPhase::Paused),
        Step::Exec(e) => {
            let id = state
                .demo
                .as_ref()
                .and_then(|d| d.sandboxes.get(&e.sandbox).cloned())
                .ok_or_else(|| format!("sandbox {:?} is not running", e.sandbox))?;
            let argv = e.argv().map_err(|e| e.to_string())?;
            let opts = e.options().map_err(|e| e.to_string())?;
            let key = start_exec(state, id, argv, opts, fx);
            if let Some(p) = state.proc_mut(key) {
                p.queued_input = e.input.clone();
                p.close_after_input = e.close_stdin;
                p.marked = e.mark;
            }
            // Jobs spread over several sandboxes are watched side by side.
            let first = state.procs.first().map(|p| p.sandbox_id.clone());
            if state
                .procs
                .iter()
                .any(|p| Some(&p.sandbox_id) != first.as_ref())
            {
                state.all_procs = true;
            }
            if let Some(d) = state.demo.as_mut() {
                d.procs.insert(e.proc_name().to_string(), key);
                d.cursors.insert(key, (0, 0));
            }
            done(state, fx);
        }
        Step::Type {
            text, target: t, ..
        } => {
            let key = target(state, t, true)?;
            state.selected_proc = Some(key);
            set(
                state,
                DemoPhase::Typing {
                    key,
                    rest: text.clone(),
                },
            );
            type_next(state, fx);
        }
        Step::Expect {
            target: t, timeout, ..
        } => {
            let key = target(state, t, false)?;
            let deadline = state.now + *timeout;
            set(state, DemoPhase::Expecting { key, deadline });
            timer(state, *timeout, fx);
            on_output(state, key, fx);
        }
        Step::Eof { target: t } => {
            let key = target(state, t, true)?;
            match state.proc_mut(key) {
                // The EOF follows once it runs, after any input queued.
                Some(p) if p.phase == Phase::Starting => p.close_after_input = true,
                _ => super::stdin::eof_to(state, key, fx),
            }
            done(state, fx);
        }
        Step::Broadcast { line } => {
            super::broadcast::send_line(state, line, fx);
            done(state, fx);
        }
        Step::Wait { n } => {
            let marked = state.marked();
            if marked.len() < *n {
                return Err(format!(
                    "{} process(es) are marked, fewer than the {n} to wait for",
                    marked.len()
                ));
            }
            let id = start_wait(state, marked, *n);
            if state.waits.iter().any(|w| w.id == id && w.is_done()) {
                done(state, fx);
            } else {
                set(state, DemoPhase::Waiting { id });
            }
        }
    }
    Ok(())
}

fn timer(state: &mut State, after: Duration, fx: &mut Vec<Effect>) {
    if let Some(d) = state.demo.as_mut() {
        let token = d.next_timer();
        fx.push(Effect::ScriptTimer {
            run: d.run,
            token,
            after,
        });
    }
}

/// Types the next character of a `type` step (all of them when `all`).
fn type_chars(state: &mut State, all: bool, fx: &mut Vec<Effect>) {
    let Some(d) = state.demo.as_mut() else { return };
    let DemoPhase::Typing { key, .. } = &d.phase else {
        return;
    };
    let key = *key;
    let pace = match d.script.steps.get(d.step).map(|s| &s.step) {
        Some(Step::Type { pace, .. }) => *pace,
        _ => Duration::from_millis(60),
    };
    let phase = state.proc(key).map(|p| (p.phase.clone(), p.stdin));
    match phase {
        // Not running yet: try again in a moment.
        Some((Phase::Starting, _)) => {
            timer(state, pace, fx);
            return;
        }
        Some((Phase::Running, StdinState::Open)) => {}
        _ => {
            if let Some(def) = state
                .demo
                .as_ref()
                .and_then(|d| d.script.steps.get(d.step).cloned())
            {
                fail(state, &def, format!("p{key} takes no input"));
            }
            return;
        }
    }
    let Some(d) = state.demo.as_mut() else { return };
    let DemoPhase::Typing { rest, .. } = &mut d.phase else {
        return;
    };
    let typed: String = if all {
        std::mem::take(rest)
    } else {
        let Some(c) = rest.chars().next() else {
            return;
        };
        rest.drain(..c.len_utf8()).collect()
    };
    let finished = rest.is_empty();
    for c in typed.chars() {
        type_char(state, key, c, fx);
    }
    if finished {
        done(state, fx);
    } else {
        timer(state, pace, fx);
    }
}

fn type_next(state: &mut State, fx: &mut Vec<Effect>) {
    type_chars(state, false, fx);
}

/// One character as a person would type it: into the terminal of a
/// process on one, else into the stdin box, Enter sending the line.
fn type_char(state: &mut State, key: ProcKey, c: char, fx: &mut Vec<Effect>) {
    let tty = state.proc(key).is_some_and(|p| p.term.is_some());
    if tty {
        let c = if c == '\n' { '\r' } else { c };
        let mut buf = [0u8; 4];
        fx.push(Effect::TermInput {
            key,
            data: c.encode_utf8(&mut buf).as_bytes().to_vec(),
        });
    } else if c == '\n' {
        let line = state.stdin.lines().join("");
        state.stdin = tui_textarea::TextArea::default();
        super::stdin::line_to(state, key, &line, fx);
    } else {
        state.stdin.insert_char(c);
    }
}

/// New output of `key`: an expect waiting for it may be over.
pub fn on_output(state: &mut State, key: ProcKey, fx: &mut Vec<Effect>) {
    let Some(d) = state.demo.as_ref() else { return };
    let DemoPhase::Expecting { key: k, .. } = d.phase else {
        return;
    };
    let Some(Step::Expect { pattern, .. }) = d.script.steps.get(d.step).map(|s| &s.step) else {
        return;
    };
    if k != key {
        return;
    }
    let from = d.cursors.get(&key).copied().unwrap_or((0, 0));
    let Some(pane) = state.proc(key).map(|p| &p.pane) else {
        return;
    };
    if let Some(next) = find(pane, from, pattern) {
        if let Some(d) = state.demo.as_mut() {
            d.cursors.insert(key, next);
        }
        done(state, fx);
    }
}

/// `key` ended: an expect still waiting for its output never gets it, and
/// typing into it has nowhere to go.
pub fn on_ended(state: &mut State, key: ProcKey, fx: &mut Vec<Effect>) {
    on_output(state, key, fx);
    let Some(d) = state.demo.as_ref() else { return };
    let waiting = match d.phase {
        DemoPhase::Expecting { key: k, .. } | DemoPhase::Typing { key: k, .. } => k == key,
        _ => false,
    };
    if let (true, Some(def)) = (waiting, d.script.steps.get(d.step).cloned()) {
        let how = state.proc(key).map(|p| p.state_label()).unwrap_or_default();
        fail(state, &def, format!("p{key} ended ({how}) first"));
    }
}

/// A wait group finished something: a wait step may be over.
pub fn on_wait(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(DemoPhase::Waiting { id }) = state.demo.as_ref().map(|d| d.phase.clone()) else {
        return;
    };
    if state.waits.iter().any(|w| w.id == id && w.is_done()) {
        done(state, fx);
    }
}

pub fn on_timer(state: &mut State, run: u64, token: u64, fx: &mut Vec<Effect>) {
    let Some(d) = state.demo.as_ref() else { return };
    if d.run != run || d.timer != token {
        return;
    }
    match d.phase.clone() {
        DemoPhase::Typing { .. } => type_next(state, fx),
        DemoPhase::Expecting { key, deadline } if state.now >= deadline => {
            let Some(def) = d.script.steps.get(d.step).cloned() else {
                return;
            };
            let secs = match &def.step {
                Step::Expect { timeout, .. } => timeout.as_secs_f64(),
                _ => 0.0,
            };
            let last = state
                .proc(key)
                .and_then(|p| p.pane.lines().back().map(|l| l.text.clone()))
                .unwrap_or_default();
            fail(
                state,
                &def,
                format!(
                    "no match after {secs}s (last line: {:?})",
                    crate::tui::ui::ellipsize(&last, 60)
                ),
            );
        }
        _ => {}
    }
}

/// The next-step key.
pub fn next_step(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(d) = state.demo.as_ref() else {
        state.error("no demo is running (start one with --script FILE)");
        return;
    };
    match d.phase.clone() {
        DemoPhase::Starting => state.info("the demo's sandboxes are still starting"),
        DemoPhase::Finished => {
            state.info("the demo is over (ctrl-r runs it again on fresh sandboxes)")
        }
        DemoPhase::Typing { .. } => type_chars(state, true, fx),
        DemoPhase::Expecting { .. } | DemoPhase::Waiting { .. } => {
            let what = d.script.steps.get(d.step).map(StepDef::describe);
            state.info(format!("skipped: {}", what.unwrap_or_default()));
            done(state, fx);
        }
        DemoPhase::Paused | DemoPhase::Failed(_) | DemoPhase::Ready => done(state, fx),
    }
}

/// Starts the demo again: its sandboxes are stopped, its processes and
/// waits go, and new sandboxes are created.
pub fn restart(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(d) = state.demo.as_mut() else {
        state.error("no demo is running (start one with --script FILE)");
        return;
    };
    let ids: Vec<String> = d.sandboxes.values().cloned().collect();
    d.restart();
    let (run, script) = (d.run, d.script.clone());
    let gone: Vec<ProcKey> = state
        .procs
        .iter()
        .filter(|p| ids.contains(&p.sandbox_id))
        .map(|p| p.key)
        .collect();
    for p in state.procs.iter().filter(|p| gone.contains(&p.key)) {
        if p.is_live() {
            fx.push(Effect::Kill(p.key));
        }
    }
    state.procs.retain(|p| !gone.contains(&p.key));
    state
        .waits
        .retain(|w| !w.members.iter().any(|m| gone.contains(m)));
    state.fix_proc_selection();
    for id in ids {
        fx.push(Effect::StopSandbox(id));
    }
    fx.push(Effect::RunScript { run, script });
    state.info("restarting the demo on fresh sandboxes");
}

/// The first match of `re` in the pane's output at or after `from`, and
/// where the next search starts.
fn find(pane: &Pane, from: Cursor, re: &Regex) -> Option<Cursor> {
    let first = pane.first_number();
    let (line, offset) = if from.0 < first { (first, 0) } else { from };
    let skip = usize::try_from(line - first).ok()?;
    for (i, l) in pane.lines().iter().enumerate().skip(skip) {
        let n = first + i as u64;
        let (text, _) = l.split_input();
        let start = if n == line { offset.min(text.len()) } else { 0 };
        let start = (start..=text.len())
            .find(|&s| text.is_char_boundary(s))
            .unwrap_or(text.len());
        if let Some(m) = re.find_at(text, start) {
            // An empty match would be found again at the same place.
            let end = if m.end() == m.start() {
                m.end() + 1
            } else {
                m.end()
            };
            return Some((n, end));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::StreamKind;

    #[test]
    fn find_moves_past_each_match() {
        let mut pane = Pane::new(100, false);
        pane.append(StreamKind::Stdout, b">>> 42\n>>> 42\n>>> ");
        let re = Regex::new("42").unwrap();
        let a = find(&pane, (0, 0), &re).unwrap();
        assert_eq!(a, (0, 6));
        let b = find(&pane, a, &re).unwrap();
        assert_eq!(b, (1, 6));
        assert_eq!(find(&pane, b, &re), None);
        // A prompt on an open line is matched too.
        let prompt = Regex::new(">>> $").unwrap();
        assert_eq!(find(&pane, b, &prompt), Some((2, 4)));
        // `^` anchors at the line's start even past the cursor's line.
        let anchored = Regex::new("^>>> 42$").unwrap();
        assert_eq!(find(&pane, (0, 3), &anchored), Some((1, 6)));
    }

    #[test]
    fn echoed_input_is_not_output() {
        let mut pane = Pane::new(100, false);
        pane.append(StreamKind::Stdout, b"> ");
        pane.echo_input("print(42)\n");
        let re = Regex::new("42").unwrap();
        assert_eq!(find(&pane, (0, 0), &re), None);
        pane.append(StreamKind::Stdout, b"42\n");
        assert!(find(&pane, (0, 0), &re).is_some());
    }
}
