//! Where the client's connection comes from: the endpoint, the channel
//! settings, the bearer token on every call, and message size limits.
use super::error::{Error, Result};
use super::status;
use super::transport::{self, Target};
use crate::proto::v1::sandbox_service_client::SandboxServiceClient;
use std::path::PathBuf;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The client allows this much per message each way, like the Python client;
/// tonic's 4 MiB default is too small for file transfers.
pub(crate) const MAX_MESSAGE_SIZE: usize = 100 << 20;

/// How much of what the server sends (output, files) may be on its way to
/// this client, per stream and per connection (HTTP/2 flow-control windows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Buffering {
    /// Large windows (8 MiB per stream, 32 MiB per connection), above
    /// hyper's 2 MiB / 5 MiB: output a busy server has ready moves to the
    /// reader instead of waiting in the server's memory. For transfers and
    /// many parallel commands.
    #[default]
    Bulk,
    /// Small windows (1 MiB per stream, 4 MiB per connection): a reader
    /// that shows output to a person holds little of it in flight, and a
    /// flood slows the command down instead.
    Interactive,
}

impl Buffering {
    /// (per stream, per connection) in bytes.
    fn windows(self) -> (u32, u32) {
        match self {
            Buffering::Bulk => (8 << 20, 32 << 20),
            Buffering::Interactive => (1 << 20, 4 << 20),
        }
    }
}

/// Largest HTTP/2 frame the server may send this client. Output arrives
/// in frames of up to this much instead of HTTP/2's default 16 KiB, so a
/// stream of output costs each end a sixty-fourth of the frames (and,
/// on the server, of the socket writes).
const MAX_FRAME: u32 = 1 << 20;

/// How long to wait for the TCP (or Unix socket) connection and the TLS
/// handshake before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a server is and how to authenticate to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://host:port` (cleartext HTTP/2), `https://host[:port]` (TLS)
    /// or `unix:/path/to/socket` (cleartext HTTP/2 over a Unix socket).
    pub url: String,
    /// Sent as `authorization: Bearer <key>` on every call.
    pub api_key: Option<String>,
    pub buffering: Buffering,
    /// For `https://`: trust only the CA certificates in this PEM file
    /// instead of the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl Endpoint {
    pub fn new(url: impl Into<String>, api_key: Option<String>) -> Self {
        Self {
            url: url.into(),
            api_key,
            buffering: Buffering::default(),
            ca_file: None,
        }
    }

    pub fn with_ca_file(mut self, ca_file: Option<PathBuf>) -> Self {
        self.ca_file = ca_file;
        self
    }

    pub fn with_buffering(mut self, buffering: Buffering) -> Self {
        self.buffering = buffering;
        self
    }
}

/// Adds the bearer token to every request.
#[derive(Clone)]
pub(crate) struct Auth {
    header: Option<MetadataValue<Ascii>>,
}

impl tonic::service::Interceptor for Auth {
    fn call(
        &mut self,
        mut req: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        if let Some(h) = &self.header {
            req.metadata_mut().insert("authorization", h.clone());
        }
        Ok(req)
    }
}

pub(crate) type Rpc = SandboxServiceClient<InterceptedService<Channel, Auth>>;

/// Opens the channel and builds the generated client around it.
pub(crate) async fn open(endpoint: &Endpoint) -> Result<Rpc> {
    let url = endpoint.url.trim();
    let target = transport::parse(url)?;
    let ca_file = endpoint.ca_file.as_deref();
    if ca_file.is_some() && !matches!(target, Target::Https(_)) {
        return Err(Error::InvalidArgument(format!(
            "a CA file is for https:// endpoints, not {url:?}"
        )));
    }
    let header = match &endpoint.api_key {
        Some(key) if !key.is_empty() => Some(
            format!("Bearer {key}")
                .parse::<MetadataValue<Ascii>>()
                .map_err(|_| {
                    Error::InvalidArgument(
                        "the API key contains characters not allowed in a header".into(),
                    )
                })?,
        ),
        _ => None,
    };
    // Over a socket the URL only fills in the :authority header.
    let http_url = match &target {
        Target::Unix(_) => "http://localhost",
        Target::Http(u) | Target::Https(u) => u.as_str(),
    };
    let mut ep = tonic::transport::Endpoint::from_shared(http_url.to_string())
        .map_err(|e| {
            Error::InvalidArgument(format!("endpoint {url:?}: {}", status::error_chain(&e)))
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(endpoint.buffering.windows().0)
        .initial_connection_window_size(endpoint.buffering.windows().1)
        .max_frame_size(MAX_FRAME)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    let failed = |e: tonic::transport::Error| match transport::tls_failure(&e, ca_file) {
        Some(message) => Error::Tls {
            endpoint: url.to_string(),
            message,
        },
        None => status::from_transport(&e, url),
    };
    let channel = match target {
        Target::Unix(path) => {
            let connector = tower::service_fn(move |_: http::Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                }
            });
            ep.connect_with_connector(connector).await.map_err(failed)?
        }
        Target::Https(_) => {
            ep = ep
                .tls_config(transport::tls_config(ca_file)?)
                .map_err(failed)?;
            ep.connect().await.map_err(failed)?
        }
        Target::Http(_) => ep.connect().await.map_err(failed)?,
    };
    Ok(
        SandboxServiceClient::with_interceptor(channel, Auth { header })
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
}
