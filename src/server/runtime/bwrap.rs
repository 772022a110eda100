//! The bubblewrap runtime: one long-lived `bwrap` per sandbox, with private
//! pid/ipc/uts (and by default net) namespaces, a read-only view of the host,
//! a private `/tmp`, a writable `/workspace`, and the server's data directory
//! masked. Execs are born in the same namespaces (see `enter`), so every
//! process of a sandbox, and the file RPCs, see one filesystem.
use super::bwrap_fs::{filesystem_args, push};
use super::identity::{SandboxUser, UidPool};
use super::layout::{self, Layout};
use super::sandbox_thread::SandboxThread;
use super::{
    check_executable, output_pipe, signal_group, signal_pid, BoxFuture, ExecSpec, FixedFds,
    Instance, LaunchPlan, Launched, Runtime, RuntimeError,
};
use super::{child, enter, seccomp, spawner, userns};
use crate::server::limits::cgroup;
use crate::server::net::egress;
use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncReadExt;

/// Mount point of the per-sandbox workspace inside the sandbox.
pub const WORKSPACE: &str = "/workspace";

/// `setpriv` options that leave a process (uid 0 in the sandbox) without
/// any capability, now or after any later exec, setuid binaries included:
/// otherwise root could simply remount the host's directories read-write.
/// (bwrap's own `--cap-drop` keeps the bounding set, so root regains
/// everything at the next exec.)
const DROP_PRIVILEGES: &[&str] = &[
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--no-new-privs",
    "--",
];

/// With a user namespace of its own (server run as root), the wrapper
/// starts as the host's root moved into it, with just the capabilities to
/// change ids: it becomes the namespace's root, the sandbox's leased uid.
const BECOME_SANDBOX_ROOT: &[&str] = &["--reuid=0", "--regid=0", "--clear-groups"];
/// What bubblewrap keeps of its capabilities for that wrapper.
const WRAPPER_CAPS: &[&str] = &[
    "--cap-drop",
    "ALL",
    "--cap-add",
    "CAP_SETUID",
    "--cap-add",
    "CAP_SETGID",
    "--cap-add",
    "CAP_SETPCAP",
];

/// Runs as `sh -c MAIN_WRAPPER sandbox-main SETPRIV... ARGV...`: once the
/// sandbox is fully built, report that on fd 3 (which only this wrapper
/// holds); wait for the server's "go" on fd 6 (its network is up then);
/// close those and the user namespace bubblewrap leaves open (fd 7); then
/// become the main command without privileges.
const MAIN_WRAPPER: &str =
    r#"echo ready >&3; exec 3>&-; read -r go <&6 || exit 125; exec 6<&- 7>&-; exec "$@""#;

/// Descriptor numbers the bwrap process gets: the readiness pipe, the info
/// pipe, the system-call filter, the go pipe, then the user namespace if
/// there is one.
const READY_FD: RawFd = 3;
const INFO_FD: RawFd = 4;
const SECCOMP_FD: RawFd = 5;
const USERNS_FD: RawFd = 7;

/// Absolute paths of the programs the runtime runs. Never looked up through
/// a PATH at spawn time: the environment given to those commands comes from
/// requests, and must not choose what the server runs as root on the host.
#[derive(Debug, Clone)]
struct Tools {
    bwrap: PathBuf,
    /// Run inside the sandbox, which sees the host's /usr.
    setpriv: PathBuf,
    env: PathBuf,
}

impl Tools {
    fn find() -> Option<Tools> {
        let server_path = std::env::var("PATH").unwrap_or_default();
        let dirs: Vec<&str> = super::DEFAULT_PATH
            .split(':')
            .chain(server_path.split(':'))
            .filter(|d| d.starts_with('/'))
            .collect();
        let find = |name: &str| {
            use std::os::unix::fs::PermissionsExt;
            dirs.iter().map(|d| Path::new(d).join(name)).find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
        };
        Some(Tools {
            bwrap: find("bwrap")?,
            setpriv: find("setpriv")?,
            env: find("env")?,
        })
    }
}

