//! Everything `GetSandbox` says about one sandbox, as domain types: what
//! `sandscope get` prints and what an info view can show. Pure conversion
//! from the wire; fields the server left empty stay empty.
use super::convert::{sandbox_from_wire, state_from_wire};
use super::error::Result;
use super::types::{Sandbox, SandboxState};
use super::Client;
use crate::proto::v1 as pb;
use std::collections::BTreeMap;

/// A sandbox with its spec and the server's view of its resources.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxDetails {
    /// The summary `get` and `list` return.
    pub sandbox: Sandbox,
    pub containers: Vec<ContainerDetails>,
    pub volumes: Vec<VolumeDetails>,
    pub services: Vec<ServiceDetails>,
    /// What it may reach beyond its loopback, one line per grant (empty:
    /// nothing, or the server's default).
    pub egress: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    /// The runtime class asked for, else the one the server chose.
    pub runtime_class: String,
    /// What the server granted, where it says.
    pub effective_resources: Option<Resources>,
    pub effective_limits: Option<Resources>,
    /// Current use, where the server measures it.
    pub usage: Option<ResourceUsage>,
}

/// One container of the spec, with its status where the server gives one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerDetails {
    pub name: String,
    pub image: String,
    /// Command and arguments.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: String,
    /// Paths of the files written in before the command started.
    pub files: Vec<String>,
    pub mounts: Vec<MountDetails>,
    pub resources: Option<Resources>,
    pub requests: Option<Resources>,
    pub limits: Option<Resources>,
    pub state: Option<SandboxState>,
    pub exit_code: Option<i32>,
    pub restarts: i32,
}

/// CPU, memory and GPUs, in the units the API uses (`"2"`, `"4Gi"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    pub cpu: String,
    pub memory: String,
    pub gpu_count: i64,
    pub gpu_type: String,
}

impl Resources {
    /// `cpu=2 memory=4Gi gpu=1 (A100)`, only the parts that are set.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.cpu.is_empty() {
            parts.push(format!("cpu={}", self.cpu));
        }
        if !self.memory.is_empty() {
            parts.push(format!("memory={}", self.memory));
        }
        if self.gpu_count > 0 {
            let kind = if self.gpu_type.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.gpu_type)
            };
            parts.push(format!("gpu={}{kind}", self.gpu_count));
        }
        parts.join(" ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceUsage {
    pub cpu_millicores: i64,
    pub memory_mb: i64,
    pub gpu_count: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MountDetails {
    pub volume: String,
    pub path: String,
    pub read_only: bool,
    pub sub_path: String,
}

/// A volume of the spec: a scratch volume (`source` is its size) or an
/// existing one (`source` is its id).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumeDetails {
    pub name: String,
    pub source: String,
}

/// A service port of the spec, with where the server published it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceDetails {
    pub name: String,
    pub port: i32,
    /// `public`, `private`, `custom`, or empty when unspecified.
    pub visibility: String,
    /// Where to reach a plain or HTTPS service.
    pub url: String,
    /// `host:port` of a TLS passthrough endpoint.
    pub address: String,
    pub tls_passthrough: bool,
}

impl ServiceDetails {
    /// One line: name, port, visibility and where it is reached
    /// (`web port 8080 public http://127.0.0.1:40123`).
    pub fn summary(&self) -> String {
        let mut out = if self.name.is_empty() {
            format!("port {}", self.port)
        } else {
            format!("{} port {}", self.name, self.port)
        };
        for part in [&self.visibility, &self.url] {
            if !part.is_empty() {
                out.push(' ');
                out.push_str(part);
            }
        }
        if self.tls_passthrough {
            out.push_str(" tls passthrough");
            if !self.address.is_empty() {
                out.push(' ');
                out.push_str(&self.address);
            }
        }
        out
    }
}

