//! File-system snapshots through the Rust client and the CLI: taken of a
//! running sandbox and on stop, restored into new sandboxes, kept across a
//! server restart, bounded in size, listed and deleted by id; and what the
//! copy does with a sandbox's symlinks to host files.
mod common;
mod server_support;

use common::cli::{against, run, stdout_of, text};
use common::{args, ok, TOKEN};
use sandscope::client::{Client, Endpoint, Error, SandboxRequest, SnapshotState};
use sandscope::proto::v1 as pb;
use sandscope::server::{RuntimeChoice, Server, ServerConfig};
use server_support::{error_reason, Harness};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

async fn start(data_dir: &Path, max_bytes: u64) -> (Server, Client) {
    start_with(data_dir, max_bytes, RuntimeChoice::Bubblewrap).await
}

async fn start_with(data_dir: &Path, max_bytes: u64, runtime: RuntimeChoice) -> (Server, Client) {
    let mut cfg = ServerConfig::new(
        ok("127.0.0.1:0".parse(), "addr"),
        data_dir.to_path_buf(),
        TOKEN.to_string(),
        runtime,
    );
    cfg.snapshot_max_bytes = max_bytes;
    let server = ok(Server::start(cfg).await, "start server");
    let client = ok(
        Client::connect(Endpoint::new(server.url(), Some(TOKEN.to_string()))).await,
        "connect",
    );
    (server, client)
}

async fn sh(client: &Client, id: &str, script: &str) -> String {
    let p = ok(
        client
            .exec(id, &args(&["sh", "-c", script]), Default::default())
            .await,
        "exec",
    );
    let r = ok(p.result().await, "result");
    assert_eq!(r.returncode, 0, "{script}: {}", r.stderr_text());
    r.stdout_text()
}

fn data_dir() -> tempfile::TempDir {
    ok(
        tempfile::Builder::new()
            .prefix("sandscope-test-")
            .tempdir_in("/var/tmp")
            .or_else(|_| tempfile::tempdir()),
        "temp dir",
    )
}