pub struct Bwrap {
    /// The server's data directory (canonical), hidden from every sandbox.
    data_dir: PathBuf,
    tools: Tools,
    /// Host uids for sandboxes, when the server runs as root.
    uids: Option<UidPool>,
}

impl Bwrap {
    /// The runtime, if bubblewrap and its helpers are installed and bwrap can
    /// create the namespaces we ask for (it cannot in some containers).
    pub fn detect(data_dir: PathBuf) -> Option<Self> {
        let tools = Tools::find()?;
        let works = std::process::Command::new(&tools.bwrap)
            .args([
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--unshare-net",
                "--die-with-parent",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "/bin/true",
            ])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !works {
            return None;
        }
        // SAFETY: geteuid cannot fail.
        let uids = if unsafe { libc::geteuid() } == 0 {
            // Without user namespaces a root server cannot keep sandboxes
            // from being root: bubblewrap does not count as working then.
            let highest = super::identity::UID_BASE + super::identity::UID_COUNT - 1;
            if let Err(e) = userns::create(highest, highest) {
                tracing::error!(error = %e, "cannot create user namespaces for sandboxes");
                return None;
            }
            match UidPool::open(&data_dir) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(error = %e, "cannot set up host uids for sandboxes");
                    return None;
                }
            }
        } else {
            None
        };
        Some(Self {
            data_dir,
            tools,
            uids,
        })
    }

    fn args(&self, plan: &LaunchPlan, layout: &Layout, user: &SandboxUser) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if user.is_leased() {
            push(&mut a, &["--userns2", &USERNS_FD.to_string()]);
            push(&mut a, WRAPPER_CAPS);
        } else {
            // An ordinary user's server: bubblewrap's own user namespace,
            // with no further one allowed inside.
            push(&mut a, &["--unshare-user", "--disable-userns"]);
        }
        // A network namespace of its own in every case: egress comes
        // through user-mode networking, never the host's stack.
        push(
            &mut a,
            &[
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--unshare-net",
            ],
        );
        push(&mut a, &["--die-with-parent", "--new-session"]);
        let host = format!("sb-{}", plan.sandbox_id.chars().take(8).collect::<String>());
        push(&mut a, &["--hostname", &host]);

        a.extend(filesystem_args(layout, &self.data_dir, plan.tmp_size));
        push(&mut a, &["--seccomp", &SECCOMP_FD.to_string()]);
        push(&mut a, &["--info-fd", &INFO_FD.to_string(), "--"]);
        push(&mut a, &["/bin/sh", "-c", MAIN_WRAPPER, "sandbox-main"]);
        a.push(self.tools.setpriv.to_string_lossy().into_owned());
        if user.is_leased() {
            push(&mut a, BECOME_SANDBOX_ROOT);
        }
        push(&mut a, DROP_PRIVILEGES);
        // The sandbox's environment only now, as the sandbox's user: what
        // ran before (bwrap, the wrapper, setpriv) had none of it, so no
        // LD_PRELOAD of a request's reaches a process with the server's
        // uid. `sh` runs the command, so a program named like a variable
        // assignment is still a program.
        a.push(self.tools.env.to_string_lossy().into_owned());
        a.push("-i".into());
        a.extend(plan.env.iter().map(|(k, v)| format!("{k}={v}")));
        push(&mut a, &["/bin/sh", "-c", r#"exec "$0" "$@""#]);
        a.extend(plan.argv.iter().cloned());
        a
    }
}

