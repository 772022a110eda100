//! File access for the file RPCs, with the sandbox's own rights: the file
//! is opened by a short-lived process that has joined the sandbox (its
//! namespaces, its root, its uid, no capabilities; see
//! `runtime::child::open`), so a path resolves and is permitted exactly as
//! for any process of the sandbox. `..` and symlinks, absolute ones
//! included, cannot leave its root; what it may not read or write fails.
use super::runtime::child::open::OpenRequest;
use super::runtime::{Instance, Runtime};
use super::service::errors::FileFailure;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;

/// Largest file moved by one ReadFile/WriteFile.
pub const MAX_FILE: u64 = 32 << 20;

fn classify(e: io::Error) -> FileFailure {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => FileFailure::NotFound,
        Some(libc::EISDIR) => FileFailure::IsDirectory,
        Some(libc::EACCES) | Some(libc::EPERM) => {
            FileFailure::PermissionDenied("permission denied".into())
        }
        Some(libc::EROFS) => FileFailure::PermissionDenied("read-only file system".into()),
        Some(libc::ENXIO) => FileFailure::Io("not a regular file".into()),
        _ => FileFailure::Io(e.to_string()),
    }
}

fn c_path(path: &str) -> Result<CString, FileFailure> {
    CString::new(path).map_err(|_| FileFailure::Io("the path contains a NUL byte".into()))
}

/// Read a whole regular file at `path` (absolute inside the sandbox).
pub async fn read(
    runtime: &dyn Runtime,
    instance: &Instance,
    path: &str,
) -> Result<Vec<u8>, FileFailure> {
    let req = OpenRequest {
        path: c_path(path)?,
        parents: Vec::new(),
        // O_NONBLOCK: a FIFO planted by the sandbox must not hang us.
        flags: libc::O_RDONLY | libc::O_NONBLOCK,
        mode: 0,
    };
    let fd = runtime.open_file(instance, req).await.map_err(classify)?;
    tokio::task::spawn_blocking(move || read_all(File::from(fd)))
        .await
        .map_err(|e| FileFailure::Io(format!("read task failed: {e}")))?
}

fn read_all(mut f: File) -> Result<Vec<u8>, FileFailure> {
    let md = f.metadata().map_err(classify)?;
    if md.is_dir() {
        return Err(FileFailure::IsDirectory);
    }
    if !md.is_file() {
        return Err(FileFailure::Io("not a regular file".into()));
    }
    if md.size() > MAX_FILE {
        return Err(FileFailure::TooLarge {
            size: md.size(),
            max: MAX_FILE,
        });
    }
    let mut buf = Vec::with_capacity(md.size() as usize);
    (&mut f)
        .take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(classify)?;
    if buf.len() as u64 > MAX_FILE {
        return Err(FileFailure::TooLarge {
            size: buf.len() as u64,
            max: MAX_FILE,
        });
    }
    Ok(buf)
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
    let req = OpenRequest {
        path: c_path(path)?,
        parents: parents(path)
            .into_iter()
            .map(|p| c_path(&p))
            .collect::<Result<_, _>>()?,
        // O_NONBLOCK: a FIFO planted by the sandbox must not hang us.
        flags: libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NONBLOCK,
        mode: 0o644,
    };
    let fd = runtime.open_file(instance, req).await.map_err(classify)?;
    tokio::task::spawn_blocking(move || {
        let mut f = File::from(fd);
        if !f.metadata().map_err(classify)?.is_file() {
            return Err(FileFailure::Io("not a regular file".into()));
        }
        f.write_all(&content).map_err(classify)
    })
    .await
    .map_err(|e| FileFailure::Io(format!("write task failed: {e}")))?
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
