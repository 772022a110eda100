//! Sandbox lifecycle and file RPCs.
use super::convert::{create_request, sandbox_from_wire};
use super::error::{Error, Result};
use super::poll::Backoff;
use super::types::{ListQuery, Sandbox, SandboxRequest, SandboxState};
use super::Client;
use crate::proto::v1 as pb;
use std::time::Duration;

/// The Python client's first poll.
const POLL_FIRST: Duration = Duration::from_millis(200);
/// A sandbox still starting after this long is reported rather than waited
/// for forever.
const START_LIMIT: Duration = Duration::from_secs(300);
/// The Python client gives up after this many pages (a server bug guard).
pub(super) const MAX_PAGES: usize = 100;

impl Client {
    /// Asks for a new sandbox and returns at once (state `creating`).
    pub async fn create(&self, req: SandboxRequest) -> Result<Sandbox> {
        if req
            .from_snapshot
            .as_ref()
            .is_some_and(|s| s.trim().is_empty())
        {
            // On the wire an empty id means "no snapshot".
            return Err(Error::InvalidArgument("empty snapshot id".into()));
        }
        let sb = self
            .rpc()
            .create_sandbox(create_request(req))
            .await
            .map_err(|s| self.error(&s))?
            .into_inner();
        Ok(sandbox_from_wire(sb))
    }

    /// Polls until the sandbox is running. A sandbox that ended (or failed to
    /// start) instead is `FailedPrecondition` with the server's reason.
    pub async fn wait_running(&self, id: &str) -> Result<Sandbox> {
        let mut backoff = Backoff::new(POLL_FIRST, START_LIMIT);
        loop {
            let sb = self.get(id).await?;
            match sb.state {
                SandboxState::Running | SandboxState::Paused => return Ok(sb),
                s if s.is_terminal() || s == SandboxState::Terminating => {
                    let why = if sb.state_reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", sb.state_reason)
                    };
                    return Err(Error::FailedPrecondition(format!(
                        "sandbox {id} is {s} instead of running{why}"
                    )));
                }
                _ => {}
            }
            if !backoff.wait().await {
                return Err(Error::FailedPrecondition(format!(
                    "sandbox {id} is still {} after {}s",
                    sb.state,
                    backoff.limit().as_secs()
                )));
            }
        }
    }

    /// Creates a sandbox and waits until it runs.
    pub async fn run(&self, req: SandboxRequest) -> Result<Sandbox> {
        let sb = self.create(req).await?;
        self.wait_running(&sb.id).await
    }

    pub async fn get(&self, id: &str) -> Result<Sandbox> {
        Ok(sandbox_from_wire(self.get_wire(id).await?))
    }

    /// GetSandbox as the wire gives it, for `get` and `details`.
    pub(super) async fn get_wire(&self, id: &str) -> Result<pb::Sandbox> {
        Ok(self
            .rpc()
            .get_sandbox(pb::GetSandboxRequest {
                sandbox_id: id.to_string(),
            })
            .await
            .map_err(|s| self.error(&s))?
            .into_inner())
    }

    /// Every matching sandbox, following pages.
    pub async fn list(&self, q: &ListQuery) -> Result<Vec<Sandbox>> {
        let mut out = Vec::new();
        let mut token = String::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self
                .rpc()
                .list_sandboxes(pb::ListSandboxesRequest {
                    page_token: token.clone(),
                    tags: q.tags.clone(),
                    show_terminated: q.include_terminated,
                    ..Default::default()
                })
                .await
                .map_err(|s| self.error(&s))?
                .into_inner();
            out.extend(page.sandboxes.into_iter().map(sandbox_from_wire));
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            if !seen.insert(page.next_page_token.clone()) {
                return Err(self.paging_error("the server repeated a page token"));
            }
            token = page.next_page_token;
        }
        Err(self.paging_error("more than 100 pages"))
    }

    fn paging_error(&self, what: &str) -> Error {
        Error::Server {
            code: "internal".into(),
            message: format!("listing sandboxes failed: {what}"),
            reason: None,
        }
    }

    /// Stops a sandbox: SIGTERM, then SIGKILL after `grace`. Returns once the
    /// server accepted the stop, usually in state `terminating`.
    pub async fn stop(&self, id: &str, grace: Duration) -> Result<Sandbox> {
        let (sandbox, _) = self.delete(stop_request(id, grace)).await?;
        Ok(sandbox)
    }

    /// Sends a DeleteSandbox; returns the sandbox as the answer gives it (or,
    /// when it gives none, as it is now) and the ids of snapshots taken.
    pub(super) async fn delete(
        &self,
        req: pb::DeleteSandboxRequest,
    ) -> Result<(Sandbox, Vec<String>)> {
        let id = req.sandbox_id.clone();
        let resp = self
            .rpc()
            .delete_sandbox(req)
            .await
            .map_err(|s| self.error(&s))?
            .into_inner();
        let ids = resp.file_system_snapshot_ids;
        match resp.sandbox {
            Some(sb) => Ok((sandbox_from_wire(sb), ids)),
            None => Ok((self.get(&id).await?, ids)),
        }
    }

    pub async fn read_file(&self, sandbox_id: &str, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .rpc()
            .read_file(pb::ReadFileRequest {
                sandbox_id: sandbox_id.to_string(),
                path: path.to_string(),
                container: String::new(),
            })
            .await
            .map_err(|s| self.error(&s))?
            .into_inner();
        Ok(resp.content)
    }

    pub async fn write_file(&self, sandbox_id: &str, path: &str, content: Vec<u8>) -> Result<()> {
        self.rpc()
            .write_file(pb::WriteFileRequest {
                sandbox_id: sandbox_id.to_string(),
                path: path.to_string(),
                content,
                container: String::new(),
            })
            .await
            .map_err(|s| self.error(&s))?;
        Ok(())
    }
}

/// A stop of `id` with `grace` (rounded up to whole seconds) before SIGKILL.
pub(super) fn stop_request(id: &str, grace: Duration) -> pb::DeleteSandboxRequest {
    let grace_secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    pb::DeleteSandboxRequest {
        sandbox_id: id.to_string(),
        grace_period_seconds: i32::try_from(grace_secs).unwrap_or(i32::MAX),
        ..Default::default()
    }
}