impl Runtime for Bwrap {
    fn isolation(&self) -> &'static str {
        "bubblewrap"
    }

    fn launch<'a>(&'a self, plan: &'a LaunchPlan) -> BoxFuture<'a, Result<Launched, RuntimeError>> {
        Box::pin(async move {
            let user = match &self.uids {
                Some(pool) => pool
                    .lease()
                    .map_err(|e| RuntimeError::io("choosing the sandbox's uid", e))?,
                None => SandboxUser::server(),
            };
            let layout = layout::prepare(plan, &user)
                .map_err(|e| RuntimeError::io("preparing the workspace", e))?;
            let path_var = plan
                .env
                .get("PATH")
                .map(String::as_str)
                .unwrap_or(super::DEFAULT_PATH);
            let mut sandbox_only = vec![WORKSPACE.to_string(), "/tmp".to_string()];
            sandbox_only.extend(plan.volumes.iter().map(|(_, p, _)| p.clone()));
            sandbox_only.extend(plan.files.iter().map(|(p, _)| p.clone()));
            sandbox_only.extend(layout.workdir.iter().map(|(_, p)| p.clone()));
            check_executable(&plan.argv[0], path_var, &sandbox_only)
                .map_err(RuntimeError::Start)?;

            let userns = if user.is_leased() {
                let (uid, gid) = user.host;
                Some(
                    tokio::task::spawn_blocking(move || userns::create(uid, gid))
                        .await
                        .map_err(|e| RuntimeError::Start(format!("user namespace: {e}")))?
                        .map_err(|e| RuntimeError::io("creating the user namespace", e))?,
                )
            } else {
                None
            };
            let filter = seccomp::program_bytes().map_err(RuntimeError::Start)?;
            let filter = sealed_memfd(&filter)
                .map_err(|e| RuntimeError::io("passing the system-call filter", e))?;
            let pipe = || {
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| RuntimeError::io("creating a pipe", e.into()))
            };
            let (ready_r, ready_w): (OwnedFd, OwnedFd) = pipe()?;
            let (info_r, info_w): (OwnedFd, OwnedFd) = pipe()?;
            let (go_r, go_w): (OwnedFd, OwnedFd) = pipe()?;
            // Descriptors handed to bwrap, in the order of their fixed numbers.
            let sources: Vec<RawFd> = [
                ready_w.as_raw_fd(),
                info_w.as_raw_fd(),
                filter.as_raw_fd(),
                go_r.as_raw_fd(),
            ]
            .into_iter()
            .chain(userns.as_ref().map(|u| u.as_raw_fd()))
            .collect();
            let args = self.args(plan, &layout, &user);

            let (mut output, out_w, err_w) = output_pipe()?;
            // No environment: bwrap and the wrapper run with the server's
            // uid, and a request's variables must not steer them.
            let mut cmd = tokio::process::Command::new(&self.tools.bwrap);
            cmd.args(&args)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(out_w)
                .stderr(err_w)
                .kill_on_drop(true);
            let nofile = enter::sandbox_nofile();
            let leased = user.is_leased();
            let nproc = leased.then_some(libc::rlimit {
                rlim_cur: plan.pids,
                rlim_max: plan.pids,
            });
            // Owned by the hook, so they stay open until the child has
            // joined through them.
            let cgroup_procs = cgroup::procs_of(plan.cgroup.as_deref())
                .map_err(|e| RuntimeError::io("opening the sandbox's cgroups", e))?;
            let fds = FixedFds::new(sources, READY_FD);
            // SAFETY: only async-signal-safe write/dup2/close/setsid/setrlimit
            // calls between fork and exec, and no allocation (everything
            // was built before the fork).
            unsafe {
                cmd.pre_exec(move || {
                    // Into the sandbox's cgroups before anything of it runs
                    // (and before the moves below reuse descriptor numbers).
                    cgroup::join(&cgroup_procs)?;
                    fds.place()?;
                    // A session of its own (which is also a process group
                    // for the kill below): nothing in the sandbox has the
                    // server's terminal. Fewer open files than the server.
                    if libc::setsid() == -1 || libc::setrlimit(libc::RLIMIT_NOFILE, &nofile) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // Counted per uid, which is the sandbox's alone.
                    if let Some(n) = &nproc {
                        if libc::setrlimit(libc::RLIMIT_NPROC, n) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
            // The spawner drops `cmd`: only the child may hold the write
            // ends, or they never see EOF.
            let mut child =
                spawner::spawn(cmd).map_err(|e| RuntimeError::io("running bwrap", e))?;
            let mut setup = SetupGuard {
                group: child.id().and_then(|p| i32::try_from(p).ok()),
                anchor: None,
            };
            drop(ready_w);
            drop(info_w);
            drop(filter);
            drop(go_r);
            drop(userns);

            let info = read_until(info_r, |b| parse_child_pid(b).is_some()).await;
            let anchor = parse_child_pid(&info);
            setup.anchor = anchor;
            // The wrapper reports readiness only after bwrap has built the
            // whole filesystem: an exec entering earlier would see a
            // half-built root, and a setup error means there is no sandbox.
            let ready = !read_until(ready_r, |b| !b.is_empty()).await.is_empty();
            let Some(anchor_pid) = anchor.filter(|_| ready) else {
                let mut err = String::new();
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    output.read_to_string(&mut err),
                )
                .await;
                drop(setup);
                let _ = child.kill().await;
                let err = err.trim();
                return Err(RuntimeError::Start(if err.is_empty() {
                    "bubblewrap could not set the sandbox up".to_string()
                } else {
                    err.to_string()
                }));
            };
            let anchor = super::pidfd_of(anchor_pid)
                .and_then(|fd| Ok((fd, super::ns_id_of(anchor_pid, "pid")?)));
            let (anchor_pidfd, anchor_ns) = match anchor {
                Ok(a) => a,
                Err(e) => {
                    drop(setup);
                    let _ = child.kill().await;
                    return Err(RuntimeError::io("the sandbox's pid 1", e));
                }
            };
            let egress = if plan.allow_network {
                match egress::start(
                    anchor_pid,
                    plan.cgroup.as_deref(),
                    plan.egress_grants.as_ref(),
                )
                .await
                {
                    Ok(e) => Some(std::sync::Arc::new(e)),
                    Err(why) => {
                        drop(setup);
                        let _ = child.kill().await;
                        return Err(RuntimeError::Start(why));
                    }
                }
            } else {
                None
            };
            let thread = match sandbox_thread(&plan.sandbox_id, anchor_pid, plan.cgroup.as_deref())
            {
                Ok(t) => std::sync::Arc::new(t),
                Err(e) => {
                    drop(setup);
                    let _ = child.kill().await;
                    return Err(RuntimeError::io("starting the sandbox's spawner thread", e));
                }
            };
            if let Err(e) = go(go_w).await {
                drop(setup);
                let _ = child.kill().await;
                return Err(RuntimeError::io("starting the main command", e));
            }
            setup.disarm();
            Ok(Launched {
                child,
                output,
                instance: Instance {
                    anchor_pid,
                    default_cwd: layout.cwd,
                    workspace: layout.workspace,
                    execs: Default::default(),
                    user,
                    cgroup: plan.cgroup.clone(),
                    egress,
                    thread: Some(thread),
                    anchor_ns: Some(anchor_ns),
                    anchor_pidfd: Some(std::sync::Arc::new(anchor_pidfd)),
                    nproc: leased.then_some(plan.pids),
                },
            })
        })
    }

    fn exec_command(
        &self,
        instance: &Instance,
        spec: &ExecSpec,
    ) -> std::io::Result<child::Command> {
        let (entry, pid_ns) = entry_of(instance, &spec.cwd)?;
        let thread = instance.thread.clone();
        // Born in the sandbox's pid namespace from its thread, or else
        // entered on the way (see child::start).
        let pid_ns = Some(pid_ns).filter(|_| !thread.as_ref().is_some_and(|t| t.in_pid_ns));
        child::Command::new(&spec.argv, &spec.env, entry, pid_ns, thread)
    }

    fn file_entry(&self, instance: &Instance) -> std::io::Result<enter::Entry> {
        entry_of(instance, "/").map(|(entry, _)| entry)
    }

    fn terminate(&self, instance: &Instance) {
        // The main command, if the pid still names the sandbox's.
        let main = main_pid(instance.anchor_pid).filter(|pid| {
            instance.anchor_ns.is_none() || super::ns_id_of(*pid, "pid").ok() == instance.anchor_ns
        });
        match main {
            Some(pid) => signal_pid(pid, Signal::SIGTERM),
            None => self.kill(instance),
        }
    }

    fn kill(&self, instance: &Instance) {
        // Killing the namespace's pid 1 kills every process in the sandbox.
        match &instance.anchor_pidfd {
            Some(fd) => super::signal_pidfd(fd, Signal::SIGKILL),
            None => signal_pid(instance.anchor_pid, Signal::SIGKILL),
        }
    }
}

/// Kills a bubblewrap that is abandoned while it sets the sandbox up (a
/// stop during creation drops the launch, a setup error). Until then
/// bwrap's inner process (the sandbox's pid 1) still shares the outer one's
/// process group and may not yet be tied to it: killing only the outer
/// process would leave the inner one waiting for it forever.
struct SetupGuard {
    group: Option<i32>,
    anchor: Option<i32>,
}

impl SetupGuard {
    /// The sandbox is up: from now on its pid 1 dies with bwrap.
    fn disarm(&mut self) {
        self.group = None;
        self.anchor = None;
    }
}

impl Drop for SetupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.anchor {
            signal_pid(pid, Signal::SIGKILL);
        }
        if let Some(pgid) = self.group {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
}

/// How a child of the sandbox's thread enters it, at `cwd`.
fn entry_of(instance: &Instance, cwd: &str) -> std::io::Result<(enter::Entry, OwnedFd)> {
    let procs = match &instance.cgroup {
        Some(c) if instance.thread.is_some() => c.child_procs()?,
        _ => instance.cgroup_procs()?,
    };
    enter::prepare(instance, cwd, procs, instance.thread.is_some())
}

/// The sandbox's spawner thread: in its cgroups and under its filter, and
/// in its pid namespace when the server may enter that (as root).
fn sandbox_thread(
    id: &str,
    anchor: i32,
    cgroup: Option<&cgroup::SandboxCgroup>,
) -> std::io::Result<SandboxThread> {
    let tasks = cgroup
        .map(|c| c.thread_tasks())
        .transpose()?
        .unwrap_or_default();
    // SAFETY: geteuid cannot fail.
    let pid_ns = if unsafe { libc::geteuid() } == 0 {
        Some(std::fs::File::open(format!("/proc/{anchor}/ns/pid"))?.into())
    } else {
        None
    };
    SandboxThread::start(id, tasks, pid_ns)
}

/// Tell the sandbox's wrapper to start the main command.
async fn go(w: OwnedFd) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut w = tokio::net::unix::pipe::Sender::from_owned_fd(w)?;
    w.write_all(b"go\n").await
}

