//! A snapshot's record, as kept in `<data_dir>/snapshots/<id>/meta.json`
//! and as the API reports it.
use crate::proto::v1 as pb;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Creating,
    Ready,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    OnDelete,
}

/// A point in time, as seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Time {
    pub secs: i64,
    pub nanos: i32,
}

impl Time {
    pub fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }
    }

    fn to_pb(self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.secs,
            nanos: self.nanos,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    pub state: State,
    #[serde(default)]
    pub state_reason: String,
    /// Bytes of file content.
    #[serde(default)]
    pub size_bytes: u64,
    /// Files, directories and symlinks.
    #[serde(default)]
    pub entries: u64,
    pub source_sandbox_id: String,
    pub source_volume_name: String,
    pub trigger: Trigger,
    #[serde(default)]
    pub request_id: String,
    pub create_time: Time,
    #[serde(default)]
    pub complete_time: Option<Time>,
    pub updated_at: Time,
}

const META: &str = "meta.json";

impl Meta {
    /// The record as the API reports it; `deleting` while a delete is
    /// under way.
    pub fn to_pb(&self, deleting: bool) -> pb::FileSystemSnapshot {
        let state = if deleting {
            pb::SnapshotState::Deleting
        } else {
            match self.state {
                State::Creating => pb::SnapshotState::Creating,
                State::Ready => pb::SnapshotState::Ready,
                State::Failed => pb::SnapshotState::Failed,
            }
        };
        let trigger = match self.trigger {
            Trigger::Manual => pb::SnapshotTrigger::Manual,
            Trigger::OnDelete => pb::SnapshotTrigger::OnDelete,
        };
        pb::FileSystemSnapshot {
            file_system_snapshot_id: self.id.clone(),
            state: state as i32,
            state_reason: self.state_reason.clone(),
            size_bytes: i64::try_from(self.size_bytes).unwrap_or(i64::MAX),
            source_sandbox_id: self.source_sandbox_id.clone(),
            trigger: trigger as i32,
            create_time: Some(self.create_time.to_pb()),
            complete_time: self.complete_time.map(Time::to_pb),
            source_volume_name: self.source_volume_name.clone(),
            object_bucket: String::new(),
            updated_at: Some(self.updated_at.to_pb()),
            request_id: self.request_id.clone(),
        }
    }

    /// Write the record into `dir`, replacing the old one whole (a crash
    /// leaves either the old or the new record, never half of one).
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(".meta.json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(META))
    }

    pub fn load(dir: &Path) -> io::Result<Meta> {
        let text = std::fs::read(dir.join(META))?;
        serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}
