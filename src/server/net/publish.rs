//! Published services: each TCP service a sandbox declares gets a host
//! port of its own, bound when the sandbox is created (so Create's answer
//! already carries its URL or address), and every connection to it is
//! relayed to that port on the sandbox's own loopback. The connection
//! inside is opened by a child that has joined the sandbox as its user
//! (see `runtime::child::connect`): the server never opens anything in a
//! sandbox's network with its own rights, and a sandbox cannot steer a
//! relay anywhere but its own port. The ports are released when the
//! sandbox ends.
//!
//! What the visibilities mean here: PUBLIC services are published on the
//! server's publish address (`serve --publish-addr`, loopback unless told
//! otherwise); PRIVATE and unspecified ones on loopback only, whatever the
//! publish address. CUSTOM ones are echoed without a port ("the fleet
//! assigns reachability": here, nothing does).
use super::relay;
use crate::proto::v1 as pb;
use crate::server::registry::{is_terminal, Entry};
use crate::server::runtime::Runtime;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The request timeout an HTTPS endpoint reports when it asked for none.
const DEFAULT_REQUEST_TIMEOUT: i32 = 15;
/// Connections relayed into one sandbox at once; more wait in the backlog.
const MAX_CONNECTIONS: usize = 512;

/// Where services are published.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The address PUBLIC services listen on.
    pub public: IpAddr,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            public: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

/// A service shape this server does not publish, with the index of the
/// service in the spec where one is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// PUBLIC and PRIVATE in one sandbox (refused by the hosted API too).
    MixedVisibility,
    ShareToken(usize),
    /// UDP or SCTP.
    Protocol(usize),
    Port(usize),
    DuplicatePort(usize),
    /// An endpoint on a service that is not PUBLIC.
    EndpointVisibility(usize),
    /// A TLS passthrough endpoint with an auth mode or a request timeout.
    PassthroughOptions(usize),
    RequestTimeout(usize),
}

impl Refusal {
    /// The spec field at fault and what is wrong with it.
    pub fn field_and_reason(&self) -> (String, String) {
        let f = |i: &usize, what: &str| format!("spec.services[{i}]{what}");
        match self {
            Refusal::MixedVisibility => (
                "spec.services".into(),
                "services with both public and private visibility are not supported".into(),
            ),
            Refusal::ShareToken(i) => (
                f(i, ".endpoint.auth"),
                "share-token endpoints are not supported".into(),
            ),
            Refusal::Protocol(i) => (
                f(i, ".protocol"),
                "only TCP services are published here (UDP and SCTP are not)".into(),
            ),
            Refusal::Port(i) => (f(i, ".port"), "must be between 1 and 65535".into()),
            Refusal::DuplicatePort(i) => (
                f(i, ".port"),
                "another service of this sandbox has the same port".into(),
            ),
            Refusal::EndpointVisibility(i) => (
                f(i, ".visibility"),
                "must be PUBLIC when an endpoint is set".into(),
            ),
            Refusal::PassthroughOptions(i) => (
                f(i, ".endpoint"),
                "a TLS passthrough endpoint takes no auth and no request timeout".into(),
            ),
            Refusal::RequestTimeout(i) => (
                f(i, ".endpoint.request_timeout_seconds"),
                "must be 0 or between 15 and 900".into(),
            ),
        }
    }
}

fn is(value: i32, v: pb::Visibility) -> bool {
    value == v as i32
}

/// Check the declared services: the shapes the hosted API refuses, and
/// those this server cannot publish.
pub fn check(services: &[pb::Service]) -> Result<(), Refusal> {
    let vis = |v| services.iter().any(|s| is(s.visibility, v));
    if vis(pb::Visibility::Public) && vis(pb::Visibility::Private) {
        return Err(Refusal::MixedVisibility);
    }
    for (i, s) in services.iter().enumerate() {
        if !(1..=65535).contains(&s.port) {
            return Err(Refusal::Port(i));
        }
        if services[..i].iter().any(|o| o.port == s.port) {
            return Err(Refusal::DuplicatePort(i));
        }
        let tcp = s.protocol == pb::ServiceProtocol::Unspecified as i32
            || s.protocol == pb::ServiceProtocol::Tcp as i32;
        if !tcp {
            return Err(Refusal::Protocol(i));
        }
        let Some(ep) = &s.endpoint else { continue };
        if ep.auth == pb::EndpointAuth::ShareToken as i32 {
            return Err(Refusal::ShareToken(i));
        }
        if !is(s.visibility, pb::Visibility::Public) {
            return Err(Refusal::EndpointVisibility(i));
        }
        if ep.kind == pb::EndpointKind::TlsPassthrough as i32 {
            if ep.auth != 0 || ep.request_timeout_seconds != 0 {
                return Err(Refusal::PassthroughOptions(i));
            }
        } else if ep.request_timeout_seconds != 0
            && !(15..=900).contains(&ep.request_timeout_seconds)
        {
            return Err(Refusal::RequestTimeout(i));
        }
    }
    Ok(())
}

