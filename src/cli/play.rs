//! `sandscope play FILE.cast`: a recording replayed in this terminal, with
//! its timing (faster with `--speed`, long idle gaps cut to `--idle-limit`).
//! It plays on the alternate screen, so the shell's screen is back after.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::tui::cast::{Cast, EventKind};

#[derive(Debug, clap::Args)]
pub struct PlayArgs {
    /// An asciicast v2 file (what `--record` and `R` write).
    pub file: PathBuf,
    /// Play this many times faster.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub speed: f64,
    /// Wait at most this many seconds between two events.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = positive)]
    pub idle_limit: f64,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e6 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// Puts the terminal back however playing ends.
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let mut out = std::io::stdout();
        // What a recording leaves set (colours, a hidden cursor) goes too.
        let _ = write!(out, "\x1b[0m\x1b[?2026l");
        let _ = crossterm::execute!(
            out,
            crossterm::cursor::Show,
            crossterm::terminal::LeaveAlternateScreen
        );
    }
}

pub async fn run(args: PlayArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let cast = Cast::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    if let Some((cols, rows)) = super::rawterm::size() {
        if cols < cast.width || rows < cast.height {
            eprintln!(
                "sandscope: the recording is {}x{}, this terminal {cols}x{rows}: it may look cut",
                cast.width, cast.height
            );
        }
    }
    let screen = Screen::enter().context("cannot switch to the alternate screen")?;
    let played = tokio::select! {
        r = play(&cast, args.speed, args.idle_limit) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    // Long enough to see the last frame before the shell comes back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(screen);
    played.context("cannot write to the terminal")?;
    Ok(ExitCode::SUCCESS)
}

async fn play(cast: &Cast, speed: f64, idle_limit: f64) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    let mut last = 0.0;
    for ev in &cast.events {
        let gap = (ev.at - last).clamp(0.0, idle_limit) / speed;
        last = ev.at;
        if gap > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        }
        // A resize cannot be made on someone's terminal; the frames after
        // it are drawn for the new size all the same.
        if let EventKind::Output(data) = &ev.kind {
            out.write_all(data.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
