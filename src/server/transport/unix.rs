//! The Unix socket in the data directory: local clients reach the server
//! through it, and only this user can, since the directory is private.
use crate::server::local::{self, LocalError};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::UnixListener;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error("another sandscope server is already listening on {}", .0.display())]
    InUse(PathBuf),
    #[error("{} exists and is not a socket; remove it", .0.display())]
    NotASocket(PathBuf),
    #[error("cannot listen on {}", .path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The socket file this server made; removed when dropped, unless another
/// server has replaced it meanwhile.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds `path` (mode 0600) in a directory that must be private to this
/// user. A socket left by a server that is gone is replaced; one that
/// answers belongs to a running server and is left alone.
pub(crate) async fn bind(path: &Path) -> Result<(UnixListener, SocketFile), SocketError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        local::check_private_dir(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            let probe = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::UnixStream::connect(path),
            )
            .await;
            match probe {
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(|source| SocketError::Bind {
                        path: path.to_path_buf(),
                        source,
                    })?;
                }
                // It answers, or is too busy to: a live server.
                _ => return Err(SocketError::InUse(path.to_path_buf())),
            }
        }
        Ok(_) => return Err(SocketError::NotASocket(path.to_path_buf())),
        Err(_) => {}
    }
    let bind_err = |source| SocketError::Bind {
        path: path.to_path_buf(),
        source,
    };
    let socket = tokio::net::UnixSocket::new_stream().map_err(bind_err)?;
    socket.bind(path).map_err(bind_err)?;
    let listener = socket.listen(super::BACKLOG).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    let meta = std::fs::symlink_metadata(path).map_err(bind_err)?;
    let file = SocketFile {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    Ok((listener, file))
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

    #[tokio::test]
    async fn stale_sockets_are_replaced_live_ones_kept() {
        let dir = private_tempdir();
        let path = dir.path().join("s.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let (live, file) = bind(&path).await.unwrap();
        let e = bind(&path).await.unwrap_err();
        assert!(matches!(e, SocketError::InUse(_)), "{e}");
        drop(live);
        drop(file);
        assert!(!path.exists(), "the socket is removed with its server");
        std::fs::write(&path, "").unwrap();
        assert!(matches!(bind(&path).await, Err(SocketError::NotASocket(_))));
    }
}
