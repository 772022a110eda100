//! The cgroups that enforce a sandbox's limits, beneath the server's own
//! cgroup (as `/proc/self/cgroup` names it, per controller), so whatever
//! limits the server has still cover its sandboxes. Both cgroup versions:
//!
//! - v1 (one hierarchy per controller): `<server's cgroup>/sandscope-<pid>/
//!   <sandbox>` in each of the memory, pids and cpu hierarchies.
//! - v2 (one hierarchy): a cgroup with processes cannot hand controllers
//!   to children, so the server first moves itself into
//!   `<server's cgroup>/sandscope-<pid>/server`; sandboxes get siblings of
//!   that leaf. This works when the server is alone in its cgroup (a
//!   systemd service, a container of its own); otherwise limits cannot be
//!   enforced, which the server then says.
//!
//! A process joins by writing "0" to `cgroup.procs` through a descriptor
//! the server opened (the kernel checks the opener's rights), so a child
//! can join after it has given up every privilege of its own. They are
//! opened for each start rather than kept: six descriptors per sandbox on
//! v1 were a third of what 500 sandboxes held, and ran a busy server out of
//! descriptors.
use super::Limits;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The controllers used, in v1 hierarchy order.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];
/// CPU quota period (µs).
const CPU_PERIOD: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The server's part of the cgroup tree.
#[derive(Debug)]
pub struct Cgroups {
    version: Version,
    /// (controller, the server's own parent of sandbox cgroups). For v2 a
    /// single entry whose controller is "".
    parents: Vec<(&'static str, PathBuf)>,
    /// Controllers that could not be used (their limits are not enforced).
    missing: Vec<&'static str>,
}

/// One sandbox's cgroups.
#[derive(Debug)]
pub struct SandboxCgroup {
    dirs: Vec<PathBuf>,
    /// v1: a single thread can join (through `tasks`), and its children
    /// are born inside.
    per_thread: bool,
    /// Where the kernel counts OOM kills (memory.events / memory.oom_control).
    oom_file: Option<PathBuf>,
    /// Kills counted so far.
    oom_seen: Mutex<u64>,
    /// Kills since the sandbox started, for whoever reports them.
    oom_total: tokio::sync::watch::Sender<u64>,
    /// The memory limit as the API spells it.
    memory: String,
}

impl Cgroups {
    /// The server's cgroups, or why limits cannot be enforced here.
    pub fn detect() -> Result<Cgroups, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let mounts = parse_mountinfo(&mounts);
        let v1 = v1_dirs(&own, &mounts);
        if v1.iter().any(|(c, _)| *c == "memory") {
            return Self::set_up_v1(v1);
        }
        match v2_dir(&own, &mounts) {
            Some((dir, is_root)) => Self::set_up_v2(&dir, is_root),
            None => Err("no cgroup hierarchy with the memory controller is mounted".into()),
        }
    }

