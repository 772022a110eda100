//! The loop: receive messages, update, render when something changed, at a
//! capped frame rate. Idle means no redraws at all.
use std::time::{Duration, Instant};

use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use tokio::sync::mpsc;

use super::msg::{Effect, Msg, NetEvent};
use super::net::Net;
use super::settings::Settings;
use super::state::State;
use super::term::{self, Recording, TermGuard};
use super::ui::{self, Hits};
use super::update::{update, Ctx};

/// Messages handled before a frame is drawn at the latest; a flood of
/// output then costs one redraw per batch, not one per message.
const BATCH: usize = 512;

/// The embedded server, seen from the loop: how many sandboxes still run.
pub trait ActiveCount {
    fn active(&self) -> impl std::future::Future<Output = usize> + Send;
}

pub struct Parts<S> {
    pub state: State,
    pub settings: Settings,
    pub net: Net,
    pub rx: mpsc::Receiver<Msg>,
    pub server: Option<S>,
    /// `--record FILE.cast`: record the screen from the first frame.
    pub record: Option<std::path::PathBuf>,
}

/// Runs until the user quits. The terminal is restored before returning;
/// the server comes back in every case so the caller can shut it down.
pub async fn run<S: ActiveCount>(parts: Parts<S>) -> (anyhow::Result<()>, Option<S>) {
    let Parts {
        state,
        settings,
        net,
        rx,
        server,
        record,
    } = parts;
    let result = run_loop(state, &settings, net, rx, &server, record).await;
    (result, server)
}

async fn run_loop<S: ActiveCount>(
    mut state: State,
    settings: &Settings,
    mut net: Net,
    mut rx: mpsc::Receiver<Msg>,
    server: &Option<S>,
    record: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let mut guard = TermGuard::enter(settings.mouse)?;
    if let Some(path) = record {
        let ev = start_recording(&mut guard, path);
        let ctx = Ctx {
            keymap: &settings.keymap,
            hits: &Hits::default(),
        };
        update(&mut state, Msg::Net(ev), &ctx, &mut Vec::new());
    }
    term::spawn_events(net.sender());
    term::spawn_signals(net.sender());
    spawn_ticker(net.sender());
    let frame_gap = Duration::from_secs(1) / settings.max_fps.max(1);
    let style = ui::Style {
        theme: &settings.theme,
        keymap: &settings.keymap,
    };
    let mut hits = Hits::default();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut fx = Vec::new();
    while !state.quitting {
        let msg = if dirty {
            let due = last_draw
                .map(|t| t + frame_gap)
                .unwrap_or_else(Instant::now);
            tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(due.into()) => {
                    draw(&mut guard, &state, &style, &mut hits)?;
                    last_draw = Some(Instant::now());
                    dirty = false;
                    match recording_failed(&mut guard) {
                        Some(ev) => Some(Msg::Net(ev)),
                        // Terminal panes take the size they were just drawn at.
                        None => Some(Msg::Drawn),
                    }
                }
            }
        } else {
            rx.recv().await
        };
        let Some(msg) = msg else { break };
        let ctx = Ctx {
            keymap: &settings.keymap,
            hits: &hits,
        };
        let drawn = matches!(msg, Msg::Drawn);
        dirty |= update(&mut state, msg, &ctx, &mut fx);
        for _ in 0..BATCH {
            if drawn {
                break;
            }
            match rx.try_recv() {
                Ok(m) => dirty |= update(&mut state, m, &ctx, &mut fx),
                Err(_) => break,
            }
        }
        while !fx.is_empty() {
            for effect in std::mem::take(&mut fx) {
                match effect {
                    Effect::Quit => state.quitting = true,
                    Effect::CheckQuit => {
                        let active = match server {
                            Some(s) => s.active().await,
                            None => 0,
                        };
                        let ctx = Ctx {
                            keymap: &settings.keymap,
                            hits: &hits,
                        };
                        dirty |= update(
                            &mut state,
                            Msg::Net(NetEvent::QuitCheck { active }),
                            &ctx,
                            &mut fx,
                        );
                    }
                    Effect::StartRecording(path) => {
                        let ev = start_recording(&mut guard, path);
                        let ctx = Ctx {
                            keymap: &settings.keymap,
                            hits: &hits,
                        };
                        dirty |= update(&mut state, Msg::Net(ev), &ctx, &mut fx);
                    }
                    Effect::StopRecording => {
                        if let Some(ev) = stop_recording(&mut guard) {
                            let ctx = Ctx {
                                keymap: &settings.keymap,
                                hits: &hits,
                            };
                            dirty |= update(&mut state, Msg::Net(ev), &ctx, &mut fx);
                        }
                    }
                    other => net.apply(other),
                }
            }
        }
    }
    if let Some(NetEvent::RecordingStopped { path, result }) = stop_recording(&mut guard) {
        tracing::info!(path = %path.display(), ?result, "recording closed on quit");
    }
    drop(guard);
    Ok(())
}

