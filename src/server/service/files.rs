//! ReadFile and WriteFile, on the filesystem the sandbox's processes see.
use super::errors::{self, FileFailure};
use super::lifecycle::lookup_container;
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::fs;
use crate::server::runtime::Instance;
use std::sync::Arc;
use tonic::Status;

fn running_instance(shared: &Shared, id: &str, container: &str) -> Result<Instance, Status> {
    let entry = lookup_container(shared, id, container)?;
    match entry.instance() {
        Some(i) if entry.state() == pb::State::Running => Ok(i),
        _ => Err(errors::sandbox_not_running(id, entry.state_name())),
    }
}

pub async fn read_file(
    shared: Arc<Shared>,
    req: pb::ReadFileRequest,
) -> Result<pb::ReadFileResponse, Status> {
    if req.path.is_empty() {
        return Err(errors::invalid("path", "must not be empty"));
    }
    let inst = running_instance(&shared, &req.sandbox_id, &req.container)?;
    let abs = fs::absolute(&inst.default_cwd, &req.path);
    match fs::read(&*shared.runtime, &inst, &abs).await {
        Ok(content) => Ok(pb::ReadFileResponse { content }),
        Err(f) => Err(errors::file_error(f, &req.path, "read")),
    }
}

pub async fn write_file(
    shared: Arc<Shared>,
    req: pb::WriteFileRequest,
) -> Result<pb::WriteFileResponse, Status> {
    if req.path.is_empty() {
        return Err(errors::invalid("path", "must not be empty"));
    }
    if req.content.len() as u64 > fs::MAX_FILE {
        let f = FileFailure::TooLarge {
            size: req.content.len() as u64,
            max: fs::MAX_FILE,
        };
        return Err(errors::file_error(f, &req.path, "write"));
    }
    let inst = running_instance(&shared, &req.sandbox_id, &req.container)?;
    let abs = fs::absolute(&inst.default_cwd, &req.path);
    match fs::write(&*shared.runtime, &inst, &abs, req.content).await {
        Ok(()) => Ok(pb::WriteFileResponse {}),
        Err(f) => Err(errors::file_error(f, &req.path, "write")),
    }
}
