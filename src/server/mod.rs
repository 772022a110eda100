//! The embedded sandbox server: runs sandboxes on this machine and serves
//! the `coreweave.sandbox.v1` gRPC API (SandboxService, DiscoveryService,
//! plus health and reflection) on a TCP port (TLS when configured) and, for
//! local clients, on a Unix socket in its private data directory.
//!
//! Sandboxes run under bubblewrap when it works here; otherwise they are
//! plain host processes, which [`Server::isolation`] and every sandbox's
//! `state_reason` say loudly.
mod auth;
mod clip;
mod fs;
mod heap;
mod leftovers;
pub mod limits;
pub mod local;
mod logs;
mod net;
mod process;
mod pty;
mod record;
mod registry;
mod retention;
mod runtime;
mod service;
mod snapshots;
mod supervisor;
pub mod transport;

pub use retention::DEFAULT_RETENTION;
pub(crate) use service::errors::undecodable;
pub use snapshots::DEFAULT_MAX_BYTES as DEFAULT_SNAPSHOT_MAX_BYTES;

use crate::proto::v1::discovery_service_server::DiscoveryServiceServer;
use crate::proto::v1::sandbox_service_server::SandboxServiceServer;
pub use net::publish::PublishConfig;
use registry::Registry;
use runtime::Runtime;
use service::discovery::DiscoveryApi;
use service::{SandboxApi, Shared};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::service::interceptor::InterceptedService;
pub use transport::{ConnectionLimits, TlsFiles};

/// Where `sandscope serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7391";

/// Largest gRPC message accepted or sent (a 32 MiB file plus framing fits).
const MAX_MESSAGE: usize = 100 << 20;
/// Largest HTTP/2 frame a client may send: a 64 KiB stdin message then
/// travels in one frame instead of five, which halves the CPU a stdin
/// stream costs on both ends. (The flow-control windows stay at hyper's
/// 1 MiB: larger ones were measured to change nothing.)
const MAX_FRAME: u32 = 1 << 20;
/// Grace given to each sandbox's main process when the server shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Which runtime runs the sandboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeChoice {
    /// Bubblewrap when `bwrap` works on this machine, else the host runtime.
    #[default]
    Auto,
    Bubblewrap,
    /// Plain host processes: no isolation at all.
    Host,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub token: String,
    pub runtime: RuntimeChoice,
    /// How long a finished sandbox's record stays.
    pub retention: Duration,
    /// Also serve on this Unix socket, whose directory must be private to
    /// this user (`sandscope serve`: `<data_dir>/server.sock`).
    pub socket: Option<PathBuf>,
    /// TLS on the TCP listener; the socket stays cleartext.
    pub tls: Option<TlsFiles>,
    pub limits: ConnectionLimits,
    /// The resolver that answers sandboxes' granted host names; None: the
    /// first name server of the host's resolv.conf.
    pub dns_upstream: Option<SocketAddr>,
    /// Where sandboxes' services are published.
    pub publish: PublishConfig,
    /// Largest file-system snapshot, in bytes of file content.
    pub snapshot_max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Local(#[from] local::LocalError),
    #[error(transparent)]
    Listen(#[from] transport::ListenError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bubblewrap was requested but does not work on this machine (bwrap and setpriv installed, namespaces allowed, and for root user namespaces too; see the log)")]
    BubblewrapUnavailable,
    #[error("cannot set up the gRPC server: {0}")]
    Setup(String),
    #[error("SANDSCOPE_RUNTIME={0:?} is not a runtime; use bubblewrap, host or auto")]
    UnknownRuntime(String),
}

/// Every running exec holds a few descriptors (pipes, pidfd, socket share),
/// so the usual soft limit of 1,024 caps a busy server at a few hundred
/// processes. Raise it to the hard limit; failing that, keep what we have.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                tracing::warn!("could not raise the open-file limit above {}", lim.rlim_cur);
            }
        }
    }
}