fn visibility_name(v: i32) -> String {
    match pb::Visibility::try_from(v) {
        Ok(pb::Visibility::Public) => "public",
        Ok(pb::Visibility::Private) => "private",
        Ok(pb::Visibility::Custom) => "custom",
        _ => "",
    }
    .to_string()
}

impl Client {
    /// The sandbox with everything `GetSandbox` returns.
    pub async fn details(&self, id: &str) -> Result<SandboxDetails> {
        Ok(details_from_wire(self.get_wire(id).await?))
    }
}

fn resources(r: Option<pb::Resources>) -> Option<Resources> {
    let r = r?;
    let (gpu_count, gpu_type) = match r.gpu {
        Some(g) => {
            let kind = match g.selector {
                Some(pb::gpu::Selector::Type(t)) => t,
                Some(pb::gpu::Selector::MemoryGb(m)) => format!("{m} GB"),
                None => String::new(),
            };
            (g.count, kind)
        }
        None => (0, String::new()),
    };
    let out = Resources {
        cpu: r.cpu,
        memory: r.memory,
        gpu_count,
        gpu_type,
    };
    (out != Resources::default()).then_some(out)
}

fn container(c: pb::Container, status: Option<&pb::ContainerStatus>) -> ContainerDetails {
    let mut command = Vec::with_capacity(1 + c.args.len());
    if !c.command.is_empty() {
        command.push(c.command);
    }
    command.extend(c.args);
    let req = c.resource_requirements.unwrap_or_default();
    ContainerDetails {
        name: c.name,
        image: c.image,
        command,
        env: c.environment_variables.into_iter().collect(),
        working_dir: c.working_dir,
        files: c.files.into_iter().map(|f| f.path).collect(),
        mounts: c
            .volume_mounts
            .into_iter()
            .map(|m| MountDetails {
                volume: m.volume,
                path: m.mount_path,
                read_only: m.read_only,
                sub_path: m.sub_path,
            })
            .collect(),
        resources: resources(c.resources),
        requests: resources(req.requests),
        limits: resources(req.limits),
        state: status.map(|s| state_from_wire(s.state)),
        exit_code: status.map(|s| s.exit_code),
        restarts: status.map_or(0, |s| s.restart_count),
    }
}

fn volume(v: pb::SandboxVolume) -> VolumeDetails {
    let source = match v.source {
        Some(pb::sandbox_volume::Source::Scratch(s)) => {
            let size = if s.size.is_empty() { "?" } else { &s.size };
            match s.restore_from_snapshot_id.as_str() {
                "" => format!("scratch {size}"),
                id => format!("scratch {size}, from snapshot {id}"),
            }
        }
        Some(pb::sandbox_volume::Source::VolumeId(id)) => format!("volume {id}"),
        None => String::new(),
    };
    VolumeDetails {
        name: v.name,
        source,
    }
}

