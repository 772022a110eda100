//! Accept loops that outlive any error: a failed accept is either the one
//! connection's problem (skip it) or a shortage of descriptors or memory
//! (pause briefly, then try again), never a reason to stop listening.
use std::io;
use std::time::{Duration, Instant};

/// How long to wait before the next accept after running out of
/// descriptors or memory: long enough not to spin, short enough that the
/// server answers again as soon as some connections have closed.
pub(super) const PAUSE: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The connection went away before or during accept; the next one is
    /// fine (accept(2) on Linux also reports some network errors this way).
    Connection,
    /// Out of descriptors, buffers or memory: closing connections frees them.
    Resources,
    /// Anything else; treated like a shortage, so the loop cannot spin.
    Other,
}

pub(super) fn classify(e: &io::Error) -> Failure {
    match e.raw_os_error() {
        Some(
            libc::ECONNABORTED
            | libc::ECONNRESET
            | libc::EINTR
            | libc::EAGAIN
            | libc::EPROTO
            | libc::EPERM
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::ENETDOWN,
        ) => Failure::Connection,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => Failure::Resources,
        _ => Failure::Other,
    }
}

/// Logs the first of a run of like events and a summary when the run ends,
/// so a flood does not turn into a flood of log lines.
pub(super) struct Burst {
    what: &'static str,
    ended: &'static str,
    started: Option<(Instant, u64)>,
}

impl Burst {
    /// `what` names the listener; `ended` is logged when a run ends.
    pub(super) fn new(what: &'static str, ended: &'static str) -> Burst {
        Burst {
            what,
            ended,
            started: None,
        }
    }

    /// Counts one event; true for the first of a run (log it then).
    pub(super) fn hit(&mut self) -> bool {
        match &mut self.started {
            Some((_, n)) => {
                *n += 1;
                false
            }
            None => {
                self.started = Some((Instant::now(), 1));
                true
            }
        }
    }

    /// The run, if any, is over.
    pub(super) fn end(&mut self) {
        if let Some((since, n)) = self.started.take() {
            tracing::info!(
                listener = self.what,
                events = n,
                lasted_ms = since.elapsed().as_millis() as u64,
                "{}",
                self.ended
            );
        }
    }
}

/// What the loop does after a failed accept: the pause before the next one.
pub(super) fn on_error(burst: &mut Burst, e: &io::Error) -> Option<Duration> {
    match classify(e) {
        Failure::Connection => {
            tracing::debug!(listener = burst.what, error = %e, "a connection failed during accept");
            None
        }
        kind => {
            if burst.hit() {
                tracing::warn!(
                    listener = burst.what,
                    error = %e,
                    ?kind,
                    "cannot accept connections; retrying every {} ms until some close",
                    PAUSE.as_millis()
                );
            }
            Some(PAUSE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortages_pause_and_connection_errors_do_not() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert_eq!(classify(&emfile), Failure::Resources);
        assert_eq!(
            classify(&io::Error::from_raw_os_error(libc::ENFILE)),
            Failure::Resources
        );
        assert_eq!(
            classify(&io::Error::from_raw_os_error(libc::ENOMEM)),
            Failure::Resources
        );
        assert_eq!(classify(&aborted), Failure::Connection);
        assert_eq!(classify(&io::Error::other("odd")), Failure::Other);
        let mut b = Burst::new("test", "over");
        assert_eq!(on_error(&mut b, &aborted), None);
        assert_eq!(on_error(&mut b, &emfile), Some(PAUSE));
        assert!(!b.hit(), "the second of a run is not logged again");
        b.end();
        assert!(b.hit(), "a new run starts after the end");
    }
}
