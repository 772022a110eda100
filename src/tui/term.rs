//! The terminal: a guard that restores it on every way out (including
//! panics), and the task that turns terminal events into messages.
use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use super::cast::CastWriter;
use super::msg::Msg;

pub type Term = Terminal<CrosstermBackend<Tee>>;

/// A screen recording in progress: the cast file being written.
pub struct Recording {
    pub path: PathBuf,
    pub cast: CastWriter<BufWriter<File>>,
    /// Bytes written since the last flush: one frame, one output event.
    frame: Vec<u8>,
    /// The first write error; the recording stops there, the screen goes on.
    pub failed: Option<io::Error>,
}

impl Recording {
    pub fn create(path: PathBuf, cols: u16, rows: u16) -> io::Result<Recording> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(&path)?;
        let cast = CastWriter::new(BufWriter::new(file), cols, rows, "sandscope")?;
        Ok(Recording {
            path,
            cast,
            frame: Vec::new(),
            failed: None,
        })
    }
}

/// What the UI writes to its terminal, and a copy of it into the recording
/// when there is one: only this program's screen is recorded, never the
/// rest of the terminal it runs in.
pub struct Tee {
    out: Stdout,
    recording: Recorder,
}

/// The recording the terminal writes into, shared with the loop that
/// starts and stops it.
pub type Recorder = Arc<Mutex<Option<Recording>>>;

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        if let Some(r) = self.recording.lock().ok().as_mut().and_then(|g| g.as_mut()) {
            r.frame.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        let mut guard = self.recording.lock().ok();
        let rec = guard.as_mut().and_then(|g| g.as_mut());
        if let Some(r) = rec.filter(|r| r.failed.is_none()) {
            let frame = std::mem::take(&mut r.frame);
            if !frame.is_empty() {
                if let Err(e) = r.cast.output(&frame) {
                    r.failed = Some(e);
                }
            }
        }
        Ok(())
    }
}

/// Puts the terminal into full-screen mode; dropping it puts it back.
pub struct TermGuard {
    pub terminal: Term,
    /// What the terminal's output is also written to, when recording.
    pub recording: Recorder,
    mouse: bool,
}

impl TermGuard {
    pub fn enter(mouse: bool) -> io::Result<TermGuard> {
        install_panic_hook(mouse);
        enable_raw_mode()?;
        let mut out = io::stdout();
        let entered = execute!(out, EnterAlternateScreen, EnableBracketedPaste).and_then(|()| {
            if mouse {
                execute!(out, EnableMouseCapture)
            } else {
                Ok(())
            }
        });
        if let Err(e) = entered {
            restore(mouse);
            return Err(e);
        }
        let recording = Recorder::default();
        let tee = Tee {
            out,
            recording: recording.clone(),
        };
        match Terminal::new(CrosstermBackend::new(tee)) {
            Ok(mut terminal) => {
                let _ = terminal.clear();
                Ok(TermGuard {
                    terminal,
                    recording,
                    mouse,
                })
            }
            Err(e) => {
                restore(mouse);
                Err(e)
            }
        }
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore(self.mouse);
    }
}

/// Best effort: each step runs even if an earlier one failed.
fn restore(mouse: bool) {
    let mut out = io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(
        out,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// A panic anywhere restores the terminal before the message is printed, so
/// the message is readable and the shell is usable.
fn install_panic_hook(mouse: bool) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore(mouse);
        tracing::error!(%info, "panic");
        previous(info);
    }));
}

/// Forwards terminal events until the UI stops listening. A broken input
/// stream ends the task; the loop notices through its ticks and quit key.
pub fn spawn_events(tx: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(ev) = events.next().await {
            let msg = match ev {
                Ok(Event::Key(k)) => Msg::Key(k),
                Ok(Event::Mouse(m)) => Msg::Mouse(m),
                Ok(Event::Paste(p)) => Msg::Paste(p),
                Ok(Event::Resize(..)) => Msg::Resize,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "terminal input failed");
                    return;
                }
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
}

/// SIGTERM and SIGHUP (the terminal went away) end the UI the same way as
/// quitting does, so the terminal is restored and sandboxes are stopped.
pub fn spawn_signals(tx: mpsc::Sender<Msg>) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM/SIGHUP");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = tx.send(Msg::Terminate).await;
    });
}
