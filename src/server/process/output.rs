//! Reading a process's output (a pipe or a terminal master) in chunks of
//! whatever is ready. A buffer is allocated only once output is there, and
//! only as large as what is there: a quiet process holds no buffer at all,
//! a busy one hands over up to [`MAX_CHUNK`] per read.
use bytes::{Bytes, BytesMut};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Largest chunk taken in one read, so one gRPC message: what a pipe
/// holds by default. Larger reads were measured to cost more than they
/// save (fresh large buffers fault their pages in, on the server and in
/// the client's decoder) and let a backed-up stream park more of its
/// output in server memory instead of in its pipe.
pub const MAX_CHUNK: usize = 64 << 10;

/// One output stream of a process, read without blocking a thread.
pub struct Output {
    fd: AsyncFd<OwnedFd>,
}

impl Output {
    /// The read end of a pipe (in whatever blocking mode it came).
    pub fn pipe(fd: OwnedFd) -> io::Result<Output> {
        Self::new(fd)
    }

    /// A terminal master (a descriptor of its own, see `Pty::master`).
    pub fn terminal(fd: OwnedFd) -> io::Result<Output> {
        Self::new(fd)
    }

    fn new(fd: OwnedFd) -> io::Result<Output> {
        set_nonblocking(fd.as_raw_fd())?;
        // SAFETY: an OwnedFd keeps its descriptor open and unchanged for as
        // long as the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Output { fd })
    }

    /// The descriptor, to watch it in an epoll set of one's own.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.get_ref().as_fd()
    }

    /// Waits until output (or its end) may be there. Holds nothing
    /// meanwhile. Only the tests wait on one stream alone; the reader
    /// watches all of a process's streams in one set.
    #[cfg(test)]
    pub async fn ready(&self) -> io::Result<()> {
        let mut guard = self.fd.readable().await?;
        // The read that follows clears a readiness that turns out stale.
        guard.retain_ready();
        Ok(())
    }

    /// Takes what is ready, up to [`MAX_CHUNK`], without waiting.
    /// `Ok(None)` is the end of the output; `WouldBlock`: nothing is there.
    /// Reads the descriptor whatever Tokio last saw of it: the reader learns
    /// of output from an epoll set of its own, which Tokio's view of the
    /// descriptor may not have caught up with yet.
    pub fn try_read(&mut self) -> io::Result<Option<Bytes>> {
        let data = read_ready(self.fd.get_ref().as_raw_fd())?;
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(data))
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl on a descriptor the caller owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags == -1 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One read of everything ready (up to [`MAX_CHUNK`]) into a buffer of
/// that size. Empty at the end of the output, which for a terminal master
/// is EIO (every slave descriptor closed).
fn read_ready(fd: RawFd) -> io::Result<Bytes> {
    let mut ready: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `ready`.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut ready as *mut libc::c_int) };
    let ready = if r == -1 { 0 } else { ready.max(0) as usize };
    // At the end nothing is ready; one byte of room lets the read say so.
    let mut buf = BytesMut::with_capacity(ready.clamp(1, MAX_CHUNK));
    let room = buf.capacity().min(MAX_CHUNK);
    // SAFETY: reads at most `room` bytes into the buffer's spare capacity,
    // then marks exactly what the kernel wrote as initialised.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), room) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EIO) => Ok(Bytes::new()),
            _ => Err(e),
        };
    }
    // SAFETY: the kernel initialised the first `n` bytes.
    unsafe { buf.set_len(n as usize) };
    Ok(buf.freeze())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Write;

    /// A pipe whose read end is an `Output`, and its write end.
    pub(in crate::server::process) fn pipe() -> (Output, std::fs::File) {
        let (r, w) = nix::unistd::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
        let out = Output::pipe(r).unwrap_or_else(|e| panic!("output: {e}"));
        (out, std::fs::File::from(w))
    }

    #[tokio::test]
    async fn a_read_takes_exactly_what_is_ready_then_sees_the_end() {
        let (mut out, mut w) = pipe();
        let _ = w.write_all(b"hello ");
        let _ = w.write_all(b"world");
        assert!(out.ready().await.is_ok());
        let got = out.try_read().ok().flatten().unwrap_or_default();
        assert_eq!(&got[..], b"hello world");
        let nothing = out.try_read().map(|_| ()).map_err(|e| e.kind());
        assert_eq!(nothing, Err(io::ErrorKind::WouldBlock));
        drop(w);
        assert!(out.ready().await.is_ok());
        assert!(matches!(out.try_read(), Ok(None)));
    }

    #[tokio::test]
    async fn more_than_a_chunk_comes_in_chunks() {
        let (mut out, mut w) = pipe();
        // SAFETY: F_SETPIPE_SZ on a pipe this test owns.
        let grown = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 4 * MAX_CHUNK as i32) };
        assert!(grown >= 2 * MAX_CHUNK as i32, "F_SETPIPE_SZ: {grown}");
        let _ = w.write_all(&vec![7u8; MAX_CHUNK + 1000]);
        let mut sizes = Vec::new();
        for _ in 0..2 {
            assert!(out.ready().await.is_ok());
            let got = out.try_read().ok().flatten().unwrap_or_default();
            assert!(got.iter().all(|&b| b == 7));
            sizes.push(got.len());
        }
        assert_eq!(sizes, [MAX_CHUNK, 1000]);
    }
}
