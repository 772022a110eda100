//! The host side of a bubblewrap sandbox's filesystem: the directories and
//! files that will be the sandbox's own (workspace, volumes, a working
//! directory that does not exist on the host, spec files), made before the
//! sandbox starts and owned by the sandbox's host uid, so its processes can
//! change them and nothing else. Nothing of the sandbox runs yet, so no
//! path here can have been turned into a symlink under the server's feet.
use super::bwrap::WORKSPACE;
use super::{LaunchPlan, SandboxUser};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

/// Top-level paths the sandbox gets fresh, empty instances of.
pub const REPLACED: &[&str] = &["/proc", "/dev", "/tmp"];

/// Where each part comes from.
#[derive(Debug, Default)]
pub struct Layout {
    pub workspace: PathBuf,
    /// (host directory, mount path, read-only)
    pub volumes: Vec<(PathBuf, String, bool)>,
    /// Spec files outside the workspace and volumes: (staged host copy,
    /// path inside), bound in place.
    pub bound_files: Vec<(PathBuf, String)>,
    /// A working directory that exists nowhere else: (host directory, path).
    pub workdir: Option<(PathBuf, String)>,
    /// The working directory inside the sandbox.
    pub cwd: String,
}

pub fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

/// `path` below `prefix`, as relative components; None if it is not below
/// it or has any `..` (paths are normalised when a sandbox is created).
fn relative(path: &str, prefix: &str) -> Option<PathBuf> {
    let rest = path.strip_prefix(prefix.trim_end_matches('/'))?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let rel = Path::new(rest.trim_start_matches('/'));
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| rel.to_path_buf())
}

/// Make the sandbox's own parts under `plan.sandbox_dir`, owned by `user`.
pub fn prepare(plan: &LaunchPlan, user: &SandboxUser) -> io::Result<Layout> {
    let owner = Owner(user.host);
    for (files, dir) in &plan.restores {
        if let Some(parent) = dir.parent() {
            owner.mkdir_all(&plan.sandbox_dir, parent)?;
        }
        crate::server::snapshots::restore(files, dir, Some(user.host))
            .map_err(|e| io::Error::other(format!("restoring a snapshot: {e}")))?;
    }
    let mut workspace = plan.sandbox_dir.join("workspace");
    owner.mkdir(&workspace)?;
    let mut volumes: Vec<(PathBuf, String, bool)> = Vec::new();
    for (dir, mount, ro) in &plan.volumes {
        owner.mkdir_all(&plan.sandbox_dir, dir)?;
        if mount == WORKSPACE {
            // A volume at /workspace is the workspace.
            workspace = dir.clone();
        } else {
            volumes.push((dir.clone(), mount.clone(), *ro));
        }
    }
    // Outer mounts first, so one inside another is mounted over it.
    volumes.sort_by_key(|(_, mount, _)| mount.matches('/').count());
    let mut layout = Layout {
        workspace: workspace.clone(),
        volumes,
        ..Default::default()
    };
    // The host directory behind a path of the sandbox's own, if any.
    let own_dir = |path: &str, volumes: &[(PathBuf, String, bool)]| -> Option<PathBuf> {
        // The innermost mount wins, as it is made last.
        let in_volume = volumes
            .iter()
            .rev()
            .find_map(|(dir, mount, _)| relative(path, mount).map(|rel| dir.join(rel)));
        in_volume.or_else(|| relative(path, WORKSPACE).map(|rel| workspace.join(rel)))
    };
    // A mount point inside the workspace or another volume is made there
    // now, owned by the sandbox, rather than by bubblewrap.
    for (i, (_, mount, _)) in layout.volumes.iter().enumerate() {
        if let Some(host) = own_dir(mount, &layout.volumes[..i]) {
            owner.mkdir_all(&plan.sandbox_dir, &host)?;
        }
    }
    let own_dir = |path: &str| own_dir(path, &layout.volumes);
    let mut bound = Vec::new();
    for (path, staged) in &plan.files {
        match own_dir(path) {
            Some(host) => {
                if let Some(parent) = host.parent() {
                    owner.mkdir_all(&plan.sandbox_dir, parent)?;
                }
                std::fs::copy(staged, &host)?;
                owner.chown(&host)?;
            }
            None => {
                owner.chown(staged)?;
                bound.push((staged.clone(), path.clone()));
            }
        }
    }
    if plan.allow_network {
        // The host's resolver may be on its loopback, out of reach: the
        // sandbox asks user-mode networking's.
        let staged = plan.sandbox_dir.join("resolv.conf");
        let resolv = if plan.egress_grants.is_some() {
            crate::server::net::resolver::RESOLV_CONF
        } else {
            crate::server::net::egress::RESOLV_CONF
        };
        std::fs::write(&staged, resolv)?;
        owner.chown(&staged)?;
        bound.push((staged, "/etc/resolv.conf".to_string()));
    }
    layout.bound_files = bound;
    layout.cwd = if plan.working_dir.is_empty() {
        WORKSPACE.to_string()
    } else {
        plan.working_dir.clone()
    };
    let cwd = layout.cwd.clone();
    if let Some(host) = own_dir(&cwd) {
        owner.mkdir_all(&plan.sandbox_dir, &host)?;
    } else if REPLACED.iter().any(|r| under(&cwd, r)) || !Path::new(&cwd).is_dir() {
        let dir = plan.sandbox_dir.join("workdir");
        owner.mkdir(&dir)?;
        layout.workdir = Some((dir, cwd));
    }
    Ok(layout)
}

/// Makes things owned by the sandbox's host ids.
struct Owner((u32, u32));

impl Owner {
    fn chown(&self, path: &Path) -> io::Result<()> {
        std::os::unix::fs::lchown(path, Some(self.0 .0), Some(self.0 .1))
    }

    fn mkdir(&self, dir: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
        self.chown(dir)
    }

    /// `dir` and every missing directory between `base` and it.
    fn mkdir_all(&self, base: &Path, dir: &Path) -> io::Result<()> {
        let rel = dir.strip_prefix(base).map_err(|_| {
            io::Error::other(format!(
                "{} is outside the sandbox directory",
                dir.display()
            ))
        })?;
        let mut at = base.to_path_buf();
        for c in rel.components() {
            at.push(c);
            if !at.is_dir() {
                self.mkdir(&at)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_accepts_only_paths_below() {
        assert_eq!(
            relative("/workspace/a/b", "/workspace"),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(relative("/workspace", "/workspace"), Some(PathBuf::new()));
        assert_eq!(relative("/workspacex/a", "/workspace"), None);
        assert_eq!(relative("/workspace/../etc", "/workspace"), None);
        assert_eq!(relative("/data/x", "/data/"), Some(PathBuf::from("x")));
    }
}
