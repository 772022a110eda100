//! Copying a directory tree that a sandbox controls, without letting the
//! sandbox steer the copy.
//!
//! The source is walked with descriptors only: every entry is opened
//! relative to its parent's descriptor with `O_NOFOLLOW`, and checked with
//! `fstat` on what was opened, so a symlink (or one swapped in while the
//! copy runs) is copied as a symlink and never followed, and nothing
//! outside the tree is ever read. Special files (FIFOs, sockets, devices)
//! are skipped and named. The copy is bounded in bytes, entries and depth.
//!
//! The destination is a directory of the server's own that no sandbox can
//! reach, so it is written with plain paths.
use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, fstatat, futimens, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bounds of one copy.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of file content.
    pub max_bytes: u64,
    /// Files, directories and symlinks.
    pub max_entries: u64,
    /// Directories nested below the root.
    pub max_depth: usize,
}

/// What a copy did.
#[derive(Debug, Default)]
pub struct Copied {
    pub bytes: u64,
    pub entries: u64,
    /// Paths (relative to the root) of special files left out, with their kind.
    pub skipped: Vec<(String, &'static str)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("more than {limit} bytes of files (the snapshot size limit)")]
    TooLarge { limit: u64 },
    #[error("more than {limit} files and directories")]
    TooManyEntries { limit: u64 },
    #[error("{path}: directories nested deeper than {limit}")]
    TooDeep { path: String, limit: usize },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// Who the copied entries belong to (host uid, gid); None keeps the
/// copier's own.
pub type Owner = Option<(u32, u32)>;

/// How many times an entry that keeps changing kind is looked at.
const CHANGED_RETRIES: usize = 3;

/// What became of one entry.
enum Entry {
    /// Copied, skipped and named, or gone.
    Copied,
    /// Not the kind its stat said; nothing was written for it.
    Changed,
}

struct Walk<'a> {
    limits: Limits,
    owner: Owner,
    cancel: &'a AtomicBool,
    done: Copied,
}

/// Copy the contents of `src` into `dst` (created, must not exist).
/// Permission bits are kept except set-user-id and set-group-id; file and
/// directory modification times are kept.
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    limits: Limits,
    owner: Owner,
    cancel: &AtomicBool,
) -> Result<Copied, CopyError> {
    let root = Dir::open(
        src,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("", e))?;
    let mut walk = Walk {
        limits,
        owner,
        cancel,
        done: Copied::default(),
    };
    let st = fstat(root.as_raw_fd()).map_err(|e| io_err("", e))?;
    make_dir(dst, owner).map_err(|e| io_err("", e))?;
    walk.dir(root, dst, "", 0)?;
    finish_dir(dst, &st).map_err(|e| io_err("", e))?;
    Ok(walk.done)
}

fn io_err(path: &str, e: impl Into<io::Error>) -> CopyError {
    CopyError::Io {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        source: e.into(),
    }
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Permission bits worth keeping: no set-id bits on anything we write.
fn safe_mode(st: &FileStat) -> u32 {
    st.st_mode & 0o1777
}

fn make_dir(path: &Path, owner: Owner) -> io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(path)?;
    chown(path, owner)
}

fn chown(path: &Path, owner: Owner) -> io::Result<()> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// A directory's mode and time, once its entries are in (writing them
/// would change the time, and a read-only mode would stop them).
fn finish_dir(path: &Path, st: &FileStat) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(safe_mode(st)))?;
    let dir = File::open(path)?;
    set_times(dir.as_raw_fd(), st)
}

fn set_times(fd: RawFd, st: &FileStat) -> io::Result<()> {
    let atime = TimeSpec::new(st.st_atime, st.st_atime_nsec);
    let mtime = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    futimens(fd, &atime, &mtime).map_err(io::Error::from)
}

fn join(rel: &str, name: &CStr) -> String {
    let name = String::from_utf8_lossy(name.to_bytes());
    if rel.is_empty() {
        format!("/{name}")
    } else {
        format!("{rel}/{name}")
    }
}

