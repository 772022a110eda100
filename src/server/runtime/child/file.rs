//! Reading and writing a file as a sandbox's own process would: a
//! short-lived child joins the sandbox (namespaces, root, ids, cgroups, no
//! capabilities), creates the missing parent directories if asked, opens
//! the path and does the reading or writing itself, straight from or into
//! the server's buffer (it shares the server's memory). The kernel sees
//! only the sandbox's credentials, at open and at every read and write:
//! some files (in /proc, for one) check the writer's rights on each write.
//!
//! The child starts a session of its own first: opening `/dev/tty` then
//! fails instead of reaching the terminal the server runs in.
use super::clone::{self, SignalsBlocked};
use super::low_fds::{self, Unshare};
use crate::server::runtime::enter::Entry;
use crate::server::runtime::sandbox_thread::SandboxThread;
use crate::server::runtime::spawner;
use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// What to do, inside the sandbox.
pub enum FileOp {
    /// Read a whole regular file of at most `max` bytes.
    Read { path: CString, max: u64 },
    /// Create or truncate a regular file, with the directories above it
    /// (`parents`, outermost first).
    Write {
        path: CString,
        parents: Vec<CString>,
        content: Vec<u8>,
    },
}

#[derive(Debug)]
pub enum FileError {
    /// The sandbox could not be entered.
    Enter(io::Error),
    /// A directory could not be made, or the file opened, read or written.
    Io(io::Error),
    IsDirectory,
    NotRegular,
    TooLarge(u64),
}

/// How far the child got.
const DONE: i32 = 0;
const ENTER: i32 = 1;
const IO: i32 = 2;
const IS_DIR: i32 = 3;
const NOT_REGULAR: i32 = 4;
const TOO_LARGE: i32 = 5;

struct FileArgs<'a> {
    entry: &'a Entry,
    how: OpenHow,
    path: &'a CString,
    parents: &'a [CString],
    /// Read: where to, and how much room (one byte more than allowed, to
    /// tell "too large"). Write: what, and how much.
    buf: *mut u8,
    len: usize,
    write: bool,
    stage: AtomicI32,
    errno: AtomicI32,
    /// Bytes read, or the size of a file that is too large.
    done: AtomicU64,
    /// Set when the child shares the server's descriptor table.
    unshare: Option<Unshare>,
}

/// Run `op` in the sandbox `entry` leads into, from the sandbox's own
/// spawner thread if it has one. Returns the content read (empty for a
/// write).
pub async fn run_in(
    entry: Entry,
    op: FileOp,
    thread: Option<Arc<SandboxThread>>,
) -> Result<Vec<u8>, FileError> {
    let job = move || run_now(&entry, op);
    match thread {
        Some(t) => t.run(job).await,
        None => spawner::run(job).await,
    }
    .map_err(FileError::Enter)?
}

