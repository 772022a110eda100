//! The filesystem a bubblewrap sandbox sees: the host read-only, recreated
//! directory by directory wherever something must be mounted inside it,
//! with private `/proc`, `/dev` and `/tmp`, the workspace at `/workspace`,
//! scratch volumes and spec files, and the private parts of the host masked.
use super::bwrap::WORKSPACE;
use super::LaunchPlan;
use std::os::fd::RawFd;
use std::path::Path;

/// Host top-level entries that the sandbox gets fresh instances of instead.
const REPLACED: &[&str] = &["/proc", "/dev", "/tmp"];

/// Host directories with people's and root's private files: sandboxes see
/// them empty. (Processes in a sandbox are uid 0 without capabilities, so
/// file modes alone would not hide root-owned secrets.)
const MASKED_DIRS: &[&str] = &["/root", "/home"];
/// Host files hidden the same way.
const MASKED_FILES: &[&str] = &["/etc/shadow", "/etc/gshadow"];

/// bwrap arguments building the sandbox's filesystem and working directory.
/// `file_fds[i]` is the descriptor bwrap reads `plan.files[i]` from.
pub fn filesystem_args(
    plan: &LaunchPlan,
    workspace: &Path,
    data_dir: &Path,
    file_fds: &[RawFd],
) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
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
    let data = data_dir.to_string_lossy().into_owned();
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
    a
}

pub(super) fn push(a: &mut Vec<String>, items: &[&str]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_matches_components_only() {
        assert!(under("/tmp/x", "/tmp"));
        assert!(under("/tmp", "/tmp"));
        assert!(!under("/tmpx", "/tmp"));
    }
}
