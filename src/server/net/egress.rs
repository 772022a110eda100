//! Network egress for a sandbox that asks for it: the sandbox keeps a
//! network namespace of its own, and `slirp4netns` connects it to the
//! outside world through user-mode networking, as rootless containers do.
//! The host's loopback services stay out of reach (`--disable-host-loopback`),
//! and nothing the sandbox listens on appears on the host.
//!
//! Inside, the sandbox sees one interface (10.0.2.100/24, gateway
//! 10.0.2.2) and a resolver at 10.0.2.3 that forwards to the host's.
//! (pasta is not used: its defaults map the host's ports into the
//! namespace.)
use super::firewall::Firewall;
use super::policy::EgressRules;
use super::resolver::{self, GrantResolver};
use crate::server::limits::cgroup::SandboxCgroup;
use crate::server::runtime::{spawner, FixedFds};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// What the sandbox's resolv.conf says.
pub const RESOLV_CONF: &str = "nameserver 10.0.2.3\noptions edns0\n";
/// How long the network may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// slirp4netns's descriptors: readiness, and the one whose closing ends it.
const READY_FD: RawFd = 3;
const EXIT_FD: RawFd = 4;

/// What rule-based egress grants, and where its names are looked up
/// (None: it grants no names).
#[derive(Debug, Clone)]
pub struct Grants {
    pub rules: std::sync::Arc<EgressRules>,
    pub upstream: Option<std::net::SocketAddr>,
}

/// The running user-mode network of one sandbox; dropping it ends it.
pub struct Egress {
    /// Closing our end tells slirp4netns to exit.
    _exit: OwnedFd,
    _child: tokio::process::Child,
    /// The resolver of granted names, if any (the filter itself lives in
    /// the namespace, and goes with it).
    _resolver: Option<GrantResolver>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Egress")
    }
}

/// slirp4netns, if installed (looked up in the system directories only).
pub fn tool() -> Option<PathBuf> {
    crate::server::runtime::DEFAULT_PATH
        .split(':')
        .map(|d| Path::new(d).join("slirp4netns"))
        .find(|p| p.is_file())
}

/// Connect the network namespace of host pid `anchor` to the outside;
/// slirp4netns runs in the sandbox's cgroups, so its CPU and memory count
/// as the sandbox's. With `grants`, the filter is in place before the
/// network comes up.
pub async fn start(
    anchor: i32,
    cgroup: Option<&SandboxCgroup>,
    grants: Option<&Grants>,
) -> Result<Egress, String> {
    let tool = tool().ok_or(
        "network egress needs slirp4netns, which is not installed; \
         the host's network is never shared",
    )?;
    let resolver = match grants {
        Some(g) => filter(anchor, g).await?,
        None => None,
    };
    let pipe =
        || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
    let (ready_r, ready_w) = pipe()?;
    let (exit_r, exit_w) = pipe()?;
    let mut cmd = tokio::process::Command::new(&tool);
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--enable-sandbox",
        "--enable-seccomp",
        &format!("--ready-fd={READY_FD}"),
        &format!("--exit-fd={EXIT_FD}"),
        "--netns-type=path",
        &format!("/proc/{anchor}/ns/net"),
        "tap0",
    ])
    .env_clear()
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let fds = FixedFds::new(vec![ready_w.as_raw_fd(), exit_r.as_raw_fd()], READY_FD);
    // Owned by the hook, so they stay open until the child has joined.
    let cgroup_procs = crate::server::limits::cgroup::procs_of(cgroup)
        .map_err(|e| format!("opening the sandbox's cgroups: {e}"))?;
    // SAFETY: write, dup2, close and setsid only, between fork and exec;
    // the vectors were built before the fork.
    unsafe {
        cmd.pre_exec(move || {
            crate::server::limits::cgroup::join(&cgroup_procs)?;
            fds.place()?;
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = spawner::spawn(cmd).map_err(|e| format!("running slirp4netns: {e}"))?;
    drop(ready_w);
    drop(exit_r);
    let mut ready = tokio::net::unix::pipe::Receiver::from_owned_fd(ready_r)
        .map_err(|e| format!("slirp4netns: {e}"))?;
    let mut byte = [0u8; 1];
    let got = tokio::time::timeout(READY_TIMEOUT, ready.read(&mut byte)).await;
    if !matches!(got, Ok(Ok(1))) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), e.read_to_string(&mut err)).await;
        }
        let _ = child.kill().await;
        let err = err.trim();
        return Err(format!(
            "slirp4netns did not bring the network up{}",
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            }
        ));
    }
    // What it says later goes to the log, and never fills its pipe.
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(anchor, line = %line, "slirp4netns");
            }
        });
    }
    Ok(Egress {
        _exit: exit_w,
        _child: child,
        _resolver: resolver,
    })
}

/// Install the grants' filter in the namespace of `anchor`, and start the
/// resolver of its names.
async fn filter(anchor: i32, grants: &Grants) -> Result<Option<GrantResolver>, String> {
    let netns: OwnedFd = std::fs::File::open(format!("/proc/{anchor}/ns/net"))
        .map_err(|e| format!("the sandbox's network namespace: {e}"))?
        .into();
    let netns = std::sync::Arc::new(netns);
    let firewall = Firewall::install(netns.clone(), &grants.rules).await?;
    match grants.upstream {
        Some(upstream) => Ok(Some(resolver::start(
            &netns,
            grants.rules.clone(),
            upstream,
            firewall,
        )?)),
        None => Ok(None),
    }
}
