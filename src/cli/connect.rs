//! Which server a CLI command talks to, and turning client errors into text
//! that says what to do.
use super::GlobalArgs;
use crate::client::{Client, Endpoint, Error};
use crate::config::{Config, DEFAULT_API_KEY_ENV};
use crate::server::{ServerConfig, DEFAULT_LISTEN};
use anyhow::Context;

/// The server a command talks to: `--endpoint`, `$SANDSCOPE_ENDPOINT` or the
/// profile; with none of them, the local `sandscope serve` on its default
/// address. Subcommands never start a server of their own: sandboxes would
/// vanish between commands.
pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Endpoint> {
    let ep = configured(global)?
        .unwrap_or_else(|| Endpoint::new(format!("http://{DEFAULT_LISTEN}"), None));
    with_local_token(ep)
}

/// The endpoint the configuration names, if any (`None`: the terminal UI
/// starts its embedded server).
pub fn configured(global: &GlobalArgs) -> anyhow::Result<Option<Endpoint>> {
    let cfg = Config::load(global.config.as_deref())?;
    cfg.endpoint(global.profile.as_deref(), global.endpoint.as_deref())?
        .map(with_local_token)
        .transpose()
}

/// A keyless loopback endpoint is a local `sandscope serve`: use its token.
fn with_local_token(mut ep: Endpoint) -> anyhow::Result<Endpoint> {
    if ep.api_key.is_none() && is_loopback(&ep.url) {
        ep.api_key = Some(local_token()?);
    }
    Ok(ep)
}

/// The token a local `sandscope serve` uses: `$SANDSCOPE_TOKEN`, else the one
/// stored in its data directory.
fn local_token() -> anyhow::Result<String> {
    let listen = DEFAULT_LISTEN
        .parse()
        .context("the default listen address is not an address")?;
    let cfg = ServerConfig::from_env(listen).context("cannot read the local server's token")?;
    Ok(cfg.token)
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
    let local = is_loopback(url);
    match &err {
        Error::Unavailable { endpoint, .. } if local => {
            let addr = endpoint
                .strip_prefix("http://")
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
             for a local server without either, its token ($SANDSCOPE_TOKEN, else the token file in \
             its data directory)"
        ),
        _ => anyhow::Error::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:7391"));
        assert!(is_loopback("http://localhost:1"));
        assert!(is_loopback("http://[::1]:5"));
        assert!(is_loopback("http://127.0.0.1"));
        assert!(!is_loopback("https://sandbox.example.com"));
        assert!(!is_loopback("http://10.0.0.1:7391"));
    }
}
