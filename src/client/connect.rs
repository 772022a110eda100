//! Where the client's connection comes from: endpoint parsing, TLS, the bearer
//! token on every call, and message size limits.
use super::error::{Error, Result};
use super::status;
use crate::proto::v1::sandbox_service_client::SandboxServiceClient;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig};

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

/// How long to wait for the TCP (and TLS) handshake before calling the
/// server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a server is and how to authenticate to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://host:port` (cleartext HTTP/2) or `https://host[:port]` (TLS).
    pub url: String,
    /// Sent as `authorization: Bearer <key>` on every call.
    pub api_key: Option<String>,
    pub buffering: Buffering,
}

impl Endpoint {
    pub fn new(url: impl Into<String>, api_key: Option<String>) -> Self {
        Self {
            url: url.into(),
            api_key,
            buffering: Buffering::default(),
        }
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
    let tls = if url.starts_with("https://") {
        true
    } else if url.starts_with("http://") {
        false
    } else {
        return Err(Error::InvalidArgument(format!(
            "endpoint {url:?} must start with http:// or https://"
        )));
    };
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
    let mut ep = tonic::transport::Endpoint::from_shared(url.to_string())
        .map_err(|e| {
            Error::InvalidArgument(format!("endpoint {url:?}: {}", status::error_chain(&e)))
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(endpoint.buffering.windows().0)
        .initial_connection_window_size(endpoint.buffering.windows().1)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    if tls {
        ep = ep
            .tls_config(ClientTlsConfig::new().with_native_roots())
            .map_err(|e| status::from_transport(&e, url))?;
    }
    let channel = ep
        .connect()
        .await
        .map_err(|e| status::from_transport(&e, url))?;
    Ok(
        SandboxServiceClient::with_interceptor(channel, Auth { header })
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
}
