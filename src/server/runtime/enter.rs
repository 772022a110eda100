//! Joining a running bubblewrap sandbox from a freshly started child, in
//! the child itself: its namespaces, its root, the working directory, and
//! no capabilities. (On the host runtime, only the working directory.) Doing it in-process spares every exec the programs
//! that would otherwise do each step (`nsenter`, `setpriv`, a shell for the
//! `cd`), about two thirds of an exec's start-up cost.
//!
//! The pid namespace is the exception: a process cannot move itself into
//! one, so the spawner enters it before forking (see `child::spawn`).
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;

/// Namespaces joined by the child, in `nsenter`'s order. The user, cgroup
/// and time namespaces are the server's own, so there is nothing to join.
const NAMESPACES: [(&str, libc::c_int); 4] = [
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("mnt", libc::CLONE_NEWNS),
];

/// Everything the child needs, opened and formatted before the fork: after
/// it, only async-signal-safe system calls are allowed (no allocation).
pub struct Entry {
    namespaces: Vec<(OwnedFd, libc::c_int)>,
    root: Option<OwnedFd>,
    cwd: CString,
    /// `cd: <cwd>: `, completed with the reason if the directory is unusable.
    cd_error: Vec<u8>,
    /// The highest capability to drop; None keeps the server's privileges.
    last_cap: Option<libc::c_ulong>,
}

/// The sandbox whose namespace init is `anchor` (a host pid), entered at
/// `cwd` (a path as the sandbox sees it). Returns the entry and the pid
/// namespace the child must be born in.
pub fn prepare(anchor: i32, cwd: &str) -> io::Result<(Entry, OwnedFd)> {
    let open = |what: &str| -> io::Result<OwnedFd> {
        std::fs::File::open(format!("/proc/{anchor}/{what}"))
            .map(OwnedFd::from)
            .map_err(|e| io::Error::other(format!("the sandbox is gone ({e})")))
    };
    let pid_ns = open("ns/pid")?;
    let namespaces = NAMESPACES
        .iter()
        .map(|(name, flag)| Ok((open(&format!("ns/{name}"))?, *flag)))
        .collect::<io::Result<Vec<_>>>()?;
    let root = open("root")?;
    let mut entry = Entry::host(cwd)?;
    entry.namespaces = namespaces;
    entry.root = Some(root);
    entry.last_cap = Some(last_capability());
    Ok((entry, pid_ns))
}

impl Entry {
    /// No sandbox to enter: only change into `cwd` (a host path).
    pub fn host(cwd: &str) -> io::Result<Entry> {
        let cwd_c = CString::new(cwd).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the working directory contains a NUL byte",
            )
        })?;
        Ok(Entry {
            namespaces: Vec::new(),
            root: None,
            cwd: cwd_c,
            cd_error: format!("cd: {cwd}: ").into_bytes(),
            last_cap: None,
        })
    }

    /// Runs in the child between fork and exec. Failures are reported on
    /// the child's stderr, which is already the exec's output, and end the
    /// child, because std would carry only an errno back to the server and
    /// an errno alone would read as "command not found".
    ///
    /// # Safety
    /// Only in a child between its start and exec: it changes the calling process's
    /// namespaces, root and capabilities for good.
    pub unsafe fn join(&self) {
        for (fd, flag) in &self.namespaces {
            if libc::setns(fd.as_raw_fd(), *flag) == -1 {
                fail(
                    &[b"sandscope: cannot enter the sandbox's namespaces\n"],
                    126,
                );
            }
        }
        // Entering the mount namespace leaves the root at the namespace's
        // original root; the sandbox's is where bubblewrap pivoted to.
        if let Some(root) = &self.root {
            if libc::fchdir(root.as_raw_fd()) == -1 || libc::chroot(c".".as_ptr()) == -1 {
                fail(&[b"sandscope: cannot enter the sandbox's root\n"], 126);
            }
        }
        // Inside the new root, so a symlinked directory cannot lead out.
        if libc::chdir(self.cwd.as_ptr()) == -1 {
            let reason: &[u8] = match *libc::__errno_location() {
                libc::ENOENT => b"No such file or directory\n",
                libc::ENOTDIR => b"Not a directory\n",
                libc::EACCES => b"Permission denied\n",
                libc::ELOOP => b"Too many levels of symbolic links\n",
                _ => b"cannot change into it\n",
            };
            fail(&[&self.cd_error, reason], 1);
        }
        if let Some(last) = self.last_cap {
            drop_privileges(last);
        }
    }
}

/// The process (uid 0 in the sandbox) keeps no capability now or after any
/// later exec, setuid binaries included: otherwise root could remount the
/// host's directories read-write. What `setpriv --bounding-set=-all
/// --inh-caps=-all --no-new-privs` does.
unsafe fn drop_privileges(last_cap: libc::c_ulong) {
    // An empty bounding set means exec grants root nothing.
    for cap in 0..=last_cap {
        if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == -1
            && *libc::__errno_location() != libc::EINVAL
        {
            fail(&[b"sandscope: cannot drop capabilities\n"], 126);
        }
    }
    if libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL,
        0,
        0,
        0,
    ) == -1
        && *libc::__errno_location() != libc::EINVAL
    {
        fail(&[b"sandscope: cannot drop capabilities\n"], 126);
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    if libc::syscall(
        libc::SYS_capget,
        &mut header as *mut CapHeader,
        data.as_mut_ptr(),
    ) == -1
    {
        fail(&[b"sandscope: cannot read capabilities\n"], 126);
    }
    for d in &mut data {
        d.inheritable = 0;
    }
    if libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) == -1 {
        fail(&[b"sandscope: cannot drop capabilities\n"], 126);
    }
    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 {
        fail(&[b"sandscope: cannot set no_new_privs\n"], 126);
    }
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The highest capability number this kernel knows (read once, before any
/// fork); 63 covers every kernel if /proc does not say.
fn last_capability() -> libc::c_ulong {
    static LAST: OnceLock<libc::c_ulong> = OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(63)
    })
}

/// Write `parts` to stderr and end the child at once.
unsafe fn fail(parts: &[&[u8]], code: libc::c_int) -> ! {
    for p in parts {
        let mut rest = *p;
        while !rest.is_empty() {
            let n = libc::write(2, rest.as_ptr().cast(), rest.len());
            if n <= 0 {
                break;
            }
            rest = &rest[n as usize..];
        }
    }
    libc::_exit(code)
}
