//! Polling a state the server moves on its own (a sandbox starting, a
//! snapshot being taken) at the Python client's cadence: start fast, back
//! off by half each time, at most 2 s apart, up to a limit.
use std::time::Duration;
use tokio::time::Instant;

const POLL_MAX: Duration = Duration::from_secs(2);

pub(crate) struct Backoff {
    started: Instant,
    delay: Duration,
    limit: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, limit: Duration) -> Backoff {
        Backoff {
            started: Instant::now(),
            delay: first,
            limit,
        }
    }

    /// How long the caller is willing to wait in all.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// Sleeps until the next look; false (at once) once the limit has passed.
    pub(crate) async fn wait(&mut self) -> bool {
        if self.started.elapsed() > self.limit {
            return false;
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 3 / 2).min(POLL_MAX);
        true
    }
}
