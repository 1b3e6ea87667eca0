//! Errors of downloads and uploads.

use std::path::PathBuf;

/// What went wrong in a transfer. Messages name the file or URL and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// An API call failed (auth, not found, server error ...). Boxed: the API error is large.
    #[error(transparent)]
    Api(Box<csghub_api::Error>),
    /// The cache refused or failed.
    #[error(transparent)]
    Cache(#[from] csghub_cache::CacheError),
    /// The server listed a path that is not a safe relative path; nothing was written for it.
    #[error("the server listed an unsafe file name {path:?} ({reason}); refusing to write it")]
    UnsafePath {
        /// The path as listed.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// An allow/ignore pattern does not compile.
    #[error("invalid pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// The revision does not exist on the server.
    #[error("revision {revision:?} not found in {repo}: check the branch, tag or commit name")]
    RevisionNotFound {
        /// `type/ns/name`.
        repo: String,
        /// As asked.
        revision: String,
    },
    /// A requested file is not in the repo at that commit.
    #[error("{path:?} is not in {repo} at {commit}")]
    EntryNotFound {
        /// `type/ns/name`.
        repo: String,
        /// The commit.
        commit: String,
        /// The file.
        path: String,
    },
    /// Transport failure while fetching a file (after retries).
    #[error("downloading {path}: {message} (after {attempts} attempts)")]
    Transport {
        /// The file.
        path: String,
        /// What happened (URL redacted).
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The storage or server answered an unexpected status for a file.
    #[error("downloading {path}: HTTP {status} from {url}: {message}")]
    Http {
        /// The file.
        path: String,
        /// Status.
        status: u16,
        /// Redacted URL.
        url: String,
        /// Body excerpt or reason.
        message: String,
    },
    /// Content did not verify, twice.
    #[error(
        "{path}: downloaded bytes do not match the server's checksum ({detail}); the partial file was deleted, nothing was kept"
    )]
    Checksum {
        /// The file.
        path: String,
        /// What mismatched.
        detail: String,
    },
    /// Offline mode (or the network is down) and the cache cannot answer.
    #[error(
        "offline and not in the cache: {what}. Run once online, or check the revision and cache dir"
    )]
    NotCached {
        /// What was asked.
        what: String,
    },
    /// Local I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl From<csghub_api::Error> for TransferError {
    fn from(e: csghub_api::Error) -> Self {
        TransferError::Api(Box::new(e))
    }
}

impl TransferError {
    /// The API error, if this is one (to match on its variants).
    pub fn api(&self) -> Option<&csghub_api::Error> {
        match self {
            TransferError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Whether retrying the same operation may succeed (network trouble, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            TransferError::Api(e) => e.is_transient(),
            TransferError::Transport { .. } => true,
            TransferError::Http { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }
}
