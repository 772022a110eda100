//! Memory, process, CPU and /tmp limits hold, in cgroups beneath the
//! server's own, and a kill at the memory limit says so. Every loop here
//! is bounded.
use super::*;
use std::time::Duration;

fn with_resources(mut spec: pb::SandboxSpec, cpu: &str, memory: &str) -> pb::SandboxSpec {
    spec.containers[0].resources = Some(pb::Resources {
        cpu: cpu.into(),
        memory: memory.into(),
        gpu: None,
    });
    spec
}

/// Touches up to 1 GiB in 32 MiB steps, printing each step.
const ALLOCATE_1G: &str = "\
import sys
chunks = []
for i in range(32):
    chunks.append(bytearray(32 << 20))
    print((i + 1) * 32, flush=True)
print('allocated 1 GiB', flush=True)
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_kills_inside_the_sandbox_and_says_so() {
    let h = isolated_harness().await;
    let id = h.running(with_resources(keep_alive(), "", "256Mi")).await;
    let r = python(&h, &id, ALLOCATE_1G).await;
    assert_eq!(r.code, Some(137), "{}{}", r.out(), r.err());
    assert!(!r.out().contains("allocated 1 GiB"), "{}", r.out());
    let reached: u64 = r
        .out()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(reached <= 256, "got {reached} MiB past a 256Mi limit");
    assert!(r.err().contains("out of memory"), "{}", r.err());
    // The sandbox lives on, and its state says what happened.
    let sb = h.get(&id).await;
    assert_eq!(state(&sb), pb::State::Running);
    let mut why = String::new();
    for _ in 0..100 {
        why = h.get(&id).await.status.unwrap_or_default().state_reason;
        if why.contains("out of memory") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(why.contains("out of memory"), "state reason: {why:?}");
    let r = h.exec(&id, &["echo", "still here"]).await;
    assert_eq!(r.out(), "still here\n");

    // A main process killed at the limit ends its sandbox with 137.
    let sb = h
        .create(with_resources(
            spec_with(&["python3", "-c", ALLOCATE_1G]),
            "",
            "128Mi",
        ))
        .await;
    let done = h
        .wait_for(&sb.sandbox_id, |s| s == pb::State::Completed)
        .await;
    let st = done.status.unwrap_or_default();
    assert_eq!(st.exit_code, Some(137), "{st:?}");
    assert!(st.state_reason.contains("OOMKilled"), "{}", st.state_reason);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_count_and_tmp_are_bounded() {
    let h = isolated_harness().await;
    let id = h.running(keep_alive()).await;
    let script = "\
import subprocess
ps = []
err = None
try:
    for i in range(3000):
        ps.append(subprocess.Popen(['sleep', '60']))
except OSError as e:
    err = e.errno
print(len(ps), err)
for p in ps:
    p.kill()
for p in ps:
    p.wait()
";
    let r = python(&h, &id, script).await;
    let out = r.out();
    let words: Vec<&str> = out.split_whitespace().collect();
    let started: usize = words
        .first()
        .and_then(|w| w.parse().ok())
        .unwrap_or(usize::MAX);
    assert!(
        started < 1024,
        "{started} processes started: {}{}",
        r.out(),
        r.err()
    );
    assert_eq!(
        words.get(1),
        Some(&"11"),
        "fork must fail with EAGAIN: {}",
        r.out()
    );

    // The sandbox's own uid also carries a process limit, which holds
    // where cgroups are missing: for execs and the main process alike.
    let r = h
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "grep 'Max processes' /proc/self/limits /proc/2/limits",
            ],
        )
        .await;
    let out = r.out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.out());
    for l in lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(words.get(2..4), Some(&["1024", "1024"][..]), "{l}");
    }

    // /tmp is RAM: bounded (here half the default 2 GiB, at most 512 MiB).
    let r = h
        .exec(
            &id,
            &[
                "sh",
                "-c",
                "dd if=/dev/zero of=/tmp/fill bs=1M count=2048 2>&1; du -m /tmp/fill",
            ],
        )
        .await;
    assert!(r.out().contains("No space left on device"), "{}", r.out());
    let used: u64 = r
        .out()
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(used <= 512, "/tmp took {used} MiB");
    h.stop().await;
}

/// This process's cgroup of `controller` (v1), or of the v2 hierarchy.
fn own_cgroup(controller: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_live_in_cgroups_beneath_the_servers_own_and_go_with_the_sandbox() {
    let h = isolated_harness().await;
    let id = h
        .running(with_resources(keep_alive(), "500m", "300Mi"))
        .await;
    let pids = host_pids(&id);
    assert!(!pids.is_empty(), "no process in a cgroup of the sandbox");
    let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", pids[0])).unwrap();
    let memory_line = cgroups
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .unwrap_or_else(|| panic!("{cgroups}"));
    let sandbox_path = memory_line
        .splitn(3, ':')
        .nth(2)
        .unwrap_or_default()
        .to_string();
    if let Some(own) = own_cgroup("memory") {
        // v1: the server's (this process's) memory cgroup is an ancestor.
        let own = own.trim_end_matches('/');
        assert!(
            sandbox_path.starts_with(&format!("{own}/")),
            "{sandbox_path} is not beneath {own}"
        );
        let dir = format!("/sys/fs/cgroup/memory{sandbox_path}");
        let limit = std::fs::read_to_string(format!("{dir}/memory.limit_in_bytes")).unwrap();
        assert_eq!(limit.trim(), (300u64 << 20).to_string());
        let cpu_line = cgroups
            .lines()
            .find(|l| l.contains(":cpu:") || l.contains(":cpu,"))
            .unwrap();
        let cpu_path = cpu_line.splitn(3, ':').nth(2).unwrap_or_default();
        let cpu_dir = std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.split(',').any(|c| c == "cpu"))
            })
            .unwrap();
        let quota = std::fs::read_to_string(
            cpu_dir
                .join(cpu_path.trim_start_matches('/'))
                .join("cpu.cfs_quota_us"),
        )
        .unwrap();
        assert_eq!(quota.trim(), "50000", "500m of a 100 ms period");
        h.delete(&id, 0).await;
        h.wait_for(&id, |s| {
            s == pb::State::Completed || s == pb::State::Terminated
        })
        .await;
        wait_until("the sandbox's cgroup to go", || {
            !std::path::Path::new(&dir).exists()
        })
        .await;
    } else {
        // v2: memory.max of the sandbox's own cgroup.
        let dir = format!("/sys/fs/cgroup{sandbox_path}");
        let max = std::fs::read_to_string(format!("{dir}/memory.max")).unwrap();
        assert_eq!(max.trim(), (300u64 << 20).to_string());
        let cpu = std::fs::read_to_string(format!("{dir}/cpu.max")).unwrap();
        assert_eq!(cpu.trim(), "50000 100000");
    }
    h.stop().await;
}
