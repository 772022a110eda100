//! The host runtime: plain processes in their own process groups, with the
//! sandbox directory as working directory and TMPDIR. It isolates nothing,
//! which the server reports loudly.
use super::child;
use super::enter::Entry;
use super::{
    check_executable, close_inherited_fds, output_pipe, signal_group, spawner, BoxFuture, ExecSpec,
    Instance, LaunchPlan, Launched, Runtime, RuntimeError,
};
use crate::server::limits::cgroup;
use nix::sys::signal::Signal;
use std::process::Stdio;

pub const ISOLATION: &str = "host (NO ISOLATION)";

pub struct Host;

impl Runtime for Host {
    fn isolation(&self) -> &'static str {
        ISOLATION
    }

    fn launch<'a>(&'a self, plan: &'a LaunchPlan) -> BoxFuture<'a, Result<Launched, RuntimeError>> {
        Box::pin(async move {
            let workspace = plan.sandbox_dir.join("workspace");
            // Without mounts, a volume at /workspace is the workspace itself
            // (other volumes are nowhere a process looks).
            for (files, dir) in &plan.restores {
                let at_workspace = plan
                    .volumes
                    .iter()
                    .any(|(d, m, _)| d == dir && m == super::bwrap::WORKSPACE);
                let dst = if at_workspace { &workspace } else { dir };
                if let Some(parent) = dst.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| RuntimeError::io("creating the workspace", e))?;
                }
                crate::server::snapshots::restore(files, dst, None).map_err(|e| {
                    RuntimeError::io("restoring a snapshot", std::io::Error::other(e.to_string()))
                })?;
            }
            let tmp = workspace.join(".tmp");
            std::fs::create_dir_all(&tmp)
                .map_err(|e| RuntimeError::io("creating the workspace", e))?;
            if !plan.volumes.is_empty() {
                // Without mount namespaces there is nowhere safe to put them.
                tracing::warn!(sandbox = %plan.sandbox_id, "volume mounts are ignored by the host runtime");
            }
            for (path, staged) in &plan.files {
                // Never write outside the sandbox directory on an unisolated host.
                // A relative path was made absolute from the workspace, which
                // here is a host path: keep it where it is meant to be.
                let inside = std::path::Path::new(path)
                    .strip_prefix(&workspace)
                    .unwrap_or_else(|_| std::path::Path::new(path.trim_start_matches('/')));
                let dest = workspace.join(inside);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| RuntimeError::io(format!("creating {path}"), e))?;
                }
                std::fs::copy(staged, &dest)
                    .map_err(|e| RuntimeError::io(format!("writing {path}"), e))?;
            }
            let cwd = if plan.working_dir.is_empty() {
                workspace.clone()
            } else {
                resolve(&workspace, &plan.working_dir)
            };
            let path_var = plan
                .env
                .get("PATH")
                .map(String::as_str)
                .unwrap_or(super::DEFAULT_PATH);
            check_executable(&plan.argv[0], path_var, &[]).map_err(RuntimeError::Start)?;
            let mut env = plan.env.clone();
            env.entry("TMPDIR".into())
                .or_insert_with(|| tmp.to_string_lossy().into_owned());
            let (output, out_w, err_w) = output_pipe()?;
            let mut cmd = tokio::process::Command::new(&plan.argv[0]);
            close_inherited_fds(&mut cmd, 3);
            cmd.args(&plan.argv[1..])
                .env_clear()
                .envs(&env)
                .current_dir(&cwd)
                .stdin(Stdio::null())
                .stdout(out_w)
                .stderr(err_w)
                .kill_on_drop(true);
            // A session of its own, away from the server's terminal (and a
            // process group, which stop signals), in the sandbox's cgroups.
            // Owned by the hook, so they stay open until the child has
            // joined through them.
            let cgroup_procs = cgroup::procs_of(plan.cgroup.as_deref())
                .map_err(|e| RuntimeError::io("opening the sandbox's cgroups", e))?;
            // SAFETY: setsid and write are async-signal-safe; the vector
            // was built before the fork.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setsid() == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    cgroup::join(&cgroup_procs)?;
                    Ok(())
                });
            }
            // The spawner drops `cmd`: only the child may hold the write
            // ends, or the log never ends. It also ties the process to the
            // server's life, which nothing else does without namespaces.
            let child = spawner::spawn(cmd)
                .map_err(|e| RuntimeError::Start(format!("{}: {e}", plan.argv[0])))?;
            let anchor_pid = child
                .id()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| RuntimeError::Start("the main process exited at once".into()))?;
            Ok(Launched {
                child,
                output,
                instance: Instance {
                    anchor_pid,
                    default_cwd: cwd.to_string_lossy().into_owned(),
                    workspace,
                    execs: Default::default(),
                    user: super::SandboxUser::server(),
                    cgroup: plan.cgroup.clone(),
                    egress: None,
                    thread: None,
                    anchor_ns: None,
                    anchor_pidfd: None,
                    nproc: None,
                },
            })
        })
    }

    fn exec_command(
        &self,
        instance: &Instance,
        spec: &ExecSpec,
    ) -> std::io::Result<child::Command> {
        let mut env = spec.env.clone();
        env.entry("TMPDIR".into()).or_insert_with(|| {
            instance
                .workspace
                .join(".tmp")
                .to_string_lossy()
                .into_owned()
        });
        let cwd = resolve(&instance.workspace, &spec.cwd);
        let entry = Entry::host(&cwd.to_string_lossy())?.with_cgroups(instance.cgroup_procs()?);
        child::Command::new(&spec.argv, &env, entry, None, None)
    }

    fn file_entry(&self, instance: &Instance) -> std::io::Result<Entry> {
        // No sandbox to enter: the host's files, as the server's user
        // without capabilities.
        Ok(Entry::host("/")?.with_cgroups(instance.cgroup_procs()?))
    }

    fn terminate(&self, instance: &Instance) {
        signal_group(instance.anchor_pid, Signal::SIGTERM);
    }

    fn kill(&self, instance: &Instance) {
        signal_group(instance.anchor_pid, Signal::SIGKILL);
    }
}

/// Relative paths are relative to the workspace.
fn resolve(workspace: &std::path::Path, path: &str) -> std::path::PathBuf {
    if path.starts_with('/') {
        std::path::PathBuf::from(path)
    } else {
        workspace.join(path)
    }
}
