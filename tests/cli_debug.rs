//! The CLI's commands for looking into a sandbox from outside: `files`,
//! `get`, `ps`/`kill`, `port-forward` and `sh`, each the real binary
//! against a real server, checked on the bytes and exit codes it produces.
mod common;

use common::cli::{run, sandscope, text, BIN};
use common::tmux::Tmux;
use common::{ok, TestServer, TOKEN};
use sandscope::client::{ExecOptions, Process};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The binary pointed at the test server.
fn cli(t: &TestServer, home: &std::path::Path, argv: &[&str]) -> Command {
    let mut c = sandscope(home);
    c.env("CWSANDBOX_API_KEY", TOKEN)
        .arg("--endpoint")
        .arg(&t.url)
        .args(argv);
    c
}

/// A port for a server inside the sandbox, different per test process so
/// parallel runs on a host runtime do not collide.
fn sandbox_port(offset: u16) -> u16 {
    20000 + (std::process::id() % 20000) as u16 + offset
}

/// Polls `cond` (an exec in the sandbox, typically) until it holds.
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_put_get_ls_are_byte_exact_and_clear_about_errors() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let home = ok(tempfile::tempdir(), "home");

    // Every byte value, then 3 MB of a pattern that is not periodic in 256.
    let mut data: Vec<u8> = (0..=255u8).collect();
    let mut x = 0x2545_f491_u32;
    data.extend((0..3_000_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x >> 24) as u8
    }));
    let local = home.path().join("in.bin");
    ok(std::fs::write(&local, &data), "write local file");
    let local_s = local.to_string_lossy().to_string();

    let out = run(
        cli(
            &t,
            home.path(),
            &["files", "put", &id, &local_s, "/tmp/up/bin.dat"],
        ),
        "put",
    )
    .await;
    assert!(out.status.success(), "put: {}", text(&out.stderr));

    let back = home.path().join("back.bin");
    let back_s = back.to_string_lossy().to_string();
    let out = run(
        cli(
            &t,
            home.path(),
            &["files", "get", &id, "/tmp/up/bin.dat", &back_s],
        ),
        "get",
    )
    .await;
    assert!(out.status.success(), "get: {}", text(&out.stderr));
    assert!(
        ok(std::fs::read(&back), "read back") == data,
        "get returned other bytes"
    );

    let out = run(
        cli(
            &t,
            home.path(),
            &["files", "get", &id, "/tmp/up/bin.dat", "-"],
        ),
        "get -",
    )
    .await;
    assert!(out.status.success(), "get -: {}", text(&out.stderr));
    assert!(out.stdout == data, "get - printed other bytes");
    // The sandbox sees exactly what was sent.
    let r = t.exec(&id, &["sh", "-c", "wc -c < /tmp/up/bin.dat"]).await;
    assert_eq!(r.stdout_text().trim(), data.len().to_string());

    // A directory with odd names, a subdirectory, a symlink and a dotfile.
    let r = t
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "mkdir -p '/tmp/ls/sub dir' && printf abc > '/tmp/ls/with space' \
                 && printf '' > \"/tmp/ls/it's \\\"odd\\\" \\$x\" && printf 12345 > /tmp/ls/-dash \
                 && printf z > /tmp/ls/.hidden && ln -s '/tmp/ls/with space' /tmp/ls/link",
            ],
        )
        .await;
    assert_eq!(r.returncode, 0, "{}", r.stderr_text());

    let out = run(
        cli(
            &t,
            home.path(),
            &["files", "ls", &id, "/tmp/ls", "-o", "json"],
        ),
        "ls json",
    )
    .await;
    assert!(out.status.success(), "ls: {}", text(&out.stderr));
    let v: serde_json::Value = ok(serde_json::from_slice(&out.stdout), "ls json parses");
    let entries = v.as_array().cloned().unwrap_or_default();
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name:?} in {v}"))
    };
    assert_eq!(entries.len(), 6, "{v}");
    assert_eq!(find("sub dir")["kind"], "dir");
    assert_eq!(find("with space")["kind"], "file");
    assert_eq!(find("with space")["size"], 3);
    assert_eq!(find("it's \"odd\" $x")["size"], 0);
    assert_eq!(find("-dash")["size"], 5);
    assert_eq!(find(".hidden")["size"], 1);
    assert_eq!(find("link")["kind"], "link");
    assert_eq!(find("link")["link_target"], "/tmp/ls/with space");

    let out = run(cli(&t, home.path(), &["files", "ls", &id, "/tmp/ls"]), "ls").await;
    assert!(out.status.success(), "ls: {}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.ends_with(&format!("  {name}")))
            .unwrap_or_else(|| panic!("no row for {name:?}:\n{table}"))
            .to_string()
    };
    assert!(table.starts_with("MODE"), "{table}");
    let r = row("sub dir");
    assert!(r.starts_with('d') && r.contains(" dir "), "{r}");
    let r = row("with space");
    assert!(r.contains(" file ") && r.contains(" 3 "), "{r}");
    assert!(
        row("link -> /tmp/ls/with space").contains(" link "),
        "{table}"
    );

    // Missing paths and a directory: a clear message and a non-zero exit.
    let out = run(
        cli(&t, home.path(), &["files", "ls", &id, "/tmp/nope"]),
        "ls missing",
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/tmp/nope: no such file or directory"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        cli(&t, home.path(), &["files", "get", &id, "/tmp/nope", "-"]),
        "get missing",
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("no such file or directory"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        cli(&t, home.path(), &["files", "get", &id, "/tmp/ls", "-"]),
        "get dir",
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is a directory"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_a_table_and_json() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    let out = run(
        cli(
            &t,
            home.path(),
            &[
                "create",
                "--name",
                "info-demo",
                "--tag",
                "dbg",
                "--",
                "sleep",
                "4321",
            ],
        ),
        "create",
    )
    .await;
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();

    let out = run(cli(&t, home.path(), &["get", &id]), "get").await;
    assert!(out.status.success(), "get: {}", text(&out.stderr));
    let s = text(&out.stdout);
    let field = |k: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with(&format!("{k}:")))
            .map(|l| {
                l.split_once(':')
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_default()
            })
            .unwrap_or_else(|| panic!("no {k} in\n{s}"))
    };
    assert_eq!(field("id"), id);
    assert_eq!(field("name"), "info-demo");
    assert_eq!(field("state"), "running");
    assert_eq!(field("tags"), "dbg");
    assert_eq!(field("command"), "sleep 4321");
    assert!(field("created").ends_with("ago)"), "{s}");

    let out = run(
        cli(&t, home.path(), &["get", &id, "--output", "json"]),
        "get json",
    )
    .await;
    assert!(out.status.success(), "get json: {}", text(&out.stderr));
    let v: serde_json::Value = ok(serde_json::from_slice(&out.stdout), "get json parses");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["state"], "running");
    assert_eq!(v["name"], "info-demo");
    assert_eq!(
        v["containers"][0]["command"],
        serde_json::json!(["sleep", "4321"])
    );

    let out = run(
        cli(&t, home.path(), &["get", "no-such-sandbox"]),
        "get missing",
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
}

