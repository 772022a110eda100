//! Driving a real terminal: a tmux server of our own, typed into and read
//! back like a person would. Every wait polls the screen under one generous
//! deadline; nothing is asserted on timing.
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(90);

/// A tmux server of our own (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
    home: tempfile::TempDir,
}

impl Tmux {
    pub fn start(width: u16, height: u16) -> Tmux {
        let home = tempfile::tempdir().expect("tempdir");
        let socket = format!(
            "sandscope-e2e-{}-{}",
            std::process::id(),
            home.path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
        );
        let t = Tmux { socket, home };
        let h = t.home.path();
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args([
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "-s",
                "main",
                // A plain shell with a prompt the test can recognise (tmux
                // does not hand PS1 from its environment to the shell).
                "env 'PS1=e2e$ ' bash --norc --noprofile",
            ])
            // The tmux server (and so the shell and sandscope) inherits this
            // environment: a private home, data and log directory, no
            // configured endpoint, and a plain prompt.
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("SANDSCOPE_DATA_DIR", h.join("sandscope-data"))
            .env("SANDSCOPE_LOG_DIR", h.join("logs"))
            .env("TERM", "xterm-256color");
        let out = cmd.output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Types text literally (no key-name interpretation).
    pub fn type_text(&self, text: &str) {
        assert!(self
            .tmux(&["send-keys", "-t", "main", "-l", text])
            .status
            .success());
    }

    /// Sends named keys (`Enter`, `C-d`, `Escape`, ...).
    ///
    /// An Escape is followed by a pause, as when a person types it: a
    /// terminal program reads Escape and the next key arriving together as
    /// one Alt combination (on a loaded machine the two often do).
    pub fn keys(&self, keys: &[&str]) {
        for group in keys.split_inclusive(|k| *k == "Escape") {
            let mut args = vec!["send-keys", "-t", "main"];
            args.extend_from_slice(group);
            assert!(self.tmux(&args).status.success());
            if group.last() == Some(&"Escape") {
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
        }
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// The private home every program in the session sees.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Polls the screen until `pred` holds; fails with the last screen.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > DEADLINE {
                let logs = self.home.path().join("logs");
                panic!(
                    "timed out waiting for {what}; screen:\n{s}\n(logs in {})",
                    logs.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }

    pub fn alternate_screen_on(&self) -> bool {
        let out = self.tmux(&["display-message", "-p", "-t", "main", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
