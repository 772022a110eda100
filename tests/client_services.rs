//! Published services and TLS passthrough through the Rust client and the
//! CLI: a server in the sandbox is reached through the URL or address the
//! server reports, its host port goes with the sandbox, and a service
//! reaches nothing but its own sandbox's port.
mod common;
mod server_support;

use common::cli::{against, run, stdout_of, text};
use common::http::try_exchange;
use common::{args, ok, until, TestServer};
use sandscope::client::{
    Client, Endpoint, SandboxRequest, ServiceEndpoint, ServiceRequest, Visibility,
};
use server_support::serve::{serve_data_dir, Serve};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

const PAGE: &str = "served-from-the-sandbox-7";
const GET: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

/// A port free on this machine's loopback, for a server in the sandbox:
/// on the host runtime sandboxes share the host's ports, and tests run at
/// once.
fn free_port() -> u16 {
    let l = ok(
        std::net::TcpListener::bind("127.0.0.1:0"),
        "probe a free port",
    );
    ok(l.local_addr(), "probe address").port()
}

/// An HTTP server on `port` in the sandbox, serving `PAGE` at `/` (made
/// by the command itself, in its working directory, whatever the runtime).
fn http_server_request(port: u16, services: Vec<ServiceRequest>) -> SandboxRequest {
    let main =
        format!("echo {PAGE} > index.html && exec python3 -m http.server {port} --bind 127.0.0.1");
    SandboxRequest {
        command: args(&["sh", "-c", &main]),
        services,
        ..Default::default()
    }
}

fn service(port: u16, name: &str, visibility: Visibility) -> ServiceRequest {
    ServiceRequest {
        port,
        name: name.into(),
        visibility,
        endpoint: None,
    }
}

/// `host:port` of an `http://host:port` URL.
fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .into()
}

