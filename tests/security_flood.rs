//! A server that cannot be knocked over: idle connections by the thousand,
//! a descriptor limit far below them, connections that never send a
//! request. `sandscope serve` runs as a child process; everything stays on
//! loopback and every loop is bounded.
mod common;
mod server_support;

use common::{ok, TOKEN};
use sandscope::client::{Client, Endpoint, Error, ListQuery};
use server_support::serve::{serve_data_dir, Serve};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tests here each want most of the test process's descriptors, or a
/// quiet machine to time things: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The client preface of HTTP/2, as any gRPC client starts.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Up to `n` TCP connections that send nothing; stops early at the first
/// failure (which is returned). They come from several loopback addresses:
/// past about 14,000 connections from one address, picking a free local
/// port makes each connect slower than the server.
async fn open_idle(addr: &str, n: usize) -> (Vec<tokio::net::TcpStream>, Option<std::io::Error>) {
    let to: std::net::SocketAddr = ok(addr.parse(), "server address");
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let from = std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8);
        let connected = async {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.bind((from, 0).into())?;
            s.connect(to).await
        };
        match connected.await {
            Ok(s) => held.push(s),
            Err(e) => return (held, Some(e)),
        }
    }
    (held, None)
}

/// Reads until the peer closes (EOF or reset) or `limit` passes; returns
/// what arrived and whether the peer closed.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let until = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// One ListSandboxes through the client module, bounded in time.
async fn list(url: &str) -> Result<(), String> {
    let attempt = async {
        let c = Client::connect(Endpoint::new(url.to_string(), Some(TOKEN.into()))).await?;
        c.list(&ListQuery::default()).await.map(|_| ())
    };
    match tokio::time::timeout(Duration::from_secs(20), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 20 s".into()),
    }
}

/// Retries [`list`] until it works; returns how long that took.
async fn list_within(url: &str, limit: Duration, what: &str) -> Duration {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < limit {
        match list(url).await {
            Ok(()) => return start.elapsed(),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: the server did not serve a list within {limit:?}; last error: {last}");
}

fn socket_url(data: &str) -> String {
    format!("unix:{}", Path::new(data).join("server.sock").display())
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_request_are_closed_at_the_deadline() {
    let _one = SERIAL.lock().await;
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(
        Path::new(&data),
        &["--runtime", "host", "--handshake-timeout", "1s"],
    );
    let addr = addr_of(&serve.url);
    let deadline = Duration::from_secs(1);

    let mut silent = ok(TcpStream::connect(&addr), "connect");
    let mut half = ok(TcpStream::connect(&addr), "connect");
    ok(half.write_all(&PREFACE[..10]), "half a preface");
    let mut preface_only = ok(TcpStream::connect(&addr), "connect");
    ok(preface_only.write_all(PREFACE), "preface");
    // SETTINGS, but no request.
    ok(
        preface_only.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]),
        "settings",
    );
    let start = Instant::now();
    for (name, s) in [
        ("silent", &mut silent),
        ("half a preface", &mut half),
        ("preface and settings", &mut preface_only),
    ] {
        let (_, closed) = read_until_closed(s, Duration::from_secs(5));
        let waited = start.elapsed();
        assert!(closed, "{name}: still open after {waited:?}");
        assert!(
            waited >= deadline.mul_f32(0.9) && waited < Duration::from_secs(4),
            "{name}: closed after {waited:?}, not at the {deadline:?} deadline"
        );
    }

    // The socket has the same deadline.
    let mut unix = ok(
        std::os::unix::net::UnixStream::connect(Path::new(&data).join("server.sock")),
        "connect to the socket",
    );
    let start = Instant::now();
    ok(
        unix.set_read_timeout(Some(Duration::from_secs(5))),
        "timeout",
    );
    let mut buf = [0u8; 64];
    let closed = loop {
        match unix.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    assert!(
        closed && start.elapsed() >= deadline.mul_f32(0.9),
        "{:?}",
        start.elapsed()
    );

    // A connection that made a request stays past the deadline.
    assert_one_connection_survives(&serve.url, deadline * 2 + Duration::from_millis(500)).await;
}

/// A list, a pause of `idle`, a second list: both over the same connection,
/// else the server dropped it.
async fn assert_one_connection_survives(url: &str, idle: Duration) {
    let connects = Arc::new(AtomicUsize::new(0));
    let counted = connects.clone();
    let tcp_addr = addr_of(url);
    let endpoint = ok(
        tonic::transport::Endpoint::from_shared(url.to_string()),
        "endpoint",
    );
    let channel = ok(
        endpoint
            .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                counted.fetch_add(1, Ordering::SeqCst);
                let a = tcp_addr.clone();
                async move {
                    let s = tokio::net::TcpStream::connect(a).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                }
            }))
            .await,
        "channel",
    );
    let mut rpc =
        sandscope::proto::v1::sandbox_service_client::SandboxServiceClient::with_interceptor(
            channel,
            server_support::Bearer(Some(TOKEN.into())),
        );
    let list = server_support::pb::ListSandboxesRequest::default;
    ok(rpc.list_sandboxes(list()).await, "first call");
    tokio::time::sleep(idle).await;
    ok(rpc.list_sandboxes(list()).await, "second call");
    assert_eq!(
        connects.load(Ordering::SeqCst),
        1,
        "the served connection was dropped"
    );
}

