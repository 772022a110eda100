//! Which server a CLI command talks to, and turning client errors into text
//! that says what to do.
use super::GlobalArgs;
use crate::client::{Client, Endpoint, Error};
use crate::config::{Config, DEFAULT_API_KEY_ENV};
use crate::server::local::{self, LocalError, LocalServer};
use crate::server::DEFAULT_LISTEN;
use anyhow::Context;
use std::path::Path;

/// The server a command talks to: `--endpoint`, `$SANDSCOPE_ENDPOINT` or the
/// profile; with none of them, the local `sandscope serve` through the
/// socket in its data directory (never over TCP, where anyone on this
/// machine could be listening). Subcommands never start a server of their
/// own: sandboxes would vanish between commands.
pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Endpoint> {
    match configured(global)? {
        Some(ep) => Ok(ep),
        None => local_endpoint(),
    }
}

/// The endpoint the configuration names, if any (`None`: the terminal UI
/// starts its embedded server). Nothing is created on disk for it.
pub fn configured(global: &GlobalArgs) -> anyhow::Result<Option<Endpoint>> {
    let cfg = Config::load(global.config.as_deref())?;
    let Some(mut ep) = cfg.endpoint(global.profile.as_deref(), global.endpoint.as_deref())? else {
        return Ok(None);
    };
    if let Some(ca) = &global.ca_file {
        ep.ca_file = Some(ca.clone());
    }
    if ep.api_key.is_none() {
        ep.api_key = local_key(&ep.url)?;
    }
    Ok(Some(ep))
}

/// The key for a keyless endpoint on this machine. `$SANDSCOPE_TOKEN` for
/// a loopback address or a socket; for a socket in a directory private to
/// this user, the token file beside it. The token file never goes to a
/// TCP port: whoever listens there may not be our server.
fn local_key(url: &str) -> anyhow::Result<Option<String>> {
    if let Some(t) = local::token_from_env() {
        if is_loopback(url) || unix_path(url).is_some() {
            return Ok(Some(t));
        }
        return Ok(None);
    }
    let Some(dir) = unix_path(url).and_then(Path::parent) else {
        return Ok(None);
    };
    if local::check_private_dir(dir).is_err() {
        return Ok(None);
    }
    match local::read_token(dir) {
        Ok(t) => Ok(Some(t)),
        Err(LocalError::NoServer { .. }) => Ok(None),
        Err(e) => Err(e).context("cannot use the token file beside the socket"),
    }
}

/// The local server's socket and token, checked and never created.
fn local_endpoint() -> anyhow::Result<Endpoint> {
    let data_dir = local::data_dir_from_env()?;
    match LocalServer::find(&data_dir, local::token_from_env()) {
        Ok(found) => Ok(Endpoint::new(
            format!("unix:{}", found.socket.display()),
            Some(found.token),
        )),
        Err(e @ LocalError::NoServer { .. }) => Err(anyhow::anyhow!(
            "{e}\nstart one with:\n    sandscope serve\n(or give an endpoint with --endpoint, \
             $SANDSCOPE_ENDPOINT or a profile)"
        )),
        Err(e) => Err(anyhow::Error::new(e).context("cannot use the local server's files")),
    }
}

fn unix_path(url: &str) -> Option<&Path> {
    let path = url.trim().strip_prefix("unix:")?;
    Some(Path::new(path.strip_prefix("//").unwrap_or(path)))
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Connects, explaining how to start the local server when nothing answers.
pub async fn connect(global: &GlobalArgs) -> anyhow::Result<Client> {
    let ep = resolve(global)?;
    let url = ep.url.clone();
    Client::connect(ep).await.map_err(|e| explain(&url, e))
}

/// Client errors as a person should read them, with a hint where one helps.
/// `url` is the server the error came from.
pub fn explain(url: &str, err: Error) -> anyhow::Error {
    // A server at its connection limit is running: no advice to start one.
    let nobody_there = matches!(&err, Error::Unavailable { message, .. } if !message.contains("too many connections"));
    match &err {
        Error::Unavailable { endpoint, .. } if nobody_there && unix_path(url).is_some() => anyhow::anyhow!(
            "{err}\nno sandscope server is answering on {endpoint}; start one with:\n    sandscope serve"
        ),
        Error::Unavailable { endpoint, .. } if nobody_there && is_loopback(url) => {
            let addr = endpoint
                .strip_prefix("http://")
                .or_else(|| endpoint.strip_prefix("https://"))
                .unwrap_or(endpoint)
                .trim_end_matches('/');
            let listen = if addr == DEFAULT_LISTEN {
                String::new()
            } else {
                format!(" --listen {addr}")
            };
            anyhow::anyhow!(
                "{err}\nno sandscope server is answering at {endpoint}; start one with:\n    sandscope serve{listen}"
            )
        }
        Error::Unauthenticated(_) => anyhow::anyhow!(
            "{err}\nthe key sent is the profile's api_key or api_key_env, else ${DEFAULT_API_KEY_ENV}; \
             for a server on this machine without either, $SANDSCOPE_TOKEN, or the token file in \
             its data directory when it is reached through its socket"
        ),
        _ => anyhow::Error::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_loopback, unix_path};
    use std::path::Path;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:7391"));
        assert!(is_loopback("http://localhost:1"));
        assert!(is_loopback("http://[::1]:5"));
        assert!(is_loopback("http://127.0.0.1"));
        assert!(!is_loopback("https://sandbox.example.com"));
        assert!(!is_loopback("http://10.0.0.1:7391"));
    }

    #[test]
    fn socket_urls() {
        assert_eq!(unix_path("unix:/a/s.sock"), Some(Path::new("/a/s.sock")));
        assert_eq!(unix_path("unix:///a/s.sock"), Some(Path::new("/a/s.sock")));
        assert_eq!(unix_path("http://127.0.0.1:1"), None);
    }
}
