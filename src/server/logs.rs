//! The main process's log: a bounded buffer of timestamped lines (one record
//! per line, stdout and stderr interleaved in arrival order), plus the
//! log-session registry that lets a reader resume at a byte offset.
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Oldest lines are dropped beyond this many bytes per sandbox.
const MAX_BYTES: usize = 8 << 20;
/// What a finished sandbox keeps of its log (records are never kept
/// forever per sandbox at full size).
const MAX_BYTES_ENDED: usize = 1 << 20;
/// Longer lines are split into several records.
const MAX_RECORD: usize = 64 << 10;
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
    bytes: usize,
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
        if g.closed {
            return;
        }
        let stream = stream.min(1);
        let mut rest = data;
        while !rest.is_empty() {
            let (line, more, complete) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..=i], &rest[i + 1..], true),
                None => (rest, &[][..], false),
            };
            g.partial[stream].extend_from_slice(line);
            if complete || g.partial[stream].len() >= MAX_RECORD {
                let data = std::mem::take(&mut g.partial[stream]);
                append(&mut g, now, data);
            }
            rest = more;
        }
        drop(g);
        self.version.send_modify(|v| *v += 1);
    }

    /// End of input: flush partial lines and wake followers for good.
    pub fn close(&self) {
        let now = SystemTime::now();
        let mut g = self.lock();
        for s in 0..2 {
            let data = std::mem::take(&mut g.partial[s]);
            if !data.is_empty() {
                append(&mut g, now, data);
            }
        }
        g.closed = true;
        while g.bytes > MAX_BYTES_ENDED {
            match g.records.pop_front() {
                Some(r) => g.bytes -= r.data.len(),
                None => break,
            }
        }
        drop(g);
        self.version.send_modify(|v| *v += 1);
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
        let skip = usize::try_from(from - first).unwrap_or(usize::MAX);
        let records: Vec<Record> = g.records.iter().skip(skip).take(max).cloned().collect();
        let closed = g.closed && from + records.len() as u64 >= g.next_seq;
        Slice {
            records,
            gap: false,
            closed,
        }
    }
}

fn append(g: &mut Inner, time: SystemTime, data: Vec<u8>) {
    let seq = g.next_seq;
    g.next_seq += 1;
    g.bytes += data.len();
    g.records.push_back(Record {
        seq,
        time,
        data: Bytes::from(data),
    });
    while g.bytes > MAX_BYTES {
        match g.records.pop_front() {
            Some(r) => g.bytes -= r.data.len(),
            None => break,
        }
    }
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
