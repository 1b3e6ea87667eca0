//! `csghub-cache`: the HuggingFace-compatible on-disk cache shared with huggingface_hub and pycsghub.
//!
//! One job: where files live on disk (`blobs/`, `snapshots/`, `refs/`, `trees/`, `.no_exist/`, locks,
//! local-dir metadata), how they are written atomically, found offline, and maintained. No HTTP.
//!
//! The layout is huggingface_hub's (see `HF-CACHE.md`), rooted at `~/.cache/csg/hub` or `$CSGHUB_CACHE`,
//! so pycsghub, huggingface_hub and csghub-rs share one cache.
#![doc = include_str!("../README.md")]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

mod blob;
mod cache;
mod error;
mod fsutil;
mod hash;
mod local_dir;
mod lock;
mod maintenance;
mod tree;
mod types;

pub use blob::{BlobLock, BlobWriter, EtagMatch, Expected, PartialBlob, PartialOwner, match_etag};
pub use cache::{
    CACHE_ENV, CACHEDIR_TAG_CONTENT, CacheDir, DEFAULT_CACHE_SUBDIR, RepoCache, ResolvedSnapshot,
    SnapshotStatus,
};
pub use error::{CacheError, Result};
pub use fsutil::LinkKind;
pub use hash::{
    FileDigests, GitBlobSha1, Sha256Hasher, hash_file, lfs_pointer, lfs_pointer_git_sha1,
};
pub use local_dir::{LocalDir, LocalFileLock, LocalFileMetadata};
pub use lock::{CacheLock, LOCK_NOTIFY_INTERVAL};
pub use maintenance::{
    CacheInfo, CachedFile, DeletePlan, DeleteReport, IncompleteFile, PruneOptions, PruneReport,
    RepoInfo, RevisionInfo, ScanWarning, VerifyProblem, VerifyReport,
};
pub use tree::{TREE_FORMAT_VERSION, TreeEntry, TreeListing};
pub use types::{
    Etag, EtagKind, MAX_REPO_PATH_LEN, MAX_SEGMENT_LEN, RepoId, RepoPath, RepoRef, RepoType,
    is_commit_hash, validate_revision,
};
