//! Starting an exec'd process without copying the server. `fork()` copies
//! the page tables of the whole server and makes every page it touches
//! afterwards fault (copy-on-write), so its cost grows with the server's
//! memory: with hundreds of processes alive it dominated exec latency. The
//! child here shares the server's memory (`CLONE_VM | CLONE_VFORK`, what
//! `posix_spawn` does) and runs a few system calls on its own stack until it
//! execs; a spawner thread waits for that moment and nothing else does.
//!
//! The exit is collected through a pidfd, so Tokio's own child reaping
//! never sees these processes.
pub(super) mod clone;
pub mod connect;
pub mod file;
mod low_fds;
mod start;

use super::enter::Entry;
use super::sandbox_thread::SandboxThread;
use super::spawner;
use start::Started;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Reserve the low places children's descriptors wait in (see
/// `low_fds`), while the server's descriptor numbers are still low.
pub fn reserve_low_fds() {
    let _ = low_fds::get();
}

/// What the child's stdin, stdout and stderr are.
pub enum Stdio {
    /// Three pipes, read and written by the server.
    Pipes,
    /// A terminal's slave side: the child starts a session and makes it
    /// its controlling terminal.
    Terminal(OwnedFd),
}

/// A process ready to start, every string already in the form the child
/// needs (nothing is allocated after the clone).
pub struct Command {
    argv: Vec<CString>,
    env: Vec<CString>,
    /// Full paths to try in order, as `execvp` would from the exec's PATH.
    candidates: Vec<CString>,
    entry: Entry,
    /// The pid namespace the child is born in (None: its spawner's).
    pub pid_ns: Option<OwnedFd>,
    /// The spawner thread of its sandbox (None: the server's spawners).
    thread: Option<Arc<SandboxThread>>,
}

impl Command {
    /// `argv[0]` is looked up in the `PATH` of `env` (inside the sandbox,
    /// when `entry` enters one).
    pub fn new<'a>(
        argv: &[String],
        env: impl IntoIterator<Item = (&'a String, &'a String)>,
        entry: Entry,
        pid_ns: Option<OwnedFd>,
        thread: Option<Arc<SandboxThread>>,
    ) -> io::Result<Command> {
        let c = |s: &str, what: &str| {
            CString::new(s).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the {what} contains a NUL byte"),
                )
            })
        };
        let program = argv
            .first()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the command is empty"))?;
        let mut path = super::DEFAULT_PATH.to_string();
        let mut env_c = Vec::new();
        for (k, v) in env {
            if k == "PATH" {
                path = v.clone();
            }
            env_c.push(c(&format!("{k}={v}"), "environment")?);
        }
        let candidates = if program.contains('/') {
            vec![c(program, "command")?]
        } else {
            // An empty PATH entry means the current directory, as for execvp.
            path.split(':')
                .map(|d| {
                    let d = if d.is_empty() { "." } else { d };
                    c(&format!("{}/{program}", d.trim_end_matches('/')), "PATH")
                })
                .collect::<io::Result<_>>()?
        };
        Ok(Command {
            argv: argv
                .iter()
                .map(|a| c(a, "argument"))
                .collect::<io::Result<_>>()?,
            env: env_c,
            candidates,
            entry,
            pid_ns,
            thread,
        })
    }
}

/// A started process: the server's ends of its pipes (when it has pipes,
/// blocking descriptors for the caller to wrap) and its exit.
pub struct Child {
    pid: i32,
    pidfd: AsyncFd<OwnedFd>,
    status: Option<ExitStatus>,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Child {
    pub fn id(&self) -> Option<u32> {
        if self.status.is_some() {
            None
        } else {
            u32::try_from(self.pid).ok()
        }
    }

    /// Wait for the exit (cancel-safe: a dropped wait loses nothing).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        loop {
            let mut guard = self.pidfd.readable().await?;
            match reap(self.pidfd.get_ref(), false)? {
                Some(s) => {
                    self.status = Some(s);
                    return Ok(s);
                }
                None => guard.clear_ready(),
            }
        }
    }
}

impl Drop for Child {
    /// Like Tokio's `kill_on_drop`: a process nobody waits for any more is
    /// killed and reaped, never left running or as a zombie.
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        kill_and_reap(self.pidfd.get_ref());
    }
}

/// SIGKILL the child behind `pidfd` and wait for it to be gone.
fn kill_and_reap(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal on a pidfd we own: never another process.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
    let _ = reap(pidfd, true);
}

/// The exit status, if the process has exited (or once it has, if `block`).
fn reap(pidfd: &OwnedFd, block: bool) -> io::Result<Option<ExitStatus>> {
    // SAFETY: waitid fills the zeroed siginfo we pass.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: see above; P_PIDFD takes the descriptor as the id.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                flags,
            )
        };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break;
    }
    // SAFETY: si_pid/si_status are valid for the SIGCHLD info waitid fills.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return Ok(None); // WNOHANG and still running
    }
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => status | 0x80,
        _ => status,
    };
    Ok(Some(ExitStatus::from_raw(raw)))
}

