//! The cache root ([`CacheDir`]) and one repo folder in it ([`RepoCache`]): paths, refs, snapshot links,
//! tree listings, `.no_exist` markers and offline resolution.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::blob::{BlobLock, BlobWriter, Expected};
use crate::error::{CacheError, IoContext, Result};
use crate::fsutil::{self, LinkKind};
use crate::lock::CacheLock;
use crate::tree::TreeListing;
use crate::types::{Etag, RepoPath, RepoRef, check_commit, is_commit_hash, validate_revision};

/// Environment variable naming the cache root (shared with pycsghub).
pub const CACHE_ENV: &str = "CSGHUB_CACHE";

/// Default cache root below the home directory.
pub const DEFAULT_CACHE_SUBDIR: &str = ".cache/csg/hub";

/// Content of `CACHEDIR.TAG`, byte-identical to huggingface_hub's.
pub const CACHEDIR_TAG_CONTENT: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by huggingface_hub.\n\
# For information about cache directory tags, see:\n\
#\thttps://bford.info/cachedir/\n";

/// The cache root, e.g. `~/.cache/csg/hub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDir {
    root: PathBuf,
    symlinks: bool,
    lock_timeout: Option<Duration>,
    tagged: TagMemo,
}

impl CacheDir {
    /// Use `root` as the cache root (symlinks on, lock timeout 10 minutes).
    pub fn new(root: impl Into<PathBuf>) -> CacheDir {
        CacheDir {
            root: root.into(),
            symlinks: true,
            lock_timeout: Some(Duration::from_secs(600)),
            tagged: TagMemo::default(),
        }
    }

    /// The ONE place that reads the environment: `explicit` if given, else `$CSGHUB_CACHE` (non-empty,
    /// `~/` expanded), else `~/.cache/csg/hub` (home from the OS).
    pub fn from_env_or_default(explicit: Option<PathBuf>) -> Result<CacheDir> {
        let root =
            CacheDir::resolve_root(explicit, std::env::var_os(CACHE_ENV), std::env::home_dir())?;
        Ok(CacheDir::new(root))
    }

    /// Pure version of [`CacheDir::from_env_or_default`]: the env values are passed in.
    pub fn resolve_root(
        explicit: Option<PathBuf>,
        csghub_cache: Option<OsString>,
        home: Option<PathBuf>,
    ) -> Result<PathBuf> {
        if let Some(p) = explicit {
            return Ok(p);
        }
        if let Some(v) = csghub_cache.filter(|v| !v.is_empty()) {
            let s = v.to_string_lossy();
            if s == "~" {
                return home.ok_or(CacheError::NoHome);
            }
            if let Some(rest) = s.strip_prefix("~/") {
                return Ok(home.ok_or(CacheError::NoHome)?.join(rest));
            }
            return Ok(PathBuf::from(v));
        }
        let home = home
            .filter(|h| !h.as_os_str().is_empty())
            .ok_or(CacheError::NoHome)?;
        Ok(DEFAULT_CACHE_SUBDIR.split('/').fold(home, |p, s| p.join(s)))
    }

    /// Store real copies in `snapshots/` instead of symlinks (like `HF_HUB_DISABLE_SYMLINKS=1`).
    pub fn with_symlinks(mut self, enabled: bool) -> CacheDir {
        self.symlinks = enabled;
        self
    }

    /// How long to wait for a blob lock (`None` = forever, like huggingface_hub).
    pub fn with_lock_timeout(mut self, timeout: Option<Duration>) -> CacheDir {
        self.lock_timeout = timeout;
        self
    }

