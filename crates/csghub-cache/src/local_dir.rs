//! Local-dir mode: files at `DIR/<path>`, bookkeeping in `DIR/.cache/huggingface/` exactly as
//! huggingface_hub writes it, so either tool knows on a second run what is up to date.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha1::Digest as _;

use crate::blob::{BlobWriter, Expected};
use crate::cache::CACHEDIR_TAG_CONTENT;
use crate::error::{IoContext, Result};
use crate::fsutil;
use crate::hash::hash_file;
use crate::lock::CacheLock;
use crate::tree::TreeListing;
use crate::types::{Etag, EtagKind, RepoPath, check_commit};

/// `download/<path>.metadata`: what was downloaded, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalFileMetadata {
    /// Commit the file was downloaded at.
    pub commit: String,
    /// The file's ETag (git blob SHA-1, or SHA-256 for LFS files).
    pub etag: String,
    /// Unix time (seconds, fractional) when the metadata was written.
    pub timestamp: f64,
}

/// A directory the user asked files to be downloaded into (`--local-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Use `root` as the local dir (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// The local dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/.cache/huggingface`.
    pub fn hf_dir(&self) -> PathBuf {
        self.root.join(".cache").join("huggingface")
    }

    /// Create `.cache/huggingface/` with its `.gitignore` (`*`) and `CACHEDIR.TAG`.
    pub fn ensure(&self) -> Result<()> {
        let hf = self.hf_dir();
        fsutil::create_dir_all(&hf)?;
        fsutil::write_if_absent(&hf.join(".gitignore"), b"*")?;
        fsutil::write_if_absent(&hf.join("CACHEDIR.TAG"), CACHEDIR_TAG_CONTENT.as_bytes())
    }

    /// `DIR/<path>`.
    pub fn file_path(&self, path: &RepoPath) -> PathBuf {
        path.join_to(&self.root)
    }

    fn download_path(&self, path: &RepoPath, suffix: &str) -> PathBuf {
        let p = path.join_to(&self.hf_dir().join("download"));
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        p.with_file_name(format!("{name}{suffix}"))
    }

    /// `.cache/huggingface/download/<path>.metadata`.
    pub fn metadata_path(&self, path: &RepoPath) -> PathBuf {
        self.download_path(path, ".metadata")
    }

    /// `.cache/huggingface/download/<path>.lock` (huggingface_hub's per-file lock).
    pub fn lock_path(&self, path: &RepoPath) -> PathBuf {
        self.download_path(path, ".lock")
    }

    /// Lock `path` across processes. Metadata reads/writes do not lock by themselves (a second lock
    /// on the same file from one process would deadlock); hold this around download + metadata write.
    pub fn lock(&self, path: &RepoPath, timeout: Option<Duration>) -> Result<CacheLock> {
        self.ensure()?;
        CacheLock::acquire(&self.lock_path(path), timeout)
    }

    /// Read the metadata of `path`. `Ok(None)` when there is none, when the file is missing, or when
    /// the file was modified after the metadata was written (mtime > timestamp + 1 s). Corrupt
    /// metadata is deleted (as huggingface_hub does) and reported as `None`.
    pub fn read_metadata(&self, path: &RepoPath) -> Result<Option<LocalFileMetadata>> {
        let mp = self.metadata_path(path);
        let text = match fs::read_to_string(&mp) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // Non-UTF-8 content is corruption, handled below like any other.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => String::new(),
            Err(e) => return Err(e).ctx("read metadata", &mp),
        };
        let Some(meta) = parse_metadata(&text) else {
            fs::remove_file(&mp).ctx("delete corrupt metadata", &mp)?;
            return Ok(None);
        };
        let Ok(stat) = fs::metadata(self.file_path(path)) else {
            return Ok(None);
        };
        let mtime = stat
            .modified()
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
            .unwrap_or(f64::INFINITY);
        // 1 s slack: mtime resolution differs between filesystems.
        Ok((mtime - 1.0 <= meta.timestamp).then_some(meta))
    }

    /// Write `commit\netag\ntimestamp\n` for `path` atomically, timestamped now.
    pub fn write_metadata(&self, path: &RepoPath, commit: &str, etag: &Etag) -> Result<()> {
        check_commit(commit)?;
        self.ensure()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let text = format!("{commit}\n{etag}\n{now}\n");
        fsutil::atomic_write(&self.metadata_path(path), text.as_bytes(), "tmp")
    }

    /// Decide whether `DIR/<path>` already holds the file at `commit` / `etag` (huggingface_hub's skip
    /// logic): valid metadata with the same commit or ETag → yes (metadata refreshed if only the ETag
    /// matched); no metadata but a SHA-256 ETag → hash the local file and, if equal, record it.
    pub fn is_up_to_date(
        &self,
        path: &RepoPath,
        commit: &str,
        etag: Option<&Etag>,
    ) -> Result<bool> {
        let file = self.file_path(path);
        if !file.is_file() {
            return Ok(false);
        }
        if let Some(meta) = self.read_metadata(path)? {
            if meta.commit == commit {
                return Ok(true);
            }
            if let Some(e) = etag
                && meta.etag == e.as_str()
            {
                self.write_metadata(path, commit, e)?;
                return Ok(true);
            }
            return Ok(false);
        }
        if let Some(e) = etag
            && e.kind() == EtagKind::Sha256
            && hash_file(&file)?.sha256.eq_ignore_ascii_case(e.as_str())
        {
            self.write_metadata(path, commit, e)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Lock `path` for a resumable download of the file with `etag` (see
    /// [`LocalFileLock::open_partial`]). Same lock file as [`LocalDir::lock`].
    pub fn lock_file(
        &self,
        path: &RepoPath,
        etag: &Etag,
        timeout: Option<Duration>,
    ) -> Result<LocalFileLock> {
        let lock = self.lock(path, timeout)?;
        Ok(LocalFileLock {
            dir: self.clone(),
            path: path.clone(),
            etag: etag.clone(),
            lock,
        })
    }

    /// Start writing `DIR/<path>` through
    /// `download/<dir>/<urlsafe-b64(sha1(name.metadata))>.<etag>.<8hex>.incomplete`; the file appears
    /// at `DIR/<path>` only on [`BlobWriter::finish`]. Write the metadata afterwards.
    pub fn begin_file(
        &self,
        path: &RepoPath,
        etag: &Etag,
        expected: Expected,
    ) -> Result<BlobWriter> {
        self.ensure()?;
        let mp = self.metadata_path(path);
        let meta_name = mp
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let short = base64::engine::general_purpose::URL_SAFE
            .encode(sha1::Sha1::digest(meta_name.as_bytes()));
        let tmp = mp.with_file_name(format!(
            "{short}.{etag}.{}.incomplete",
            fsutil::random_hex8()
        ));
        if let Some(parent) = tmp.parent() {
            fsutil::create_dir_all(parent)?;
        }
        let dest = self.file_path(path);
        if let Some(parent) = dest.parent() {
            fsutil::create_dir_all(parent)?;
        }
        BlobWriter::create(tmp, dest, Some(etag.clone()), expected)
    }

    /// `.cache/huggingface/trees/<commit>.json`.
    pub fn tree_path(&self, commit: &str) -> Result<PathBuf> {
        check_commit(commit)?;
        Ok(self.hf_dir().join("trees").join(format!("{commit}.json")))
    }

    /// Write the tree listing for `commit`.
    pub fn write_tree(&self, commit: &str, tree: &TreeListing) -> Result<()> {
        let p = self.tree_path(commit)?;
        self.ensure()?;
        tree.write(&p)
    }

    /// Read the tree listing for `commit`.
    pub fn read_tree(&self, commit: &str) -> Result<Option<TreeListing>> {
        TreeListing::read(&self.tree_path(commit)?)
    }
}

fn parse_metadata(text: &str) -> Option<LocalFileMetadata> {
    let mut lines = text.lines();
    let commit = lines.next()?.trim().to_owned();
    let etag = lines.next()?.trim().to_owned();
    let timestamp: f64 = lines.next()?.trim().parse().ok()?;
    if commit.is_empty() || etag.is_empty() || !timestamp.is_finite() {
        return None;
    }
    Some(LocalFileMetadata {
        commit,
        etag,
        timestamp,
    })
}

/// The cross-process lock on one local-dir file, with what a resumable download of it needs:
/// the partial `.cache/huggingface/download/<path>.csghub.incomplete` and its sidecar
/// `<path>.csghub.json.incomplete` (trusted only for the same ETag and size). Held until
/// dropped; write the metadata while holding it.
#[derive(Debug)]
pub struct LocalFileLock {
    dir: LocalDir,
    path: RepoPath,
    etag: Etag,
    lock: CacheLock,
}

impl LocalFileLock {
    /// The file's path in the repo.
    pub fn path(&self) -> &RepoPath {
        &self.path
    }

    /// The ETag being downloaded.
    pub fn etag(&self) -> &Etag {
        &self.etag
    }

    /// The lock file.
    pub fn lock_path(&self) -> &Path {
        self.lock.path()
    }

    /// The stable partial file.
    pub fn partial_path(&self) -> PathBuf {
        self.dir.download_path(&self.path, ".csghub.incomplete")
    }

    /// The sidecar recording completed ranges.
    pub fn sidecar_path(&self) -> PathBuf {
        self.dir
            .download_path(&self.path, ".csghub.json.incomplete")
    }

    /// `DIR/<path>`, where the verified file lands.
    pub fn dest_path(&self) -> PathBuf {
        self.dir.file_path(&self.path)
    }

    /// Open (or resume) the partial for a file of `size` bytes; the lock moves into it.
    pub fn open_partial(self, size: u64) -> Result<crate::PartialBlob<LocalFileLock>> {
        crate::PartialBlob::open(self, size)
    }
}
