//! The in-process server used when no endpoint is configured. The UI talks
//! to it through the client like to any remote server; only quitting needs
//! to know it is there (to stop its sandboxes).
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;

use super::app::ActiveCount;
use crate::client::Endpoint;
use crate::server::{Server, ServerConfig};

pub struct Embedded {
    server: Server,
}

impl Embedded {
    /// Starts on a free loopback port, data dir and token as `ServerConfig::from_env`.
    pub async fn start() -> anyhow::Result<Embedded> {
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let cfg = ServerConfig::from_env(listen).context("cannot configure the embedded server")?;
        let server = Server::start(cfg)
            .await
            .context("cannot start the embedded server")?;
        tracing::info!(url = %server.url(), isolation = server.isolation(), "embedded server started");
        Ok(Embedded { server })
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.server.url(), Some(self.server.token().to_string()))
    }

    pub fn isolation(&self) -> &'static str {
        self.server.isolation()
    }

    pub async fn active_count(&self) -> usize {
        self.server.active_sandboxes().await
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

impl ActiveCount for Embedded {
    async fn active(&self) -> usize {
        self.active_count().await
    }
}
