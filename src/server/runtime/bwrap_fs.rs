//! The filesystem a bubblewrap sandbox sees: the host read-only, recreated
//! directory by directory wherever something must be mounted inside it,
//! with private `/proc`, `/dev` and `/tmp`, the workspace at `/workspace`,
//! scratch volumes and spec files, the private parts of the host masked,
//! and the kernel's settings read-only.
use super::bwrap::WORKSPACE;
use super::layout::{under, Layout, REPLACED};
use std::path::Path;

/// Host directories with people's and root's private files: sandboxes see
/// them empty.
const MASKED_DIRS: &[&str] = &["/root", "/home"];
/// Host files hidden the same way. (A sandbox's processes are not root on
/// the host, so file modes hide these too; masking does not depend on it.)
const MASKED_FILES: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
];

/// Kernel interfaces in `/proc` that write to the machine, not to the
/// sandbox: bound read-only from the host's `/proc`. (Namespaced settings,
/// such as the network ones, still read as the reader's own namespace.)
const PROC_READ_ONLY: &[&str] = &[
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
];
/// Files in `/proc` and `/sys` that tell about the host's kernel or memory:
/// replaced by `/dev/null`.
const PROC_HIDDEN_FILES: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
];
/// Directories replaced by empty ones.
const HIDDEN_DIRS: &[&str] = &[
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/kernel/debug",
    "/sys/kernel/security",
    "/etc/ssl/private",
];

/// bwrap arguments building the sandbox's filesystem and working
/// directory. `tmp_size` bounds `/tmp` (bytes).
pub fn filesystem_args(layout: &Layout, data_dir: &Path, tmp_size: u64) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    // Paths we will mount or create inside the sandbox: any host
    // directory above one of them is recreated entry by entry, so the
    // mount point can be made on bwrap's writable root tmpfs.
    let mut targets: Vec<String> = vec![WORKSPACE.to_string()];
    targets.extend(layout.volumes.iter().map(|(_, p, _)| p.clone()));
    targets.extend(layout.bound_files.iter().map(|(_, p)| p.clone()));
    targets.extend(layout.workdir.iter().map(|(_, p)| p.clone()));
    let mut binds = Vec::new();
    bind_tree(Path::new("/"), &targets, &mut binds);
    a.extend(binds);
    for f in MASKED_FILES {
        if Path::new(f).is_file() {
            push(&mut a, &["--ro-bind", "/dev/null", f]);
        }
    }
    push(&mut a, &["--proc", "/proc", "--dev", "/dev"]);
    for p in PROC_READ_ONLY {
        push(&mut a, &["--ro-bind-try", p, p]);
    }
    for f in PROC_HIDDEN_FILES {
        if Path::new(f).exists() {
            push(&mut a, &["--ro-bind", "/dev/null", f]);
        }
    }
    for d in HIDDEN_DIRS {
        if Path::new(d).is_dir() {
            push(&mut a, &["--tmpfs", d]);
        }
    }
    let data = data_dir.to_string_lossy().into_owned();
    let hidden = REPLACED.iter().chain(MASKED_DIRS).any(|r| under(&data, r));
    if !hidden && data != "/" {
        push(&mut a, &["--tmpfs", &data]);
    }
    let size = tmp_size.to_string();
    push(
        &mut a,
        &["--perms", "1777", "--size", &size, "--tmpfs", "/tmp"],
    );
    // bwrap makes missing parents of a mount point private to root (0700),
    // out of the sandbox's reach: make them 0755 first. (Existing ones are
    // left as they are.)
    let mut parents: Vec<String> = Vec::new();
    for t in &targets {
        let mut at = String::new();
        let comps: Vec<&str> = t.split('/').filter(|c| !c.is_empty()).collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            at.push('/');
            at.push_str(c);
            if !parents.contains(&at) {
                parents.push(at.clone());
            }
        }
    }
    for p in &parents {
        push(&mut a, &["--dir", p]);
    }
    let ws = layout.workspace.to_string_lossy().into_owned();
    push(&mut a, &["--bind", &ws, WORKSPACE]);
    for (dir, mount, ro) in &layout.volumes {
        let d = dir.to_string_lossy().into_owned();
        push(
            &mut a,
            &[if *ro { "--ro-bind" } else { "--bind" }, &d, mount],
        );
    }
    if let Some((dir, path)) = &layout.workdir {
        push(&mut a, &["--bind", &dir.to_string_lossy(), path]);
    }
    for (staged, path) in &layout.bound_files {
        push(&mut a, &["--bind", &staged.to_string_lossy(), path]);
    }
    push(&mut a, &["--chdir", &layout.cwd]);
    a
}

pub(super) fn push(a: &mut Vec<String>, items: &[&str]) {
    a.extend(items.iter().map(|s| s.to_string()));
}

/// Read-only binds reproducing `dir` (a host directory), exploded wherever a
/// target lies strictly below an entry, with masked directories shown empty.
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
        let Ok(ft) = e.file_type() else { continue };
        if !ft.is_dir() && targets.contains(&p) {
            continue; // a file mounted there later; bwrap makes its place
        }
        if ft.is_dir() && MASKED_DIRS.contains(&p.as_str()) {
            out.extend(["--tmpfs".into(), p]);
            continue;
        }
        let above = |t: &str| under(t, &p) && t != p;
        if ft.is_symlink() {
            if let Ok(t) = std::fs::read_link(&path) {
                out.extend(["--symlink".into(), t.to_string_lossy().into_owned(), p]);
            }
        } else if ft.is_dir() && targets.iter().any(|t| above(t)) {
            out.extend(["--dir".into(), p.clone()]);
            bind_tree(&path, targets, out);
        } else if ft.is_dir() || ft.is_file() {
            out.extend(["--ro-bind".into(), p.clone(), p]);
        }
    }
}
