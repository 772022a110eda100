//! File-system snapshots: copies of a sandbox's scratch volume (or its
//! workspace) kept under `<data_dir>/snapshots/<id>/`, a `meta.json`
//! record beside a `files/` tree, so they outlive the sandbox and the
//! server, and can be restored into new sandboxes.
//!
//! Taking one reads a tree that the sandbox controls: see `copy.rs` for why
//! that cannot make the server read or write anything outside it.
pub mod copy;
mod hold;
pub mod meta;

pub use hold::Hold;
pub use meta::{Meta, State, Trigger};

use meta::Time;
use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Default bound of one snapshot's file content.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;
const MAX_ENTRIES: u64 = 1_000_000;
const MAX_DEPTH: usize = 256;
const PREFIX: &str = "fss-";
const FILES: &str = "files";

/// Why a snapshot cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("file-system snapshot {0:?} not found")]
    NotFound(String),
    #[error("file-system snapshot {id} is not ready (it is {state})")]
    NotReady { id: String, state: &'static str },
}

/// Whether `id` is one this server could have made: the only ids that
/// ever come near a path.
pub fn valid_id(id: &str) -> bool {
    id.strip_prefix(PREFIX)
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        && id == id.to_ascii_lowercase()
}

struct Slot {
    meta: Meta,
    /// Set when a delete arrives while the copy runs.
    cancel: Arc<AtomicBool>,
}

/// Every snapshot this server has.
pub struct Store {
    dir: PathBuf,
    limits: copy::Limits,
    slots: Mutex<BTreeMap<String, Slot>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Creating => "CREATING",
        State::Ready => "READY",
        State::Failed => "FAILED",
    }
}

