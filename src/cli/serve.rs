//! `sandscope serve`: the local server, until Ctrl-C or SIGTERM.
use crate::config::DEFAULT_API_KEY_ENV;
use crate::server::{
    LimitsEnforced, PublishConfig, RuntimeChoice, Server, ServerConfig, TlsFiles, DEFAULT_LISTEN,
};
use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The variable the server reads its token from (else its data directory).
const TOKEN_ENV: &str = "SANDSCOPE_TOKEN";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// How sandboxes are isolated: bubblewrap when it works (auto), always
    /// bubblewrap, or plain host processes (no isolation). Default: auto,
    /// or $SANDSCOPE_RUNTIME.
    #[arg(long, value_enum)]
    pub runtime: Option<Runtime>,
    /// How long a finished sandbox's record stays, e.g. 90m, 24h, 7d.
    /// Default: 24h.
    #[arg(long, value_name = "DURATION", value_parser = super::args::duration)]
    pub retention: Option<std::time::Duration>,
    /// Largest file-system snapshot (its files' bytes), e.g. 512Mi, 10Gi.
    /// Default: 4Gi.
    #[arg(long, value_name = "SIZE", value_parser = crate::server::limits::quantity::memory_bytes)]
    pub snapshot_max_size: Option<u64>,
    /// Serve TLS on the TCP port with this certificate chain (PEM); needs
    /// --tls-key. The local socket stays cleartext.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Connections served at once on the TCP port (and, separately, on the
    /// local socket); calls on more are answered UNAVAILABLE. Default:
    /// 4096, or a quarter of the open-file limit if that is lower.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Time a new connection has to send its first request (TLS handshake
    /// included) before it is closed, e.g. 10s or 500ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          default_value = "10s")]
    pub handshake_timeout: Duration,
    /// Ping a connection silent for this long, and drop it if the ping is
    /// not answered (0 turns pings off).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          default_value = "30s")]
    pub keepalive_interval: Duration,
    /// How long a keepalive ping may go unanswered before the connection
    /// is dropped.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "20s")]
    pub keepalive_timeout: Duration,
    /// The DNS server (IP, or IP:PORT) that resolves the host names
    /// sandboxes are granted egress to. Default: the first name server in
    /// /etc/resolv.conf.
    #[arg(long, value_name = "ADDR", value_parser = parse_resolver)]
    pub dns_upstream: Option<SocketAddr>,
    /// Address sandboxes' PUBLIC services are published on, each on a port
    /// of its own (PRIVATE ones stay on loopback). Default: 127.0.0.1, so
    /// only this machine reaches them; 0.0.0.0 or an interface's address
    /// exposes them further.
    #[arg(long, value_name = "ADDR")]
    pub publish_addr: Option<IpAddr>,
}

/// "10.0.0.53", "10.0.0.53:5353" or "[fd00::53]:53".
fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("{text:?} is not an address (IP or IP:PORT)"))
}

/// "10s", "500ms", "2m", or bare seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 10s, 500ms)"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("unknown unit {unit:?} in {text:?}; use ms, s or m")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    Auto,
    Bubblewrap,
    Host,
}

