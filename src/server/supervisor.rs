//! One task per sandbox: starts the main process, feeds its output into the
//! log buffer, enforces stop requests and the maximum lifetime, and writes
//! the terminal state (with the exit code in the same update).
use super::limits::cgroup::{Cgroups, SandboxCgroup};
use super::limits::Limits;
use super::registry::{is_terminal, now_ts, Entry};
use super::runtime::{LaunchPlan, Launched, Runtime};
use crate::proto::v1 as pb;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// Grace given to the main process when its maximum lifetime runs out.
const LIFETIME_GRACE: Duration = Duration::from_secs(10);

pub struct Start {
    pub plan: LaunchPlan,
    pub limits: Limits,
    /// Where the limits are enforced (None: they are not).
    pub cgroups: Option<Arc<Cgroups>>,
    /// (path inside the sandbox, content) to materialise before start.
    pub files: Vec<(String, Vec<u8>)>,
    pub max_lifetime: Option<Duration>,
    /// Prefix for every state_reason (the no-isolation warning).
    pub reason_prefix: String,
    /// The host ports of the sandbox's services, served while it lives.
    pub services: Option<super::net::publish::Publication>,
}

pub fn spawn(runtime: Arc<dyn Runtime>, entry: Arc<Entry>, start: Start) {
    tokio::spawn(async move {
        let dir = start.plan.sandbox_dir.clone();
        let isolated = runtime.isolation() != super::runtime::host::ISOLATION;
        let mut start = start;
        let serving = start
            .services
            .take()
            .map(|p| p.serve(runtime.clone(), entry.clone()));
        let cgroup = run(runtime, entry.clone(), start).await;
        // The ports go with the sandbox, their URLs first.
        entry.update(|s| super::net::publish::withdraw(&mut s.services));
        drop(serving);
        entry.set_instance(None);
        // The workspace, volumes and cgroups go with the sandbox; the
        // record stays. On the host, so do processes an exec left running
        // in the background (bubblewrap's pid namespace takes those down
        // itself). Snapshots asked for on delete are taken first, now that
        // nothing of the sandbox runs to change its files.
        let on_stop = entry.files.take_on_stop();
        let leftover_dir = dir.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if !isolated {
                super::leftovers::kill_processes_using(&leftover_dir);
            }
            for (job, source) in on_stop {
                job.run(Some(&source));
            }
            if let Some(cg) = cgroup {
                cg.remove();
            }
        })
        .await;
        let mut gone = entry.files.removing().await;
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
        *gone = true;
    });
}

fn reason(prefix: &str, text: &str) -> String {
    match (prefix.is_empty(), text.is_empty()) {
        (true, _) => text.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{text}; {prefix}"),
    }
}

/// Make the sandbox terminal unless something (a Delete while creating)
/// already did.
fn finish(entry: &Entry, state: pb::State, exit_code: Option<i32>, why: String) {
    entry.update(|s| {
        if is_terminal(pb::State::try_from(s.state).unwrap_or(pb::State::Creating)) {
            return;
        }
        s.state = state as i32;
        s.exit_code = exit_code;
        s.state_reason = why;
        s.end_time = Some(now_ts());
        for c in &mut s.container_statuses {
            c.state = state as i32;
            c.exit_code = exit_code.unwrap_or(0);
        }
    });
}

async fn stage(start: &mut Start) -> std::io::Result<()> {
    let staging = start.plan.sandbox_dir.join("files");
    for (i, (path, content)) in start.files.iter().enumerate() {
        tokio::fs::create_dir_all(&staging).await?;
        let staged = staging.join(i.to_string());
        tokio::fs::write(&staged, content).await?;
        start.plan.files.push((path.clone(), staged));
    }
    Ok(())
}

/// What a sandbox's state reason says when the kernel killed processes
/// of it for memory.
fn out_of_memory(limits: &Limits, main: bool) -> String {
    let who = if main {
        "the main process was"
    } else {
        "a process was"
    };
    format!(
        "OOMKilled: out of memory: {who} killed at the sandbox's memory limit ({})",
        limits.as_resources().memory
    )
}

/// Runs the sandbox to its end; returns its cgroups for removal.
async fn run(
    runtime: Arc<dyn Runtime>,
    entry: Arc<Entry>,
    mut start: Start,
) -> Option<Arc<SandboxCgroup>> {
    let prefix = start.reason_prefix.clone();
    let stop = entry.stop_watch();
    if let Some(cgroups) = start.cgroups.clone() {
        let (id, limits) = (entry.id.clone(), start.limits);
        let made = tokio::task::spawn_blocking(move || cgroups.create(&id, &limits))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match made {
            Ok(cg) => start.plan.cgroup = Some(Arc::new(cg)),
            Err(e) => {
                let why = format!("StartError: setting up resource limits: {e}");
                finish(&entry, pb::State::Failed, None, reason(&prefix, &why));
                return None;
            }
        }
    }
    let cgroup = start.plan.cgroup.clone();
    run_started(runtime, entry, start, prefix, stop).await;
    cgroup
}

