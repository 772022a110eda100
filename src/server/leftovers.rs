//! Clean-up after servers that died without shutting down: their run
//! directories, and any process still working in them. The kernel kills
//! what a server spawned when it dies (see `runtime::spawner`); this
//! catches what that cannot reach, such as background children of host
//! processes, and processes left by older versions.
use super::runtime::{kill_tree, signal_pid};
use nix::sys::signal::Signal;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Remove the run directories under `base` whose server process is gone,
/// killing first every process that still uses one.
pub fn reap(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("run-")
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue; // that server (or whatever now has its pid) lives
        }
        let dir = e.path();
        let killed = kill_processes_using(&dir);
        if !killed.is_empty() {
            tracing::warn!(dir = %dir.display(), pids = ?killed, "killed processes left by a server that died");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// SIGKILL every process (with its descendants) that still uses `dir`;
/// returns their pids. Without namespaces, this is how a host-runtime
/// sandbox's background processes end with it.
pub fn kill_processes_using(dir: &Path) -> Vec<i32> {
    let users = processes_using(dir);
    for &p in &users {
        kill_tree(p);
        signal_pid(p, Signal::SIGKILL);
    }
    users
}

/// Processes whose command line names `dir` (bubblewrap binds the
/// sandbox's workspace from there) or whose working directory is inside it
/// (host-runtime processes). Checked on the live process, so a recycled pid
/// is never taken for a leftover.
fn processes_using(dir: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let needle = dir.as_os_str().as_bytes();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|p| p.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid > 1 && pid != me)
        .filter(|pid| {
            let in_cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(needle.len().max(1)).any(|w| w == needle));
            in_cmdline
                || std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c.starts_with(dir))
        })
        .collect()
}
