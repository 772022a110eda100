//! A program in a real terminal: a tmux server of our own (its own socket
//! and an empty home), one window running one command, killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    /// Where tmux put its socket, removed on drop (kill-server leaves it).
    socket_path: Option<PathBuf>,
    home: tempfile::TempDir,
}

impl Tmux {
    /// Runs `argv` (replacing the pane's shell, so the pane's process is the
    /// program itself) in a `width` x `height` window, in `cwd`, with a
    /// clean environment: PATH, an empty home, and `env`.
    pub fn start(
        argv: &[String],
        width: u16,
        height: u16,
        cwd: &Path,
        env: &[(&str, String)],
    ) -> Result<Tmux, String> {
        let home = tempfile::tempdir().map_err(|e| format!("temp home: {e}"))?;
        let socket = format!(
            "sandscope-bench-{}-{}",
            std::process::id(),
            home.path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
        );
        let h = home.path().to_path_buf();
        let command = format!(
            "exec {}",
            shlex::try_join(argv.iter().map(String::as_str))
                .map_err(|e| format!("quote {argv:?}: {e}"))?
        );
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["-s", "main", "-c"])
            .arg(cwd)
            .arg(command)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut t = Tmux {
            socket,
            socket_path: None,
            home,
        };
        let out = cmd.output().map_err(|e| format!("run tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux new-session failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        // Keep the window (and its last screen) when the program exits.
        let _ = t.tmux(&["set-option", "-t", "main", "remain-on-exit", "on"]);
        t.socket_path = t
            .tmux(&["display-message", "-p", "#{socket_path}"])
            .ok()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|p| p.is_absolute());
        Ok(t)
    }

    pub fn home(&self) -> PathBuf {
        self.home.path().to_path_buf()
    }

    fn tmux(&self, args: &[&str]) -> Result<Output, String> {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run tmux: {e}"))
    }

    /// The pid of the program in the pane.
    pub fn pane_pid(&self) -> Result<u32, String> {
        let out = self.tmux(&["list-panes", "-t", "main", "-F", "#{pane_pid}"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .map_err(|_| format!("tmux list-panes printed {:?}", text.trim()))
    }

    /// The pid of the program in the pane once the shell that starts it has
    /// replaced itself with `name`.
    pub fn program_pid(&self, name: &str, timeout: Duration) -> Result<u32, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let pid = self.pane_pid()?;
            let comm = crate::proc_stat::comm(pid);
            if comm.as_deref() == Some(name) {
                return Ok(pid);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the pane runs {comm:?}, not {name}; the screen:\n{}",
                    self.screen()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Polls the screen until `pred` holds or `timeout` passes; the error
    /// carries the last screen.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if pred(&s) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}; the screen:\n{s}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends named keys (`q`, `Enter`, ...).
    pub fn keys(&self, keys: &[&str]) -> Result<(), String> {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args).map(|_| ())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
    }
}
