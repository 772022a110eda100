//! One task per process: it owns the client's `Process`, pumps its output
//! into the pane's inbox, forwards stdin and kill, and reports the end.
use std::time::Duration;

use tokio::sync::mpsc;

use super::describe;
use crate::client::{Client, ExecOptions, OutputStream, ProcessStatus, StatusWatch, StdinWriter};
use crate::tui::msg::{Msg, NetEvent, ProcKey};
use crate::tui::state::pane::PaneInbox;

/// How long the end report waits for the last output to be pumped.
const DRAIN_GRACE: Duration = Duration::from_secs(3);

enum StdinCmd {
    Write(Vec<u8>),
    Close,
}

/// What the process task does besides pumping: kill, or a new terminal size.
enum Control {
    Kill,
    Resize { cols: u16, rows: u16 },
}

/// The UI's handle on a process task. Commands are queued, so a write to a
/// process that does not read yet never blocks the UI.
pub struct ProcHandle {
    stdin: mpsc::UnboundedSender<StdinCmd>,
    control: mpsc::UnboundedSender<Control>,
}

impl ProcHandle {
    pub fn write(&self, data: impl Into<Vec<u8>>) {
        let _ = self.stdin.send(StdinCmd::Write(data.into()));
    }
    pub fn close_stdin(&self) {
        let _ = self.stdin.send(StdinCmd::Close);
    }
    pub fn kill(&self) {
        let _ = self.control.send(Control::Kill);
    }
    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = self.control.send(Control::Resize { cols, rows });
    }
}

pub fn spawn(
    client: Client,
    tx: mpsc::Sender<Msg>,
    key: ProcKey,
    sandbox_id: String,
    argv: Vec<String>,
    opts: ExecOptions,
    inbox: PaneInbox,
) -> ProcHandle {
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    tokio::spawn(run(
        client, tx, key, sandbox_id, argv, opts, inbox, stdin_rx, control_rx,
    ));
    ProcHandle {
        stdin: stdin_tx,
        control: control_tx,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    client: Client,
    tx: mpsc::Sender<Msg>,
    key: ProcKey,
    sandbox_id: String,
    argv: Vec<String>,
    opts: ExecOptions,
    inbox: PaneInbox,
    stdin_rx: mpsc::UnboundedReceiver<StdinCmd>,
    mut control_rx: mpsc::UnboundedReceiver<Control>,
) {
    let mut proc = match client.exec(&sandbox_id, &argv, opts).await {
        Ok(p) => p,
        Err(e) => {
            let _ = tx
                .send(Msg::Net(NetEvent::ExecFailed {
                    key,
                    error: describe(&e),
                }))
                .await;
            return;
        }
    };
    let writer = proc.take_stdin();
    let _ = tx
        .send(Msg::Net(NetEvent::ExecStarted {
            key,
            stdin: writer.is_some(),
        }))
        .await;
    if let Some(w) = writer {
        tokio::spawn(feed_stdin(w, stdin_rx, tx.clone(), key));
    }
    let pump = proc
        .take_output()
        .map(|out| tokio::spawn(pump(out, inbox, tx.clone(), key)));
    let mut watch = proc.status();
    let mut control_open = true;
    let status = loop {
        tokio::select! {
            s = ended(&mut watch) => break s,
            c = control_rx.recv(), if control_open => match c {
                Some(Control::Kill) => proc.kill(),
                Some(Control::Resize { cols, rows }) => proc.resize(cols, rows),
                None => control_open = false,
            },
        }
    };
    if let Some(pump) = pump {
        // Output sent before the exit belongs before the status; do not
        // hang on a stream that never closes, though.
        let _ = tokio::time::timeout(DRAIN_GRACE, pump).await;
    }
    let _ = tx
        .send(Msg::Net(NetEvent::ProcessEnded { key, status }))
        .await;
}

async fn ended(watch: &mut StatusWatch) -> ProcessStatus {
    if let Some(s) = watch.current() {
        return s;
    }
    match watch.changed().await {
        Some(s) => s,
        None => watch
            .current()
            .unwrap_or_else(|| ProcessStatus::Error("lost track of the process".into())),
    }
}

/// Moves output into the pane's inbox; waits while the inbox is full so a
/// fast writer is slowed down instead of filling memory.
async fn pump(mut out: OutputStream, inbox: PaneInbox, tx: mpsc::Sender<Msg>, key: ProcKey) {
    while let Some(chunk) = out.next().await {
        wait_for_room(&inbox).await;
        if inbox.push(chunk.stream, chunk.data)
            && tx.send(Msg::Net(NetEvent::PaneChanged(key))).await.is_err()
        {
            return;
        }
    }
}

/// Waits while the inbox is full, until update drains it.
pub(super) async fn wait_for_room(inbox: &PaneInbox) {
    loop {
        let drained = inbox.drained.notified();
        tokio::pin!(drained);
        drained.as_mut().enable();
        if !inbox.is_full() {
            return;
        }
        drained.await;
    }
}

async fn feed_stdin(
    w: StdinWriter,
    mut rx: mpsc::UnboundedReceiver<StdinCmd>,
    tx: mpsc::Sender<Msg>,
    key: ProcKey,
) {
    while let Some(cmd) = rx.recv().await {
        let (result, closing) = match cmd {
            StdinCmd::Write(data) => (w.write(data).await, false),
            StdinCmd::Close => (w.close().await, true),
        };
        let ev = match result {
            Ok(()) if closing => NetEvent::StdinClosed { key },
            Ok(()) => continue,
            Err(e) => NetEvent::StdinFailed {
                key,
                error: describe(&e),
            },
        };
        if tx.send(Msg::Net(ev)).await.is_err() {
            return;
        }
    }
}
