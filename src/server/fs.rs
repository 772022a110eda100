//! File access for the file RPCs, with the sandbox's own rights: a
//! short-lived process that has joined the sandbox (its namespaces, its
//! root, its uid, no capabilities; see `runtime::child::file`) opens the
//! file and reads or writes it, so a path resolves and is permitted exactly
//! as for any process of the sandbox. `..` and symlinks, absolute ones
//! included, cannot leave its root; what it may not read or write fails.
use super::runtime::child::file::{self, FileError, FileOp};
use super::runtime::{Instance, Runtime};
use super::service::errors::FileFailure;
use std::ffi::CString;
use std::io;

/// Largest file moved by one ReadFile/WriteFile.
pub const MAX_FILE: u64 = 32 << 20;

fn classify_io(e: io::Error) -> FileFailure {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => FileFailure::NotFound,
        Some(libc::EISDIR) => FileFailure::IsDirectory,
        Some(libc::EACCES) | Some(libc::EPERM) => {
            FileFailure::PermissionDenied("permission denied".into())
        }
        Some(libc::EROFS) => FileFailure::PermissionDenied("read-only file system".into()),
        Some(libc::ENXIO) => FileFailure::Io("not a regular file".into()),
        Some(libc::ENOSPC) => FileFailure::Io("no space left on device".into()),
        _ => FileFailure::Io(e.to_string()),
    }
}

fn classify(e: FileError) -> FileFailure {
    match e {
        FileError::Enter(e) => FileFailure::Io(e.to_string()),
        FileError::Io(e) => classify_io(e),
        FileError::IsDirectory => FileFailure::IsDirectory,
        FileError::NotRegular => FileFailure::Io("not a regular file".into()),
        FileError::TooLarge(size) => FileFailure::TooLarge {
            size,
            max: MAX_FILE,
        },
    }
}

fn c_path(path: &str) -> Result<CString, FileFailure> {
    CString::new(path).map_err(|_| FileFailure::Io("the path contains a NUL byte".into()))
}

async fn run(
    runtime: &dyn Runtime,
    instance: &Instance,
    op: FileOp,
) -> Result<Vec<u8>, FileFailure> {
    let entry = runtime
        .file_entry(instance)
        .map_err(|e| FileFailure::Io(format!("cannot enter the sandbox: {e}")))?;
    file::run_in(entry, op, instance.thread.clone())
        .await
        .map_err(classify)
}

/// Read a whole regular file at `path` (absolute inside the sandbox).
pub async fn read(
    runtime: &dyn Runtime,
    instance: &Instance,
    path: &str,
) -> Result<Vec<u8>, FileFailure> {
    let op = FileOp::Read {
        path: c_path(path)?,
        max: MAX_FILE,
    };
    run(runtime, instance, op).await
}

/// Create or truncate `path` (absolute inside the sandbox), creating
/// missing parent directories.
pub async fn write(
    runtime: &dyn Runtime,
    instance: &Instance,
    path: &str,
    content: Vec<u8>,
) -> Result<(), FileFailure> {
    if content.len() as u64 > MAX_FILE {
        return Err(FileFailure::TooLarge {
            size: content.len() as u64,
            max: MAX_FILE,
        });
    }
    let op = FileOp::Write {
        path: c_path(path)?,
        parents: parents(path)
            .into_iter()
            .map(|p| c_path(&p))
            .collect::<Result<_, _>>()?,
        content,
    };
    run(runtime, instance, op).await.map(|_| ())
}

/// The directories above `path`, outermost first (`/a/b/c` → `/a`, `/a/b`).
fn parents(path: &str) -> Vec<String> {
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut out = Vec::new();
    let mut at = String::new();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        at.push('/');
        at.push_str(c);
        out.push(at.clone());
    }
    out
}

/// `path` made absolute against `cwd`, without touching the filesystem.
pub fn absolute(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{}", cwd.trim_end_matches('/'), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_lists_each_directory_above() {
        assert_eq!(parents("/a/b/c.txt"), vec!["/a", "/a/b"]);
        assert_eq!(parents("/c.txt"), Vec::<String>::new());
        assert_eq!(parents("/a/./b//c"), vec!["/a", "/a/b"]);
    }

    #[test]
    fn absolute_joins_relative_paths() {
        assert_eq!(absolute("/workspace", "a/b"), "/workspace/a/b");
        assert_eq!(absolute("/workspace/", "/x"), "/x");
    }
}
