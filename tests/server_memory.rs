//! What sandboxes cost a running `sandscope serve`: its resident memory
//! comes back once they are deleted, and a running one holds few
//! descriptors.
mod common;
mod server_support;
use server_support::serve::{serve_data_dir, Serve};
use server_support::*;
use std::time::{Duration, Instant};

const SANDBOXES: usize = 200;
const AT_ONCE: usize = 10;
/// Each main process prints this much, in lines of 100 bytes.
const PRINTED: usize = 3_000_000;
const SLACK_KB: u64 = 50 * 1024;

fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Create a sandbox that prints `PRINTED` bytes, wait for it to complete,
/// delete it; its record still answers.
async fn print_and_delete(client: Client) {
    let script = format!("yes {} | head -c {PRINTED}", "x".repeat(98));
    let req = pb::CreateSandboxRequest {
        sandbox: Some(pb::Sandbox {
            spec: Some(spec_with(&["sh", "-c", &script])),
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let id = client
        .clone()
        .create_sandbox(req)
        .await
        .expect("create")
        .into_inner()
        .sandbox_id;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let sb = client
            .clone()
            .get_sandbox(pb::GetSandboxRequest {
                sandbox_id: id.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        if state(&sb) == pb::State::Completed {
            assert_eq!(sb.status.unwrap().exit_code, Some(0));
            break;
        }
        assert!(Instant::now() < until, "never completed: {sb:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
        .clone()
        .delete_sandbox(pb::DeleteSandboxRequest {
            sandbox_id: id.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    let kept = client
        .clone()
        .get_sandbox(pb::GetSandboxRequest { sandbox_id: id })
        .await
        .expect("the record of a deleted sandbox")
        .into_inner();
    assert_eq!(state(&kept), pb::State::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_sandboxes_give_their_memory_back() {
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(std::path::Path::new(&data), &[]);
    let client = connect(&serve.url, Some(TOKEN)).await;
    let before = rss_kb(serve.pid());

    let started = Instant::now();
    let mut waves = Vec::new();
    for _ in 0..AT_ONCE {
        let client = client.clone();
        waves.push(tokio::spawn(async move {
            for _ in 0..SANDBOXES / AT_ONCE {
                print_and_delete(client.clone()).await;
            }
        }));
    }
    let mut peak = 0;
    for w in waves {
        w.await.expect("a wave of sandboxes");
        peak = peak.max(rss_kb(serve.pid()));
    }
    eprintln!(
        "{} sandboxes in {:?}; RSS before {before} kB, peak seen {peak} kB",
        SANDBOXES / AT_ONCE * AT_ONCE,
        started.elapsed()
    );

    // Freed memory goes back to the system within about a second.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let now = rss_kb(serve.pid());
        if now <= before + SLACK_KB {
            eprintln!("RSS after {now} kB");
            break;
        }
        assert!(
            Instant::now() < until,
            "RSS stays at {now} kB, {} kB above the {before} kB before",
            now - before
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's descriptors that are `/dev/null`: its idle low places.
fn devnull_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t == std::path::Path::new("/dev/null"))
                })
                .count()
        })
        .unwrap_or(0)
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Descriptors are what a server with many sandboxes runs out of first
/// (500 sandboxes with idle processes reached a hard limit of 20,000 when
/// each sandbox held its six cgroup files open). A running sandbox with a
/// finished exec costs at most 8, and deleting it gives them all back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sandbox_holds_few_descriptors() {
    const RUNNING: usize = 20;
    const PER_SANDBOX: usize = 8;
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(std::path::Path::new(&data), &[]);
    let client = connect(&serve.url, Some(TOKEN)).await;
    // One sandbox first, so that what the server opens once (its spawner
    // pool, cgroup parents, the client's connection) is in the baseline.
    let first = run_spec(&client, keep_alive()).await.sandbox_id;
    let out = exec_on(&client, &first, &["true"], None)
        .await
        .expect("exec");
    assert_eq!(out.code, Some(0));
    let before = open_fds(serve.pid());

    let mut ids = Vec::new();
    for _ in 0..RUNNING {
        let id = run_spec(&client, keep_alive()).await.sandbox_id;
        let out = exec_on(&client, &id, &["true"], None).await.expect("exec");
        assert_eq!(out.code, Some(0));
        ids.push(id);
    }
    // Execs at once in every sandbox: each child's descriptors wait in the
    // server's low places for its clone (so it need not copy the server's
    // table), and every place holds /dev/null again afterwards: nothing of
    // a sandbox stays behind in them.
    let runs = ids.iter().map(|id| {
        let client = client.clone();
        let id = id.clone();
        async move { exec_on(&client, &id, &["true"], None).await }
    });
    for out in futures::future::join_all(runs).await {
        assert_eq!(out.expect("exec").code, Some(0));
    }
    let places = devnull_fds(serve.pid());
    assert!(
        places >= 96,
        "{places} descriptors of the server are /dev/null"
    );
    let with = open_fds(serve.pid());
    let per = with.saturating_sub(before) as f64 / RUNNING as f64;
    eprintln!("descriptors: {before} with one sandbox, {with} with {RUNNING} more ({per:.1} each)");
    assert!(
        with <= before + RUNNING * PER_SANDBOX,
        "{RUNNING} running sandboxes hold {} descriptors ({per:.1} each, at most {PER_SANDBOX})",
        with - before
    );

    for id in ids {
        client
            .clone()
            .delete_sandbox(pb::DeleteSandboxRequest {
                sandbox_id: id,
                ..Default::default()
            })
            .await
            .expect("delete");
    }
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let now = open_fds(serve.pid());
        if now <= before {
            assert_eq!(devnull_fds(serve.pid()), places, "every low place is idle");
            break;
        }
        assert!(
            Instant::now() < until,
            "{now} descriptors after deleting, {before} before creating"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
