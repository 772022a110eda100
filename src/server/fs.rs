//! File access in a sandbox's own view of the filesystem. Paths are
//! resolved with `openat2(RESOLVE_IN_ROOT)` against the sandbox root, so
//! `..` and symlinks (absolute ones included) stay inside it, and a path the
//! sandbox cannot write fails instead of touching the host.
use super::service::errors::FileFailure;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Largest file moved by one ReadFile/WriteFile.
pub const MAX_FILE: u64 = 32 << 20;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn openat2(dir: &OwnedFd, path: &str, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: the kernel reads `how` (of the size given) and the C string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a fresh descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn open_root(root: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_PATH)
        .open(root)?;
    Ok(OwnedFd::from(f))
}

fn classify(e: io::Error) -> FileFailure {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => FileFailure::NotFound,
        Some(libc::EISDIR) => FileFailure::IsDirectory,
        Some(libc::EACCES) | Some(libc::EPERM) => {
            FileFailure::PermissionDenied("permission denied".into())
        }
        Some(libc::EROFS) => FileFailure::PermissionDenied("read-only file system".into()),
        _ => FileFailure::Io(e.to_string()),
    }
}

/// Read a whole regular file at `path` (absolute inside the sandbox).
pub fn read(root: &Path, path: &str) -> Result<Vec<u8>, FileFailure> {
    let dir = open_root(root).map_err(|e| FileFailure::Io(format!("sandbox root: {e}")))?;
    let fd = openat2(
        &dir,
        path,
        libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
        0,
    )
    .map_err(classify)?;
    let mut f = File::from(fd);
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
pub fn write(root: &Path, path: &str, content: &[u8]) -> Result<(), FileFailure> {
    if content.len() as u64 > MAX_FILE {
        return Err(FileFailure::TooLarge {
            size: content.len() as u64,
            max: MAX_FILE,
        });
    }
    let dir = open_root(root).map_err(|e| FileFailure::Io(format!("sandbox root: {e}")))?;
    make_parents(&dir, path).map_err(classify)?;
    let fd = openat2(
        &dir,
        path,
        // O_NONBLOCK: a FIFO planted by the sandbox must not hang us.
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOCTTY | libc::O_NONBLOCK,
        0o644,
    )
    .map_err(classify)?;
    let mut f = File::from(fd);
    if !f.metadata().map_err(classify)?.is_file() {
        return Err(FileFailure::Io("not a regular file".into()));
    }
    f.write_all(content).map_err(classify)?;
    Ok(())
}

fn make_parents(root: &OwnedFd, path: &str) -> io::Result<()> {
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.len() < 2 {
        return Ok(());
    }
    let mut prefix = String::from("/");
    for name in &comps[..comps.len() - 1] {
        let parent = openat2(root, &prefix, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        prefix.push_str(name);
        match openat2(root, &prefix, libc::O_PATH | libc::O_DIRECTORY, 0) {
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let c =
                    CString::new(*name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                // SAFETY: mkdirat with a directory fd we hold and a C string.
                let r = unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), 0o755) };
                if r != 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EEXIST) {
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
    fn symlinks_cannot_leave_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"host").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link"))
            .unwrap();
        std::os::unix::fs::symlink("../../../../..", root.path().join("up")).unwrap();
        // The absolute target is re-read inside the root, where it does not exist.
        assert!(matches!(
            read(root.path(), "/link"),
            Err(FileFailure::NotFound)
        ));
        write(root.path(), "/up/a/b.txt", b"x").unwrap();
        assert_eq!(std::fs::read(root.path().join("a/b.txt")).unwrap(), b"x");
        assert_eq!(read(root.path(), "/a/b.txt").unwrap(), b"x");
        assert!(matches!(
            read(root.path(), "/a"),
            Err(FileFailure::IsDirectory)
        ));
    }

    #[test]
    fn absolute_joins_relative_paths() {
        assert_eq!(absolute("/workspace", "a/b"), "/workspace/a/b");
        assert_eq!(absolute("/workspace/", "/x"), "/x");
    }
}
