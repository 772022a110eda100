//! PurgeSandboxes: stop every active sandbox that carries all the given
//! tags, or every active one with `purge_all`, as if each got a Delete
//! without grace; or, with `dry_run`, only count them.
use super::errors;
use super::lifecycle::stop;
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::registry::is_terminal;
use std::time::Duration;
use tonic::Status;

pub fn purge(
    shared: &Shared,
    req: pb::PurgeSandboxesRequest,
) -> Result<pb::PurgeSandboxesResponse, Status> {
    // The hosted service reserves request_id for idempotent purges and
    // rejects it the same way until it supports them.
    if !req.request_id.is_empty() {
        return Err(errors::unimplemented("PurgeSandboxes with a request_id"));
    }
    match (req.purge_all, req.tags.is_empty()) {
        (true, false) => {
            return Err(errors::invalid(
                "purge_all",
                "purge_all and tags exclude each other",
            ))
        }
        (false, true) => {
            return Err(errors::invalid(
                "tags",
                "name at least one tag, or set purge_all",
            ))
        }
        _ => {}
    }
    let matched: Vec<_> = shared
        .registry
        .all()
        .into_iter()
        .filter(|e| !is_terminal(e.state()))
        .filter(|e| {
            let sb = e.snapshot();
            let tags = sb.spec.as_ref().map(|s| s.tags.as_slice()).unwrap_or(&[]);
            req.tags.iter().all(|t| tags.contains(t))
        })
        .collect();
    if !req.dry_run {
        for e in &matched {
            stop(shared, e, Duration::ZERO);
        }
        tracing::info!(count = matched.len(), "sandboxes purged");
    }
    Ok(pb::PurgeSandboxesResponse {
        purge_count: i32::try_from(matched.len()).unwrap_or(i32::MAX),
        // A stop request cannot fail here: the runtime acts on it in the
        // background, and a sandbox that ends meanwhile is ended anyway.
        failed_sandbox_ids: Vec::new(),
        retryable_failed_sandbox_ids: Vec::new(),
    })
}
