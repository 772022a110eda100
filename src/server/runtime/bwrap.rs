//! The bubblewrap runtime: one long-lived `bwrap` per sandbox, with private
//! pid/ipc/uts (and by default net) namespaces, a read-only view of the host,
//! a private `/tmp`, a writable `/workspace`, and the server's data directory
//! masked. Execs enter the same namespaces with `nsenter`, so every process
//! of a sandbox, and the file RPCs, see one filesystem.
use super::{
    check_executable, signal_pid, BoxFuture, ExecSpec, Instance, LaunchPlan, Launched, Runtime,
    RuntimeError,
};
use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncReadExt;

/// Mount point of the per-sandbox workspace inside the sandbox.
pub const WORKSPACE: &str = "/workspace";

/// Runs as `sh -c EXEC_WRAPPER sandbox-exec CWD ARGV...` inside the sandbox:
/// the cd happens there (a symlinked directory cannot point at the host), and
/// a missing command gets a shell-like message and 127.
const EXEC_WRAPPER: &str = r#"cd -- "$1" || exit 1; shift
command -v -- "$1" >/dev/null 2>&1 || { printf '%s: command not found\n' "$1" >&2; exit 127; }
exec "$@""#;

/// Longest time bubblewrap may take to set a sandbox up.
const SETUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Host top-level entries that the sandbox gets fresh instances of instead.
const REPLACED: &[&str] = &["/proc", "/dev", "/tmp"];

/// Host directories with people's and root's private files: sandboxes see
/// them empty. (Processes in a sandbox are uid 0 without capabilities, so
/// file modes alone would not hide root-owned secrets.)
const MASKED_DIRS: &[&str] = &["/root", "/home"];
/// Host files hidden the same way.
const MASKED_FILES: &[&str] = &["/etc/shadow", "/etc/gshadow"];

pub struct Bwrap {
    /// The server's data directory (canonical), hidden from every sandbox.
    data_dir: PathBuf,
}

impl Bwrap {
    pub fn new(data_dir: PathBuf) -> Self {
        Self { data_dir }
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
        push(
            &mut a,
            &["--die-with-parent", "--new-session", "--cap-drop", "ALL"],
        );
        let host = format!("sb-{}", plan.sandbox_id.chars().take(8).collect::<String>());
        push(&mut a, &["--hostname", &host]);

        // Paths we will mount or create inside the sandbox: any host
        // directory above one of them is recreated entry by entry, so the
        // mount point can be made on bwrap's writable root tmpfs.
        let mut targets: Vec<String> = vec![WORKSPACE.to_string()];
        targets.extend(plan.volumes.iter().map(|(_, p, _)| p.clone()));
        for (p, _) in &plan.files {
            if let Some(parent) = Path::new(p).parent() {
                targets.push(parent.to_string_lossy().into_owned());
            }
        }
        if plan.working_dir.starts_with('/') {
            targets.push(plan.working_dir.clone());
        }
        let mut binds = Vec::new();
        bind_tree(Path::new("/"), &targets, &mut binds);
        a.extend(binds);
        for f in MASKED_FILES {
            if Path::new(f).is_file() {
                push(&mut a, &["--ro-bind", "/dev/null", f]);
            }
        }
        push(
            &mut a,
            &["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
        );
        let data = self.data_dir.to_string_lossy().into_owned();
        let hidden = REPLACED.iter().chain(MASKED_DIRS).any(|r| under(&data, r));
        if !hidden && data != "/" {
            push(&mut a, &["--tmpfs", &data]);
        }
        let ws = workspace.to_string_lossy().into_owned();
        push(&mut a, &["--bind", &ws, WORKSPACE]);
        for (dir, mount, ro) in &plan.volumes {
            let d = dir.to_string_lossy().into_owned();
            push(
                &mut a,
                &[if *ro { "--ro-bind" } else { "--bind" }, &d, mount],
            );
        }
        for ((path, _), fd) in plan.files.iter().zip(file_fds) {
            if let Some(parent) = Path::new(path).parent() {
                push(&mut a, &["--dir", &parent.to_string_lossy()]);
            }
            push(&mut a, &["--file", &fd.to_string(), path]);
        }
        let cwd = if plan.working_dir.is_empty() {
            WORKSPACE.to_string()
        } else {
            plan.working_dir.clone()
        };
        push(&mut a, &["--dir", &cwd, "--chdir", &cwd]);
        push(&mut a, &["--info-fd", &info_fd.to_string(), "--"]);
        a.extend(plan.argv.iter().cloned());
        a
    }
}

fn push(a: &mut Vec<String>, items: &[&str]) {
    a.extend(items.iter().map(|s| s.to_string()));
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

/// Read-only binds reproducing `dir` (a host directory), exploded wherever a
/// target lies strictly below an entry.
fn bind_tree(dir: &Path, targets: &[String], out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let p = path.to_string_lossy().into_owned();
        if dir == Path::new("/") && REPLACED.contains(&p.as_str()) {
            continue;
        }
        if MASKED_DIRS.contains(&p.as_str()) && path.is_dir() {
            out.extend(["--tmpfs".into(), p]);
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            if let Ok(t) = std::fs::read_link(&path) {
                out.extend(["--symlink".into(), t.to_string_lossy().into_owned(), p]);
            }
        } else if ft.is_dir() && targets.iter().any(|t| under(t, &p) && t != &p) {
            out.extend(["--dir".into(), p.clone()]);
            bind_tree(&path, targets, out);
        } else if ft.is_dir() || ft.is_file() {
            out.extend(["--ro-bind".into(), p.clone(), p]);
        }
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
            let file_fds: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
            let (info_r, info_w): (OwnedFd, OwnedFd) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| RuntimeError::io("creating a pipe", e.into()))?;
            let info_w_raw = info_w.as_raw_fd();
            let args = self.args(plan, &workspace, info_w_raw, &file_fds);

            let mut cmd = tokio::process::Command::new("bwrap");
            cmd.args(&args)
                .env_clear()
                .envs(&plan.env)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            let inherit: Vec<RawFd> = std::iter::once(info_w_raw)
                .chain(file_fds.iter().copied())
                .collect();
            // SAFETY: only async-signal-safe fcntl calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    for fd in &inherit {
                        if libc::fcntl(*fd, libc::F_SETFD, 0) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| RuntimeError::io("running bwrap", e))?;
            drop(info_w);
            drop(files);