/// `sleep 4242` from a client of its own; `ps --output json` as parsed.
async fn sleeper_pid(t: &TestServer, home: &std::path::Path, id: &str) -> Option<u64> {
    let out = run(cli(t, home, &["ps", id, "-o", "json"]), "ps json").await;
    assert!(out.status.success(), "ps: {}", text(&out.stderr));
    let v: serde_json::Value = ok(serde_json::from_slice(&out.stdout), "ps json parses");
    v.as_array()?
        .iter()
        .find(|p| p["cmdline"] == serde_json::json!(["sleep", "4242"]))
        .and_then(|p| p["pid"].as_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ps_shows_another_clients_process_and_kill_ends_it() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let home = ok(tempfile::tempdir(), "home");
    let other = t.client_with_key(Some(TOKEN)).await;
    let mut sleeper: Process = ok(
        other
            .exec(
                &id,
                &common::args(&["sleep", "4242"]),
                ExecOptions::default(),
            )
            .await,
        "start sleep",
    );

    let start = Instant::now();
    let pid = loop {
        if let Some(pid) = sleeper_pid(&t, home.path(), &id).await {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "sleep 4242 never showed in ps"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pid = pid.to_string();

    let out = run(cli(&t, home.path(), &["ps", &id]), "ps").await;
    let table = text(&out.stdout);
    assert!(table.starts_with("PID"), "{table}");
    let row = table
        .lines()
        .find(|l| l.ends_with("sleep 4242"))
        .unwrap_or_else(|| panic!("no sleep row:\n{table}"));
    assert_eq!(row.split_whitespace().next(), Some(pid.as_str()), "{table}");
    // The sandbox's own main process is there too, as pid 1 of its namespace
    // under bubblewrap, and the listing's own shell is not.
    assert!(!table.contains("sandscope-ps"), "{table}");

    let out = run(
        cli(&t, home.path(), &["kill", &id, &pid, "-s", "TERM"]),
        "kill",
    )
    .await;
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    let code = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(30), sleeper.wait()).await,
            "sleep ends",
        ),
        "sleep's status",
    );
    assert_eq!(code, 128 + 15, "killed by SIGTERM");
    assert_eq!(sleeper_pid(&t, home.path(), &id).await, None);

    let out = run(cli(&t, home.path(), &["kill", &id, &pid]), "kill again").await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!("no process {pid}")),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        cli(&t, home.path(), &["kill", &id, "1", "-s", "TERM;true"]),
        "bad signal",
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not a signal"),
        "{}",
        text(&out.stderr)
    );
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
        t.client.exec(id, &common::args(argv), opts).await,
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
        let mut s = ok(
            std::net::TcpStream::connect(&addr),
            "connect to the forward",
        );
        // A relay that never ends fails the test instead of hanging it.
        ok(
            s.set_read_timeout(Some(Duration::from_secs(30))),
            "read timeout",
        );
        ok(
            s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n"),
            "send request",
        );
        let mut body = Vec::new();
        ok(s.read_to_end(&mut body), "read answer");
        body
    })
    .await;
    let answer = text(&ok(answer, "http client"));
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
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
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
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_string();
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
        let mut s = ok(
            std::net::TcpStream::connect(&addr),
            "connect to the forward",
        );
        // A relay that never ends fails the test instead of hanging it.
        ok(
            s.set_read_timeout(Some(Duration::from_secs(30))),
            "read timeout",
        );
        ok(
            s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n"),
            "send request",
        );
        let mut body = Vec::new();
        ok(s.read_to_end(&mut body), "read answer");
        body
    })
    .await;
    let answer = text(&ok(answer, "http client"));
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("bash-relayed\n"), "{answer}");
    let _ = fwd.kill().await;
}

