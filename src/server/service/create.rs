//! CreateSandbox: validation of the requested shape, the initial record,
//! and the launch plan handed to the sandbox's supervisor.
use super::errors::{self, reason};
use super::lifecycle::RUNNER_ID;
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::limits::Limits;
use crate::server::net::publish::{self, Refusal};
use crate::server::registry::now_ts;
use crate::server::runtime::{base_env, LaunchPlan};
use crate::server::snapshots::RestoreError;
use crate::server::supervisor::{self, Start};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::{Code, Status};

const DEFAULT_IMAGE: &str = "python:3.11";

/// The keep-alive main command used when the spec names none: it exits 0 on
/// SIGTERM so a stop is quick and clean.
pub fn keep_alive() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        "trap \"exit 0\" TERM INT; sleep infinity & wait".into(),
    ]
}

fn check_services(spec: &pb::SandboxSpec) -> Result<(), Status> {
    publish::check(&spec.services).map_err(|refusal| {
        let (field, why) = refusal.field_and_reason();
        match refusal {
            // What the hosted API answers, so callers can tell.
            Refusal::MixedVisibility => errors::status(
                Code::Unimplemented,
                why,
                reason::NOT_IMPLEMENTED,
                Default::default(),
            ),
            Refusal::ShareToken(_) => errors::failed_precondition(reason::SHARE_TOKEN, why),
            Refusal::Protocol(_) => errors::status(
                Code::Unimplemented,
                why,
                reason::NOT_IMPLEMENTED,
                Default::default(),
            ),
            _ => errors::invalid(&field, why),
        }
    })
}

fn wants_gpu(c: &pb::Container) -> bool {
    let gpu = |r: &Option<pb::Resources>| {
        r.as_ref()
            .and_then(|r| r.gpu.as_ref())
            .is_some_and(|g| g.count > 0)
    };
    gpu(&c.resources)
        || c.resource_requirements
            .as_ref()
            .is_some_and(|rr| gpu(&rr.requests) || gpu(&rr.limits))
}

/// `path` with `.`, `..` and repeated slashes resolved lexically (as the
/// sandbox's root would, `..` stopping at `/`); None unless absolute.
/// Every check below runs on this form, so no spelling gets around one.
pub fn normalize(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Kernel interfaces: nothing is ever mounted or written there.
const KERNEL_TREES: &[&str] = &["/proc", "/dev", "/sys"];
/// The programs and libraries a sandbox starts with, and what steers the
/// dynamic loader: they always come from the host, since its setup runs
/// them before it has become the sandbox's user.
const SYSTEM_TREES: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.preload",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
];

/// Where a volume or spec file may not go.
fn reserved(p: &str) -> bool {
    p == "/" || under_any(p, KERNEL_TREES) || under_any(p, SYSTEM_TREES)
}

fn under_any(p: &str, roots: &[&str]) -> bool {
    roots
        .iter()
        .any(|r| p == *r || p.starts_with(&format!("{r}/")))
}

/// A volume's mount path, normalised, if the sandbox may have one there
/// (one at `/workspace` replaces the default workspace).
fn mount_path(p: &str) -> Option<String> {
    let p = normalize(p)?;
    (!reserved(&p)).then_some(p)
}

fn join_in(dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{}", dir.trim_end_matches('/'), path)
    }
}

