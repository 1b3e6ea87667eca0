//! Progress reporting: the library calls a [`Reporter`]; only the CLI draws bars.

/// How one file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    /// Downloaded (or uploaded) and verified.
    Transferred,
    /// Already present and up to date: nothing sent.
    Cached,
}

/// Receives progress events. Every method has an empty default; implementations must be cheap
/// (they are called from download tasks) and thread-safe.
pub trait Reporter: Send + Sync {
    /// The work is known: `files` files, `bytes` bytes still to transfer.
    fn on_plan(&self, files: usize, bytes: u64) {
        let _ = (files, bytes);
    }
    /// A file starts (`resumed_from` bytes were already on disk).
    fn on_file_start(&self, path: &str, size: u64, resumed_from: u64) {
        let _ = (path, size, resumed_from);
    }
    /// `bytes` more bytes of `path` arrived (or were sent).
    fn on_file_progress(&self, path: &str, bytes: u64) {
        let _ = (path, bytes);
    }
    /// A file is done.
    fn on_file_done(&self, path: &str, outcome: FileOutcome) {
        let _ = (path, outcome);
    }
    /// A request is retried after `error`, waiting `delay`.
    fn on_retry(&self, what: &str, attempt: u32, delay: std::time::Duration, error: &str) {
        let _ = (what, attempt, delay, error);
    }
    /// Upload counters changed (uploads only; sent after every change, so keep it cheap).
    fn on_upload_status(&self, status: &UploadStatus) {
        let _ = status;
    }
}

/// Where an upload stands: files and bytes per stage. Counts only grow during one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadStatus {
    /// Files selected for upload.
    pub files_total: u64,
    /// Their bytes.
    pub bytes_total: u64,
    /// Files whose hashes are known (computed now or taken from a resume state).
    pub files_hashed: u64,
    /// Bytes read to hash files in this run (0 when every hash came from the resume state).
    pub bytes_hashed: u64,
    /// Files the server already had (same content at the same path), or ignored by its
    /// `.gitignore`: nothing sent for them.
    pub files_skipped: u64,
    /// Files whose content is on the server (LFS objects verified; regular files are ready to
    /// go into a commit).
    pub files_uploaded: u64,
    /// LFS bytes sent in this run (a retried part counts again).
    pub bytes_uploaded: u64,
    /// Files committed.
    pub files_committed: u64,
    /// Commits made.
    pub commits: u64,
}

/// A reporter that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Reporter for NoProgress {}
