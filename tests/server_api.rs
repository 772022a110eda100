//! The embedded server end to end, through the generated gRPC client:
//! lifecycle, exec, auth and listing against real processes.
mod common;
mod server_support;
use server_support::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_exec_basics() {
    let h = Harness::start().await;
    let sb = h.create(keep_alive()).await;
    assert!(!sb.sandbox_id.is_empty());
    let st = sb.status.as_ref().unwrap();
    assert!(matches!(
        state(&sb),
        pb::State::Creating | pb::State::Running
    ));
    assert!(st.create_time.is_some());
    assert_eq!(st.runner_id, "local");
    assert_eq!(st.effective_runtime_class, "<node-default>");
    let id = sb.sandbox_id.clone();
    let running = h.wait_for(&id, |s| s == pb::State::Running).await;
    assert!(running.status.unwrap().start_time.is_some());

    let r = h.exec(&id, &["echo", "hello", "world"]).await;
    assert_eq!(r.out(), "hello world\n");
    assert_eq!(r.code, Some(0));

    let r = h
        .exec(&id, &["sh", "-c", "echo out; echo err >&2; exit 7"])
        .await;
    assert_eq!(
        (r.out().as_str(), r.err().as_str(), r.code),
        ("out\n", "err\n", Some(7))
    );

    let r = h
        .exec_with(&id, &["cat"], Some(b"line 1\nline 2\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(r.out(), "line 1\nline 2\n");
    let r = h
        .exec_with(&id, &["sort"], Some(b"banana\napple\ncherry\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(r.out(), "apple\nbanana\ncherry\n");

    let del = h.delete(&id, 10).await;
    let st = state(del.sandbox.as_ref().unwrap());
    assert!(
        matches!(st, pb::State::Terminating | pb::State::Completed),
        "{st:?}"
    );
    let done = h.wait_for(&id, |s| s == pb::State::Completed).await;
    // The keep-alive traps TERM and exits 0.
    assert_eq!(done.status.unwrap().exit_code, Some(0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uses_bubblewrap_when_available() {
    let h = Harness::start().await;
    if bwrap_here() && std::env::var("SANDSCOPE_TEST_RUNTIME").as_deref() != Ok("host") {
        assert_eq!(h.server().isolation(), "bubblewrap");
    } else {
        assert_eq!(h.server().isolation(), "host (NO ISOLATION)");
        let sb = h.create(keep_alive()).await;
        assert!(sb.status.unwrap().state_reason.contains("NO ISOLATION"));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natural_exit_and_start_failure() {
    let h = Harness::start().await;
    let sb = h.create(spec_with(&["sh", "-c", "echo bye; exit 3"])).await;
    let done = h
        .wait_for(&sb.sandbox_id, |s| s == pb::State::Completed)
        .await;
    let st = done.status.unwrap();
    assert_eq!(st.exit_code, Some(3));
    assert!(st.end_time.is_some());

    let sb = h.create(spec_with(&["/definitely/not/here"])).await;
    let failed = h.wait_for(&sb.sandbox_id, |s| s == pb::State::Failed).await;
    let reason = failed.status.unwrap().state_reason;
    assert!(reason.starts_with("StartError:"), "{reason}");

    // A sandbox that cannot be set up fails with the runtime's reason.
    let bad = spec_with(&["/no-such-dir/no-such-program"]);
    let sb2 = h.create(bad).await;
    let failed = h
        .wait_for(&sb2.sandbox_id, |s| s == pb::State::Failed)
        .await;
    let reason = failed.status.unwrap().state_reason;
    assert!(
        reason.starts_with("StartError:") && reason.len() > 12,
        "{reason}"
    );

    // Terminal records stay readable, and Delete on them is a no-op.
    let again = h.get(&sb.sandbox_id).await;
    assert_eq!(state(&again), pb::State::Failed);
    let del = h.delete(&sb.sandbox_id, 0).await;
    assert_eq!(state(del.sandbox.as_ref().unwrap()), pb::State::Failed);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_semantics() {
    let h = Harness::start().await;
    // Delete straight after create: terminal at once.
    let sb = h.create(keep_alive()).await;
    let del = h.delete(&sb.sandbox_id, 10).await;
    let st = state(del.sandbox.as_ref().unwrap());
    assert!(
        matches!(st, pb::State::Completed | pb::State::Terminating),
        "{st:?}"
    );
    h.wait_for(&sb.sandbox_id, |s| s == pb::State::Completed)
        .await;

    // A main process that ignores SIGTERM is killed after the grace.
    let id = h
        .running(spec_with(&[
            "sh",
            "-c",
            "trap '' TERM; : > trapped; while :; do sleep 0.1; done",
        ]))
        .await;
    // Running means started, not that the trap is set yet: a SIGTERM
    // before that would end the shell with 143.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.exec(&id, &["test", "-e", "trapped"]).await.code != Some(0) {
        assert!(std::time::Instant::now() < until, "the trap was never set");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let del = h.delete(&id, 1).await;
    assert_eq!(state(del.sandbox.as_ref().unwrap()), pb::State::Terminating);
    assert_eq!(state(&h.get(&id).await), pb::State::Terminating);
    let done = h.wait_for(&id, |s| s == pb::State::Completed).await;
    assert_eq!(done.status.unwrap().exit_code, Some(137));

    // Unknown ids: NOT_FOUND, or an empty OK with allow_missing.
    let err = h
        .client
        .clone()
        .delete_sandbox(pb::DeleteSandboxRequest {
            sandbox_id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(error_reason(&err), "CWSANDBOX_SANDBOX_NOT_FOUND");
    let ok = h
        .client
        .clone()
        .delete_sandbox(pb::DeleteSandboxRequest {
            sandbox_id: "nope".into(),
            allow_missing: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.sandbox.is_none());
    let err = h
        .client
        .clone()
        .get_sandbox(pb::GetSandboxRequest {
            sandbox_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_SANDBOX_NOT_FOUND");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lifetime_stops_the_sandbox() {
    let h = Harness::start().await;
    let mut spec = keep_alive();
    spec.max_lifetime_seconds = 1;
    let sb = h.create(spec).await;
    assert_eq!(
        sb.status.as_ref().unwrap().effective_max_lifetime_seconds,
        1
    );
    let done = h
        .wait_for(&sb.sandbox_id, |s| s == pb::State::Completed)
        .await;
    assert_eq!(done.status.unwrap().exit_code, Some(0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_is_idempotent_and_echoes_the_request() {
    let h = Harness::start().await;
    let mut spec = keep_alive();
    spec.runtime_class = "gvisor".into();
    let rr = pb::ResourceRequirements {
        requests: Some(pb::Resources {
            cpu: "500m".into(),
            memory: "512Mi".into(),
            gpu: None,
        }),
        limits: Some(pb::Resources {
            cpu: "1".into(),
            memory: "1Gi".into(),
            gpu: None,
        }),
    };
    spec.containers[0].resource_requirements = Some(rr.clone());
    let req = pb::CreateSandboxRequest {
        sandbox: Some(pb::Sandbox {
            spec: Some(spec),
            ..Default::default()
        }),
        request_id: "req-1".into(),
    };
    let a = h
        .client
        .clone()
        .create_sandbox(req.clone())
        .await
        .unwrap()
        .into_inner();
    let b = h
        .client
        .clone()
        .create_sandbox(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.sandbox_id, b.sandbox_id);
    let st = a.status.unwrap();
    assert_eq!(st.effective_runtime_class, "gvisor");
    assert_eq!(st.effective_resource_requirements, Some(rr));

    // Unsupported shapes are refused with the documented reasons.
    let mut two = keep_alive();
    two.containers.push(two.containers[0].clone());
    let err = h.try_create(two).await.unwrap_err();
    assert_eq!(
        (err.code(), error_reason(&err).as_str()),
        (Code::Unimplemented, "CWSANDBOX_NOT_IMPLEMENTED")
    );
    let mut pinned = keep_alive();
    pinned.runner_ids = vec!["elsewhere".into()];
    let err = h.try_create(pinned).await.unwrap_err();
    assert_eq!(error_reason(&err), "CWSANDBOX_NO_SUITABLE_RUNNER");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_pages() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for tags in [vec!["team-a", "x"], vec!["team-a"], vec!["team-b", "x"]] {
        let mut spec = keep_alive();
        spec.tags = tags.into_iter().map(String::from).collect();
        ids.push(h.create(spec).await.sandbox_id);
    }
    let list = |req: pb::ListSandboxesRequest| {
        let mut c = h.client.clone();
        async move { c.list_sandboxes(req).await.unwrap().into_inner() }
    };
    let names = |r: &pb::ListSandboxesResponse| {
        r.sandboxes
            .iter()
            .map(|s| s.sandbox_id.clone())
            .collect::<Vec<_>>()
    };

    let all = list(pb::ListSandboxesRequest::default()).await;
    // Newest first.
    assert_eq!(
        names(&all),
        vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
    let r = list(pb::ListSandboxesRequest {
        tags: vec!["team-a".into(), "x".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(names(&r), vec![ids[0].clone()]);
    let r = list(pb::ListSandboxesRequest {
        tags: vec!["x".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(names(&r), vec![ids[2].clone(), ids[0].clone()]);

    let p1 = list(pb::ListSandboxesRequest {
        page_size: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(p1.sandboxes.len(), 2);
    assert!(!p1.next_page_token.is_empty());
    let p2 = list(pb::ListSandboxesRequest {
        page_size: 2,
        page_token: p1.next_page_token.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(names(&p2), vec![ids[0].clone()]);
    assert!(p2.next_page_token.is_empty());

    // Terminal sandboxes only show up when asked for.
    h.delete(&ids[1], 0).await;
    h.wait_for(&ids[1], |s| s == pb::State::Completed).await;
    let r = list(pb::ListSandboxesRequest::default()).await;
    assert!(!names(&r).contains(&ids[1]));
    let r = list(pb::ListSandboxesRequest {
        show_terminated: true,
        ..Default::default()
    })
    .await;
    assert!(names(&r).contains(&ids[1]));
    let r = list(pb::ListSandboxesRequest {
        state: pb::State::Completed as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(names(&r), vec![ids[1].clone()]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_needs_the_token() {
    let h = Harness::start().await;
    for token in [None, Some("wrong-token")] {
        let mut c = connect(&h.server().url(), token).await;
        let err = c
            .list_sandboxes(pb::ListSandboxesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let err = c
            .get_sandbox(pb::GetSandboxRequest {
                sandbox_id: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let (_tx, rx) = mpsc::channel::<pb::ExecStreamRequest>(1);
        let err = c.stream_exec(ReceiverStream::new(rx)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let mut d = connect_discovery(&h.server().url(), token).await;
        let err = d
            .list_available_runners(pb::ListAvailableRunnersRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_errors() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;

    let err = h.exec_with(&id, &[], None).await.unwrap_err();
    assert_eq!(
        (err.code(), error_reason(&err).as_str()),
        (Code::InvalidArgument, "CWSANDBOX_INVALID_REQUEST")
    );
    let err = h
        .exec_with("no-such-sandbox", &["true"], None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), error_reason(&err).as_str()),
        (Code::NotFound, "CWSANDBOX_SANDBOX_NOT_FOUND")
    );

    // A first frame that is not init.
    let (tx, rx) = mpsc::channel(1);
    tx.send(pb::ExecStreamRequest {
        message: Some(In::Stdin(bytes::Bytes::from_static(b"x"))),
    })
    .await
    .unwrap();
    let err = h
        .client
        .clone()
        .stream_exec(ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let r = h.exec(&id, &["no-such-command-xyz"]).await;
    assert_eq!(r.code, Some(127));
    assert_eq!(r.err(), "no-such-command-xyz: command not found\n");
    let r = h.exec(&id, &["/etc/passwd"]).await;
    assert_eq!(r.code, Some(126), "{r:?}");
    // An executable file without `#!` runs with the shell, as execvp does.
    let r = h
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "printf 'echo \"from a script: $1\"\\n' > s && chmod +x s",
            ],
        )
        .await;
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = h.exec(&id, &["./s", "arg"]).await;
    assert_eq!(r.out(), "from a script: arg\n", "{r:?}");

    h.delete(&id, 0).await;
    h.wait_for(&id, |s| s == pb::State::Completed).await;
    let err = h.exec_with(&id, &["true"], None).await.unwrap_err();
    assert_eq!(
        (err.code(), error_reason(&err).as_str()),
        (Code::FailedPrecondition, "CWSANDBOX_SANDBOX_NOT_RUNNING")
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_bytes_env_and_spec() {
    let h = Harness::start().await;
    let mut spec = keep_alive();
    let c = &mut spec.containers[0];
    c.environment_variables
        .insert("GREETING".into(), "hi there".into());
    c.working_dir = "/tmp".into();
    c.files.push(pb::FileMount {
        path: "/opt/app/data.txt".into(),
        content: b"from spec\n".to_vec(),
    });
    let id = h.running(spec).await;

    let r = h
        .exec(
            &id,
            &["sh", "-c", "pwd; echo \"$GREETING\"; cat /opt/app/data.txt"],
        )
        .await;
    if h.isolated() {
        assert_eq!(r.out(), "/tmp\nhi there\nfrom spec\n", "{}", r.err());
    } else {
        assert!(r.out().starts_with("/tmp\nhi there\n"), "{r:?}");
    }
    // The server's own environment does not leak in (cargo sets CARGO_* for tests).
    let r = h.exec(&id, &["env"]).await;
    assert!(!r.out().contains("CARGO_"), "{}", r.out());
    assert!(r.out().contains("PATH=/usr/local/sbin:"), "{}", r.out());

    // Arbitrary bytes survive both directions.
    let all: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let r = h.exec_with(&id, &["cat"], Some(all.clone())).await.unwrap();
    assert_eq!(r.stdout.len(), all.len());
    assert!(r.stdout == all);
    let r = h.exec(&id, &["printf", "\\377\\376\\000x"]).await;
    assert_eq!(r.stdout, vec![0xff, 0xfe, 0x00, b'x']);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_runtime_works_and_says_it_is_unisolated() {
    let h = Harness::start_with(sandscope::server::RuntimeChoice::Host).await;
    assert_eq!(h.server().isolation(), "host (NO ISOLATION)");
    let mut spec = keep_alive();
    spec.containers[0].files.push(pb::FileMount {
        path: "rel/data.txt".into(),
        content: b"relative spec file\n".to_vec(),
    });
    let id = h.running(spec).await;
    // A relative spec file lands in the workspace, the main command's cwd.
    let r = h.exec(&id, &["cat", "rel/data.txt"]).await;
    assert_eq!(r.out(), "relative spec file\n", "{}", r.err());
    let sb = h.get(&id).await;
    let reason = sb.status.unwrap().state_reason;
    assert!(reason.contains("NO ISOLATION"), "{reason}");
    // Chosen, not a fallback: the warning must not blame bubblewrap.
    assert!(reason.contains("host runtime chosen"), "{reason}");

    let r = h.exec(&id, &["sh", "-c", "echo $TMPDIR; pwd"]).await;
    let out = r.out();
    let mut lines = out.lines();
    let tmp = lines.next().unwrap();
    let cwd = lines.next().unwrap();
    assert!(tmp.starts_with(cwd), "{out}");
    assert!(
        cwd.starts_with(h.dir.path().canonicalize().unwrap().to_str().unwrap()),
        "{out}"
    );
    let r = h
        .exec_with(&id, &["cat"], Some(b"through the host\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(r.out(), "through the host\n");
    let r = h.exec(&id, &["no-such-command-xyz"]).await;
    assert_eq!(r.code, Some(127));
    assert!(r.err().contains("no-such-command-xyz"));

    let mut c = h.client.clone();
    c.write_file(pb::WriteFileRequest {
        sandbox_id: id.clone(),
        path: "sub/f.txt".into(),
        content: b"hello".to_vec(),
        container: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(h.exec(&id, &["cat", "sub/f.txt"]).await.out(), "hello");

    // A long-running exec is killed with the sandbox.
    let marker = format!("{}", 700_000 + std::process::id() % 99_999);
    let (tx, mut out) = h.open_exec(init(&id, &["sleep", &marker])).await;
    wait_until("the exec to run", || {
        !pids_with(&format!("sleep {marker}")).is_empty()
    })
    .await;
    h.delete(&id, 5).await;
    let done = h.wait_for(&id, |s| s == pb::State::Completed).await;
    assert_eq!(done.status.unwrap().exit_code, Some(0));
    wait_until("the exec to be killed", || {
        pids_with(&format!("sleep {marker}")).is_empty()
    })
    .await;
    let mut exit = None;
    while let Some(f) = out.message().await.unwrap() {
        if let Some(Out::Exit(e)) = f.message {
            exit = Some(e.exit_code);
        }
    }
    assert_eq!(exit, Some(137));
    drop(tx);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_ends_when_background_children_keep_the_pipes() {
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    // A silent child holding stdout open does not delay the exit frame.
    let r = h
        .exec(&id, &["sh", "-c", "sleep 30 & echo hi; exit 3"])
        .await;
    assert_eq!((r.out().as_str(), r.code), ("hi\n", Some(3)));
    // Nor does one that never stops writing.
    let r = h
        .exec(
            &id,
            &["sh", "-c", "(while :; do echo spam; done) & echo started"],
        )
        .await;
    assert!(r.out().lines().any(|l| l == "started"));
    assert_eq!(r.code, Some(0));
    // The sandbox still serves new execs.
    assert_eq!(h.exec(&id, &["echo", "ok"]).await.out(), "ok\n");
    // The background processes end with the sandbox, on the host runtime too.
    let data = h.dir.path().canonicalize().unwrap();
    let data = data.to_str().unwrap().to_string();
    h.delete(&id, 1).await;
    h.wait_for(&id, |s| s == pb::State::Completed).await;
    server_support::serve::wait_none_left("deleted sandbox", || {
        server_support::serve::pids_mentioning(&data)
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_leave_no_processes() {
    for graceful in [true, false] {
        let mut h = Harness::start().await;
        let data = h.dir.path().canonicalize().unwrap();
        let data = data.to_str().unwrap().to_string();
        let a = h.running(keep_alive()).await;
        let _b = h
            .running(spec_with(&["sh", "-c", "trap '' TERM; sleep 1000"]))
            .await;
        let marker = format!("{}", 600_000 + std::process::id() % 99_999);
        let (tx, _out) = h.open_exec(init(&a, &["sleep", &marker])).await;
        wait_until("the exec to run", || {
            !pids_with(&format!("sleep {marker}")).is_empty()
        })
        .await;
        assert_eq!(h.server().active_sandboxes().await, 2);
        if !h.isolated() {
            // The host runtime's processes do not carry the data dir.
            h.stop().await;
            wait_until("the exec to end", || {
                pids_with(&format!("sleep {marker}")).is_empty()
            })
            .await;
            return;
        }
        assert!(!pids_containing(&data).is_empty());
        if graceful {
            h.stop().await;
        } else {
            drop(h.server.take());
        }
        wait_until("every sandbox process to end", || {
            pids_containing(&data).is_empty() && pids_with(&format!("sleep {marker}")).is_empty()
        })
        .await;
        drop(tx);
    }
}

/// A stop that lands while bubblewrap is still building the sandbox
/// abandons the launch; that must not leave bubblewrap's inner process
/// (already in the sandbox's namespaces, not yet tied to the outer one)
/// waiting forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_creation_leaves_no_processes() {
    let h = Harness::start().await;
    let data = h.dir.path().canonicalize().unwrap();
    let data = data.to_str().unwrap().to_string();
    let mut ids = Vec::new();
    for _ in 0..16 {
        let sb = h.create(keep_alive()).await;
        h.delete(&sb.sandbox_id, 1).await;
        ids.push(sb.sandbox_id);
    }
    for id in &ids {
        h.wait_for(id, |s| {
            matches!(s, pb::State::Completed | pb::State::Failed)
        })
        .await;
    }
    assert_eq!(h.server().active_sandboxes().await, 0);
    wait_until("every sandbox process to end", || {
        pids_containing(&data).is_empty()
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_served_without_a_token() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{health_check_response::ServingStatus, HealthCheckRequest};
    let h = Harness::start().await;
    let mut health = HealthClient::new(channel(&h.server().url()).await);
    let resp = health
        .check(HealthCheckRequest {
            service: "coreweave.sandbox.v1.SandboxService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status, ServingStatus::Serving as i32);
    h.stop().await;
}

/// A server killed with SIGKILL (or crashing, or a test panicking before
/// shutdown) gets no chance to stop its sandboxes: the kernel must take
/// them down with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_takes_its_sandboxes_along() {
    // The host runtime has no namespace that would end with bubblewrap.
    for runtime in ["auto", "host"] {
        killed_server_takes_along(runtime).await;
    }
}

async fn killed_server_takes_along(runtime: &str) {
    use server_support::serve::*;
    let (_dir, data) = serve_data_dir();
    let mut serve = Serve::start(std::path::Path::new(&data), &["--runtime", runtime]);
    let client = connect(&serve.url, Some(TOKEN)).await;
    // Single processes (no shell forking children): the kernel's tie to the
    // server reaches exactly these.
    let sb = running_marked(&client, &["sleep", "1000"], &data).await;
    let _exec = start_exec(&client, &sb.sandbox_id, &["sleep", "999"], &data).await;
    let server_pid = serve.pid();
    let sandbox_processes = || {
        pids_mentioning(&data)
            .into_iter()
            .filter(|&p| p != server_pid)
            .collect::<Vec<_>>()
    };
    wait_until("the main process and the exec to run", || {
        let cmds: Vec<String> = sandbox_processes().into_iter().map(cmdline).collect();
        cmds.iter().any(|c| c.starts_with("sleep 1000"))
            && cmds.iter().any(|c| c.starts_with("sleep 999"))
    })
    .await;

    serve.kill_hard();
    wait_none_left(runtime, sandbox_processes).await;
}

/// Background children of a host-runtime process are tied to nothing and
/// survive a killed server; the next server on the same data directory
/// kills them. Also: the warning names the explicit choice of the host
/// runtime, not a missing bubblewrap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_server_reaps_what_a_killed_host_server_left() {
    use server_support::serve::*;
    let (_dir, data) = serve_data_dir();
    let mut serve = Serve::start(std::path::Path::new(&data), &["--runtime", "host"]);
    let client = connect(&serve.url, Some(TOKEN)).await;
    let sb = running_marked(&client, &[], &data).await;
    let reason = sb.status.unwrap().state_reason;
    assert!(
        reason.contains("NO ISOLATION (host runtime chosen)"),
        "{reason}"
    );
    wait_until("the no-isolation warning", || {
        serve
            .stderr()
            .contains("host runtime chosen: sandboxes run on the host with NO ISOLATION")
    })
    .await;
    assert!(
        !serve.stderr().contains("bubblewrap is not available"),
        "{}",
        serve.stderr()
    );

    let _exec = start_exec(
        &client,
        &sb.sandbox_id,
        &["sh", "-c", "sleep 1001 & sleep 1002"],
        &data,
    )
    .await;
    let first_pid = serve.pid();
    let others = |server: i32| {
        pids_mentioning(&data)
            .into_iter()
            .filter(move |&p| p != server)
            .map(cmdline)
            .collect::<Vec<_>>()
    };
    wait_until("both background sleeps to run", || {
        let cmds = others(first_pid);
        cmds.iter().any(|c| c.starts_with("sleep 1001"))
            && cmds.iter().any(|c| c.starts_with("sleep 1002"))
    })
    .await;

    serve.kill_hard();
    // The shell dies with the server; its children are orphans now.
    wait_until("the shell to die", || {
        !others(first_pid).iter().any(|c| c.starts_with("sh "))
    })
    .await;
    assert!(
        others(first_pid).iter().any(|c| c.starts_with("sleep 100")),
        "nothing was left to reap"
    );

    let second = Serve::start(std::path::Path::new(&data), &["--runtime", "host"]);
    let second_pid = second.pid();
    wait_until("the leftovers to be killed", || {
        others(second_pid).is_empty()
    })
    .await;
    let runs: Vec<_> = std::fs::read_dir(std::path::Path::new(&data).join("sandboxes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 1, "the dead server's run dir stays: {runs:?}");
    assert!(
        runs[0].starts_with(&format!("run-{second_pid}-")),
        "{runs:?}"
    );
}