impl Store {
    /// Open (or make, private) the store in `dir`. A snapshot the last
    /// server left half-taken is marked FAILED; leftovers of deletes and of
    /// records never written are removed.
    pub fn open(dir: PathBuf, max_bytes: u64) -> io::Result<Arc<Store>> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let mut slots = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !valid_id(&name) || !entry.file_type()?.is_dir() {
                tracing::info!(path = %path.display(), "removing a snapshot leftover");
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
                continue;
            }
            let mut meta = match Meta::load(&path) {
                Ok(m) if m.id == name => m,
                _ => {
                    tracing::warn!(path = %path.display(), "snapshot without a readable record: removed");
                    let _ = copy::remove(&path);
                    continue;
                }
            };
            if meta.state == State::Creating {
                meta.state = State::Failed;
                meta.state_reason =
                    "CWSANDBOX_FSS_CREATE_FAILED: the server stopped before the snapshot was complete"
                        .into();
                meta.updated_at = Time::now();
                let _ = copy::remove(&path.join(FILES));
                meta.save(&path)?;
            }
            slots.insert(
                name,
                Slot {
                    meta,
                    cancel: Arc::default(),
                },
            );
        }
        Ok(Arc::new(Store {
            dir,
            limits: copy::Limits {
                max_bytes,
                max_entries: MAX_ENTRIES,
                max_depth: MAX_DEPTH,
            },
            slots: Mutex::new(slots),
        }))
    }

    /// A new snapshot record, CREATING, saved; the returned job takes it.
    pub fn begin(
        self: &Arc<Self>,
        sandbox_id: &str,
        volume: &str,
        trigger: Trigger,
        request_id: &str,
    ) -> io::Result<Job> {
        let id = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        let now = Time::now();
        let meta = Meta {
            id: id.clone(),
            state: State::Creating,
            state_reason: String::new(),
            size_bytes: 0,
            entries: 0,
            source_sandbox_id: sandbox_id.to_string(),
            source_volume_name: volume.to_string(),
            trigger,
            request_id: request_id.to_string(),
            create_time: now,
            complete_time: None,
            updated_at: now,
        };
        let dir = self.dir.join(&id);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        if let Err(e) = meta.save(&dir) {
            let _ = copy::remove(&dir);
            return Err(e);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        lock(&self.slots).insert(
            id.clone(),
            Slot {
                meta: meta.clone(),
                cancel: cancel.clone(),
            },
        );
        Ok(Job {
            store: self.clone(),
            meta,
            cancel,
        })
    }

    /// The snapshots a request with this id made of this sandbox.
    pub fn by_request(&self, sandbox_id: &str, request_id: &str) -> Vec<Meta> {
        if request_id.is_empty() {
            return Vec::new();
        }
        lock(&self.slots)
            .values()
            .filter(|s| s.meta.request_id == request_id && s.meta.source_sandbox_id == sandbox_id)
            .map(|s| s.meta.clone())
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<(Meta, bool)> {
        lock(&self.slots)
            .get(id)
            .map(|s| (s.meta.clone(), s.cancel.load(Ordering::Relaxed)))
    }

    /// Every snapshot, oldest first.
    pub fn list(&self) -> Vec<(Meta, bool)> {
        let mut all: Vec<(Meta, bool)> = lock(&self.slots)
            .values()
            .map(|s| (s.meta.clone(), s.cancel.load(Ordering::Relaxed)))
            .collect();
        all.sort_by(|a, b| (a.0.create_time, &a.0.id).cmp(&(b.0.create_time, &b.0.id)));
        all
    }

    /// Delete a snapshot: at once when it is complete, when its copy
    /// stops if one runs (it is reported DELETING until then). Returns the
    /// record as it was, None if there is no such snapshot.
    pub fn delete(&self, id: &str) -> io::Result<Option<Meta>> {
        let meta = {
            let mut slots = lock(&self.slots);
            let Some(slot) = slots.get(id) else {
                return Ok(None);
            };
            if slot.meta.state == State::Creating {
                slot.cancel.store(true, Ordering::Relaxed);
                return Ok(Some(slot.meta.clone()));
            }
            slots.remove(id).map(|s| s.meta)
        };
        // Renamed first, so a crash halfway leaves a leftover the next
        // start removes, never a snapshot with part of its files.
        let dir = self.dir.join(id);
        let trash = self.dir.join(format!(".deleted-{id}"));
        std::fs::rename(&dir, &trash)?;
        copy::remove(&trash)?;
        Ok(meta)
    }

    /// Where a READY snapshot's files are, to restore them.
    pub fn restore_source(&self, id: &str) -> Result<PathBuf, RestoreError> {
        let slots = lock(&self.slots);
        let Some(slot) = slots.get(id).filter(|s| !s.cancel.load(Ordering::Relaxed)) else {
            return Err(RestoreError::NotFound(id.to_string()));
        };
        if slot.meta.state != State::Ready {
            return Err(RestoreError::NotReady {
                id: id.to_string(),
                state: state_name(slot.meta.state),
            });
        }
        Ok(self.dir.join(id).join(FILES))
    }

    fn update(&self, meta: &Meta) {
        let dir = self.dir.join(&meta.id);
        if let Err(e) = meta.save(&dir) {
            tracing::warn!(snapshot = %meta.id, "cannot save the snapshot's record: {e}");
        }
        if let Some(slot) = lock(&self.slots).get_mut(&meta.id) {
            slot.meta = meta.clone();
        }
    }

    fn forget(&self, id: &str) {
        lock(&self.slots).remove(id);
        let _ = copy::remove(&self.dir.join(id));
    }
}

/// Restore a snapshot's files into `dst` (a fresh directory of a sandbox
/// that has not started), owned by `owner`.
pub fn restore(src: &Path, dst: &Path, owner: copy::Owner) -> Result<(), copy::CopyError> {
    let tmp = dst.with_extension("restoring");
    let _ = copy::remove(&tmp);
    // No bound but the one the snapshot was taken with.
    let limits = copy::Limits {
        max_bytes: u64::MAX,
        max_entries: u64::MAX,
        max_depth: usize::MAX,
    };
    copy::copy_tree(src, &tmp, limits, owner, &AtomicBool::new(false))?;
    let err = |e: io::Error| copy::CopyError::Io {
        path: "/".into(),
        source: e,
    };
    copy::remove(dst).map_err(err)?;
    std::fs::rename(&tmp, dst).map_err(err)
}

/// Taking one snapshot: made by [`Store::begin`], run once.
pub struct Job {
    store: Arc<Store>,
    meta: Meta,
    cancel: Arc<AtomicBool>,
}

impl Job {
    pub fn id(&self) -> &str {
        &self.meta.id
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Copy `source` (None: the sandbox's files are gone) and record how
    /// it went. Blocking.
    pub fn run(mut self, source: Option<&Path>) {
        let files = self.store.dir.join(&self.meta.id).join(FILES);
        let outcome = match source {
            // A volume that was never made (not mounted, or its sandbox
            // stopped before it started) is empty.
            Some(src) if !src.exists() => std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&files)
                .map(|()| copy::Copied::default())
                .map_err(|e| copy::CopyError::Io {
                    path: "/".into(),
                    source: e,
                }),
            Some(src) => copy::copy_tree(src, &files, self.store.limits, None, &self.cancel),
            None => Err(copy::CopyError::Io {
                path: "/".into(),
                source: io::Error::other("the sandbox's files are gone (it has ended)"),
            }),
        };
        if self.cancel.load(Ordering::Relaxed) {
            self.store.forget(&self.meta.id);
            return;
        }
        let now = Time::now();
        self.meta.updated_at = now;
        self.meta.complete_time = Some(now);
        match outcome {
            Ok(done) => {
                self.meta.state = State::Ready;
                self.meta.size_bytes = done.bytes;
                self.meta.entries = done.entries;
                self.meta.state_reason = skipped_note(&done.skipped);
            }
            Err(e) => {
                let _ = copy::remove(&files);
                self.meta.state = State::Failed;
                let reason = match e {
                    copy::CopyError::TooLarge { .. } | copy::CopyError::TooManyEntries { .. } => {
                        "CWSANDBOX_FSS_SIZE_EXCEEDED"
                    }
                    _ => "CWSANDBOX_FSS_CREATE_FAILED",
                };
                self.meta.state_reason = format!("{reason}: {e}");
            }
        }
        tracing::info!(snapshot = %self.meta.id, state = ?self.meta.state, bytes = self.meta.size_bytes, "snapshot taken");
        self.store.update(&self.meta);
    }
}

/// What a READY snapshot's reason says about special files left out.
fn skipped_note(skipped: &[(String, &'static str)]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = skipped
        .iter()
        .take(5)
        .map(|(p, k)| format!("{p} ({k})"))
        .collect();
    let more = skipped.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{} special file(s) not copied: {}{tail}",
        skipped.len(),
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_any_use() {
        assert!(valid_id("fss-0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("fss-../../etc"));
        assert!(!valid_id("fss-0123456789ABCDEF0123456789ABCDEF"));
        assert!(!valid_id(""));
        assert!(!valid_id("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn snapshots_survive_reopening_and_half_taken_ones_fail() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("vol");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f"), b"kept").unwrap();
        let store = Store::open(t.path().join("snapshots"), 1 << 20).unwrap();
        let job = store
            .begin("sb", "workspace", Trigger::Manual, "r1")
            .unwrap();
        let id = job.id().to_string();
        job.run(Some(&src));
        let half = store
            .begin("sb", "workspace", Trigger::OnDelete, "")
            .unwrap();
        let half_id = half.id().to_string();
        drop(half);
        drop(store);

        let store = Store::open(t.path().join("snapshots"), 1 << 20).unwrap();
        let (meta, _) = store.get(&id).unwrap();
        assert_eq!(meta.state, State::Ready);
        assert_eq!(meta.size_bytes, 4);
        assert_eq!(store.by_request("sb", "r1")[0].id, id);
        let files = store.restore_source(&id).unwrap();
        assert_eq!(std::fs::read(files.join("f")).unwrap(), b"kept");
        let (meta, _) = store.get(&half_id).unwrap();
        assert_eq!(meta.state, State::Failed);
        assert!(matches!(
            store.restore_source(&half_id),
            Err(RestoreError::NotReady { .. })
        ));
        assert_eq!(store.list().len(), 2);
        store.delete(&id).unwrap().unwrap();
        assert!(store.get(&id).is_none());
        assert!(!t.path().join("snapshots").join(&id).exists());
        assert!(store.delete(&id).unwrap().is_none());
    }
}
