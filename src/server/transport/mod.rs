//! How connections reach the gRPC server: a TCP listener (TLS when
//! configured) and a Unix socket, each behind an accept loop that survives
//! running out of descriptors, a cap on connections served at once, and a
//! deadline for a connection's first request.
mod accept;
mod conn;
mod refuse;
mod tls;
mod unix;

pub use conn::{Conn, ConnInfo, MarkServed, MarkServedLayer, Peer};
pub use tls::{TlsError, TlsFiles};
pub use unix::{SocketError, SocketFile};

use accept::Burst;
use conn::{Deadline, Io};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Connections served at once on each listener, unless the open-file limit
/// calls for fewer.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Time a connection has to send its first request (for TLS, the handshake
/// included).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// An HTTP/2 ping goes to a peer silent for this long...
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// ...which is dropped if it does not answer within this.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Connections accepted but not yet taken by the server's loop.
const QUEUE: usize = 64;
/// Connections the kernel completes before the server accepts them. The
/// usual 128 overflows in a burst of new connections, and every dropped
/// handshake costs its client a retransmit a second later.
pub(super) const BACKLOG: u32 = 1024;

/// What a peer may hold of the server, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once on the TCP listener, and separately on
    /// the Unix socket, so that a flood over TCP cannot lock local clients
    /// out. Requests on a connection over the cap are answered UNAVAILABLE
    /// ("too many connections"), then the connection is closed; over TLS it
    /// is closed at once. `None`:
    /// [`DEFAULT_MAX_CONNECTIONS`], or a quarter of the open-file limit when
    /// that is lower, so sandboxes' pipes still find descriptors.
    pub max_connections: Option<usize>,
    /// A connection that has not sent a first request by then is closed.
    pub handshake_timeout: Duration,
    /// HTTP/2 keepalive pings; `None` sends none.
    pub keepalive_interval: Option<Duration>,
    pub keepalive_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            keepalive_interval: Some(DEFAULT_KEEPALIVE_INTERVAL),
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
        }
    }
}

impl ConnectionLimits {
    /// The cap in force: the configured one, else the default for this
    /// process's open-file limit.
    pub fn max_connections(&self) -> usize {
        self.max_connections.unwrap_or_else(|| {
            let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024);
            let quarter = usize::try_from(soft / 4).unwrap_or(usize::MAX);
            DEFAULT_MAX_CONNECTIONS.min(quarter).max(16)
        })
    }
}

/// The bound listeners, not yet accepting.
pub(crate) struct Listeners {
    tcp: TcpListener,
    tcp_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    unix: Option<(UnixListener, SocketFile)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {addr}")]
    Tcp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

impl Listeners {
    /// Loads the TLS files first, so a bad certificate fails before
    /// anything is bound.
    pub(crate) async fn bind(
        listen: SocketAddr,
        socket: Option<&Path>,
        tls: Option<&TlsFiles>,
    ) -> Result<Listeners, ListenError> {
        let tls = tls.map(tls::acceptor).transpose()?;
        let tcp_err = |source| ListenError::Tcp {
            addr: listen,
            source,
        };
        let tcp = bind_tcp(listen).map_err(tcp_err)?;
        let tcp_addr = tcp.local_addr().map_err(tcp_err)?;
        let unix = match socket {
            Some(path) => Some(unix::bind(path).await?),
            None => None,
        };
        Ok(Listeners {
            tcp,
            tcp_addr,
            tls,
            unix,
        })
    }

    pub(crate) fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    pub(crate) fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Starts accepting. The socket file is handed back to be removed when
    /// the server stops.
    pub(crate) fn accept(self, limits: &ConnectionLimits) -> (Incoming, Option<SocketFile>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let max = limits.max_connections();
        let timeout = limits.handshake_timeout;
        let mut tasks = vec![AbortOnDrop(tokio::spawn(accept_tcp(
            self.tcp,
            self.tls,
            Gate::new("tcp", max),
            timeout,
            tx.clone(),
        )))];
        let socket = self.unix.map(|(listener, file)| {
            tasks.push(AbortOnDrop(tokio::spawn(accept_unix(
                listener,
                Gate::new("unix", max),
                timeout,
                tx,
            ))));
            file
        });
        tracing::info!(
            max_connections = max,
            handshake_timeout_ms = timeout.as_millis() as u64,
            "accepting connections"
        );
        (Incoming { rx, _tasks: tasks }, socket)
    }
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std does: a restarted server may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The stream of connections handed to tonic. Dropping it stops the
/// accept loops.
pub(crate) struct Incoming {
    rx: mpsc::Receiver<Conn>,
    _tasks: Vec<AbortOnDrop>,
}

impl tokio_stream::Stream for Incoming {
    type Item = Result<Conn, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|c| c.map(Ok))
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One listener's share of the limits: its slots, its refusals, its logs.
struct Gate {
    listener: &'static str,
    max: usize,
    slots: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    reason: Arc<str>,
    errors: Burst,
    full: Burst,
}

impl Gate {
    fn new(listener: &'static str, max: usize) -> Gate {
        let reason =
            format!("sandscope server: too many connections (limit {max}); try again later");
        Gate {
            listener,
            max,
            slots: Arc::new(Semaphore::new(max)),
            refusing: Arc::new(Semaphore::new(refuse::MAX_REFUSING)),
            reason: reason.into(),
            errors: Burst::new(listener, "accepting connections again"),
            full: Burst::new(listener, "connections below the limit again"),
        }
    }

    async fn failed(&mut self, e: std::io::Error) {
        if let Some(pause) = accept::on_error(&mut self.errors, &e) {
            tokio::time::sleep(pause).await;
        }
    }

    /// A slot for a connection just accepted, or `None` when all are taken
    /// (the connection is then to be refused).
    fn admit(&mut self) -> Option<OwnedSemaphorePermit> {
        self.errors.end();
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                self.full.end();
                Some(slot)
            }
            Err(_) => {
                if self.full.hit() {
                    tracing::warn!(
                        listener = self.listener,
                        limit = self.max,
                        "connection limit reached; refusing new connections until some close"
                    );
                }
                None
            }
        }
    }
}

async fn accept_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut gate: Gate,
    timeout: Duration,
    tx: mpsc::Sender<Conn>,
) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                gate.failed(e).await;
                continue;
            }
        };
        let Some(slot) = gate.admit() else {
            // Over TLS a refusal would cost a handshake; just close.
            if tls.is_none() {
                refuse::refuse(stream, gate.reason.clone(), &gate.refusing);
            }
            continue;
        };
        // Small HTTP/2 frames (window updates, exec acks) must not wait for
        // Nagle: without TCP_NODELAY a stdin stream crawls at a few MB/s.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (io, served) = Deadline::new(stream, timeout);
        let peer = Peer::Tcp(addr);
        match &tls {
            None => {
                if tx
                    .send(Conn::new(Io::Tcp(io), peer, served, slot))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(io);
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok(s)) => {
                            let _ = tx
                                .send(Conn::new(Io::Tls(Box::new(s)), peer, served, slot))
                                .await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

async fn accept_unix(
    listener: UnixListener,
    mut gate: Gate,
    timeout: Duration,
    tx: mpsc::Sender<Conn>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                gate.failed(e).await;
                continue;
            }
        };
        let Some(slot) = gate.admit() else {
            refuse::refuse(stream, gate.reason.clone(), &gate.refusing);
            continue;
        };
        let (io, served) = Deadline::new(stream, timeout);
        if tx
            .send(Conn::new(Io::Unix(io), Peer::Unix, served, slot))
            .await
            .is_err()
        {
            return;
        }
    }
}