    /// The configured lock timeout.
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }

    /// Whether snapshot files are symlinks (else copies).
    pub fn symlinks(&self) -> bool {
        self.symlinks
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/.locks`.
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join(".locks")
    }

    /// One repo's folder in this cache.
    pub fn repo(&self, repo: RepoRef) -> RepoCache {
        let dir = self.root.join(repo.folder_name());
        RepoCache {
            cache: self.clone(),
            repo,
            dir,
        }
    }

    /// Create the root and its `CACHEDIR.TAG` if missing (done before every write; once per
    /// handle and its clones, as a download writes many files).
    pub fn ensure_tag(&self) -> Result<()> {
        if self.tagged.0.load(Ordering::Relaxed) {
            return Ok(());
        }
        fsutil::create_dir_all(&self.root)?;
        fsutil::write_if_absent(
            &self.root.join("CACHEDIR.TAG"),
            CACHEDIR_TAG_CONTENT.as_bytes(),
        )?;
        self.tagged.0.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Whether [`CacheDir::ensure_tag`] already ran for a handle (shared by its clones). A memo,
/// not part of the handle's identity: equal handles compare equal whatever it holds.
#[derive(Debug, Clone, Default)]
struct TagMemo(Arc<AtomicBool>);

impl PartialEq for TagMemo {
    fn eq(&self, _: &TagMemo) -> bool {
        true
    }
}

impl Eq for TagMemo {}

/// Where an offline lookup of a whole snapshot stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// Every file of the cached tree listing is present.
    Complete,
    /// The tree listing names files that are not in the snapshot.
    Incomplete {
        /// The absent files.
        missing: Vec<RepoPath>,
    },
    /// No tree listing is cached, so completeness cannot be judged.
    Unknown,
}

/// Result of [`RepoCache::resolve_snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSnapshot {
    /// The full commit hash.
    pub commit: String,
    /// `snapshots/<commit>` (may not exist if nothing was downloaded yet).
    pub path: PathBuf,
    /// Completeness according to `trees/<commit>.json`.
    pub status: SnapshotStatus,
}

/// One repo folder (`models--ns--name`) of a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCache {
    cache: CacheDir,
    repo: RepoRef,
    dir: PathBuf,
}

impl RepoCache {
    /// The cache this repo lives in.
    pub fn cache(&self) -> &CacheDir {
        &self.cache
    }

    /// The repo.
    pub fn repo(&self) -> &RepoRef {
        &self.repo
    }

    /// The repo folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `blobs/`.
    pub fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// `blobs/<etag>`.
    pub fn blob_path(&self, etag: &Etag) -> PathBuf {
        self.blobs_dir().join(etag.as_str())
    }

    /// True if the finished blob exists.
    pub fn has_blob(&self, etag: &Etag) -> bool {
        self.blob_path(etag).is_file()
    }

    /// `snapshots/<commit>`.
    pub fn snapshot_dir(&self, commit: &str) -> Result<PathBuf> {
        check_commit(commit)?;
        Ok(self.dir.join("snapshots").join(commit))
    }

    /// `snapshots/<commit>/<path>`.
    pub fn snapshot_file(&self, commit: &str, path: &RepoPath) -> Result<PathBuf> {
        Ok(path.join_to(&self.snapshot_dir(commit)?))
    }

    /// `refs/<revision>`.
    pub fn ref_path(&self, revision: &str) -> Result<PathBuf> {
        validate_revision(revision)?;
        let mut p = self.dir.join("refs");
        for seg in revision.split('/') {
            p.push(seg);
        }
        Ok(p)
    }

    /// `trees/<commit>.json`.
    pub fn tree_path(&self, commit: &str) -> Result<PathBuf> {
        check_commit(commit)?;
        Ok(self.dir.join("trees").join(format!("{commit}.json")))
    }

    /// `.no_exist/<commit>/<path>`.
    pub fn no_exist_path(&self, commit: &str, path: &RepoPath) -> Result<PathBuf> {
        check_commit(commit)?;
        Ok(path.join_to(&self.dir.join(".no_exist").join(commit)))
    }

    /// `<root>/.locks/<repo_folder>/<etag>.lock`, the path huggingface_hub locks too.
    pub fn lock_path(&self, etag: &Etag) -> PathBuf {
        self.cache
            .locks_dir()
            .join(self.repo.folder_name())
            .join(format!("{etag}.lock"))
    }

    /// Record that `revision` (branch, tag, abbreviated commit) points at `commit`. Atomic (temp + rename),
    /// no trailing newline; does nothing when `revision` is the commit itself or the ref is already right
    /// (so read-only caches keep working).
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<()> {
        check_commit(commit)?;
        if revision == commit {
            return Ok(());
        }
        let path = self.ref_path(revision)?;
        if self.read_ref(revision).ok().flatten().as_deref() == Some(commit) {
            return Ok(());
        }
        self.cache.ensure_tag()?;
        fsutil::atomic_write(&path, commit.as_bytes(), "tmp")
    }

