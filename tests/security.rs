//! The attacker's suite: each test repeats, from inside default sandboxes
//! of a server running as root (bubblewrap runtime), an attempt that once
//! got through, and checks that it now fails with a clear error. A write
//! test writes back the value already there; no test changes a host
//! setting or sends traffic beyond this machine (network tests build their
//! own namespaces).
//!
//! The same attempts through the real Python client are in
//! `tests/python/security.py`; the terminal ones, which need the TUI in a
//! real terminal, are in `tests/tui_e2e.rs`.
mod common;
mod server_support;

#[path = "security/boundary.rs"]
mod boundary;
#[path = "security/egress_grants.rs"]
mod egress_grants;
#[path = "security/files.rs"]
mod files;
#[path = "security/limits.rs"]
mod limits;
#[path = "security/network.rs"]
mod network;
#[path = "security/ordinary_user.rs"]
mod ordinary_user;

use server_support::*;

/// The suite tests a server running as root, as it does in CI and many
/// containers; without root the attempts cannot even be set up.
#[track_caller]
pub fn require_root() {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the security tests need root (they test a server running as root); run cargo test as root"
    );
}

/// A harness on bubblewrap, which these tests are about.
pub async fn isolated_harness() -> Harness {
    require_root();
    assert!(bwrap_here(), "bubblewrap (bwrap) must work on this machine");
    let h = Harness::start_with(sandscope::server::RuntimeChoice::Bubblewrap).await;
    assert!(h.isolated());
    h
}

/// Host pids of the processes in sandbox `id` (found by its cgroup).
pub fn host_pids(id: &str) -> Vec<i32> {
    let needle = format!("/sb-{id}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_to_string(e.path().join("cgroup")).is_ok_and(|c| c.contains(&needle)) {
            out.push(pid);
        }
    }
    out
}

/// (real uid, real gid) of a host process.
pub fn host_ids(pid: i32) -> (u32, u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} for pid {pid}"))
    };
    (field("Uid:"), field("Gid:"))
}

/// A sandbox's directory on the host (workspace, volumes) under the data dir.
pub fn sandbox_dir(h: &Harness, id: &str) -> std::path::PathBuf {
    let base = h.dir.path().join("sandboxes");
    for run in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let p = run.path().join(id);
        if p.exists() {
            return p;
        }
    }
    panic!("no directory for sandbox {id} under {}", base.display());
}

/// Python run inside the sandbox; returns its output.
pub async fn python(h: &Harness, id: &str, script: &str) -> ExecOut {
    h.exec(id, &["python3", "-c", script]).await
}
