//! Starts every long-lived host process of the server (bwrap, nsenter'd
//! execs, host-runtime processes) so that the kernel kills it when the
//! server process dies, however it dies (a crash, SIGKILL, a test that
//! panics before shutdown).
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
//! not the process. Tokio's blocking-pool threads exit after idling, and a
//! worker thread can become one (`block_in_place`), so every spawn goes
//! through one dedicated thread that lives as long as the process.
use std::io;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();

fn spawner() -> io::Result<&'static Mutex<mpsc::Sender<Job>>> {
    if let Some(s) = SPAWNER.get() {
        return Ok(s);
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
pub fn spawn(mut cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("spawning outside a runtime: {e}")))?;
    die_with_server(&mut cmd);
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _entered = handle.enter();
        let res = cmd.spawn();
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
            // case the signal will never come.
            if libc::getppid() != server {
                return Err(io::Error::other("the server exited"));
            }
            Ok(())
        });
    }
}
