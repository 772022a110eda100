//! Reads all output streams of one process in one task, in the order they
//! became readable. Two tasks, one per pipe, each read whatever its pipe
//! held whenever it happened to be scheduled, so a line on stderr could
//! overtake the stdout line printed before it. Here a private epoll set
//! (edge-triggered) reports each pipe when data arrives in it, in arrival
//! order; the pipes wait their turn in that order, and one with more than a
//! chunk to give goes to the back, so a flood on one cannot starve the other.
use super::output::{Output, MAX_CHUNK};
use super::Event;
use bytes::Bytes;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, watch};

/// An epoll set, watched by Tokio like any descriptor: it is readable
/// while one of its members is.
struct Set(Epoll);

impl AsRawFd for Set {
    fn as_raw_fd(&self) -> RawFd {
        self.0 .0.as_raw_fd()
    }
}

/// The streams of one process: (1 = stdout, 2 = stderr, the output).
pub struct Reader {
    set: AsyncFd<Set>,
    /// `None` once that stream has ended.
    sources: Vec<Option<(i32, Output)>>,
    /// Streams with data to read, in the order their data arrived.
    turns: VecDeque<usize>,
    /// Streams whose writers have all closed: read until their end, as no
    /// new edge will come to say it is there.
    hung_up: Vec<bool>,
}

impl Reader {
    pub fn new(sources: Vec<(i32, Output)>) -> io::Result<Reader> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        for (i, (_, out)) in sources.iter().enumerate() {
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLET;
            epoll.add(out.as_fd(), EpollEvent::new(flags, i as u64))?;
        }
        // SAFETY: `Set` owns the epoll descriptor, which stays open and
        // unchanged for as long as the AsyncFd holds it.
        let set = unsafe { AsyncFd::register_with_interest(Set(epoll), Interest::READABLE) }
            .map_err(io::Error::from)?;
        let hung_up = vec![false; sources.len()];
        Ok(Reader {
            set,
            sources: sources.into_iter().map(Some).collect(),
            turns: VecDeque::new(),
            hung_up,
        })
    }

    fn open(&self) -> bool {
        self.sources.iter().any(Option::is_some)
    }

    /// The stream whose turn it is, waiting until one has data.
    async fn next_ready(&mut self) -> io::Result<usize> {
        loop {
            // New arrivals queue up behind those already waiting.
            collect(&self.set, &mut self.turns, &mut self.hung_up)?;
            if let Some(&i) = self.turns.front() {
                return Ok(i);
            }
            let mut guard = self.set.readable().await?;
            if collect(&self.set, &mut self.turns, &mut self.hung_up)? == 0 {
                guard.clear_ready();
            }
        }
    }

    /// After a read of `got` bytes from stream `i`: a full chunk may leave
    /// more, so it waits again behind the others; so does a stream whose
    /// writers are gone, until a read finds its end (output and the hang-up
    /// often come in one event, and the end would otherwise wait for the
    /// drain grace after the exit). Otherwise it is drained.
    fn done_with(&mut self, i: usize, got: usize) {
        self.turns.retain(|t| *t != i);
        let hung_up = self.hung_up.get(i).copied().unwrap_or(false);
        if got >= MAX_CHUNK || (hung_up && got > 0) {
            self.turns.push_back(i);
        }
    }

    fn close(&mut self, i: usize) {
        self.turns.retain(|t| *t != i);
        if let Some((_, out)) = self.sources.get_mut(i).and_then(Option::take) {
            let _ = self.set.get_ref().0.delete(out.as_fd());
        }
    }
}

/// Queues the streams the set reports (without waiting); returns how many.
fn collect(
    set: &AsyncFd<Set>,
    turns: &mut VecDeque<usize>,
    hung_up: &mut [bool],
) -> io::Result<usize> {
    let mut events = [EpollEvent::empty(), EpollEvent::empty()];
    let n = set.get_ref().0.wait(&mut events, EpollTimeout::ZERO)?;
    for e in &events[..n] {
        let i = e.data() as usize;
        if e.events()
            .intersects(EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR)
        {
            if let Some(h) = hung_up.get_mut(i) {
                *h = true;
            }
        }
        if !turns.contains(&i) {
            turns.push_back(i);
        }
    }
    Ok(n)
}

