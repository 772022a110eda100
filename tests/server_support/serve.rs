//! `sandscope serve` as a real child process, for tests about what happens
//! when the server process dies, and helpers to reach into it.
use super::{init, pb, spec_with, Client, In, Out};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

pub struct Serve {
    child: Child,
    pub url: String,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Serve {
    /// Start `sandscope serve` on a free port with `data_dir`, the test
    /// token and `extra` arguments; returns once it says it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Serve {
        Self::spawn(Self::command(data_dir, extra))
    }

    /// The command [`Serve::start`] runs, to change (environment, limits)
    /// before [`Serve::spawn`].
    pub fn command(data_dir: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sandscope"));
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("SANDSCOPE_DATA_DIR", data_dir)
            .env("SANDSCOPE_TOKEN", super::TOKEN)
            .env("SANDSCOPE_LOG_DIR", data_dir.join("logs"))
            .env_remove("SANDSCOPE_RUNTIME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `command` (a `serve`); returns once it says it listens.
    pub fn spawn(mut command: Command) -> Serve {
        let mut child = command.spawn().expect("sandscope serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let out_pipe = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("sandscope server listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not come up: {}", stderr.lock().unwrap());
        };
        Serve {
            child,
            url,
            stderr,
            stdout,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What the server wrote on stderr so far (its log goes there too).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// What the server printed on stdout so far (its banner).
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the server gets no chance to clean anything up.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// Host pids whose command line or environment mentions `needle`.
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let mentions = |file: &str| {
            std::fs::read(e.path().join(file))
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
        };
        if mentions("cmdline") || mentions("environ") {
            out.push(pid);
        }
    }
    out
}

/// A data dir outside /tmp, as the harness makes, for `sandscope serve`.
pub fn serve_data_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::Builder::new()
        .prefix("sandscope-test-")
        .tempdir_in("/var/tmp")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let data = dir.path().canonicalize().unwrap();
    let data = data.to_str().unwrap().to_string();
    (dir, data)
}

/// Create a sandbox whose processes all carry `marker` in their
/// environment, and wait until it runs.
pub async fn running_marked(client: &Client, command: &[&str], marker: &str) -> pb::Sandbox {
    let mut spec = spec_with(command);
    spec.containers[0]
        .environment_variables
        .insert("SANDSCOPE_TEST_MARKER".into(), marker.into());
    super::run_spec(client, spec).await
}

/// Start `argv` in the sandbox and leave it running; the returned sender
/// keeps the request stream open.
pub async fn start_exec(
    client: &Client,
    id: &str,
    argv: &[&str],
    marker: &str,
) -> (
    mpsc::Sender<pb::ExecStreamRequest>,
    tonic::Streaming<pb::ExecStreamResponse>,
) {
    let mut first = init(id, argv);
    if let Some(In::Init(i)) = &mut first.message {
        i.env.insert("SANDSCOPE_TEST_MARKER".into(), marker.into());
    }
    let (tx, rx) = mpsc::channel(1);
    tx.send(first).await.unwrap();
    let mut out = client
        .clone()
        .stream_exec(ReceiverStream::new(rx))
        .await
        .expect("exec")
        .into_inner();
    let ready = out.message().await.expect("exec frame").expect("ready");
    assert!(matches!(ready.message, Some(Out::Ready(_))), "{ready:?}");
    (tx, out)
}

pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Wait (bounded) until `pids` finds nothing; fail naming what is left.
pub async fn wait_none_left(what: &str, pids: impl Fn() -> Vec<i32>) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = pids();
        if left.is_empty() {
            return;
        }
        let cmds: Vec<String> = left.iter().map(|&p| cmdline(p)).collect();
        assert!(
            std::time::Instant::now() < until,
            "{what}: processes left behind: {left:?} {cmds:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