impl Walk<'_> {
    fn count(&mut self) -> Result<(), CopyError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(CopyError::Cancelled);
        }
        self.done.entries += 1;
        if self.done.entries > self.limits.max_entries {
            return Err(CopyError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    fn dir(&mut self, mut dir: Dir, dst: &Path, rel: &str, depth: usize) -> Result<(), CopyError> {
        // Names first: the descriptor is needed to open each entry, and a
        // directory is read once, whatever the sandbox does to it meanwhile.
        let mut names: Vec<CString> = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| io_err(rel, e))?;
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            if names.len() as u64 >= self.limits.max_entries {
                return Err(CopyError::TooManyEntries {
                    limit: self.limits.max_entries,
                });
            }
            names.push(name.to_owned());
        }
        names.sort();
        let fd = dir.as_raw_fd();
        for name in names {
            let path = join(rel, &name);
            let target = dst.join(OsStr::from_bytes(name.to_bytes()));
            self.entry_retrying(fd, &name, &path, &target, depth)?;
        }
        Ok(())
    }

    /// Copy one entry; one the sandbox swaps for another kind between the
    /// stat and the open is looked at again, a few times, and then named
    /// as skipped rather than failing the whole snapshot.
    fn entry_retrying(
        &mut self,
        parent: RawFd,
        name: &CStr,
        path: &str,
        target: &Path,
        depth: usize,
    ) -> Result<(), CopyError> {
        for _ in 0..CHANGED_RETRIES {
            if let Entry::Copied = self.entry(parent, name, path, target, depth)? {
                return Ok(());
            }
        }
        self.done
            .skipped
            .push((path.to_string(), "changed while it was copied"));
        Ok(())
    }

    /// Copy one entry, or say it changed kind since its stat. Nothing is
    /// written for an entry that changed, so it can be looked at again.
    fn entry(
        &mut self,
        parent: RawFd,
        name: &CStr,
        path: &str,
        target: &Path,
        depth: usize,
    ) -> Result<Entry, CopyError> {
        let st = match fstatat(Some(parent), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone since the directory was read: a running sandbox's
            // files change under a copy; what is gone is not copied.
            Err(nix::errno::Errno::ENOENT) => return Ok(Entry::Copied),
            Err(e) => return Err(io_err(path, e)),
        };
        match kind(&st) {
            SFlag::S_IFLNK => {
                let link = match readlinkat(Some(parent), name) {
                    Ok(l) => l,
                    Err(nix::errno::Errno::ENOENT) => return Ok(Entry::Copied),
                    // No longer a symlink (readlink says EINVAL).
                    Err(nix::errno::Errno::EINVAL) => return Ok(Entry::Changed),
                    Err(e) => return Err(io_err(path, e)),
                };
                self.count()?;
                std::os::unix::fs::symlink(&link, target).map_err(|e| io_err(path, e))?;
                chown(target, self.owner).map_err(|e| io_err(path, e))?;
            }
            SFlag::S_IFDIR => {
                if depth + 1 > self.limits.max_depth {
                    return Err(CopyError::TooDeep {
                        path: path.to_string(),
                        limit: self.limits.max_depth,
                    });
                }
                let sub = match Dir::openat(
                    Some(parent),
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(d) => d,
                    Err(nix::errno::Errno::ENOENT) => return Ok(Entry::Copied),
                    // Swapped for something else since the stat: never
                    // followed, looked at again.
                    Err(nix::errno::Errno::ELOOP) | Err(nix::errno::Errno::ENOTDIR) => {
                        return Ok(Entry::Changed)
                    }
                    Err(e) => return Err(io_err(path, e)),
                };
                self.count()?;
                let st = fstat(sub.as_raw_fd()).map_err(|e| io_err(path, e))?;
                make_dir(target, self.owner).map_err(|e| io_err(path, e))?;
                self.dir(sub, target, path, depth + 1)?;
                finish_dir(target, &st).map_err(|e| io_err(path, e))?;
            }
            SFlag::S_IFREG => return self.file(parent, name, path, target),
            SFlag::S_IFIFO => self.done.skipped.push((path.to_string(), "FIFO")),
            SFlag::S_IFSOCK => self.done.skipped.push((path.to_string(), "socket")),
            SFlag::S_IFCHR => self
                .done
                .skipped
                .push((path.to_string(), "character device")),
            SFlag::S_IFBLK => self.done.skipped.push((path.to_string(), "block device")),
            _ => self
                .done
                .skipped
                .push((path.to_string(), "unknown file type")),
        }
        Ok(Entry::Copied)
    }

    fn file(
        &mut self,
        parent: RawFd,
        name: &CStr,
        path: &str,
        target: &Path,
    ) -> Result<Entry, CopyError> {
        // O_NONBLOCK and O_NOCTTY: should a FIFO or a device be swapped in
        // after the stat, opening it neither blocks nor takes a terminal;
        // the fstat below then sends it back to be looked at again.
        let fd = match openat(
            Some(parent),
            name,
            OFlag::O_RDONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY
                | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return Ok(Entry::Copied),
            Err(nix::errno::Errno::ELOOP) => return Ok(Entry::Changed),
            Err(e) => return Err(io_err(path, e)),
        };
        // SAFETY: `fd` was just returned by openat and is owned by nothing
        // else; the File closes it.
        let src = unsafe { File::from_raw_fd(fd) };
        let st = fstat(src.as_raw_fd()).map_err(|e| io_err(path, e))?;
        if kind(&st) != SFlag::S_IFREG {
            return Ok(Entry::Changed);
        }
        self.count()?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(target)
            .map_err(|e| io_err(path, e))?;
        let left = self.limits.max_bytes.saturating_sub(self.done.bytes);
        // One byte over the limit tells a file that outgrew it (it may
        // still be growing) from one that fits exactly.
        let n = io::copy(&mut (&src).take(left.saturating_add(1)), &mut out)
            .map_err(|e| io_err(path, e))?;
        if n > left {
            return Err(CopyError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.done.bytes += n;
        out.set_permissions(std::fs::Permissions::from_mode(safe_mode(&st)))
            .map_err(|e| io_err(path, e))?;
        set_times(out.as_raw_fd(), &st).map_err(|e| io_err(path, e))?;
        drop(out);
        chown(target, self.owner).map_err(|e| io_err(path, e))?;
        Ok(Entry::Copied)
    }
}

/// Remove a partial or deleted copy; a path that is already gone is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 1000,
        max_depth: 16,
    };

    fn copy(src: &Path, dst: &Path, limits: Limits) -> Result<Copied, CopyError> {
        copy_tree(src, dst, limits, None, &AtomicBool::new(false))
    }

    #[test]
    fn copies_files_dirs_and_symlinks_without_following() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/f.txt"), b"hello").unwrap();
        std::fs::set_permissions(
            src.join("a/b/f.txt"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        let outside = t.path().join("secret");
        std::fs::write(&outside, b"host secret").unwrap();
        std::os::unix::fs::symlink(&outside, src.join("escape")).unwrap();
        std::os::unix::fs::symlink(t.path(), src.join("escape-dir")).unwrap();
        nix::unistd::mkfifo(&src.join("pipe"), Mode::from_bits_truncate(0o600)).unwrap();

        let dst = t.path().join("dst");
        let done = copy(&src, &dst, LIMITS).unwrap();
        assert_eq!(std::fs::read(dst.join("a/b/f.txt")).unwrap(), b"hello");
        let mode = std::fs::metadata(dst.join("a/b/f.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755, "set-id bits dropped");
        assert_eq!(std::fs::read_link(dst.join("escape")).unwrap(), outside);
        assert!(std::fs::symlink_metadata(dst.join("escape-dir"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(!dst.join("secret").exists());
        assert_eq!(done.bytes, 5);
        assert_eq!(done.skipped, vec![("/pipe".to_string(), "FIFO")]);
    }

    #[test]
    fn refuses_more_than_the_limits() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("big"), vec![0u8; 2048]).unwrap();
        let small = Limits {
            max_bytes: 2047,
            ..LIMITS
        };
        let err = copy(&src, &t.path().join("d1"), small).unwrap_err();
        assert!(matches!(err, CopyError::TooLarge { limit: 2047 }), "{err}");
        let exact = Limits {
            max_bytes: 2048,
            ..LIMITS
        };
        copy(&src, &t.path().join("d2"), exact).unwrap();

        std::fs::create_dir_all(src.join("1/2/3")).unwrap();
        let shallow = Limits {
            max_depth: 2,
            ..LIMITS
        };
        let err = copy(&src, &t.path().join("d3"), shallow).unwrap_err();
        assert!(matches!(err, CopyError::TooDeep { .. }), "{err}");
        let few = Limits {
            max_entries: 2,
            ..LIMITS
        };
        let err = copy(&src, &t.path().join("d4"), few).unwrap_err();
        assert!(matches!(err, CopyError::TooManyEntries { .. }), "{err}");
    }

    #[test]
    fn a_symlinked_root_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("root")).unwrap();
        let err = copy(&t.path().join("root"), &t.path().join("d"), LIMITS).unwrap_err();
        assert!(matches!(err, CopyError::Io { .. }), "{err}");
        assert!(!t.path().join("d").exists());
    }

    /// A racer swaps a directory for a symlink to a host directory and
    /// back, as fast as it can, while copies run: every copy succeeds and
    /// none holds anything from the host directory.
    #[test]
    fn a_directory_swapped_for_a_symlink_is_never_followed_nor_fatal() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        let host = t.path().join("host");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/x"), b"a").unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("host-secret"), b"server-only").unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let racer = {
            let (src, host, stop) = (src.clone(), host.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::fs::rename(src.join("d"), src.join("d.old")).unwrap();
                    std::os::unix::fs::symlink(&host, src.join("d")).unwrap();
                    std::fs::remove_file(src.join("d")).unwrap();
                    std::fs::rename(src.join("d.old"), src.join("d")).unwrap();
                }
            })
        };
        let mut failed = Vec::new();
        for i in 0..2000 {
            let dst = t.path().join(format!("dst{i}"));
            match copy(&src, &dst, LIMITS) {
                // `d` and `d.old` may both be seen as the directory.
                Ok(done) => assert!(done.bytes <= 2, "{done:?}"),
                Err(e) => failed.push(e.to_string()),
            }
            // The copied link itself may point there; a copied directory
            // must not hold the host's file.
            if let Ok(m) = std::fs::symlink_metadata(dst.join("d")) {
                if m.is_dir() {
                    assert!(!dst.join("d/host-secret").exists(), "followed");
                }
            }
            remove(&dst).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        racer.join().unwrap();
        assert!(
            failed.is_empty(),
            "{} copies failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(3)]
        );
    }
}
