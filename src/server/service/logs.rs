//! StreamLogs: the main process's output, with sessions and byte offsets so
//! a follower can resume exactly where it stopped.
use super::lifecycle::lookup_container;
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::logs::{LogBuffer, Session};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

pub type LogStream = ReceiverStream<Result<pb::LogEntry, Status>>;

const FRAMES: usize = 16;
const BATCH: usize = 64;

fn reject(code: &str, message: String) -> LogStream {
    let (tx, rx) = mpsc::channel(1);
    let entry = pb::LogEntry {
        error: Some(pb::LogStreamError {
            message,
            code: code.to_string(),
        }),
        ..Default::default()
    };
    let _ = tx.try_send(Ok(entry));
    ReceiverStream::new(rx)
}

pub fn stream_logs(shared: Arc<Shared>, req: pb::StreamLogsRequest) -> Result<LogStream, Status> {
    let entry = lookup_container(&shared, &req.sandbox_id, &req.container)?;
    let (session_id, session, offset) = if req.resume_log_session_id.is_empty() {
        let since = req.since_time.and_then(|t| SystemTime::try_from(t).ok());
        let tail = usize::try_from(req.tail_lines.max(0)).unwrap_or(0);
        let session = Session {
            sandbox_id: req.sandbox_id.clone(),
            timestamps: req.timestamps,
            start_seq: entry.logs.start_seq(tail, since),
            produced: 0,
        };
        (shared.sessions.create(session.clone()), session, 0)
    } else {
        let id = req.resume_log_session_id.clone();
        match shared.sessions.get(&id) {
            Some(s) if s.sandbox_id == req.sandbox_id => {
                if req.resume_log_offset > s.produced {
                    return Ok(reject(
                        "INVALID_RESUME_OFFSET",
                        format!(
                            "offset {} is beyond the {} bytes this session produced",
                            req.resume_log_offset, s.produced
                        ),
                    ));
                }
                (id, s, req.resume_log_offset)
            }
            _ => {
                return Ok(reject(
                    "SESSION_NOT_FOUND",
                    format!("log session {id:?} is unknown or expired"),
                ))
            }
        }
    };
    let (tx, rx) = mpsc::channel(FRAMES);
    let logs = entry.logs.clone();
    tokio::spawn(async move {
        send_log(&shared, logs, session_id, session, offset, req.follow, tx).await;
    });
    Ok(ReceiverStream::new(rx))
}

async fn send_log(
    shared: &Shared,
    logs: Arc<LogBuffer>,
    session_id: String,
    session: Session,
    skip: u64,
    follow: bool,
    tx: mpsc::Sender<Result<pb::LogEntry, Status>>,
) {
    let mut changes = logs.subscribe();
    let mut seq = session.start_seq;
    // Byte offset, within the session's stream, of the start of record `seq`.
    let mut pos: u64 = 0;
    loop {
        changes.borrow_and_update();
        let slice = logs.read_from(seq, BATCH);
        if slice.gap {
            let entry = pb::LogEntry {
                error: Some(pb::LogStreamError {
                    message: "the requested log range is no longer retained".into(),
                    code: "REPLAY_GAP".into(),
                }),
                ..Default::default()
            };
            let _ = tx.send(Ok(entry)).await;
            return;
        }
        let empty = slice.records.is_empty();
        for rec in slice.records {
            let data = rec.render(session.timestamps);
            let len = data.len() as u64;
            seq = rec.seq + 1;
            if pos + len <= skip {
                pos += len;
                continue;
            }
            let from = usize::try_from(skip.saturating_sub(pos)).unwrap_or(0);
            pos += len;
            let entry = pb::LogEntry {
                data: data[from..].to_vec(),
                timestamp: Some(prost_types::Timestamp::from(rec.time)),
                log_session_id: session_id.clone(),
                next_log_offset: pos,
                error: None,
            };
            if tx.send(Ok(entry)).await.is_err() {
                return;
            }
            shared.sessions.record_progress(&session_id, pos);
        }
        if empty {
            if slice.closed || !follow {
                return;
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                _ = tx.closed() => return,
            }
        }
    }
}
