//! The real `sandscope` binary against a real server.
mod common;

use common::cli::{run, sandscope, stdout_of, text};
use common::{ok, TestServer, TOKEN};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_exec_ls_stop() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    let cli = |argv: &[&str]| {
        let mut c = sandscope(home.path());
        c.env("CWSANDBOX_API_KEY", TOKEN)
            .arg("--endpoint")
            .arg(&t.url)
            .args(argv);
        c
    };

    let out = run(
        cli(&[
            "create",
            "--tag",
            "cli-test",
            "--name",
            "demo",
            "--",
            "sh",
            "-c",
            "echo main-says-hi; exec sleep 1000",
        ]),
        "create",
    )
    .await;
    let id = stdout_of(&out, "create").trim().to_string();
    assert!(
        !id.is_empty() && !id.contains(char::is_whitespace),
        "id {id:?}"
    );

    let out = run(
        cli(&["exec", "--sandbox", &id, "--", "echo", "hi"]),
        "exec echo",
    )
    .await;
    assert_eq!(text(&out.stdout), "hi\n");
    assert_eq!(out.status.code(), Some(0));

    let out = run(
        cli(&[
            "exec",
            "--sandbox",
            &id,
            "--",
            "sh",
            "-c",
            "echo oops >&2; exit 3",
        ]),
        "exit 3",
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr), "oops\n");

    let out = run(
        cli(&["exec", "--sandbox", &id, "--cwd", "/tmp", "--", "pwd"]),
        "cwd",
    )
    .await;
    assert_eq!(text(&out.stdout), "/tmp\n");

    let mut c = cli(&["exec", "--sandbox", &id, "--stdin", "--", "cat"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ok(c.spawn(), "spawn exec --stdin");
    let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    if let Some(mut stdin) = child.stdin.take() {
        ok(stdin.write_all(&input).await, "write stdin");
    }
    let out = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await,
            "exec --stdin timed out",
        ),
        "exec --stdin",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout == input, "stdin was not copied byte for byte");

    // Megabytes through our stdout pipe arrive whole and in order, with
    // stderr apart.
    let out = run(
        cli(&[
            "exec",
            "--sandbox",
            &id,
            "--",
            "sh",
            "-c",
            "seq 1 400000; echo done >&2",
        ]),
        "exec seq",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected: String = (1..=400_000).map(|i| format!("{i}\n")).collect();
    assert!(
        out.stdout == expected.as_bytes(),
        "seq output changed on the way"
    );
    assert_eq!(text(&out.stderr), "done\n");

    // A reader that goes away: we stop with 128 + SIGPIPE, as `yes` would.
    let mut c = cli(&["exec", "--sandbox", &id, "--", "yes"]);
    c.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = ok(c.spawn(), "spawn exec yes");
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        let first = ok(lines.next_line().await, "read yes");
        assert_eq!(first.as_deref(), Some("y"));
    }
    let status = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(30), child.wait()).await,
            "exec yes did not stop after its reader left",
        ),
        "wait exec yes",
    );
    assert_eq!(status.code(), Some(141));

    let out = run(
        cli(&[
            "exec",
            "--sandbox",
            &id,
            "--timeout",
            "1",
            "--",
            "sleep",
            "30",
        ]),
        "timeout",
    )
    .await;
    assert_eq!(out.status.code(), Some(124));
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );

    let out = run(
        cli(&["exec", "--sandbox", "no-such-id", "--", "true"]),
        "unknown id",
    )
    .await;
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );

    let out = run(cli(&["ls", "--tag", "cli-test"]), "ls").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("ID"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not in\n{table}"));
    assert!(
        row.contains("demo") && row.contains("running") && row.contains("cli-test"),
        "{row}"
    );

    // The main command's output shows up in its log.
    let logged = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let out = run(cli(&["logs", &id]), "logs").await;
            if text(&out.stdout).contains("main-says-hi\n") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        logged.is_ok(),
        "the main command's output never reached `logs`"
    );

    let out = run(cli(&["stop", &id, "--grace", "1"]), "stop").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&id));
    let stopped = ok(t.client.get(&id).await, "get");
    assert_ne!(stopped.state, sandscope::client::SandboxState::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_says_how_to_start_one() {
    let home = ok(tempfile::tempdir(), "home");
    let port = ok(std::net::TcpListener::bind("127.0.0.1:0"), "bind")
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(1);
    let mut c = sandscope(home.path());
    c.env("SANDSCOPE_TOKEN", "x")
        .args(["ls", "--endpoint", &format!("http://127.0.0.1:{port}")]);
    let out = run(c, "ls").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("sandscope serve"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_then_use_it_then_sigterm() {
    let home = ok(tempfile::tempdir(), "home");
    let mut c = sandscope(home.path());
    c.env("SANDSCOPE_TOKEN", "serve-test-token")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut server = ok(c.spawn(), "spawn serve");
    let stdout = server.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let url = ok(
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                banner.push(line.clone());
                if let Some(url) = line.strip_prefix("sandscope server listening on ") {
                    return url.to_string();
                }
            }
            String::new()
        })
        .await,
        "serve did not print its URL",
    );
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    // The rest of the banner: token source and isolation.
    for _ in 0..2 {
        if let Ok(Ok(Some(l))) =
            tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await
        {
            banner.push(l);
        }
    }
    let banner = banner.join("\n");
    assert!(banner.contains("SANDSCOPE_TOKEN"), "{banner}");
    assert!(banner.contains("isolation: "), "{banner}");

    // The token comes from SANDSCOPE_TOKEN on the client side too.
    let mut c = sandscope(home.path());
    c.env("SANDSCOPE_TOKEN", "serve-test-token")
        .args(["ls", "--endpoint", &url]);
    let out = run(c, "ls").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ID"));

    let pid = server.id().unwrap_or(0);
    assert!(pid > 0);
    ok(
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
            nix::sys::signal::Signal::SIGTERM,
        ),
        "SIGTERM",
    );
    let status = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(30), server.wait()).await,
            "serve did not stop",
        ),
        "wait serve",
    );
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_from_the_config_file() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    let path = home.path().join("sandscope.toml");
    let cfg = format!(
        "default_profile = \"other\"\n\
         [profiles.other]\nendpoint = \"http://192.0.2.1:1\"\n\
         [profiles.test]\nendpoint = \"{}\"\napi_key_env = \"MY_KEY\"\n",
        t.url
    );
    ok(std::fs::write(&path, cfg), "write config");
    let cfg_path = path.to_string_lossy().into_owned();

    let mut c = sandscope(home.path());
    c.env("MY_KEY", TOKEN)
        .args(["ls", "--config", &cfg_path, "--profile", "test"]);
    let out = run(c, "ls with a profile").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ID"));

    // The profile's key variable is unset: the server refuses, and says so.
    let mut c = sandscope(home.path());
    c.args(["ls", "--config", &cfg_path, "--profile", "test"]);
    let out = run(c, "ls without the key").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("authentication failed"),
        "{}",
        text(&out.stderr)
    );

    let mut c = sandscope(home.path());
    c.args(["ls", "--config", &cfg_path, "--profile", "nope"]);
    let out = run(c, "unknown profile").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("\"nope\""),
        "{}",
        text(&out.stderr)
    );

    let bad = home.path().join("bad.toml");
    ok(
        std::fs::write(&bad, "[profiles.x]\nendpoint = 42\n"),
        "write bad config",
    );
    let mut c = sandscope(home.path());
    c.args(["ls", "--config", &bad.to_string_lossy()]);
    let out = run(c, "bad config").await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("endpoint"),
        "{err}"
    );
}

/// Host processes whose command line contains `marker`.
fn host_processes_with(marker: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(marker))
        .count()
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_kills_the_remote_command() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let home = ok(tempfile::tempdir(), "home");
    let marker = "61.3131";
    let mut c = sandscope(home.path());
    c.env("CWSANDBOX_API_KEY", TOKEN)
        .args([
            "exec",
            "--endpoint",
            &t.url,
            "-s",
            &sb,
            "--",
            "sleep",
            marker,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = ok(c.spawn(), "spawn exec");
    until("the remote sleep runs", || host_processes_with(marker) > 1).await;
    let pid = i32::try_from(child.id().unwrap_or(0)).unwrap_or(0);
    ok(
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        ),
        "SIGINT",
    );
    let out = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await,
            "exec did not stop",
        ),
        "exec",
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    until("the remote sleep is gone", || {
        host_processes_with(marker) == 0
    })
    .await;
}
