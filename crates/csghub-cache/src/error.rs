//! The crate's single error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in the cache. Each variant names the file or value involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A filesystem operation failed.
    #[error("cache I/O error: could not {op} {path}: {source}")]
    Io {
        /// What we tried to do ("create directory", "rename", …).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A repo-relative file path (from a server listing, a tree file or a user) is unsafe or malformed.
    #[error(
        "invalid repo file path {path:?}: {reason}; refusing to touch the disk (ask the repo owner to rename the file)"
    )]
    InvalidRepoPath {
        /// The offending path, verbatim.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A repo id is not of the form `namespace/name` with safe characters.
    #[error("invalid repo id {id:?}: {reason} (expected \"namespace/name\")")]
    InvalidRepoId {
        /// The offending id.
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A repo type name is not one of model|dataset|space|code|mcp|skill.
    #[error("invalid repo type {value:?}: expected one of model, dataset, space, code, mcp, skill")]
    InvalidRepoType {
        /// The offending value.
        value: String,
    },

    /// A revision (branch, tag, commit) name is unsafe as a `refs/` file name.
    #[error("invalid revision {revision:?}: {reason}")]
    InvalidRevision {
        /// The offending revision.
        revision: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A commit hash is not 40 hex digits.
    #[error("invalid commit hash {commit:?}: expected 40 hexadecimal digits")]
    InvalidCommit {
        /// The offending value.
        commit: String,
    },

    /// An ETag is empty or contains characters that are unsafe in a file name.
    #[error("invalid ETag {etag:?}: {reason}")]
    InvalidEtag {
        /// The offending ETag.
        etag: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Waiting for a cross-process lock took longer than allowed.
    #[error(
        "timed out after {waited:?} waiting for lock {path}: another csghub-cli or huggingface_hub process \
         is using this cache entry; wait for it to finish, or delete the lock file if no such process is running"
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },

    /// The revision is not known to the local cache (no ref, no snapshot, no matching commit prefix).
    #[error(
        "revision {revision:?} of {repo} is not in the cache at {cache}; download it first (without offline mode)"
    )]
    RevisionNotCached {
        /// The repo folder name (`models--ns--name`).
        repo: String,
        /// The requested revision.
        revision: String,
        /// The repo folder.
        cache: PathBuf,
    },

    /// An abbreviated commit matches several cached commits.
    #[error(
        "abbreviated commit {revision:?} of {repo} is ambiguous: it matches {candidates:?}; give more digits"
    )]
    AmbiguousRevision {
        /// The repo folder name.
        repo: String,
        /// The abbreviated commit.
        revision: String,
        /// The matching full commits.
        candidates: Vec<String>,
    },

    /// The file is not in the local snapshot (it may exist on the server).
    #[error(
        "{path} at commit {commit} of {repo} is not in the cache{detail}; download it first (without offline mode)"
    )]
    EntryNotCached {
        /// The repo folder name.
        repo: String,
        /// The resolved commit.
        commit: String,
        /// The requested repo path.
        path: String,
        /// Extra detail (", the snapshot is incomplete" …).
        detail: &'static str,
    },

    /// The cache knows the file does not exist in the repo at that commit (`.no_exist` marker or tree listing).
    #[error(
        "{path} does not exist in {repo} at commit {commit} (known from the cached {source_of_truth})"
    )]
    EntryNotFound {
        /// The repo folder name.
        repo: String,
        /// The resolved commit.
        commit: String,
        /// The requested repo path.
        path: String,
        /// Where we learned it (".no_exist marker", "tree listing").
        source_of_truth: &'static str,
    },

    /// `link_snapshot` was asked to point at a blob that is not in `blobs/`.
    #[error("blob {path} does not exist; finish writing it before linking a snapshot file to it")]
    BlobMissing {
        /// The expected blob path.
        path: PathBuf,
    },

    /// Written or stored content does not match what it should be.
    #[error(
        "{what} mismatch for {path}: expected {expected}, got {actual}; the file was not kept, download it again"
    )]
    Mismatch {
        /// "size", "sha256", "git blob sha1".
        what: &'static str,
        /// The file involved.
        path: PathBuf,
        /// Expected value.
        expected: String,
        /// Actual value.
        actual: String,
    },

    /// A metadata file (tree listing, resume sidecar, local-dir metadata, ref) is unreadable or malformed.
    #[error("corrupt cache metadata {path}: {reason}; delete it and download again")]
    CorruptMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A resumable partial download is not complete yet.
    #[error("partial download {path} is incomplete: {missing} bytes still missing")]
    PartialIncomplete {
        /// The partial file.
        path: PathBuf,
        /// Missing byte count.
        missing: u64,
    },

    /// A write outside the declared size of a resumable partial.
    #[error("write of {len} bytes at offset {offset} is beyond the expected size {size} of {path}")]
    OutOfRange {
        /// The partial file.
        path: PathBuf,
        /// Offset of the write.
        offset: u64,
        /// Length of the write.
        len: u64,
        /// Declared size.
        size: u64,
    },

    /// The home directory could not be determined and no cache root was given.
    #[error(
        "cannot find the cache: no --cache-dir given, CSGHUB_CACHE is unset and the home directory is unknown"
    )]
    NoHome,
}

/// Shorthand result type.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// Attach an operation and path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| CacheError::Io {
            op,
            path: path.into(),
            source,
        })
    }
}
