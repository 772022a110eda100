//! One task per exec'd process. The task owns the child; the rest of the
//! server drives it with commands (stdin bytes, EOF, resize, kill) and
//! receives events (output chunks, then exactly one exit). Channels are
//! bounded, so a slow reader blocks the process on its pipe instead of
//! growing a buffer here.
mod output;
mod reader;

use super::pty::Pty;
use super::runtime::{child, ExecSpec, Instance, Runtime};
use bytes::Bytes;
use output::Output;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// After the process exits, output still arriving within this window is
/// forwarded; a background child holding the pipe open cannot delay the
/// exit longer than that.
const DRAIN_GRACE: Duration = Duration::from_millis(200);
/// After the exit, at most this much more output is forwarded: more than
/// any pipe holds, so only a background writer that never stops hits it.
const DRAIN_MAX_BYTES: usize = 4 << 20;
/// Output chunks (up to 64 KiB each) queued toward the RPC per process.
/// Few: output a reader is behind on should wait in the process's pipe,
/// where it stops the writer, not in server memory.
const EVENTS: usize = 2;

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

/// Kills a process's whole group, once; the exit event still follows.
pub struct Killer(oneshot::Sender<()>);

impl Killer {
    pub fn kill(self) {
        let _ = self.0.send(());
    }
}

impl Spawned {
    /// Kill the whole process group; the exit event still follows.
    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }

    /// The kill switch, for whoever must be able to kill apart from this
    /// handle's owner; [`Spawned::kill`] does nothing afterwards.
    pub fn take_killer(&mut self) -> Option<Killer> {
        self.kill.take().map(Killer)
    }

    /// Something that resizes the terminal from another task (None without one).
    pub fn resizer(&self) -> Option<Arc<Pty>> {
        self.pty.clone()
    }
}

/// Start `spec` in the sandbox. A command the runtime cannot even start
/// becomes a process that prints why on stderr and exits 127 (126 when not
/// executable), as a shell would.
pub async fn spawn(
    runtime: &dyn Runtime,
    instance: &Instance,
    spec: &ExecSpec,
    tty_size: Option<(u16, u16)>,
) -> Spawned {
    let (ev_tx, ev_rx) = mpsc::channel(EVENTS);
    let (in_tx, in_rx) = mpsc::channel::<Option<Bytes>>(1);
    let (kill_tx, kill_rx) = oneshot::channel();

    let started = async {
        let cmd = runtime.exec_command(instance, spec)?;
        match tty_size {
            Some((cols, rows)) => {
                let pty = Arc::new(Pty::open(cols, rows)?);
                let slave = pty.take_slave()?;
                let child = child::spawn(cmd, child::Stdio::Terminal(slave)).await?;
                Ok((child, Some(pty)))
            }
            None => child::spawn(cmd, child::Stdio::Pipes)
                .await
                .map(|c| (c, None)),
        }
    }
    .await;
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
    let mut sources = Vec::new();
    let mut add_source = |source: std::io::Result<Output>, stream: i32| match source {
        Ok(src) => sources.push((stream, src)),
        // Cannot happen short of running out of descriptors; the process
        // then sees its output closed.
        Err(e) => tracing::warn!(error = %e, stream, "cannot read the output of an exec"),
    };
    match &pty {
        Some(p) => {
            add_source(p.master().and_then(Output::terminal), 1);
            tokio::spawn(write_stdin(p.writer(), in_rx));
        }
        None => {
            if let Some(out) = child.stdout.take() {
                add_source(Output::pipe(out), 1);
            }
            if let Some(err) = child.stderr.take() {
                add_source(Output::pipe(err), 2);
            }
            match child
                .stdin
                .take()
                .map(tokio::net::unix::pipe::Sender::from_owned_fd)
            {
                Some(Ok(w)) => {
                    tokio::spawn(write_stdin(w, in_rx));
                }
                // Without a writer, stdin frames are dropped as after an
                // early exit; the process sees its stdin closed.
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cannot write the stdin of an exec");
                    drop(in_rx);
                }
                None => drop(in_rx),
            }
        }
    }
    // One task reads every stream, so they keep the order they came in.
    let pump = match reader::Reader::new(sources) {
        Ok(r) => Some(tokio::spawn(reader::forward(
            r,
            ev_tx.clone(),
            exited_rx,
            DRAIN_GRACE,
            DRAIN_MAX_BYTES,
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the output of an exec");
            None
        }
    };
    let pty_for_task = pty.clone();
    let cgroup = instance.cgroup.clone();
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
        if let Some(p) = pump {
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
        // SIGKILL from the kernel at the sandbox's memory limit: say so, as
        // the exit code alone reads like any kill.
        if code == 128 + libc::SIGKILL {
            if let Some(cg) = &cgroup {
                if cg.new_oom_kills() > 0 {
                    let msg = format!(
                        "sandscope: killed: the sandbox is out of memory (limit {})\n",
                        cg.memory_limit()
                    );
                    let _ = ev_tx.send(Event::Output(2, Bytes::from(msg))).await;
                }
            }
        }
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
