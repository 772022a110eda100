//! The main process's log (its combined stdout and stderr).
use super::error::{Error, Result};
use super::status;
use super::Client;
use crate::proto::v1 as pb;
use bytes::Bytes;

/// Options of a log read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep the stream open and deliver new output until the main process ends.
    pub follow: bool,
    /// Only the last N lines of the backlog (0 = all of it).
    pub tail_lines: u32,
    /// Prefix every line with an RFC 3339 UTC timestamp.
    pub timestamps: bool,
}

/// Log data as it arrives; chunks need not end at line boundaries.
pub struct LogStream {
    stream: tonic::Streaming<pb::LogEntry>,
    endpoint: String,
    done: bool,
}

impl LogStream {
    /// The next piece of the log, `None` at the end, an error once if the
    /// stream failed.
    pub async fn next(&mut self) -> Option<Result<Bytes>> {
        while !self.done {
            match self.stream.message().await {
                Ok(Some(entry)) => {
                    if let Some(e) = entry.error {
                        self.done = true;
                        let code = if e.code.is_empty() {
                            "log_error".to_string()
                        } else {
                            e.code
                        };
                        return Some(Err(Error::Server {
                            code: code.clone(),
                            message: e.message,
                            reason: Some(code),
                        }));
                    }
                    if !entry.data.is_empty() {
                        return Some(Ok(entry.data.into()));
                    }
                }
                Ok(None) => self.done = true,
                Err(s) => {
                    self.done = true;
                    return Some(Err(status::from_status(&s, &self.endpoint)));
                }
            }
        }
        None
    }
}

impl Client {
    /// Reads the main process's log.
    pub async fn logs(&self, sandbox_id: &str, opts: LogOptions) -> Result<LogStream> {
        let stream = self
            .rpc()
            .stream_logs(pb::StreamLogsRequest {
                sandbox_id: sandbox_id.to_string(),
                follow: opts.follow,
                tail_lines: i32::try_from(opts.tail_lines).unwrap_or(i32::MAX),
                timestamps: opts.timestamps,
                ..Default::default()
            })
            .await
            .map_err(|s| self.error(&s))?
            .into_inner();
        Ok(LogStream {
            stream,
            endpoint: self.endpoint().url.clone(),
            done: false,
        })
    }
}
