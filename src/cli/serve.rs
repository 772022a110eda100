//! `sandscope serve`: the local server, until Ctrl-C or SIGTERM.
use crate::config::DEFAULT_API_KEY_ENV;
use crate::server::{RuntimeChoice, Server, ServerConfig, DEFAULT_LISTEN};
use anyhow::Context;
use std::net::SocketAddr;
use std::process::ExitCode;

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
    let mut cfg = ServerConfig::from_env(args.listen).context("cannot prepare the server")?;
    if let Some(r) = args.runtime {
        cfg.runtime = r.into();
    }
    if let Some(r) = args.retention {
        cfg.retention = r;
    }
    let token_from = if std::env::var(TOKEN_ENV).is_ok_and(|t| !t.is_empty()) {
        format!("from ${TOKEN_ENV}")
    } else {
        format!("stored in {}", cfg.data_dir.join("token").display())
    };
    let chosen_host = cfg.runtime == RuntimeChoice::Host;
    let server = Server::start(cfg)
        .await
        .with_context(|| format!("cannot start the server on {}", args.listen))?;

    println!("sandscope server listening on {}", server.url());
    println!("token: {token_from}");
    println!("isolation: {}", server.isolation());
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
