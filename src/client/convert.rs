//! Wire messages to domain types and back. Pure functions, no I/O.
use super::types::{
    Sandbox, SandboxRequest, SandboxState, ServiceEndpoint, ServiceRequest, Snapshot,
    SnapshotState, Visibility,
};
use crate::proto::v1 as pb;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The image the hosted service and the Python client default to.
pub(crate) const DEFAULT_IMAGE: &str = "python:3.11";

/// The Python client's keep-alive main command: it exits 0 on SIGTERM so a
/// stop does not wait for the whole grace period.
pub(crate) fn keep_alive_command() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        r#"trap "exit 0" TERM INT; sleep infinity & wait"#.into(),
    ]
}

pub(crate) fn snapshot_from_wire(s: pb::FileSystemSnapshot) -> Snapshot {
    let state = match pb::SnapshotState::try_from(s.state) {
        Ok(pb::SnapshotState::Creating) => SnapshotState::Creating,
        Ok(pb::SnapshotState::Ready) => SnapshotState::Ready,
        Ok(pb::SnapshotState::Failed) => SnapshotState::Failed,
        Ok(pb::SnapshotState::Deleting) => SnapshotState::Deleting,
        Ok(pb::SnapshotState::Unspecified) | Err(_) => SnapshotState::Unknown,
    };
    Snapshot {
        state,
        state_reason: s.state_reason,
        size_bytes: u64::try_from(s.size_bytes).unwrap_or(0),
        source_sandbox_id: s.source_sandbox_id,
        source_volume: s.source_volume_name,
        on_stop: s.trigger == pb::SnapshotTrigger::OnDelete as i32,
        created: time_from_wire(s.create_time.as_ref()),
        completed: time_from_wire(s.complete_time.as_ref()),
        id: s.file_system_snapshot_id,
    }
}

pub(crate) fn state_from_wire(v: i32) -> SandboxState {
    match pb::State::try_from(v) {
        Ok(pb::State::Creating) => SandboxState::Creating,
        Ok(pb::State::Pending) => SandboxState::Pending,
        Ok(pb::State::Preparing) => SandboxState::Preparing,
        Ok(pb::State::Running) => SandboxState::Running,
        Ok(pb::State::Paused) => SandboxState::Paused,
        Ok(pb::State::Terminating) => SandboxState::Terminating,
        Ok(pb::State::Completed) => SandboxState::Completed,
        Ok(pb::State::Failed) => SandboxState::Failed,
        Ok(pb::State::Terminated) => SandboxState::Terminated,
        Ok(pb::State::Unspecified) | Err(_) => SandboxState::Unknown,
    }
}

