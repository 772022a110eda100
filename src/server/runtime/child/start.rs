//! The exec'd process between clone and exec: it joins the sandbox (see
//! `enter`), takes its stdio, gives up every privilege and execs, all on
//! its own stack inside the server's memory.
//!
//! A process is born in the sandbox's pid namespace only if its parent
//! entered that namespace first. A server running as root does that from
//! the spawner thread itself. A server run by an ordinary user has no right
//! to, until it joins the user namespace that owns the sandbox, which a
//! thread of a multithreaded process cannot: there a first child joins it
//! and the pid namespace, then clones the process that execs as a sibling
//! (`CLONE_PARENT`), so that process is still the server's own child.
use super::clone::{self, SignalsBlocked};
use super::low_fds::{self, Unshare};
use super::Command;
use crate::server::runtime::enter::{fail, fail_join};
use crate::server::runtime::spawner;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

const SHELL: &CStr = c"/bin/sh";

/// Everything the children read, laid out before the clone.
struct ChildArgs<'a> {
    stdio: [RawFd; 3],
    tty: bool,
    cmd: &'a Command,
    candidates: Vec<*const libc::c_char>,
    argv: Vec<*const libc::c_char>,
    /// `/bin/sh <path> argv[1..]`, for a file without `#!` (execvp runs
    /// those with the shell too); the child fills in the path.
    script_argv: std::cell::UnsafeCell<Vec<*const libc::c_char>>,
    envp: Vec<*const libc::c_char>,
    server: libc::pid_t,
    nice: libc::c_int,
    mask: libc::sigset_t,
    /// The errno of the last execve, written by the child if none worked.
    exec_errno: AtomicI32,
    /// Two-step start: the pid namespace the first child enters, the stack
    /// of the second, and the second's pid once cloned.
    pid_ns: Option<RawFd>,
    inner_stack: usize,
    inner_pid: AtomicI32,
    /// Set when the child shares the server's descriptor table: what it
    /// keeps of it (see `low_fds`).
    unshare: Option<Unshare>,
}

/// A child that has exec'd, until a `Child` takes it over: dropped before
/// that, it is killed and reaped, never left running unsupervised.
pub(super) struct Started {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

impl Started {
    pub fn into_parts(self) -> (i32, OwnedFd) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the descriptor
        // is moved out exactly once.
        (this.pid, unsafe { std::ptr::read(&this.pidfd) })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        super::kill_and_reap(&self.pidfd);
    }
}

/// Clone the child (from the calling spawner thread) and wait until it
/// has exec'd or failed to.
pub(super) fn start(cmd: &Command, stdio: [RawFd; 3], tty: bool) -> io::Result<Started> {
    let two_step = cmd.pid_ns.is_some() && cmd.entry.owner_userns.is_some();
    match (&cmd.pid_ns, two_step) {
        (Some(ns), false) => spawner::in_pid_namespace(ns, || clone_child(cmd, stdio, tty)),
        _ => clone_child(cmd, stdio, tty),
    }
}

fn clone_child(cmd: &Command, stdio: [RawFd; 3], tty: bool) -> io::Result<Started> {
    let ptrs = |v: &[std::ffi::CString]| -> Vec<*const libc::c_char> {
        v.iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let two_step = cmd.pid_ns.is_some() && cmd.entry.owner_userns.is_some();
    let parked = park(cmd, stdio, two_step);
    let blocked = SignalsBlocked::new();
    let [outer_stack, inner_stack] = clone::stack_tops()?;
    let args = ChildArgs {
        stdio,
        tty,
        cmd,
        candidates: cmd.candidates.iter().map(|c| c.as_ptr()).collect(),
        argv: ptrs(&cmd.argv),
        script_argv: std::cell::UnsafeCell::new(
            [SHELL.as_ptr(), std::ptr::null()]
                .into_iter()
                .chain(ptrs(&cmd.argv).into_iter().skip(1))
                .collect(),
        ),
        envp: ptrs(&cmd.env),
        server: std::process::id() as libc::pid_t,
        nice: spawner::server_nice(),
        mask: blocked.previous(),
        exec_errno: AtomicI32::new(0),
        pid_ns: cmd
            .pid_ns
            .as_ref()
            .filter(|_| two_step)
            .map(|f| f.as_raw_fd()),
        inner_stack,
        inner_pid: AtomicI32::new(0),
        unshare: parked.plan(),
    };
    let main = if two_step { outer_main } else { child_main };
    // SAFETY: CLONE_VFORK suspends this thread until the child (and, in
    // two steps, the grandchild) has exec'd or exited, so `args` and the
    // stacks outlive every use; signals are blocked.
    let pid = unsafe {
        clone::clone(
            main,
            outer_stack,
            libc::CLONE_VM | libc::CLONE_VFORK | parked.clone_flag() | libc::SIGCHLD,
            &args as *const ChildArgs as *mut libc::c_void,
        )
    };
    drop(blocked);
    // The child has its own table now (or is gone): the places go back.
    drop(parked);
    let mut pid = pid?;
    if two_step {
        let inner = args.inner_pid.load(Ordering::Acquire);
        if inner > 0 {
            // The first step is done; the process that exec'd is `inner`.
            // SAFETY: waits for our own child, which has exited already.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            pid = inner;
        }
        // Otherwise the first step failed: it is the process, with the
        // exit code and the message it gave.
    }
    // SAFETY: pidfd_open returns a new descriptor we then own. The child
    // is ours and unreaped, so the pid cannot have been reused.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = if pidfd < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: plain kill/waitpid of our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(e);
    } else {
        // SAFETY: a fresh descriptor (CLOEXEC is the pidfd default).
        unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) }
    };
    let errno = args.exec_errno.load(Ordering::Acquire);
    if errno != 0 {
        // The child has exited already (vfork): collect it.
        let _ = super::reap(&pidfd, true);
        return Err(io::Error::from_raw_os_error(errno));
    }
    Ok(Started { pid, pidfd })
}

