//! `port-forward`: HTTP and binary bytes through the relay chain, and a
//! clear refusal when the image has no relay tool.
use super::{cli, until};
use crate::common::cli::{run, stdout_of, text};
use crate::common::{http, ok, TestServer};
use sandscope::client::{ExecOptions, ForwardEvent, Forwarder, Process, RelayTool};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A port for a server inside the sandbox, different per test process so
/// parallel runs on a host runtime do not collide.
fn sandbox_port(offset: u16) -> u16 {
    20000 + (std::process::id() % 20000) as u16 + offset
}

/// Starts `port-forward` and returns it with the local address it printed.
async fn forward(
    t: &TestServer,
    home: &std::path::Path,
    id: &str,
    port: u16,
) -> (tokio::process::Child, String, String) {
    let spec = format!("0:{port}");
    let mut c = cli(t, home, &["port-forward", id, &spec]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = ok(c.spawn(), "spawn port-forward");
    let Some(stdout) = child.stdout.take() else {
        panic!("no stdout");
    };
    let mut lines = BufReader::new(stdout).lines();
    let line = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await,
            "forward prints",
        ),
        "read forward's line",
    )
    .unwrap_or_default();
    let addr = line
        .strip_prefix("Forwarding from ")
        .and_then(|r| r.split_once(" -> "))
        .map(|(a, rest)| {
            assert!(rest.starts_with(&format!("{port} ")), "{line}");
            a.to_string()
        })
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    let relay = line
        .rsplit_once("(relay: ")
        .map(|(_, r)| r.trim_end_matches(')').to_string())
        .unwrap_or_default();
    (child, addr, relay)
}

/// A server inside the sandbox; returns once it accepts connections.
async fn serve_in_sandbox(t: &TestServer, id: &str, argv: &[&str], port: u16) -> Process {
    serve_with(t, id, argv, port, "python3").await
}

