//! The gRPC services. One file per RPC group; this file only routes.
// Handlers return tonic's `Status` (large) because the generated traits do.
#![allow(clippy::result_large_err)]
mod create;
pub mod discovery;
mod egress;
pub mod errors;
mod exec;
mod files;
mod lifecycle;
mod logs;
mod purge;
mod snapshots;

use super::logs::Sessions;
use super::registry::Registry;
use super::runtime::Runtime;
use crate::proto::v1 as pb;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::{Request, Response, Status, Streaming};

/// State shared by every RPC.
pub struct Shared {
    pub registry: Arc<Registry>,
    pub runtime: Arc<dyn Runtime>,
    /// Where per-sandbox directories live (under the data dir).
    pub sandboxes_dir: PathBuf,
    pub sessions: Sessions,
    pub started: SystemTime,
    /// Added to every state_reason (the no-isolation warning), or empty.
    pub reason_prefix: String,
    pub isolated: bool,
    /// Where sandboxes' limits are enforced; None where they cannot be.
    pub cgroups: Option<Arc<crate::server::limits::cgroup::Cgroups>>,
    /// Where sandboxes' granted host names are looked up.
    pub dns_upstream: Option<std::net::SocketAddr>,
    /// Where declared services get their host ports.
    pub publish: crate::server::net::publish::PublishConfig,
    /// File-system snapshots, under the data dir.
    pub snapshots: Arc<crate::server::snapshots::Store>,
}

impl Shared {
    /// The workspace path as processes in the sandbox see it.
    pub fn workspace_in_sandbox(&self, sandbox_dir: &Path) -> String {
        if self.isolated {
            super::runtime::bwrap::WORKSPACE.to_string()
        } else {
            sandbox_dir.join("workspace").to_string_lossy().into_owned()
        }
    }
}

#[derive(Clone)]
pub struct SandboxApi {
    pub shared: Arc<Shared>,
}

