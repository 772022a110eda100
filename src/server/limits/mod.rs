//! Resource limits of a sandbox: what the spec asks for (with defaults
//! where it asks for nothing) and the cgroups that enforce it.
//!
//! Defaults: 2 GiB of memory (the sandbox's RAM-backed `/tmp` counts in
//! it), 1,024 processes and threads, and no CPU cap beyond the machine's.
//! Hitting the memory limit makes the kernel kill a process of that
//! sandbox only, which the sandbox's state reason then reports.
pub mod cgroup;
pub mod quantity;

use crate::proto::v1 as pb;

/// Memory of a sandbox whose spec gives none.
pub const DEFAULT_MEMORY: u64 = 2 << 30;
/// Processes (threads included) a sandbox may have at once.
pub const DEFAULT_PIDS: u64 = 1024;

/// What one sandbox may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: u64,
    /// Thousandths of a CPU; None: no cap.
    pub cpu_millis: Option<u64>,
    pub pids: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY,
            cpu_millis: None,
            pids: DEFAULT_PIDS,
        }
    }
}

/// A limit the request got wrong: (field, why).
pub type Invalid = (String, String);

impl Limits {
    /// From the container's limits, else its flat resources, else its
    /// requests (the Python client sends a flat `{cpu, memory}` as equal
    /// requests and limits).
    pub fn from_container(c: &pb::Container) -> Result<Limits, Invalid> {
        let rr = c.resource_requirements.as_ref();
        let sources: [(&str, Option<&pb::Resources>); 3] = [
            (
                "spec.containers[0].resource_requirements.limits",
                rr.and_then(|r| r.limits.as_ref()),
            ),
            ("spec.containers[0].resources", c.resources.as_ref()),
            (
                "spec.containers[0].resource_requirements.requests",
                rr.and_then(|r| r.requests.as_ref()),
            ),
        ];
        let mut limits = Limits::default();
        let pick = |get: fn(&pb::Resources) -> &str| {
            sources.iter().find_map(|(field, r)| {
                r.map(get)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (*field, v))
            })
        };
        if let Some((field, v)) = pick(|r| &r.memory) {
            limits.memory_bytes =
                quantity::memory_bytes(v).map_err(|e| (format!("{field}.memory"), e))?;
        }
        if let Some((field, v)) = pick(|r| &r.cpu) {
            limits.cpu_millis =
                Some(quantity::cpu_millis(v).map_err(|e| (format!("{field}.cpu"), e))?);
        }
        Ok(limits)
    }

    /// The limits as the API spells them, for the sandbox's status.
    pub fn as_resources(&self) -> pb::Resources {
        pb::Resources {
            cpu: self.cpu_millis.map(format_cpu).unwrap_or_default(),
            memory: format_memory(self.memory_bytes),
            gpu: None,
        }
    }
}

fn format_cpu(millis: u64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

fn format_memory(bytes: u64) -> String {
    for (unit, shift) in [("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if bytes % (1 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(limits: Option<(&str, &str)>, flat: Option<(&str, &str)>) -> pb::Container {
        let res = |(cpu, memory): (&str, &str)| pb::Resources {
            cpu: cpu.into(),
            memory: memory.into(),
            gpu: None,
        };
        pb::Container {
            resource_requirements: limits.map(|l| pb::ResourceRequirements {
                requests: None,
                limits: Some(res(l)),
            }),
            resources: flat.map(res),
            ..Default::default()
        }
    }

    #[test]
    fn limits_come_from_the_spec_or_defaults() {
        assert_eq!(
            Limits::from_container(&container(None, None)),
            Ok(Limits::default())
        );
        let l = Limits::from_container(&container(Some(("500m", "256Mi")), Some(("4", "8Gi"))))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((l.cpu_millis, l.memory_bytes), (Some(500), 256 << 20));
        let l = Limits::from_container(&container(None, Some(("", "1Gi"))))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((l.cpu_millis, l.memory_bytes), (None, 1 << 30));
        let e = Limits::from_container(&container(Some(("2", "lots")), None)).unwrap_err();
        assert_eq!(
            e.0,
            "spec.containers[0].resource_requirements.limits.memory"
        );
        assert_eq!(l.as_resources().memory, "1Gi");
        assert_eq!(format_cpu(1500), "1500m");
        assert_eq!(format_cpu(2000), "2");
    }
}
