//! The real `sandscope` TUI in tmux, connected to a `sandscope serve` of
//! its own (a separate process), so the TUI process's CPU and memory are
//! the UI's alone: with no endpoint configured the TUI would run the server
//! inside its own process and the two could not be told apart.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use crate::proc_stat;
use crate::server_proc::ServerProc;
use crate::suite::TOKEN;
use crate::tmux::Tmux;
use crate::tui::{HEIGHT, WIDTH};
use crate::tui_log::{Events, TuiLog};

/// How long the UI may take to come up and start the first process.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the log and /proc are read while waiting.
const POLL: Duration = Duration::from_millis(20);

/// One flood watched in the TUI.
pub struct FloodRun {
    pub panes: usize,
    pub bytes: u64,
    /// From the first process starting until the last one finished.
    pub wall_secs: f64,
    /// The TUI process's CPU time over that window.
    pub cpu_secs: f64,
    pub peak_rss_kib: u64,
    /// The server's CPU time over the same window, for context.
    pub server_cpu_secs: f64,
}

pub struct IdleRun {
    pub secs: f64,
    pub cpu_secs: f64,
    pub rss_kib: u64,
}

/// The UI and its server, both running.
struct Session {
    server: ServerProc,
    tmux: Tmux,
    pid: u32,
    log: TuiLog,
    _dir: tempfile::TempDir,
}

impl Session {
    /// Starts a server and `bin --script` with `script` in tmux.
    fn start(bin: &Path, script: &str) -> Result<Session, String> {
        let server = ServerProc::start(bin, TOKEN)?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let script_path = dir.path().join("bench.toml");
        std::fs::write(&script_path, script).map_err(|e| format!("write script: {e}"))?;
        let logs = dir.path().join("logs");
        let argv = vec![
            bin.display().to_string(),
            "--script".to_string(),
            script_path.display().to_string(),
        ];
        let env = [
            ("SANDSCOPE_ENDPOINT", server.url.clone()),
            ("SANDSCOPE_TOKEN", TOKEN.to_string()),
            ("SANDSCOPE_LOG_DIR", logs.display().to_string()),
            (
                "SANDSCOPE_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
        ];
        let tmux = Tmux::start(&argv, WIDTH, HEIGHT, dir.path(), &env)?;
        let pid = tmux.program_pid("sandscope", START_TIMEOUT)?;
        Ok(Session {
            server,
            tmux,
            pid,
            log: TuiLog::new(&logs),
            _dir: dir,
        })
    }

    /// Polls the TUI's log until `pred` holds.
    fn wait_log(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Events) -> bool,
    ) -> Result<Events, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let ev = self.log.events();
            if pred(&ev) {
                return Ok(ev);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out waiting for {what}; the screen:\n{}",
                    self.tmux.screen()
                ));
            }
            if proc_stat::cpu_secs(self.pid).is_none() {
                return Err(format!(
                    "the TUI exited while waiting for {what}; the screen:\n{}",
                    self.tmux.screen()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    fn cpu(&self) -> f64 {
        proc_stat::cpu_secs(self.pid).unwrap_or(0.0)
    }

    fn stop(mut self) -> Result<(), String> {
        drop(self.tmux);
        self.server.stop()
    }
}

/// `panes` processes in one sandbox, each printing `line` until
/// `bytes_per_pane` bytes, all marked and waited for. Checks that every
/// process exited 0, that every byte reached its pane (the TUI logs what
/// each pane received) and that the wait view says so.
pub fn flood(
    bin: &Path,
    panes: usize,
    bytes_per_pane: u64,
    line: &str,
    timeout: Duration,
) -> Result<FloodRun, String> {
    let mut script = String::from("[[sandbox]]\nname = \"flood\"\n\n");
    for _ in 0..panes {
        script.push_str(&format!(
            "[[exec]]\nsandbox = \"flood\"\nshell = \"yes '{}' | head -c {bytes_per_pane}\"\nmark = true\n\n",
            line.trim_end()
        ));
    }
    script.push_str(&format!("[wait]\nn = {panes}\n"));
    let session = Session::start(bin, &script)?;

    session.wait_log("the first process to start", START_TIMEOUT, |ev| {
        !ev.started.is_empty()
    })?;
    let (cpu0, server0, t0) = (
        session.cpu(),
        session.server.cpu_secs().unwrap_or(0.0),
        Instant::now(),
    );
    let ev = session.wait_log("every process to finish", timeout, |ev| {
        ev.finished.len() >= panes
    })?;
    let wall_secs = t0.elapsed().as_secs_f64();
    let cpu_secs = session.cpu() - cpu0;
    let server_cpu_secs = session.server.cpu_secs().unwrap_or(0.0) - server0;
    let peak_rss_kib = proc_stat::peak_rss_kib(session.pid).unwrap_or(0);

    for f in &ev.finished {
        if f.status != "exit 0" || f.bytes_out != bytes_per_pane {
            return Err(format!(
                "p{} finished with {} after {} of {bytes_per_pane} bytes",
                f.key, f.status, f.bytes_out
            ));
        }
    }
    let done = format!("done: {panes} of {panes} finished");
    session
        .tmux
        .wait_for(&done, Duration::from_secs(10), |s| s.contains(&done))?;
    session.stop()?;
    Ok(FloodRun {
        panes,
        bytes: bytes_per_pane * panes as u64,
        wall_secs,
        cpu_secs,
        peak_rss_kib,
        server_cpu_secs,
    })
}

/// A sandbox and one process that prints nothing, shown for `secs`: the
/// TUI's CPU while nothing happens (the process list still refreshes and
/// the running process's clock still moves).
pub fn idle(bin: &Path, secs: Duration) -> Result<IdleRun, String> {
    let script = "[[sandbox]]\nname = \"idle\"\n\n\
                  [[exec]]\nsandbox = \"idle\"\ncommand = [\"sleep\", \"3600\"]\n";
    let session = Session::start(bin, script)?;
    session.wait_log("the idle process to start", START_TIMEOUT, |ev| {
        !ev.started.is_empty()
    })?;
    session
        .tmux
        .wait_for("the idle process listed", START_TIMEOUT, |s| {
            s.contains("sleep 3600") && s.contains("running")
        })?;
    // Let start-up work (first frames, the first list refreshes) pass.
    std::thread::sleep(Duration::from_secs(2));
    let (cpu0, t0) = (session.cpu(), Instant::now());
    std::thread::sleep(secs);
    let cpu_secs = session.cpu() - cpu0;
    let secs = t0.elapsed().as_secs_f64();
    let rss_kib = proc_stat::rss_kib(session.pid).unwrap_or(0);
    if !session.log.events().finished.is_empty() {
        return Err("the idle process ended during the idle run".into());
    }
    session.stop()?;
    Ok(IdleRun {
        secs,
        cpu_secs,
        rss_kib,
    })
}
