//! `csghub-transfer`: moving bytes between a CSGHub server and the cache or a local folder.
//!
//! One job: parallel, resumable, verified downloads and uploads, reporting progress through a
//! small trait ([`Reporter`]). It never prints and reads no environment variable.
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod error;
pub mod listing;
mod patterns;
mod progress;
mod retry;

pub use error::TransferError;
pub use patterns::Filter;
pub use progress::{FileOutcome, NoProgress, Reporter, UploadStatus};
pub use retry::RetryPolicy;
mod download;

pub use download::{
    DownloadConfig, Downloaded, Downloader, Plan, PlannedFile, Request, Target, cache_repo, tree_of,
};
mod large_folder;
mod upload;

pub use large_folder::{LargeFolderRequest, STATE_DIR};
pub use upload::{
    FileHashes, LFS_THRESHOLD, UploadConfig, UploadOutcome, UploadRequest, Uploaded, Uploader,
    hash_file, lfs_pointer, sha256_rate,
};

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