/// Exec'd processes start as children sharing the server's memory, some
/// already in a sandbox's pid namespace and with its uid (a server run by
/// an ordinary user runs them as itself). Not dumpable, no process of a
/// sandbox can trace them in that moment, nor the server. (Each exec'd
/// program gets the usual setting back.)
fn forbid_tracing() {
    // SAFETY: prctl on this process only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        tracing::warn!("could not make the server non-dumpable");
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

impl ServerConfig {
    /// A server on `listen` only: no socket, no TLS, default limits.
    pub fn new(
        listen: SocketAddr,
        data_dir: PathBuf,
        token: String,
        runtime: RuntimeChoice,
    ) -> Self {
        Self {
            listen,
            data_dir,
            token,
            runtime,
            retention: DEFAULT_RETENTION,
            socket: None,
            tls: None,
            limits: ConnectionLimits::default(),
            dns_upstream: None,
            publish: Default::default(),
            snapshot_max_bytes: snapshots::DEFAULT_MAX_BYTES,
        }
    }

    /// Data dir from `SANDSCOPE_DATA_DIR`, else the user's data directory
    /// (created 0700; refused when others can enter it); token from
    /// `SANDSCOPE_TOKEN`, else `<data_dir>/token` (generated, mode 0600, on
    /// first use); runtime from `SANDSCOPE_RUNTIME` (`bubblewrap` or
    /// `host`), else automatic. No socket: [`ServerConfig::with_local_socket`]
    /// adds the one local clients look for.
    pub fn from_env(listen: SocketAddr) -> Result<Self, ServerError> {
        let data_dir = local::data_dir_from_env()?;
        let token = match local::token_from_env() {
            Some(t) => {
                local::create_private_dir(&data_dir)?;
                t
            }
            None => local::stored_token(&data_dir)?,
        };
        let runtime = match std::env::var("SANDSCOPE_RUNTIME").ok().as_deref() {
            Some("bubblewrap") | Some("bwrap") => RuntimeChoice::Bubblewrap,
            Some("host") => RuntimeChoice::Host,
            None | Some("") | Some("auto") => RuntimeChoice::Auto,
            Some(other) => return Err(ServerError::UnknownRuntime(other.to_string())),
        };
        Ok(Self::new(listen, data_dir, token, runtime))
    }

    /// Serve on `<data_dir>/server.sock` too, where local clients look.
    pub fn with_local_socket(mut self) -> Self {
        self.socket = Some(local::socket_path(&self.data_dir));
        self
    }
}

/// A running server. Dropping it without [`Server::shutdown`] kills every
/// sandbox it started (best effort) and stops serving.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    /// Removed when the server goes.
    socket: Option<transport::SocketFile>,
    token: String,
    shared: Arc<Shared>,
    stop_serving: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
    run_dir: PathBuf,
    limits: LimitsEnforced,
}

