//! Our terminal in raw mode for `sandscope sh`, restored on every way out:
//! the guard's drop covers returns and errors, the panic hook covers
//! panics (in any thread), and signals end the session through its loop.
use anyhow::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// Whether raw mode is on, so the panic hook restores only what we changed.
static RAW: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Raw mode while alive: no echo, no line editing, no signals from keys;
/// every byte goes to the remote terminal as typed.
pub struct RawGuard(());

impl RawGuard {
    pub fn enter() -> anyhow::Result<RawGuard> {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        RAW.store(true, Ordering::SeqCst);
        Ok(RawGuard(()))
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    if RAW.swap(false, Ordering::SeqCst) {
        if let Err(e) = crossterm::terminal::disable_raw_mode() {
            // Nothing better to do at this point than to say so.
            eprintln!("sandscope: cannot restore the terminal ({e}); try `stty sane`");
        }
    }
}

/// The terminal's size as (columns, rows), if there is one.
pub fn size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .filter(|(c, r)| *c > 0 && *r > 0)
}