    fn set_up_v1(dirs: Vec<(&'static str, PathBuf)>) -> Result<Cgroups, String> {
        let tag = server_tag();
        let mut parents = Vec::new();
        let mut missing = Vec::new();
        for c in CONTROLLERS {
            let Some((_, dir)) = dirs.iter().find(|(n, _)| *n == c) else {
                missing.push(c);
                continue;
            };
            reap_leftovers(dir);
            let parent = dir.join(&tag);
            match std::fs::create_dir_all(&parent) {
                Ok(()) => parents.push((c, parent)),
                Err(e) if c == "memory" => {
                    return Err(format!("cannot create {}: {e}", parent.display()))
                }
                Err(e) => {
                    tracing::warn!(controller = c, error = %e, "cannot use this cgroup controller");
                    missing.push(c);
                }
            }
        }
        Ok(Cgroups {
            version: Version::V1,
            parents,
            missing,
        })
    }

    fn set_up_v2(dir: &Path, is_root: bool) -> Result<Cgroups, String> {
        let available = read_words(&dir.join("cgroup.controllers"));
        if !available.iter().any(|c| c == "memory") {
            return Err(format!(
                "the memory controller is not available in {} (not delegated)",
                dir.display()
            ));
        }
        reap_leftovers(dir);
        let ours = dir.join(server_tag());
        let leaf = ours.join("server");
        std::fs::create_dir_all(&leaf)
            .map_err(|e| format!("cannot create {}: {e}", leaf.display()))?;
        let wanted: Vec<&'static str> = CONTROLLERS
            .into_iter()
            .filter(|c| available.iter().any(|a| a == c))
            .collect();
        let enable: String = wanted.iter().map(|c| format!("+{c} ")).collect();
        let moved = !is_root;
        if moved {
            // Our own cgroup must hold no process before it can enable
            // controllers for its children: move the server into a leaf.
            std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
                .map_err(|e| format!("cannot move the server into {}: {e}", leaf.display()))?;
        }
        let res = std::fs::write(dir.join("cgroup.subtree_control"), enable.trim())
            .and_then(|()| std::fs::write(ours.join("cgroup.subtree_control"), enable.trim()));
        if let Err(e) = res {
            if moved {
                let _ = std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string());
            }
            let _ = std::fs::remove_dir(&leaf);
            let _ = std::fs::remove_dir(&ours);
            return Err(format!(
                "cannot delegate controllers below {} ({e}); other processes share the server's cgroup",
                dir.display()
            ));
        }
        let missing = CONTROLLERS
            .into_iter()
            .filter(|c| !wanted.contains(c))
            .collect();
        Ok(Cgroups {
            version: Version::V2,
            parents: vec![("", ours)],
            missing,
        })
    }

    /// Controllers whose limits are not enforced.
    pub fn missing(&self) -> &[&'static str] {
        &self.missing
    }

    /// The cgroups of a new sandbox, with `limits` set.
    pub fn create(&self, sandbox: &str, limits: &Limits) -> io::Result<SandboxCgroup> {
        let name = format!("sb-{sandbox}");
        let mut cg = SandboxCgroup {
            dirs: Vec::new(),
            per_thread: self.version == Version::V1,
            oom_file: None,
            oom_seen: Mutex::new(0),
            oom_total: tokio::sync::watch::channel(0).0,
            memory: limits.as_resources().memory,
        };
        if let Err(e) = self.fill(&mut cg, &name, limits) {
            // Nothing has joined them yet: they go at once.
            for dir in cg.dirs.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(e);
        }
        *cg.oom_seen.lock().unwrap_or_else(|p| p.into_inner()) = cg.read_oom_kills();
        Ok(cg)
    }

    /// Make the cgroups of `cg` and set their limits.
    fn fill(&self, cg: &mut SandboxCgroup, name: &str, limits: &Limits) -> io::Result<()> {
        for (controller, parent) in &self.parents {
            let dir = parent.join(name);
            std::fs::create_dir(&dir)?;
            cg.dirs.push(dir.clone());
            match (self.version, *controller) {
                (Version::V1, "memory") => {
                    write(&dir, "memory.limit_in_bytes", limits.memory_bytes)?;
                    // Swap counts too, where the kernel accounts for it.
                    write_if_present(&dir, "memory.memsw.limit_in_bytes", limits.memory_bytes)?;
                    cg.oom_file = Some(dir.join("memory.oom_control"));
                }
                (Version::V1, "pids") => write(&dir, "pids.max", limits.pids)?,
                (Version::V1, _) => {
                    if let Some(m) = limits.cpu_millis {
                        write(&dir, "cpu.cfs_period_us", CPU_PERIOD)?;
                        write(&dir, "cpu.cfs_quota_us", m * CPU_PERIOD / 1000)?;
                    }
                }
                (Version::V2, _) => {
                    write(&dir, "memory.max", limits.memory_bytes)?;
                    write_if_present(&dir, "memory.swap.max", 0)?;
                    write_if_present(&dir, "pids.max", limits.pids)?;
                    if let Some(m) = limits.cpu_millis {
                        if dir.join("cpu.max").exists() {
                            std::fs::write(
                                dir.join("cpu.max"),
                                format!("{} {CPU_PERIOD}", m * CPU_PERIOD / 1000),
                            )?;
                        }
                    }
                    cg.oom_file = Some(dir.join("memory.events"));
                }
            }
        }
        // Checked now, so a sandbox whose cgroups cannot be joined fails
        // at create rather than at its first start.
        cg.procs()?;
        Ok(())
    }

