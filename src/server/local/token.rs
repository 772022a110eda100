//! The token file: created by the server, read by local clients, refused by
//! both when anyone else could have read it or put it there.
use super::private::check_owner;
use super::{io_err, LocalError, TOKEN_NAME};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Reads `<data_dir>/token`, creating it (mode 0600) with a fresh random
/// token when it does not exist or is empty; creates the data directory
/// (0700) first if needed. Used by the server.
pub fn stored_token(data_dir: &Path) -> Result<String, LocalError> {
    super::create_private_dir(data_dir)?;
    let path = data_dir.join(TOKEN_NAME);
    match open_checked(&path, true) {
        Ok(mut f) => {
            let token = read_from(&path, &mut f)?;
            if !token.is_empty() {
                return Ok(token);
            }
            let token = fresh_token();
            f.write_all(token.as_bytes())
                .map_err(io_err(format!("writing {}", path.display())))?;
            Ok(token)
        }
        Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            create(&path)
        }
        Err(e) => Err(e),
    }
}

/// Reads `<data_dir>/token` without creating anything. Used by clients.
pub fn read_token(data_dir: &Path) -> Result<String, LocalError> {
    let path = data_dir.join(TOKEN_NAME);
    let mut f = match open_checked(&path, false) {
        Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(LocalError::NoServer {
                data_dir: data_dir.to_path_buf(),
                why: format!("there is no token file {}", path.display()),
            })
        }
        other => other?,
    };
    let token = read_from(&path, &mut f)?;
    if token.is_empty() {
        return Err(LocalError::Unsafe {
            path,
            problem: "is empty".into(),
        });
    }
    Ok(token)
}

/// Opens without following a symlink, then checks what was opened (not the
/// path, which could change in between).
fn open_checked(path: &Path, write: bool) -> Result<std::fs::File, LocalError> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let f = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(LocalError::Unsafe {
                path: path.to_path_buf(),
                problem: "is a symbolic link; the token file must be a regular file: remove it \
                          (the next `sandscope serve` writes a new one)"
                    .into(),
            })
        }
        Err(e) => return Err(io_err(format!("opening {}", path.display()))(e)),
    };
    let meta = f
        .metadata()
        .map_err(io_err(format!("checking {}", path.display())))?;
    if !meta.is_file() {
        return Err(LocalError::Unsafe {
            path: path.to_path_buf(),
            problem: "is not a regular file".into(),
        });
    }
    check_owner(path, &meta)?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        // Refused, not repaired: a token others could read may be known to
        // them already, and a chmod would hide that.
        return Err(LocalError::Unsafe {
            path: path.to_path_buf(),
            problem: format!(
                "is readable or writable by group or others (mode {mode:04o}), so the token may \
                 be known to others: remove it (the next `sandscope serve` writes a new one)"
            ),
        });
    }
    Ok(f)
}

fn read_from(path: &Path, f: &mut std::fs::File) -> Result<String, LocalError> {
    let mut text = String::new();
    f.read_to_string(&mut text)
        .map_err(io_err(format!("reading {}", path.display())))?;
    Ok(text.trim().to_string())
}

fn fresh_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn create(path: &Path) -> Result<String, LocalError> {
    let token = fresh_token();
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let mut f = match created {
        Ok(f) => f,
        // Another server created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut f = open_checked(path, false)?;
            return read_from(path, &mut f);
        }
        Err(e) => return Err(io_err(format!("creating {}", path.display()))(e)),
    };
    f.write_all(token.as_bytes())
        .map_err(io_err(format!("writing {}", path.display())))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_tempdir() -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stored_token_is_created_private_and_reused() {
        let dir = private_tempdir();
        let t1 = stored_token(dir.path()).unwrap();
        let t2 = stored_token(dir.path()).unwrap();
        assert_eq!(t1, t2);
        assert!(t1.len() >= 32);
        assert_eq!(read_token(dir.path()).unwrap(), t1);
        let mode = std::fs::metadata(dir.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn shared_or_linked_token_files_are_refused() {
        let dir = private_tempdir();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        for e in [read_token(dir.path()), stored_token(dir.path())] {
            let e = e.unwrap_err().to_string();
            assert!(e.contains("mode 0644") && e.contains("remove it"), "{e}");
        }
        std::fs::remove_file(&path).unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "abc").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        for e in [read_token(dir.path()), stored_token(dir.path())] {
            let e = e.unwrap_err().to_string();
            assert!(e.contains("symbolic link"), "{e}");
        }
    }

    #[test]
    fn a_client_creates_nothing() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("data");
        assert!(matches!(read_token(&dir), Err(LocalError::NoServer { .. })));
        assert!(!dir.exists());
    }
}
