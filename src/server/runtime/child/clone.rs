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
    static STACKS: std::cell::RefCell<Option<Stacks>> = const { std::cell::RefCell::new(None) };
}

/// A thread's child stacks: one anonymous mapping, so that only the pages
/// a child touches become resident (a few KiB). Zero-filling a heap buffer
/// instead made every thread that ever spawned hold all 512 KiB, and each
/// sandbox has a spawner thread of its own.
struct Stacks {
    base: *mut libc::c_void,
}

impl Stacks {
    fn map() -> io::Result<Stacks> {
        // SAFETY: a fresh private anonymous mapping, owned by the result.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Stacks { base })
    }
}

impl Drop for Stacks {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`, at thread exit,
        // when no child of the thread runs on it any more.
        unsafe {
            libc::munmap(self.base, 2 * STACK_SIZE);
        }
    }
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
pub fn stack_tops() -> io::Result<[usize; 2]> {
    STACKS.with(|s| {
        let mut s = s.borrow_mut();
        let stacks = match s.as_ref() {
            Some(stacks) => stacks,
            None => s.insert(Stacks::map()?),
        };
        let base = stacks.base as usize;
        Ok([(base + STACK_SIZE) & !0xf, (base + 2 * STACK_SIZE) & !0xf])
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of `[start, start + len)` resident in memory.
    fn resident_pages(start: usize, len: usize) -> usize {
        let page = 4096;
        let start = start & !(page - 1);
        let mut vec = vec![0u8; len.div_ceil(page) + 1];
        // SAFETY: mincore fills one byte per page of the range into `vec`,
        // which holds one more than the range can span.
        let r = unsafe { libc::mincore(start as *mut libc::c_void, len, vec.as_mut_ptr()) };
        assert_eq!(r, 0, "mincore: {}", io::Error::last_os_error());
        vec.iter().filter(|b| **b & 1 == 1).count()
    }

    /// A thread's child stacks cost only the pages a child touches: a
    /// thread that has asked for them holds (almost) none resident.
    #[test]
    fn child_stacks_are_not_resident_until_used() {
        let resident = std::thread::spawn(|| {
            let [top, _] = stack_tops().unwrap_or_else(|e| panic!("stacks: {e}"));
            let again = stack_tops().unwrap_or_else(|e| panic!("stacks: {e}"));
            assert_eq!(again[0], top, "one mapping per thread");
            resident_pages(top - STACK_SIZE, 2 * STACK_SIZE)
        })
        .join()
        .unwrap_or_else(|_| panic!("thread"));
        assert!(resident <= 2, "{resident} of 128 pages resident");
    }
}
