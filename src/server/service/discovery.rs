//! DiscoveryService: one runner, "local", describing this machine.
use super::errors;
use super::lifecycle::RUNNER_ID;
use super::Shared;
use crate::proto::v1 as pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The visibilities services are published with (see `net::publish`).
const SERVICE_VISIBILITIES: [pb::Visibility; 2] = [pb::Visibility::Public, pb::Visibility::Private];

#[derive(Clone)]
pub struct DiscoveryApi {
    pub shared: Arc<Shared>,
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// (total, available) memory in bytes, from /proc/meminfo.
fn memory() -> (i64, i64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<i64>().ok())
            .map_or(0, |kb| kb.saturating_mul(1024))
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

impl DiscoveryApi {
    fn runner(&self, full: bool) -> pb::AvailableRunner {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let (mem_total, mem_avail) = memory();
        pb::AvailableRunner {
            runner_id: RUNNER_ID.into(),
            runner_group_id: RUNNER_ID.into(),
            tags: Vec::new(),
            healthy: true,
            capabilities: Some(pb::RunnerCapabilitySummary {
                max_cpu_millicores: cpus * 1000,
                max_memory_bytes: mem_total,
                max_gpu_count: 0,
                supported_gpu_types: Vec::new(),
                supported_architectures: vec![arch().to_string()],
                supports_privileged: false,
                available_storage_classes: Vec::new(),
                supported_service_visibilities: SERVICE_VISIBILITIES
                    .iter()
                    .map(|v| *v as i32)
                    .collect(),
            }),
            resources: full.then(|| pb::RunnerResourceSummary {
                available_cpu_millicores: cpus * 1000,
                available_memory_bytes: mem_avail,
                available_gpu_count: 0,
                running_sandboxes: i32::try_from(self.shared.registry.active()).unwrap_or(i32::MAX),
            }),
            connected_at: Some(prost_types::Timestamp::from(self.shared.started)),
            is_shared: false,
            organization_id: RUNNER_ID.into(),
        }
    }
}

#[tonic::async_trait]
impl pb::discovery_service_server::DiscoveryService for DiscoveryApi {
    async fn list_available_runners(
        &self,
        request: Request<pb::ListAvailableRunnersRequest>,
    ) -> Result<Response<pb::ListAvailableRunnersResponse>, Status> {
        let req = request.into_inner();
        let arch_ok = req.architecture.is_empty()
            || req.architecture == arch()
            || req.architecture == std::env::consts::ARCH;
        let group_ok = req.runner_group_id.is_empty() || req.runner_group_id == RUNNER_ID;
        // No GPUs here.
        let visibility_ok = req.service_visibility == 0
            || SERVICE_VISIBILITIES
                .iter()
                .any(|v| *v as i32 == req.service_visibility);
        let keep = visibility_ok && req.gpu_type.is_empty() && arch_ok && group_ok;
        let runners = if keep {
            vec![self.runner(req.view == pb::RunnerView::Full as i32)]
        } else {
            Vec::new()
        };
        Ok(Response::new(pb::ListAvailableRunnersResponse {
            runners,
            next_page_token: String::new(),
        }))
    }

    async fn get_available_runner(
        &self,
        request: Request<pb::GetAvailableRunnerRequest>,
    ) -> Result<Response<pb::AvailableRunner>, Status> {
        let req = request.into_inner();
        if req.runner_id != RUNNER_ID {
            return Err(errors::runner_not_found(&req.runner_id));
        }
        Ok(Response::new(self.runner(true)))
    }
}
