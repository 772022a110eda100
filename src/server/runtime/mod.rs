//! How a sandbox's processes actually run. Two runtimes share one small
//! trait: bubblewrap (namespaces over a read-only host root) and plain host
//! processes (no isolation, used only when bubblewrap is unavailable).
use std::collections::BTreeMap;
use std::future::Future;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::pin::Pin;

pub mod bwrap;
mod bwrap_fs;
pub mod child;
mod enter;
pub mod host;
pub mod identity;
mod layout;
mod sandbox_thread;
pub mod seccomp;
pub mod spawner;
mod userns;

use crate::server::limits::cgroup::SandboxCgroup;
pub use identity::SandboxUser;

/// Default PATH inside sandboxes; the server's own environment never leaks in.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start a sandbox's main process.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub sandbox_id: String,
    /// Per-sandbox directory under the data dir (workspace, volumes, staging).
    pub sandbox_dir: PathBuf,
    /// Main command; never empty.
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Working directory as the sandbox sees it; empty = the workspace.
    pub working_dir: String,
    /// (volume directory on the host, mount path inside, read-only)
    pub volumes: Vec<(PathBuf, String, bool)>,
    /// (snapshot files, volume directory on the host): volumes that start
    /// as a copy of a snapshot.
    pub restores: Vec<(PathBuf, PathBuf)>,
    /// (path inside the sandbox, staged copy on the host)
    pub files: Vec<(String, PathBuf)>,
    pub allow_network: bool,
    /// With egress rules: what they grant (None: all of the network).
    pub egress_grants: Option<crate::server::net::egress::Grants>,
    /// The cgroups every process of the sandbox joins (None: no limits).
    pub cgroup: Option<std::sync::Arc<SandboxCgroup>>,
    /// Size of the sandbox's `/tmp`, in bytes.
    pub tmp_size: u64,
    /// Processes the sandbox may have (its cgroup's limit); also set as
    /// RLIMIT_NPROC where the sandbox has a uid of its own, which then
    /// holds even without cgroups.
    pub pids: u64,
}

/// A started sandbox: what exec, files and stop need to reach it.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Host pid whose namespaces and root are the sandbox's (bubblewrap's
    /// pid 1), or the main process itself on the host runtime.
    pub anchor_pid: i32,
    /// Working directory used when neither spec nor request names one.
    pub default_cwd: String,
    /// Host path of the workspace directory.
    pub workspace: PathBuf,
    /// Process-group leaders of execs still running in this sandbox, so a
    /// stop can take them down too (the host runtime has no pid namespace
    /// that would do it).
    pub execs: ExecGroups,
    /// Who the sandbox's processes are.
    pub user: SandboxUser,
    pub cgroup: Option<std::sync::Arc<SandboxCgroup>>,
    /// The sandbox's user-mode network, if it has egress; held (never
    /// read) so it ends with the last clone of the instance.
    #[allow(dead_code)]
    pub egress: Option<std::sync::Arc<crate::server::net::egress::Egress>>,
    /// Where the sandbox's execs and file accesses start (bubblewrap).
    pub thread: Option<std::sync::Arc<sandbox_thread::SandboxThread>>,
    /// The anchor as it was at launch (bubblewrap): its pid namespace, to
    /// tell it from a process that got its pid later, and a pidfd to
    /// signal exactly it.
    pub anchor_ns: Option<NsId>,
    pub anchor_pidfd: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
    /// RLIMIT_NPROC of every process of the sandbox, if it has a uid of
    /// its own.
    pub nproc: Option<u64>,
}

/// (device, inode) of a namespace: equal for the same namespace, which
/// nothing else has while it exists.
pub type NsId = (u64, u64);

/// The namespace `/proc/<pid>/ns/<kind>` names.
pub fn ns_id_of(pid: i32, kind: &str) -> std::io::Result<NsId> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))?;
    Ok((md.dev(), md.ino()))
}