fn from_snapshot(id: &str) -> SandboxRequest {
    SandboxRequest {
        from_snapshot: Some(id.to_string()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_restore_survive_a_restart_and_are_deleted_by_id() {
    let dir = data_dir();
    let (server, client) = start(dir.path(), 1 << 20).await;

    let sb = ok(client.run(SandboxRequest::default()).await, "run").id;
    sh(
        &client,
        &sb,
        "echo first > /workspace/a.txt; mkdir /workspace/d",
    )
    .await;
    let manual = ok(client.snapshot(&sb, None).await, "snapshot");
    assert_eq!(manual.source_sandbox_id, sb);
    let manual = ok(client.wait_snapshot(&manual.id, WAIT).await, "wait");
    assert_eq!(manual.state, SnapshotState::Ready);
    assert_eq!(manual.size_bytes, 6);
    assert!(!manual.on_stop);

    sh(&client, &sb, "echo second > /workspace/b.txt").await;
    let (_, ids) = ok(
        client
            .stop_with_snapshot(&sb, Duration::ZERO, &["workspace".to_string()])
            .await,
        "stop with snapshot",
    );
    assert_eq!(ids.len(), 1, "{ids:?}");
    let on_stop = ok(client.wait_snapshot(&ids[0], WAIT).await, "wait on stop");
    assert!(on_stop.on_stop);
    assert_eq!(on_stop.size_bytes, 6 + 7);

    // A snapshot over the size limit fails, says why, and leaves no files.
    let big = ok(client.run(SandboxRequest::default()).await, "run big").id;
    sh(&client, &big, "head -c 2000000 /dev/zero > /workspace/big").await;
    let too_big = ok(client.snapshot(&big, None).await, "snapshot big");
    let err = client.wait_snapshot(&too_big.id, WAIT).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("CWSANDBOX_FSS_SIZE_EXCEEDED") && text.contains("1048576 bytes"),
        "{text}"
    );
    let store = dir.path().join("snapshots");
    assert!(!store.join(&too_big.id).join("files").exists());
    // Restoring a failed snapshot is refused as not ready.
    match client.create(from_snapshot(&too_big.id)).await {
        Err(Error::FailedPrecondition(m)) => assert!(m.contains("not ready"), "{m}"),
        other => panic!("restore of a failed snapshot: {other:?}"),
    }
    ok(client.stop(&big, Duration::ZERO).await, "stop big");

    server.shutdown().await;
    let (server, client) = start(dir.path(), 1 << 20).await;

    let listed = ok(client.list_snapshots().await, "list");
    let listed_ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(listed_ids, [&manual.id, &on_stop.id, &too_big.id]);
    let again = ok(client.get_snapshot(&manual.id).await, "get after restart");
    assert_eq!(again.state, SnapshotState::Ready);
    assert_eq!(again.created, manual.created);

    let restored = ok(client.run(from_snapshot(&manual.id)).await, "restore").id;
    assert_eq!(
        sh(&client, &restored, "cat /workspace/a.txt; ls /workspace").await,
        "first\na.txt\nd\n"
    );
    let restored2 = ok(client.run(from_snapshot(&on_stop.id)).await, "restore 2").id;
    assert_eq!(
        sh(&client, &restored2, "cat /workspace/a.txt /workspace/b.txt").await,
        "first\nsecond\n"
    );

    for id in [&manual.id, &on_stop.id, &too_big.id] {
        ok(client.delete_snapshot(id).await, "delete");
        assert!(!store.join(id).exists(), "{id} still on disk");
    }
    assert!(ok(client.list_snapshots().await, "list").is_empty());
    // Deleted, unknown and malformed ids are all "not found".
    for bad in [
        manual.id.as_str(),
        "fss-00000000000000000000000000000000",
        "../sandboxes",
        "",
    ] {
        assert!(
            matches!(client.get_snapshot(bad).await, Err(Error::NotFound(_))),
            "get {bad:?}"
        );
        assert!(
            matches!(client.delete_snapshot(bad).await, Err(Error::NotFound(_))),
            "delete {bad:?}"
        );
        let restore = client.create(from_snapshot(bad)).await;
        assert!(
            match bad {
                "" => matches!(restore, Err(Error::InvalidArgument(_))),
                _ => matches!(restore, Err(Error::NotFound(_))),
            },
            "restore {bad:?}: {restore:?}"
        );
    }
    // The restored sandboxes keep their files.
    assert_eq!(
        sh(&client, &restored, "cat /workspace/a.txt").await,
        "first\n"
    );
    for id in [&restored, &restored2] {
        ok(client.stop(id, Duration::ZERO).await, "stop");
    }
    server.shutdown().await;
}

/// The attack: a sandbox puts symlinks to host files (and to the host's
/// root) in its volume and asks for a snapshot, hoping the server, which
/// reads as root, follows them. The store must hold the links themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_symlinks_to_host_files_are_never_followed() {
    let dir = data_dir();
    let (server, client) = start(dir.path(), 1 << 20).await;
    let sb = ok(client.run(SandboxRequest::default()).await, "run").id;
    let host_secret = dir.path().join("host-secret");
    ok(
        std::fs::write(&host_secret, b"server-only"),
        "write host file",
    );
    let script = format!(
        "cd /workspace && ln -s /etc/shadow shadow && ln -s / root && ln -s {} secret && \
         mkdir sub && ln -s ../../../../etc sub/etc && mkfifo fifo && echo ok > ok",
        host_secret.display()
    );
    sh(&client, &sb, &script).await;
    let snap = ok(client.snapshot(&sb, None).await, "snapshot");
    let snap = ok(client.wait_snapshot(&snap.id, WAIT).await, "wait");
    assert_eq!(snap.size_bytes, 3, "only ./ok was read: {snap:?}");
    assert!(snap.state_reason.contains("/fifo (FIFO)"), "{snap:?}");

    let files = dir.path().join("snapshots").join(&snap.id).join("files");
    for (name, target) in [
        ("shadow", "/etc/shadow".to_string()),
        ("root", "/".to_string()),
        ("secret", host_secret.display().to_string()),
        ("sub/etc", "../../../../etc".to_string()),
    ] {
        let path = files.join(name);
        let meta = ok(std::fs::symlink_metadata(&path), name);
        assert!(meta.file_type().is_symlink(), "{name} is not a symlink");
        assert_eq!(
            ok(std::fs::read_link(&path), name).display().to_string(),
            target
        );
    }
    assert!(!files.join("fifo").exists());
    // Nothing of the server's is readable to others in the store.
    let mode = ok(std::fs::metadata(dir.path().join("snapshots")), "store").permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
    ok(client.stop(&sb, Duration::ZERO).await, "stop");
    server.shutdown().await;
}

/// Volumes at /workspace and inside it, through the raw API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_at_and_under_the_workspace() {
    let h = Harness::start_with(RuntimeChoice::Bubblewrap).await;
    let scratch = |name: &str| pb::SandboxVolume {
        name: name.into(),
        source: Some(pb::sandbox_volume::Source::Scratch(Default::default())),
    };
    let mount = |volume: &str, path: &str| pb::VolumeMount {
        volume: volume.into(),
        mount_path: path.into(),
        ..Default::default()
    };
    let mut spec = server_support::keep_alive();
    spec.volumes = vec![scratch("ws"), scratch("inner")];
    // Listed inner first: the outer one must still not hide it.
    spec.containers[0].volume_mounts = vec![
        mount("inner", "/workspace/data"),
        mount("ws", "/workspace/"),
    ];
    let id = h.running(spec).await;
    let r = h
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "echo w > /workspace/w && echo i > /workspace/data/i && stat -c %u /workspace/data && pwd",
            ],
        )
        .await;
    assert_eq!(r.out(), "0\n/workspace\n", "{}", r.err());
    let snapshot = |volume: &str| pb::CreateFileSystemSnapshotRequest {
        sandbox_id: id.clone(),
        scratch_volume_name: volume.into(),
        ..Default::default()
    };
    let mut client = h.client.clone();
    let ws = ok(
        client.create_file_system_snapshot(snapshot("ws")).await,
        "ws",
    )
    .into_inner();
    let inner = ok(
        client.create_file_system_snapshot(snapshot("inner")).await,
        "inner",
    )
    .into_inner();
    // Several scratch volumes and no name: the client must say which.
    let err = client
        .create_file_system_snapshot(snapshot(""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let err = client
        .create_file_system_snapshot(snapshot("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    for s in [&ws, &inner] {
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            let got = ok(
                client
                    .get_file_system_snapshot(pb::GetFileSystemSnapshotRequest {
                        file_system_snapshot_id: s.file_system_snapshot_id.clone(),
                    })
                    .await,
                "get",
            )
            .into_inner();
            if got.state == pb::SnapshotState::Ready as i32 {
                // Each holds its own 2-byte file: the outer volume only
                // the inner one's mount point, not its contents.
                assert_eq!(got.size_bytes, 2, "{got:?}");
                break;
            }
            assert_eq!(got.state, pb::SnapshotState::Creating as i32, "{got:?}");
            assert!(tokio::time::Instant::now() < until, "not ready: {got:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // A stopped sandbox cannot be snapshotted any more.
    h.delete(&id, 0).await;
    h.wait_for(&id, |s| {
        s == pb::State::Completed || s == pb::State::Terminated
    })
    .await;
    let err = client
        .create_file_system_snapshot(snapshot("ws"))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_SANDBOX_NOT_RUNNING");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_snapshot_create_ls_rm_and_create_from_snapshot() {
    let dir = data_dir();
    let (server, _client) = start(dir.path(), 1 << 20).await;
    let url = server.url();
    let home = ok(tempfile::tempdir(), "home");
    let cli = |argv: &[&str]| against(&url, home.path(), argv);

    let id = stdout_of(&run(cli(&["create"]), "create").await, "create")
        .trim()
        .to_string();
    let o = run(
        cli(&[
            "exec",
            "-s",
            &id,
            "--",
            "sh",
            "-c",
            "echo from-cli > /workspace/f",
        ]),
        "exec",
    )
    .await;
    stdout_of(&o, "exec");
    let snap = stdout_of(
        &run(cli(&["snapshot", "create", &id]), "snapshot create").await,
        "snapshot create",
    )
    .trim()
    .to_string();
    assert!(snap.starts_with("fss-"), "{snap}");

    let ls = stdout_of(&run(cli(&["snapshot", "ls"]), "ls").await, "ls");
    let lines: Vec<&str> = ls.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATE"),
        "{ls}"
    );
    assert!(
        lines[1].starts_with(&snap) && lines[1].contains("ready"),
        "{ls}"
    );
    let json = stdout_of(
        &run(cli(&["snapshot", "get", &snap, "-o", "json"]), "get").await,
        "get",
    );
    let v: serde_json::Value = ok(serde_json::from_str(&json), "json");
    assert_eq!(v["state"], "ready");
    assert_eq!(v["size_bytes"], 9);
    assert_eq!(v["source_sandbox_id"], id.as_str());

    let stopped = stdout_of(
        &run(cli(&["stop", &id, "--grace", "0", "--snapshot"]), "stop").await,
        "stop",
    );
    let on_stop = stopped
        .lines()
        .find_map(|l| l.strip_prefix("snapshot "))
        .unwrap_or_else(|| panic!("no snapshot id in {stopped:?}"))
        .to_string();

    let copy = stdout_of(
        &run(cli(&["create", "--from-snapshot", &snap]), "create from").await,
        "create from",
    )
    .trim()
    .to_string();
    let o = run(
        cli(&["exec", "-s", &copy, "--", "cat", "/workspace/f"]),
        "cat",
    )
    .await;
    assert_eq!(stdout_of(&o, "cat"), "from-cli\n");

    let o = run(cli(&["snapshot", "rm", &snap, &on_stop]), "rm").await;
    assert_eq!(
        stdout_of(&o, "rm"),
        format!("{snap} deleted\n{on_stop} deleted\n")
    );
    let o = run(cli(&["snapshot", "rm", &snap]), "rm again").await;
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not found"), "{}", text(&o.stderr));
    let o = run(
        cli(&["create", "--from-snapshot", "fss-nope"]),
        "create from bad",
    )
    .await;
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not found"), "{}", text(&o.stderr));
    let o = run(cli(&["stop", &copy, "--grace", "0"]), "stop copy").await;
    stdout_of(&o, "stop copy");
    server.shutdown().await;
}

/// Without isolation there are no mounts: the workspace is what is
/// snapshotted and restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_runtime_snapshots_and_restores_the_workspace() {
    let dir = data_dir();
    let (server, client) = start_with(dir.path(), 1 << 20, RuntimeChoice::Host).await;
    let sb = ok(client.run(SandboxRequest::default()).await, "run").id;
    sh(&client, &sb, "echo on-the-host > f").await;
    let snap = ok(client.snapshot(&sb, None).await, "snapshot");
    let snap = ok(client.wait_snapshot(&snap.id, WAIT).await, "wait");
    assert_eq!(snap.size_bytes, 12);
    let copy = ok(client.run(from_snapshot(&snap.id)).await, "restore").id;
    assert_eq!(sh(&client, &copy, "cat f").await, "on-the-host\n");
    for id in [&sb, &copy] {
        ok(client.stop(id, Duration::ZERO).await, "stop");
    }
    server.shutdown().await;
}

/// Every file under `dir`, recursively, without following links.
fn tree(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in ok(std::fs::read_dir(dir), "read store").flatten() {
        let p = e.path();
        if ok(e.file_type(), "type").is_dir() {
            tree(&p, out);
        }
        out.push(p);
    }
}

/// The racing attack: while snapshots are taken, the sandbox keeps
/// swapping a directory of its volume for a symlink to a host directory,
/// hoping the copy checks the directory and then opens the link. No
/// snapshot may hold anything from the host directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_swapping_a_directory_for_a_symlink_during_a_snapshot() {
    let dir = data_dir();
    let (server, client) = start(dir.path(), 1 << 20).await;
    let host_dir = dir.path().join("host-only");
    ok(std::fs::create_dir(&host_dir), "mkdir");
    ok(
        std::fs::write(host_dir.join("host-secret"), b"server-only"),
        "write",
    );
    // A tight loop of system calls, so the link is there often.
    let racer = format!(
        "import os\nos.chdir('/workspace')\nos.mkdir('d')\nopen('d/x', 'w').write('a')\n\
         while True:\n    os.rename('d', 'd.old')\n    os.symlink({:?}, 'd')\n    \
         os.unlink('d')\n    os.rename('d.old', 'd')\n",
        host_dir.display().to_string()
    );
    let sb = ok(
        client
            .run(SandboxRequest {
                command: args(&["python3", "-c", &racer]),
                ..Default::default()
            })
            .await,
        "run",
    )
    .id;
    for _ in 0..100 {
        let snap = ok(client.snapshot(&sb, None).await, "snapshot");
        let snap = ok(client.wait_snapshot(&snap.id, WAIT).await, "wait");
        assert!(snap.size_bytes <= 2, "{snap:?}");
        let files = dir.path().join("snapshots").join(&snap.id).join("files");
        let mut all = Vec::new();
        tree(&files, &mut all);
        for p in &all {
            assert!(
                !p.to_string_lossy().contains("host-secret"),
                "the copy followed the link: {}",
                p.display()
            );
        }
        ok(client.delete_snapshot(&snap.id).await, "delete");
    }
    ok(client.stop(&sb, Duration::ZERO).await, "stop");
    server.shutdown().await;
}
