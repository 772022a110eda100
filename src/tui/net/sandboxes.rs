//! Sandbox list refresh, create, stop and snapshots.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::describe;
use crate::client::{Client, ListQuery, SandboxRequest};
use crate::tui::msg::{Msg, NetEvent};

/// Lists sandboxes every `interval`, or at once when poked, so sandboxes
/// created elsewhere show up. Ends when the UI is gone.
pub async fn refresh_loop(
    client: Client,
    tx: mpsc::Sender<Msg>,
    interval: Duration,
    poke: Arc<Notify>,
    include_terminated: Arc<AtomicBool>,
) {
    loop {
        let q = ListQuery {
            tags: Vec::new(),
            include_terminated: include_terminated.load(Ordering::Relaxed),
        };
        let ev = NetEvent::SandboxList(client.list(&q).await.map_err(|e| describe(&e)));
        if tx.send(Msg::Net(ev)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = poke.notified() => {}
        }
    }
}

pub async fn create(client: Client, tx: mpsc::Sender<Msg>, req: SandboxRequest, poke: Arc<Notify>) {
    let sb = match client.create(req).await {
        Ok(sb) => sb,
        Err(e) => {
            let ev = NetEvent::SandboxFailed {
                what: "creating a sandbox".into(),
                error: describe(&e),
            };
            let _ = tx.send(Msg::Net(ev)).await;
            return;
        }
    };
    let id = sb.id.clone();
    if tx
        .send(Msg::Net(NetEvent::SandboxCreated(sb)))
        .await
        .is_err()
    {
        return;
    }
    let ev = match client.wait_running(&id).await {
        Ok(sb) => NetEvent::SandboxUpdated(sb),
        Err(e) => NetEvent::SandboxFailed {
            what: format!("sandbox {id} did not start"),
            error: describe(&e),
        },
    };
    let _ = tx.send(Msg::Net(ev)).await;
    poke.notify_one();
}

pub async fn stop(
    client: Client,
    tx: mpsc::Sender<Msg>,
    id: String,
    grace: Duration,
    poke: Arc<Notify>,
) {
    let ev = match client.stop(&id, grace).await {
        Ok(sb) => NetEvent::SandboxUpdated(sb),
        Err(e) => NetEvent::SandboxFailed {
            what: format!("stopping {id}"),
            error: describe(&e),
        },
    };
    let _ = tx.send(Msg::Net(ev)).await;
    poke.notify_one();
    // Stopping takes a grace period; look again once it should be over so
    // the terminal state shows without waiting for the next refresh.
    tokio::time::sleep(grace + Duration::from_millis(500)).await;
    poke.notify_one();
}

/// How long a snapshot asked for from the TUI is waited for.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(600);

pub async fn snapshot(client: Client, tx: mpsc::Sender<Msg>, id: String) {
    let taken = match client.snapshot(&id, None).await {
        Ok(s) => client.wait_snapshot(&s.id, SNAPSHOT_WAIT).await,
        Err(e) => Err(e),
    };
    let ev = NetEvent::Snapshot(taken.map_err(|e| describe(&e)));
    let _ = tx.send(Msg::Net(ev)).await;
}
