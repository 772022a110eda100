//! The log view's stream: the sandbox's log into the view's inbox, with the
//! same backpressure as a process's output.
use tokio::sync::mpsc;

use super::describe;
use crate::client::{Client, LogOptions, StreamKind};
use crate::tui::msg::{Msg, NetEvent};
use crate::tui::state::pane::PaneInbox;

pub async fn stream(
    client: Client,
    tx: mpsc::Sender<Msg>,
    generation: u64,
    sandbox_id: String,
    opts: LogOptions,
    inbox: PaneInbox,
) {
    let error = match client.logs(&sandbox_id, opts).await {
        Err(e) => Some(describe(&e)),
        Ok(mut logs) => loop {
            match logs.next().await {
                None => break None,
                Some(Err(e)) => break Some(describe(&e)),
                Some(Ok(data)) => {
                    super::process::wait_for_room(&inbox).await;
                    let notify = inbox.push(StreamKind::Stdout, data);
                    if notify
                        && tx
                            .send(Msg::Net(NetEvent::LogsChanged { generation }))
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            }
        },
    };
    let _ = tx
        .send(Msg::Net(NetEvent::LogsEnded { generation, error }))
        .await;
}