async fn run_started(
    runtime: Arc<dyn Runtime>,
    entry: Arc<Entry>,
    mut start: Start,
    prefix: String,
    mut stop: tokio::sync::watch::Receiver<Option<Duration>>,
) {
    if let Err(e) = stage(&mut start).await {
        let why = format!("StartError: preparing files and volumes: {e}");
        finish(&entry, pb::State::Failed, None, reason(&prefix, &why));
        return;
    }
    let launched = tokio::select! {
        r = runtime.launch(&start.plan) => r,
        _ = stop.wait_for(|g| g.is_some()) => {
            finish(&entry, pb::State::Completed, None, reason(&prefix, "stopped before it started"));
            return;
        }
    };
    let launched = match launched {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(sandbox = %entry.id, error = %e, "sandbox failed to start");
            finish(
                &entry,
                pb::State::Failed,
                None,
                reason(&prefix, &format!("StartError: {e}")),
            );
            return;
        }
    };
    let inst = launched.instance.clone();
    entry.set_instance(Some(inst.clone()));
    entry.update(|s| {
        if s.state == pb::State::Creating as i32 {
            s.state = pb::State::Running as i32;
            s.start_time = Some(now_ts());
            for c in &mut s.container_statuses {
                c.state = pb::State::Running as i32;
            }
        }
    });
    tracing::info!(sandbox = %entry.id, pid = inst.anchor_pid, uid = inst.user.host.0, "sandbox running");

    let Launched {
        mut child, output, ..
    } = launched;
    let pumps = vec![tokio::spawn(pump(output, 0, entry.clone()))];

    let lifetime_end = start.max_lifetime.map(|d| Instant::now() + d);
    let mut oom = start.plan.cgroup.as_ref().map(|c| c.oom_watch());
    let mut terminated = false;
    let mut kill_at: Option<Instant> = None;
    let mut stop_open = true;
    // A stop that arrived while launching counts as well.
    stop.mark_changed();
    let status = loop {
        tokio::select! {
            s = child.wait() => break s,
            changed = stop.changed(), if stop_open => {
                if changed.is_err() {
                    stop_open = false;
                    continue;
                }
                let Some(grace) = *stop.borrow_and_update() else { continue };
                if !terminated {
                    terminated = true;
                    entry.update(|s| {
                        if !is_terminal(pb::State::try_from(s.state).unwrap_or(pb::State::Running)) {
                            s.state = pb::State::Terminating as i32;
                        }
                    });
                    runtime.terminate(&inst);
                }
                let at = Instant::now() + grace;
                kill_at = Some(kill_at.map_or(at, |k| k.min(at)));
            }
            _ = sleep_until_opt(lifetime_end), if !terminated => {
                tracing::info!(sandbox = %entry.id, "maximum lifetime reached; stopping");
                entry.update(|s| s.state_reason = reason(&prefix, "maximum lifetime reached"));
                entry.request_stop(LIFETIME_GRACE);
            }
            _ = sleep_until_opt(kill_at) => {
                runtime.kill(&inst);
                kill_at = None;
            }
            changed = changed_opt(&mut oom) => {
                if changed {
                    let why = out_of_memory(&start.limits, false);
                    entry.update(|s| s.state_reason = reason(&prefix, &why));
                } else {
                    oom = None;
                }
            }
        }
    };
    inst.execs.kill_all();
    // Give the pumps a moment to drain what the process wrote last; a
    // daemon holding the pipes open must not keep the sandbox alive.
    for p in pumps {
        let abort = p.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), p)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    entry.logs.close();
    match status {
        Ok(st) => {
            let code = st
                .code()
                .or_else(|| st.signal().map(|s| 128 + s))
                .unwrap_or(-1);
            // bubblewrap reports its child's SIGKILL as exit code 137.
            let killed_for_memory = code == 128 + libc::SIGKILL
                && start
                    .plan
                    .cgroup
                    .as_ref()
                    .is_some_and(|c| c.new_oom_kills() > 0);
            let why = if killed_for_memory {
                reason(&prefix, &out_of_memory(&start.limits, true))
            } else {
                entry
                    .snapshot()
                    .status
                    .map(|s| s.state_reason)
                    .unwrap_or_default()
            };
            tracing::info!(sandbox = %entry.id, code, "sandbox completed");
            finish(&entry, pb::State::Completed, Some(code), why);
        }
        Err(e) => finish(
            &entry,
            pb::State::Failed,
            None,
            reason(&prefix, &format!("lost track of the main process: {e}")),
        ),
    }
}

/// Whether the watch changed (false once its sender is gone); pending
/// forever without one.
async fn changed_opt(w: &mut Option<tokio::sync::watch::Receiver<u64>>) -> bool {
    match w {
        Some(w) => w.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn pump(mut r: impl AsyncRead + Unpin, stream: usize, entry: Arc<Entry>) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => entry.logs.push(stream, &buf[..n]),
        }
    }
}
