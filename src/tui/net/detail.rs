//! The detail screen's requests: one task each, answering with a message.
//! Listings and process tables are execs in the sandbox (the client's
//! `list_dir` and `processes`); files go through ReadFile and WriteFile.
use std::path::PathBuf;

use tokio::sync::mpsc;

use super::describe;
use crate::client::{Client, ForwardEvent, Forwarder};
use crate::tui::msg::{Msg, NetEvent};

async fn send(tx: &mpsc::Sender<Msg>, ev: NetEvent) {
    let _ = tx.send(Msg::Net(ev)).await;
}

pub async fn details(client: Client, tx: mpsc::Sender<Msg>, generation: u64, id: String) {
    let result = client
        .details(&id)
        .await
        .map(Box::new)
        .map_err(|e| describe(&e));
    send(&tx, NetEvent::Details { generation, result }).await;
}

pub async fn processes(client: Client, tx: mpsc::Sender<Msg>, generation: u64, id: String) {
    let result = client.processes(&id).await.map_err(|e| describe(&e));
    send(&tx, NetEvent::Processes { generation, result }).await;
}

pub async fn signal(
    client: Client,
    tx: mpsc::Sender<Msg>,
    id: String,
    pid: u32,
    sig: &'static str,
) {
    let result = client
        .signal_process(&id, pid, sig)
        .await
        .map(|()| format!("sent SIG{sig} to pid {pid}"))
        .map_err(|e| format!("SIG{sig} to pid {pid}: {}", describe(&e)));
    send(&tx, NetEvent::Done(result)).await;
}

pub async fn list_dir(
    client: Client,
    tx: mpsc::Sender<Msg>,
    request: u64,
    id: String,
    path: String,
) {
    let result = client.list_dir(&id, &path).await.map_err(|e| describe(&e));
    send(
        &tx,
        NetEvent::Listing {
            request,
            path,
            result,
        },
    )
    .await;
}

pub async fn read_file(
    client: Client,
    tx: mpsc::Sender<Msg>,
    generation: u64,
    id: String,
    path: String,
) {
    let result = client.read_file(&id, &path).await.map_err(|e| describe(&e));
    send(
        &tx,
        NetEvent::FileRead {
            generation,
            path,
            result,
        },
    )
    .await;
}

/// Reads the file and writes it next to nothing else: a name taken already
/// gets a number (`name.1`), so a download never replaces a file.
pub async fn download(
    client: Client,
    tx: mpsc::Sender<Msg>,
    id: String,
    path: String,
    to: PathBuf,
) {
    let result = async {
        let bytes = client
            .read_file(&id, &path)
            .await
            .map_err(|e| describe(&e))?;
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let target = free_name(&to).await;
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .await
            .map_err(|e| format!("{}: {e}", target.display()))?;
        tokio::io::AsyncWriteExt::write_all(&mut f, &bytes)
            .await
            .map_err(|e| format!("{}: {e}", target.display()))?;
        Ok::<String, String>(format!(
            "downloaded {path} ({} bytes) to {}",
            bytes.len(),
            target.display()
        ))
    }
    .await;
    send(
        &tx,
        NetEvent::Done(result.map_err(|e| format!("download failed: {e}"))),
    )
    .await;
}

async fn free_name(to: &std::path::Path) -> PathBuf {
    let mut candidate = to.to_path_buf();
    let mut n = 1;
    while tokio::fs::symlink_metadata(&candidate).await.is_ok() {
        candidate = PathBuf::from(format!("{}.{n}", to.display()));
        n += 1;
    }
    candidate
}

pub struct Upload {
    pub request: u64,
    pub id: String,
    pub from: PathBuf,
    pub to: String,
    pub dir: String,
}

pub async fn upload(client: Client, tx: mpsc::Sender<Msg>, u: Upload) {
    let result = async {
        let meta = tokio::fs::metadata(&u.from)
            .await
            .map_err(|e| format!("{}: {e}", u.from.display()))?;
        if meta.len() > crate::client::MAX_FILE_BYTES {
            return Err(format!(
                "{} is {} bytes; a file can be at most {} bytes",
                u.from.display(),
                meta.len(),
                crate::client::MAX_FILE_BYTES
            ));
        }
        let bytes = tokio::fs::read(&u.from)
            .await
            .map_err(|e| format!("{}: {e}", u.from.display()))?;
        let n = bytes.len();
        client
            .write_file(&u.id, &u.to, bytes)
            .await
            .map_err(|e| describe(&e))?;
        Ok::<String, String>(format!(
            "uploaded {} ({n} bytes) to {}",
            u.from.display(),
            u.to
        ))
    }
    .await;
    send(
        &tx,
        NetEvent::Done(result.map_err(|e| format!("upload failed: {e}"))),
    )
    .await;
    list_dir(client, tx, u.request, u.id, u.dir).await;
}

/// Starts a forward and keeps it until `stop` fires (or the UI is gone),
/// reporting its address and its connection counts.
pub async fn forward(
    client: Client,
    tx: mpsc::Sender<Msg>,
    id: u64,
    sandbox_id: String,
    local: u16,
    remote: u16,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], local));
    let mut fwd = match Forwarder::start(client, &sandbox_id, addr, remote).await {
        Ok(f) => f,
        Err(e) => {
            let error = describe(&e);
            send(&tx, NetEvent::ForwardFailed { id, error }).await;
            return;
        }
    };
    let ev = NetEvent::ForwardListening {
        id,
        addr: fwd.local_addr(),
        tool: fwd.tool().as_str().to_string(),
    };
    send(&tx, ev).await;
    let Some(mut events) = fwd.take_events() else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = events.recv() => match ev {
                None => break,
                Some(e) => {
                    if let ForwardEvent::Failed { error, .. } = &e {
                        tracing::info!(%error, "a forwarded connection failed");
                    }
                    let s = fwd.stats();
                    let counts = NetEvent::ForwardCounts { id, active: s.active, total: s.total };
                    if tx.send(Msg::Net(counts)).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    fwd.stop();
}
