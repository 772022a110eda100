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
//! The places are reserved for the server's life (at its start, while its
//! descriptor numbers are still low): each holds `/dev/null` (close-on-exec)
//! while no spawn uses it, so the kernel never hands its number out. A
//! spawn leases a set of them; when all are taken (a few spawns at once,
//! or children a sandbox keeps from reaching exec), a spawn does not wait
//! but copies the table as any child did before.
//!
//! The child closes every other low descriptor it kept (other spawns'
//! parked descriptors among them) right after, before it joins the
//! sandbox, so nothing of another sandbox is open in it there.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

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

/// `fds` parked for one child, if the server has places, one set is free
/// and they fit; otherwise the child copies the whole table, as any child
/// did before. Dropped once the clone has returned.
pub fn park_all(fds: impl IntoIterator<Item = RawFd>) -> Parked {
    let lease = get().and_then(LowFds::try_lease).and_then(|mut lease| {
        for fd in fds {
            if let Err(e) = lease.park(fd) {
                tracing::debug!(error = %e, "a child copies the descriptor table");
                return None;
            }
        }
        Some(lease)
    });
    Parked(lease)
}

/// What [`park_all`] arranged for one child.
pub struct Parked(Option<Lease<'static>>);

impl Parked {
    /// The child's first step, when it shares the table.
    pub fn plan(&self) -> Option<Unshare> {
        self.0.as_ref().map(Lease::plan)
    }

    /// The clone flag that goes with it: share the table, or copy it.
    pub fn clone_flag(&self) -> libc::c_int {
        if self.0.is_some() {
            libc::CLONE_FILES
        } else {
            0
        }
    }
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
            null,
        })
    }

    /// A set of places for one spawn, if one is free. Never waits: a
    /// child that a sandbox stops before its exec holds its set until it
    /// goes, and must not hold up other sandboxes' spawns.
    pub fn try_lease(&self) -> Option<Lease<'_>> {
        let set = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
        Some(Lease {
            low: self,
            set,
            plan: Unshare {
                bound: self.bound,
                parked: [(0, 0); PER_SET],
                count: 0,
                low: [0; PER_SET],
                low_count: 0,
            },
        })
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
    /// Park `fd` for the child. Numbers below the bound need no place (the
    /// child keeps those anyway); they are remembered, as what the child
    /// must not close there.
    pub fn park(&mut self, fd: RawFd) -> io::Result<()> {
        let plan = &mut self.plan;
        if fd < 0 {
            return Err(io::Error::other("not a descriptor"));
        }
        if fd < plan.bound {
            if !plan.low[..plan.low_count].contains(&fd) {
                if plan.low_count == PER_SET {
                    return Err(io::Error::other("more descriptors than a child may keep"));
                }
                plan.low[plan.low_count] = fd;
                plan.low_count += 1;
                plan.low[..plan.low_count].sort_unstable();
            }
            return Ok(());
        }
        if plan.parked[..plan.count].iter().any(|p| p.1 == fd) {
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
    }
}

/// The child's first step, for a child cloned with `CLONE_FILES`.
#[derive(Clone, Copy)]
pub struct Unshare {
    bound: RawFd,
    /// (place, the number the child's code uses).
    parked: [(RawFd, RawFd); PER_SET],
    count: usize,
    /// What the child uses below the bound, ascending: kept where it is.
    low: [RawFd; PER_SET],
    low_count: usize,
}

impl Unshare {
    /// Leave the shared table keeping the numbers below the bound, bring
    /// the parked descriptors back to their numbers, and close the rest of
    /// what was kept (the places, other spawns' parked descriptors, the
    /// server's low ones) but stdio. False if a step failed (the child must
    /// then exit at once).
    ///
    /// # Safety
    /// Only in a child cloned with `CLONE_FILES`, before it touches any
    /// descriptor; async-signal-safe.
    pub unsafe fn apply(&self) -> bool {
        let unshared = libc::syscall(
            libc::SYS_close_range,
            self.bound as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_UNSHARE,
        ) == 0;
        // A kernel (or a seccomp profile) without close_range: a copy of the
        // whole table, as without the places. Everything in it is
        // close-on-exec.
        if !unshared && libc::syscall(libc::SYS_unshare, libc::CLONE_FILES) != 0 {
            return false;
        }
        // dup3: back at their numbers, still close-on-exec, so nothing
        // reaches the program should a later close fail.
        let back = self.parked[..self.count]
            .iter()
            .all(|&(slot, fd)| libc::dup3(slot, fd, libc::O_CLOEXEC) != -1);
        if !back {
            return false;
        }
        // Close [3, bound) around what the child uses there.
        let mut from = 3;
        for &keep in &self.low[..self.low_count] {
            if keep >= from {
                close_between(from, keep);
                from = keep + 1;
            }
        }
        close_between(from, self.bound);
        true
    }
}

