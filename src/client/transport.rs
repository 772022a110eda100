//! The ways to a server: cleartext HTTP/2 over TCP, TLS over TCP (checked
//! against the system's roots or a given CA file), or a Unix socket; and
//! what a failed TLS handshake says.
use super::error::{Error, Result};
use std::path::{Path, PathBuf};
use tokio_rustls::rustls;
use tonic::transport::{Certificate, ClientTlsConfig};

/// Where an endpoint URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Http(String),
    Https(String),
    /// `unix:/path` or `unix:///path`.
    Unix(PathBuf),
}

pub(crate) fn parse(url: &str) -> Result<Target> {
    let url = url.trim();
    if let Some(path) = url.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "endpoint {url:?} names no socket path"
            )));
        }
        Ok(Target::Unix(PathBuf::from(path)))
    } else if url.starts_with("https://") {
        Ok(Target::Https(url.to_string()))
    } else if url.starts_with("http://") {
        Ok(Target::Http(url.to_string()))
    } else {
        Err(Error::InvalidArgument(format!(
            "endpoint {url:?} must start with http://, https:// or unix:"
        )))
    }
}

/// The TLS settings: only the CA in `ca_file` when one is given (a private
/// server's certificate is not among the system's roots, and the system's
/// roots have no business vouching for it), else the system's roots.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<ClientTlsConfig> {
    let Some(path) = ca_file else {
        return Ok(ClientTlsConfig::new().with_native_roots());
    };
    let pem = std::fs::read(path).map_err(|e| {
        Error::InvalidArgument(format!("cannot read the CA file {}: {e}", path.display()))
    })?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .filter(|c| c.is_ok())
        .count();
    if certs == 0 {
        return Err(Error::InvalidArgument(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
}

/// A TLS failure in the chain of `err`, in words that name the problem and
/// what the certificate was checked against.
pub(crate) fn tls_failure(
    err: &(dyn std::error::Error + 'static),
    ca_file: Option<&Path>,
) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        let found = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = found {
            return Some(describe(tls, ca_file));
        }
        next = e.source();
    }
    None
}

fn describe(e: &rustls::Error, ca_file: Option<&Path>) -> String {
    let against = match ca_file {
        Some(p) => format!("the CA file {}", p.display()),
        None => "the system's trusted certificates".to_string(),
    };
    match e {
        rustls::Error::InvalidCertificate(why) => {
            let what = match why {
                rustls::CertificateError::UnknownIssuer
                | rustls::CertificateError::BadSignature => {
                    format!("is not signed by a CA in {against}")
                }
                rustls::CertificateError::NotValidForName => {
                    "is not valid for this host name".to_string()
                }
                rustls::CertificateError::Expired => "has expired".to_string(),
                rustls::CertificateError::NotValidYet => "is not valid yet".to_string(),
                _ => format!("was refused (checked against {against})"),
            };
            format!("the server's certificate {what} ({e})")
        }
        rustls::Error::InvalidMessage(_) => {
            format!("TLS handshake failed: {e} (does the server speak TLS on this port?)")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        assert_eq!(
            parse("unix:/run/s.sock").ok(),
            Some(Target::Unix("/run/s.sock".into()))
        );
        assert_eq!(
            parse("unix:///run/s.sock").ok(),
            Some(Target::Unix("/run/s.sock".into()))
        );
        assert!(matches!(parse("https://h:1"), Ok(Target::Https(_))));
        assert!(matches!(parse(" http://h:1 "), Ok(Target::Http(u)) if u == "http://h:1"));
        assert!(parse("unix:").is_err());
        assert!(parse("h:1").is_err());
    }

    #[test]
    fn certificate_problems_are_named() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let text = tls_failure(&io, Some(Path::new("ca.pem"))).unwrap_or_default();
        assert!(
            text.contains("not signed by a CA in the CA file ca.pem"),
            "{text}"
        );
        assert!(tls_failure(&std::io::Error::other("x"), None).is_none());
    }

    #[test]
    fn ca_files_are_checked_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = tls_config(Some(&missing)).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("cannot read the CA file"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = tls_config(Some(&empty)).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("holds no PEM certificate"));
    }
}