impl From<Runtime> for RuntimeChoice {
    fn from(r: Runtime) -> Self {
        match r {
            Runtime::Auto => RuntimeChoice::Auto,
            Runtime::Bubblewrap => RuntimeChoice::Bubblewrap,
            Runtime::Host => RuntimeChoice::Host,
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.handshake_timeout.is_zero() || args.keepalive_timeout.is_zero() {
        anyhow::bail!("--handshake-timeout and --keepalive-timeout must be more than 0");
    }
    let mut cfg = ServerConfig::from_env(args.listen)
        .context("cannot prepare the server")?
        .with_local_socket();
    if let Some(r) = args.runtime {
        cfg.runtime = r.into();
    }
    if let Some(r) = args.retention {
        cfg.retention = r;
    }
    if let Some(n) = args.snapshot_max_size {
        cfg.snapshot_max_bytes = n;
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        cfg.tls = Some(TlsFiles { cert, key });
    }
    cfg.limits.max_connections = args.max_connections.map(|n| n as usize);
    cfg.limits.handshake_timeout = args.handshake_timeout;
    cfg.limits.keepalive_interval = Some(args.keepalive_interval).filter(|d| !d.is_zero());
    cfg.limits.keepalive_timeout = args.keepalive_timeout;
    cfg.dns_upstream = args.dns_upstream;
    if let Some(public) = args.publish_addr {
        // Said now rather than at the first sandbox with a service.
        std::net::TcpListener::bind((public, 0)).with_context(|| {
            format!("--publish-addr {public}: services cannot be published there")
        })?;
        cfg.publish = PublishConfig { public };
    }
    let token_from = if std::env::var(TOKEN_ENV).is_ok_and(|t| !t.is_empty()) {
        format!("from ${TOKEN_ENV}")
    } else {
        format!("stored in {}", cfg.data_dir.join("token").display())
    };
    let chosen_host = cfg.runtime == RuntimeChoice::Host;
    let public_services = cfg.publish.public;
    let server = Server::start(cfg)
        .await
        .with_context(|| format!("cannot start the server on {}", args.listen))?;

    println!("sandscope server listening on {}", server.url());
    println!("token: {token_from}");
    println!("isolation: {}", server.isolation());
    println!("public services published on: {public_services}");
    if let Some(socket) = server.socket_path() {
        println!("local socket: {}", socket.display());
    }
    if server.isolation() != "bubblewrap" {
        eprintln!();
        eprintln!("WARNING: sandboxes run as plain host processes with NO ISOLATION.");
        eprintln!("WARNING: anything executed in them can read and change this machine as you.");
        if chosen_host {
            eprintln!("WARNING: chosen with --runtime host; leave it out to use bubblewrap.");
        } else {
            eprintln!("WARNING: install bubblewrap (bwrap) for isolated sandboxes.");
        }
        eprintln!();
    }
    match server.limits() {
        LimitsEnforced::All => println!("resource limits: enforced (cgroups)"),
        LimitsEnforced::Partly(missing) => {
            println!("resource limits: enforced (cgroups)");
            eprintln!(
                "WARNING: {} limits are NOT ENFORCED here.",
                missing.join(", ")
            );
        }
        LimitsEnforced::No(why) => {
            eprintln!();
            eprintln!("WARNING: resource limits (memory, processes, CPU) are NOT ENFORCED: {why}.");
            eprintln!("WARNING: a sandbox can use all of this machine's memory and processes.");
            eprintln!();
        }
    }
    println!(
        "Python client: CWSANDBOX_BASE_URL={} {DEFAULT_API_KEY_ENV}=<token>",
        server.url()
    );
    println!("Press Ctrl-C to stop.");
    tracing::info!(url = %server.url(), isolation = server.isolation(), "serving");

    wait_for_shutdown_signal().await;
    eprintln!(
        "stopping {} sandbox(es)...",
        server.active_sandboxes().await
    );
    server.shutdown().await;
    tracing::info!("server stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::transport::{
        DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT,
    };
    use clap::Parser;

    #[test]
    fn flag_defaults_are_the_servers() {
        let cli = crate::cli::Cli::parse_from(["sandscope", "serve"]);
        let Some(crate::cli::Command::Serve(args)) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(args.keepalive_interval, DEFAULT_KEEPALIVE_INTERVAL);
        assert_eq!(args.keepalive_timeout, DEFAULT_KEEPALIVE_TIMEOUT);
        assert_eq!(args.max_connections, None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn resolvers_take_a_default_port() {
        assert_eq!(
            parse_resolver("10.0.0.53"),
            Ok("10.0.0.53:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("10.0.0.53:5353"),
            Ok("10.0.0.53:5353".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("fd00::53"),
            Ok("[fd00::53]:53".parse().unwrap())
        );
        assert!(parse_resolver("dns.example.com").is_err());
    }
}
