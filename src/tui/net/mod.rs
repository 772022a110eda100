//! The network side: carries out effects with the client and reports back
//! on the one channel. Every task reports failure as a message; none of
//! them can take the UI down.
mod detail;
mod logs;
mod process;
mod sandboxes;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::client::Client;

use super::msg::{Effect, Msg, NetEvent, ProcKey};
use process::ProcHandle;

/// The one place client errors become text for a person.
pub fn describe(e: &crate::client::Error) -> String {
    use crate::client::Error;
    match e {
        Error::Unavailable { .. } => format!("{e} (is the server running?)"),
        Error::Unauthenticated(_) => format!("{e} (check the API key)"),
        _ => e.to_string(),
    }
}

/// Writes a transcript, making its directory first (the default save
/// directory does not exist until the first save).
async fn save(path: &std::path::Path, text: String) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    }
    tokio::fs::write(path, text)
        .await
        .map_err(|e| e.to_string())
}

pub struct Net {
    client: Client,
    tx: mpsc::Sender<Msg>,
    procs: HashMap<ProcKey, ProcHandle>,
    /// The log view's stream; replaced or stopped with the view.
    logs: Option<tokio::task::JoinHandle<()>>,
    /// Running port forwards; dropping a sender stops its forward.
    forwards: HashMap<u64, tokio::sync::oneshot::Sender<()>>,
    refresh_now: Arc<Notify>,
    include_terminated: Arc<AtomicBool>,
    stop_grace: Duration,
}

impl Net {
    /// Starts the periodic sandbox refresh as well.
    pub fn new(
        client: Client,
        tx: mpsc::Sender<Msg>,
        refresh: Duration,
        stop_grace: Duration,
        include_terminated: bool,
    ) -> Net {
        let refresh_now = Arc::new(Notify::new());
        let include = Arc::new(AtomicBool::new(include_terminated));
        tokio::spawn(sandboxes::refresh_loop(
            client.clone(),
            tx.clone(),
            refresh,
            refresh_now.clone(),
            include.clone(),
        ));
        Net {
            client,
            tx,
            procs: HashMap::new(),
            logs: None,
            forwards: HashMap::new(),
            refresh_now,
            include_terminated: include,
            stop_grace,
        }
    }

    pub fn sender(&self) -> mpsc::Sender<Msg> {
        self.tx.clone()
    }