pub(crate) fn details_from_wire(sb: pb::Sandbox) -> SandboxDetails {
    let egress = super::egress::from_wire(&sb);
    let spec = sb.spec.clone().unwrap_or_default();
    let status = sb.status.clone().unwrap_or_default();
    let containers = spec
        .containers
        .into_iter()
        .map(|c| {
            let st = status.container_statuses.iter().find(|s| s.name == c.name);
            container(c, st)
        })
        .collect();
    // Published URLs come with the status; the spec only names the ports.
    let mut services: Vec<ServiceDetails> = spec
        .services
        .into_iter()
        .map(|s| ServiceDetails {
            name: s.name,
            port: s.port,
            visibility: visibility_name(s.visibility),
            tls_passthrough: s
                .endpoint
                .is_some_and(|e| e.kind == pb::EndpointKind::TlsPassthrough as i32),
            ..Default::default()
        })
        .collect();
    for st in status.services {
        let (endpoint_url, address) = st
            .endpoint
            .as_ref()
            .map(|e| (e.url.clone(), e.address.clone()))
            .unwrap_or_default();
        let url = if st.url.is_empty() {
            endpoint_url
        } else {
            st.url
        };
        let tls = st
            .endpoint
            .is_some_and(|e| e.kind == pb::EndpointKind::TlsPassthrough as i32);
        let i = match services.iter().position(|s| s.port == st.port) {
            Some(i) => i,
            None => {
                services.push(ServiceDetails {
                    name: st.name,
                    port: st.port,
                    visibility: visibility_name(st.visibility),
                    ..Default::default()
                });
                services.len() - 1
            }
        };
        let s = &mut services[i];
        s.url = url;
        s.address = address;
        s.tls_passthrough |= tls;
    }
    let limits = status
        .effective_resource_requirements
        .and_then(|r| resources(r.limits));
    SandboxDetails {
        sandbox: sandbox_from_wire(sb),
        containers,
        volumes: spec.volumes.into_iter().map(volume).collect(),
        services,
        egress,
        annotations: spec.annotations.into_iter().collect(),
        runtime_class: if spec.runtime_class.is_empty() {
            status.effective_runtime_class
        } else {
            spec.runtime_class
        },
        effective_resources: resources(status.effective_resources),
        effective_limits: limits,
        usage: status.resource_usage.map(|u| ResourceUsage {
            cpu_millicores: u.cpu_millicores,
            memory_mb: u.memory_mb,
            gpu_count: u.gpu_count,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_and_status_are_joined() {
        let sb = pb::Sandbox {
            sandbox_id: "sb1".into(),
            spec: Some(pb::SandboxSpec {
                containers: vec![pb::Container {
                    name: "main".into(),
                    image: "alpine".into(),
                    command: "sleep".into(),
                    args: vec!["9".into()],
                    resources: Some(pb::Resources {
                        cpu: "2".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                services: vec![pb::Service {
                    port: 80,
                    name: "web".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(pb::SandboxStatus {
                state: pb::State::Running as i32,
                container_statuses: vec![pb::ContainerStatus {
                    name: "main".into(),
                    state: pb::State::Running as i32,
                    exit_code: 0,
                    restart_count: 1,
                }],
                services: vec![pb::ServiceStatus {
                    port: 80,
                    url: "https://x".into(),
                    ..Default::default()
                }],
                effective_resources: Some(pb::Resources::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let d = details_from_wire(sb);
        assert_eq!(d.sandbox.id, "sb1");
        let c = &d.containers[0];
        assert_eq!(c.command, vec!["sleep".to_string(), "9".to_string()]);
        assert_eq!(c.state, Some(SandboxState::Running));
        assert_eq!(c.restarts, 1);
        assert_eq!(
            c.resources.as_ref().map(Resources::summary).as_deref(),
            Some("cpu=2")
        );
        assert_eq!(d.services[0].url, "https://x");
        // An empty resources message is "not said", not "zero".
        assert_eq!(d.effective_resources, None);
    }

    #[test]
    fn a_passthrough_endpoint_reports_its_address() {
        let tls = pb::EndpointSpec {
            kind: pb::EndpointKind::TlsPassthrough as i32,
            ..Default::default()
        };
        let sb = pb::Sandbox {
            spec: Some(pb::SandboxSpec {
                services: vec![pb::Service {
                    port: 8443,
                    name: "tls".into(),
                    visibility: pb::Visibility::Public as i32,
                    endpoint: Some(tls),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(pb::SandboxStatus {
                services: vec![pb::ServiceStatus {
                    port: 8443,
                    name: "tls".into(),
                    endpoint: Some(pb::EndpointStatus {
                        kind: pb::EndpointKind::TlsPassthrough as i32,
                        address: "127.0.0.1:4000".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let d = details_from_wire(sb);
        assert_eq!(d.services[0].address, "127.0.0.1:4000");
        assert_eq!(
            d.services[0].summary(),
            "tls port 8443 public tls passthrough 127.0.0.1:4000"
        );
    }
}
