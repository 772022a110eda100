//! Shared by the integration tests: a real server on 127.0.0.1:0 with its own
//! data directory and a fixed token, and a client connected to it.
#![allow(dead_code)]

pub mod cli;
pub mod http;
pub mod tmux;

use sandscope::client::{Client, Endpoint, ExecOptions, ExecResult, SandboxRequest};
use sandscope::server::{RuntimeChoice, Server, ServerConfig};

pub const TOKEN: &str = "test-token-0123456789";

pub struct TestServer {
    /// `None` only after `shutdown`.
    pub server: Option<Server>,
    pub client: Client,
    pub url: String,
    pub data_dir: tempfile::TempDir,
}

/// Fails the test with a message instead of a bare unwrap panic.
#[track_caller]
pub fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

impl TestServer {
    /// Starts a server (runtime `auto`: bubblewrap where it works) and
    /// connects a client with the right token. Returns once it listens.
    pub async fn start() -> TestServer {
        let (server, data_dir) = start_server(test_runtime()).await;
        let url = server.url();
        let client = ok(
            Client::connect(Endpoint::new(url.clone(), Some(TOKEN.to_string()))).await,
            "connect",
        );
        TestServer {
            server: Some(server),
            client,
            url,
            data_dir,
        }
    }

    /// A running sandbox with the default image and keep-alive command.
    pub async fn sandbox(&self) -> String {
        ok(
            self.client.run(SandboxRequest::default()).await,
            "run sandbox",
        )
        .id
    }

    /// Runs `argv` to completion and returns its result.
    pub async fn exec(&self, id: &str, argv: &[&str]) -> ExecResult {
        self.exec_with(id, argv, ExecOptions::default()).await
    }

    pub async fn exec_with(&self, id: &str, argv: &[&str], opts: ExecOptions) -> ExecResult {
        let p = ok(self.client.exec(id, &args(argv), opts).await, "exec");
        ok(p.result().await, "result")
    }

    /// A client with another (or no) token, for auth tests.
    pub async fn client_with_key(&self, key: Option<&str>) -> Client {
        ok(
            Client::connect(Endpoint::new(self.url.clone(), key.map(str::to_string))).await,
            "connect",
        )
    }

    pub async fn shutdown(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// A server on 127.0.0.1:0 with the test token and a fresh data directory,
/// returned once it listens. The directory is outside /tmp (which sandboxes
/// get a fresh copy of), so it is on the host view and must be masked.
pub async fn start_server(runtime: RuntimeChoice) -> (Server, tempfile::TempDir) {
    let data_dir = ok(
        tempfile::Builder::new()
            .prefix("sandscope-test-")
            .tempdir_in("/var/tmp")
            .or_else(|_| tempfile::tempdir()),
        "temp dir",
    );
    let cfg = ServerConfig {
        dns_upstream: Some(NO_RESOLVER),
        ..ServerConfig::new(
            ok("127.0.0.1:0".parse(), "addr"),
            data_dir.path().to_path_buf(),
            TOKEN.to_string(),
            runtime,
        )
    };
    (ok(Server::start(cfg).await, "start server"), data_dir)
}

/// The upstream resolver of test servers: the discard port of this
/// machine's loopback, where nothing answers. Tests grant host names but
/// never resolve one through it, and a mistake would not send a query
/// beyond this machine.
pub const NO_RESOLVER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

/// `auto` (bubblewrap where it works), or the host runtime with
/// `SANDSCOPE_TEST_RUNTIME=host`, to cover it on machines that have bwrap.
pub fn test_runtime() -> RuntimeChoice {
    match std::env::var("SANDSCOPE_TEST_RUNTIME").as_deref() {
        Ok("host") => RuntimeChoice::Host,
        Ok("bubblewrap") => RuntimeChoice::Bubblewrap,
        _ => RuntimeChoice::Auto,
    }
}

pub fn args(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| s.to_string()).collect()
}

/// Polls `cond` (an exec in the sandbox, a request, ...) until it holds,
/// failing the test after 30 s.
pub async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