pub async fn create(
    shared: &Arc<Shared>,
    req: pb::CreateSandboxRequest,
) -> Result<pb::Sandbox, Status> {
    let mut sandbox = req.sandbox.unwrap_or_default();
    let mut spec = sandbox.spec.take().unwrap_or_default();
    if spec.containers.len() > 1 {
        return Err(errors::status(
            Code::Unimplemented,
            "sandboxes with more than one container are not supported",
            reason::NOT_IMPLEMENTED,
            Default::default(),
        ));
    }
    if spec.containers.is_empty() {
        spec.containers.push(pb::Container {
            name: "main".into(),
            ..Default::default()
        });
    }
    check_services(&spec)?;
    let (allow_network, egress_grants) = super::egress::plan(shared, &spec)?;
    if !spec.runner_ids.is_empty() && !spec.runner_ids.iter().any(|r| r == RUNNER_ID) {
        return Err(errors::failed_precondition(
            reason::NO_SUITABLE_RUNNER,
            format!("no suitable runner: this server only has runner {RUNNER_ID:?}"),
        ));
    }
    if spec.max_lifetime_seconds < 0 {
        return Err(errors::invalid(
            "spec.max_lifetime_seconds",
            "must not be negative",
        ));
    }
    let c = &mut spec.containers[0];
    if wants_gpu(c) {
        return Err(errors::failed_precondition(
            reason::NO_SUITABLE_RUNNER,
            "no suitable runner: GPUs are not available on this machine",
        ));
    }
    if c.image.is_empty() {
        c.image = DEFAULT_IMAGE.into();
    }
    if c.name.is_empty() {
        c.name = "main".into();
    }
    if !c.working_dir.is_empty() {
        match normalize(&c.working_dir).filter(|p| !under_any(p, KERNEL_TREES)) {
            Some(p) => c.working_dir = p,
            None => {
                return Err(errors::invalid(
                    "spec.containers[0].working_dir",
                    "must be an absolute path outside /proc, /dev and /sys",
                ))
            }
        }
    }
    let c = c.clone();
    if let Some(bad) = c
        .environment_variables
        .keys()
        .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
    {
        return Err(errors::invalid(
            "spec.containers[0].environment_variables",
            format!("{bad:?} is not a variable name (empty, or contains '=' or NUL)"),
        ));
    }
    let limits = Limits::from_container(&c).map_err(|(field, why)| errors::invalid(&field, why))?;

    let id = uuid::Uuid::new_v4().to_string();
    let sandbox_dir = shared.sandboxes_dir.join(&id);
    let default_cwd = if c.working_dir.is_empty() {
        shared.workspace_in_sandbox(&sandbox_dir)
    } else {
        c.working_dir.clone()
    };

    let volumes = volume_dirs(&spec, &c, &sandbox_dir)?;
    let restores = restores(shared, &spec, &sandbox_dir)?;
    let files = spec_files(&c, &default_cwd)?;

    let mut argv: Vec<String> = Vec::new();
    if !c.command.is_empty() {
        argv.push(c.command.clone());
    }
    argv.extend(c.args.iter().cloned());
    if argv.is_empty() {
        argv = keep_alive();
    }
    let mut env = base_env(&shared.workspace_in_sandbox(&sandbox_dir));
    env.extend(
        c.environment_variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );

    let max_lifetime = spec.max_lifetime_seconds;
    let services = publish::bind(&shared.publish, &spec.services)
        .await
        .map_err(|e| Status::unavailable(format!("cannot publish the sandbox's services: {e}")))?;
    sandbox.sandbox_id = id.clone();
    sandbox.endpoint_share_token.clear();
    let mut status = initial_status(shared, &spec, &c, &limits);
    status.services = services.status();
    sandbox.status = Some(status);
    sandbox.spec = Some(spec);

    let (entry, fresh) = shared.registry.insert(sandbox, &req.request_id);
    if !fresh {
        return Ok(entry.snapshot());
    }
    let plan = LaunchPlan {
        sandbox_id: id,
        sandbox_dir,
        argv,
        env,
        working_dir: c.working_dir.clone(),
        volumes,
        restores,
        files: Vec::new(),
        allow_network,
        egress_grants,
        cgroup: None,
        tmp_size: tmp_size(&limits),
        pids: limits.pids,
    };
    let start = Start {
        plan,
        limits,
        cgroups: shared.cgroups.clone(),
        files,
        max_lifetime: (max_lifetime > 0).then(|| Duration::from_secs(max_lifetime as u64)),
        reason_prefix: shared.reason_prefix.clone(),
        services: Some(services),
    };
    let snapshot = entry.snapshot();
    supervisor::spawn(shared.runtime.clone(), entry, start);
    Ok(snapshot)
}

/// The host directory of the volume at `index` of the spec's volumes.
pub fn volume_dir(sandbox_dir: &Path, index: usize, volume: &str) -> PathBuf {
    sandbox_dir.join("volumes").join(dir_name(index, volume))
}

/// A directory name for a volume, whatever its name contains.
fn dir_name(index: usize, volume: &str) -> String {
    let safe: String = volume
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{index}-{safe}")
}

/// Host directory, mount path and read-only flag of each volume mount.
fn volume_dirs(
    spec: &pb::SandboxSpec,
    c: &pb::Container,
    sandbox_dir: &Path,
) -> Result<Vec<(PathBuf, String, bool)>, Status> {
    let mut volumes = Vec::new();
    for (i, m) in c.volume_mounts.iter().enumerate() {
        let field = format!("spec.containers[0].volume_mounts[{i}]");
        let Some(mount) = mount_path(&m.mount_path) else {
            return Err(errors::invalid(
                &format!("{field}.mount_path"),
                "must be an absolute path outside /proc, /dev, /sys and the system's program and \
                 library directories (/usr, /bin, /sbin, /lib*, /etc/ld.so.*)",
            ));
        };
        let Some((vi, vol)) = spec
            .volumes
            .iter()
            .enumerate()
            .find(|(_, v)| v.name == m.volume)
        else {
            return Err(errors::invalid(
                &format!("{field}.volume"),
                format!("no volume named {:?}", m.volume),
            ));
        };
        match &vol.source {
            Some(pb::sandbox_volume::Source::Scratch(_)) | None => {}
            Some(pb::sandbox_volume::Source::VolumeId(_)) => {
                return Err(errors::status(
                    Code::Unimplemented,
                    "persistent volumes are not supported; use scratch volumes",
                    reason::NOT_IMPLEMENTED,
                    Default::default(),
                ))
            }
        }
        if m.sub_path.split('/').any(|c| c == "..") || m.sub_path.starts_with('/') {
            return Err(errors::invalid(
                &format!("{field}.sub_path"),
                "must be a relative path inside the volume",
            ));
        }
        let mut dir = volume_dir(sandbox_dir, vi, &vol.name);
        if !m.sub_path.is_empty() {
            dir = dir.join(&m.sub_path);
        }
        volumes.push((dir, mount, m.read_only));
    }
    Ok(volumes)
}