/// Starts writing the screen to `path`; the next frame is drawn whole so
/// the cast begins with everything on screen.
fn start_recording(guard: &mut TermGuard, path: std::path::PathBuf) -> NetEvent {
    let size = match guard.terminal.size() {
        Ok(s) => s,
        Err(e) => {
            return NetEvent::RecordingStopped {
                path,
                result: Err(e.to_string()),
            }
        }
    };
    match Recording::create(path.clone(), size.width, size.height) {
        Ok(rec) => {
            if let Ok(mut slot) = guard.recording.lock() {
                *slot = Some(rec);
            }
            let _ = guard.terminal.clear();
            NetEvent::RecordingStarted(path)
        }
        Err(e) => NetEvent::RecordingStopped {
            path,
            result: Err(e.to_string()),
        },
    }
}

/// Closes the recording, if there is one.
fn stop_recording(guard: &mut TermGuard) -> Option<NetEvent> {
    let rec = guard.recording.lock().ok()?.take()?;
    let (path, events, secs) = (rec.path.clone(), rec.cast.events, rec.cast.elapsed());
    let result = match rec.failed {
        Some(e) => Err(e.to_string()),
        None => rec
            .cast
            .finish()
            .map(|_| format!("{events} frames, {secs:.1} s"))
            .map_err(|e| e.to_string()),
    };
    Some(NetEvent::RecordingStopped { path, result })
}

/// A recording that could not be written is stopped (the screen goes on).
fn recording_failed(guard: &mut TermGuard) -> Option<NetEvent> {
    let failed = guard
        .recording
        .lock()
        .ok()?
        .as_ref()
        .is_some_and(|r| r.failed.is_some());
    if failed {
        stop_recording(guard)
    } else {
        None
    }
}

fn draw(
    guard: &mut TermGuard,
    state: &State,
    style: &ui::Style,
    hits: &mut Hits,
) -> anyhow::Result<()> {
    let term = &mut guard.terminal;
    // A resize goes into the recording before the frame drawn at the new size.
    if let Ok(size) = term.size() {
        let mut slot = guard.recording.lock().ok();
        if let Some(r) = slot.as_mut().and_then(|s| s.as_mut()) {
            if let Err(e) = r.cast.resize(size.width, size.height) {
                r.failed.get_or_insert(e);
            }
        }
    }
    // Synchronized output: the terminal shows the frame whole, not half drawn.
    let _ = crossterm::execute!(term.backend_mut(), BeginSynchronizedUpdate);
    term.draw(|f| *hits = ui::render(state, style, f))?;
    let _ = crossterm::execute!(term.backend_mut(), EndSynchronizedUpdate);
    Ok(())
}

/// Once a second; update decides whether the tick changes anything shown.
fn spawn_ticker(tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            if tx.send(Msg::Tick).await.is_err() {
                return;
            }
        }
    });
}
