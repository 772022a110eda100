//! The server `sandscope` without a subcommand starts for its terminal UI
//! when no endpoint is configured. It lives here, at the entry point, so
//! that the UI depends on the client and a small interface only, never on
//! the server's code.
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use futures::future::BoxFuture;

use crate::client::Endpoint;
use crate::server::{Server, ServerConfig};
use crate::tui::EmbeddedServer;

struct Embedded {
    server: Server,
}

/// Starts on a free loopback port, data dir and token as `ServerConfig::from_env`.
pub async fn start() -> anyhow::Result<Box<dyn EmbeddedServer>> {
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let cfg = ServerConfig::from_env(listen).context("cannot configure the embedded server")?;
    let server = Server::start(cfg)
        .await
        .context("cannot start the embedded server")?;
    tracing::info!(url = %server.url(), isolation = server.isolation(), "embedded server started");
    Ok(Box::new(Embedded { server }))
}

impl EmbeddedServer for Embedded {
    fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.server.url(), Some(self.server.token().to_string()))
    }

    fn isolation(&self) -> &'static str {
        self.server.isolation()
    }

    fn active(&self) -> BoxFuture<'_, usize> {
        Box::pin(self.server.active_sandboxes())
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.server.shutdown())
    }
}
