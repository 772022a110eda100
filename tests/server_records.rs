//! What the server remembers of sandboxes: records that shrink when they
//! finish, logs that go with a delete, PurgeSandboxes, and records that
//! expire after the retention.
mod common;
mod server_support;
use server_support::serve::{serve_data_dir, Serve};
use server_support::*;
use std::time::{Duration, Instant};
use tonic::Code;

fn tagged(command: &[&str], tags: &[&str]) -> pb::SandboxSpec {
    let mut spec = spec_with(command);
    spec.tags = tags.iter().map(|t| t.to_string()).collect();
    spec
}

fn whole_log(id: &str) -> pb::StreamLogsRequest {
    pb::StreamLogsRequest {
        sandbox_id: id.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sandbox_keeps_its_record_and_loses_its_log() {
    let h = Harness::start().await;
    // Finished before the delete.
    let done = h.create(spec_with(&["echo", "hello"])).await.sandbox_id;
    h.wait_for(&done, |s| s == pb::State::Completed).await;
    assert_eq!(joined(&h.logs(whole_log(&done)).await), "hello\n");
    h.delete(&done, 0).await;
    assert!(h.logs(whole_log(&done)).await.is_empty());
    let sb = h.get(&done).await;
    assert_eq!(state(&sb), pb::State::Completed);
    assert_eq!(sb.status.unwrap().exit_code, Some(0));

    // Deleted while running: followers read on until it ends.
    let running = h
        .running(spec_with(&["sh", "-c", "echo hi; exec sleep 1000"]))
        .await;
    let follow = pb::StreamLogsRequest {
        follow: true,
        ..whole_log(&running)
    };
    let mut follower = h
        .client
        .clone()
        .stream_logs(follow)
        .await
        .unwrap()
        .into_inner();
    let first = follower.message().await.unwrap().expect("a first line");
    assert_eq!(first.data, b"hi\n");
    h.delete(&running, 0).await;
    h.wait_for(&running, |s| s == pb::State::Completed).await;
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        let mut rest = Vec::new();
        while let Some(e) = follower.message().await.expect("log entry") {
            rest.push(e);
        }
        rest
    })
    .await
    .expect("the follower's stream ends");
    assert!(rest.iter().all(|e| e.error.is_none()), "{rest:?}");
    assert!(h.logs(whole_log(&running)).await.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_record_forgets_file_contents() {
    let h = Harness::start().await;
    let mut spec = spec_with(&["sh", "-c", "wc -c < in.txt; exec sleep 1000"]);
    spec.containers[0].files.push(pb::FileMount {
        path: "in.txt".into(),
        content: vec![b'a'; 1 << 20],
    });
    let id = h.running(spec).await;
    let files = |sb: &pb::Sandbox| sb.spec.as_ref().unwrap().containers[0].files.clone();
    assert_eq!(files(&h.get(&id).await)[0].content.len(), 1 << 20);
    h.delete(&id, 0).await;
    let sb = h.wait_for(&id, |s| s == pb::State::Completed).await;
    let kept = files(&sb);
    assert_eq!(kept[0].path, "in.txt");
    assert!(kept[0].content.is_empty());
    h.stop().await;
}

async fn purge(h: &Harness, req: pb::PurgeSandboxesRequest) -> Result<i32, tonic::Status> {
    h.client
        .clone()
        .purge_sandboxes(req)
        .await
        .map(|r| r.into_inner())
        .map(|r| {
            assert!(r.failed_sandbox_ids.is_empty(), "{r:?}");
            r.purge_count
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_stops_the_active_sandboxes_it_selects() {
    let h = Harness::start().await;
    let tag = |t: &str| format!("{t}-{}", uuid::Uuid::new_v4());
    let (x, y, z) = (tag("x"), tag("y"), tag("z"));
    let xy = h.running(tagged(&[], &[&x, &y])).await;
    let only_x = h.running(tagged(&[], &[&x])).await;
    let only_z = h.running(tagged(&[], &[&z])).await;
    let ended_x = h.create(tagged(&["true"], &[&x])).await.sandbox_id;
    h.wait_for(&ended_x, |s| s == pb::State::Completed).await;

    // Selections that are not one.
    let err = purge(&h, pb::PurgeSandboxesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&err), "CWSANDBOX_INVALID_REQUEST");
    let both = pb::PurgeSandboxesRequest {
        tags: vec![x.clone()],
        purge_all: true,
        ..Default::default()
    };
    assert_eq!(
        purge(&h, both).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let with_id = pb::PurgeSandboxesRequest {
        purge_all: true,
        request_id: "r-1".into(),
        ..Default::default()
    };
    assert_eq!(
        purge(&h, with_id).await.unwrap_err().code(),
        Code::Unimplemented
    );

    // A dry run counts the active matches (not the ended one) and stops
    // nothing.
    let dry = pb::PurgeSandboxesRequest {
        tags: vec![x.clone()],
        dry_run: true,
        ..Default::default()
    };
    assert_eq!(purge(&h, dry).await.unwrap(), 2);
    for id in [&xy, &only_x, &only_z] {
        assert_eq!(state(&h.get(id).await), pb::State::Running);
    }

    // Tags are ANDed.
    let by_tags = pb::PurgeSandboxesRequest {
        tags: vec![x.clone(), y.clone()],
        ..Default::default()
    };
    assert_eq!(purge(&h, by_tags).await.unwrap(), 1);
    h.wait_for(&xy, |s| s == pb::State::Completed).await;
    assert_eq!(state(&h.get(&only_x).await), pb::State::Running);

    // Everything active; the records stay.
    let all = pb::PurgeSandboxesRequest {
        purge_all: true,
        ..Default::default()
    };
    assert_eq!(purge(&h, all).await.unwrap(), 2);
    for id in [&only_x, &only_z] {
        h.wait_for(id, |s| s == pb::State::Completed).await;
    }
    assert_eq!(h.server().active_sandboxes().await, 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_records_expire_after_the_retention() {
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(std::path::Path::new(&data), &["--retention", "1s"]);
    let client = connect(&serve.url, Some(TOKEN)).await;
    let create = |spec: pb::SandboxSpec, request_id: &str| {
        let mut client = client.clone();
        let req = pb::CreateSandboxRequest {
            sandbox: Some(pb::Sandbox {
                spec: Some(spec),
                ..Default::default()
            }),
            request_id: request_id.into(),
        };
        async move { client.create_sandbox(req).await.unwrap().into_inner() }
    };
    let get = |id: &str| {
        let mut client = client.clone();
        let req = pb::GetSandboxRequest {
            sandbox_id: id.into(),
        };
        async move { client.get_sandbox(req).await.map(|r| r.into_inner()) }
    };
    let alive = create(keep_alive(), "").await.sandbox_id;
    let done = create(spec_with(&["true"]), "req-1").await.sandbox_id;

    let until = Instant::now() + Duration::from_secs(30);
    let mut ended = None;
    loop {
        match get(&done).await {
            Ok(sb) => {
                if state(&sb) == pb::State::Completed && ended.is_none() {
                    ended = Some(Instant::now());
                }
            }
            Err(e) => {
                assert_eq!(e.code(), Code::NotFound, "{e:?}");
                break;
            }
        }
        assert!(Instant::now() < until, "the record never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = ended.expect("the record was seen completed before it expired");
    assert!(
        ended.elapsed() >= Duration::from_millis(900),
        "expired early"
    );
    // Running sandboxes never expire, however old.
    let sb = get(&alive).await.expect("the running sandbox stays");
    assert_eq!(state(&sb), pb::State::Running);
    // The request id of an expired sandbox makes a new one.
    let again = create(spec_with(&["true"]), "req-1").await;
    assert_ne!(again.sandbox_id, done);
}
