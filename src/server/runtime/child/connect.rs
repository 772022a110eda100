//! Opening a TCP connection to a port of a sandbox's own loopback, as a
//! process of that sandbox would: a short-lived child joins the sandbox
//! (namespaces, root, ids, cgroups, no capabilities) and creates the
//! socket there, so it belongs to the sandbox's network namespace and
//! user. The child shares the server's descriptor table (`CLONE_FILES`),
//! which is how the socket reaches the server; the server then only moves
//! bytes through it. Nothing but that one port of that one sandbox can be
//! reached this way: the address is fixed here, never taken from a request
//! or from the sandbox.
use super::clone::{self, SignalsBlocked};
use crate::server::runtime::enter::Entry;
use crate::server::runtime::sandbox_thread::SandboxThread;
use crate::server::runtime::spawner;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// Which loopback of the sandbox to dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loopback {
    V4,
    V6,
}

/// How far the child got.
const DONE: i32 = 0;
const ENTER: i32 = 1;
const SOCKET: i32 = 2;
const CONNECT: i32 = 3;

struct ConnectArgs<'a> {
    entry: &'a Entry,
    family: libc::c_int,
    addr: *const libc::sockaddr,
    addr_len: libc::socklen_t,
    stage: AtomicI32,
    errno: AtomicI32,
    /// The socket, in the server's (shared) descriptor table.
    fd: AtomicI32,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The sandbox could not be entered.
    Enter(io::Error),
    /// The socket could not be made or the connection not started.
    Io(io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Enter(e) => write!(f, "cannot enter the sandbox: {e}"),
            ConnectError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Start a non-blocking connection to `port` on the sandbox's loopback,
/// from the sandbox's spawner thread if it has one. The socket returned
/// may still be connecting (wait until it is writable, then check
/// `SO_ERROR`).
pub async fn connect_in(
    entry: Entry,
    loopback: Loopback,
    port: u16,
    thread: Option<Arc<SandboxThread>>,
) -> Result<OwnedFd, ConnectError> {
    let job = move || connect_now(&entry, loopback, port);
    match thread {
        Some(t) => t.run(job).await,
        None => spawner::run(job).await,
    }
    .map_err(ConnectError::Enter)?
}

fn connect_now(entry: &Entry, loopback: Loopback, port: u16) -> Result<OwnedFd, ConnectError> {
    // SAFETY: both are plain C structs for which all zeroes is valid.
    let mut v4: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut v6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let (family, addr, addr_len) = match loopback {
        Loopback::V4 => {
            v4.sin_family = libc::AF_INET as libc::sa_family_t;
            v4.sin_port = port.to_be();
            v4.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            (
                libc::AF_INET,
                &v4 as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>(),
            )
        }
        Loopback::V6 => {
            v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            v6.sin6_port = port.to_be();
            v6.sin6_addr.s6_addr = std::net::Ipv6Addr::LOCALHOST.octets();
            (
                libc::AF_INET6,
                &v6 as *const libc::sockaddr_in6 as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in6>(),
            )
        }
    };
    let args = ConnectArgs {
        entry,
        family,
        addr,
        addr_len: addr_len as libc::socklen_t,
        stage: AtomicI32::new(ENTER),
        errno: AtomicI32::new(libc::EIO),
        fd: AtomicI32::new(-1),
    };
    let blocked = SignalsBlocked::new();
    let [stack, _] = clone::stack_tops().map_err(ConnectError::Enter)?;
    // SAFETY: CLONE_VFORK suspends this thread until the child has exited,
    // so `args` and the addresses it points at outlive every use; signals
    // are blocked. CLONE_FILES only shares the descriptor table: the child
    // adds one socket to it and closes nothing of the server's.
    let pid = unsafe {
        clone::clone(
            connect_main,
            stack,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD,
            &args as *const ConnectArgs as *mut libc::c_void,
        )
    };
    drop(blocked);
    let pid = pid.map_err(ConnectError::Enter)?;
    // SAFETY: reaps our own child, which has exited (vfork).
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    let errno = || io::Error::from_raw_os_error(args.errno.load(Ordering::Acquire));
    match args.stage.load(Ordering::Acquire) {
        DONE => {
            let fd = args.fd.load(Ordering::Acquire);
            if fd < 0 {
                return Err(ConnectError::Io(io::Error::other("no socket was made")));
            }
            // SAFETY: the child made this descriptor in our table and
            // left it to us; nothing else knows its number.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        ENTER => Err(ConnectError::Enter(errno())),
        _ => Err(ConnectError::Io(errno())),
    }
}

/// The child: system calls only, on its own stack.
extern "C" fn connect_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's ConnectArgs, alive while it waits.
    unsafe {
        let a = &*(arg as *const ConnectArgs);
        let fail = |stage: i32| -> ! {
            a.errno.store(*libc::__errno_location(), Ordering::Release);
            a.stage.store(stage, Ordering::Release);
            libc::_exit(1)
        };
        if let Err(errno) = a.entry.join_as_helper() {
            *libc::__errno_location() = errno;
            fail(ENTER);
        }
        let fd = libc::socket(
            a.family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            fail(SOCKET);
        }
        if libc::connect(fd, a.addr, a.addr_len) == -1
            && *libc::__errno_location() != libc::EINPROGRESS
        {
            let errno = *libc::__errno_location();
            libc::close(fd);
            *libc::__errno_location() = errno;
            fail(CONNECT);
        }
        a.fd.store(fd, Ordering::Release);
        a.stage.store(DONE, Ordering::Release);
        libc::_exit(0)
    }
}
