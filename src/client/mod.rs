//! The client of the `coreweave.sandbox.v1` API: the only code above the wire
//! that speaks gRPC. It works the same against the embedded server and a
//! hosted one.
//!
//! ```no_run
//! # async fn demo() -> sandscope::client::Result<()> {
//! use sandscope::client::{Client, Endpoint, ExecOptions, SandboxRequest};
//! let client = Client::connect(Endpoint::new("http://127.0.0.1:7391", Some("token".into()))).await?;
//! let sb = client.run(SandboxRequest::default()).await?;
//! let argv = vec!["echo".to_string(), "hello".to_string()];
//! let result = client.exec(&sb.id, &argv, ExecOptions::default()).await?.result().await?;
//! assert_eq!(result.stdout, b"hello\n");
//! # Ok(()) }
//! ```
mod connect;
mod convert;
mod details;
mod egress;
mod error;
mod exec;
mod files;
mod forward;
mod logs;
mod poll;
mod process;
mod procs;
mod pump;
mod sandboxes;
mod services;
mod snapshots;
mod status;
mod stdin;
mod transport;
mod types;
mod wait;

pub use connect::{Buffering, Endpoint};
pub use details::{
    ContainerDetails, MountDetails, ResourceUsage, Resources, SandboxDetails, ServiceDetails,
    VolumeDetails,
};
pub use egress::{Egress, Grant};
pub use error::{Error, Result};
pub use files::{DirEntry, EntryKind, MAX_FILE_BYTES};
pub use forward::{ForwardEvent, ForwardStats, Forwarder, RelayTool};
pub use logs::{LogOptions, LogStream};
pub use process::{OutputStream, Process, StatusWatch};
pub use procs::ProcessInfo;
pub use stdin::StdinWriter;
pub use types::*;
pub use wait::wait;

use connect::Rpc;

/// A connection to one server. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    rpc: Rpc,
    endpoint: Endpoint,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key stays out of logs.
        f.debug_struct("Client")
            .field("url", &self.endpoint.url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `endpoint.url`: `http://` is cleartext HTTP/2, `https://`
    /// is TLS checked against the system's roots (or `endpoint.ca_file`),
    /// `unix:/path` is cleartext HTTP/2 over a Unix socket. Fails with
    /// `Unavailable` when nothing answers there, `Tls` when the handshake
    /// fails.
    pub async fn connect(endpoint: Endpoint) -> Result<Client> {
        let rpc = connect::open(&endpoint).await?;
        Ok(Client { rpc, endpoint })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Starts `argv` in a sandbox and returns once the server has spawned
    /// it. Bad input (empty command, relative `cwd`) fails before any RPC.
    /// A sandbox that is still starting is waited for first, as the Python
    /// client does; the timeout counts from then.
    pub async fn exec(
        &self,
        sandbox_id: &str,
        argv: &[String],
        opts: ExecOptions,
    ) -> Result<Process> {
        let url = &self.endpoint.url;
        match exec::start(self.rpc(), url, sandbox_id, argv, opts.clone()).await {
            Err(Error::FailedPrecondition(why)) => {
                // It may have started between the exec and this look.
                match self.get(sandbox_id).await?.state {
                    SandboxState::Creating | SandboxState::Pending | SandboxState::Preparing => {
                        self.wait_running(sandbox_id).await?;
                    }
                    SandboxState::Running | SandboxState::Paused => {}
                    _ => return Err(Error::FailedPrecondition(why)),
                }
                exec::start(self.rpc(), url, sandbox_id, argv, opts).await
            }
            other => other,
        }
    }

    fn rpc(&self) -> Rpc {
        self.rpc.clone()
    }

    fn error(&self, status: &tonic::Status) -> Error {
        status::from_status(status, &self.endpoint.url)
    }
}

#[cfg(test)]
mod tests {
    fn is_send_static<T: Send + 'static>() {}

    #[test]
    fn handles_move_between_tasks() {
        is_send_static::<super::Client>();
        is_send_static::<super::Process>();
        is_send_static::<super::StdinWriter>();
        is_send_static::<super::StatusWatch>();
        is_send_static::<super::OutputStream>();
        is_send_static::<super::LogStream>();
        is_send_static::<super::Forwarder>();
    }
}
