//! The terminal: a guard that restores it on every way out (including
//! panics), and the task that turns terminal events into messages.
use std::io::{self, Stdout, Write};

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

use super::msg::Msg;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal into full-screen mode; dropping it puts it back.
pub struct TermGuard {
    pub terminal: Term,
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
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(mut terminal) => {
                let _ = terminal.clear();
                Ok(TermGuard { terminal, mouse })
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