    /// Remove the server's (now empty) parents; at shutdown.
    pub fn remove(&self) {
        for (_, parent) in &self.parents {
            if self.version == Version::V2 {
                // Leave the leaf first: nothing may be in it when it goes.
                if let Some(dir) = parent.parent() {
                    let _ =
                        std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string());
                }
                let _ = std::fs::remove_dir(parent.join("server"));
            }
            let _ = std::fs::remove_dir(parent);
        }
    }
}

impl SandboxCgroup {
    /// Descriptors of every `cgroup.procs`, for a child to join through
    /// (opened now, closed at its exec or when dropped).
    pub fn procs(&self) -> io::Result<Vec<OwnedFd>> {
        self.open_each("cgroup.procs")
    }

    /// What a sandbox's spawner thread joins: v1 moves one thread at a
    /// time, and its children are then born inside. (v2 does not: see
    /// [`SandboxCgroup::child_procs`].)
    pub fn thread_tasks(&self) -> io::Result<Vec<OwnedFd>> {
        if self.per_thread {
            self.open_each("tasks")
        } else {
            Ok(Vec::new())
        }
    }

    /// What each child of that thread still joins by itself: nothing on
    /// v1, its cgroup on v2.
    pub fn child_procs(&self) -> io::Result<Vec<OwnedFd>> {
        if self.per_thread {
            Ok(Vec::new())
        } else {
            self.procs()
        }
    }

    fn open_each(&self, file: &str) -> io::Result<Vec<OwnedFd>> {
        self.dirs
            .iter()
            .map(|dir| {
                let path = dir.join(file);
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            })
            .collect()
    }

    fn read_oom_kills(&self) -> u64 {
        let Some(f) = &self.oom_file else { return 0 };
        std::fs::read_to_string(f)
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// How many processes the kernel killed for memory since the last
    /// call (call it when a process died of SIGKILL).
    pub fn new_oom_kills(&self) -> u64 {
        let now = self.read_oom_kills();
        let mut seen = self.oom_seen.lock().unwrap_or_else(|p| p.into_inner());
        let new = now.saturating_sub(*seen);
        *seen = now.max(*seen);
        if new > 0 {
            self.oom_total.send_modify(|t| *t += new);
        }
        new
    }

    /// The memory limit, as in `256Mi`.
    pub fn memory_limit(&self) -> &str {
        &self.memory
    }

    /// Kills for memory since the sandbox started, as they are noticed.
    pub fn oom_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.oom_total.subscribe()
    }

    /// Kill whatever is left and remove the cgroups (blocking, bounded).
    pub fn remove(&self) {
        for dir in &self.dirs {
            for attempt in 0..50 {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                    Err(_) if attempt < 49 => {
                        // Processes still exiting; kill stragglers.
                        if attempt > 5 {
                            kill_members(dir);
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a sandbox's cgroup")
                    }
                }
            }
        }
    }
}

/// The `cgroup.procs` descriptors of `cgroup`, if the sandbox has one, for
/// a new process to join through ([`join`]).
pub fn procs_of(cgroup: Option<&SandboxCgroup>) -> io::Result<Vec<OwnedFd>> {
    cgroup.map_or(Ok(Vec::new()), SandboxCgroup::procs)
}

