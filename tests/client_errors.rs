//! Bad input and hard cases: wrong ids, empty commands, stopped sandboxes,
//! tokens, missing commands, late stdin, big and binary data.
mod common;

use common::{args, ok, TestServer, TOKEN};
use sandscope::client::{Error, ExecOptions, ListQuery, SandboxRequest, SandboxState, StreamKind};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sandbox_is_not_found() {
    let t = TestServer::start().await;
    let id = "no-such-sandbox";
    let e = t
        .client
        .exec(id, &args(&["true"]), ExecOptions::default())
        .await;
    assert!(matches!(e, Err(Error::NotFound(_))), "{e:?}");
    let e = t.client.get(id).await;
    assert!(matches!(e, Err(Error::NotFound(_))), "{e:?}");
    let e = t.client.stop(id, Duration::ZERO).await;
    assert!(matches!(e, Err(Error::NotFound(_))), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_command_is_invalid() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let e = t.client.exec(&sb, &[], ExecOptions::default()).await;
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
    let e = t
        .client
        .exec(&sb, &args(&[""]), ExecOptions::default())
        .await;
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_in_a_stopped_sandbox_fails_precondition() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let stopped = ok(t.client.stop(&sb, Duration::ZERO).await, "stop");
    assert_eq!(stopped.id, sb);
    // Wait (bounded) until the server reports the stop as finished.
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let s = ok(t.client.get(&sb).await, "get");
            if s.state.is_terminal() {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let s = ok(end, "sandbox did not stop");
    assert_ne!(s.state, SandboxState::Running);
    let e = t
        .client
        .exec(&sb, &args(&["true"]), ExecOptions::default())
        .await;
    assert!(matches!(e, Err(Error::FailedPrecondition(_))), "{e:?}");

    // Listing hides it by default and shows it with include_terminated.
    let live = ok(t.client.list(&ListQuery::default()).await, "list");
    assert!(live.iter().all(|s| s.id != sb));
    let all = ok(
        t.client
            .list(&ListQuery {
                include_terminated: true,
                ..Default::default()
            })
            .await,
        "list",
    );
    assert!(all.iter().any(|s| s.id == sb));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_right_after_create_waits_for_running() {
    let t = TestServer::start().await;
    let sb = ok(t.client.create(SandboxRequest::default()).await, "create");
    let p = ok(
        t.client
            .exec(&sb.id, &args(&["echo", "up"]), ExecOptions::default())
            .await,
        "exec",
    );
    assert_eq!(ok(p.result().await, "result").stdout, b"up\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_token_is_unauthenticated() {
    let t = TestServer::start().await;
    for key in [None, Some("wrong-token"), Some(&TOKEN[..TOKEN.len() - 1])] {
        let c = t.client_with_key(key).await;
        let e = c.list(&ListQuery::default()).await;
        assert!(
            matches!(e, Err(Error::Unauthenticated(_))),
            "{key:?}: {e:?}"
        );
        let e = c
            .exec("any", &args(&["true"]), ExecOptions::default())
            .await;
        assert!(
            matches!(e, Err(Error::Unauthenticated(_))),
            "{key:?}: {e:?}"
        );
    }
    assert!(t.client.list(&ListQuery::default()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = ok(std::net::TcpListener::bind("127.0.0.1:0"), "bind")
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(1);
    let url = format!("http://127.0.0.1:{port}");
    let e = sandscope::client::Client::connect(sandscope::client::Endpoint::new(url, None)).await;
    assert!(matches!(e, Err(Error::Unavailable { .. })), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoints_are_errors_not_panics() {
    use sandscope::client::{Client, Endpoint};
    let e = Client::connect(Endpoint::new("127.0.0.1:7391", None)).await;
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
    let e = Client::connect(Endpoint::new("http://exa mple", None)).await;
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
    let e = Client::connect(Endpoint::new("http://127.0.0.1:1", Some("bad\nkey".into()))).await;
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
    // TLS against a cleartext server fails the handshake, cleanly.
    let t = TestServer::start().await;
    let tls_url = t.url.replacen("http://", "https://", 1);
    let r = match Client::connect(Endpoint::new(tls_url, Some(TOKEN.into()))).await {
        Ok(c) => c.list(&ListQuery::default()).await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        matches!(&r, Err(Error::Tls { message, .. }) if message.contains("does the server speak TLS")),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_command_exits_127_with_a_message() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let r = t.exec(&sb, &["definitely-not-a-command-xyz"]).await;
    assert_eq!(r.returncode, 127);
    assert!(
        r.stderr_text().contains("definitely-not-a-command-xyz"),
        "{}",
        r.stderr_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_after_close_or_exit_is_a_clear_error() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let opts = ExecOptions {
        stdin: true,
        ..Default::default()
    };

    let mut p = ok(
        t.client.exec(&sb, &args(&["cat"]), opts.clone()).await,
        "exec",
    );
    let w = p.take_stdin().unwrap_or_else(|| panic!("stdin"));
    ok(w.write_line("x").await, "write");
    ok(w.close().await, "close");
    ok(w.close().await, "second close");
    assert!(matches!(
        w.write_line("late").await,
        Err(Error::StdinClosed)
    ));
    assert_eq!(ok(p.result().await, "result").stdout, b"x\n");

    let mut p = ok(t.client.exec(&sb, &args(&["true"]), opts).await, "exec");
    let w = p.take_stdin().unwrap_or_else(|| panic!("stdin"));
    assert_eq!(ok(p.wait().await, "wait"), 0);
    let e = w.write(&b"too late"[..]).await;
    assert!(matches!(e, Err(Error::ProcessExited)), "{e:?}");
    assert!(w.close().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_process() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let mut p = ok(
        t.client
            .exec(&sb, &args(&["sleep", "60"]), ExecOptions::default())
            .await,
        "exec",
    );
    assert_eq!(p.poll(), None);
    p.kill();
    let e = p.wait().await;
    assert!(matches!(e, Err(Error::Killed)), "{e:?}");
    assert_eq!(p.poll(), Some(sandscope::client::ProcessStatus::Killed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_output_is_preserved() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let code = "import sys\nsys.stdout.buffer.write(bytes([255, 254, 0, 97, 128, 10]))\nsys.stderr.buffer.write(bytes([192, 0, 255]))\n";
    let r = t.exec(&sb, &["python", "-c", code]).await;
    assert_eq!(r.stdout, [255, 254, 0, 97, 128, 10]);
    assert_eq!(r.stderr, [192, 0, 255]);
}

/// A byte pattern whose period (a prime) never lines up with frame or pipe
/// sizes, so a lost, repeated or reordered chunk shows up as a mismatch.
const PERIOD: usize = 65_521;

fn pattern_byte(i: usize) -> u8 {
    (((i * i * 31 + i * 7) >> 3) & 0xff) as u8
}

fn pattern() -> Vec<u8> {
    (0..PERIOD).map(pattern_byte).collect()
}

/// The same pattern, written by Python inside the sandbox: `total` bytes.
fn pattern_writer(total: u64) -> String {
    format!(
        "import sys\n\
         P = {PERIOD}\n\
         base = bytes(((i * i * 31 + i * 7) >> 3) & 255 for i in range(P))\n\
         block = base * 16\n\
         left = {total}\n\
         out = sys.stdout.buffer\n\
         while left > 0:\n\
         \x20   n = min(left, len(block))\n\
         \x20   out.write(block[:n])\n\
         \x20   left -= n\n\
         out.flush()\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_stdin_and_stdout_arrive_byte_exact() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;

    // 100 MiB in: counted and hashed inside the sandbox, compared with the
    // host's sha256sum of the same bytes.
    const IN: usize = 100 << 20;
    let base = pattern();
    let data: Vec<u8> = base.iter().copied().cycle().take(IN).collect();
    let expected_sha = host_sha256(&data);
    let counter = "import sys, hashlib\nh = hashlib.sha256()\nn = 0\nwhile True:\n    b = sys.stdin.buffer.read(1 << 20)\n    if not b:\n        break\n    h.update(b)\n    n += len(b)\nprint(n, h.hexdigest())\n";
    let opts = ExecOptions {
        stdin: true,
        ..Default::default()
    };
    let mut p = ok(
        t.client
            .exec(&sb, &args(&["python", "-c", counter]), opts)
            .await,
        "exec",
    );
    let w = p.take_stdin().unwrap_or_else(|| panic!("stdin"));
    ok(w.write(data).await, "write 100 MiB");
    ok(w.close().await, "close");
    let r = ok(p.result().await, "result");
    assert_eq!(r.stderr_text(), "");
    assert_eq!(r.stdout_text(), format!("{IN} {expected_sha}\n"));

    // 1 GiB out: streamed, counted and compared with the pattern as it
    // arrives, so memory stays flat.
    const OUT: u64 = 1 << 30;
    let mut p = ok(
        t.client
            .exec(
                &sb,
                &args(&["python", "-c", &pattern_writer(OUT)]),
                ExecOptions::default(),
            )
            .await,
        "exec",
    );
    let mut out = p.take_output().unwrap_or_else(|| panic!("output"));
    let mut received: u64 = 0;
    while let Some(chunk) = out.next().await {
        assert_eq!(
            chunk.stream,
            StreamKind::Stdout,
            "{:?}",
            String::from_utf8_lossy(&chunk.data)
        );
        let mut data = &chunk.data[..];
        while !data.is_empty() {
            let off = (received % PERIOD as u64) as usize;
            let n = data.len().min(PERIOD - off);
            assert!(
                data[..n] == base[off..off + n],
                "mismatch in the 64 KiB after byte {received}"
            );
            data = &data[n..];
            received += n as u64;
        }
    }
    assert_eq!(received, OUT);
    assert_eq!(ok(p.wait().await, "wait"), 0);
}

fn host_sha256(data: &[u8]) -> String {
    let mut child = ok(
        Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn(),
        "sha256sum on the host",
    );
    if let Some(mut stdin) = child.stdin.take() {
        ok(stdin.write_all(data), "feed sha256sum");
    }
    let out = ok(child.wait_with_output(), "sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_log_follows_until_the_main_process_ends() {
    let t = TestServer::start().await;
    // The main command waits for a file, so the log is followed before it
    // prints anything.
    // Unique per run: with the host runtime, /tmp is the machine's.
    let go = format!("/tmp/sandscope-go-{}", uuid_like(&t));
    let main =
        format!("while [ ! -e {go} ]; do sleep 0.05; done; echo one; echo two >&2; echo three");
    let req = SandboxRequest {
        command: args(&["sh", "-c", &main]),
        ..Default::default()
    };
    let sb = ok(t.client.run(req).await, "run");
    let opts = sandscope::client::LogOptions {
        follow: true,
        ..Default::default()
    };
    let mut stream = ok(t.client.logs(&sb.id, opts).await, "logs");
    ok(
        t.client.write_file(&sb.id, &go, b"go".to_vec()).await,
        "write_file",
    );
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = stream.next().await {
            seen.extend_from_slice(&ok(chunk, "log chunk"));
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the followed log did not end with the main process"
    );
    let text = String::from_utf8_lossy(&seen);
    for line in ["one\n", "two\n", "three\n"] {
        assert!(text.contains(line), "{text:?}");
    }
    // With the host runtime the file is on this machine's /tmp.
    let _ = std::fs::remove_file(&go);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_and_are_seen_by_exec() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let blob = format!("/tmp/blob-{sb}.bin");
    let content: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    ok(
        t.client.write_file(&sb, &blob, content.clone()).await,
        "write_file",
    );
    let back = ok(t.client.read_file(&sb, &blob).await, "read_file");
    assert!(back == content, "read_file returned other bytes");
    let r = t.exec(&sb, &["wc", "-c", &blob]).await;
    assert_eq!(r.stdout_text(), format!("5000000 {blob}\n"));
    let e = t.client.read_file(&sb, "/tmp/does-not-exist").await;
    assert!(e.is_err());
    let _ = std::fs::remove_file(&blob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tty_exec_has_a_terminal_of_the_asked_size_and_resizes() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let opts = ExecOptions {
        stdin: true,
        tty: Some((100, 30)),
        ..Default::default()
    };
    // Prints the size, then again after each line read.
    let script = "stty size; while read x; do stty size; done";
    let mut p = ok(
        t.client.exec(&sb, &args(&["sh", "-c", script]), opts).await,
        "exec",
    );
    let w = p.take_stdin().unwrap_or_else(|| panic!("stdin"));
    let mut out = p.take_output().unwrap_or_else(|| panic!("output"));
    let mut seen = String::new();
    read_until(&mut out, &mut seen, "30 100").await;
    p.resize(120, 40);
    ok(w.write_line("again").await, "write");
    read_until(&mut out, &mut seen, "40 120").await;
    p.kill();
    assert!(matches!(p.wait().await, Err(Error::Killed) | Ok(_)));
}

/// Reads output until `want` has appeared (bounded).
async fn read_until(out: &mut sandscope::client::OutputStream, seen: &mut String, want: &str) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(want) {
            match out.next().await {
                Some(c) => seen.push_str(&String::from_utf8_lossy(&c.data)),
                None => break,
            }
        }
    })
    .await;
    assert!(
        found.is_ok() && seen.contains(want),
        "{want:?} not in {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_does_not_read_holds_the_process_back() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    // Writes 512 MiB, recording after each MiB how much it got rid of.
    const TOTAL_MIB: u64 = 512;
    let writer = format!(
        "import os, sys\n\
         block = bytes(range(256)) * 4096\n\
         for i in range({TOTAL_MIB}):\n\
         \x20   sys.stdout.buffer.write(block)\n\
         \x20   sys.stdout.buffer.flush()\n\
         \x20   with open('/tmp/progress-{sb}.tmp', 'w') as f:\n\
         \x20       f.write(str(i + 1))\n\
         \x20   os.replace('/tmp/progress-{sb}.tmp', '/tmp/progress-{sb}')\n"
    );
    let mut p = ok(
        t.client
            .exec(
                &sb,
                &args(&["python", "-c", &writer]),
                ExecOptions::default(),
            )
            .await,
        "exec",
    );
    let mut out = p.take_output().unwrap_or_else(|| panic!("output"));
    let progress = || async {
        let bytes = t
            .client
            .read_file(&sb, &format!("/tmp/progress-{sb}"))
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    // Nobody reads: the writer must come to a stop well short of the end.
    let stalled = tokio::time::timeout(Duration::from_secs(60), async {
        let mut last = u64::MAX;
        loop {
            let now = progress().await;
            if now == last && now > 0 {
                return now;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    let stalled_at = ok(stalled, "the writer never stalled");
    assert!(
        stalled_at < TOTAL_MIB / 2,
        "{stalled_at} MiB went out unread"
    );
    assert_eq!(p.poll(), None);

    // Reading releases it, and every byte arrives.
    let mut received = 0u64;
    while let Some(chunk) = out.next().await {
        received += chunk.data.len() as u64;
    }
    assert_eq!(received, TOTAL_MIB << 20);
    assert_eq!(ok(p.wait().await, "wait"), 0);
    let _ = std::fs::remove_file(format!("/tmp/progress-{sb}"));
}

/// A name no other test run uses: the server's data directory is a fresh
/// temporary directory.
fn uuid_like(t: &TestServer) -> String {
    t.data_dir
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().trim_start_matches('.').to_string())
        .unwrap_or_default()
}
