//! The main process's log: a bounded buffer of timestamped lines (one record
//! per line, stdout and stderr interleaved in arrival order), plus the
//! log-session registry that lets a reader resume at a byte offset.
//!
//! Memory is what the bounds are about: each record is charged its
//! bookkeeping as well as its bytes, lines read together share one
//! allocation, and a finished log is packed into a single one.
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Oldest lines are dropped beyond this many bytes per running sandbox.
const MAX_BYTES: usize = 8 << 20;
/// What a finished sandbox keeps of its log.
const MAX_BYTES_ENDED: usize = 1 << 20;
/// Longer lines are split into several records.
const MAX_RECORD: usize = 64 << 10;
/// What a record costs beyond its bytes: its slot in the deque plus an
/// allocation's header and rounding. Charging it keeps a flood of empty
/// lines inside the same budget as a flood of long ones.
const RECORD_COST: usize = std::mem::size_of::<Record>() + 32;
/// How long a session can be resumed after its last use.
const SESSION_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug)]
pub struct Record {
    pub seq: u64,
    pub time: SystemTime,
    pub data: Bytes,
}

impl Record {
    /// The bytes a reader sees for this record.
    pub fn render(&self, timestamps: bool) -> Bytes {
        if !timestamps {
            return self.data.clone();
        }
        let ts = chrono::DateTime::<chrono::Utc>::from(self.time)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut out = Vec::with_capacity(ts.len() + 1 + self.data.len());
        out.extend_from_slice(ts.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.data);
        Bytes::from(out)
    }
}

#[derive(Default)]
struct Inner {
    records: VecDeque<Record>,
    next_seq: u64,
    /// Bytes of the records plus `RECORD_COST` each.
    charged: usize,
    partial: [Vec<u8>; 2],
    closed: bool,
}