/// A read this small with at most this many lines in it is output at a
/// human rate (a prompt, a progress line, lines echoed as they are typed):
/// it goes out a line per message. Clients hand each message to their
/// caller as one item (the Python client's `for line in process.stdout`),
/// so two lines that happened to be in the pipe together must not reach it
/// as one. Larger reads are a flood and stay one message each.
const LINES_MAX_BYTES: usize = 4 << 10;
const LINES_MAX_COUNT: usize = 16;

/// The messages one read becomes: a line each when it holds a few short
/// lines, else the read whole. What follows the last newline (a line not
/// finished yet) is sent as it is, never held back for its end.
fn messages(data: Bytes) -> impl Iterator<Item = Bytes> {
    let mut cuts = Vec::new();
    if data.len() <= LINES_MAX_BYTES {
        let ends = line_ends(&data);
        // One line, or one line and the start of the next, as it stands.
        let pieces = ends.len() + usize::from(ends.last() != Some(&data.len()));
        if pieces > 1 && pieces <= LINES_MAX_COUNT {
            cuts = ends;
        }
    }
    let mut start = 0;
    let mut cuts = cuts.into_iter();
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = cuts.next().unwrap_or(data.len());
        let piece = data.slice(start..end);
        start = end;
        Some(piece)
    })
}

/// The offset just past each newline.
fn line_ends(data: &[u8]) -> Vec<usize> {
    data.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect()
}

