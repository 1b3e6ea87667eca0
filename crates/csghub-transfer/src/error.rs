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
    #[error("the server listed an unsafe file name: {reason}")]
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
    /// A space must be created to upload into, and no space resource fits.
    #[error("cannot create {repo}: {}", space_resource_reason(*wanted, offered))]
    SpaceResource {
        /// `type/ns/name`.
        repo: String,
        /// The resource id asked for, if any.
        wanted: Option<i64>,
        /// The ids the server offers.
        offered: Vec<i64>,
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
    /// A local file or folder to upload is unusable (missing, not UTF-8, changed while reading).
    #[error("{path}: {reason}")]
    LocalFile {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The object store or the server answered an unexpected status to an upload.
    #[error("uploading {path}: HTTP {status} from {url}: {message}")]
    UploadHttp {
        /// Path in the repo.
        path: String,
        /// Status.
        status: u16,
        /// Redacted URL.
        url: String,
        /// Body excerpt or reason.
        message: String,
    },
    /// Transport failure while uploading (after retries).
    #[error("uploading {path}: {message} (after {attempts} attempts)")]
    UploadTransport {
        /// Path in the repo.
        path: String,
        /// What happened (URL redacted).
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The server refused an LFS object, or a multipart upload did not complete or verify.
    #[error("uploading {path}: {message}")]
    Lfs {
        /// Path in the repo.
        path: String,
        /// The server's reason and what to do.
        message: String,
    },
    /// The server answered something this client cannot use.
    #[error("unexpected answer from the server for {context}: {message}")]
    Protocol {
        /// The request.
        context: String,
        /// What was wrong.
        message: String,
    },
    /// Some files of a large-folder upload failed; the others are committed and the resume
    /// state is kept.
    #[error(
        "{failed} of {total} files could not be uploaded (first: {first}); run the same command again to resume"
    )]
    Incomplete {
        /// Files that failed.
        failed: usize,
        /// Files selected.
        total: usize,
        /// The first failure.
        first: String,
    },
    /// Another process is uploading the same folder.
    #[error("{path} is locked by another upload of this folder; wait for it to finish")]
    Locked {
        /// The lock file.
        path: PathBuf,
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
            TransferError::Transport { .. } | TransferError::UploadTransport { .. } => true,
            TransferError::UploadHttp { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            TransferError::Http { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }
}

fn space_resource_reason(wanted: Option<i64>, offered: &[i64]) -> String {
    match (wanted, offered.is_empty()) {
        (_, true) => {
            "the server offers no space resource; create the space on the website first".into()
        }
        (Some(id), false) => {
            format!("space resource {id} is not offered; choose one of {offered:?}")
        }
        (None, false) => format!(
            "none of the space resources {offered:?} is available; pass a resource id or create the space on the website first"
        ),
    }
}
