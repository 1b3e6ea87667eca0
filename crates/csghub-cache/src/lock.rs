//! Cross-process advisory locks (std `File::lock`), on the same paths huggingface_hub locks.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{CacheError, IoContext, Result};
use crate::fsutil;

/// How often a waiting caller is notified (huggingface_hub logs every 10 s).
pub const LOCK_NOTIFY_INTERVAL: Duration = Duration::from_secs(10);

/// An exclusive lock on a lock file, released on drop. The lock file itself is left in place (deleting
/// it would race with other waiters), exactly like huggingface_hub's `filelock`.
#[derive(Debug)]
pub struct CacheLock {
    file: File,
    path: PathBuf,
}

impl CacheLock {
    /// Wait up to `timeout` (`None` = forever) for the lock at `path`, creating the file (mode 0o664)
    /// and its parent directories.
    pub fn acquire(path: &Path, timeout: Option<Duration>) -> Result<CacheLock> {
        CacheLock::acquire_notify(path, timeout, |_, _| {})
    }

    /// Like [`CacheLock::acquire`], calling `notify(lock_path, waited_so_far)` about every 10 s while
    /// waiting, so a CLI can say "waiting for lock …".
    pub fn acquire_notify(
        path: &Path,
        timeout: Option<Duration>,
        mut notify: impl FnMut(&Path, Duration),
    ) -> Result<CacheLock> {
        let file = open_lock_file(path)?;
        let start = Instant::now();
        let mut next_notify = LOCK_NOTIFY_INTERVAL;
        let mut sleep = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(CacheLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(e).ctx("lock", path),
            }
            let waited = start.elapsed();
            if let Some(t) = timeout
                && waited >= t
            {
                return Err(CacheError::LockTimeout {
                    path: path.to_path_buf(),
                    waited,
                });
            }
            if waited >= next_notify {
                notify(path, waited);
                next_notify += LOCK_NOTIFY_INTERVAL;
            }
            let mut nap = sleep;
            if let Some(t) = timeout {
                nap = nap
                    .min(t.saturating_sub(waited))
                    .max(Duration::from_millis(1));
            }
            std::thread::sleep(nap);
            sleep = (sleep * 2).min(Duration::from_millis(200));
        }
    }

    /// Take the lock if it is free right now; `Ok(None)` if another process holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<CacheLock>> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(CacheLock {
                file,
                path: path.to_path_buf(),
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e).ctx("lock", path),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it prompt and explicit.
        let _ = self.file.unlock();
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent() {
        fsutil::create_dir_all(parent)?;
    }
    let file = fsutil::open_rw_create(path).ctx("open lock file", path)?;
    // filelock fchmods to 0o664 regardless of umask so a group sharing the cache can wait on it;
    // failure (lock owned by another user) is harmless.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o664));
    }
    Ok(file)
}
