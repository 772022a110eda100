//! The in-process server, seen from the UI. The entry point starts it (the
//! UI never depends on the server's code) and hands it over behind this
//! small interface; the UI talks to it through the client like to any
//! remote server, and only quitting needs to know it is there (to say how
//! many sandboxes still run, and to stop them).
use futures::future::BoxFuture;

use super::app::ActiveCount;
use crate::client::Endpoint;

/// A server this process runs for the UI.
pub trait EmbeddedServer: Send + Sync {
    /// Where the client connects, with the key it needs.
    fn endpoint(&self) -> Endpoint;
    /// How its sandboxes are isolated (`bubblewrap`, `host`), for the header.
    fn isolation(&self) -> &'static str;
    /// Sandboxes that still run.
    fn active(&self) -> BoxFuture<'_, usize>;
    /// Stops its sandboxes and the server.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

impl ActiveCount for Box<dyn EmbeddedServer> {
    async fn active(&self) -> usize {
        EmbeddedServer::active(self.as_ref()).await
    }
}
