//! One task per exec'd process. The task owns the child; the rest of the
//! server drives it with commands (stdin bytes, EOF, resize, kill) and
//! receives events (output chunks, then exactly one exit). Channels are
//! bounded, so a slow reader blocks the process on its pipe instead of
//! growing a buffer here.
use super::pty::Pty;
use super::runtime::{spawner, ExecCommand, ExecSpec, Instance, Runtime};
use bytes::Bytes;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// Largest output chunk forwarded in one event.
pub const CHUNK: usize = 64 << 10;
/// After the process exits, output still arriving within this window is
/// forwarded; a background child holding the pipe open cannot delay the
/// exit longer than that.
const DRAIN_GRACE: Duration = Duration::from_millis(200);
/// After the exit, at most this much more output is forwarded: more than
/// any pipe holds, so only a background writer that never stops hits it.
const DRAIN_MAX_BYTES: usize = 4 << 20;
const EVENTS: usize = 16;

#[derive(Debug)]
pub enum Event {
    /// 1 = stdout, 2 = stderr (a terminal reports everything as stdout).
    Output(i32, Bytes),
    Exit(i32),
}

/// Handle to a running process.
pub struct Spawned {
    /// `Some(bytes)` writes, `None` closes stdin. Each write completes
    /// before the next is taken (backpressure).
    pub stdin: mpsc::Sender<Option<Bytes>>,
    pub events: mpsc::Receiver<Event>,
    kill: Option<oneshot::Sender<()>>,
    pty: Option<Arc<Pty>>,
    pub pid: Option<i32>,
}

impl Spawned {
    /// Kill the whole process group; the exit event still follows.
    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }

    /// Something that resizes the terminal from another task (None without one).
    pub fn resizer(&self) -> Option<Arc<Pty>> {
        self.pty.clone()
    }
}

/// Start `spec` in the sandbox. A command the runtime cannot even start
/// becomes a process that prints why on stderr and exits 127 (126 when not
/// executable), as a shell would.
pub fn spawn(
    runtime: &dyn Runtime,
    instance: &Instance,
    spec: &ExecSpec,
    tty_size: Option<(u16, u16)>,
) -> Spawned {
    let (ev_tx, ev_rx) = mpsc::channel(EVENTS);
    let (in_tx, in_rx) = mpsc::channel::<Option<Bytes>>(1);
    let (kill_tx, kill_rx) = oneshot::channel();

    let started =
        runtime
            .exec_command(instance, spec)
            .and_then(|ExecCommand { mut cmd, pid_ns }| {
                cmd.kill_on_drop(true);
                match tty_size {
                    Some((cols, rows)) => {
                        let pty = Arc::new(Pty::open(cols, rows)?);
                        pty.attach(&mut cmd)?;
                        let child = spawner::spawn_in(cmd, pid_ns)?;
                        Ok((child, Some(pty)))
                    }
                    None => {
                        cmd.stdin(Stdio::piped())
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped());
                        spawner::spawn_in(cmd, pid_ns).map(|c| (c, None))
                    }
                }
            });
    let (mut child, pty) = match started {
        Ok(x) => x,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::PermissionDenied {
                126
            } else {
                127
            };
            let program = spec.argv.first().cloned().unwrap_or_default();
            let msg = if code == 127 && e.kind() == std::io::ErrorKind::NotFound {
                format!("{program}: command not found\n")
            } else {
                format!("{program}: {e}\n")
            };
            tokio::spawn(async move {
                let _ = ev_tx.send(Event::Output(2, Bytes::from(msg))).await;
                let _ = ev_tx.send(Event::Exit(code)).await;
                drop(in_rx);
            });
            return Spawned {
                stdin: in_tx,
                events: ev_rx,
                kill: Some(kill_tx),
                pty: None,
                pid: None,
            };
        }
    };
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let execs = instance.execs.clone();
    if let Some(pid) = pid {
        execs.add(pid);
    }
    let (exited_tx, exited_rx) = watch::channel(false);
    let mut pumps = Vec::new();
    match &pty {
        Some(p) => {
            pumps.push(tokio::spawn(pump(
                p.reader(),
                1,
                ev_tx.clone(),
                exited_rx.clone(),
            )));
            tokio::spawn(write_stdin(p.writer(), in_rx));
        }
        None => {
            if let Some(out) = child.stdout.take() {
                pumps.push(tokio::spawn(pump(out, 1, ev_tx.clone(), exited_rx.clone())));
            }
            if let Some(err) = child.stderr.take() {
                pumps.push(tokio::spawn(pump(err, 2, ev_tx.clone(), exited_rx.clone())));
            }
            match child.stdin.take() {
                Some(w) => {
                    tokio::spawn(write_stdin(w, in_rx));
                }
                None => drop(in_rx),
            }
        }
    }
    let pty_for_task = pty.clone();
    tokio::spawn(async move {
        let kill_group = |pid: Option<i32>| {
            if let Some(pid) = pid {
                // A terminal session inside the sandbox has its own group,
                // so descendants are killed one by one as well.
                super::runtime::kill_tree(pid);
                super::runtime::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
        };
        let status = tokio::select! {
            s = child.wait() => s,
            r = kill_rx => {
                if r.is_ok() {
                    kill_group(pid);
                }
                // A dropped killer means nobody can kill any more; keep waiting.
                child.wait().await
            }
        };
        // Background processes the command left behind may keep running,
        // as with `docker exec`; only a cancel kills the group.
        if let Some(pid) = pid {
            execs.remove(pid);
        }
        let _ = exited_tx.send(true);
        for p in pumps {
            let _ = p.await;
        }
        drop(pty_for_task);
        let code = match status {
            Ok(s) => s
                .code()
                .or_else(|| s.signal().map(|sig| 128 + sig))
                .unwrap_or(-1),
            Err(_) => -1,
        };
        let _ = ev_tx.send(Event::Exit(code)).await;
    });
    Spawned {
        stdin: in_tx,
        events: ev_rx,
        kill: Some(kill_tx),
        pty,
        pid,
    }
}

async fn write_stdin(mut w: impl AsyncWrite + Unpin, mut rx: mpsc::Receiver<Option<Bytes>>) {
    while let Some(Some(data)) = rx.recv().await {
        if w.write_all(&data).await.is_err() || w.flush().await.is_err() {
            // The process closed stdin or exited: discard the rest quietly.
            while let Some(Some(_)) = rx.recv().await {}
            return;
        }
    }
    let _ = w.shutdown().await;
}

async fn pump(
    mut r: impl AsyncRead + Unpin,
    stream: i32,
    tx: mpsc::Sender<Event>,
    mut exited: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; CHUNK];
    let mut after_exit = 0usize;
    loop {
        let res = if *exited.borrow() {
            if after_exit > DRAIN_MAX_BYTES {
                break;
            }
            match tokio::time::timeout(DRAIN_GRACE, r.read(&mut buf)).await {
                Ok(res) => res,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                res = r.read(&mut buf) => res,
                _ = exited.changed() => continue,
            }
        };
        match res {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if *exited.borrow() {
                    after_exit += n;
                }
                let data = Bytes::copy_from_slice(&buf[..n]);
                if tx.send(Event::Output(stream, data)).await.is_err() {
                    break;
                }
            }
        }
    }
}
