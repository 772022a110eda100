//! ReadFile and WriteFile act with the sandbox's rights, not the server's.
use super::*;
use tonic::Code;

async fn read(h: &Harness, id: &str, path: &str) -> Result<Vec<u8>, tonic::Status> {
    h.client
        .clone()
        .read_file(pb::ReadFileRequest {
            sandbox_id: id.into(),
            path: path.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().content)
}

async fn write(h: &Harness, id: &str, path: &str, content: &[u8]) -> Result<(), tonic::Status> {
    h.client
        .clone()
        .write_file(pb::WriteFileRequest {
            sandbox_id: id.into(),
            path: path.into(),
            content: content.to_vec(),
            ..Default::default()
        })
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_rpcs_see_and_change_only_what_the_sandbox_may() {
    let h = isolated_harness().await;
    let id = h.running(keep_alive()).await;

    // Kernel addresses: the sandbox reads zeros, and so does ReadFile.
    let syms = read(&h, &id, "/proc/kallsyms").await.expect("kallsyms");
    let text = String::from_utf8_lossy(&syms);
    let first: Vec<&str> = text.lines().take(1000).collect();
    assert!(!first.is_empty());
    assert!(
        first.iter().all(|l| l.starts_with("0000000000000000")),
        "ReadFile shows kernel addresses: {:?}",
        &first[..3.min(first.len())]
    );

    // Kernel settings: refused, even the value already there.
    let knob = "/proc/sys/kernel/printk_ratelimit_burst";
    let current = std::fs::read(knob).unwrap();
    let err = write(&h, &id, knob, &current).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(std::fs::read(knob).unwrap(), current);

    // Root-only host files, directly and through a symlink the sandbox made.
    let r = h
        .exec(&id, &["ln", "-s", "/etc/gshadow", "/workspace/link"])
        .await;
    assert_eq!(r.code, Some(0), "{}", r.err());
    for p in ["/etc/gshadow", "/workspace/link", "/etc/shadow-"] {
        if let Ok(content) = read(&h, &id, p).await {
            assert!(content.is_empty(), "ReadFile {p} returned a root-only file");
        }
    }

    // The host's read-only files cannot be changed, and what is written
    // belongs to the sandbox.
    let err = write(&h, &id, "/etc/sandscope-probe", b"x")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(!std::path::Path::new("/etc/sandscope-probe").exists());
    write(&h, &id, "/workspace/new/dir/file", b"mine")
        .await
        .expect("write in the workspace");
    let r = h
        .exec(
            &id,
            &[
                "stat",
                "-c",
                "%u %g",
                "/workspace/new/dir/file",
                "/workspace/new",
            ],
        )
        .await;
    assert_eq!(r.out(), "0 0\n0 0\n", "{}", r.err());

    // Some kernel files check the writer's rights on each write: made
    // OOM-proof with the server's rights, a sandbox process would make the
    // kernel kill others instead.
    let err = write(&h, &id, "/proc/2/oom_score_adj", b"-1000\n")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let r = h.exec(&id, &["cat", "/proc/2/oom_score_adj"]).await;
    assert_eq!(r.out(), "0\n", "{}", r.err());

    // /dev/tty is the server's terminal to the server; to the sandbox it
    // is none, and ReadFile neither hangs nor reaches a terminal.
    let err = read(&h, &id, "/dev/tty").await.unwrap_err();
    assert_ne!(err.code(), Code::Ok);
    h.stop().await;
}