/// The same, probing with the python3 at `python`.
async fn serve_with(t: &TestServer, id: &str, argv: &[&str], port: u16, python: &str) -> Process {
    let opts = ExecOptions {
        cwd: Some("/tmp/www".into()),
        ..Default::default()
    };
    let p = ok(
        t.client.exec(id, &crate::common::args(argv), opts).await,
        "start server in sandbox",
    );
    let probe = format!("import socket; socket.create_connection(('127.0.0.1', {port})).close()");
    until("the server in the sandbox", || async {
        t.exec(id, &[python, "-c", &probe]).await.returncode == 0
    })
    .await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_relays_http_and_binary_bytes() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let home = ok(tempfile::tempdir(), "home");
    let r = t
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "mkdir -p /tmp/www && echo forwarded-page-42 > /tmp/www/index.html",
            ],
        )
        .await;
    assert_eq!(r.returncode, 0, "{}", r.stderr_text());

    let http_port = sandbox_port(0);
    let port_s = http_port.to_string();
    let http = serve_in_sandbox(
        &t,
        &id,
        &[
            "python3",
            "-m",
            "http.server",
            &port_s,
            "--bind",
            "127.0.0.1",
        ],
        http_port,
    )
    .await;
    let (mut fwd, addr, relay) = forward(&t, home.path(), &id, http_port).await;
    assert_eq!(relay, "python3");
    let answer = tokio::task::spawn_blocking(move || {
        http::exchange(&addr, b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
    })
    .await;
    let answer = ok(answer, "http client");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("forwarded-page-42\n"), "{answer}");
    drop(http);

    // An echo server: what goes in comes back, every byte value, after our
    // half-close (EOF) reaches it.
    let echo_port = sandbox_port(1);
    let script = format!(
        "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {echo_port}))\ns.listen()\nwhile True:\n    c, _ = s.accept()\n\
         \x20   while True:\n        b = c.recv(65536)\n        if not b:\n            break\n\
         \x20       c.sendall(b)\n    c.close()\n"
    );
    let _echo = serve_in_sandbox(&t, &id, &["python3", "-c", &script], echo_port).await;
    let (mut fwd2, addr2, _) = forward(&t, home.path(), &id, echo_port).await;
    let payload: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i % 256) as u8 ^ (i / 256) as u8)
        .collect();
    let sent = payload.clone();
    let got = tokio::task::spawn_blocking(move || {
        let s = ok(
            std::net::TcpStream::connect(&addr2),
            "connect to the forward",
        );
        // A relay that never ends fails the test instead of hanging it.
        ok(
            s.set_read_timeout(Some(Duration::from_secs(30))),
            "read timeout",
        );
        let mut w = ok(s.try_clone(), "clone socket");
        let writer = std::thread::spawn(move || {
            ok(w.write_all(&sent), "send payload");
            ok(w.shutdown(std::net::Shutdown::Write), "half-close");
        });
        let mut back = Vec::new();
        let mut r = s;
        ok(r.read_to_end(&mut back), "read echo");
        let _ = writer.join();
        back
    })
    .await;
    let got = ok(got, "echo client");
    assert_eq!(got.len(), payload.len());
    assert!(got == payload, "the echo differs");

    let _ = fwd.kill().await;
    let _ = fwd2.kill().await;

    // The library's forwarder, as the TUI would use it: it reports its
    // connections and, once stopped, accepts no more.
    let local: std::net::SocketAddr = ok("127.0.0.1:0".parse(), "addr");
    let mut fwd3 = ok(
        Forwarder::start(t.client.clone(), &id, local, echo_port).await,
        "forwarder",
    );
    assert_eq!(fwd3.tool(), RelayTool::Python3);
    let mut events = fwd3.take_events().unwrap_or_else(|| panic!("no events"));
    let addr3 = fwd3.local_addr();
    let echoed = tokio::task::spawn_blocking(move || {
        let mut s = ok(std::net::TcpStream::connect(addr3), "connect");
        ok(
            s.set_read_timeout(Some(Duration::from_secs(30))),
            "read timeout",
        );
        ok(s.write_all(b"ping\x00\xff"), "send");
        ok(s.shutdown(std::net::Shutdown::Write), "half-close");
        let mut back = Vec::new();
        ok(s.read_to_end(&mut back), "read");
        back
    })
    .await;
    assert_eq!(ok(echoed, "echo"), b"ping\x00\xff");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Some(ev)) => seen.push(ev),
            other => panic!("events ended early: {other:?} after {seen:?}"),
        }
    }
    assert!(
        matches!(seen[0], ForwardEvent::Opened { id: 1, .. }),
        "{seen:?}"
    );
    assert_eq!(
        seen[1],
        ForwardEvent::Closed {
            id: 1,
            sent: 6,
            received: 6
        }
    );
    let stats = fwd3.stats();
    assert_eq!((stats.total, stats.active, stats.failed), (1, 0, 0));
    fwd3.stop();
    let refused = until("the stopped forwarder to close its port", || async move {
        std::net::TcpStream::connect(addr3).is_err()
    });
    refused.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_names_what_the_image_lacks() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    // Every process of this sandbox has a PATH with nothing on it, like an
    // image without any relay tool; /bin/sh is called by its full path.
    let out = run(
        cli(
            &t,
            home.path(),
            &[
                "create",
                "--env",
                "PATH=/nonexistent",
                "--",
                "/bin/sleep",
                "1000",
            ],
        ),
        "create",
    )
    .await;
    let id = stdout_of(&out, "create").trim().to_string();
    let out = run(
        cli(&t, home.path(), &["port-forward", &id, "8080"]),
        "forward",
    )
    .await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("none of python3, bash, nc or busybox nc"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing may claim to forward: {}",
        text(&out.stdout)
    );

    let out = run(cli(&t, home.path(), &["port-forward", &id, "0"]), "port 0").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("port cannot be 0"),
        "{}",
        text(&out.stderr)
    );
}

/// Without python3 on the PATH the relay falls back to bash's `/dev/tcp`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_falls_back_to_bash() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    let out = run(
        cli(
            &t,
            home.path(),
            &[
                "create",
                "--env",
                "PATH=/tmp/relaybin",
                "--",
                "/bin/sleep",
                "1000",
            ],
        ),
        "create",
    )
    .await;
    let id = stdout_of(&out, "create").trim().to_string();
    let r = t
        .exec(
            &id,
            &[
                "/bin/sh",
                "-c",
                "/bin/mkdir -p /tmp/relaybin /tmp/www && /bin/ln -s /bin/bash /bin/cat /tmp/relaybin/ \
                 && echo bash-relayed > /tmp/www/index.html \
                 && PATH=/usr/local/bin:/usr/bin:/bin command -v python3",
            ],
        )
        .await;
    assert_eq!(r.returncode, 0, "{}", r.stderr_text());
    let python = r.stdout_text().trim().to_string();
    let port = sandbox_port(2);
    let port_s = port.to_string();
    let _http = serve_with(
        &t,
        &id,
        &[&python, "-m", "http.server", &port_s, "--bind", "127.0.0.1"],
        port,
        &python,
    )
    .await;
    let (mut fwd, addr, relay) = forward(&t, home.path(), &id, port).await;
    assert_eq!(relay, "bash");
    let answer = tokio::task::spawn_blocking(move || {
        http::exchange(&addr, b"GET /index.html HTTP/1.0\r\n\r\n")
    })
    .await;
    let answer = ok(answer, "http client");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("bash-relayed\n"), "{answer}");
    let _ = fwd.kill().await;
}
