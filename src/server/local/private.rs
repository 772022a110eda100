//! Ownership and permission checks on the files local clients trust.
use super::{io_err, LocalError};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

fn unsafe_path(path: &Path, problem: impl Into<String>) -> LocalError {
    LocalError::Unsafe {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

pub(super) fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// `meta` belongs to this user; otherwise someone else could have made it.
pub(super) fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<(), LocalError> {
    let me = euid();
    if meta.uid() == me {
        Ok(())
    } else {
        Err(unsafe_path(
            path,
            format!("belongs to uid {}, not to this user (uid {me})", meta.uid()),
        ))
    }
}

/// An existing directory of this user that nobody else can enter, read or
/// change. What a client checks before it trusts the socket and token in it.
pub fn check_private_dir(path: &Path) -> Result<(), LocalError> {
    let meta = std::fs::metadata(path).map_err(io_err(format!("checking {}", path.display())))?;
    if !meta.is_dir() {
        return Err(unsafe_path(path, "is not a directory"));
    }
    check_owner(path, &meta)?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(unsafe_path(
            path,
            format!(
                "is accessible by group or others (mode {mode:04o}); make it private with: chmod 700 {}",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Creates `path` (and missing parents) with mode 0700 when it does not
/// exist, checks it with [`check_private_dir`], and returns its canonical
/// form. What the server does with its data directory.
///
/// An existing directory of this user that others can read or enter but
/// not change (0755, as directories are made by default) is made 0700:
/// nothing in it could have been planted by them, and the files the server
/// keeps there are private themselves. One others can write to is refused:
/// what they may have put there cannot be told apart.
pub fn create_private_dir(path: &Path) -> Result<PathBuf, LocalError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io_err(format!("creating {}", path.display())))?;
        }
        Ok(meta) if meta.is_dir() && meta.uid() == euid() => {
            let mode = meta.mode() & 0o777;
            if mode & 0o077 != 0 && mode & 0o022 == 0 {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                    .map_err(io_err(format!("making {} private", path.display())))?;
                tracing::info!(dir = %path.display(), from = format!("{mode:04o}"), "made the data directory private (0700)");
            }
        }
        _ => {}
    }
    check_private_dir(path)?;
    path.canonicalize()
        .map_err(io_err(format!("resolving {}", path.display())))
}

/// An existing socket of this user (not a symlink to one).
pub(crate) fn check_socket(path: &Path) -> Result<(), LocalError> {
    let meta =
        std::fs::symlink_metadata(path).map_err(io_err(format!("checking {}", path.display())))?;
    if !meta.file_type().is_socket() {
        return Err(unsafe_path(path, "is not a socket"));
    }
    check_owner(path, &meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn created_private_and_shared_dirs_refused() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("a/b");
        let made = create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&made).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        check_private_dir(&dir).unwrap();
        chmod(&dir, 0o755);
        let e = check_private_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("mode 0755") && e.contains("chmod 700"), "{e}");
        // Readable by others only: the server makes it private...
        create_private_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        // ...but refuses one others could have written to.
        chmod(&dir, 0o775);
        let e = create_private_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("mode 0775"), "{e}");
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o775);
    }

    #[test]
    fn a_file_is_not_a_socket() {
        let top = tempfile::tempdir().unwrap();
        let f = top.path().join("server.sock");
        std::fs::write(&f, "").unwrap();
        let e = check_socket(&f).unwrap_err().to_string();
        assert!(e.contains("is not a socket"), "{e}");
    }
}
