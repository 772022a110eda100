//! Starts every long-lived host process of the server (bwrap, sandbox
//! execs, host-runtime processes) so that the kernel kills it when the
//! server process dies, however it dies (a crash, SIGKILL, a test that
//! panics before shutdown).
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
//! not the process. Tokio's blocking-pool threads exit after idling, and a
//! worker thread can become one (`block_in_place`), so every spawn goes
//! through a few dedicated threads that live as long as the process.
//! Several, because a start mostly waits (for the child to reach exec):
//! when a thousand processes start at once, their waits overlap.
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

pub(super) type Job = Box<dyn FnOnce() + Send>;

static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
/// The server's own pid namespace, to return to after a spawn in a sandbox's.
static OWN_PID_NS: OnceLock<OwnedFd> = OnceLock::new();
/// Spawner threads.
const THREADS: usize = 4;
/// Set if a spawner thread could not return to its own pid namespace:
/// every later child would be born in a sandbox, so nothing more is spawned.
static STRANDED: AtomicBool = AtomicBool::new(false);
/// The server's nice value, which every child gets back (the spawner
/// thread runs with a boost of its own).
static SERVER_NICE: AtomicI32 = AtomicI32::new(0);
/// How far the spawner threads' nice value is below the server's. When
/// hundreds of running processes keep the server busy moving output, a
/// new process still starts within milliseconds: its start is a short job
/// that must not wait behind bulk work. Needs root; without it the thread
/// simply runs at the server's priority.
const SPAWNER_BOOST: i32 = 10;

fn spawner() -> io::Result<&'static Mutex<mpsc::Sender<Job>>> {
    if let Some(s) = SPAWNER.get() {
        return Ok(s);
    }
    if OWN_PID_NS.get().is_none() {
        let own = std::fs::File::open("/proc/self/ns/pid")?;
        let _ = OWN_PID_NS.set(own.into());
    }
    // Read on the calling thread, which runs at the server's priority, before
    // any spawner thread boosts itself or starts a child.
    if let Some(nice) = this_thread_nice() {
        SERVER_NICE.store(nice, Ordering::Relaxed);
    }
    let (tx, rx) = mpsc::channel::<Job>();
    // The receiver lives in the threads; if two callers race here, the
    // loser's threads end at once because its sender is dropped.
    let rx = std::sync::Arc::new(Mutex::new(rx));
    for i in 0..THREADS {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("sandscope-spawner-{i}"))
            .spawn(move || {
                boost_this_thread();
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = job else { break };
                    // A panicking job only loses its own reply.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
    }
    Ok(SPAWNER.get_or_init(|| Mutex::new(tx)))
}

/// Spawn `cmd` from a spawner thread, tied to the server's life with
/// `PR_SET_PDEATHSIG(SIGKILL)`. `cmd` is dropped there right after the
/// spawn, so descriptors it holds for the child (pipe write ends) are
/// closed when this returns. Must be called within a Tokio runtime, whose
/// reactor then drives the child.
///
/// Synchronous on purpose: a caller dropped while waiting (a stop during
/// creation) would otherwise lose the child before anyone could clean up
/// what it started.
pub fn spawn(mut cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("spawning outside a runtime: {e}")))?;
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    submit(Box::new(move || {
        let _entered = handle.enter();
        // Here, once the spawner is set up: it knows the server's nice value.
        die_with_server(&mut cmd);
        let res = cmd.spawn();
        drop(cmd);
        let _ = reply_tx.send(res);
    }))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("the process spawner thread is gone"))?
}

fn die_with_server(cmd: &mut tokio::process::Command) {
    let server = std::process::id() as libc::pid_t;
    let nice = server_nice();
    // SAFETY: prctl, getppid and setpriority are async-signal-safe and
    // allocate nothing.
    unsafe {
        cmd.pre_exec(move || {
            libc::setpriority(libc::PRIO_PROCESS, 0, nice);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The server may have died between fork and prctl, in which
            // case the signal will never come.
            if libc::getppid() != server {
                return Err(io::Error::other("the server exited"));
            }
            Ok(())
        });
    }
}

/// Run `spawn` (a fork) with this thread's children born in the pid
/// namespace `ns`, then come back to the server's own. Only the calling
/// thread's `pid_for_children` changes; the server itself stays where it is.
pub(super) fn in_pid_namespace<T>(
    ns: &OwnedFd,
    spawn: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
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

/// Run `job` on a spawner thread and return what it returns. The caller
/// waits without holding a runtime thread, so output keeps flowing while
/// many processes start at once.
pub(super) async fn run<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    submit(Box::new(move || {
        let _ = reply_tx.send(job());
    }))?;
    reply_rx
        .await
        .map_err(|_| io::Error::other("the process spawner thread is gone"))
}

fn submit(job: Job) -> io::Result<()> {
    spawner()?
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| io::Error::other("the process spawner thread is gone"))
}

/// The nice value children must run with: the server's own.
pub(super) fn server_nice() -> i32 {
    SERVER_NICE.load(Ordering::Relaxed)
}

/// The calling thread's nice value, if it can be read.
fn this_thread_nice() -> Option<i32> {
    // SAFETY: getpriority on this thread; errno tells -1 from an error.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
        (nice != -1 || *libc::__errno_location() == 0).then_some(nice)
    }
}

pub(super) fn boost_this_thread() {
    let nice = server_nice();
    // SAFETY: setpriority on this thread (a tid is a valid PRIO_PROCESS
    // target on Linux); failure leaves the priority as it was.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, (nice - SPAWNER_BOOST).max(-20));
    }
}
