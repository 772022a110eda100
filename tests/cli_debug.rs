//! The CLI's commands for looking into a sandbox from outside: `files`,
//! `get`, `ps`/`kill`, `port-forward` and `sh`, each the real binary
//! against a real server, checked on the bytes and exit codes it produces.
mod common;
#[path = "cli_debug/forward.rs"]
mod forward;
#[path = "cli_debug/sh.rs"]
mod sh;

use common::cli::{run, stdout_of, text};
use common::{ok, until, TestServer, TOKEN};
use sandscope::client::{ExecOptions, Process};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The binary pointed at the test server.
fn cli(t: &TestServer, home: &std::path::Path, argv: &[&str]) -> Command {
    common::cli::against(&t.url, home, argv)
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

    // Over the API's 32 MiB cap, both ways: refused with the sizes, and
    // nothing half-written.
    let r = t
        .exec(&id, &["sh", "-c", "truncate -s 40M /tmp/big 2>/dev/null || dd if=/dev/zero of=/tmp/big bs=1M count=40 2>/dev/null"])
        .await;
    assert_eq!(r.returncode, 0, "{}", r.stderr_text());
    let out = run(
        cli(&t, home.path(), &["files", "get", &id, "/tmp/big", "-"]),
        "get big",
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("exceeds the 33554432-byte limit"),
        "{}",
        text(&out.stderr)
    );
    let big = home.path().join("big.bin");
    let f = ok(std::fs::File::create(&big), "create big");
    ok(f.set_len((32 << 20) + 1), "size big");
    let big_s = big.to_string_lossy().to_string();
    let out = run(
        cli(
            &t,
            home.path(),
            &["files", "put", &id, &big_s, "/tmp/big-up"],
        ),
        "put big",
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("larger than 32 MiB"),
        "{}",
        text(&out.stderr)
    );
    let r = t.exec(&id, &["sh", "-c", "test -e /tmp/big-up"]).await;
    assert_ne!(r.returncode, 0, "a refused put left a file behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_grants_egress_and_get_shows_it() {
    let t = TestServer::start().await;
    let home = ok(tempfile::tempdir(), "home");
    let out = run(
        cli(&t, home.path(), &["create", "--allow-host", "a b"]),
        "bad grant",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not a host name"),
        "{}",
        text(&out.stderr)
    );

    let argv = [
        "create",
        "--allow-host",
        "API.example.com",
        "--allow-host",
        "*.example.org",
        "--allow-net",
        "10.213.9.0/24",
    ];
    let out = run(cli(&t, home.path(), &argv), "create").await;
    let id = stdout_of(&out, "create").trim().to_string();
    let out = run(cli(&t, home.path(), &["get", &id]), "get").await;
    let s = text(&out.stdout);
    let egress: Vec<&str> = s
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("egress:"))
        .map(str::trim)
        .collect();
    assert_eq!(
        egress,
        [
            "api.example.com (https)",
            "*.example.org (https)",
            "10.213.9.0/24"
        ],
        "{s}"
    );
    if t.server
        .as_ref()
        .is_some_and(|s| s.isolation() == "bubblewrap")
    {
        // The grants are the whole of its network: other names do not resolve.
        let r = t
            .exec(&id, &["getent", "hosts", "not-granted.invalid"])
            .await;
        assert_eq!(r.returncode, 2, "{r:?}");
    }
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
    let id = stdout_of(&out, "create").trim().to_string();

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
