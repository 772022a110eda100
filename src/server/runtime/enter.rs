//! Joining a running bubblewrap sandbox from a freshly started child, in
//! the child itself: its cgroups, namespaces, user namespace and ids, its
//! root, the working directory, and then the confinement every process of
//! a sandbox has (no capabilities, the system-call filter, resource
//! limits). On the host runtime, only the working directory. Doing it
//! in-process spares every exec the programs that would otherwise do each
//! step (`nsenter`, `setpriv`, a shell for the `cd`), about two thirds of an
//! exec's start-up cost.
//!
//! The pid namespace is the exception: a process cannot move itself into
//! one, so its parent enters it before forking (see `child::spawn`).
use super::seccomp;
use super::Instance;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

/// Namespaces joined by the child, in `nsenter`'s order. The cgroup and
/// time namespaces are the server's own, so there is nothing to join; the
/// user namespace is handled apart (see `Entry::join`).
const NAMESPACES: [(&str, libc::c_int); 4] = [
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("mnt", libc::CLONE_NEWNS),
];

/// Open-file limit of every process in a sandbox (soft, hard): below the
/// server's own, so a sandbox cannot take the descriptors the server needs.
pub const SANDBOX_NOFILE: (libc::rlim_t, libc::rlim_t) = (4096, 16384);

/// Everything the child needs, opened and formatted before the clone:
/// after it, only async-signal-safe system calls are allowed (no
/// allocation).
pub struct Entry {
    /// The user namespace that owns the sandbox's namespaces, when it is not
    /// the server's (a server run by an ordinary user): without joining it
    /// first, the server has no right to enter the others.
    pub(super) owner_userns: Option<OwnedFd>,
    namespaces: Vec<(OwnedFd, libc::c_int)>,
    /// The sandbox's own user namespace, when it differs from the owner.
    userns: Option<OwnedFd>,
    root: Option<OwnedFd>,
    /// (uid, gid) to become inside the sandbox's user namespace.
    ids: Option<(libc::uid_t, libc::gid_t)>,
    /// `cgroup.procs` of each of the sandbox's cgroups, opened for writing.
    cgroups: Vec<OwnedFd>,
    cwd: CString,
    /// `cd: <cwd>: `, completed with the reason if the directory is unusable.
    cd_error: Vec<u8>,
    confine: Option<Confine>,
}

/// What makes a process a sandbox's rather than the server's.
struct Confine {
    /// The highest capability to drop.
    last_cap: libc::c_ulong,
    /// The filter to install, unless the child inherits it from its spawner.
    seccomp: Option<seccomp::Prog>,
    nofile: libc::rlimit,
    nproc: Option<libc::rlimit>,
}

/// Why joining failed: a message for the process's stderr and its errno.
#[derive(Clone, Copy, Debug)]
pub struct JoinError {
    pub what: &'static [u8],
    pub errno: libc::c_int,
    /// The exit code a shell would give.
    pub code: libc::c_int,
}

/// The sandbox whose namespace init is `anchor` (a host pid), entered at
/// `cwd` (a path as the sandbox sees it) as `user`, into the cgroups whose
/// `cgroup.procs` files are given, with the system-call filter installed
/// unless `filter_inherited`. Returns the entry and the pid namespace the
/// child must be born in.
pub fn prepare(
    instance: &Instance,
    cwd: &str,
    cgroups: Vec<OwnedFd>,
    filter_inherited: bool,
) -> io::Result<(Entry, OwnedFd)> {
    let anchor = instance.anchor_pid;
    let user = &instance.user;
    let open = |what: &str| -> io::Result<OwnedFd> {
        std::fs::File::open(format!("/proc/{anchor}/{what}"))
            .map(OwnedFd::from)
            .map_err(|e| io::Error::other(format!("the sandbox is gone ({e})")))
    };
    let pid_ns = open("ns/pid")?;
    // Everything below is opened through the anchor's pid: make sure it is
    // still the sandbox's, not a process that got the pid since.
    if instance
        .anchor_ns
        .is_some_and(|want| ns_id(&pid_ns).ok() != Some(want))
    {
        return Err(io::Error::other("the sandbox is gone"));
    }
    let namespaces = NAMESPACES
        .iter()
        .map(|(name, flag)| Ok((open(&format!("ns/{name}"))?, *flag)))
        .collect::<io::Result<Vec<_>>>()?;
    let own = own_userns()?;
    let owner = owning_userns(&pid_ns)?;
    let owner_id = ns_id(&owner)?;
    let sandbox_userns = open("ns/user")?;
    let sandbox_id = ns_id(&sandbox_userns)?;
    let root = open("root")?;
    // Checked again now that all is open: the pid could only have been
    // reused if the sandbox ended meanwhile.
    if instance
        .anchor_ns
        .is_some_and(|want| super::ns_id_of(anchor, "pid").ok() != Some(want))
    {
        return Err(io::Error::other("the sandbox is gone"));
    }
    let mut entry = Entry::host(cwd)?;
    entry.owner_userns = (owner_id != own).then_some(owner);
    entry.userns = (sandbox_id != owner_id && sandbox_id != own).then_some(sandbox_userns);
    entry.namespaces = namespaces;
    entry.root = Some(root);
    entry.ids = user.inside;
    entry.cgroups = cgroups;
    entry.confine = Some(Confine {
        last_cap: last_capability(),
        seccomp: if filter_inherited {
            None
        } else {
            Some(seccomp::Prog::get().map_err(io::Error::other)?)
        },
        nofile: sandbox_nofile(),
        nproc: instance.nproc.map(|n| libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        }),
    });
    Ok((entry, pid_ns))
}

