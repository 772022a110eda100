//! The answer to a connection over the cap: a tiny HTTP/2 server that
//! answers every request with gRPC UNAVAILABLE and the reason, then says
//! GOAWAY. A gRPC client then fails with that reason instead of a bare
//! reset or a cancelled call.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, Semaphore};

/// Refusals in progress at once; past that, excess connections are closed
/// without an answer, so refusing costs a bounded number of descriptors
/// and tasks.
pub(super) const MAX_REFUSING: usize = 64;
/// How long a refused connection may stay: enough for a client that sends
/// its first request right away to read the answer.
const REFUSE_TIME: Duration = Duration::from_secs(1);
/// Requests a refused connection may have open at once.
const MAX_STREAMS: u32 = 8;
/// Header bytes a refused connection may send per request.
const MAX_HEADERS: u32 = 16 << 10;

/// Refuses `io` in a task of its own, if fewer than [`MAX_REFUSING`] are
/// already under way; otherwise just closes it.
pub(super) fn refuse<S>(io: S, reason: Arc<str>, refusing: &Arc<Semaphore>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let answered = Arc::new(Notify::new());
        let notify = answered.clone();
        let svc = hyper::service::service_fn(move |_req| {
            notify.notify_one();
            let status = tonic::Status::unavailable(reason.to_string());
            async move { Ok::<_, Infallible>(status.into_http::<tonic::body::Body>()) }
        });
        let mut builder =
            hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS)
            .max_header_list_size(MAX_HEADERS);
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), svc);
        let _ = tokio::time::timeout(REFUSE_TIME, async {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = answered.notified() => {}
            }
            // Answered: tell the client not to send more here.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        })
        .await;
    });
}