            let mut info = tokio::fs::File::from_std(std::fs::File::from(info_r));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            let pid = loop {
                if let Some(pid) = parse_child_pid(&buf) {
                    break Some(pid);
                }
                match info.read(&mut chunk).await {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let Some(anchor_pid) = pid else {
                // Setup failed before the sandbox existed; bwrap said why on stderr.
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(2),
                        e.read_to_string(&mut err),
                    )
                    .await;
                }
                let _ = child.kill().await;
                return Err(RuntimeError::Start(err.trim().to_string()));
            };
            // bwrap reports the pid before it has built the sandbox's
            // filesystem; its pid 1 forks the command only once that is done,
            // and an exec entering earlier would see a half-built root.
            let until = std::time::Instant::now() + SETUP_TIMEOUT;
            while main_pid(anchor_pid).is_none() && std::time::Instant::now() < until {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            let default_cwd = if plan.working_dir.is_empty() {
                WORKSPACE.to_string()
            } else {
                plan.working_dir.clone()
            };
            Ok(Launched {
                child,
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

    fn exec_command(&self, instance: &Instance, spec: &ExecSpec) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("nsenter");
        cmd.arg("-t")
            .arg(instance.anchor_pid.to_string())
            .args(["-a", "--"]);
        if spec.tty {
            // Inside the pid namespace the process must lead its own session
            // and own the terminal, or shells cannot do job control.
            cmd.args(["setsid", "-c"]);
        }
        cmd
            // Execs would otherwise keep nsenter's full root capabilities,
            // unlike the main process (bwrap drops them).
            .args(["setpriv", "--bounding-set=-all", "--inh-caps=-all"])
            // cd happens inside the sandbox, so a symlinked working directory
            // cannot point the process at a host directory.
            .args(["/bin/sh", "-c", EXEC_WRAPPER, "sandbox-exec"])
            .arg(&spec.cwd)
            .args(&spec.argv)
            .env_clear()
            .envs(&spec.env)
            .current_dir("/");
        if !spec.tty {
            cmd.process_group(0);
        }
        cmd
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

    #[test]
    fn under_matches_components_only() {
        assert!(under("/tmp/x", "/tmp"));
        assert!(under("/tmp", "/tmp"));
        assert!(!under("/tmpx", "/tmp"));
    }
}
