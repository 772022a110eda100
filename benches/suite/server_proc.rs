//! The server under test as its own process (`sandscope serve`), so that
//! its memory can be read from /proc apart from the benchmark's client side.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::proc_stat;

/// How long the server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `serve` may take to stop every sandbox after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct ServerProc {
    child: Option<Child>,
    pub url: String,
    pub isolation: String,
    pub token: String,
    stderr_path: std::path::PathBuf,
    _data_dir: tempfile::TempDir,
}

impl ServerProc {
    /// Starts `bin serve` on a loopback port chosen by the kernel, with a
    /// fresh data directory, and returns once it has printed its address.
    pub fn start(bin: &Path, token: &str) -> Result<ServerProc, String> {
        let data_dir = tempfile::tempdir().map_err(|e| format!("temp data dir: {e}"))?;
        // The server logs to stderr too; keep it out of the results table.
        let stderr_path = data_dir.path().join("serve.stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(|e| format!("create {}: {e}", stderr_path.display()))?;
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--runtime",
                "bubblewrap",
            ])
            .env("SANDSCOPE_DATA_DIR", data_dir.path())
            .env("SANDSCOPE_LOG_DIR", data_dir.path().join("logs"))
            .env("SANDSCOPE_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("server stdout not piped")?;
        let (tx, rx) = mpsc::channel::<String>();
        // Keeps draining after start-up so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = ServerProc {
            child: Some(child),
            url: String::new(),
            isolation: String::new(),
            token: token.to_string(),
            stderr_path: stderr_path.clone(),
            _data_dir: data_dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while server.url.is_empty() || server.isolation.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(format!(
                    "the server did not print its address and isolation; its stderr:\n{log}"
                ));
            };
            if let Some(url) = line.strip_prefix("sandscope server listening on ") {
                server.url = url.trim().to_string();
            } else if let Some(iso) = line.strip_prefix("isolation: ") {
                server.isolation = iso.trim().to_string();
            }
        }
        Ok(server)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Current resident set size of the server process, KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_stat::rss_kib(self.pid()?)
    }

    /// Peak resident set size of the server process since it started, KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_stat::peak_rss_kib(self.pid()?)
    }

    /// CPU time (user + system) the server process has used so far, seconds.
    pub fn cpu_secs(&self) -> Option<f64> {
        proc_stat::cpu_secs(self.pid()?)
    }

    /// Open file descriptors of the server process.
    pub fn open_fds(&self) -> Option<u64> {
        proc_stat::open_fds(self.pid()?)
    }

    /// Whether the server is still running, and if not, how it ended and
    /// the last lines it wrote to stderr: what a failed part should say.
    pub fn post_mortem(&mut self) -> String {
        let Some(child) = self.child.as_mut() else {
            return "the server was stopped".to_string();
        };
        match child.try_wait() {
            Ok(None) => "the server is still running".to_string(),
            Ok(Some(status)) => {
                let log = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n");
                format!("the server exited with {status}; the end of its stderr:\n{tail}")
            }
            Err(e) => format!("cannot tell whether the server runs: {e}"),
        }
    }

    /// SIGTERM (the server stops its sandboxes), then waits; SIGKILL if it hangs.
    pub fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("server exited with {status}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("server did not stop after SIGTERM; killed".to_string());
                }
            }
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
