//! A pseudo-terminal for `tty=true` execs: the child gets the slave as its
//! controlling terminal; the server reads and writes the master without
//! blocking a thread.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncWrite;

pub struct Pty {
    master: AsyncFd<OwnedFd>,
    slave: std::sync::Mutex<Option<OwnedFd>>,
}

fn winsize(cols: u16, rows: u16) -> nix::pty::Winsize {
    nix::pty::Winsize {
        ws_row: if rows == 0 { 24 } else { rows },
        ws_col: if cols == 0 { 80 } else { cols },
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    pub fn open(cols: u16, rows: u16) -> io::Result<Pty> {
        let ws = winsize(cols, rows);
        let r = nix::pty::openpty(Some(&ws), None).map_err(io::Error::from)?;
        let fd = r.master.as_raw_fd();
        // SAFETY: plain fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags == -1 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == -1 {
                return Err(io::Error::last_os_error());
            }
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        // SAFETY: an OwnedFd keeps its descriptor open and unchanged for
        // as long as the AsyncFd owns it.
        let master = unsafe { AsyncFd::register(r.master) }.map_err(io::Error::from)?;
        Ok(Pty {
            master,
            slave: std::sync::Mutex::new(Some(r.slave)),
        })
    }

    /// The slave side, for the child's stdio. It is given away: once the
    /// child has its copies and this one is dropped, the master sees EOF
    /// when the child exits.
    pub fn take_slave(&self) -> io::Result<OwnedFd> {
        self.slave
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| io::Error::other("terminal already attached"))
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let ws = winsize(cols, rows);
        // SAFETY: TIOCSWINSZ reads a winsize struct that lives on our stack.
        unsafe {
            libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws as *const _);
        }
    }

    /// A second descriptor of the master for the output reader, which
    /// registers it with the reactor on its own.
    pub fn master(&self) -> io::Result<OwnedFd> {
        self.master.get_ref().try_clone()
    }

    pub fn writer(self: &Arc<Self>) -> PtyIo {
        PtyIo(self.clone())
    }
}

/// Async writes into the master (the terminal's input).
pub struct PtyIo(Arc<Pty>);

impl AsyncWrite for PtyIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.master.poll_write_ready(cx))?;
            let res = guard.try_io(|fd| {
                // SAFETY: writing from a valid slice.
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match res {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// A terminal has no half-close; EOF is the EOT character (Ctrl-D).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_write(cx, &[4]) {
            Poll::Ready(_) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}