    /// Carries out one effect. `Quit` and `CheckQuit` belong to the app and
    /// are ignored here.
    pub fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::RefreshSandboxes { include_terminated } => {
                self.include_terminated
                    .store(include_terminated, Ordering::Relaxed);
                self.refresh_now.notify_one();
            }
            Effect::CreateSandbox(req) => {
                tokio::spawn(sandboxes::create(
                    self.client.clone(),
                    self.tx.clone(),
                    req,
                    self.refresh_now.clone(),
                ));
            }
            Effect::Snapshot(id) => {
                tokio::spawn(sandboxes::snapshot(
                    self.client.clone(),
                    self.tx.clone(),
                    id,
                ));
            }
            Effect::StopSandbox(id) => {
                tokio::spawn(sandboxes::stop(
                    self.client.clone(),
                    self.tx.clone(),
                    id,
                    self.stop_grace,
                    self.refresh_now.clone(),
                ));
            }
            Effect::Exec {
                key,
                sandbox_id,
                argv,
                opts,
                inbox,
            } => {
                let handle = process::spawn(
                    self.client.clone(),
                    self.tx.clone(),
                    key,
                    sandbox_id,
                    argv,
                    opts,
                    inbox,
                );
                self.procs.insert(key, handle);
            }
            Effect::StdinWrite { key, data } => {
                if let Some(h) = self.procs.get(&key) {
                    h.write(data);
                }
            }
            Effect::StdinEof { key } => {
                if let Some(h) = self.procs.get(&key) {
                    h.close_stdin();
                }
            }
            Effect::StreamLogs {
                generation,
                sandbox_id,
                opts,
                inbox,
            } => {
                let task = tokio::spawn(logs::stream(
                    self.client.clone(),
                    self.tx.clone(),
                    generation,
                    sandbox_id,
                    opts,
                    inbox,
                ));
                if let Some(old) = self.logs.replace(task) {
                    old.abort();
                }
            }
            Effect::StopLogs => {
                if let Some(old) = self.logs.take() {
                    old.abort();
                }
            }
            Effect::FetchDetails {
                generation,
                sandbox_id,
            } => {
                tokio::spawn(detail::details(
                    self.client.clone(),
                    self.tx.clone(),
                    generation,
                    sandbox_id,
                ));
            }
            Effect::FetchProcesses {
                generation,
                sandbox_id,
            } => {
                tokio::spawn(detail::processes(
                    self.client.clone(),
                    self.tx.clone(),
                    generation,
                    sandbox_id,
                ));
            }
            Effect::Signal {
                sandbox_id,
                pid,
                signal,
            } => {
                tokio::spawn(detail::signal(
                    self.client.clone(),
                    self.tx.clone(),
                    sandbox_id,
                    pid,
                    signal,
                ));
            }
            Effect::ListDir {
                request,
                sandbox_id,
                path,
            } => {
                tokio::spawn(detail::list_dir(
                    self.client.clone(),
                    self.tx.clone(),
                    request,
                    sandbox_id,
                    path,
                ));
            }
            Effect::ReadFile {
                generation,
                sandbox_id,
                path,
            } => {
                tokio::spawn(detail::read_file(
                    self.client.clone(),
                    self.tx.clone(),
                    generation,
                    sandbox_id,
                    path,
                ));
            }
            Effect::Download {
                sandbox_id,
                path,
                to,
            } => {
                tokio::spawn(detail::download(
                    self.client.clone(),
                    self.tx.clone(),
                    sandbox_id,
                    path,
                    to,
                ));
            }
            Effect::Upload {
                request,
                sandbox_id,
                from,
                to,
                dir,
            } => {
                let u = detail::Upload {
                    request,
                    id: sandbox_id,
                    from,
                    to,
                    dir,
                };
                tokio::spawn(detail::upload(self.client.clone(), self.tx.clone(), u));
            }
            Effect::StartForward {
                id,
                sandbox_id,
                local,
                remote,
            } => {
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
                self.forwards.insert(id, stop_tx);
                tokio::spawn(detail::forward(
                    self.client.clone(),
                    self.tx.clone(),
                    id,
                    sandbox_id,
                    local,
                    remote,
                    stop_rx,
                ));
            }
            Effect::StopForward(id) => {
                if let Some(stop) = self.forwards.remove(&id) {
                    let _ = stop.send(());
                }
            }
            Effect::TermInput { key, data } => {
                if let Some(h) = self.procs.get(&key) {
                    h.write(data);
                }
            }
            Effect::TermResize { key, cols, rows } => {
                if let Some(h) = self.procs.get(&key) {
                    h.resize(cols, rows);
                }
            }
            Effect::Kill(key) => {
                if let Some(h) = self.procs.get(&key) {
                    h.kill();
                }
            }
            Effect::Save { path, text } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let len = text.len();
                    let result = save(&path, text).await.map(|_| len);
                    let _ = tx.send(Msg::Net(NetEvent::Saved { path, result })).await;
                });
            }
            Effect::RunScript { run, script } => {
                tokio::spawn(crate::tui::script::run(
                    self.client.clone(),
                    self.tx.clone(),
                    script,
                    run,
                ));
            }
            Effect::ScriptTimer { run, token, after } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let ev = NetEvent::Script(crate::tui::msg::ScriptEvent::Timer { run, token });
                    let _ = tx.send(Msg::Net(ev)).await;
                });
            }
            // The app's own: it holds the terminal.
            Effect::StartRecording(_)
            | Effect::StopRecording
            | Effect::CheckQuit
            | Effect::Quit => {}
        }
    }
}