/// A memory file holding `data`, sealed against change, read from the start.
fn sealed_memfd(data: &[u8]) -> std::io::Result<OwnedFd> {
    use std::io::{Seek, Write};
    // SAFETY: memfd_create returns a new descriptor, which we then own.
    let fd = unsafe {
        libc::memfd_create(
            c"sandscope-seccomp".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let mut f =
        std::fs::File::from(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    f.write_all(data)?;
    f.rewind()?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f.into())
}

/// What was written to a pipe, read until `done` says it is enough or the
/// write ends are closed (bwrap keeps them open while the sandbox lives).
async fn read_until(fd: OwnedFd, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let Ok(mut r) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return buf;
    };
    let mut chunk = [0u8; 1024];
    while !done(&buf) {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// The sandbox's main command: the only child of bubblewrap's pid 1.
fn main_pid(anchor: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{anchor}/task/{anchor}/children")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn parse_child_pid(buf: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(buf).ok()?;
    if !text.contains('}') {
        return None;
    }
    let rest = &text[text.find("\"child-pid\"")? + "\"child-pid\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_json() {
        let j = b"{\n    \"child-pid\": 9473,\n    \"ipc-namespace\": 4026532179\n}";
        assert_eq!(parse_child_pid(j), Some(9473));
        assert_eq!(parse_child_pid(b"{\n \"child-pid\": 12"), None);
    }
}