/// The places for what the child uses (see `low_fds`).
fn park(cmd: &Command, stdio: [RawFd; 3], two_step: bool) -> low_fds::Parked {
    let pid_ns = cmd
        .pid_ns
        .as_ref()
        .filter(|_| two_step)
        .map(|f| f.as_raw_fd());
    low_fds::park_all(stdio.into_iter().chain(pid_ns).chain(cmd.entry.fds()))
}

/// The kernel's `struct sigaction` for rt_sigaction (not glibc's).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

unsafe fn dup_stdio(a: &ChildArgs) {
    for (i, fd) in a.stdio.iter().enumerate() {
        if libc::dup2(*fd, i as RawFd) == -1 {
            libc::_exit(126);
        }
    }
}

/// Take the stdio descriptors and leave the server's session: nothing in
/// a sandbox may reach the terminal the server runs in. A terminal exec
/// gets its pty as the controlling terminal of its new session.
unsafe fn take_stdio(a: &ChildArgs) {
    dup_stdio(a);
    if libc::setsid() == -1 {
        libc::_exit(126);
    }
    if a.tty && libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
        libc::_exit(126);
    }
}

/// The first of two steps (see the module comment): join the owning user
/// namespace and the pid namespace, then clone the process that execs.
extern "C" fn outer_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's ChildArgs, alive while it waits.
    unsafe {
        let a = &*(arg as *const ChildArgs);
        // First, before any descriptor is touched: a table of our own.
        if a.unshare.is_some_and(|u| !u.apply()) {
            libc::_exit(126);
        }
        // Failures here are reported on the exec's own stderr. No new
        // session here: it would end, and hang up its terminal, with us.
        dup_stdio(a);
        if let Err(e) = a.cmd.entry.join_owner() {
            fail_join(&a.cmd.entry, e);
        }
        if let Some(ns) = a.pid_ns {
            if libc::setns(ns, libc::CLONE_NEWPID) == -1 {
                fail(
                    &[b"sandscope: cannot enter the sandbox's pid namespace\n"],
                    126,
                );
            }
        }
        // CLONE_PARENT: the server's child, not ours. CLONE_VFORK: we
        // return once it has exec'd or exited.
        match clone::clone(
            child_main,
            a.inner_stack,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PARENT | libc::SIGCHLD,
            arg,
        ) {
            Ok(pid) => {
                a.inner_pid.store(pid, Ordering::Release);
                libc::_exit(0)
            }
            Err(_) => fail(&[b"sandscope: cannot start the process\n"], 126),
        }
    }
}

/// The process that execs: async-signal-safe system calls only, no
/// allocation, no panics, never a return into the server's code.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's ChildArgs, alive while it waits.
    unsafe {
        let a = &*(arg as *const ChildArgs);
        let two_step = a.pid_ns.is_some();
        // First, before any descriptor is touched: a table of our own. In
        // two steps the first did that, and this one was cloned from it
        // with a copy of that small table.
        if !two_step && a.unshare.is_some_and(|u| !u.apply()) {
            libc::_exit(126);
        }
        // Default dispositions for everything (the server ignores SIGPIPE,
        // for one), then the mask the spawner thread had.
        // The raw call: glibc's wrapper refuses the real-time signals it
        // keeps for itself, which would then stay as the server had them.
        // (Invalid numbers and SIGKILL/SIGSTOP just fail.)
        let dfl = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for sig in 1..=64 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            );
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &a.mask, std::ptr::null_mut());
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
            libc::_exit(126);
        }
        // A child born in a sandbox's pid namespace sees its live parent as
        // 0 (outside); orphaned, it would see the sandbox's init, 1.
        let parent = libc::getppid();
        if parent != a.server && parent != 0 {
            libc::_exit(126);
        }
        take_stdio(a);
        let entry = &a.cmd.entry;
        if let Err(e) = entry.join(two_step) {
            fail_join(entry, e);
        }
        // Nothing of the server's reaches the command (its own descriptors
        // are close-on-exec already; this covers inherited ones too).
        libc::syscall(libc::SYS_close_range, 3u32, libc::c_uint::MAX, 0u32);
        // The setup above ran with the spawner threads' boost, since a
        // spawner waits for it; the command runs at the server's priority.
        libc::setpriority(libc::PRIO_PROCESS, 0, a.nice);
        if let Err(e) = entry.confine() {
            fail_join(entry, e);
        }
        let mut errno = libc::ENOENT;
        for path in &a.candidates {
            libc::execve(*path, a.argv.as_ptr(), a.envp.as_ptr());
            if *libc::__errno_location() == libc::ENOEXEC {
                // Only this child uses the vector, and the parent is
                // suspended until it execs or exits.
                let script = &mut *a.script_argv.get();
                script[1] = *path;
                libc::execve(SHELL.as_ptr(), script.as_ptr(), a.envp.as_ptr());
                errno = *libc::__errno_location();
                break;
            }
            match *libc::__errno_location() {
                // Try the next directory, as execvp does; remember a
                // "found but not executable" over "not found".
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                libc::EACCES => errno = libc::EACCES,
                other => {
                    errno = other;
                    break;
                }
            }
        }
        a.exec_errno.store(errno, Ordering::Release);
        libc::_exit(127)
    }
}
