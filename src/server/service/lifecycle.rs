//! GetSandbox, ListSandboxes and DeleteSandbox (CreateSandbox is in
//! `create.rs`).
use super::errors;
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::registry::{is_terminal, now_ts, Entry};
use crate::server::runtime::base_env;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::Status;

/// The one runner this server is, as reported everywhere.
pub const RUNNER_ID: &str = "local";
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

pub fn lookup(shared: &Shared, id: &str) -> Result<Arc<Entry>, Status> {
    shared
        .registry
        .get(id)
        .ok_or_else(|| errors::sandbox_not_found(id))
}

/// `lookup`, also checking that `container` (empty = the default) names the
/// sandbox's one container.
pub fn lookup_container(shared: &Shared, id: &str, container: &str) -> Result<Arc<Entry>, Status> {
    let entry = lookup(shared, id)?;
    let name = entry
        .snapshot()
        .spec
        .and_then(|s| s.containers.into_iter().next())
        .map(|c| c.name)
        .unwrap_or_default();
    if !container.trim().is_empty() && container != name {
        return Err(errors::invalid(
            "container",
            format!("sandbox {id} has no container {container:?}"),
        ));
    }
    Ok(entry)
}

pub fn list(
    shared: &Shared,
    req: pb::ListSandboxesRequest,
) -> Result<pb::ListSandboxesResponse, Status> {
    let want_state = pb::State::try_from(req.state).unwrap_or(pb::State::Unspecified);
    let ascending = req.sort_direction == pb::SortDirection::Ascending as i32;
    let page_size = match req.page_size {
        n if n <= 0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    };
    let cursor: Option<u64> = if req.page_token.is_empty() {
        None
    } else {
        Some(
            req.page_token
                .parse()
                .map_err(|_| errors::invalid("page_token", "not a token this server issued"))?,
        )
    };
    let mut entries = shared.registry.all();
    if ascending {
        entries.reverse();
    }
    let mut out = Vec::new();
    let mut next = String::new();
    for e in entries {
        if let Some(c) = cursor {
            if (ascending && e.seq <= c) || (!ascending && e.seq >= c) {
                continue;
            }
        }
        let state = e.state();
        let keep_state = if want_state != pb::State::Unspecified {
            state == want_state
        } else {
            req.show_terminated || !is_terminal(state)
        };
        if !keep_state {
            continue;
        }
        if !req.runner_ids.is_empty() && !req.runner_ids.iter().any(|r| r == RUNNER_ID) {
            continue;
        }
        let sb = e.snapshot();
        let tags = sb.spec.as_ref().map(|s| s.tags.as_slice()).unwrap_or(&[]);
        if !req.tags.iter().all(|t| tags.contains(t)) {
            continue;
        }
        if out.len() == page_size {
            next = out_last_seq(&out).to_string();
            break;
        }
        out.push((e.seq, sb));
    }
    Ok(pb::ListSandboxesResponse {
        sandboxes: out.into_iter().map(|(_, s)| s).collect(),
        next_page_token: next,
    })
}

fn out_last_seq(out: &[(u64, pb::Sandbox)]) -> u64 {
    out.last().map_or(0, |(s, _)| *s)
}

pub fn delete(
    shared: &Shared,
    req: pb::DeleteSandboxRequest,
) -> Result<pb::DeleteSandboxResponse, Status> {
    let Some(entry) = shared.registry.get(&req.sandbox_id) else {
        if req.allow_missing && req.snapshot_volumes.is_empty() {
            return Ok(pb::DeleteSandboxResponse::default());
        }
        return Err(errors::sandbox_not_found(&req.sandbox_id));
    };
    // Queued before the stop, so they are taken when the sandbox ends.
    let file_system_snapshot_ids = if req.snapshot_volumes.is_empty() {
        Vec::new()
    } else {
        super::snapshots::on_delete(shared, &entry, &req.snapshot_volumes, &req.request_id)?
    };
    let grace = Duration::from_secs(req.grace_period_seconds.max(0) as u64);
    stop(shared, &entry, grace);
    Ok(pb::DeleteSandboxResponse {
        sandbox: Some(entry.snapshot()),
        file_system_snapshot_ids,
    })
}

/// Stop `entry` as a Delete does: a start not yet done is cancelled and
/// the sandbox ends at once; a running one gets SIGTERM, then SIGKILL
/// after `grace`. The record stays (clients poll it until it is terminal);
/// the log goes once the sandbox has ended.
pub fn stop(shared: &Shared, entry: &Entry, grace: Duration) {
    let prefix = shared.reason_prefix.clone();
    let mut was_starting = false;
    entry.update(|s| {
        match pb::State::try_from(s.state).unwrap_or(pb::State::Running) {
            pb::State::Creating | pb::State::Pending | pb::State::Preparing => {
                // Nothing runs yet: cancel the start and end at once.
                was_starting = true;
                s.state = pb::State::Completed as i32;
                s.state_reason = if prefix.is_empty() {
                    "stopped before it started".into()
                } else {
                    format!("stopped before it started; {prefix}")
                };
                s.end_time = Some(now_ts());
                for c in &mut s.container_statuses {
                    c.state = pb::State::Completed as i32;
                }
            }
            pb::State::Running | pb::State::Paused => s.state = pb::State::Terminating as i32,
            _ => {}
        }
    });
    entry.request_stop(if was_starting { Duration::ZERO } else { grace });
    entry.mark_deleted();
}

/// Environment every exec in `entry` starts from (before init.env).
pub fn exec_env(shared: &Shared, entry: &Entry) -> BTreeMap<String, String> {
    let sb = entry.snapshot();
    let dir = shared.sandboxes_dir.join(&entry.id);
    let mut env = base_env(&shared.workspace_in_sandbox(&dir));
    if let Some(c) = sb.spec.as_ref().and_then(|s| s.containers.first()) {
        env.extend(
            c.environment_variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    env
}