/// HTTP/2 frame: length, type, flags, stream, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A whole gRPC health check as raw HTTP/2 (HPACK literals, no Huffman).
fn raw_health_check() -> Vec<u8> {
    let mut headers = vec![0x83, 0x86]; // :method POST, :scheme http
    for (index, value) in [(4u8, "/grpc.health.v1.Health/Check"), (1, "localhost")] {
        headers.extend_from_slice(&[index, value.len() as u8]);
        headers.extend_from_slice(value.as_bytes());
    }
    // content-type is static entry 31: 15 plus a continuation byte of 16.
    headers.extend_from_slice(&[0x0f, 0x10, 16]);
    headers.extend_from_slice(b"application/grpc");
    headers.extend_from_slice(&[0x00, 2]);
    headers.extend_from_slice(b"te");
    headers.push(8);
    headers.extend_from_slice(b"trailers");
    let mut out = PREFACE.to_vec();
    out.extend(frame(4, 0, 0, &[]));
    out.extend(frame(1, 0x4, 1, &headers));
    out.extend(frame(0, 0x1, 1, &[0, 0, 0, 0, 0]));
    out
}

/// The types of the whole frames in `bytes`.
fn frame_types(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        if rest.len() < 9 + len {
            break;
        }
        types.push(rest[3]);
        rest = &rest[9 + len..];
    }
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_keepalive_pings_drop_a_dead_peer() {
    let _one = SERIAL.lock().await;
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(
        Path::new(&data),
        &[
            "--runtime",
            "host",
            "--keepalive-interval",
            "1s",
            "--keepalive-timeout",
            "1s",
        ],
    );
    // A peer that makes a request, then never answers again.
    let mut dead = ok(TcpStream::connect(addr_of(&serve.url)), "connect");
    ok(dead.write_all(&raw_health_check()), "health check");
    let start = Instant::now();
    let (bytes, closed) = read_until_closed(&mut dead, Duration::from_secs(8));
    let types = frame_types(&bytes);
    assert!(
        types.contains(&1),
        "the request was not answered: frames {types:?}"
    );
    assert!(types.contains(&6), "no ping came: frames {types:?}");
    assert!(
        closed,
        "a peer that does not answer pings is kept: frames {types:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // A live client answers the pings and keeps its connection.
    assert_one_connection_survives(&serve.url, Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_with_a_reason() {
    let _one = SERIAL.lock().await;
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(
        Path::new(&data),
        &[
            "--runtime",
            "host",
            "--max-connections",
            "4",
            "--handshake-timeout",
            "30s",
        ],
    );
    let addr = addr_of(&serve.url);
    let (held, failed) = open_idle(&addr, 4).await;
    assert!(failed.is_none(), "{failed:?}");

    // A connection over the cap that asks nothing is closed soon.
    let mut over = ok(TcpStream::connect(&addr), "connect");
    ok(over.write_all(PREFACE), "preface");
    let start = Instant::now();
    let (_, closed) = read_until_closed(&mut over, Duration::from_secs(5));
    assert!(closed, "the refused connection stays open");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    // A call over the cap fails UNAVAILABLE with the reason, through the
    // client module and through the CLI.
    for _ in 0..3 {
        let err = match Client::connect(Endpoint::new(serve.url.clone(), Some(TOKEN.into()))).await
        {
            Ok(c) => c.list(&ListQuery::default()).await.err(),
            Err(e) => Some(e),
        };
        match &err {
            Some(Error::Unavailable { message, .. }) => {
                assert!(
                    message.contains("too many connections (limit 4)"),
                    "{message}"
                )
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
    let home = ok(tempfile::tempdir(), "home");
    let mut c = common::cli::sandscope(home.path());
    c.env("CWSANDBOX_API_KEY", TOKEN)
        .args(["--endpoint", &serve.url, "ls"]);
    let out = common::cli::run(c, "ls over the cap").await;
    let err = common::cli::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("too many connections (limit 4)") && !err.contains("start one"),
        "{err}"
    );

    // The socket has its own budget: local clients still get in.
    list_within(
        &socket_url(&data),
        Duration::from_secs(2),
        "through the socket at the cap",
    )
    .await;
    let log = serve.stderr();
    assert_eq!(
        count(&log, "connection limit reached"),
        1,
        "logged once per burst:\n{log}"
    );

    drop(held);
    let took = list_within(
        &serve.url,
        Duration::from_secs(5),
        "after the idle ones left",
    )
    .await;
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_does_not_stop_the_server() {
    use std::os::unix::process::CommandExt;
    let _one = SERIAL.lock().await;
    const LIMIT: u64 = 256;
    let (_dir, data) = serve_data_dir();
    let mut cmd = Serve::command(
        Path::new(&data),
        &[
            "--runtime",
            "host",
            "--max-connections",
            "100000",
            "--handshake-timeout",
            "1s",
        ],
    );
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, LIMIT, LIMIT)
                .map_err(std::io::Error::from)
        });
    }
    let mut serve = Serve::spawn(cmd);
    let addr = addr_of(&serve.url);

    let n = 3 * LIMIT as usize;
    let (held, failed) = open_idle(&addr, n).await;
    assert!(failed.is_none(), "opened {} of {n}: {failed:?}", held.len());
    let during = list_within(&serve.url, Duration::from_secs(30), "while flooded").await;
    let log = serve.stderr();
    assert!(
        log.contains("cannot accept connections"),
        "the server never ran out of descriptors, so this test tested nothing:\n{log}"
    );
    drop(held);
    let after = list_within(&serve.url, Duration::from_secs(5), "after the flood").await;
    assert!(
        after < Duration::from_secs(2),
        "took {after:?} after the flood"
    );
    assert!(serve.alive(), "the server died:\n{}", serve.stderr());
    eprintln!(
        "{n} idle connections against {LIMIT} descriptors: served during the flood after {during:?}, \
         after it in {after:?}; accept warnings logged: {}",
        count(&serve.stderr(), "cannot accept connections")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_idle_connections_then_normal_service() {
    let _one = SERIAL.lock().await;
    const WANTED: usize = 20_000;
    // Descriptors this process needs besides the idle connections.
    const SPARE: u64 = 200;
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, mut hard) = ok(getrlimit(Resource::RLIMIT_NOFILE), "getrlimit");
    // Raising the hard limit takes privileges this process may not have; the
    // soft limit can always go up to the hard one.
    let wanted = WANTED as u64 + SPARE;
    if hard < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted).is_ok() {
        hard = wanted;
    }
    ok(
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard),
        "raise the soft limit",
    );
    let n = WANTED.min(usize::try_from(hard.saturating_sub(SPARE)).unwrap_or(WANTED));
    let note = if n < WANTED {
        format!(" (only {n}, not {WANTED}: this process may open {hard} files)")
    } else {
        String::new()
    };

    let (_dir, data) = serve_data_dir();
    let mut serve = Serve::start(
        Path::new(&data),
        &["--runtime", "host", "--handshake-timeout", "2s"],
    );
    let addr = addr_of(&serve.url);
    let start = Instant::now();
    let (held, failed) = open_idle(&addr, n).await;
    let open_time = start.elapsed();
    assert!(
        failed.is_none(),
        "opened {} of {n}{note}: {failed:?}",
        held.len()
    );

    let local = list_within(
        &socket_url(&data),
        Duration::from_secs(5),
        "through the socket, flooded",
    )
    .await;
    let tcp = list_within(&serve.url, Duration::from_secs(15), "over TCP, flooded").await;
    let log = serve.stderr();
    assert!(
        log.contains("connection limit reached"),
        "the cap never bit{note}:\n{log}"
    );
    let closing = Instant::now();
    drop(held);
    let after = list_within(&serve.url, Duration::from_secs(5), "after the flood").await;
    assert!(
        after < Duration::from_secs(2),
        "took {after:?} after {n} connections closed{note}"
    );
    assert!(serve.alive(), "the server died{note}:\n{}", serve.stderr());
    eprintln!(
        "{n} idle connections{note} opened in {open_time:?}; served through the socket after \
         {local:?} and over TCP after {tcp:?} while they were open; {after:?} after they closed \
         (closing took {:?})",
        closing.elapsed()
    );
}
