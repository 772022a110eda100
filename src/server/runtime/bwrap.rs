//! The bubblewrap runtime: one long-lived `bwrap` per sandbox, with private
//! pid/ipc/uts (and by default net) namespaces, a read-only view of the host,
//! a private `/tmp`, a writable `/workspace`, and the server's data directory
//! masked. Execs are born in the same namespaces (see `enter`), so every
//! process of a sandbox, and the file RPCs, see one filesystem.
use super::bwrap_fs::{filesystem_args, push};
use super::{
    check_executable, output_pipe, set_cloexec_from, signal_group, signal_pid, BoxFuture, ExecSpec,
    Instance, LaunchPlan, Launched, Runtime, RuntimeError,
};
use super::{child, enter, spawner};
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

/// Runs as `sh -c MAIN_WRAPPER sandbox-main SETPRIV... ARGV...`: once the
/// sandbox is fully built, report that on fd 3 (which only this wrapper
/// holds), then become the main command without privileges.
const MAIN_WRAPPER: &str = r#"echo ready >&3; exec 3>&-; exec "$@""#;

/// Descriptor numbers the bwrap process gets: the readiness pipe, the info
/// pipe, then one per `files` entry.
const READY_FD: RawFd = 3;
const INFO_FD: RawFd = 4;
const FIRST_FILE_FD: RawFd = 5;

/// Absolute paths of the programs the runtime runs. Never looked up through
/// a PATH at spawn time: the environment given to those commands comes from
/// requests, and must not choose what the server runs as root on the host.
#[derive(Debug, Clone)]
struct Tools {
    bwrap: PathBuf,
    /// Runs inside the sandbox, which sees the host's /usr.
    setpriv: PathBuf,
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
        })
    }
}

pub struct Bwrap {
    /// The server's data directory (canonical), hidden from every sandbox.
    data_dir: PathBuf,
    tools: Tools,
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
        works.then_some(Self { data_dir, tools })
    }

    fn args(
        &self,
        plan: &LaunchPlan,
        workspace: &Path,
        info_fd: RawFd,
        file_fds: &[RawFd],
    ) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        push(&mut a, &["--unshare-pid", "--unshare-ipc", "--unshare-uts"]);
        if !plan.allow_network {
            push(&mut a, &["--unshare-net"]);
        }
        push(&mut a, &["--die-with-parent", "--new-session"]);
        let host = format!("sb-{}", plan.sandbox_id.chars().take(8).collect::<String>());
        push(&mut a, &["--hostname", &host]);

        a.extend(filesystem_args(plan, workspace, &self.data_dir, file_fds));
        push(&mut a, &["--info-fd", &info_fd.to_string(), "--"]);
        push(&mut a, &["/bin/sh", "-c", MAIN_WRAPPER, "sandbox-main"]);
        a.push(self.tools.setpriv.to_string_lossy().into_owned());
        push(&mut a, DROP_PRIVILEGES);
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
            let workspace = plan.sandbox_dir.join("workspace");
            std::fs::create_dir_all(&workspace)
                .map_err(|e| RuntimeError::io("creating the workspace", e))?;
            let path_var = plan
                .env
                .get("PATH")
                .map(String::as_str)
                .unwrap_or(super::DEFAULT_PATH);
            let mut sandbox_only = vec![WORKSPACE.to_string(), "/tmp".to_string()];
            sandbox_only.extend(plan.volumes.iter().map(|(_, p, _)| p.clone()));
            sandbox_only.extend(plan.files.iter().map(|(p, _)| p.clone()));
            check_executable(&plan.argv[0], path_var, &sandbox_only)
                .map_err(RuntimeError::Start)?;

            let mut files = Vec::new();
            for (_, staged) in &plan.files {
                files.push(
                    std::fs::File::open(staged)
                        .map_err(|e| RuntimeError::io("staging a file", e))?,
                );
            }
            let pipe = || {
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| RuntimeError::io("creating a pipe", e.into()))
            };
            let (ready_r, ready_w): (OwnedFd, OwnedFd) = pipe()?;
            let (info_r, info_w): (OwnedFd, OwnedFd) = pipe()?;
            // Descriptors handed to bwrap, in the order of their fixed numbers.
            let sources: Vec<RawFd> = [ready_w.as_raw_fd(), info_w.as_raw_fd()]
                .into_iter()
                .chain(files.iter().map(|f| f.as_raw_fd()))
                .collect();
            let file_fds: Vec<RawFd> = (0..files.len() as RawFd)
                .map(|i| FIRST_FILE_FD + i)
                .collect();
            let args = self.args(plan, &workspace, INFO_FD, &file_fds);

            let (mut output, out_w, err_w) = output_pipe()?;
            let mut cmd = tokio::process::Command::new(&self.tools.bwrap);
            cmd.args(&args)
                .env_clear()
                .envs(&plan.env)
                .stdin(Stdio::null())
                .stdout(out_w)
                .stderr(err_w)
                .process_group(0)
                .kill_on_drop(true);
            // Park every source above all of them and the targets, then move
            // it to its fixed number (dup2 also clears close-on-exec).
            let park = sources
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
                .max(READY_FD + sources.len() as RawFd)
                + 1;
            // SAFETY: only async-signal-safe dup2/close calls between fork and
            // exec, and no allocation (`sources` was built before the fork).
            unsafe {
                cmd.pre_exec(move || {
                    for (i, fd) in sources.iter().enumerate() {
                        if libc::dup2(*fd, park + i as RawFd) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    for i in 0..sources.len() {
                        let parked = park + i as RawFd;
                        if libc::dup2(parked, READY_FD + i as RawFd) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                        libc::close(parked);
                    }
                    set_cloexec_from((READY_FD + sources.len() as RawFd) as u32);
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
            drop(files);

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
            setup.disarm();
            let default_cwd = if plan.working_dir.is_empty() {
                WORKSPACE.to_string()
            } else {
                plan.working_dir.clone()
            };
            Ok(Launched {
                child,
                output,
                instance: Instance {
                    anchor_pid,
                    default_cwd,
                    workspace,
                    isolated: true,
                    execs: Default::default(),
                },
            })
        })
    }

    fn exec_command(
        &self,
        instance: &Instance,
        spec: &ExecSpec,
    ) -> std::io::Result<child::Command> {
        let (entry, pid_ns) = enter::prepare(instance.anchor_pid, &spec.cwd)?;
        child::Command::new(&spec.argv, &spec.env, entry, Some(pid_ns))
    }

    fn terminate(&self, instance: &Instance) {
        match main_pid(instance.anchor_pid) {
            Some(pid) => signal_pid(pid, Signal::SIGTERM),
            None => signal_pid(instance.anchor_pid, Signal::SIGKILL),
        }
    }

    fn kill(&self, instance: &Instance) {
        // Killing the namespace's pid 1 kills every process in the sandbox.
        signal_pid(instance.anchor_pid, Signal::SIGKILL);
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
