//! Bearer-token authentication for the sandbox and discovery services, and
//! the stored token used when none is configured.
use super::ServerError;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tonic::{Request, Status};

#[derive(Clone)]
pub struct Auth {
    token: Arc<[u8]>,
}

impl Auth {
    pub fn new(token: &str) -> Self {
        Self {
            token: Arc::from(token.as_bytes()),
        }
    }

    fn check(&self, header: Option<&[u8]>) -> Result<(), &'static str> {
        let Some(value) = header else {
            return Err("missing authorization metadata (expected \"Bearer <token>\")");
        };
        let presented = match value.get(..7) {
            Some(p) if p.eq_ignore_ascii_case(b"bearer ") => &value[7..],
            _ => return Err("authorization metadata is not a bearer token"),
        };
        // Constant time in the token's content; only the length can leak.
        if bool::from(presented.ct_eq(&self.token)) {
            Ok(())
        } else {
            Err("invalid token")
        }
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let header = req.metadata().get("authorization").map(|v| v.as_bytes());
        match self.check(header) {
            Ok(()) => Ok(req),
            Err(why) => Err(super::service::errors::unauthenticated(why)),
        }
    }
}

/// Read `<data_dir>/token`, creating it (mode 0600) with a fresh random
/// token if it does not exist.
pub fn stored_token(data_dir: &Path) -> Result<String, ServerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|source| ServerError::Io {
        context: format!("creating {}", data_dir.display()),
        source,
    })?;
    let token: String = {
        use rand::Rng;
        let bytes: [u8; 24] = rand::thread_rng().gen();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| ServerError::Io {
            context: format!("writing {}", path.display()),
            source,
        })?;
    f.write_all(token.as_bytes())
        .map_err(|source| ServerError::Io {
            context: format!("writing {}", path.display()),
            source,
        })?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let a = Auth::new("s3cret");
        assert!(a.check(Some(b"Bearer s3cret")).is_ok());
        assert!(a.check(Some(b"bearer s3cret")).is_ok());
        assert!(a.check(Some(b"Bearer s3cre")).is_err());
        assert!(a.check(Some(b"Bearer s3cretx")).is_err());
        assert!(a.check(Some(b"s3cret")).is_err());
        assert!(a.check(None).is_err());
    }

    #[test]
    fn stored_token_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let t1 = stored_token(dir.path()).unwrap();
        let t2 = stored_token(dir.path()).unwrap();
        assert_eq!(t1, t2);
        assert!(t1.len() >= 32);
        let mode = std::fs::metadata(dir.path().join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