/// The caller's `grpc-timeout`, if any ("<digits><unit>", unit in HMSmun).
pub fn grpc_timeout(md: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let v = md.get("grpc-timeout")?.to_str().ok()?;
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (num, unit) = v.split_at(v.len() - 1);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn unimplemented(what: &str) -> Status {
    errors::unimplemented(what)
}

#[tonic::async_trait]
impl pb::sandbox_service_server::SandboxService for SandboxApi {
    async fn create_sandbox(
        &self,
        r: Request<pb::CreateSandboxRequest>,
    ) -> Result<Response<pb::Sandbox>, Status> {
        create::create(&self.shared, r.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_sandbox_from_template(
        &self,
        _: Request<pb::CreateSandboxFromTemplateRequest>,
    ) -> Result<Response<pb::Sandbox>, Status> {
        Err(unimplemented("CreateSandboxFromTemplate (templates)"))
    }

    async fn create_sandbox_from_file(
        &self,
        _: Request<pb::CreateSandboxFromFileRequest>,
    ) -> Result<Response<pb::Sandbox>, Status> {
        Err(unimplemented("CreateSandboxFromFile (compose files)"))
    }

    async fn get_sandbox(
        &self,
        r: Request<pb::GetSandboxRequest>,
    ) -> Result<Response<pb::Sandbox>, Status> {
        let id = r.into_inner().sandbox_id;
        lifecycle::lookup(&self.shared, &id).map(|e| Response::new(e.snapshot()))
    }

    async fn get_sandbox_build_logs(
        &self,
        _: Request<pb::GetSandboxBuildLogsRequest>,
    ) -> Result<Response<pb::GetSandboxBuildLogsResponse>, Status> {
        Err(unimplemented(
            "GetSandboxBuildLogs (images are never built here)",
        ))
    }

    async fn list_sandboxes(
        &self,
        r: Request<pb::ListSandboxesRequest>,
    ) -> Result<Response<pb::ListSandboxesResponse>, Status> {
        lifecycle::list(&self.shared, r.into_inner()).map(Response::new)
    }

    async fn delete_sandbox(
        &self,
        r: Request<pb::DeleteSandboxRequest>,
    ) -> Result<Response<pb::DeleteSandboxResponse>, Status> {
        lifecycle::delete(&self.shared, r.into_inner()).map(Response::new)
    }

    async fn purge_sandboxes(
        &self,
        r: Request<pb::PurgeSandboxesRequest>,
    ) -> Result<Response<pb::PurgeSandboxesResponse>, Status> {
        purge::purge(&self.shared, r.into_inner()).map(Response::new)
    }

    async fn connect_sandbox(
        &self,
        _: Request<pb::ConnectSandboxRequest>,
    ) -> Result<Response<pb::SandboxConnection>, Status> {
        // Clients fall back to the gateway on UNIMPLEMENTED.
        Err(unimplemented("ConnectSandbox (direct data plane)"))
    }

    async fn exec(
        &self,
        r: Request<pb::ExecRequest>,
    ) -> Result<Response<pb::ExecResponse>, Status> {
        let deadline = grpc_timeout(r.metadata());
        exec::exec(self.shared.clone(), deadline, r.into_inner())
            .await
            .map(Response::new)
    }

    type StreamExecStream = exec::ExecStream;

    async fn stream_exec(
        &self,
        r: Request<Streaming<pb::ExecStreamRequest>>,
    ) -> Result<Response<Self::StreamExecStream>, Status> {
        let deadline = grpc_timeout(r.metadata());
        exec::stream_exec(self.shared.clone(), deadline, r.into_inner())
            .await
            .map(Response::new)
    }

    type StreamLogsStream = logs::LogStream;

    async fn stream_logs(
        &self,
        r: Request<pb::StreamLogsRequest>,
    ) -> Result<Response<Self::StreamLogsStream>, Status> {
        logs::stream_logs(self.shared.clone(), r.into_inner()).map(Response::new)
    }

    async fn write_file(
        &self,
        r: Request<pb::WriteFileRequest>,
    ) -> Result<Response<pb::WriteFileResponse>, Status> {
        files::write_file(self.shared.clone(), r.into_inner())
            .await
            .map(Response::new)
    }

    async fn read_file(
        &self,
        r: Request<pb::ReadFileRequest>,
    ) -> Result<Response<pb::ReadFileResponse>, Status> {
        files::read_file(self.shared.clone(), r.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_file_system_snapshot(
        &self,
        r: Request<pb::CreateFileSystemSnapshotRequest>,
    ) -> Result<Response<pb::FileSystemSnapshot>, Status> {
        snapshots::create(&self.shared, r.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_file_system_snapshot(
        &self,
        r: Request<pb::GetFileSystemSnapshotRequest>,
    ) -> Result<Response<pb::FileSystemSnapshot>, Status> {
        snapshots::get(&self.shared, &r.into_inner().file_system_snapshot_id).map(Response::new)
    }

    async fn list_file_system_snapshots(
        &self,
        r: Request<pb::ListFileSystemSnapshotsRequest>,
    ) -> Result<Response<pb::ListFileSystemSnapshotsResponse>, Status> {
        snapshots::list(&self.shared, r.into_inner()).map(Response::new)
    }

    async fn delete_file_system_snapshot(
        &self,
        r: Request<pb::DeleteFileSystemSnapshotRequest>,
    ) -> Result<Response<pb::FileSystemSnapshot>, Status> {
        snapshots::delete(&self.shared, r.into_inner())
            .await
            .map(Response::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeout() {
        let mut md = tonic::metadata::MetadataMap::new();
        md.insert("grpc-timeout", "300S".parse().unwrap());
        assert_eq!(grpc_timeout(&md), Some(Duration::from_secs(300)));
        md.insert("grpc-timeout", "1500m".parse().unwrap());
        assert_eq!(grpc_timeout(&md), Some(Duration::from_millis(1500)));
        md.insert("grpc-timeout", "x".parse().unwrap());
        assert_eq!(grpc_timeout(&md), None);
    }
}
