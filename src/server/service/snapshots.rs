//! Create/Get/List/DeleteFileSystemSnapshot, snapshots on delete, and
//! where a sandbox's snapshottable files are on the host.
use super::create::{normalize, volume_dir};
use super::errors;
use super::lifecycle::lookup;
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::registry::{is_terminal, Entry};
use crate::server::snapshots::{valid_id, Job, Trigger};
use std::path::PathBuf;
use std::sync::Arc;
use tonic::Status;

/// The name a sandbox's default workspace goes by, as the client's
/// default scratch volume does.
pub const WORKSPACE_VOLUME: &str = "workspace";
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The host directory holding the scratch volume `name` of `entry` (empty:
/// its only scratch volume, else the workspace), with the volume's name.
fn source_dir(
    shared: &Shared,
    entry: &Entry,
    name: &str,
    field: &str,
) -> Result<(String, PathBuf), Status> {
    let spec = entry.snapshot().spec.unwrap_or_default();
    let sandbox_dir = shared.sandboxes_dir.join(&entry.id);
    let scratch =
        |v: &pb::SandboxVolume| !matches!(v.source, Some(pb::sandbox_volume::Source::VolumeId(_)));
    let wanted = if name.is_empty() {
        let mut all = spec.volumes.iter().filter(|v| scratch(v));
        match (all.next(), all.next()) {
            (Some(v), None) => v.name.clone(),
            (None, _) => WORKSPACE_VOLUME.to_string(),
            (Some(_), Some(_)) => {
                return Err(errors::invalid(
                    field,
                    "the sandbox has several scratch volumes: name the one to snapshot",
                ))
            }
        }
    } else {
        name.to_string()
    };
    // Where there are no mounts (the host runtime), a volume at
    // /workspace is the workspace itself.
    let at_workspace = !shared.isolated
        && spec.containers.iter().any(|c| {
            c.volume_mounts.iter().any(|m| {
                m.volume == wanted && normalize(&m.mount_path).as_deref() == Some("/workspace")
            })
        });
    match spec.volumes.iter().position(|v| v.name == wanted) {
        Some(_) if at_workspace => Ok((wanted, sandbox_dir.join("workspace"))),
        Some(i) if scratch(&spec.volumes[i]) => {
            Ok((wanted.clone(), volume_dir(&sandbox_dir, i, &wanted)))
        }
        Some(_) => Err(errors::failed_precondition(
            errors::reason::VOLUME_NOT_SNAPSHOTTABLE,
            format!(
                "volume {wanted:?} is not a scratch volume; only scratch volumes are snapshotted"
            ),
        )),
        None if wanted == WORKSPACE_VOLUME => Ok((wanted, sandbox_dir.join("workspace"))),
        None => Err(errors::invalid(
            field,
            format!("sandbox {} has no scratch volume {wanted:?}", entry.id),
        )),
    }
}

fn io_failure(e: std::io::Error) -> Status {
    errors::internal(format!("cannot record the snapshot: {e}"))
}

pub async fn create(
    shared: &Arc<Shared>,
    req: pb::CreateFileSystemSnapshotRequest,
) -> Result<pb::FileSystemSnapshot, Status> {
    let entry = lookup(shared, &req.sandbox_id)?;
    if let Some(done) = shared
        .snapshots
        .by_request(&req.sandbox_id, &req.request_id)
        .into_iter()
        .next()
    {
        return Ok(done.to_pb(false));
    }
    let state = entry.state();
    if state != pb::State::Running && state != pb::State::Paused {
        return Err(errors::sandbox_not_running(&entry.id, entry.state_name()));
    }
    let (volume, dir) = source_dir(
        shared,
        &entry,
        &req.scratch_volume_name,
        "scratch_volume_name",
    )?;
    let job = shared
        .snapshots
        .begin(&entry.id, &volume, Trigger::Manual, &req.request_id)
        .map_err(io_failure)?;
    let answer = job.meta().to_pb(false);
    tokio::spawn(async move {
        // The files stay while the copy reads them, even if the sandbox
        // ends meanwhile.
        let guard = entry.files.read().await;
        let _ = tokio::task::spawn_blocking(move || {
            let source = guard.as_ref().map(|_| dir.as_path());
            job.run(source);
            drop(guard);
        })
        .await;
    });
    Ok(answer)
}

/// Snapshots of `volumes` of `entry`, taken once it has ended; their ids.
pub fn on_delete(
    shared: &Shared,
    entry: &Entry,
    volumes: &[String],
    request_id: &str,
) -> Result<Vec<String>, Status> {
    let earlier = shared.snapshots.by_request(&entry.id, request_id);
    if !earlier.is_empty() {
        return Ok(earlier.into_iter().map(|m| m.id).collect());
    }
    let state = entry.state();
    if is_terminal(state) || state == pb::State::Terminating {
        return Err(errors::sandbox_not_running(&entry.id, entry.state_name()));
    }
    let mut sources = Vec::new();
    for (i, name) in volumes.iter().enumerate() {
        let field = format!("snapshot_volumes[{i}]");
        if name.is_empty() {
            return Err(errors::invalid(&field, "empty volume name"));
        }
        sources.push(source_dir(shared, entry, name, &field)?);
    }
    let mut jobs: Vec<(Job, PathBuf)> = Vec::new();
    for (name, dir) in sources {
        let job = shared
            .snapshots
            .begin(&entry.id, &name, Trigger::OnDelete, request_id)
            .map_err(io_failure)?;
        jobs.push((job, dir));
    }
    let ids = jobs.iter().map(|(j, _)| j.id().to_string()).collect();
    if let Err(late) = entry.files.on_stop(jobs) {
        // The sandbox ended in between: its files are gone.
        tokio::task::spawn_blocking(move || {
            for (job, _) in late {
                job.run(None);
            }
        });
    }
    Ok(ids)
}

pub fn get(shared: &Shared, id: &str) -> Result<pb::FileSystemSnapshot, Status> {
    if !valid_id(id) {
        return Err(errors::snapshot_not_found(id));
    }
    shared
        .snapshots
        .get(id)
        .map(|(m, deleting)| m.to_pb(deleting))
        .ok_or_else(|| errors::snapshot_not_found(id))
}

pub fn list(
    shared: &Shared,
    req: pb::ListFileSystemSnapshotsRequest,
) -> Result<pb::ListFileSystemSnapshotsResponse, Status> {
    let page = match req.page_size {
        n if n <= 0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    };
    let start: usize = if req.page_token.is_empty() {
        0
    } else {
        req.page_token
            .parse()
            .map_err(|_| errors::invalid("page_token", "not a token this server issued"))?
    };
    let all: Vec<_> = shared
        .snapshots
        .list()
        .into_iter()
        .filter(|(m, _)| {
            req.source_sandbox_id.is_empty() || m.source_sandbox_id == req.source_sandbox_id
        })
        .collect();
    let end = start.saturating_add(page).min(all.len());
    let items = all
        .get(start.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|(m, deleting)| m.to_pb(*deleting))
        .collect();
    Ok(pb::ListFileSystemSnapshotsResponse {
        file_system_snapshots: items,
        next_page_token: if end < all.len() {
            end.to_string()
        } else {
            String::new()
        },
    })
}

pub async fn delete(
    shared: &Arc<Shared>,
    req: pb::DeleteFileSystemSnapshotRequest,
) -> Result<pb::FileSystemSnapshot, Status> {
    let id = req.file_system_snapshot_id;
    let missing = |id: &str| {
        if req.allow_missing {
            Ok(pb::FileSystemSnapshot {
                file_system_snapshot_id: id.to_string(),
                ..Default::default()
            })
        } else {
            Err(errors::snapshot_not_found(id))
        }
    };
    if !valid_id(&id) {
        return missing(&id);
    }
    let store = shared.snapshots.clone();
    let key = id.clone();
    let deleted = tokio::task::spawn_blocking(move || store.delete(&key))
        .await
        .map_err(|e| errors::internal(e.to_string()))?
        .map_err(|e| errors::internal(format!("cannot delete snapshot {id}: {e}")))?;
    match deleted {
        Some(meta) => Ok(meta.to_pb(true)),
        None => missing(&id),
    }
}
