//! A spawner thread of one bubblewrap sandbox: every exec and file access
//! of that sandbox starts from it. The thread enters, once, what each child
//! would otherwise have to enter on its own at a cost per exec: the
//! sandbox's cgroups (v1 lets one thread join them; moving each child took
//! a global lock, with waits of milliseconds), its pid namespace (for a
//! server running as root), and the system-call filter (compiled by the
//! kernel on every install, about 160 µs). Children inherit all three.
//!
//! It also keeps sandboxes apart: a sandbox that stops its own children in
//! the moment before they exec holds up only its own thread, not the
//! spawners every other sandbox needs.
use super::seccomp;
use super::spawner::{self, Job};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{mpsc, Mutex};

pub struct SandboxThread {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Whether children are born in the sandbox's pid namespace.
    pub in_pid_ns: bool,
}

impl std::fmt::Debug for SandboxThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxThread")
            .field("in_pid_ns", &self.in_pid_ns)
            .finish()
    }
}

impl SandboxThread {
    /// Start the thread for sandbox `id`: into the cgroups whose `tasks`
    /// files are given (v1), under the filter, and into `pid_ns` if given.
    pub fn start(
        id: &str,
        cgroup_tasks: Vec<OwnedFd>,
        pid_ns: Option<OwnedFd>,
    ) -> io::Result<SandboxThread> {
        let filter = seccomp::Prog::get().map_err(io::Error::other)?;
        let in_pid_ns = pid_ns.is_some();
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<io::Result<()>>(1);
        let name: String = format!("sandscope-sb-{}", id.chars().take(8).collect::<String>());
        std::thread::Builder::new().name(name).spawn(move || {
            let set_up = enter_once(&cgroup_tasks, filter, pid_ns.as_ref());
            drop(cgroup_tasks);
            let ok = set_up.is_ok();
            let _ = ready_tx.send(set_up);
            if !ok {
                return;
            }
            spawner::boost_this_thread();
            while let Ok(job) = rx.recv() {
                // A panicking job only loses its own reply.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("the sandbox's spawner thread is gone"))??;
        Ok(SandboxThread {
            jobs: Mutex::new(tx),
            in_pid_ns,
        })
    }

    /// Run `job` on the thread and return what it returns.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<T> {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Box::new(move || {
                let _ = reply_tx.send(job());
            }))
            .map_err(|_| io::Error::other("the sandbox's spawner thread is gone"))?;
        reply_rx
            .await
            .map_err(|_| io::Error::other("the sandbox's spawner thread is gone"))
    }
}

/// What the thread enters for good. Only this thread changes: cgroup v1
/// moves threads one by one, and no_new_privs, the filter and the pid
/// namespace for children are per thread.
fn enter_once(
    cgroup_tasks: &[OwnedFd],
    filter: seccomp::Prog,
    pid_ns: Option<&OwnedFd>,
) -> io::Result<()> {
    for tasks in cgroup_tasks {
        // SAFETY: a one-byte write; "0" is the writing thread.
        if unsafe { libc::write(tasks.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::other(format!(
                "joining the sandbox's cgroup: {}",
                io::Error::last_os_error()
            )));
        }
    }
    if let Some(ns) = pid_ns {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| io::Error::other(format!("entering the sandbox's pid namespace: {e}")))?;
    }
    // SAFETY: prctl and the filter's install affect this thread only.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !filter.install() {
            return Err(io::Error::other(format!(
                "installing the system-call filter: {}",
                io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}