/// Forwards every stream until all have ended. A chunk is read only once
/// the queue has room for it, so a slow reader leaves the output in the
/// pipes, where it blocks the writer. After the exit, output still coming
/// is taken while it keeps coming within `grace`, up to `max_after` bytes.
pub async fn forward(
    mut reader: Reader,
    tx: mpsc::Sender<Event>,
    mut exited: watch::Receiver<bool>,
    grace: Duration,
    max_after: usize,
) {
    let mut after_exit = 0usize;
    while reader.open() {
        let Ok(room) = tx.reserve().await else { break };
        let ready = if *exited.borrow() {
            if after_exit > max_after {
                break;
            }
            match tokio::time::timeout(grace, reader.next_ready()).await {
                Ok(res) => res,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                res = reader.next_ready() => res,
                _ = exited.changed() => continue,
            }
        };
        let Ok(i) = ready else { break };
        let Some((stream, out)) = reader.sources.get_mut(i).and_then(Option::as_mut) else {
            reader.close(i);
            continue;
        };
        let stream = *stream;
        match out.try_read() {
            Ok(Some(data)) => {
                if *exited.borrow() {
                    after_exit += data.len();
                }
                reader.done_with(i, data.len());
                let mut pieces = messages(data);
                if let Some(first) = pieces.next() {
                    room.send(Event::Output(stream, first));
                }
                for piece in pieces {
                    if tx.send(Event::Output(stream, piece)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => reader.done_with(i, 0),
            Ok(None) | Err(_) => reader.close(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::output::tests::pipe;
    use super::*;
    use std::io::Write;

    fn split(data: &[u8]) -> Vec<Vec<u8>> {
        messages(Bytes::copy_from_slice(data))
            .map(|b| b.to_vec())
            .collect()
    }

    #[test]
    fn a_few_lines_read_together_go_out_a_line_each() {
        assert_eq!(
            split(b"hello\nworld\n"),
            [b"hello\n".to_vec(), b"world\n".to_vec()]
        );
        // The unfinished line is sent at once, as it stands.
        assert_eq!(
            split(b"a\nb\n> "),
            [b"a\n".to_vec(), b"b\n".to_vec(), b"> ".to_vec()]
        );
        assert_eq!(split(b"a\npart"), [b"a\n".to_vec(), b"part".to_vec()]);
        assert_eq!(split(b"one line\n"), [b"one line\n".to_vec()]);
        assert_eq!(split(b"no newline"), [b"no newline".to_vec()]);
        assert!(split(b"").is_empty());
    }

    #[test]
    fn floods_stay_whole() {
        let many = b"x\n".repeat(LINES_MAX_COUNT + 1);
        assert_eq!(split(&many), vec![many]);
        let long = [vec![b'y'; LINES_MAX_BYTES], b"\nz\n".to_vec()].concat();
        assert_eq!(split(&long), vec![long]);
        let chunk = b"0123456789abcde\n".repeat(MAX_CHUNK / 16);
        assert_eq!(split(&chunk).len(), 1);
    }

    /// `forward` from `reader` on a task of its own: its events, the
    /// sender that says the process exited, and the task.
    fn forwarding(
        reader: Reader,
    ) -> (
        mpsc::Receiver<Event>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        let (tx, rx) = mpsc::channel(1);
        let (exited_tx, exited_rx) = watch::channel(false);
        let task = tokio::spawn(forward(
            reader,
            tx,
            exited_rx,
            Duration::from_millis(200),
            1 << 20,
        ));
        (rx, exited_tx, task)
    }

    /// Two lines and the end of the output in the pipe when the reader
    /// comes: two messages, then the end, at once.
    #[tokio::test]
    async fn lines_in_the_pipe_together_come_out_apart() {
        let (out, mut w_out) = pipe();
        let reader = Reader::new(vec![(1, out)]).unwrap_or_else(|e| panic!("{e}"));
        let _ = w_out.write_all(b"hello\n");
        let _ = w_out.write_all(b"world\n");
        drop(w_out);
        let (mut rx, _exited_tx, task) = forwarding(reader);
        // The process has not exited: the stream ends because its end was
        // read, not because a grace period ran out.
        let collected = async {
            let mut seen = Vec::new();
            while let Some(Event::Output(_, d)) = rx.recv().await {
                seen.push(String::from_utf8_lossy(&d).into_owned());
            }
            seen
        };
        let seen = tokio::time::timeout(Duration::from_secs(10), collected).await;
        assert_eq!(
            seen.ok(),
            Some(vec!["hello\n".to_string(), "world\n".to_string()]),
            "the output, then its end"
        );
        let _ = task.await;
    }

    /// Both pipes hold data before the reader first runs (as when its task
    /// is scheduled late): they come out in the order they were written.
    #[tokio::test]
    async fn streams_come_out_in_the_order_they_became_readable() {
        let (out, mut w_out) = pipe();
        let (err, mut w_err) = pipe();
        let reader = Reader::new(vec![(1, out), (2, err)]).unwrap_or_else(|e| panic!("{e}"));
        let _ = w_err.write_all(b"e1\n");
        let _ = w_out.write_all(b"o1\n");
        let (mut rx, exited_tx, task) = forwarding(reader);
        let mut seen = Vec::new();
        for _ in 0..2 {
            if let Some(Event::Output(s, d)) = rx.recv().await {
                seen.push((s, String::from_utf8_lossy(&d).into_owned()));
            }
        }
        // Both were read empty; what arrives next comes out in its order.
        let _ = w_out.write_all(b"o2\n");
        let _ = w_err.write_all(b"e2\n");
        for _ in 0..2 {
            if let Some(Event::Output(s, d)) = rx.recv().await {
                seen.push((s, String::from_utf8_lossy(&d).into_owned()));
            }
        }
        assert_eq!(
            seen,
            [
                (2, "e1\n".to_string()),
                (1, "o1\n".to_string()),
                (1, "o2\n".to_string()),
                (2, "e2\n".to_string()),
            ]
        );
        drop((w_out, w_err));
        let _ = exited_tx.send(true);
        let _ = task.await;
        assert!(
            rx.recv().await.is_none(),
            "both ends seen: the task is done"
        );
    }
}
