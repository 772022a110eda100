//! One accepted connection as the gRPC server sees it: TCP, TLS over TCP or
//! a Unix socket, holding its slot under the connection cap, and closed when
//! it has not sent a first request by its deadline.
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

/// Who is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix,
}

/// Put into every request's extensions by tonic (see `Connected`); the
/// [`super::MarkServedLayer`] uses it to lift the connection's deadline.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: Peer,
    served: Arc<AtomicBool>,
}

impl ConnInfo {
    pub(super) fn mark_served(&self) {
        if !self.served.load(Ordering::Relaxed) {
            self.served.store(true, Ordering::Relaxed);
        }
    }
}

/// A stream that fails its reads and writes once `deadline` passes, unless
/// a first request arrived before. The check costs one flag load per read
/// or write call until then, and nothing after.
pub(super) struct Deadline<S> {
    inner: S,
    deadline: Option<Pin<Box<Sleep>>>,
    served: Arc<AtomicBool>,
}

impl<S> Deadline<S> {
    pub(super) fn new(inner: S, timeout: Duration) -> (Self, Arc<AtomicBool>) {
        let served = Arc::new(AtomicBool::new(false));
        let d = Deadline {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            served: served.clone(),
        };
        (d, served)
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(sleep) = self.deadline.as_mut() else {
            return false;
        };
        if self.served.load(Ordering::Relaxed) {
            self.deadline = None;
            return false;
        }
        sleep.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "no request arrived within the handshake timeout",
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    // hyper writes frames as vectors; without these it would copy them into
    // one buffer first.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.expired(cx) {
            return Poll::Ready(Err(timed_out()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

pub(super) type TlsStream = tokio_rustls::server::TlsStream<Deadline<TcpStream>>;

pub(super) enum Io {
    Tcp(Deadline<TcpStream>),
    Tls(Box<TlsStream>),
    Unix(Deadline<UnixStream>),
}

/// What the incoming stream yields to tonic.
pub struct Conn {
    io: Io,
    info: ConnInfo,
    /// Frees the slot under the connection cap when hyper drops the
    /// connection.
    _slot: OwnedSemaphorePermit,
}

impl Conn {
    pub(super) fn new(
        io: Io,
        peer: Peer,
        served: Arc<AtomicBool>,
        slot: OwnedSemaphorePermit,
    ) -> Conn {
        Conn {
            io,
            info: ConnInfo { peer, served },
            _slot: slot,
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

macro_rules! each_io {
    ($self:ident, $s:ident => $e:expr) => {
        match &mut $self.get_mut().io {
            Io::Tcp($s) => $e,
            Io::Tls($s) => $e,
            Io::Unix($s) => $e,
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_io!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_io!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_io!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Tcp(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
            Io::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_io!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_io!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Lifts a connection's handshake deadline at its first request. Set on
/// the tonic server builder; costs one extension lookup per request.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkServedLayer;

impl<S> tower::Layer<S> for MarkServedLayer {
    type Service = MarkServed<S>;

    fn layer(&self, inner: S) -> MarkServed<S> {
        MarkServed(inner)
    }
}

#[derive(Debug, Clone)]
pub struct MarkServed<S>(S);

impl<S, B> tower::Service<http::Request<B>> for MarkServed<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if let Some(info) = req.extensions().get::<ConnInfo>() {
            info.mark_served();
        }
        self.0.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn deadline_fails_an_idle_stream_unless_served() {
        let t = Duration::from_millis(100);
        let (a, _b) = tokio::io::duplex(64);
        let (mut idle, _) = Deadline::new(a, t);
        let mut buf = [0u8; 8];
        let started = std::time::Instant::now();
        let e = idle.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= t);

        let (a, mut c) = tokio::io::duplex(64);
        let (mut served, flag) = Deadline::new(a, t);
        flag.store(true, Ordering::Relaxed);
        tokio::time::sleep(t * 2).await;
        c.write_all(b"hi").await.unwrap();
        assert_eq!(served.read(&mut buf).await.unwrap(), 2);
    }
}
