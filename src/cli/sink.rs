//! A command's output onto our stdout and stderr, at the speed of the
//! descriptors. Tokio's stdout hands every write to its blocking pool and
//! needs a flush after each, a thread hop and a copy per chunk; here one
//! thread of our own writes the chunks with plain `writev` calls straight
//! to descriptors 1 and 2, nothing held in a buffer of ours, so a terminal
//! sees each chunk as soon as it arrives and a pipe gets large writes.
//! Chunks that arrive while a write is under way go out together in the
//! next one. The async side keeps serving the stream and the signals while
//! a slow reader of our output holds a write up.
use crate::client::{OutputChunk, OutputStream, StreamKind};
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use tokio::sync::{mpsc, oneshot};

/// Chunks (up to 64 KiB each) queued for the writer thread.
const QUEUE: usize = 16;
/// The most one write gathers.
const MAX_WRITE: usize = 1 << 20;
/// Our stdout pipe is grown to this where the system lets us: the reader
/// on the other end then wakes once per megabyte instead of per 64 KiB.
const PIPE_SIZE: libc::c_int = 1 << 20;

/// Writes each chunk to our stdout or stderr in the order they come. Fails
/// only when our stdout or stderr is gone (or cannot be written).
pub(crate) async fn copy_output(mut output: OutputStream) -> io::Result<()> {
    // A command with no output (the common `true`, `test`, `mkdir`) never
    // starts the thread.
    let Some(first) = output.next().await else {
        return Ok(());
    };
    let (tx, rx) = mpsc::channel::<OutputChunk>(QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            let _ = done_tx.send(write_all(rx));
        })?;
    let mut next = Some(first);
    while let Some(chunk) = next.take() {
        // The writer only stops early on a failed write, which it reports.
        if tx.send(chunk).await.is_err() {
            break;
        }
        next = output.next().await;
    }
    drop(tx);
    done_rx
        .await
        .unwrap_or_else(|_| Err(io::Error::other("the output writer stopped")))
}

fn write_all(mut rx: mpsc::Receiver<OutputChunk>) -> io::Result<()> {
    grow_pipe(libc::STDOUT_FILENO);
    let mut held: Option<OutputChunk> = None;
    let mut batch: Vec<bytes::Bytes> = Vec::new();
    loop {
        let Some(first) = held.take().or_else(|| rx.blocking_recv()) else {
            return Ok(());
        };
        let stream = first.stream;
        let mut size = first.data.len();
        batch.push(first.data);
        while size < MAX_WRITE {
            match rx.try_recv() {
                Ok(next) if next.stream == stream => {
                    size += next.data.len();
                    batch.push(next.data);
                }
                Ok(other) => {
                    held = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let fd = match stream {
            StreamKind::Stdout => libc::STDOUT_FILENO,
            StreamKind::Stderr => libc::STDERR_FILENO,
        };
        write_vectored_all(fd, &batch)?;
        batch.clear();
    }
}

/// Every byte of `bufs` to `fd`, in as few `writev` calls as it takes.
fn write_vectored_all(fd: RawFd, bufs: &[bytes::Bytes]) -> io::Result<()> {
    let mut out = standard(fd);
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match out.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A larger pipe when our stdout is one; anything else is left as it is.
fn grow_pipe(fd: RawFd) {
    let out = standard(fd);
    let is_pipe = out
        .metadata()
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
    if is_pipe {
        // SAFETY: F_GETPIPE_SZ/F_SETPIPE_SZ on our own stdout; a refusal
        // (over the system's pipe-max-size) leaves the pipe as it was.
        unsafe {
            if libc::fcntl(out.as_raw_fd(), libc::F_GETPIPE_SZ) < PIPE_SIZE {
                libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE);
            }
        }
    }
}

/// Descriptor 1 or 2 as a `File` that never closes it.
fn standard(fd: RawFd) -> ManuallyDrop<File> {
    // SAFETY: our standard descriptors stay open for the life of the
    // process; ManuallyDrop keeps the File from closing this one.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}