pub struct LogBuffer {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// What a reader gets from `LogBuffer::read_from`.
pub struct Slice {
    pub records: Vec<Record>,
    /// `from` was already evicted.
    pub gap: bool,
    /// No more records will ever come after these.
    pub closed: bool,
}

impl LogBuffer {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            version: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Append output from stream 0 (stdout) or 1 (stderr).
    pub fn push(&self, stream: usize, data: &[u8]) {
        let now = SystemTime::now();
        let mut g = self.lock();
        if g.closed || data.is_empty() {
            return;
        }
        let s = stream.min(1);
        let (first, last) = match (
            data.iter().position(|b| *b == b'\n'),
            data.iter().rposition(|b| *b == b'\n'),
        ) {
            (Some(f), Some(l)) => (f, l),
            _ => {
                g.partial[s].extend_from_slice(data);
                flush_long_partial(&mut g, s, now);
                drop(g);
                self.version.send_modify(|v| *v += 1);
                return;
            }
        };
        // The first line may have begun in earlier reads.
        let mut start = 0;
        if !g.partial[s].is_empty() {
            g.partial[s].extend_from_slice(&data[..=first]);
            flush_partial(&mut g, s, now);
            start = first + 1;
        }
        // Whole lines share one allocation, holding nothing but them, so
        // evicting its records frees it.
        if start <= last {
            let lines = Bytes::copy_from_slice(&data[start..=last]);
            let mut from = 0;
            while from < lines.len() {
                let end = lines[from..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(lines.len(), |i| from + i + 1);
                let mut piece = from;
                while piece < end {
                    let cut = end.min(piece + MAX_RECORD);
                    append(&mut g, now, lines.slice(piece..cut), MAX_BYTES);
                    piece = cut;
                }
                from = end;
            }
        }
        g.partial[s].extend_from_slice(&data[last + 1..]);
        flush_long_partial(&mut g, s, now);
        drop(g);
        self.version.send_modify(|v| *v += 1);
    }

    /// End of input: flush partial lines, keep only the finished tail,
    /// packed, and wake followers for good. Later calls change nothing.
    pub fn close(&self) {
        let now = SystemTime::now();
        let mut g = self.lock();
        if g.closed {
            return;
        }
        for s in 0..2 {
            flush_partial(&mut g, s, now);
            g.partial[s] = Vec::new();
        }
        g.closed = true;
        evict(&mut g, MAX_BYTES_ENDED);
        pack(&mut g);
        drop(g);
        self.version.send_modify(|v| *v += 1);
    }

    /// Drop every record for good (the sandbox was deleted). Readers
    /// still inside the log get a gap; new readers find it empty and
    /// closed.
    pub fn discard(&self) {
        let mut g = self.lock();
        let next_seq = g.next_seq;
        *g = Inner {
            next_seq,
            closed: true,
            ..Inner::default()
        };
        drop(g);
        self.version.send_modify(|v| *v += 1);
    }

    /// The memory charged to this log: its bytes plus per-record costs.
    pub fn charged(&self) -> usize {
        self.lock().charged
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Sequence number a fresh reader starts at.
    pub fn start_seq(&self, tail_lines: usize, since: Option<SystemTime>) -> u64 {
        let g = self.lock();
        let mut start = g.records.front().map_or(g.next_seq, |r| r.seq);
        if let Some(since) = since {
            start = g
                .records
                .iter()
                .find(|r| r.time >= since)
                .map_or(g.next_seq, |r| r.seq);
        }
        if tail_lines > 0 {
            start = start.max(g.next_seq.saturating_sub(tail_lines as u64));
        }
        start
    }

    /// Up to `max` records starting at `from`.
    pub fn read_from(&self, from: u64, max: usize) -> Slice {
        let g = self.lock();
        let first = g.records.front().map_or(g.next_seq, |r| r.seq);
        if from < first {
            return Slice {
                records: Vec::new(),
                gap: true,
                closed: g.closed,
            };
        }
        let skip = usize::try_from(from - first)
            .unwrap_or(usize::MAX)
            .min(g.records.len());
        let records: Vec<Record> = g.records.range(skip..).take(max).cloned().collect();
        let closed = g.closed && from + records.len() as u64 >= g.next_seq;
        Slice {
            records,
            gap: false,
            closed,
        }
    }
}

/// A partial line that reached the record limit goes out in pieces of the
/// limit; the rest waits for its end.
fn flush_long_partial(g: &mut Inner, stream: usize, time: SystemTime) {
    while g.partial[stream].len() >= MAX_RECORD {
        let piece = Bytes::copy_from_slice(&g.partial[stream][..MAX_RECORD]);
        g.partial[stream].drain(..MAX_RECORD);
        append(g, time, piece, MAX_BYTES);
    }
}

fn flush_partial(g: &mut Inner, stream: usize, time: SystemTime) {
    let partial = std::mem::take(&mut g.partial[stream]);
    // Copies of exactly each piece: the buffer's spare capacity stays with
    // the buffer, for the next partial line.
    for piece in partial.chunks(MAX_RECORD) {
        append(g, time, Bytes::copy_from_slice(piece), MAX_BYTES);
    }
    g.partial[stream] = partial;
    g.partial[stream].clear();
}

fn append(g: &mut Inner, time: SystemTime, data: Bytes, limit: usize) {
    let seq = g.next_seq;
    g.next_seq += 1;
    g.charged += data.len() + RECORD_COST;
    g.records.push_back(Record { seq, time, data });
    evict(g, limit);
}

fn evict(g: &mut Inner, limit: usize) {
    while g.charged > limit {
        match g.records.pop_front() {
            Some(r) => g.charged -= r.data.len() + RECORD_COST,
            None => break,
        }
    }
}

/// Copy what is left into one allocation, so the records no longer keep
/// alive the larger read buffers they were cut from, and give back the
/// deque's spare slots.
fn pack(g: &mut Inner) {
    let total: usize = g.records.iter().map(|r| r.data.len()).sum();
    let mut packed = BytesMut::with_capacity(total);
    for r in &g.records {
        packed.extend_from_slice(&r.data);
    }
    let packed = packed.freeze();
    let mut at = 0;
    for r in &mut g.records {
        let len = r.data.len();
        r.data = packed.slice(at..at + len);
        at += len;
    }
    g.records.shrink_to_fit();
}

/// A resumable reading of one sandbox's log.
#[derive(Clone, Debug)]
pub struct Session {
    pub sandbox_id: String,
    pub timestamps: bool,
    pub start_seq: u64,
    /// Highest offset delivered so far.
    pub produced: u64,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, (Session, Instant)>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Session, Instant)>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create(&self, session: Session) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut m = self.lock();
        let now = Instant::now();
        m.retain(|_, (_, used)| now.duration_since(*used) < SESSION_TTL);
        m.insert(id.clone(), (session, now));
        id
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let mut m = self.lock();
        let entry = m.get_mut(id)?;
        if entry.1.elapsed() >= SESSION_TTL {
            m.remove(id);
            return None;
        }
        entry.1 = Instant::now();
        Some(entry.0.clone())
    }

