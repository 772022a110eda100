//! File-system snapshots: take one of a running sandbox or when stopping
//! it, list, look up and delete them. (Starting a sandbox from one is
//! `SandboxRequest::from_snapshot`.)
use super::convert::snapshot_from_wire;
use super::error::{Error, Result};
use super::poll::Backoff;
use super::sandboxes::{stop_request, MAX_PAGES};
use super::types::{Sandbox, Snapshot, SnapshotState};
use super::Client;
use crate::proto::v1 as pb;
use std::time::Duration;

const POLL_FIRST: Duration = Duration::from_millis(100);

impl Client {
    /// Starts a snapshot of `volume` of a running sandbox (None: its only
    /// scratch volume, else its workspace). Returns at once, usually
    /// `creating`; [`Client::wait_snapshot`] waits for it.
    pub async fn snapshot(&self, sandbox_id: &str, volume: Option<&str>) -> Result<Snapshot> {
        let snap = self
            .rpc()
            .create_file_system_snapshot(pb::CreateFileSystemSnapshotRequest {
                sandbox_id: sandbox_id.to_string(),
                request_id: uuid::Uuid::new_v4().to_string(),
                scratch_volume_name: volume.unwrap_or_default().to_string(),
            })
            .await
            .map_err(|s| self.error(&s))?
            .into_inner();
        Ok(snapshot_from_wire(snap))
    }

    /// Polls until the snapshot is ready. One that failed is
    /// `FailedPrecondition` with the server's reason; `limit` bounds the wait.
    pub async fn wait_snapshot(&self, id: &str, limit: Duration) -> Result<Snapshot> {
        let mut backoff = Backoff::new(POLL_FIRST, limit);
        loop {
            let snap = self.get_snapshot(id).await?;
            match snap.state {
                SnapshotState::Ready => return Ok(snap),
                SnapshotState::Failed => {
                    return Err(Error::FailedPrecondition(format!(
                        "snapshot {id} failed: {}",
                        snap.state_reason
                    )))
                }
                SnapshotState::Deleting => {
                    return Err(Error::NotFound(format!("snapshot {id} is being deleted")))
                }
                SnapshotState::Creating | SnapshotState::Unknown => {}
            }
            if !backoff.wait().await {
                return Err(Error::FailedPrecondition(format!(
                    "snapshot {id} is still {} after {}s",
                    snap.state,
                    limit.as_secs()
                )));
            }
        }
    }

    pub async fn get_snapshot(&self, id: &str) -> Result<Snapshot> {
        let snap = self
            .rpc()
            .get_file_system_snapshot(pb::GetFileSystemSnapshotRequest {
                file_system_snapshot_id: id.to_string(),
            })
            .await
            .map_err(|s| self.error(&s))?
            .into_inner();
        Ok(snapshot_from_wire(snap))
    }

    /// Every snapshot on the server, following pages.
    pub async fn list_snapshots(&self) -> Result<Vec<Snapshot>> {
        let mut out = Vec::new();
        let mut token = String::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .rpc()
                .list_file_system_snapshots(pb::ListFileSystemSnapshotsRequest {
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|s| self.error(&s))?
                .into_inner();
            out.extend(
                page.file_system_snapshots
                    .into_iter()
                    .map(snapshot_from_wire),
            );
            if page.next_page_token.is_empty() || page.next_page_token == token {
                return Ok(out);
            }
            token = page.next_page_token;
        }
        Err(Error::Server {
            code: "internal".into(),
            message: "listing snapshots failed: more than 100 pages".into(),
            reason: None,
        })
    }

    /// Deletes a snapshot; sandboxes made from it keep their files.
    pub async fn delete_snapshot(&self, id: &str) -> Result<()> {
        self.rpc()
            .delete_file_system_snapshot(pb::DeleteFileSystemSnapshotRequest {
                file_system_snapshot_id: id.to_string(),
                allow_missing: false,
            })
            .await
            .map_err(|s| self.error(&s))?;
        Ok(())
    }

    /// Stops a sandbox as [`Client::stop`] does, snapshotting `volumes`
    /// (scratch volume names; `workspace` is the default workspace) once
    /// its processes are gone. Returns the snapshots' ids, which become
    /// ready after the sandbox has ended.
    pub async fn stop_with_snapshot(
        &self,
        id: &str,
        grace: Duration,
        volumes: &[String],
    ) -> Result<(Sandbox, Vec<String>)> {
        self.delete(pb::DeleteSandboxRequest {
            snapshot_volumes: volumes.to_vec(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..stop_request(id, grace)
        })
        .await
    }
}
