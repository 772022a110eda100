//! Low descriptor numbers where a child's descriptors wait while it is
//! cloned, so that it can leave the rest of the server's descriptor table
//! behind in one step.
//!
//! A child that gets a copy of the table (a clone without `CLONE_FILES`)
//! pays twice for every descriptor the server holds: the copy, and closing
//! each at exec (the kernel flushes every file it closes). With 18,000
//! descriptors (500 sandboxes and their idle processes) an exec round trip
//! took 12 ms instead of 1.5. Instead the child shares the server's table
//! and, as its very first step, unshares it with `close_range(bound, ~0,
//! CLOSE_RANGE_UNSHARE)`, which copies only the numbers below `bound`; then
//! it moves the descriptors parked there back to the numbers the rest of
//! its code uses.
//!
//! The places are reserved for the server's life: each holds `/dev/null`
//! (close-on-exec) while no spawn uses it, so the kernel never hands its
//! number out. A spawn leases a set of them; a few spawns run at once.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Condvar, Mutex, OnceLock};

/// Spawns that may park their descriptors at once.
const SETS: usize = 4;
/// Descriptors one child may park: its stdio, a pid namespace and what its
/// entry into the sandbox opens (namespaces, root, cgroups).
pub const PER_SET: usize = 24;
/// `close_range`'s flag: give the caller a table of its own first.
const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;

pub struct LowFds {
    slots: Vec<RawFd>,
    /// One above the highest slot: what a child keeps of the shared table.
    bound: RawFd,
    free: Mutex<Vec<usize>>,
    freed: Condvar,
    null: OwnedFd,
}

/// The server's reserved places, made at the first call (None where they
/// cannot be: children then copy the table as before).
pub fn get() -> Option<&'static LowFds> {
    static LOW: OnceLock<Option<LowFds>> = OnceLock::new();
    LOW.get_or_init(|| match LowFds::reserve() {
        Ok(low) => Some(low),
        Err(e) => {
            tracing::warn!(error = %e, "cannot reserve low descriptors; each exec copies the server's descriptor table");
            None
        }
    })
    .as_ref()
}

/// A lease with `fds` parked, for a child to clone with `CLONE_FILES`; None
/// where the server has no places or they do not fit (the child then
/// copies the whole table, as any child did before).
pub fn park_all(fds: impl IntoIterator<Item = RawFd>) -> Option<Lease<'static>> {
    let mut lease = get()?.lease();
    for fd in fds {
        if let Err(e) = lease.park(fd) {
            tracing::debug!(error = %e, "a child copies the descriptor table");
            return None;
        }
    }
    Some(lease)
}

impl LowFds {
    fn reserve() -> io::Result<LowFds> {
        let null = OwnedFd::from(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?,
        );
        let mut slots = Vec::with_capacity(SETS * PER_SET);
        for _ in 0..SETS * PER_SET {
            // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor (the lowest
            // free number), which the reservation then owns for good.
            let fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
            if fd == -1 {
                let e = io::Error::last_os_error();
                for fd in slots {
                    // SAFETY: closes only the descriptors made above.
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                }
                return Err(e);
            }
            slots.push(fd);
        }
        let bound = slots.iter().copied().max().unwrap_or(0) + 1;
        Ok(LowFds {
            slots,
            bound,
            free: Mutex::new((0..SETS).collect()),
            freed: Condvar::new(),
            null,
        })
    }

    /// A set of places for one spawn, once one is free.
    pub fn lease(&self) -> Lease<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let set = loop {
            if let Some(set) = free.pop() {
                break set;
            }
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        };
        Lease {
            low: self,
            set,
            plan: Unshare {
                bound: self.bound,
                parked: [(0, 0); PER_SET],
                count: 0,
            },
        }
    }
}

/// One spawn's places. Dropped once the child has exec'd (or failed to):
/// every place gets `/dev/null` back and the set is free again.
pub struct Lease<'a> {
    low: &'a LowFds,
    set: usize,
    plan: Unshare,
}

