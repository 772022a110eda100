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
/// Largest message handled (EDNS answers over UDP stay well below).
const MAX_MESSAGE: usize = 4096;

/// The running resolver of one sandbox; dropping it stops it.
pub struct GrantResolver {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GrantResolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start answering in network namespace `netns`, asking `upstream`.
pub fn start(
    netns: &OwnedFd,
    rules: Arc<EgressRules>,
    upstream: SocketAddr,
    firewall: Firewall,
) -> Result<GrantResolver, String> {
    let socket = socket_in(netns, LISTEN)
        .map_err(|e| format!("the sandbox's resolver could not listen on {LISTEN}: {e}"))?;
    let socket =
        Arc::new(UdpSocket::from_std(socket).map_err(|e| format!("the sandbox's resolver: {e}"))?);
    let task = tokio::spawn(serve(socket, rules, upstream, firewall));
    Ok(GrantResolver { task })
}

/// A UDP socket bound to `addr` inside network namespace `netns`. The
/// namespace is entered by a thread of its own that ends right after, so
/// no other work of the server ever runs there.
fn socket_in(netns: &OwnedFd, addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let netns = netns.as_fd().try_clone_to_owned()?;
    std::thread::Builder::new()
        .name("sandscope-netns".into())
        .spawn(move || {
            nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            let s = std::net::UdpSocket::bind(addr)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })?
        .join()
        .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}

async fn serve(
    socket: Arc<UdpSocket>,
    rules: Arc<EgressRules>,
    upstream: SocketAddr,
    firewall: Firewall,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!(error = %e, "sandbox resolver receive");
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("sandbox resolver busy; query dropped");
            continue;
        };
        let msg = buf[..n].to_vec();
        let (socket, rules, firewall) = (socket.clone(), rules.clone(), firewall.clone());
        tokio::spawn(async move {
            let reply = answer(&msg, &rules, upstream, &firewall).await;
            if let Some(reply) = reply {
                let _ = socket.send_to(&reply, peer).await;
            }
            drop(slot);
        });
    }
}

/// What to send back for `msg` (None: nothing, it was not a query).
async fn answer(
    msg: &[u8],
    rules: &EgressRules,
    upstream: SocketAddr,
    firewall: &Firewall,
) -> Option<Vec<u8>> {
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
