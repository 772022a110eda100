//! Opening a file as a sandbox's own process would: a short-lived child
//! joins the sandbox (namespaces, root, ids, no capabilities), creates the
//! missing parent directories if asked, opens the path and exits. It
//! shares the server's descriptor table (`CLONE_FILES`), so the descriptor
//! it opened is the server's to read or write afterwards. The kernel checks
//! access when a file is opened, so what the server can then do with it is
//! exactly what the sandbox could.
//!
//! The child starts a session of its own first: opening `/dev/tty` then
//! fails instead of reaching the terminal the server runs in.
use super::clone::{self, SignalsBlocked};
use crate::server::runtime::enter::{Entry, JoinError};
use crate::server::runtime::spawner;
use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// What to open, inside the sandbox.
pub struct OpenRequest {
    pub path: CString,
    /// Directories to create first, outermost first (for a write).
    pub parents: Vec<CString>,
    pub flags: libc::c_int,
    pub mode: libc::mode_t,
}

struct OpenArgs<'a> {
    entry: &'a Entry,
    how: OpenHow,
    req: &'a OpenRequest,
    /// The descriptor, or -errno.
    result: AtomicI32,
    /// Set when joining failed (`result` holds its errno then).
    join_failed: AtomicI32,
}

/// Open `req` in the sandbox `entry` leads into. Joining failures come
/// back as errors naming the step; open failures with their errno.
pub async fn open_in(entry: Entry, req: OpenRequest) -> io::Result<OwnedFd> {
    spawner::run(move || open_now(&entry, &req)).await?
}

fn open_now(entry: &Entry, req: &OpenRequest) -> io::Result<OwnedFd> {
    let args = OpenArgs {
        entry,
        how: OpenHow {
            flags: (req.flags | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
            mode: u64::from(req.mode),
            resolve: RESOLVE_NO_MAGICLINKS,
        },
        req,
        result: AtomicI32::new(-libc::EIO),
        join_failed: AtomicI32::new(0),
    };
    let blocked = SignalsBlocked::new();
    let [stack, _] = clone::stack_tops();
    // SAFETY: CLONE_VFORK suspends this thread until the child has exited,
    // so `args` outlives its every use; signals are blocked.
    let pid = unsafe {
        clone::clone(
            open_main,
            stack,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD,
            &args as *const OpenArgs as *mut libc::c_void,
        )
    };
    drop(blocked);
    let pid = pid?;
    // SAFETY: reaps our own child, which has exited (vfork).
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    let r = args.result.load(Ordering::Acquire);
    if r >= 0 {
        // SAFETY: the child opened it in our shared descriptor table and
        // nobody else knows of it.
        return Ok(unsafe { OwnedFd::from_raw_fd(r) });
    }
    let e = io::Error::from_raw_os_error(-r);
    if args.join_failed.load(Ordering::Acquire) != 0 {
        return Err(io::Error::other(format!("cannot enter the sandbox: {e}")));
    }
    Err(e)
}

extern "C" fn open_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's OpenArgs, alive while it waits.
    unsafe {
        let a = &*(arg as *const OpenArgs);
        let joined = (|| -> Result<(), JoinError> {
            if libc::setsid() == -1 {
                return Err(JoinError {
                    what: b"",
                    errno: *libc::__errno_location(),
                    code: 126,
                });
            }
            a.entry.join(false)?;
            a.entry.drop_all_capabilities()
        })();
        if let Err(e) = joined {
            a.join_failed.store(1, Ordering::Release);
            a.result.store(-e.errno.max(1), Ordering::Release);
            libc::_exit(1);
        }
        for dir in &a.req.parents {
            if libc::mkdir(dir.as_ptr(), 0o755) == -1 && *libc::__errno_location() != libc::EEXIST {
                a.result
                    .store(-*libc::__errno_location(), Ordering::Release);
                libc::_exit(1);
            }
        }
        let fd = libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            a.req.path.as_ptr(),
            &a.how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        );
        if fd < 0 {
            a.result
                .store(-*libc::__errno_location(), Ordering::Release);
            libc::_exit(1);
        }
        a.result.store(fd as i32, Ordering::Release);
        libc::_exit(0)
    }
}