    /// The commit `refs/<revision>` points at; `Ok(None)` if there is no such ref. Surrounding whitespace
    /// is tolerated; anything but a 40-hex commit is a [`CacheError::CorruptMetadata`].
    pub fn read_ref(&self, revision: &str) -> Result<Option<String>> {
        let path = self.ref_path(revision)?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory =>
            {
                return Ok(None);
            }
            // `refs/pr` asked for while `refs/pr/1` exists: no such ref.
            Err(_) if path.is_dir() => return Ok(None),
            Err(e) => return Err(e).ctx("read ref", &path),
        };
        let commit = text.trim();
        if !is_commit_hash(commit) {
            return Err(CacheError::CorruptMetadata {
                path,
                reason: "a ref must contain a 40-hex commit hash".into(),
            });
        }
        Ok(Some(commit.to_owned()))
    }

    /// Take the cross-process lock for `etag` (waiting up to the cache's lock timeout).
    pub fn lock_blob(&self, etag: &Etag) -> Result<BlobLock> {
        self.lock_blob_notify(etag, |_, _| {})
    }

    /// Like [`RepoCache::lock_blob`], calling `notify(lock_path, waited)` about every 10 s of waiting.
    pub fn lock_blob_notify(
        &self,
        etag: &Etag,
        notify: impl FnMut(&Path, Duration),
    ) -> Result<BlobLock> {
        self.cache.ensure_tag()?;
        let lock =
            CacheLock::acquire_notify(&self.lock_path(etag), self.cache.lock_timeout, notify)?;
        Ok(BlobLock::new(self.clone(), etag.clone(), lock))
    }

    /// Start writing `blobs/<etag>` through a process-unique `blobs/<etag>.<8hex>.incomplete` file.
    /// Safe without the lock (the final rename is atomic), but take [`RepoCache::lock_blob`] to avoid
    /// downloading the same blob twice.
    pub fn begin_blob(&self, etag: &Etag, expected: Expected) -> Result<BlobWriter> {
        self.cache.ensure_tag()?;
        // BlobWriter creates `blobs/` if it is missing.
        let tmp = self
            .blobs_dir()
            .join(format!("{etag}.{}.incomplete", fsutil::random_hex8()));
        BlobWriter::create(tmp, self.blob_path(etag), Some(etag.clone()), expected)
    }

    /// Make `snapshots/<commit>/<path>` point at `blobs/<etag>`: a relative symlink
    /// (`../../blobs/<etag>`, one more `../` per directory level), or a copy when symlinks fail or are
    /// disabled. Returns the snapshot file path.
    pub fn link_snapshot(&self, commit: &str, path: &RepoPath, etag: &Etag) -> Result<PathBuf> {
        self.link_snapshot_kind(commit, path, etag).map(|(p, _)| p)
    }

    /// Like [`RepoCache::link_snapshot`], also telling whether a symlink or a copy was made.
    pub fn link_snapshot_kind(
        &self,
        commit: &str,
        path: &RepoPath,
        etag: &Etag,
    ) -> Result<(PathBuf, LinkKind)> {
        let link = self.snapshot_file(commit, path)?;
        let blob = self.blob_path(etag);
        if !blob.is_file() {
            return Err(CacheError::BlobMissing { path: blob });
        }
        self.cache.ensure_tag()?;
        let kind = fsutil::link_or_copy(&blob, &link, self.cache.symlinks)?;
        Ok((link, kind))
    }

    /// Record that `path` does not exist at `commit` (the server answered 404): an empty marker in
    /// `.no_exist/`.
    pub fn mark_missing(&self, commit: &str, path: &RepoPath) -> Result<()> {
        let p = self.no_exist_path(commit, path)?;
        self.cache.ensure_tag()?;
        if let Some(parent) = p.parent() {
            fsutil::create_dir_all(parent)?;
        }
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .ctx("create .no_exist marker", &p)?;
        Ok(())
    }

    /// Write `trees/<commit>.json` atomically.
    pub fn write_tree(&self, commit: &str, tree: &TreeListing) -> Result<()> {
        let p = self.tree_path(commit)?;
        self.cache.ensure_tag()?;
        tree.write(&p)
    }

    /// Read `trees/<commit>.json`; `Ok(None)` if absent.
    pub fn read_tree(&self, commit: &str) -> Result<Option<TreeListing>> {
        TreeListing::read(&self.tree_path(commit)?)
    }

    /// Cached commits: names of `snapshots/*` plus `trees/*.json`, sorted, deduplicated.
    pub fn cached_commits(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(self.dir.join("snapshots")) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str()
                    && is_commit_hash(n)
                {
                    out.push(n.to_owned());
                }
            }
        }
        if let Ok(rd) = fs::read_dir(self.dir.join("trees")) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str().and_then(|n| n.strip_suffix(".json"))
                    && is_commit_hash(n)
                {
                    out.push(n.to_owned());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Offline: revision (full commit, ref name, or abbreviated commit of ≥ 4 hex digits) → full commit.
    pub fn resolve_revision(&self, revision: &str) -> Result<String> {
        let not_cached = || CacheError::RevisionNotCached {
            repo: self.repo.folder_name(),
            revision: revision.to_owned(),
            cache: self.dir.clone(),
        };
        if is_commit_hash(revision) {
            return Ok(revision.to_owned());
        }
        if let Some(c) = self.read_ref(revision)? {
            return Ok(c);
        }
        let lower = revision.to_ascii_lowercase();
        if revision.len() >= 4 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut candidates: Vec<String> = self
                .cached_commits()
                .into_iter()
                .filter(|c| c.to_ascii_lowercase().starts_with(&lower))
                .collect();
            return match candidates.len() {
                0 => Err(not_cached()),
                1 => Ok(candidates.swap_remove(0)),
                _ => Err(CacheError::AmbiguousRevision {
                    repo: self.repo.folder_name(),
                    revision: revision.to_owned(),
                    candidates,
                }),
            };
        }
        Err(not_cached())
    }

    /// Offline: the local file for `path` at `revision`, from refs/snapshots/trees/.no_exist alone.
    ///
    /// Errors: [`CacheError::RevisionNotCached`], [`CacheError::EntryNotFound`] (known not to exist),
    /// [`CacheError::EntryNotCached`] (may exist; the detail says if the snapshot is known incomplete).
    pub fn resolve_file(&self, revision: &str, path: &RepoPath) -> Result<PathBuf> {
        let commit = self.resolve_revision(revision)?;
        let file = self.snapshot_file(&commit, path)?;
        // `is_file` follows the symlink, so a dangling link does not count as cached.
        if file.is_file() {
            return Ok(file);
        }
        let repo = self.repo.folder_name();
        if self.no_exist_path(&commit, path)?.exists() {
            return Err(CacheError::EntryNotFound {
                repo,
                commit,
                path: path.to_string(),
                source_of_truth: ".no_exist marker",
            });
        }
        match self.read_tree(&commit) {
            Ok(Some(tree)) if !tree.files.contains_key(path) => Err(CacheError::EntryNotFound {
                repo,
                commit,
                path: path.to_string(),
                source_of_truth: "tree listing",
            }),
            Ok(Some(_)) => Err(CacheError::EntryNotCached {
                repo,
                commit,
                path: path.to_string(),
                detail: " (the snapshot is incomplete)",
            }),
            // A corrupt tree file only costs us the extra detail.
            Ok(None) | Err(_) => {
                let detail = if fs::symlink_metadata(&file).is_ok() {
                    " (its snapshot entry is a broken symlink)"
                } else {
                    ""
                };
                Err(CacheError::EntryNotCached {
                    repo,
                    commit,
                    path: path.to_string(),
                    detail,
                })
            }
        }
    }

    /// Completeness of `snapshots/<commit>` against `trees/<commit>.json`.
    pub fn snapshot_status(&self, commit: &str) -> Result<SnapshotStatus> {
        let Some(tree) = self.read_tree(commit)? else {
            return Ok(SnapshotStatus::Unknown);
        };
        let dir = self.snapshot_dir(commit)?;
        let missing: Vec<RepoPath> = tree
            .files
            .keys()
            .filter(|p| !p.join_to(&dir).is_file())
            .cloned()
            .collect();
        Ok(if missing.is_empty() {
            SnapshotStatus::Complete
        } else {
            SnapshotStatus::Incomplete { missing }
        })
    }

    /// Offline: `revision` → its snapshot folder and whether it is complete.
    pub fn resolve_snapshot(&self, revision: &str) -> Result<ResolvedSnapshot> {
        let commit = self.resolve_revision(revision)?;
        let path = self.snapshot_dir(&commit)?;
        let status = self.snapshot_status(&commit)?;
        if status == SnapshotStatus::Unknown && !path.is_dir() {
            return Err(CacheError::RevisionNotCached {
                repo: self.repo.folder_name(),
                revision: revision.to_owned(),
                cache: self.dir.clone(),
            });
        }
        Ok(ResolvedSnapshot {
            commit,
            path,
            status,
        })
    }
}