/// `stty size` typed into the remote shell until it prints `want`.
fn wait_size(t: &Tmux, want: &str) {
    let start = Instant::now();
    loop {
        t.type_text("stty size");
        t.keys(&["Enter"]);
        let seen = Instant::now();
        while seen.elapsed() < Duration::from_secs(3) {
            if t.screen().lines().any(|l| l.trim() == want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            start.elapsed() < common::tmux::DEADLINE,
            "stty size never said {want}:\n{}",
            t.screen()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sh_is_a_real_terminal_and_restores_ours() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let url = t.url.clone();
    tokio::task::spawn_blocking(move || {
        let tm = Tmux::start(100, 30);
        tm.wait_text("e2e$");
        tm.type_text(&format!("CWSANDBOX_API_KEY={TOKEN} {BIN} --endpoint {url} sh {id}"));
        tm.keys(&["Enter"]);
        tm.type_text("echo remote-$((6*7))");
        tm.keys(&["Enter"]);
        tm.wait_text("remote-42");

        // The remote terminal has our size, and follows when it changes.
        wait_size(&tm, "30 100");
        tm.type_text("clear");
        tm.keys(&["Enter"]);
        assert!(tm.tmux(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]).status.success());
        wait_size(&tm, "40 120");

        // Ctrl-C reaches the remote foreground job, not us.
        tm.type_text("sleep 100");
        tm.keys(&["Enter"]);
        std::thread::sleep(Duration::from_millis(300));
        tm.keys(&["C-c"]);
        tm.type_text("echo back-$((2+3))");
        tm.keys(&["Enter"]);
        tm.wait_text("back-5");

        tm.type_text("exit 7");
        tm.keys(&["Enter"]);
        // The local prompt, alone on its line, is back.
        tm.wait_for("the local prompt", |s| s.lines().any(|l| l.trim_end() == "e2e$"));
        tm.type_text("echo rc=$?");
        tm.keys(&["Enter"]);
        tm.wait_text("rc=7");
        tm.type_text(
            "printf 'modes=%s\\n' \"$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ,)\"",
        );
        tm.keys(&["Enter"]);
        let s = tm.wait_for("the modes", |s| s.lines().any(|l| l.starts_with("modes=")));
        assert!(s.contains("modes=icanon,echo,"), "the terminal was not restored:\n{s}");
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sh_without_a_terminal_runs_the_piped_script() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let home = ok(tempfile::tempdir(), "home");
    let mut c = cli(&t, home.path(), &["sh", &id]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ok(c.spawn(), "spawn sh");
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        ok(
            stdin.write_all(b"echo piped-$((3*3))\nexit 5\n").await,
            "write script",
        );
    }
    let out = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await,
            "sh ends",
        ),
        "sh output",
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "piped-9\n");
    assert!(
        text(&out.stderr).contains("not a terminal"),
        "{}",
        text(&out.stderr)
    );
}