fn run_now(entry: &Entry, op: FileOp) -> Result<Vec<u8>, FileError> {
    let (path, parents, mut buf, write, flags, mode) = match op {
        FileOp::Read { path, max } => {
            let room = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
            // O_NONBLOCK: a FIFO planted by the sandbox must not hang us.
            let flags = libc::O_RDONLY | libc::O_NONBLOCK;
            (path, Vec::new(), Vec::with_capacity(room), false, flags, 0)
        }
        FileOp::Write {
            path,
            parents,
            content,
        } => {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NONBLOCK;
            (path, parents, content, true, flags, 0o644)
        }
    };
    // The child shares the server's descriptor table and keeps only what
    // it needs of it (see `low_fds`), instead of copying and closing all.
    let parked = low_fds::park_all(entry.fds());
    let args = FileArgs {
        entry,
        how: OpenHow {
            flags: (flags | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
            mode,
            resolve: RESOLVE_NO_MAGICLINKS,
        },
        path: &path,
        parents: &parents,
        buf: buf.as_mut_ptr(),
        len: if write { buf.len() } else { buf.capacity() },
        write,
        stage: AtomicI32::new(ENTER),
        errno: AtomicI32::new(libc::EIO),
        done: AtomicU64::new(0),
        unshare: parked.plan(),
    };
    let blocked = SignalsBlocked::new();
    let [stack, _] = clone::stack_tops().map_err(FileError::Enter)?;
    // SAFETY: CLONE_VFORK suspends this thread until the child has exited,
    // so `args` and the buffer it points into outlive every use, and
    // nothing else touches the buffer meanwhile; signals are blocked.
    let pid = unsafe {
        clone::clone(
            file_main,
            stack,
            libc::CLONE_VM | libc::CLONE_VFORK | parked.clone_flag() | libc::SIGCHLD,
            &args as *const FileArgs as *mut libc::c_void,
        )
    };
    drop(blocked);
    drop(parked);
    let pid = pid.map_err(FileError::Enter)?;
    // SAFETY: reaps our own child, which has exited (vfork).
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    let errno = || io::Error::from_raw_os_error(args.errno.load(Ordering::Acquire));
    match args.stage.load(Ordering::Acquire) {
        DONE if write => Ok(Vec::new()),
        DONE => {
            let n = usize::try_from(args.done.load(Ordering::Acquire)).unwrap_or(0);
            // SAFETY: the child wrote exactly `n` bytes (at most the
            // capacity) at the start of the buffer before exiting.
            unsafe { buf.set_len(n.min(buf.capacity())) };
            buf.shrink_to_fit();
            Ok(buf)
        }
        ENTER => Err(FileError::Enter(io::Error::other(format!(
            "cannot enter the sandbox: {}",
            errno()
        )))),
        IS_DIR => Err(FileError::IsDirectory),
        NOT_REGULAR => Err(FileError::NotRegular),
        TOO_LARGE => Err(FileError::TooLarge(args.done.load(Ordering::Acquire))),
        _ => Err(FileError::Io(errno())),
    }
}

/// The child: system calls only, on its own stack, into or out of the
/// parent's buffer.
extern "C" fn file_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's FileArgs, alive while it waits.
    unsafe {
        let a = &*(arg as *const FileArgs);
        let fail = |stage: i32| -> ! {
            a.errno.store(*libc::__errno_location(), Ordering::Release);
            a.stage.store(stage, Ordering::Release);
            libc::_exit(1)
        };
        // First, before any descriptor is touched: a table of our own.
        if a.unshare.is_some_and(|u| !u.apply()) {
            fail(ENTER);
        }
        if let Err(errno) = a.entry.join_as_helper() {
            *libc::__errno_location() = errno;
            fail(ENTER);
        }
        // Nothing it was handed is needed once inside, and a path through
        // `/proc/self/fd/N` (which `mkdir` of the parents would follow) must
        // find no descriptor of the server's to lead anywhere.
        if libc::syscall(libc::SYS_close_range, 3u32, libc::c_uint::MAX, 0u32) != 0 {
            fail(ENTER);
        }
        for dir in a.parents {
            if libc::mkdir(dir.as_ptr(), 0o755) == -1 && *libc::__errno_location() != libc::EEXIST {
                fail(IO);
            }
        }
        let fd = libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            a.path.as_ptr(),
            &a.how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        );
        if fd < 0 {
            fail(IO);
        }
        let fd = fd as libc::c_int;
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) == -1 {
            fail(IO);
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFDIR => fail(IS_DIR),
            _ => fail(NOT_REGULAR),
        }
        let mut off = 0usize;
        if a.write {
            while off < a.len {
                let n = libc::write(fd, a.buf.add(off).cast(), a.len - off);
                if n <= 0 {
                    fail(IO);
                }
                off += n as usize;
            }
        } else {
            // `len` is one more than allowed: filling it means too large.
            if st.st_size > 0 && st.st_size as u64 >= a.len as u64 {
                a.done.store(st.st_size as u64, Ordering::Release);
                fail(TOO_LARGE);
            }
            while off < a.len {
                let n = libc::read(fd, a.buf.add(off).cast(), a.len - off);
                if n < 0 {
                    fail(IO);
                }
                if n == 0 {
                    break;
                }
                off += n as usize;
            }
            if off >= a.len {
                a.done.store(off as u64, Ordering::Release);
                fail(TOO_LARGE);
            }
        }
        libc::close(fd);
        a.done.store(off as u64, Ordering::Release);
        a.stage.store(DONE, Ordering::Release);
        libc::_exit(0)
    }
}
