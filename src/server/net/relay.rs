//! One relayed connection of a published service: wait until the sandbox
//! runs, open the connection to its port from inside the sandbox, and move
//! bytes both ways (half-closes included, so TLS close_notify and HTTP/1.0
//! bodies arrive whole) until either side is done.
use crate::proto::v1 as pb;
use crate::server::registry::Entry;
use crate::server::runtime::child::connect::{self, ConnectError, Loopback};
use crate::server::runtime::{Instance, Runtime};
use std::io;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a connection that arrives while the sandbox starts waits.
const START_WAIT: Duration = Duration::from_secs(60);
/// Bytes moved per read each way: bulk transfers run at several times the
/// speed of the default 8 KiB.
const BUFFER: usize = 64 << 10;
/// How long the connection inside may take to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Relay `client` to `port` of `entry`'s sandbox.
pub async fn relay(
    mut client: TcpStream,
    runtime: &dyn Runtime,
    entry: &Entry,
    port: u16,
) -> io::Result<()> {
    let mut state = entry.state_watch();
    let started = tokio::time::timeout(
        START_WAIT,
        state.wait_for(|s| {
            !matches!(
                s,
                pb::State::Creating | pb::State::Pending | pb::State::Preparing
            )
        }),
    )
    .await
    .ok()
    .and_then(|r| r.ok().map(|s| *s));
    if started != Some(pb::State::Running) {
        return Err(io::Error::other("the sandbox is not running"));
    }
    let instance = entry
        .instance()
        .ok_or_else(|| io::Error::other("the sandbox is not running"))?;
    let mut inside = dial(runtime, &instance, port).await?;
    let _ = client.set_nodelay(true);
    let _ = inside.set_nodelay(true);
    tokio::io::copy_bidirectional_with_sizes(&mut client, &mut inside, BUFFER, BUFFER).await?;
    Ok(())
}

/// A connection to `port` on the sandbox's loopback, IPv4 first, then
/// IPv6 (for a server that listens on `::1` only).
pub async fn dial(runtime: &dyn Runtime, instance: &Instance, port: u16) -> io::Result<TcpStream> {
    match dial_one(runtime, instance, Loopback::V4, port).await {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            dial_one(runtime, instance, Loopback::V6, port)
                .await
                .map_err(|_| e)
        }
        other => other,
    }
}

async fn dial_one(
    runtime: &dyn Runtime,
    instance: &Instance,
    loopback: Loopback,
    port: u16,
) -> io::Result<TcpStream> {
    let entry = runtime.file_entry(instance)?;
    let fd = connect::connect_in(entry, loopback, port, instance.thread.clone())
        .await
        .map_err(|e| match e {
            ConnectError::Io(e) => e,
            e @ ConnectError::Enter(_) => io::Error::other(e.to_string()),
        })?;
    let stream = TcpStream::from_std(std::net::TcpStream::from(fd))?;
    tokio::time::timeout(CONNECT_TIMEOUT, stream.writable())
        .await
        .map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, "the connection was not accepted")
        })??;
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    Ok(stream)
}
