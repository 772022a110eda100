//! Bearer-token authentication for the sandbox and discovery services (the
//! token file is kept by `local`).
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
}
