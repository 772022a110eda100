//! The answer to a connection over the cap: an HTTP/2 GOAWAY that refuses
//! every stream, so a gRPC client fails with UNAVAILABLE and a reason
//! instead of a bare reset.
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

/// Refusals in progress at once; past that, excess connections are closed
/// without an answer, so refusing costs a bounded number of descriptors.
pub(super) const MAX_REFUSING: usize = 64;
/// How long a refusal may take (write the frames, wait for the peer to
/// close). Closing with the peer's bytes unread would reset the connection
/// and could destroy the GOAWAY before the peer reads it.
const REFUSE_TIME: Duration = Duration::from_secs(1);
/// HTTP/2 error code REFUSED_STREAM: nothing was processed, safe to retry.
const REFUSED_STREAM: u32 = 0x7;

/// An empty SETTINGS frame (the server's connection preface) followed by a
/// GOAWAY with last-stream-id 0, REFUSED_STREAM and `reason` as debug data.
pub(super) fn goaway_frames(reason: &str) -> Vec<u8> {
    let debug = reason.as_bytes();
    let len = 8 + debug.len();
    let mut f = Vec::with_capacity(9 + 9 + len);
    f.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    let len = u32::try_from(len).unwrap_or(u32::MAX).min(0x3f_ffff);
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.extend_from_slice(&[0x7, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&0u32.to_be_bytes());
    f.extend_from_slice(&REFUSED_STREAM.to_be_bytes());
    f.extend_from_slice(debug);
    f
}

/// Refuses `io` in a task of its own, if fewer than [`MAX_REFUSING`] are
/// already under way; otherwise just closes it.
pub(super) fn refuse<S>(io: S, frames: Arc<[u8]>, refusing: &Arc<Semaphore>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut io = io;
        let _ = tokio::time::timeout(REFUSE_TIME, async {
            io.write_all(&frames).await?;
            io.shutdown().await?;
            let mut sink = [0u8; 1024];
            while io.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goaway_is_well_formed() {
        let f = goaway_frames("full");
        assert_eq!(&f[..9], &[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        let g = &f[9..];
        assert_eq!(&g[..3], &[0, 0, 12]);
        assert_eq!(g[3], 7, "GOAWAY");
        assert_eq!(&g[5..9], &[0, 0, 0, 0], "connection stream");
        assert_eq!(&g[9..13], &[0, 0, 0, 0], "last stream id");
        assert_eq!(&g[13..17], &[0, 0, 0, 7], "REFUSED_STREAM");
        assert_eq!(&g[17..], b"full");
    }
}