fn time_from_wire(ts: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    let ts = ts?;
    let secs = u64::try_from(ts.seconds).ok()?;
    let nanos = u32::try_from(ts.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

fn positive_secs(v: i32) -> Option<Duration> {
    u64::try_from(v)
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

pub(crate) fn sandbox_from_wire(sb: pb::Sandbox) -> Sandbox {
    let spec = sb.spec.unwrap_or_default();
    let status = sb.status.unwrap_or_default();
    let image = spec
        .containers
        .first()
        .map(|c| c.image.clone())
        .unwrap_or_default();
    Sandbox {
        id: sb.sandbox_id,
        display_name: sb.display_name,
        state: state_from_wire(status.state),
        state_reason: status.state_reason,
        image,
        tags: spec.tags,
        created: time_from_wire(status.create_time.as_ref()),
        started: time_from_wire(status.start_time.as_ref()),
        ended: time_from_wire(status.end_time.as_ref()),
        exit_code: status.exit_code,
        runner_id: status.runner_id,
        max_lifetime: positive_secs(status.effective_max_lifetime_seconds)
            .or_else(|| positive_secs(spec.max_lifetime_seconds)),
    }
}

/// Builds the create request the way the Python client does, so hosted and
/// local servers see the same shape.
/// The scratch volume a sandbox made from a snapshot gets, at `/workspace`.
pub(crate) const WORKSPACE_VOLUME: &str = "workspace";

pub(crate) fn create_request(req: SandboxRequest) -> pb::CreateSandboxRequest {
    let image = if req.image.trim().is_empty() {
        DEFAULT_IMAGE.to_string()
    } else {
        req.image
    };
    let mut argv = if req.command.is_empty() {
        keep_alive_command()
    } else {
        req.command
    };
    let command = argv.remove(0);
    let container = pb::Container {
        name: "main".into(),
        image,
        command,
        args: argv,
        environment_variables: req.env.into_iter().collect(),
        working_dir: req.working_dir.unwrap_or_default(),
        files: req
            .files
            .into_iter()
            .map(|(path, content)| pb::FileMount { path, content })
            .collect(),
        volume_mounts: req
            .from_snapshot
            .iter()
            .map(|_| pb::VolumeMount {
                volume: WORKSPACE_VOLUME.into(),
                mount_path: "/workspace".into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let volumes = req
        .from_snapshot
        .into_iter()
        .map(|id| pb::SandboxVolume {
            name: WORKSPACE_VOLUME.into(),
            source: Some(pb::sandbox_volume::Source::Scratch(pb::ScratchVolume {
                restore_from_snapshot_id: id,
                ..Default::default()
            })),
        })
        .collect();
    let max_lifetime_seconds = req
        .max_lifetime
        .map(|d| i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX))
        .unwrap_or(0);
    pb::CreateSandboxRequest {
        sandbox: Some(pb::Sandbox {
            display_name: req.display_name.unwrap_or_default(),
            spec: Some(pb::SandboxSpec {
                containers: vec![container],
                volumes,
                tags: req.tags,
                max_lifetime_seconds,
                network: super::egress::to_wire(&req.egress),
                services: req.services.into_iter().map(service_to_wire).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// A service as the Python client sends it.
fn service_to_wire(s: ServiceRequest) -> pb::Service {
    let visibility = match s.visibility {
        Visibility::Public => pb::Visibility::Public,
        Visibility::Private => pb::Visibility::Private,
    };
    let endpoint = s.endpoint.map(|e| match e {
        ServiceEndpoint::Https => pb::EndpointSpec {
            kind: pb::EndpointKind::Https as i32,
            auth: pb::EndpointAuth::Open as i32,
            request_timeout_seconds: 0,
        },
        ServiceEndpoint::TlsPassthrough => pb::EndpointSpec {
            kind: pb::EndpointKind::TlsPassthrough as i32,
            ..Default::default()
        },
    });
    pb::Service {
        port: i32::from(s.port),
        name: s.name,
        protocol: pb::ServiceProtocol::Tcp as i32,
        visibility: visibility as i32,
        endpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request_matches_the_python_client_shape() {
        let req = create_request(SandboxRequest::default());
        let sb = req.sandbox.unwrap_or_default();
        let spec = sb.spec.unwrap_or_default();
        assert_eq!(spec.containers.len(), 1);
        let c = &spec.containers[0];
        assert_eq!(c.name, "main");
        assert_eq!(c.image, DEFAULT_IMAGE);
        assert_eq!(c.command, "/bin/sh");
        assert_eq!(c.args[0], "-c");
        assert_eq!(spec.max_lifetime_seconds, 0);
        assert!(!req.request_id.is_empty());
    }

    #[test]
    fn request_fields_are_carried() {
        let req = create_request(SandboxRequest {
            image: "alpine".into(),
            command: vec!["sleep".into(), "5".into()],
            tags: vec!["a".into()],
            max_lifetime: Some(Duration::from_secs(90)),
            display_name: Some("n".into()),
            ..Default::default()
        });
        let sb = req.sandbox.unwrap_or_default();
        assert_eq!(sb.display_name, "n");
        let spec = sb.spec.unwrap_or_default();
        assert_eq!(spec.tags, vec!["a".to_string()]);
        assert_eq!(spec.max_lifetime_seconds, 90);
        assert_eq!(spec.containers[0].command, "sleep");
        assert_eq!(spec.containers[0].args, vec!["5".to_string()]);
    }

    #[test]
    fn wire_sandbox_converts_with_missing_parts() {
        let sb = sandbox_from_wire(pb::Sandbox {
            sandbox_id: "x".into(),
            status: Some(pb::SandboxStatus {
                state: 3,
                exit_code: Some(0),
                create_time: Some(prost_types::Timestamp {
                    seconds: -5,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(sb.state, SandboxState::Completed);
        assert_eq!(sb.exit_code, Some(0));
        assert_eq!(sb.created, None);
        assert_eq!(sb.image, "");
        assert_eq!(state_from_wire(0), SandboxState::Unknown);
        assert_eq!(state_from_wire(99), SandboxState::Unknown);
    }
}
