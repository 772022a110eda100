//! The one primitive every child of the server starts with: a process
//! cloned to run a given function on a stack of its own, sharing the
//! server's memory (`CLONE_VM`) until it execs or exits. Copying the server
//! instead (`fork`) costs time in proportion to its memory.
//!
//! Such a child may run only async-signal-safe system calls, allocate
//! nothing and never return into the server's code. While it runs, the
//! cloning thread keeps every signal blocked (the child inherits that mask),
//! so no signal handler of the server can run on the child's stack.
use std::io;

/// Size of one child stack.
const STACK_SIZE: usize = 256 << 10;

thread_local! {
    /// Two stacks per thread: a child may clone one grandchild of its own.
    static STACKS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Every signal blocked in the calling thread until dropped.
pub struct SignalsBlocked {
    old: libc::sigset_t,
}

impl SignalsBlocked {
    pub fn new() -> SignalsBlocked {
        // SAFETY: sigset_t is plain data that sigfillset and pthread_sigmask fill.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            SignalsBlocked { old }
        }
    }

    /// The mask the thread had, which an exec'ing child restores.
    pub fn previous(&self) -> libc::sigset_t {
        self.old
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// The tops of the calling thread's two child stacks (16-byte aligned;
/// stacks grow down). They stay valid until the thread exits; a thread
/// runs one child (and its grandchild) at a time.
pub fn stack_tops() -> [usize; 2] {
    STACKS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 2 * STACK_SIZE {
            s.resize(2 * STACK_SIZE, 0);
        }
        let base = s.as_mut_ptr() as usize;
        [(base + STACK_SIZE) & !0xf, (base + 2 * STACK_SIZE) & !0xf]
    })
}

/// Clone a child running `main(arg)` on the stack whose top is `stack`.
///
/// # Safety
/// `flags` must include `CLONE_VM`; `stack` must come from [`stack_tops`]
/// of this thread (or, in a child, be the other one) and not be in use;
/// `arg` must outlive the child's use of it (with `CLONE_VFORK`, the clone
/// returns only once the child has exec'd or exited); signals must be
/// blocked ([`SignalsBlocked`]); `main` must follow the module's rules.
pub unsafe fn clone(
    main: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    stack: usize,
    flags: libc::c_int,
    arg: *mut libc::c_void,
) -> io::Result<libc::pid_t> {
    let pid = libc::clone(main, stack as *mut libc::c_void, flags, arg);
    if pid == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}