/// One service's host port, bound and not yet serving.
struct Port {
    listener: TcpListener,
    /// The port inside the sandbox.
    target: u16,
}

/// The host ports of one sandbox's services, bound at create; the status
/// lines report them. Dropped, the ports are free again.
pub struct Publication {
    ports: Vec<Port>,
    status: Vec<pb::ServiceStatus>,
}

impl std::fmt::Debug for Publication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publication")
            .field("ports", &self.ports.len())
            .finish()
    }
}

/// `host:port` as it goes into a URL or an address (IPv6 in brackets);
/// an unspecified address is reported as this machine's name.
fn host_port(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        return format!("{host}:{}", addr.port());
    }
    addr.to_string()
}

/// Bind a host port for each publishable service of `services` (already
/// [`check`]ed) and describe them as the status reports them.
pub async fn bind(
    config: &PublishConfig,
    services: &[pb::Service],
) -> std::io::Result<Publication> {
    let mut ports = Vec::new();
    let mut status = Vec::new();
    for s in services {
        let mut line = pb::ServiceStatus {
            port: s.port,
            name: s.name.clone(),
            protocol: s.protocol,
            visibility: s.visibility,
            endpoint: None,
            url: String::new(),
        };
        let ip = match pb::Visibility::try_from(s.visibility) {
            Ok(pb::Visibility::Public) => Some(config.public),
            Ok(pb::Visibility::Private | pb::Visibility::Unspecified) => {
                Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            _ => None,
        };
        let Some(ip) = ip else {
            line.endpoint = s.endpoint.as_ref().map(|e| endpoint_echo(e, String::new()));
            status.push(line);
            continue;
        };
        let listener = TcpListener::bind((ip, 0)).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("publishing port {} on {ip}: {e}", s.port))
        })?;
        let at = host_port(listener.local_addr()?);
        match &s.endpoint {
            Some(e) if e.kind == pb::EndpointKind::TlsPassthrough as i32 => {
                // The sandbox's TLS server answers on this port itself.
                let mut ep = endpoint_echo(e, String::new());
                ep.address = at;
                line.endpoint = Some(ep);
            }
            Some(e) => {
                // No TLS is terminated here: the URL says what it is.
                let url = format!("http://{at}");
                line.endpoint = Some(endpoint_echo(e, url.clone()));
                line.url = url;
            }
            None => line.url = format!("http://{at}"),
        }
        ports.push(Port {
            listener,
            target: s.port as u16,
        });
        status.push(line);
    }
    Ok(Publication { ports, status })
}

fn endpoint_echo(e: &pb::EndpointSpec, url: String) -> pb::EndpointStatus {
    let https = e.kind != pb::EndpointKind::TlsPassthrough as i32;
    pb::EndpointStatus {
        kind: e.kind,
        auth: e.auth,
        url,
        request_timeout_seconds: match e.request_timeout_seconds {
            0 if https => DEFAULT_REQUEST_TIMEOUT,
            t => t,
        },
        address: String::new(),
    }
}

/// What a sandbox's status says of its services once their ports are
/// gone: the services, without URLs or addresses.
pub fn withdraw(services: &mut [pb::ServiceStatus]) {
    for s in services {
        s.url.clear();
        if let Some(ep) = &mut s.endpoint {
            ep.url.clear();
            ep.address.clear();
        }
    }
}

impl Publication {
    /// The services as the status reports them.
    pub fn status(&self) -> Vec<pb::ServiceStatus> {
        self.status.clone()
    }

    /// Relay connections to the sandbox of `entry` until the returned
    /// guard is dropped, which closes the ports and every connection.
    pub fn serve(self, runtime: Arc<dyn Runtime>, entry: Arc<Entry>) -> Serving {
        let mut tasks = JoinSet::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        for port in self.ports {
            let (runtime, entry, limit) = (runtime.clone(), entry.clone(), limit.clone());
            tasks.spawn(accept_loop(port, runtime, entry, limit));
        }
        Serving { _tasks: tasks }
    }
}