/// Move the calling process into the cgroups whose `cgroup.procs` are
/// `procs` ("0" is the writer). For a pre-exec hook: write only, no
/// allocation.
pub fn join(procs: &[OwnedFd]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    for fd in procs {
        // SAFETY: a write of one byte from a static buffer.
        if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// SIGKILL the processes in a cgroup, never the server itself: on v1 a
/// sandbox's spawner thread is in the sandbox's cgroups, and `cgroup.procs`
/// then names the whole server until that thread has left (a busy server
/// removing a sandbox's cgroups killed itself).
fn kill_members(dir: &Path) {
    let Ok(list) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    let me = std::process::id() as i32;
    for pid in list
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|&p| p != me)
    {
        crate::server::runtime::signal_pid(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

fn write(dir: &Path, file: &str, value: u64) -> io::Result<()> {
    std::fs::write(dir.join(file), value.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.join(file).display())))
}

fn write_if_present(dir: &Path, file: &str, value: u64) -> io::Result<()> {
    if dir.join(file).exists() {
        write(dir, file, value)?;
    }
    Ok(())
}

fn read_words(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .map(|t| t.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// The name of this server's own parent cgroup: the process and, since one
/// process may run several servers (tests do), a number of its own.
fn server_tag() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("sandscope-{}-{n}", std::process::id())
}

/// Remove what servers that are gone left below `dir` (their sandboxes'
/// processes died with them).
fn reap_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("sandscope-")
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(children) = std::fs::read_dir(e.path()) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                kill_members(&c.path());
                let _ = std::fs::remove_dir(c.path());
            }
        }
        let _ = std::fs::remove_dir(e.path());
    }
}

/// A mount from mountinfo: (mount point, root within the filesystem,
/// filesystem type, super options).
struct Mount {
    point: PathBuf,
    root: String,
    fstype: String,
    options: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(Mount {
                root: unescape(pre.get(3)?),
                point: PathBuf::from(unescape(pre.get(4)?)),
                fstype: post.first()?.to_string(),
                options: post.get(2)?.split(',').map(String::from).collect(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `cgroup_path` as a directory under a mount of its hierarchy.
fn under_mount(m: &Mount, cgroup_path: &str) -> Option<PathBuf> {
    let root = m.root.trim_end_matches('/');
    let rest = cgroup_path.strip_prefix(root)?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    Some(m.point.join(rest.trim_start_matches('/')))
}

/// The server's cgroup directory in each v1 hierarchy it can use.
fn v1_dirs(own: &str, mounts: &[Mount]) -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    for c in CONTROLLERS {
        let path = own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            ctrls.split(',').any(|x| x == c).then_some(path)
        });
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == c));
        if let (Some(path), Some(m)) = (path, mount) {
            if let Some(dir) = under_mount(m, path) {
                out.push((c, dir));
            }
        }
    }
    out
}

/// The server's cgroup directory in the v2 hierarchy, and whether it is
/// the hierarchy's root.
fn v2_dir(own: &str, mounts: &[Mount]) -> Option<(PathBuf, bool)> {
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let m = mounts.iter().find(|m| m.fstype == "cgroup2")?;
    let dir = under_mount(m, path)?;
    Some((dir.clone(), dir == m.point && m.root == "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS_V1: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 /jail /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

    #[test]
    fn finds_the_servers_cgroup_per_v1_controller() {
        let own = "9:name=systemd:/\n8:pids:/jail/x\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        let dirs = v1_dirs(own, &parse_mountinfo(MOUNTS_V1));
        assert_eq!(
            dirs,
            vec![
                (
                    "memory",
                    PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")
                ),
                ("pids", PathBuf::from("/sys/fs/cgroup/pids/x")),
                ("cpu", PathBuf::from("/sys/fs/cgroup/cpu/")),
            ]
        );
    }

    #[test]
    fn finds_the_servers_v2_cgroup() {
        let m = parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(
            v2_dir("0::/system.slice/sandscope.service\n", &m),
            Some((
                PathBuf::from("/sys/fs/cgroup/system.slice/sandscope.service"),
                false
            ))
        );
        assert_eq!(
            v2_dir("0::/\n", &m),
            Some((PathBuf::from("/sys/fs/cgroup"), true))
        );
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }

    /// The server's own pid, listed because one of its threads is in the
    /// cgroup, is spared; the sandbox's process is killed.
    #[test]
    fn killing_a_cgroups_members_spares_the_server() {
        let dir = tempfile::tempdir().unwrap();
        // Its output is not the harness's: should the test process be
        // killed, nothing waits for the sleep to end.
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(
            dir.path().join("cgroup.procs"),
            format!("{}\n{}\n", std::process::id(), child.id()),
        )
        .unwrap();
        kill_members(dir.path());
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
