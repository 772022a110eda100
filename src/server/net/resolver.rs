//! The resolver of a sandbox with host-name grants. It listens on the
//! sandbox's own loopback (its `resolv.conf` names it), answers only names
//! its grants allow (others get NXDOMAIN, at once), asks the server's
//! upstream resolver for those, and before handing an answer on lets the
//! sandbox reach the addresses in it on the HTTPS port. Names are never
//! resolved for the sandbox through any other way: user-mode networking's
//! own resolver is behind the filter like every other address.
//!
//! The socket is made inside the sandbox's network namespace; the lookups
//! upstream go out from the server's, which is why only granted names are
//! ever sent there.
use super::dns::{self, Rcode};
use super::firewall::Firewall;
use super::policy::EgressRules;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

/// Where the sandbox finds it.
pub const LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)), 53);
/// What the sandbox's resolv.conf says.
pub const RESOLV_CONF: &str = "nameserver 127.0.0.53\noptions edns0\n";
/// How long an upstream lookup may take before the sandbox gets SERVFAIL.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// Lookups in flight at once; more are dropped (the stub resolver retries).
const IN_FLIGHT: usize = 64;
/// Largest message over UDP (EDNS answers stay well below).
const MAX_MESSAGE: usize = 4096;
/// How long a TCP client may stay connected without asking anything.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The running resolver of one sandbox; dropping it stops it.
pub struct GrantResolver {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for GrantResolver {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What every query of one sandbox is answered with.
struct Answerer {
    rules: Arc<EgressRules>,
    upstream: SocketAddr,
    firewall: Firewall,
    /// Lookups in flight, over UDP and TCP together.
    slots: Arc<Semaphore>,
}

/// Start answering in network namespace `netns`, asking `upstream`.
pub fn start(
    netns: &OwnedFd,
    rules: Arc<EgressRules>,
    upstream: SocketAddr,
    firewall: Firewall,
) -> Result<GrantResolver, String> {
    let (udp, tcp) = sockets_in(netns, LISTEN)
        .map_err(|e| format!("the sandbox's resolver could not listen on {LISTEN}: {e}"))?;
    let fail = |e: std::io::Error| format!("the sandbox's resolver: {e}");
    let udp = Arc::new(UdpSocket::from_std(udp).map_err(fail)?);
    let tcp = tokio::net::TcpListener::from_std(tcp).map_err(fail)?;
    let answerer = Arc::new(Answerer {
        rules,
        upstream,
        firewall,
        slots: Arc::new(Semaphore::new(IN_FLIGHT)),
    });
    Ok(GrantResolver {
        tasks: vec![
            tokio::spawn(serve_udp(udp, answerer.clone())),
            tokio::spawn(serve_tcp(tcp, answerer)),
        ],
    })
}

/// UDP and TCP sockets bound to `addr` inside network namespace `netns`
/// (TCP for answers too large for a datagram). The namespace is entered
/// by a thread of its own that ends right after, so no other work of the
/// server ever runs there.
fn sockets_in(
    netns: &OwnedFd,
    addr: SocketAddr,
) -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let netns = netns.as_fd().try_clone_to_owned()?;
    std::thread::Builder::new()
        .name("sandscope-netns".into())
        .spawn(move || {
            nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            let udp = std::net::UdpSocket::bind(addr)?;
            udp.set_nonblocking(true)?;
            let tcp = std::net::TcpListener::bind(addr)?;
            tcp.set_nonblocking(true)?;
            Ok((udp, tcp))
        })?
        .join()
        .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}

async fn serve_udp(socket: Arc<UdpSocket>, answerer: Arc<Answerer>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!(error = %e, "sandbox resolver receive");
                continue;
            }
        };
        let Ok(slot) = answerer.slots.clone().try_acquire_owned() else {
            tracing::debug!("sandbox resolver busy; query dropped");
            continue;
        };
        let msg = buf[..n].to_vec();
        let (socket, answerer) = (socket.clone(), answerer.clone());
        tokio::spawn(async move {
            if let Some(reply) = answerer.answer(&msg).await {
                let _ = socket.send_to(&reply, peer).await;
            }
            drop(slot);
        });
    }
}

/// DNS over TCP: each message behind its two-byte length, one at a time
/// per connection; a connection is closed when it idles or when the
/// resolver is busy.
async fn serve_tcp(listener: tokio::net::TcpListener, answerer: Arc<Answerer>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            // Out of descriptors, say: let the moment pass.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = answerer.slots.clone().try_acquire_owned() else {
            continue;
        };
        let answerer = answerer.clone();
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                match tokio::time::timeout(TCP_IDLE, conn.read_exact(&mut len)).await {
                    Ok(Ok(_)) => {}
                    _ => break,
                }
                let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
                if conn.read_exact(&mut msg).await.is_err() {
                    break;
                }
                let Some(reply) = answerer.answer(&msg).await else {
                    break;
                };
                let Ok(n) = u16::try_from(reply.len()) else {
                    break;
                };
                let mut out = n.to_be_bytes().to_vec();
                out.extend_from_slice(&reply);
                if conn.write_all(&out).await.is_err() {
                    break;
                }
            }
            drop(slot);
        });
    }
}

impl Answerer {
    /// What to send back for `msg` (None: nothing, it was not a query).
    async fn answer(&self, msg: &[u8]) -> Option<Vec<u8>> {
        let (rules, upstream, firewall) = (&self.rules, self.upstream, &self.firewall);
        let query = match dns::parse_query(msg) {
            Ok(q) => q,
            Err(dns::DnsError::NotAQuery) => return None,
            Err(_) => return dns::id_of(msg).map(dns::format_error),
        };
        if !rules.may_resolve(&query.name) {
            tracing::debug!(name = %query.name, "name not granted");
            return Some(dns::refusal(msg, &query, Rcode::NxDomain));
        }
        let reply = match ask(upstream, msg).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(upstream = %upstream, error = %e, "upstream resolver");
                return Some(dns::refusal(msg, &query, Rcode::ServFail));
            }
        };
        let addrs = match dns::answer_addresses(&reply, query.id) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(upstream = %upstream, error = %e, "upstream answer unreadable");
                return Some(dns::refusal(msg, &query, Rcode::ServFail));
            }
        };
        // The addresses are open before the sandbox learns them, so its first
        // connection already gets through.
        if let Err(e) = firewall.allow_https(&addrs).await {
            tracing::warn!(error = %e, "granting resolved addresses");
            return Some(dns::refusal(msg, &query, Rcode::ServFail));
        }
        Some(reply)
    }
}

/// One exchange with the upstream resolver, from a fresh port of the
/// server's, taking only what comes from that resolver.
async fn ask(upstream: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(local).await?;
    s.connect(upstream).await?;
    s.send(msg).await?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    let n = tokio::time::timeout(UPSTREAM_TIMEOUT, s.recv(&mut buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    buf.truncate(n);
    Ok(buf)
}

/// The first name server of the host's resolv.conf, for `serve` to use
/// when it is given none.
pub fn host_upstream() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
}