/// Dropping it stops every relay of one sandbox and frees its ports.
pub struct Serving {
    _tasks: JoinSet<()>,
}

async fn accept_loop(
    port: Port,
    runtime: Arc<dyn Runtime>,
    entry: Arc<Entry>,
    limit: Arc<tokio::sync::Semaphore>,
) {
    // Dropping the set ends the connections with the loop.
    let mut conns = JoinSet::new();
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = port.listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (client, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: wait a moment, go on.
                tracing::warn!(sandbox = %entry.id, error = %e, "accepting a service connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if is_terminal(entry.state()) {
            return;
        }
        let (runtime, entry) = (runtime.clone(), entry.clone());
        let target = port.target;
        conns.spawn(async move {
            let _permit = permit;
            if let Err(e) = relay::relay(client, runtime.as_ref(), &entry, target).await {
                tracing::debug!(sandbox = %entry.id, %peer, port = target, error = %e, "service connection not relayed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(port: i32, vis: pb::Visibility) -> pb::Service {
        pb::Service {
            port,
            name: format!("s{port}"),
            visibility: vis as i32,
            ..Default::default()
        }
    }

    #[test]
    fn refused_shapes() {
        use pb::Visibility::*;
        assert_eq!(
            check(&[svc(80, Public), svc(81, Private)]),
            Err(Refusal::MixedVisibility)
        );
        assert_eq!(check(&[svc(0, Public)]), Err(Refusal::Port(0)));
        assert_eq!(
            check(&[svc(80, Public), svc(80, Public)]),
            Err(Refusal::DuplicatePort(1))
        );
        let mut udp = svc(53, Private);
        udp.protocol = pb::ServiceProtocol::Udp as i32;
        assert_eq!(check(&[udp]), Err(Refusal::Protocol(0)));
        let mut tls = svc(443, Private);
        tls.endpoint = Some(pb::EndpointSpec {
            kind: pb::EndpointKind::TlsPassthrough as i32,
            ..Default::default()
        });
        assert_eq!(
            check(std::slice::from_ref(&tls)),
            Err(Refusal::EndpointVisibility(0))
        );
        tls.visibility = Public as i32;
        assert_eq!(check(std::slice::from_ref(&tls)), Ok(()));
        tls.endpoint.as_mut().unwrap().request_timeout_seconds = 30;
        assert_eq!(check(&[tls]), Err(Refusal::PassthroughOptions(0)));
        assert_eq!(check(&[svc(80, Public), svc(81, Custom)]), Ok(()));
    }

    #[tokio::test]
    async fn each_kind_reports_where_it_is_published() {
        use pb::Visibility::*;
        let mut https = svc(8443, Public);
        https.endpoint = Some(pb::EndpointSpec {
            kind: pb::EndpointKind::Https as i32,
            auth: pb::EndpointAuth::Open as i32,
            request_timeout_seconds: 0,
        });
        let mut tls = svc(443, Public);
        tls.endpoint = Some(pb::EndpointSpec {
            kind: pb::EndpointKind::TlsPassthrough as i32,
            ..Default::default()
        });
        let p = bind(
            &PublishConfig::default(),
            &[svc(80, Public), https, tls, svc(9, Custom)],
        )
        .await
        .unwrap();
        let st = p.status();
        assert!(st[0].url.starts_with("http://127.0.0.1:"), "{:?}", st[0]);
        assert!(st[0].endpoint.is_none());
        let ep = st[1].endpoint.as_ref().unwrap();
        assert!(ep.url.starts_with("http://127.0.0.1:"));
        assert_eq!(ep.request_timeout_seconds, DEFAULT_REQUEST_TIMEOUT);
        let ep = st[2].endpoint.as_ref().unwrap();
        assert!(ep.address.starts_with("127.0.0.1:") && ep.url.is_empty());
        assert!(st[2].url.is_empty());
        assert!(st[3].url.is_empty() && st[3].endpoint.is_none());
        assert_eq!(p.ports.len(), 3);
        let mut st = st;
        withdraw(&mut st);
        assert!(st[0].url.is_empty());
        assert!(st[2].endpoint.as_ref().unwrap().address.is_empty());
    }
}
