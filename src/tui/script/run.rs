//! Starting a script's sandboxes. The steps themselves are run by update,
//! which sees the output they wait for.
use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use tokio::sync::mpsc;

use super::Script;
use crate::client::Client;
use crate::tui::msg::{Msg, NetEvent, ScriptEvent};
use crate::tui::net::describe;

/// Creates the sandboxes of run `run` in parallel and reports which came
/// up (by script name) and what went wrong with the others.
pub async fn run(client: Client, tx: mpsc::Sender<Msg>, script: Arc<Script>, run: u64) {
    let created = join_all(script.sandbox.iter().map(|spec| {
        let client = client.clone();
        let tx = tx.clone();
        async move {
            let req = spec
                .request()
                .map_err(|e| format!("sandbox {:?}: {e:#}", spec.name))?;
            let sb = client
                .create(req)
                .await
                .map_err(|e| format!("sandbox {:?}: {}", spec.name, describe(&e)))?;
            let id = sb.id.clone();
            let _ = tx.send(Msg::Net(NetEvent::SandboxCreated(sb))).await;
            let sb = client
                .wait_running(&id)
                .await
                .map_err(|e| format!("sandbox {:?}: {}", spec.name, describe(&e)))?;
            let _ = tx.send(Msg::Net(NetEvent::SandboxUpdated(sb))).await;
            Ok::<_, String>((spec.name.clone(), id))
        }
    }))
    .await;
    let mut ids = BTreeMap::new();
    let mut errors = Vec::new();
    for r in created {
        match r {
            Ok((name, id)) => {
                ids.insert(name, id);
            }
            Err(e) => errors.push(e),
        }
    }
    let ev = ScriptEvent::Ready { run, ids, errors };
    let _ = tx.send(Msg::Net(NetEvent::Script(ev))).await;
}
