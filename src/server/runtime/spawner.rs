//! Starts every long-lived host process of the server (bwrap, sandbox
//! execs, host-runtime processes) so that the kernel kills it when the
//! server process dies, however it dies (a crash, SIGKILL, a test that
//! panics before shutdown).
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
//! not the process. Tokio's blocking-pool threads exit after idling, and a
//! worker thread can become one (`block_in_place`), so every spawn goes
//! through one dedicated thread that lives as long as the process.
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
/// The server's own pid namespace, to return to after a spawn in a sandbox's.
static OWN_PID_NS: OnceLock<OwnedFd> = OnceLock::new();
/// Set if the spawner thread could not return to its own pid namespace:
/// every later child would be born in a sandbox, so nothing more is spawned.
static STRANDED: AtomicBool = AtomicBool::new(false);

fn spawner() -> io::Result<&'static Mutex<mpsc::Sender<Job>>> {
    if let Some(s) = SPAWNER.get() {
        return Ok(s);
    }
    if OWN_PID_NS.get().is_none() {
        let own = std::fs::File::open("/proc/self/ns/pid")?;
        let _ = OWN_PID_NS.set(own.into());
    }
    let (tx, rx) = mpsc::channel::<Job>();
    // The receiver lives in the thread; if two callers race here, the
    // loser's thread ends at once because its sender is dropped.
    std::thread::Builder::new()
        .name("sandscope-spawner".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                // A panicking job only loses its own reply.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
    Ok(SPAWNER.get_or_init(|| Mutex::new(tx)))
}

/// Spawn `cmd` from the spawner thread, tied to the server's life with
/// `PR_SET_PDEATHSIG(SIGKILL)`. `cmd` is dropped there right after the
/// spawn, so descriptors it holds for the child (pipe write ends) are
/// closed when this returns. Must be called within a Tokio runtime, whose
/// reactor then drives the child.
pub fn spawn(cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    spawn_in(cmd, None)
}

/// [`spawn`], with the child born in `pid_ns` (a namespace file) instead
/// of the server's own pid namespace.
pub fn spawn_in(
    mut cmd: tokio::process::Command,
    pid_ns: Option<OwnedFd>,
) -> io::Result<tokio::process::Child> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("spawning outside a runtime: {e}")))?;
    die_with_server(&mut cmd);
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _entered = handle.enter();
        let res = match pid_ns {
            Some(ns) => in_pid_namespace(&ns, || cmd.spawn()),
            None => cmd.spawn(),
        };
        drop(cmd);
        let _ = reply_tx.send(res);
    });
    spawner()?
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| io::Error::other("the process spawner thread is gone"))?;
    // A fork+exec takes a millisecond or two: the same time the caller
    // would have spent blocked in spawn() itself.
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("the process spawner thread is gone"))?
}

fn die_with_server(cmd: &mut tokio::process::Command) {
    let server = std::process::id() as libc::pid_t;
    // SAFETY: prctl and getppid are async-signal-safe and allocate nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The server may have died between fork and prctl, in which
            // case the signal will never come. A child born in a sandbox's
            // pid namespace sees its live parent as 0 (outside); orphaned,
            // it would see the sandbox's init, 1.
            let parent = libc::getppid();
            if parent != server && parent != 0 {
                return Err(io::Error::other("the server exited"));
            }
            Ok(())
        });
    }
}

/// Run `spawn` (a fork) with this thread's children born in the pid
/// namespace `ns`, then come back to the server's own. Only the calling
/// thread's `pid_for_children` changes; the server itself stays where it is.
fn in_pid_namespace<T>(ns: &OwnedFd, spawn: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    use nix::sched::{setns, CloneFlags};
    if STRANDED.load(Ordering::Relaxed) {
        return Err(io::Error::other(
            "the process spawner is stuck in a sandbox's pid namespace",
        ));
    }
    let own = OWN_PID_NS
        .get()
        .ok_or_else(|| io::Error::other("the server's pid namespace is unknown"))?;
    setns(ns, CloneFlags::CLONE_NEWPID)
        .map_err(|e| io::Error::other(format!("entering the sandbox's pid namespace: {e}")))?;
    let res = spawn();
    if let Err(e) = setns(own, CloneFlags::CLONE_NEWPID) {
        STRANDED.store(true, Ordering::Relaxed);
        tracing::error!("cannot return to the server's pid namespace: {e}");
    }
    res
}