/// (snapshot files, volume directory) for each scratch volume restored
/// from a snapshot, which must exist and be READY.
fn restores(
    shared: &Shared,
    spec: &pb::SandboxSpec,
    sandbox_dir: &Path,
) -> Result<Vec<(PathBuf, PathBuf)>, Status> {
    let mut out = Vec::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        let Some(pb::sandbox_volume::Source::Scratch(scratch)) = &v.source else {
            continue;
        };
        let id = scratch.restore_from_snapshot_id.as_str();
        if id.is_empty() {
            continue;
        }
        if !crate::server::snapshots::valid_id(id) {
            return Err(errors::snapshot_not_found(id));
        }
        let files = shared.snapshots.restore_source(id).map_err(|e| match e {
            RestoreError::NotFound(id) => errors::snapshot_not_found(&id),
            RestoreError::NotReady { id, state } => errors::snapshot_not_ready(&id, state),
        })?;
        out.push((files, volume_dir(sandbox_dir, i, &v.name)));
    }
    Ok(out)
}

/// The spec's files as (absolute path inside the sandbox, content).
fn spec_files(c: &pb::Container, default_cwd: &str) -> Result<Vec<(String, Vec<u8>)>, Status> {
    let mut files = Vec::new();
    for (i, f) in c.files.iter().enumerate() {
        let path = normalize(&join_in(default_cwd, &f.path))
            .filter(|p| !f.path.is_empty() && p != "/" && p != "/workspace")
            .filter(|p| !reserved(p));
        let Some(path) = path else {
            return Err(errors::invalid(
                &format!("spec.containers[0].files[{i}].path"),
                "must name a file outside /proc, /dev, /sys and the system's program and \
                 library directories (/usr, /bin, /sbin, /lib*, /etc/ld.so.*)",
            ));
        };
        files.push((path, f.content.clone()));
    }

    Ok(files)
}

/// A sandbox's `/tmp` (RAM, counted in its memory): half its memory, at
/// most 512 MiB, so a full `/tmp` says so (ENOSPC) before memory runs out.
fn tmp_size(limits: &Limits) -> u64 {
    (limits.memory_bytes / 2).min(512 << 20)
}

/// Status of a sandbox that has just been accepted: CREATING, with the
/// request's resources, lifetime and runtime class echoed back, and the
/// limits enforced (defaults included) as its effective resources.
fn initial_status(
    shared: &Shared,
    spec: &pb::SandboxSpec,
    c: &pb::Container,
    limits: &Limits,
) -> pb::SandboxStatus {
    let requirements = c.resource_requirements.clone().or_else(|| {
        c.resources.clone().map(|r| pb::ResourceRequirements {
            requests: Some(r.clone()),
            limits: Some(r),
        })
    });
    let effective_resources = if shared.cgroups.is_some() {
        Some(limits.as_resources())
    } else {
        c.resources
            .clone()
            .or_else(|| requirements.as_ref().and_then(|r| r.requests.clone()))
    };
    let runtime_class = if spec.runtime_class.is_empty() {
        "<node-default>".to_string()
    } else {
        spec.runtime_class.clone()
    };
    let max_lifetime = spec.max_lifetime_seconds;
    pb::SandboxStatus {
        state: pb::State::Creating as i32,
        state_reason: shared.reason_prefix.clone(),
        create_time: Some(now_ts()),
        effective_resources,
        effective_max_lifetime_seconds: max_lifetime,
        container_statuses: vec![pb::ContainerStatus {
            name: c.name.clone(),
            state: pb::State::Creating as i32,
            exit_code: 0,
            restart_count: 0,
        }],
        runner_id: RUNNER_ID.into(),
        runner_group_id: RUNNER_ID.into(),
        effective_resource_requirements: requirements,
        effective_runtime_class: runtime_class,
        effective_egress: super::egress::effective(spec),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_after_normalising() {
        assert_eq!(
            normalize("/workspace/../proc/sys/x").as_deref(),
            Some("/proc/sys/x")
        );
        assert_eq!(normalize("/a/./b//c/..").as_deref(), Some("/a/b"));
        assert_eq!(normalize("/../..").as_deref(), Some("/"));
        assert_eq!(normalize("rel/x"), None);
        assert_eq!(mount_path("/data/../proc/x"), None);
        assert_eq!(
            mount_path("/data/../workspace").as_deref(),
            Some("/workspace")
        );
        assert_eq!(mount_path("/workspace/../usr"), None);
        assert_eq!(mount_path("/sys"), None);
        assert_eq!(mount_path("/data/./x/").as_deref(), Some("/data/x"));
    }
}