/// A pidfd for `pid`, which keeps naming that process after it exits.
pub fn pidfd_of(pid: i32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open returns a new descriptor, which we then own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Send `sig` to the process behind `pidfd` (never another one).
pub fn signal_pidfd(pidfd: &std::os::fd::OwnedFd, sig: nix::sys::signal::Signal) {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal on a pidfd we own.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

impl Instance {
    /// `cgroup.procs` descriptors for a new process of the sandbox.
    pub fn cgroup_procs(&self) -> std::io::Result<Vec<std::os::fd::OwnedFd>> {
        crate::server::limits::cgroup::procs_of(self.cgroup.as_deref())
    }
}

#[derive(Debug, Clone, Default)]
pub struct ExecGroups(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i32>>>);

impl ExecGroups {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i32>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, pid: i32) {
        self.lock().insert(pid);
    }

    pub fn remove(&self, pid: i32) {
        self.lock().remove(&pid);
    }

    /// SIGKILL every exec still registered, with its descendants.
    pub fn kill_all(&self) {
        let pids: Vec<i32> = self.lock().drain().collect();
        for pid in pids {
            kill_tree(pid);
            signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// One process to run inside a started sandbox.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Absolute path as the sandbox sees it.
    pub cwd: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Start(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl RuntimeError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// A started main process.
pub struct Launched {
    pub child: tokio::process::Child,
    /// The main process's stdout and stderr, combined in one pipe so the
    /// log keeps the order in which lines were written.
    pub output: tokio::net::unix::pipe::Receiver,
    pub instance: Instance,
}

/// A pipe for a main process's output: (our read end, the child's stdout,
/// the child's stderr).
pub fn output_pipe() -> Result<
    (
        tokio::net::unix::pipe::Receiver,
        std::process::Stdio,
        std::process::Stdio,
    ),
    RuntimeError,
> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| RuntimeError::io("creating the log pipe", e.into()))?;
    let w2 = w
        .try_clone()
        .map_err(|e| RuntimeError::io("creating the log pipe", e))?;
    let r = tokio::net::unix::pipe::Receiver::from_owned_fd(r)
        .map_err(|e| RuntimeError::io("creating the log pipe", e))?;
    Ok((r, w.into(), w2.into()))
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Runtime: Send + Sync {
    /// "bubblewrap" or "host (NO ISOLATION)".
    fn isolation(&self) -> &'static str;
    fn launch<'a>(&'a self, plan: &'a LaunchPlan) -> BoxFuture<'a, Result<Launched, RuntimeError>>;
    /// A command that runs `spec` inside the sandbox; stdio is left to the
    /// caller. Unless on a terminal, it will lead its own process group.
    fn exec_command(&self, instance: &Instance, spec: &ExecSpec)
        -> std::io::Result<child::Command>;
    /// How a child acting for the sandbox enters it: a file RPC's (see
    /// `child::file`) or a published service's connection (`child::connect`).
    fn file_entry(&self, instance: &Instance) -> std::io::Result<enter::Entry>;
    /// Ask the main process to stop (SIGTERM).
    fn terminate(&self, instance: &Instance);
    /// Kill everything in the sandbox (SIGKILL).
    fn kill(&self, instance: &Instance);
}

/// Environment for any process in a sandbox: sane defaults, then `extra`
/// layers in order (container env, then per-exec env).
pub fn base_env(home: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), DEFAULT_PATH.to_string());
    env.insert("HOME".to_string(), home.to_string());
    env.insert("LANG".to_string(), "C.UTF-8".to_string());
    env
}

/// Resolve `cmd` the way execvp would, on the host filesystem, skipping the
/// check (Ok) when it lives under a path that only exists inside the sandbox.
pub fn check_executable(cmd: &str, path_var: &str, sandbox_only: &[String]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let under_sandbox_only = |p: &str| {
        sandbox_only.iter().any(|prefix| {
            p == prefix || p.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
        })
    };
    let candidates: Vec<String> = if cmd.contains('/') {
        vec![cmd.to_string()]
    } else {
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{}", d.trim_end_matches('/'), cmd))
            .collect()
    };
    if cmd.contains('/') && !cmd.starts_with('/') {
        return Ok(()); // relative to the working dir: only the sandbox knows
    }
    let mut found_not_exec = false;
    for c in &candidates {
        if under_sandbox_only(c) {
            return Ok(());
        }
        match std::fs::metadata(c) {
            Ok(md) if md.is_file() && md.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => found_not_exec = true,
            Err(_) => {}
        }
    }
    if found_not_exec {
        Err(format!("{cmd}: permission denied (not an executable file)"))
    } else {
        Err(format!("{cmd}: executable file not found in $PATH"))
    }
}

/// Send `sig` to a process group, ignoring "no such process".
pub fn signal_group(pgid: i32, sig: nix::sys::signal::Signal) {
    if pgid > 1 {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), sig);
    }
}

/// Descriptors a child gets at fixed numbers (`first`, `first + 1`, ...),
/// every other one above them closed on exec.
pub struct FixedFds {
    sources: Vec<RawFd>,
    first: RawFd,
    park: RawFd,
}

impl FixedFds {
    pub fn new(sources: Vec<RawFd>, first: RawFd) -> FixedFds {
        // Sources are parked above all of them and the targets first, so
        // no move overwrites a source not yet moved.
        let park = sources
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(first + sources.len() as RawFd)
            + 1;
        FixedFds {
            sources,
            first,
            park,
        }
    }

    /// Put them in place; in a child between fork and exec.
    pub fn place(&self) -> std::io::Result<()> {
        // SAFETY: dup2 and close only (async-signal-safe, no allocation);
        // dup2 also clears close-on-exec on the copies.
        unsafe {
            for (i, fd) in self.sources.iter().enumerate() {
                if libc::dup2(*fd, self.park + i as RawFd) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for i in 0..self.sources.len() {
                let parked = self.park + i as RawFd;
                if libc::dup2(parked, self.first + i as RawFd) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(parked);
            }
        }
        set_cloexec_from((self.first + self.sources.len() as RawFd) as u32);
        Ok(())
    }
}

/// Mark every descriptor from `first` up close-on-exec in the child, so
/// descriptors the server inherited from whoever started it never reach a
/// sandbox. (std's own exec-error pipe is close-on-exec already.)
pub fn close_inherited_fds(cmd: &mut tokio::process::Command, first: u32) {
    // SAFETY: close_range is a plain syscall, async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            set_cloexec_from(first);
            Ok(())
        });
    }
}

/// The same, for use inside an existing pre_exec hook.
pub fn set_cloexec_from(first: u32) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: see above. Failure (kernels before 5.11) only leaves the
    // descriptors open, as without this call.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// SIGKILL every descendant of `pid` (not `pid` itself), deepest first
/// discovered last; children are stopped first so they cannot fork away.
pub fn kill_tree(pid: i32) {
    use nix::sys::signal::Signal;
    let mut seen = Vec::new();
    let mut queue = children_of(pid);
    while let Some(p) = queue.pop() {
        if seen.contains(&p) || seen.len() > 4096 {
            continue;
        }
        signal_pid(p, Signal::SIGSTOP);
        queue.extend(children_of(p));
        seen.push(p);
    }
    for p in seen {
        signal_pid(p, Signal::SIGKILL);
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

pub fn signal_pid(pid: i32, sig: nix::sys::signal::Signal) {
    if pid > 1 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}
