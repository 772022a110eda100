//! The embedded server's data paths end to end: isolation between
//! sandboxes, cancellation and deadlines, terminals, files, logs, unary
//! Exec and discovery.
mod common;
mod server_support;
use server_support::*;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_are_isolated() {
    let h = Harness::start().await;
    if !h.isolated() {
        eprintln!("bubblewrap unavailable: isolation is not tested");
        h.stop().await;
        return;
    }
    let a = h.running(keep_alive()).await;
    let b = h.running(keep_alive()).await;

    // Only the sandbox's own processes are visible: its pid 1, the main
    // command, its sleep, and the ps itself.
    let r = h.exec(&a, &["ps", "-e", "-o", "pid=,args="]).await;
    let procs: Vec<&str> = r
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert!(procs.len() <= 6, "{procs:?}");
    assert!(
        procs.iter().any(|p| p.contains("sleep infinity")),
        "{procs:?}"
    );
    assert!(!r.out().contains("cargo"), "{}", r.out());

    // Neither the main process nor an exec keeps any capability, so being
    // uid 0 in the sandbox does not allow remounting the host read-write.
    let r = h
        .exec(
            &a,
            &[
                "sh",
                "-c",
                "grep -h CapBnd /proc/2/status /proc/self/status",
            ],
        )
        .await;
    assert_eq!(
        r.out(),
        "CapBnd:\t0000000000000000\nCapBnd:\t0000000000000000\n"
    );
    let r = h.exec(&a, &["mount", "-o", "remount,rw", "/usr"]).await;
    assert_ne!(r.code, Some(0));

    // The server starts processes from a thread of raised priority; the
    // processes themselves run at the server's.
    let here = std::process::Command::new("nice").output().unwrap().stdout;
    let r = h.exec(&a, &["nice"]).await;
    assert_eq!(r.out(), String::from_utf8_lossy(&here), "{}", r.err());

    // An exec starts as a fresh process would: no signal blocked or ignored
    // (the server itself ignores SIGPIPE), no privileges, none to regain.
    let r = h
        .exec(
            &a,
            &[
                "grep",
                "-E",
                "^(SigBlk|SigIgn|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs)",
                "/proc/self/status",
            ],
        )
        .await;
    assert_eq!(
        r.out(),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n\
         CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
         CapEff:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n",
        "{}",
        r.err()
    );

    // The main process holds only its stdio (no descriptor of the server's).
    let r = h.exec(&a, &["ls", "/proc/2/fd"]).await;
    assert_eq!(r.out(), "0\n1\n2\n", "{}", r.err());
    // Nor does an exec.
    let r = h.exec(&a, &["ls", "/proc/self/fd"]).await;
    assert_eq!(r.out(), "0\n1\n2\n3\n", "{}", r.err());

    // A PATH in the request cannot make the server run a program from a
    // host directory the sandbox can write (its own workspace).
    let planted = glob_one(&h.dir.path().join("sandboxes"), &a).join("workspace");
    let marker = h.dir.path().join("planted-ran");
    let script = format!("#!/bin/sh\ntouch {}\n", marker.display());
    for name in ["bwrap", "setpriv", "sh"] {
        let p = planted.join(name);
        std::fs::write(&p, &script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (tx, rx) = mpsc::channel(1);
    let mut env = std::collections::HashMap::new();
    env.insert("PATH".to_string(), planted.to_string_lossy().into_owned());
    tx.send(pb::ExecStreamRequest {
        message: Some(In::Init(pb::ExecStreamInit {
            sandbox_id: a.clone(),
            command: vec!["sh".into()],
            env,
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    drop(tx);
    let mut out = h
        .client
        .clone()
        .stream_exec(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    while let Some(f) = out.message().await.unwrap() {
        if matches!(f.message, Some(Out::Exit(_))) {
            break;
        }
    }
    assert!(!marker.exists(), "a planted program ran on the host");
    for name in ["bwrap", "setpriv", "sh"] {
        std::fs::remove_file(planted.join(name)).unwrap();
    }

    // One exec's files are visible to the next exec and to ReadFile ...
    let r = h
        .exec(
            &a,
            &["sh", "-c", "echo shared > /tmp/note && echo ws > rel.txt"],
        )
        .await;
    assert_eq!(r.code, Some(0), "{}", r.err());
    assert_eq!(h.exec(&a, &["cat", "/tmp/note"]).await.out(), "shared\n");
    let got = h
        .client
        .clone()
        .read_file(pb::ReadFileRequest {
            sandbox_id: a.clone(),
            path: "/workspace/rel.txt".into(),
            container: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.content, b"ws\n");
    // ... but not to another sandbox.
    let r = h.exec(&b, &["cat", "/tmp/note"]).await;
    assert_ne!(r.code, Some(0));
    assert_eq!(h.exec(&b, &["ls", "-A", "/workspace"]).await.out(), "");

    // The host is read-only, and the server's data directory is hidden.
    let r = h
        .exec(&a, &["sh", "-c", "echo x > /usr/sandscope-test"])
        .await;
    assert_ne!(r.code, Some(0));
    assert!(!std::path::Path::new("/usr/sandscope-test").exists());
    let data = h.dir.path().canonicalize().unwrap();
    let r = h.exec(&a, &["ls", "-A", data.to_str().unwrap()]).await;
    assert_eq!(r.out(), "");
    // So are root's and users' home directories and the password hashes.
    let r = h
        .exec(&a, &["sh", "-c", "ls -A /root /home; cat /etc/shadow"])
        .await;
    assert_eq!(r.out(), "/home:\n\n/root:\n", "{}", r.err());
    // Networking is off unless egress is allowed, and egress is a network
    // of the sandbox's own (user-mode), never the host's interfaces.
    let ifaces = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect();
        v.sort();
        v
    };
    let count = |text: &str| ifaces(text).len();
    let r = h.exec(&a, &["cat", "/proc/net/dev"]).await;
    assert_eq!(count(&r.out()), 1, "only loopback: {}", r.out());
    let mut open = keep_alive();
    open.network = Some(pb::NetworkOptions {
        deny_egress: Some(false),
        ..Default::default()
    });
    let c = h.running(open).await;
    let r = h.exec(&c, &["cat", "/proc/net/dev"]).await;
    assert_eq!(ifaces(&r.out()), vec!["lo", "tap0"], "{}", r.err());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_the_process_group() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    let marker = format!("{}", 900_000 + std::process::id() % 99_999);
    let script = format!("sleep {marker} & sleep {marker}; wait");
    let (tx, out) = h.open_exec(init(&id, &["sh", "-c", &script])).await;
    wait_until("both sleeps to run", || {
        pids_with(&format!("sleep {marker}")).len() == 2
    })
    .await;
    // Cancel: drop the response stream and the request side.
    drop(out);
    drop(tx);
    wait_until("the process group to die", || {
        pids_with(&format!("sleep {marker}")).is_empty()
    })
    .await;
    // The sandbox itself is untouched.
    assert_eq!(
        h.exec(&id, &["echo", "still here"]).await.out(),
        "still here\n"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_kills_and_reports_timeout() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    let marker = format!("{}", 800_000 + std::process::id() % 99_999);
    let (tx, rx) = mpsc::channel(4);
    tx.send(init(&id, &["sleep", &marker])).await.unwrap();
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    req.set_timeout(Duration::from_millis(700));
    let mut out = h
        .client
        .clone()
        .stream_exec(req)
        .await
        .unwrap()
        .into_inner();
    let mut frames = Vec::new();
    let err = loop {
        match out.message().await {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => panic!("stream ended without an error after {frames:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert_eq!(error_reason(&err), "CWSANDBOX_COMMAND_TIMEOUT");
    wait_until("the timed-out process to die", || {
        pids_with(&format!("sleep {marker}")).is_empty()
    })
    .await;
    drop(tx);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tty_exec_with_resize() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    let (tx, mut out) = h
        .open_exec(pb::ExecStreamRequest {
            message: Some(In::Init(pb::ExecStreamInit {
                sandbox_id: id.clone(),
                command: vec!["sh".into()],
                tty: true,
                tty_width: 100,
                tty_height: 30,
                ..Default::default()
            })),
        })
        .await;
    let stdin = |s: &str| pb::ExecStreamRequest {
        message: Some(In::Stdin(bytes::Bytes::copy_from_slice(s.as_bytes()))),
    };
    tx.send(stdin("test -t 0 && echo IS-A-TTY; stty size\n"))
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("30 100") {
        match out.message().await.unwrap().unwrap().message {
            Some(Out::Output(o)) => seen.push_str(&String::from_utf8_lossy(&o.data)),
            other => panic!("unexpected {other:?} after {seen:?}"),
        }
    }
    assert!(seen.contains("IS-A-TTY"), "{seen}");
    tx.send(pb::ExecStreamRequest {
        message: Some(In::Resize(pb::ExecStreamResize {
            width: 120,
            height: 40,
        })),
    })
    .await
    .unwrap();
    tx.send(stdin("stty size; exit 5\n")).await.unwrap();
    let mut code = None;
    while let Some(f) = out.message().await.unwrap() {
        match f.message {
            Some(Out::Output(o)) => seen.push_str(&String::from_utf8_lossy(&o.data)),
            Some(Out::Exit(e)) => {
                code = Some(e.exit_code);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(seen.contains("40 120"), "{seen}");
    assert_eq!(code, Some(5), "{seen}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_and_errors() {
    let h = Harness::start().await;
    let mut spec = keep_alive();
    spec.volumes.push(pb::SandboxVolume {
        name: "scratch".into(),
        source: Some(pb::sandbox_volume::Source::Scratch(pb::ScratchVolume {
            size: "1Gi".into(),
            ..Default::default()
        })),
    });
    spec.containers[0].volume_mounts.push(pb::VolumeMount {
        volume: "scratch".into(),
        mount_path: "/mnt/scratch".into(),
        ..Default::default()
    });
    let id = h.running(spec).await;
    let mut c = h.client.clone();
    let write = |path: &str, content: Vec<u8>| pb::WriteFileRequest {
        sandbox_id: id.clone(),
        path: path.into(),
        content,
        container: String::new(),
    };
    let read = |path: &str| pb::ReadFileRequest {
        sandbox_id: id.clone(),
        path: path.into(),
        container: String::new(),
    };

    let bytes: Vec<u8> = (0..=255u8).cycle().take(5 << 20).collect();
    c.write_file(write("nested/dir/blob.bin", bytes.clone()))
        .await
        .unwrap();
    assert!(
        c.read_file(read("nested/dir/blob.bin"))
            .await
            .unwrap()
            .into_inner()
            .content
            == bytes
    );
    let r = h
        .exec(&id, &["sh", "-c", "wc -c < nested/dir/blob.bin"])
        .await;
    assert_eq!(r.out().trim(), (5 << 20).to_string());

    if h.isolated() {
        // Scratch volumes: written by an exec, read by the RPC.
        assert_eq!(
            h.exec(&id, &["sh", "-c", "echo vol > /mnt/scratch/v.txt"])
                .await
                .code,
            Some(0)
        );
        assert_eq!(
            c.read_file(read("/mnt/scratch/v.txt"))
                .await
                .unwrap()
                .into_inner()
                .content,
            b"vol\n"
        );
        let err = c
            .write_file(write("/usr/sandscope-denied", b"x".to_vec()))
            .await
            .unwrap_err();
        assert_eq!(
            error_reason(&err),
            "CWSANDBOX_FILE_PERMISSION_DENIED",
            "{err:?}"
        );
        assert!(!std::path::Path::new("/usr/sandscope-denied").exists());
        // A symlink to a host path resolves inside the sandbox, where the
        // server's data directory is hidden.
        let secret = h.dir.path().canonicalize().unwrap().join("secret");
        std::fs::write(&secret, b"host only").unwrap();
        let link = format!("ln -s {} /workspace/escape", secret.display());
        assert_eq!(h.exec(&id, &["sh", "-c", &link]).await.code, Some(0));
        let err = c.read_file(read("/workspace/escape")).await.unwrap_err();
        assert_eq!(error_reason(&err), "CWSANDBOX_FILE_NOT_FOUND");
    }

    // A FIFO planted in the sandbox cannot hang the file RPCs.
    let r = h.exec(&id, &["mkfifo", "fifo"]).await;
    assert_eq!(r.code, Some(0), "{}", r.err());
    let err = c
        .write_file(write("fifo", b"x".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_FILE_IO_FAILED");
    let err = c.read_file(read("fifo")).await.unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_FILE_IO_FAILED");

    let err = c.read_file(read("/no/such/file")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(error_reason(&err), "CWSANDBOX_FILE_NOT_FOUND");
    assert_eq!(
        error_meta(&err, "filepath").as_deref(),
        Some("/no/such/file")
    );
    let err = c.read_file(read("nested")).await.unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_FILE_IS_DIRECTORY");
    let err = c
        .write_file(write("big", vec![0u8; (32 << 20) + 1]))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_FILE_TOO_LARGE");
    assert_eq!(
        error_meta(&err, "size_bytes").as_deref(),
        Some(((32u64 << 20) + 1).to_string().as_str())
    );
    let r = h
        .exec(&id, &["sh", "-c", "head -c 33554433 /dev/zero > big2"])
        .await;
    assert_eq!(r.code, Some(0));
    let err = c.read_file(read("big2")).await.unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_FILE_TOO_LARGE");
    assert_eq!(error_meta(&err, "size_bytes").as_deref(), Some("33554433"));
    let err = c
        .read_file(pb::ReadFileRequest {
            sandbox_id: "nope".into(),
            path: "/x".into(),
            container: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_SANDBOX_NOT_FOUND");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tail_timestamps_follow_and_resume() {
    let h = Harness::start().await;
    let script = "for i in 1 2 3 4 5; do echo line-$i; done; echo oops >&2; echo last";
    let sb = h.create(spec_with(&["sh", "-c", script])).await;
    let id = sb.sandbox_id.clone();
    let logs = |req: pb::StreamLogsRequest| h.logs(req);

    // Follow from the start: everything, then the stream ends with the process.
    let all = logs(pb::StreamLogsRequest {
        sandbox_id: id.clone(),
        follow: true,
        ..Default::default()
    })
    .await;
    // stdout and stderr share one pipe, so the order is the order of writing.
    let text = joined(&all);
    assert_eq!(text, "line-1\nline-2\nline-3\nline-4\nline-5\noops\nlast\n");
    let session = all[0].log_session_id.clone();
    assert!(!session.is_empty());
    let mut offset = 0;
    for e in &all {
        offset += e.data.len() as u64;
        assert_eq!(e.next_log_offset, offset);
        assert_eq!(e.log_session_id, session);
    }
    h.wait_for(&id, |s| s == pb::State::Completed).await;

    let tail = logs(pb::StreamLogsRequest {
        sandbox_id: id.clone(),
        tail_lines: 2,
        timestamps: true,
        ..Default::default()
    })
    .await;
    let tail_text = joined(&tail);
    let tail_lines: Vec<&str> = tail_text.lines().collect();
    assert_eq!(tail_lines.len(), 2, "{tail_text}");
    for (l, want) in tail_lines.iter().zip(["oops", "last"]) {
        let (ts, rest) = l.split_once(' ').unwrap();
        assert!(ts.ends_with('Z') && ts.contains('T'), "{l}");
        assert_eq!(rest, want);
    }

    // Resume the first session in the middle of a record.
    let resumed = logs(pb::StreamLogsRequest {
        sandbox_id: id.clone(),
        resume_log_session_id: session.clone(),
        resume_log_offset: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(joined(&resumed), text[10..]);
    assert_eq!(resumed.last().unwrap().next_log_offset, offset);

    let bad = logs(pb::StreamLogsRequest {
        sandbox_id: id.clone(),
        resume_log_session_id: "nope".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].error.as_ref().unwrap().code, "SESSION_NOT_FOUND");

    // The default keep-alive prints nothing.
    let quiet = h.running(keep_alive()).await;
    let none = logs(pb::StreamLogsRequest {
        sandbox_id: quiet,
        tail_lines: 10,
        ..Default::default()
    })
    .await;
    assert!(none.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_exec_truncates_and_discovery_describes_this_machine() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    let resp = h
        .client
        .clone()
        .exec(pb::ExecRequest {
            sandbox_id: id.clone(),
            command: vec![
                "sh".into(),
                "-c".into(),
                "head -c 1000 /dev/zero; echo err >&2; exit 4".into(),
            ],
            max_output_bytes: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.exit_code, 4);
    assert_eq!(resp.stdout.len(), 100);
    assert!(resp.stdout_truncated);
    assert_eq!(resp.stdout_bytes_produced, 1000);
    assert_eq!(resp.stderr, b"err\n");
    assert!(!resp.stderr_truncated);

    let mut d = connect_discovery(&h.server().url(), Some(TOKEN)).await;
    let list = d
        .list_available_runners(pb::ListAvailableRunnersRequest {
            view: pb::RunnerView::Full as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.runners.len(), 1);
    let r = &list.runners[0];
    assert_eq!((r.runner_id.as_str(), r.healthy), ("local", true));
    let res = r.resources.as_ref().unwrap();
    assert!(res.available_cpu_millicores >= 500 && res.available_memory_bytes >= 256 << 20);
    assert_eq!(res.running_sandboxes, 1);
    let caps = r.capabilities.as_ref().unwrap();
    assert_eq!(
        caps.supported_service_visibilities,
        [
            pb::Visibility::Public as i32,
            pb::Visibility::Private as i32
        ]
    );
    let by_visibility = |v: pb::Visibility| {
        let mut d = d.clone();
        async move {
            d.list_available_runners(pb::ListAvailableRunnersRequest {
                service_visibility: v as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .runners
            .len()
        }
    };
    assert_eq!(by_visibility(pb::Visibility::Public).await, 1);
    assert_eq!(by_visibility(pb::Visibility::Private).await, 1);
    assert_eq!(by_visibility(pb::Visibility::Custom).await, 0);
    let err = d
        .get_available_runner(pb::GetAvailableRunnerRequest {
            runner_id: "remote".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_RUNNER_NOT_FOUND");
    let err = h
        .client
        .clone()
        .connect_sandbox(pb::ConnectSandboxRequest {
            sandbox_id: id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_streams_and_backpressure() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    // 20 MiB in through stdin, back out through stdout.
    let big: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    let r = h
        .exec_with(
            &id,
            &["sh", "-c", "cat > big.bin; wc -c < big.bin"],
            Some(big.clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.out().trim(), (20u32 << 20).to_string(), "{}", r.err());
    let r = h.exec(&id, &["cat", "big.bin"]).await;
    assert!(r.stdout == big);

    // A reader that stops reading stops the writer: the server does not
    // buffer unboundedly on its behalf.
    let script = "i=0; while :; do head -c 65536 /dev/zero; i=$((i+1)); echo $i > count; done";
    let (tx, mut out) = h.open_exec(init(&id, &["sh", "-c", script])).await;
    let _first = out.message().await.unwrap();
    let read_count = || async {
        let resp = h
            .client
            .clone()
            .read_file(pb::ReadFileRequest {
                sandbox_id: id.clone(),
                path: "count".into(),
                container: String::new(),
            })
            .await;
        resp.ok()
            .and_then(|r| String::from_utf8(r.into_inner().content).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Wait until the writer is blocked (the count stops moving).
    let mut last = read_count().await;
    let mut stable = 0;
    while stable < 10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = read_count().await;
        if now == last {
            stable += 1;
        } else {
            stable = 0;
            last = now;
        }
    }
    // 64 KiB blocks: pipe + bounded channels + HTTP/2 windows, far below
    // what an unbounded buffer would have taken in by now.
    assert!(
        last < 400,
        "the writer produced {last} blocks while nobody read"
    );
    drop(out);
    drop(tx);
    h.stop().await;
}

/// `<base>/<run dir>/<name>`: the per-sandbox directory on the host.
fn glob_one(base: &std::path::Path, name: &str) -> std::path::PathBuf {
    for run in std::fs::read_dir(base).unwrap().flatten() {
        let p = run.path().join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("no directory for sandbox {name} under {}", base.display());
}
