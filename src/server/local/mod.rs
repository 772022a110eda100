//! What a local server shares with the clients on its machine, and only with
//! them: its data directory (private to its user), the Unix socket in it,
//! and the token file. The server creates these; a client only checks and
//! reads them, so it can trust that whatever answers on the socket is the
//! server of this user.
mod private;
mod token;

pub use private::{check_private_dir, create_private_dir};
pub use token::{read_token, stored_token};

use std::path::{Path, PathBuf};

/// Overrides the data directory.
pub const DATA_DIR_ENV: &str = "SANDSCOPE_DATA_DIR";
/// Overrides the token (else the token file is used).
pub const TOKEN_ENV: &str = "SANDSCOPE_TOKEN";
/// The socket's name in the data directory.
pub const SOCKET_NAME: &str = "server.sock";
/// The token file's name in the data directory.
pub const TOKEN_NAME: &str = "token";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot determine a data directory; set {DATA_DIR_ENV}")]
    NoDataDir,
    /// A file or directory that others could have read or planted.
    #[error("{}: {problem}", .path.display())]
    Unsafe { path: PathBuf, problem: String },
    /// Nothing shows that a local server runs with this data directory.
    #[error("no local sandscope server with data directory {}: {why}", .data_dir.display())]
    NoServer { data_dir: PathBuf, why: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let context = context.into();
    move |source| LocalError::Io { context, source }
}

/// `$SANDSCOPE_DATA_DIR`, else the user's data directory
/// (`~/.local/share/sandscope` on Linux). Nothing is created.
pub fn data_dir_from_env() -> Result<PathBuf, LocalError> {
    match std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(d) => Ok(PathBuf::from(d)),
        None => directories::ProjectDirs::from("", "", "sandscope")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or(LocalError::NoDataDir),
    }
}

/// `$SANDSCOPE_TOKEN`, when set to something.
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// How a client reaches the local server: the socket and the token.
#[derive(Debug, Clone)]
pub struct LocalServer {
    pub socket: PathBuf,
    pub token: String,
}

impl LocalServer {
    /// The server whose data directory is `data_dir`, after checking that
    /// the directory is private to this user and that the socket in it is
    /// this user's. Creates nothing. `token` (e.g. `$SANDSCOPE_TOKEN`)
    /// takes the place of the token file.
    pub fn find(data_dir: &Path, token: Option<String>) -> Result<LocalServer, LocalError> {
        let no_server = |why: String| LocalError::NoServer {
            data_dir: data_dir.to_path_buf(),
            why,
        };
        match check_private_dir(data_dir) {
            Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(no_server("the directory does not exist".into()));
            }
            other => other?,
        }
        let socket = socket_path(data_dir);
        match private::check_socket(&socket) {
            Err(LocalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(no_server(format!(
                    "there is no socket {}",
                    socket.display()
                )));
            }
            other => other?,
        }
        let token = match token {
            Some(t) => t,
            None => read_token(data_dir)?,
        };
        Ok(LocalServer { socket, token })
    }
}