impl Lease<'_> {
    /// Park `fd` for the child. Numbers below the bound need no place: the
    /// child keeps those anyway.
    pub fn park(&mut self, fd: RawFd) -> io::Result<()> {
        let plan = &mut self.plan;
        if fd < plan.bound || plan.parked[..plan.count].iter().any(|p| p.1 == fd) {
            return Ok(());
        }
        if plan.count == PER_SET {
            return Err(io::Error::other("more descriptors than a child may park"));
        }
        let slot = self.low.slots[self.set * PER_SET + plan.count];
        // dup3, not dup2: the place stays close-on-exec, so nothing else
        // the server starts meanwhile inherits it.
        // SAFETY: replaces our own placeholder at `slot` with a copy of `fd`.
        if unsafe { libc::dup3(fd, slot, libc::O_CLOEXEC) } == -1 {
            return Err(io::Error::last_os_error());
        }
        plan.parked[plan.count] = (slot, fd);
        plan.count += 1;
        Ok(())
    }

    /// What the child does first, as plain data it can read after the clone.
    pub fn plan(&self) -> Unshare {
        self.plan
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        for &(slot, _) in &self.plan.parked[..self.plan.count] {
            // SAFETY: puts the placeholder back at our own reserved slot.
            unsafe { libc::dup3(self.low.null.as_raw_fd(), slot, libc::O_CLOEXEC) };
        }
        let mut free = self.low.free.lock().unwrap_or_else(|p| p.into_inner());
        free.push(self.set);
        self.low.freed.notify_one();
    }
}

/// The child's first step, for a child cloned with `CLONE_FILES`.
#[derive(Clone, Copy)]
pub struct Unshare {
    bound: RawFd,
    /// (place, the number the child's code uses).
    parked: [(RawFd, RawFd); PER_SET],
    count: usize,
}

impl Unshare {
    /// Leave the shared table keeping the numbers below the bound, then
    /// bring the parked descriptors back to their numbers. False if either
    /// failed (the child must then exit at once).
    ///
    /// # Safety
    /// Only in a child cloned with `CLONE_FILES`, before it touches any
    /// descriptor; async-signal-safe.
    pub unsafe fn apply(&self) -> bool {
        if libc::syscall(
            libc::SYS_close_range,
            self.bound as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_UNSHARE,
        ) == -1
        {
            return false;
        }
        self.parked[..self.count]
            .iter()
            .all(|&(slot, fd)| libc::dup2(slot, fd) != -1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(fd: RawFd) -> String {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// A parked descriptor sits in a low place while leased, and the place
    /// holds /dev/null again afterwards; places below the bound are kept.
    #[test]
    fn parking_and_giving_back() {
        let low = get().expect("reserved");
        let high = (0..200)
            .map(|_| std::fs::File::open("/proc/self/stat").map(OwnedFd::from))
            .collect::<io::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("open: {e}"));
        let fd = high.last().map(|f| f.as_raw_fd()).unwrap_or(-1);
        assert!(fd >= low.bound, "{fd} below {}", low.bound);
        let slot;
        {
            let mut lease = low.lease();
            lease.park(fd).unwrap_or_else(|e| panic!("park: {e}"));
            lease.park(fd).unwrap_or_else(|e| panic!("park again: {e}"));
            lease
                .park(0)
                .unwrap_or_else(|e| panic!("park a low one: {e}"));
            let plan = lease.plan();
            assert_eq!(plan.count, 1, "once, and not the low one");
            slot = plan.parked[0].0;
            assert!(slot < low.bound);
            assert_eq!(target(slot), target(fd));
            // SAFETY: reads the descriptor flags of our own slot.
            let flags = unsafe { libc::fcntl(slot, libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert_eq!(target(slot), "/dev/null");
    }
}
