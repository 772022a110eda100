//! Who a sandbox's processes are on the host. A server run as root gives
//! every sandbox a host uid and gid of its own, from a range no account
//! uses, and maps them to root inside the sandbox's user namespace (as
//! rootless containers do): a sandbox is root to itself and nobody to the
//! host. A server run by an ordinary user runs its sandboxes as that user.
//!
//! Ids are leased machine-wide, so two servers on one machine never hand
//! out the same one: a lease is an exclusive `flock` on a file named after
//! the uid, released by the kernel when the server dies.
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// First host uid (and gid) given to sandboxes: far above the ranges
/// distributions give accounts (below 60,000) and subordinate ids (from
/// 100,000, 65,536 per user), below 2^31 for tools that read ids as signed.
pub const UID_BASE: u32 = 1_500_000_000;
/// How many sandboxes can run at once on one machine.
pub const UID_COUNT: u32 = 100_000;

/// Where leases are kept when running as root: shared by every server on
/// the machine, in memory, so a reboot clears it.
const LEASE_DIR: &str = "/run/sandscope/uids";

/// Who the processes of one sandbox are.
#[derive(Debug, Clone)]
pub struct SandboxUser {
    /// Host uid and gid of the sandbox's processes and of the files it owns.
    pub host: (u32, u32),
    /// (uid, gid) to switch to inside the sandbox's user namespace; `None`:
    /// stay who the server is.
    pub inside: Option<(u32, u32)>,
    /// Held for as long as any clone of this value lives.
    _lease: Option<Arc<Lease>>,
}

impl SandboxUser {
    /// The server's own user (an unprivileged server).
    pub fn server() -> SandboxUser {
        // SAFETY: getuid/getgid cannot fail.
        let host = unsafe { (libc::getuid(), libc::getgid()) };
        SandboxUser {
            host,
            inside: None,
            _lease: None,
        }
    }

    /// Whether this user is a leased one, mapped to root in the sandbox.
    pub fn is_leased(&self) -> bool {
        self._lease.is_some()
    }
}

/// A uid taken from the pool until dropped.
#[derive(Debug)]
pub struct Lease {
    uid: u32,
    /// The locked file; closing it releases the lease.
    _file: File,
    pool: Arc<Mutex<HashSet<u32>>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.uid);
    }
}

/// Hands out leased uids.
pub struct UidPool {
    dir: PathBuf,
    /// Ids that accounts in /etc/passwd or /etc/group use: never handed out.
    accounts: HashSet<u32>,
    /// Ids this server holds, skipped without a system call.
    held: Arc<Mutex<HashSet<u32>>>,
}

impl UidPool {
    /// The machine-wide pool, or one private to `data_dir` where the
    /// shared directory cannot be made (another server may then reuse an
    /// id: logged).
    pub fn open(data_dir: &Path) -> io::Result<UidPool> {
        let dir = match private_dir(Path::new(LEASE_DIR)) {
            Ok(()) => PathBuf::from(LEASE_DIR),
            Err(e) => {
                let own = data_dir.join("uids");
                tracing::warn!(
                    error = %e,
                    dir = %own.display(),
                    "cannot use {LEASE_DIR} for sandbox uids; another server on this machine may reuse them"
                );
                private_dir(&own)?;
                own
            }
        };
        Ok(UidPool {
            dir,
            accounts: account_ids(),
            held: Default::default(),
        })
    }

    /// The lowest free uid (low ids are reused, so few lease files exist).
    pub fn lease(&self) -> io::Result<SandboxUser> {
        for uid in UID_BASE..UID_BASE + UID_COUNT {
            if self.accounts.contains(&uid) {
                continue;
            }
            {
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                if !held.insert(uid) {
                    continue;
                }
            }
            match self.try_lock(uid) {
                Ok(Some(file)) => {
                    let lease = Lease {
                        uid,
                        _file: file,
                        pool: self.held.clone(),
                    };
                    return Ok(SandboxUser {
                        host: (uid, uid),
                        inside: Some((0, 0)),
                        _lease: Some(Arc::new(lease)),
                    });
                }
                other => {
                    self.held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&uid);
                    other?;
                }
            }
        }
        Err(io::Error::other(format!(
            "all {UID_COUNT} sandbox uids are in use"
        )))
    }

    /// The locked lease file of `uid`, or None if another server holds it.
    fn try_lock(&self, uid: u32) -> io::Result<Option<File>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.dir.join(uid.to_string()))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(file));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(e)
        }
    }
}

/// A directory only this user can use: created 0700, or refused if it is
/// someone else's or open to others.
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let md = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if !md.is_dir() || md.uid() != me || md.mode() & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{} is not a private directory of this user",
            dir.display()
        )));
    }
    Ok(())
}

/// Ids in the sandbox range that /etc/passwd or /etc/group name.
fn account_ids() -> HashSet<u32> {
    let mut ids = HashSet::new();
    for file in ["/etc/passwd", "/etc/group"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines() {
            if let Some(id) = line.split(':').nth(2).and_then(|f| f.parse::<u32>().ok()) {
                if (UID_BASE..UID_BASE + UID_COUNT).contains(&id) {
                    ids.insert(id);
                }
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_and_reused_after_release() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pool = UidPool {
            dir: dir.path().to_path_buf(),
            accounts: HashSet::from([UID_BASE]),
            held: Default::default(),
        };
        // A second pool on the same directory stands for another server.
        let other = UidPool {
            dir: dir.path().to_path_buf(),
            accounts: HashSet::new(),
            held: Default::default(),
        };
        let a = pool.lease().unwrap_or_else(|e| panic!("{e}"));
        let b = other.lease().unwrap_or_else(|e| panic!("{e}"));
        let c = pool.lease().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.host.0, UID_BASE + 1, "an account's id is skipped");
        assert_eq!(a.inside, Some((0, 0)));
        let ids = [a.host.0, b.host.0, c.host.0];
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{ids:?}"
        );
        let freed = b.host.0;
        drop(b);
        assert_eq!(other.lease().map(|u| u.host.0).ok(), Some(freed));
    }
}