/// Start `cmd` with `stdio`. A program that cannot be executed (not found,
/// not executable) is an error here, with the errno `execve` gave; a failure
/// to enter the sandbox or its directory is reported by the child itself
/// on its stderr, with its exit code.
pub async fn spawn(cmd: Command, stdio: Stdio) -> io::Result<Child> {
    // The child's ends travel with the start job and are closed only after
    // the clone, even if this future is dropped meanwhile: closed early,
    // their numbers could be reused by the server for something else.
    let (theirs, ours, child_fds) = match stdio {
        Stdio::Pipes => {
            let p = ChildPipes::new()?;
            let fds = [
                p.stdin.0.as_raw_fd(),
                p.stdout.1.as_raw_fd(),
                p.stderr.1.as_raw_fd(),
            ];
            (
                vec![p.stdin.0, p.stdout.1, p.stderr.1],
                Some((p.stdin.1, p.stdout.0, p.stderr.0)),
                fds,
            )
        }
        Stdio::Terminal(slave) => {
            let fd = slave.as_raw_fd();
            (vec![slave], None, [fd; 3])
        }
    };
    let tty = ours.is_none();
    // If this future is dropped meanwhile (the caller went away), the
    // `Started` is dropped where it lands, which kills and reaps the child.
    let thread = cmd.thread.clone();
    let job = move || {
        let res = start::start(&cmd, child_fds, tty);
        // The child has its copies; the server's must go, or no EOF comes.
        drop(theirs);
        res
    };
    let started = match thread {
        Some(t) => t.run(job).await??,
        None => spawner::run(job).await??,
    };
    let (stdin, stdout, stderr) = match ours {
        Some((i, o, e)) => (Some(i), Some(o), Some(e)),
        None => (None, None, None),
    };
    let (pid, pidfd) = started.into_parts();
    // SAFETY: the Child owns the pidfd for as long as the AsyncFd exists.
    let pidfd = match unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) } {
        Ok(fd) => fd,
        Err(e) => {
            let (pidfd, e) = e.into_parts();
            drop(Started { pid, pidfd });
            return Err(e);
        }
    };
    Ok(Child {
        pid,
        pidfd,
        status: None,
        stdin,
        stdout,
        stderr,
    })
}

/// (read end, write end) of the three pipes, all close-on-exec (the child's
/// `dup2` onto 0, 1, 2 clears that flag on its copies).
struct ChildPipes {
    stdin: (OwnedFd, OwnedFd),
    stdout: (OwnedFd, OwnedFd),
    stderr: (OwnedFd, OwnedFd),
}

impl ChildPipes {
    fn new() -> io::Result<ChildPipes> {
        let pipe = || -> io::Result<(OwnedFd, OwnedFd)> {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            Ok((above_stdio(r)?, above_stdio(w)?))
        };
        Ok(ChildPipes {
            stdin: pipe()?,
            stdout: pipe()?,
            stderr: pipe()?,
        })
    }
}

/// A descriptor numbered 3 or above, so the child's `dup2`s onto 0, 1 and 2
/// cannot overwrite one another's source (a server started with a closed
/// stdin gets 0 for its first pipe).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if n == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn command(argv: &[&str]) -> Command {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let env = BTreeMap::from([("PATH".to_string(), super::super::DEFAULT_PATH.to_string())]);
        let entry = Entry::host("/").unwrap_or_else(|e| panic!("entry: {e}"));
        Command::new(&argv, &env, entry, None, None).unwrap_or_else(|e| panic!("command: {e}"))
    }

    /// Processes (zombies included) whose name is `name`.
    fn named(name: &str) -> Vec<String> {
        let comm = format!("({name})");
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| stat.contains(&comm))
            .collect()
    }

    #[tokio::test]
    async fn runs_and_reports_the_exit() {
        let mut c = spawn(command(&["sh", "-c", "exit 7"]), Stdio::Pipes)
            .await
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let status = c.wait().await.unwrap_or_else(|e| panic!("wait: {e}"));
        assert_eq!(status.code(), Some(7));
        let missing = spawn(command(&["no-such-program-here"]), Stdio::Pipes).await;
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
    }

    #[tokio::test]
    async fn a_start_abandoned_halfway_leaves_no_process() {
        // A copy of sleep under a name of its own (at most 15 characters,
        // the kernel's limit for a process name), to find it by.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let name = format!("sbab{}", std::process::id() % 100_000_000);
        let program = dir.path().join(&name);
        std::fs::copy("/bin/sleep", &program).unwrap_or_else(|e| panic!("copy sleep: {e}"));
        let program = program.to_string_lossy().into_owned();
        // The first poll hands the start to a spawner thread; dropping the
        // future then abandons it before a Child takes the process over.
        // A spawner thread may win the race and finish within that poll
        // (the Child then kills its process on drop): try again.
        let mut abandoned = false;
        for _ in 0..20 {
            let mut start = Box::pin(spawn(command(&[&program, "1000"]), Stdio::Pipes));
            if futures::poll!(start.as_mut()).is_pending() {
                abandoned = true;
                break;
            }
        }
        assert!(abandoned, "every start finished within its first poll");
        // Long enough for the spawner thread to have started it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = named(&name);
            if left.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "left behind: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