/// [`SANDBOX_NOFILE`], never above the server's own hard limit (which a
/// process without privileges could not raise).
pub fn sandbox_nofile() -> libc::rlimit {
    let mut own = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit fills the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) };
    let max = SANDBOX_NOFILE.1.min(own.rlim_max);
    libc::rlimit {
        rlim_cur: SANDBOX_NOFILE.0.min(max),
        rlim_max: max,
    }
}

/// (device, inode) of a namespace: equal for the same namespace.
fn ns_id(fd: &OwnedFd) -> io::Result<(u64, u64)> {
    let f = std::fs::File::from(fd.try_clone()?);
    let md = f.metadata()?;
    Ok((md.dev(), md.ino()))
}

fn own_userns() -> io::Result<(u64, u64)> {
    static OWN: OnceLock<(u64, u64)> = OnceLock::new();
    if let Some(id) = OWN.get() {
        return Ok(*id);
    }
    let md = std::fs::metadata("/proc/self/ns/user")?;
    Ok(*OWN.get_or_init(|| (md.dev(), md.ino())))
}

/// The user namespace that owns namespace `ns`.
fn owning_userns(ns: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: NS_GET_USERNS returns a new descriptor, which we then own.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_USERNS as _) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
            owner_userns: None,
            namespaces: Vec::new(),
            userns: None,
            root: None,
            ids: None,
            cgroups: Vec::new(),
            cwd: cwd_c,
            cd_error: format!("cd: {cwd}: ").into_bytes(),
            confine: None,
        })
    }

    /// The same, also joining the cgroups whose `cgroup.procs` are given.
    pub fn with_cgroups(mut self, cgroups: Vec<OwnedFd>) -> Entry {
        self.cgroups = cgroups;
        self
    }

    /// Join the user namespace that owns the sandbox's namespaces, if it
    /// is not the server's. Done by the process that then forks into the
    /// sandbox's pid namespace, or by [`Entry::join`] itself.
    ///
    /// # Safety
    /// Only in a single-threaded child between its start and exec.
    pub unsafe fn join_owner(&self) -> Result<(), JoinError> {
        if let Some(ns) = &self.owner_userns {
            check(
                libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER),
                b"sandscope: cannot enter the sandbox's user namespace\n",
            )?;
        }
        Ok(())
    }

    /// Every descriptor the child uses to join (see
    /// [`crate::server::runtime::child`]'s low places).
    pub fn fds(&self) -> impl Iterator<Item = std::os::fd::RawFd> + '_ {
        self.cgroups
            .iter()
            .chain(&self.owner_userns)
            .chain(self.namespaces.iter().map(|(fd, _)| fd))
            .chain(&self.userns)
            .chain(&self.root)
            .map(|fd| fd.as_raw_fd())
    }

    /// What a short-lived helper child that acts for the sandbox (a file
    /// access, a connection) does first: a session of its own, the whole
    /// sandbox joined, every capability dropped. Err is the errno of the
    /// step that failed.
    ///
    /// # Safety
    /// As for [`Entry::join`].
    pub unsafe fn join_as_helper(&self) -> Result<(), libc::c_int> {
        if libc::setsid() == -1 {
            return Err(*libc::__errno_location());
        }
        self.join(false)
            .and_then(|()| self.drop_all_capabilities())
            .map_err(|e| e.errno)
    }

    /// Runs in the child between its start and exec: cgroups, namespaces,
    /// ids, root and working directory. `owner_joined`: [`Entry::join_owner`]
    /// has run in this process or its parent already.
    ///
    /// # Safety
    /// Only in a single-threaded child between its start and exec: it
    /// changes the calling process's namespaces, root and ids for good.
    pub unsafe fn join(&self, owner_joined: bool) -> Result<(), JoinError> {
        for procs in &self.cgroups {
            // "0" is the writing process. The file was opened by the
            // server, whose rights the kernel checks.
            check(
                libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) as libc::c_int,
                b"sandscope: cannot join the sandbox's cgroup\n",
            )?;
        }
        if !owner_joined {
            self.join_owner()?;
        }
        for (fd, flag) in &self.namespaces {
            check(
                libc::setns(fd.as_raw_fd(), *flag),
                b"sandscope: cannot enter the sandbox's namespaces\n",
            )?;
        }
        // After the mount namespace (which resets the root) and before the
        // chroot: the kernel refuses a chrooted process a user namespace.
        if let Some(ns) = &self.userns {
            check(
                libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER),
                b"sandscope: cannot enter the sandbox's user namespace\n",
            )?;
        }
        // Entering the mount namespace leaves the root at the namespace's
        // original root; the sandbox's is where bubblewrap pivoted to.
        if let Some(root) = &self.root {
            if libc::fchdir(root.as_raw_fd()) == -1 || libc::chroot(c".".as_ptr()) == -1 {
                return Err(last(b"sandscope: cannot enter the sandbox's root\n"));
            }
        }
        if let Some((uid, gid)) = self.ids {
            // The raw system calls: glibc's wrappers would also change the
            // ids of every thread they know of, walking (and locking) the
            // server's thread list, which this child shares.
            let msg = b"sandscope: cannot become the sandbox's user\n";
            let raw = |r: libc::c_long| r as libc::c_int;
            check(raw(libc::syscall(libc::SYS_setresgid, gid, gid, gid)), msg)?;
            check(
                raw(libc::syscall(
                    libc::SYS_setgroups,
                    0,
                    std::ptr::null::<libc::gid_t>(),
                )),
                msg,
            )?;
            check(raw(libc::syscall(libc::SYS_setresuid, uid, uid, uid)), msg)?;
        }
        // Inside the new root, so a symlinked directory cannot lead out.
        if libc::chdir(self.cwd.as_ptr()) == -1 {
            return Err(JoinError {
                what: b"",
                errno: *libc::__errno_location(),
                code: 1,
            });
        }
        Ok(())
    }

    /// The message for a failed `chdir` (`what` empty in its JoinError).
    pub fn cd_error(&self) -> &[u8] {
        &self.cd_error
    }

    /// Drop every privilege and apply the sandbox's limits and filter; the
    /// last step before exec.
    ///
    /// # Safety
    /// Only in a child between its start and exec.
    pub unsafe fn confine(&self) -> Result<(), JoinError> {
        let Some(c) = &self.confine else {
            return Ok(());
        };
        drop_privileges(c.last_cap)?;
        check(
            libc::setrlimit(libc::RLIMIT_NOFILE, &c.nofile),
            b"sandscope: cannot limit open files\n",
        )?;
        if let Some(n) = &c.nproc {
            check(
                libc::setrlimit(libc::RLIMIT_NPROC, n),
                b"sandscope: cannot limit processes\n",
            )?;
        }
        if c.seccomp.is_some_and(|f| !f.install()) {
            return Err(last(b"sandscope: cannot install the system-call filter\n"));
        }
        Ok(())
    }

    /// Drop every capability (effective and permitted included), for a
    /// child that acts as the sandbox without exec'ing.
    ///
    /// # Safety
    /// Only in a child between its start and exit.
    pub unsafe fn drop_all_capabilities(&self) -> Result<(), JoinError> {
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData::default(); 2];
        check(
            libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) as i32,
            b"sandscope: cannot drop capabilities\n",
        )
    }
}