/// `probe` (blocking) until it gives something, failing after 30 s.
async fn until_some<T: Send + 'static>(
    what: &str,
    probe: impl Fn() -> Option<T> + Send + Sync + 'static,
) -> T {
    let probe = Arc::new(probe);
    let start = std::time::Instant::now();
    loop {
        let p = probe.clone();
        if let Ok(Some(v)) = tokio::task::spawn_blocking(move || p()).await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page, once the server in the sandbox answers through `url`.
async fn page_through(url: &str) -> String {
    let addr = addr_of(url);
    until_some("the sandbox's HTTP server through the service", move || {
        try_exchange(&addr, GET).ok().filter(|a| !a.is_empty())
    })
    .await
}

fn refuses(addr: &str) -> bool {
    matches!(TcpStream::connect(addr), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_service_answers_through_its_url_until_the_sandbox_ends() {
    let t = TestServer::start().await;
    let port = free_port();
    let req = http_server_request(port, vec![service(port, "http", Visibility::Public)]);
    let sb = ok(t.client.run(req).await, "run");
    let d = ok(t.client.details(&sb.id).await, "details");
    let s = &d.services[0];
    assert_eq!(
        (s.name.as_str(), s.port, s.visibility.as_str()),
        ("http", i32::from(port), "public")
    );
    assert!(s.url.starts_with("http://127.0.0.1:"), "{s:?}");
    let answer = page_through(&s.url).await;
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.contains(PAGE), "{answer}");

    // The CLI shows where it is reached.
    let home = ok(tempfile::tempdir(), "home");
    let out = run(against(&t.url, home.path(), &["get", &sb.id]), "get").await;
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!("http port {port} public {}", s.url)),
        "{shown}"
    );

    ok(t.client.stop(&sb.id, Duration::ZERO).await, "stop");
    let addr = addr_of(&s.url);
    until("the host port to be released", || {
        let addr = addr.clone();
        async move { refuses(&addr) }
    })
    .await;
    // The URL goes before the port does.
    let d = ok(t.client.details(&sb.id).await, "details after stop");
    assert_eq!(d.services[0].url, "", "an ended sandbox has no URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_a_sandbox_with_a_private_service() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    let port = free_port();
    let out = run(
        against(
            &t.url,
            home.path(),
            &[
                "create",
                "--service",
                &format!("{port}:web:private"),
                "--",
                "sh",
                "-c",
                &format!("echo {PAGE} > index.html && exec python3 -m http.server {port}"),
            ],
        ),
        "create",
    )
    .await;
    let id = stdout_of(&out, "create").trim().to_string();
    let d = ok(t.client.details(&id).await, "details");
    let s = &d.services[0];
    assert_eq!(s.visibility, "private");
    assert!(s.url.starts_with("http://127.0.0.1:"), "{s:?}");
    let answer = page_through(&s.url).await;
    assert!(answer.contains(PAGE), "{answer}");
    ok(t.client.stop(&id, Duration::ZERO).await, "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixing_visibilities_is_refused() {
    let t = TestServer::start().await;
    let req = http_server_request(
        8080,
        vec![
            service(8080, "a", Visibility::Public),
            service(8081, "b", Visibility::Private),
        ],
    );
    match t.client.run(req).await {
        Err(e) => assert!(e.to_string().contains("public and private"), "{e}"),
        Ok(sb) => panic!("created {}", sb.id),
    }
}

/// A CA and a server certificate it signed for 127.0.0.1: (CA, cert PEM,
/// key PEM, cert DER).
fn pki() -> (rcgen::Certificate, String, String, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = ok(KeyPair::generate(), "ca key");
    let mut ca_params = ok(CertificateParams::new(Vec::<String>::new()), "ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ok(ca_params.self_signed(&ca_key), "ca cert");
    let key = ok(KeyPair::generate(), "server key");
    let mut params = ok(CertificateParams::new(vec!["localhost".into()]), "params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let cert = ok(params.signed_by(&key, &ca, &ca_key), "server cert");
    let der = cert.der().to_vec();
    (ca, cert.pem(), key.serialize_pem(), der)
}

const TLS_SERVER: &str = r#"
import socket, ssl, sys
open("cert.pem", "w").write(sys.argv[2])
open("key.pem", "w").write(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("cert.pem", "key.pem")
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    conn, _ = srv.accept()
    try:
        with ctx.wrap_socket(conn, server_side=True) as t:
            t.sendall(b"tls says: " + t.recv(100))
    except Exception as e:
        print("tls server:", e, flush=True)
"#;

/// One TLS exchange with `addr`, trusting only `ca`: the server's
/// certificate and its answer to "ping".
fn tls_exchange(addr: &str, ca: &rcgen::Certificate) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.der().clone())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"ping")?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer) {
        Ok(_) => {}
        // Python closes without close_notify after its last write.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    let peer = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok((peer, answer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_passthrough_reaches_the_sandboxs_own_tls_server() {
    let t = TestServer::start().await;
    let (ca, cert_pem, key_pem, cert_der) = pki();
    let port = free_port();
    let req = SandboxRequest {
        command: args(&[
            "python3",
            "-c",
            TLS_SERVER,
            &port.to_string(),
            &cert_pem,
            &key_pem,
        ]),
        services: vec![ServiceRequest {
            port,
            name: "tls".into(),
            visibility: Visibility::Public,
            endpoint: Some(ServiceEndpoint::TlsPassthrough),
        }],
        ..Default::default()
    };
    let sb = ok(t.client.run(req).await, "run");
    let d = ok(t.client.details(&sb.id).await, "details");
    let s = &d.services[0];
    assert!(s.tls_passthrough && s.url.is_empty(), "{s:?}");
    assert!(s.address.starts_with("127.0.0.1:"), "{s:?}");

    let addr = s.address.clone();
    let (peer, answer) = until_some(
        "a TLS exchange through the passthrough address",
        move || tls_exchange(&addr, &ca).ok(),
    )
    .await;
    assert_eq!(answer, b"tls says: ping");
    assert_eq!(
        peer, cert_der,
        "the certificate presented is the sandbox's own"
    );
    ok(t.client.stop(&sb.id, Duration::ZERO).await, "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_never_reaches_the_hosts_port() {
    let t = TestServer::start().await;
    if t.server.as_ref().map(|s| s.isolation()) != Some("bubblewrap") {
        // On the host runtime the sandbox shares the host's network.
        eprintln!("skipped: sandboxes are not isolated here");
        return;
    }
    // The host listens on the very port the sandbox declares; nothing
    // listens on it inside.
    let trap = ok(std::net::TcpListener::bind("127.0.0.1:0"), "trap");
    ok(trap.set_nonblocking(true), "nonblocking");
    let port = ok(trap.local_addr(), "trap addr").port();
    let req = SandboxRequest {
        services: vec![service(port, "trap", Visibility::Public)],
        ..Default::default()
    };
    let sb = ok(t.client.run(req).await, "run");
    let d = ok(t.client.details(&sb.id).await, "details");
    let addr = addr_of(&d.services[0].url);
    let answer = ok(
        tokio::task::spawn_blocking(move || try_exchange(&addr, GET)).await,
        "exchange",
    );
    // Closed (or reset) at once: a relay that reached the trap would wait
    // for it to answer, which it never does, until the read times out.
    match answer {
        Ok(a) => assert_eq!(a, "", "a connection to nothing inside is closed"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the host's listener was reached through a service: {other:?}"),
    }
    ok(t.client.stop(&sb.id, Duration::ZERO).await, "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_public_services_on_its_publish_address_and_private_ones_on_loopback() {
    // 127.0.0.2 is loopback too on Linux, with no setting to change.
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(
        std::path::Path::new(&data),
        &["--publish-addr", "127.0.0.2"],
    );
    server_support::wait_until("serve to name its publish address", || {
        serve
            .stdout()
            .contains("public services published on: 127.0.0.2")
    })
    .await;
    let client = ok(
        Client::connect(Endpoint::new(serve.url.clone(), Some(common::TOKEN.into()))).await,
        "connect",
    );
    for (visibility, host) in [
        (Visibility::Public, "http://127.0.0.2:"),
        (Visibility::Private, "http://127.0.0.1:"),
    ] {
        let port = free_port();
        let req = http_server_request(port, vec![service(port, "http", visibility)]);
        let sb = ok(client.run(req).await, "run");
        let d = ok(client.details(&sb.id).await, "details");
        let url = &d.services[0].url;
        assert!(url.starts_with(host), "{visibility:?}: {url}");
        let answer = page_through(url).await;
        assert!(answer.contains(PAGE), "{answer}");
        ok(client.stop(&sb.id, Duration::ZERO).await, "stop");
    }
}

#[test]
fn serve_refuses_a_publish_address_it_cannot_listen_on() {
    let (_dir, data) = serve_data_dir();
    // 192.0.2.1 (a documentation address) is none of this machine's.
    let mut child = ok(
        Serve::command(
            std::path::Path::new(&data),
            &["--publish-addr", "192.0.2.1"],
        )
        .spawn(),
        "serve starts",
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = ok(child.try_wait(), "wait for serve") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("serve started with a publish address it cannot listen on");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(!status.success());
    assert!(
        stderr.contains("--publish-addr 192.0.2.1: services cannot be published there"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_through_a_service_end_with_the_sandbox() {
    let t = TestServer::start().await;
    let port = free_port();
    let req = http_server_request(port, vec![service(port, "http", Visibility::Public)]);
    let sb = ok(t.client.run(req).await, "run");
    let d = ok(t.client.details(&sb.id).await, "details");
    let addr = addr_of(&d.services[0].url);
    page_through(&d.services[0].url).await;
    // Twenty connections at once, each relayed and left open mid-request.
    let mut open = Vec::new();
    for _ in 0..20 {
        let mut c = ok(TcpStream::connect(&addr), "connect");
        ok(c.write_all(b"GET / HTTP/1.0\r\n"), "half a request");
        ok(c.set_read_timeout(Some(Duration::from_secs(30))), "timeout");
        open.push(c);
    }
    ok(t.client.stop(&sb.id, Duration::ZERO).await, "stop");
    let ended = tokio::task::spawn_blocking(move || {
        open.into_iter()
            .map(|mut c| {
                let mut rest = Vec::new();
                match c.read_to_end(&mut rest) {
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                }
            })
            .filter(|closed| *closed)
            .count()
    })
    .await;
    assert_eq!(ok(ended, "readers"), 20, "every connection was closed");
}