    pub fn record_progress(&self, id: &str, offset: u64) {
        if let Some(entry) = self.lock().get_mut(id) {
            entry.0.produced = entry.0.produced.max(offset);
            entry.1 = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(b: &LogBuffer, from: u64) -> Vec<String> {
        b.read_from(from, 100)
            .records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect()
    }

    #[test]
    fn splits_lines_and_keeps_partials_per_stream() {
        let b = LogBuffer::new();
        b.push(0, b"a1\na");
        b.push(1, b"err\n");
        b.push(0, b"2\n");
        assert_eq!(texts(&b, 0), vec!["a1\n", "err\n", "a2\n"]);
        b.push(0, b"tail");
        b.close();
        assert_eq!(texts(&b, 3), vec!["tail"]);
        assert!(b.read_from(4, 10).closed);
    }

    #[test]
    fn tail_and_since_pick_the_start() {
        let b = LogBuffer::new();
        for i in 0..5 {
            b.push(0, format!("l{i}\n").as_bytes());
        }
        assert_eq!(b.start_seq(2, None), 3);
        assert_eq!(b.start_seq(0, None), 0);
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(b.start_seq(0, Some(later)), 5);
    }

    #[test]
    fn empty_lines_are_charged_their_bookkeeping() {
        let b = LogBuffer::new();
        let flood = vec![b'\n'; 4 << 20];
        for chunk in flood.chunks(16 << 10) {
            b.push(0, chunk);
        }
        let kept = b.read_from(0, usize::MAX);
        assert!(kept.gap, "the oldest empty lines were evicted");
        let first = b.start_seq(0, None);
        let n = b.read_from(first, usize::MAX).records.len();
        assert!(n * RECORD_COST <= MAX_BYTES, "{n} records kept");
        assert!(b.charged() <= MAX_BYTES);
    }

    #[test]
    fn long_lines_are_split_and_lines_across_pushes_joined() {
        let b = LogBuffer::new();
        let long = vec![b'y'; MAX_RECORD * 2 + 10];
        b.push(0, &long);
        b.push(0, b"\nab");
        b.push(0, b"c\nd\ne\n");
        let lens: Vec<usize> = b
            .read_from(0, 100)
            .records
            .iter()
            .map(|r| r.data.len())
            .collect();
        assert_eq!(lens, vec![MAX_RECORD, MAX_RECORD, 11, 4, 2, 2]);
    }

    #[test]
    fn a_closed_log_keeps_its_tail_packed() {
        let b = LogBuffer::new();
        let line = [b'z'; 99];
        for _ in 0..30_000 {
            b.push(0, &line);
            b.push(0, b"\n");
        }
        b.close();
        let first = b.start_seq(0, None);
        let kept = b.read_from(first, usize::MAX);
        assert!(kept.closed);
        assert!(b.charged() <= MAX_BYTES_ENDED);
        let start = kept.records[0].data.as_ptr();
        for (i, r) in kept.records.iter().enumerate() {
            assert_eq!(&r.data[..], &[&line[..], b"\n"].concat()[..]);
            // One allocation, records back to back.
            assert_eq!(r.data.as_ptr(), start.wrapping_add(i * 100));
        }
        b.push(0, b"after close\n");
        assert_eq!(
            b.read_from(first, usize::MAX).records.len(),
            kept.records.len()
        );
    }

    #[test]
    fn a_discarded_log_is_empty_and_closed() {
        let b = LogBuffer::new();
        b.push(0, b"one\ntwo\n");
        b.discard();
        assert_eq!(b.charged(), 0);
        assert!(
            b.read_from(0, 10).gap,
            "a reader inside it learns of the gap"
        );
        let fresh = b.start_seq(0, None);
        let s = b.read_from(fresh, 10);
        assert!(s.records.is_empty() && s.closed && !s.gap);
        b.push(0, b"late\n");
        assert!(b.read_from(fresh, 10).records.is_empty());
    }

    #[test]
    fn timestamps_prefix_each_record() {
        let r = Record {
            seq: 0,
            time: SystemTime::UNIX_EPOCH,
            data: Bytes::from_static(b"x\n"),
        };
        assert_eq!(&r.render(true)[..], b"1970-01-01T00:00:00.000000000Z x\n");
        assert_eq!(&r.render(false)[..], b"x\n");
    }
}