/// Close the descriptors in `[from, to)`.
unsafe fn close_between(from: RawFd, to: RawFd) {
    if from >= to {
        return;
    }
    let range = libc::syscall(
        libc::SYS_close_range,
        from as libc::c_uint,
        (to - 1) as libc::c_uint,
        0 as libc::c_uint,
    );
    if range != 0 {
        for fd in from..to {
            libc::close(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptors opened after the places, so above their bound.
    fn high_fds() -> Vec<OwnedFd> {
        (0..200)
            .map(|_| std::fs::File::open("/proc/self/stat").map(OwnedFd::from))
            .collect::<io::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("open: {e}"))
    }

    /// A set, once other tests' spawns leave one free (within moments).
    fn lease_soon(low: &LowFds) -> Lease<'_> {
        (0..5000)
            .find_map(|_| {
                let lease = low.try_lease();
                if lease.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                lease
            })
            .expect("a free set")
    }

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
        let high = high_fds();
        let fd = high.last().map(|f| f.as_raw_fd()).unwrap_or(-1);
        assert!(fd >= low.bound, "{fd} below {}", low.bound);
        let slot;
        {
            let mut lease = lease_soon(low);
            lease.park(fd).unwrap_or_else(|e| panic!("park: {e}"));
            lease.park(fd).unwrap_or_else(|e| panic!("park again: {e}"));
            lease
                .park(0)
                .unwrap_or_else(|e| panic!("park a low one: {e}"));
            let plan = lease.plan();
            assert_eq!(plan.count, 1, "once, and not the low one");
            assert_eq!(&plan.low[..plan.low_count], &[0], "the low one is kept");
            slot = plan.parked[0].0;
            assert!(slot < low.bound);
            assert_eq!(target(slot), target(fd));
            // SAFETY: reads the descriptor flags of our own slot.
            let flags = unsafe { libc::fcntl(slot, libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert_eq!(target(slot), "/dev/null");
    }

    /// In a child, `apply` leaves nothing open in [3, bound) and brings a
    /// parked descriptor back to its number, close-on-exec.
    #[test]
    fn a_child_keeps_only_what_it_parked() {
        let low = get().expect("reserved");
        let high = high_fds();
        let (r, w) = nix::unistd::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
        let file = high.last().map(|f| f.as_raw_fd()).unwrap_or(-1);
        let w_fd = w.as_raw_fd();
        assert!(file >= low.bound && w_fd >= low.bound);
        let plan = {
            let mut lease = lease_soon(low);
            lease.park(file).unwrap_or_else(|e| panic!("park: {e}"));
            lease.park(w_fd).unwrap_or_else(|e| panic!("park: {e}"));
            let plan = lease.plan();
            // SAFETY: the child runs only system calls and _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: in the forked child, before it touches a descriptor.
                unsafe {
                    let ok = plan.apply();
                    let open_low = (3..low.bound)
                        .filter(|&fd| libc::fcntl(fd, libc::F_GETFD) != -1)
                        .count() as u32;
                    let cloexec = libc::fcntl(file, libc::F_GETFD) == libc::FD_CLOEXEC;
                    let report = [ok as u32, open_low, cloexec as u32];
                    libc::write(w_fd, report.as_ptr().cast(), 12);
                    libc::_exit(0);
                }
            }
            assert!(pid > 0, "fork");
            // SAFETY: reaps our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            plan
        };
        let _ = plan;
        drop(w);
        let mut report = [0u8; 12];
        let mut f = std::fs::File::from(r);
        std::io::Read::read_exact(&mut f, &mut report).unwrap_or_else(|e| panic!("report: {e}"));
        let word =
            |i: usize| u32::from_ne_bytes([report[i], report[i + 1], report[i + 2], report[i + 3]]);
        assert_eq!(word(0), 1, "apply failed");
        assert_eq!(word(4), 0, "descriptors left open below the bound");
        assert_eq!(word(8), 1, "the parked file is back, close-on-exec");
    }
}
