//! What a sandbox's files wait for before they are removed: snapshots
//! asked for on delete (taken once the sandbox's processes are gone), and
//! snapshots being taken of the running sandbox.
use super::Job;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

pub struct Hold {
    /// Snapshots to take when the sandbox has ended, with the host
    /// directory each copies; None once they have been handed out.
    on_stop: Mutex<Option<Vec<(Job, PathBuf)>>>,
    /// Held (shared) by every copy of the running sandbox's files; `true`
    /// once the files are removed.
    files: Arc<RwLock<bool>>,
}

impl Default for Hold {
    fn default() -> Self {
        Hold {
            on_stop: Mutex::new(Some(Vec::new())),
            files: Arc::default(),
        }
    }
}

impl Hold {
    /// Queue snapshots for when the sandbox has ended; gives them back if
    /// that moment has passed.
    pub fn on_stop(&self, jobs: Vec<(Job, PathBuf)>) -> Result<(), Vec<(Job, PathBuf)>> {
        let mut q = self.on_stop.lock().unwrap_or_else(|p| p.into_inner());
        match q.as_mut() {
            Some(q) => {
                q.extend(jobs);
                Ok(())
            }
            None => Err(jobs),
        }
    }

    /// The sandbox has ended: the snapshots queued for it, to take now.
    pub fn take_on_stop(&self) -> Vec<(Job, PathBuf)> {
        self.on_stop
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default()
    }

    /// A read of the sandbox's files, which keeps them until it is
    /// dropped; None if they are already gone.
    pub async fn read(&self) -> Option<OwnedRwLockReadGuard<bool>> {
        let guard = self.files.clone().read_owned().await;
        (!*guard).then_some(guard)
    }

    /// Wait for every read to end; the files are marked gone when the
    /// caller sets the guard to `true`, having removed them.
    pub async fn removing(&self) -> OwnedRwLockWriteGuard<bool> {
        self.files.clone().write_owned().await
    }
}