impl Server {
    /// Start serving on `cfg.listen` (and `cfg.socket`); returns once they
    /// are bound. The data directory is created private (0700) if needed,
    /// and refused if someone else owns it or can enter it.
    pub async fn start(cfg: ServerConfig) -> Result<Server, ServerError> {
        raise_open_file_limit();
        forbid_tracing();
        runtime::child::reserve_low_fds();
        let data_dir = local::create_private_dir(&cfg.data_dir)?;
        let runtime: Arc<dyn Runtime> = match cfg.runtime {
            RuntimeChoice::Host => Arc::new(runtime::host::Host),
            choice => {
                let dir = data_dir.clone();
                let bwrap = tokio::task::spawn_blocking(move || runtime::bwrap::Bwrap::detect(dir))
                    .await
                    .ok()
                    .flatten();
                match (bwrap, choice) {
                    (Some(b), _) => Arc::new(b),
                    (None, RuntimeChoice::Bubblewrap) => {
                        return Err(ServerError::BubblewrapUnavailable)
                    }
                    (None, _) => Arc::new(runtime::host::Host),
                }
            }
        };
        let isolated = runtime.isolation() != runtime::host::ISOLATION;
        let cgroups = tokio::task::spawn_blocking(limits::cgroup::Cgroups::detect)
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let limits = match &cgroups {
            Err(why) => LimitsEnforced::No(why.clone()),
            Ok(c) if c.missing().is_empty() => LimitsEnforced::All,
            Ok(c) => LimitsEnforced::Partly(c.missing().to_vec()),
        };
        let reason_prefix = [
            no_isolation_warning(isolated, cfg.runtime),
            unenforced_limits_warning(&cgroups),
        ]
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
        let run_dir = prepare_run_dir(&data_dir)?;

        let listeners =
            transport::Listeners::bind(cfg.listen, cfg.socket.as_deref(), cfg.tls.as_ref()).await?;
        let addr = listeners.tcp_addr();
        let tls = listeners.tls();

        let snapshot_dir = data_dir.join("snapshots");
        let snapshots = tokio::task::spawn_blocking({
            let max = cfg.snapshot_max_bytes;
            move || snapshots::Store::open(snapshot_dir, max)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
        .map_err(io_err("opening the snapshot store"))?;
        let registry = Arc::new(Registry::default());
        retention::spawn(&registry, cfg.retention);
        let shared = Arc::new(Shared {
            registry,
            runtime,
            sandboxes_dir: run_dir.clone(),
            sessions: Default::default(),
            started: SystemTime::now(),
            reason_prefix,
            isolated,
            cgroups: cgroups.ok().map(Arc::new),
            dns_upstream: cfg.dns_upstream.or_else(net::resolver::host_upstream),
            publish: cfg.publish.clone(),
            snapshots,
        });
        let auth = auth::Auth::new(&cfg.token);
        let sandbox_svc = SandboxServiceServer::new(SandboxApi {
            shared: shared.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let discovery_svc = DiscoveryServiceServer::new(DiscoveryApi {
            shared: shared.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let (health, health_svc) = tonic_health::server::health_reporter();
        health
            .set_serving::<SandboxServiceServer<SandboxApi>>()
            .await;
        health
            .set_serving::<DiscoveryServiceServer<DiscoveryApi>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| ServerError::Setup(e.to_string()))?;

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let router = tonic::transport::Server::builder()
            .max_frame_size(MAX_FRAME)
            .http2_keepalive_interval(cfg.limits.keepalive_interval)
            .http2_keepalive_timeout(Some(cfg.limits.keepalive_timeout))
            .layer(transport::MarkServedLayer)
            .add_service(health_svc)
            .add_service(reflection)
            .add_service(InterceptedService::new(sandbox_svc, auth.clone()))
            .add_service(InterceptedService::new(discovery_svc, auth));
        let (incoming, socket) = listeners.accept(&cfg.limits);
        let serving = tokio::spawn(async move {
            let shutdown = async {
                let _ = stop_rx.await;
            };
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                tracing::error!(error = %e, "gRPC server stopped");
            }
        });
        tracing::info!(
            %addr,
            tls,
            socket = ?socket.as_ref().map(|s| s.path()),
            isolation = shared.runtime.isolation(),
            "sandbox server listening"
        );
        Ok(Server {
            addr,
            tls,
            socket,
            token: cfg.token,
            shared,
            stop_serving: Some(stop_tx),
            serving: Some(serving),
            run_dir,
            limits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT` (`https://` with TLS), ready for a client endpoint.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The Unix socket, when the server has one.
    pub fn socket_path(&self) -> Option<&Path> {
        self.socket.as_ref().map(|s| s.path())
    }

    /// `unix:/path/to/server.sock`, ready for a client endpoint.
    pub fn socket_url(&self) -> Option<String> {
        self.socket_path().map(|p| format!("unix:{}", p.display()))
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// "bubblewrap" or "host (NO ISOLATION)".
    pub fn isolation(&self) -> &'static str {
        self.shared.runtime.isolation()
    }

    /// Whether resource limits are enforced, and which are not.
    pub fn limits(&self) -> &LimitsEnforced {
        &self.limits
    }

    /// Sandboxes that have not reached a terminal state.
    pub async fn active_sandboxes(&self) -> usize {
        self.shared.registry.active()
    }

    /// Stop every sandbox (SIGTERM, a short grace, SIGKILL), then stop serving.
    pub async fn shutdown(mut self) {
        let entries = self.shared.registry.all();
        for e in &entries {
            e.request_stop(SHUTDOWN_GRACE);
        }
        for e in &entries {
            if !e
                .wait_terminal(SHUTDOWN_GRACE + Duration::from_secs(3))
                .await
            {
                tracing::warn!(sandbox = %e.id, "sandbox did not stop in time");
                if let Some(inst) = e.instance() {
                    self.shared.runtime.kill(&inst);
                }
            }
        }
        if let Some(tx) = self.stop_serving.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.serving.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.socket.take();
        let dir = self.run_dir.clone();
        let cgroups = self.shared.cgroups.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(c) = cgroups {
                c.remove();
            }
            std::fs::remove_dir_all(dir)
        })
        .await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.stop_serving.is_none() {
            return; // shut down properly already
        }
        for e in self.shared.registry.all() {
            if let Some(inst) = e.instance() {
                self.shared.runtime.kill(&inst);
            }
        }
        if let Some(tx) = self.stop_serving.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.serving.take() {
            task.abort();
        }
    }
}

/// The warning logged at start and put into every sandbox's state_reason
/// when sandboxes are not isolated (empty when they are), naming why: a
/// deliberate choice reads differently from a missing bubblewrap.
fn no_isolation_warning(isolated: bool, choice: RuntimeChoice) -> String {
    if isolated {
        return String::new();
    }
    let why = if choice == RuntimeChoice::Host {
        tracing::warn!("host runtime chosen: sandboxes run on the host with NO ISOLATION");
        "host runtime chosen"
    } else {
        tracing::warn!("bubblewrap is not available: sandboxes run on the host with NO ISOLATION");
        "bubblewrap unavailable"
    };
    format!("WARNING: runs on the host with NO ISOLATION ({why})")
}

/// Whether the server enforces sandboxes' resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsEnforced {
    All,
    /// These controllers are missing: their limits are not enforced.
    Partly(Vec<&'static str>),
    /// None are, for this reason.
    No(String),
}

/// The warning logged at start and put into every sandbox's state_reason
/// when limits cannot be enforced (empty when they are).
fn unenforced_limits_warning(cgroups: &Result<limits::cgroup::Cgroups, String>) -> String {
    match cgroups {
        Ok(c) if c.missing().is_empty() => String::new(),
        Ok(c) => {
            let which = c.missing().join(", ");
            tracing::warn!(controllers = %which, "these resource limits are NOT ENFORCED");
            format!("WARNING: {which} limits are NOT ENFORCED (no such cgroup controller)")
        }
        Err(why) => {
            tracing::warn!(reason = %why, "resource limits are NOT ENFORCED");
            format!("WARNING: resource limits are NOT ENFORCED ({why})")
        }
    }
}

/// A per-process directory for sandbox workspaces. Directories left by
/// servers that are no longer running are removed, with whatever still runs
/// in them.
fn prepare_run_dir(data_dir: &Path) -> Result<PathBuf, ServerError> {
    let base = data_dir.join("sandboxes");
    std::fs::create_dir_all(&base).map_err(io_err(format!("creating {}", base.display())))?;
    // Workspaces are private to the server (and, through their mounts, to
    // their sandboxes).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("securing {}", base.display())))?;
    }
    leftovers::reap(&base);
    let dir = base.join(format!(
        "run-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_isolation_warning_names_the_cause() {
        assert_eq!(no_isolation_warning(true, RuntimeChoice::Auto), "");
        let fallback = no_isolation_warning(false, RuntimeChoice::Auto);
        assert!(
            fallback.contains("NO ISOLATION (bubblewrap unavailable)"),
            "{fallback}"
        );
        let chosen = no_isolation_warning(false, RuntimeChoice::Host);
        assert!(
            chosen.contains("NO ISOLATION (host runtime chosen)"),
            "{chosen}"
        );
        assert!(!chosen.contains("bubblewrap"), "{chosen}");
    }
}