unsafe fn last(what: &'static [u8]) -> JoinError {
    JoinError {
        what,
        errno: *libc::__errno_location(),
        code: 126,
    }
}

unsafe fn check(r: libc::c_int, what: &'static [u8]) -> Result<(), JoinError> {
    if r == -1 {
        Err(last(what))
    } else {
        Ok(())
    }
}

/// The process keeps no capability now or after any later exec, setuid
/// binaries included: otherwise root could remount the host's directories
/// read-write. What `setpriv --bounding-set=-all --inh-caps=-all
/// --no-new-privs` does.
unsafe fn drop_privileges(last_cap: libc::c_ulong) -> Result<(), JoinError> {
    let msg = b"sandscope: cannot drop capabilities\n";
    // An empty bounding set means exec grants root nothing.
    for cap in 0..=last_cap {
        if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == -1
            && *libc::__errno_location() != libc::EINVAL
        {
            return Err(last(msg));
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
        return Err(last(msg));
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    check(
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        ) as i32,
        b"sandscope: cannot read capabilities\n",
    )?;
    for d in &mut data {
        d.inheritable = 0;
    }
    check(
        libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) as i32,
        msg,
    )?;
    check(
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        b"sandscope: cannot set no_new_privs\n",
    )
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
///
/// # Safety
/// Only in a child between its start and exec.
pub unsafe fn fail(parts: &[&[u8]], code: libc::c_int) -> ! {
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

/// Report a failed join on stderr and end the child, as a shell would.
///
/// # Safety
/// Only in a child between its start and exec.
pub unsafe fn fail_join(entry: &Entry, e: JoinError) -> ! {
    if e.what.is_empty() {
        let reason: &[u8] = match e.errno {
            libc::ENOENT => b"No such file or directory\n",
            libc::ENOTDIR => b"Not a directory\n",
            libc::EACCES => b"Permission denied\n",
            libc::ELOOP => b"Too many levels of symbolic links\n",
            _ => b"cannot change into it\n",
        };
        fail(&[entry.cd_error(), reason], e.code)
    }
    fail(&[e.what], e.code)
}
