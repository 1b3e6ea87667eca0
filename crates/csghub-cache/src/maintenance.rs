//! Maintenance: scan, delete (with blob garbage collection), prune and verify. Returns data, never prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::blob::{EtagMatch, match_etag};
use crate::cache::{CacheDir, RepoCache};
use crate::error::{CacheError, IoContext, Result};
use crate::fsutil::{file_len, is_temp_name};
use crate::hash::{FileDigests, hash_file};
use crate::lock::CacheLock;
use crate::types::{Etag, RepoRef, is_commit_hash};

/// Files the scanner ignores wherever they appear (OS litter), as huggingface_hub does.
const IGNORED: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// A problem found while scanning; the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanWarning {
    /// A folder at the root that is not `{type}s--ns--name`.
    NotARepoFolder {
        /// The folder or file.
        path: PathBuf,
    },
    /// A repo folder without `snapshots/`.
    MissingSnapshots {
        /// The repo folder.
        repo_path: PathBuf,
    },
    /// A plain file directly in `snapshots/` (only commit folders belong there).
    FileInSnapshots {
        /// The file.
        path: PathBuf,
    },
    /// A snapshot entry whose blob is gone.
    BrokenSymlink {
        /// The symlink.
        path: PathBuf,
    },
    /// A ref pointing at a commit with no snapshot.
    DanglingRef {
        /// The ref file.
        path: PathBuf,
        /// The commit it names.
        commit: String,
    },
    /// A ref file not containing a commit hash.
    CorruptRef {
        /// The ref file.
        path: PathBuf,
    },
    /// An entry that could not be read.
    Unreadable {
        /// The entry.
        path: PathBuf,
        /// The OS error text.
        error: String,
    },
}

impl fmt::Display for ScanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanWarning::NotARepoFolder { path } => {
                write!(f, "not a cache repo folder: {}", path.display())
            }
            ScanWarning::MissingSnapshots { repo_path } => {
                write!(f, "snapshots/ missing in {}", repo_path.display())
            }
            ScanWarning::FileInSnapshots { path } => {
                write!(
                    f,
                    "snapshots folder corrupted, found a file: {}",
                    path.display()
                )
            }
            ScanWarning::BrokenSymlink { path } => {
                write!(f, "blob missing (broken symlink): {}", path.display())
            }
            ScanWarning::DanglingRef { path, commit } => write!(
                f,
                "ref {} points at commit {commit} which has no snapshot",
                path.display()
            ),
            ScanWarning::CorruptRef { path } => {
                write!(f, "ref {} does not contain a commit hash", path.display())
            }
            ScanWarning::Unreadable { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
        }
    }
}

/// One file of a cached revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Repo-relative path (`/`-separated).
    pub repo_path: String,
    /// The entry in `snapshots/<commit>/`.
    pub file_path: PathBuf,
    /// What it resolves to (the blob, or the file itself for copies).
    pub blob_path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Blob last access time.
    pub last_accessed: Option<SystemTime>,
    /// Blob last modification time.
    pub last_modified: Option<SystemTime>,
}

/// One cached revision (snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionInfo {
    /// Full commit hash.
    pub commit: String,
    /// `snapshots/<commit>`.
    pub path: PathBuf,
    /// Its files, sorted by path.
    pub files: Vec<CachedFile>,
    /// Sum of its files' sizes.
    pub size_on_disk: u64,
    /// Refs pointing at it, sorted.
    pub refs: Vec<String>,
    /// Latest blob modification.
    pub last_modified: Option<SystemTime>,
}

/// One cached repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// Type and id.
    pub repo: RepoRef,
    /// The repo folder.
    pub path: PathBuf,
    /// Bytes of distinct blobs referenced by its revisions (a shared blob counts once).
    pub size_on_disk: u64,
    /// Number of distinct blobs.
    pub nb_files: usize,
    /// Revisions, sorted by commit.
    pub revisions: Vec<RevisionInfo>,
    /// All refs: name → commit.
    pub refs: BTreeMap<String, String>,
    /// Latest access of any blob.
    pub last_accessed: Option<SystemTime>,
    /// Latest modification of any blob.
    pub last_modified: Option<SystemTime>,
}

/// An interrupted download left in `blobs/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteFile {
    /// The `.incomplete` file.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
}

/// Result of [`CacheDir::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheInfo {
    /// The scanned root.
    pub root: PathBuf,
    /// Repos, sorted by type then id.
    pub repos: Vec<RepoInfo>,
    /// `*.incomplete` files in `*/blobs/`.
    pub incomplete_files: Vec<IncompleteFile>,
    /// Bytes of distinct blobs over the whole cache.
    pub size_on_disk: u64,
    /// Problems found.
    pub warnings: Vec<ScanWarning>,
}

/// What a delete will remove; inspect it for `--dry-run`, then [`DeletePlan::execute`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletePlan {
    /// Whole repo folders.
    pub repos: Vec<PathBuf>,
    /// Snapshot folders plus their `trees/` and `.no_exist/` entries.
    pub snapshots: Vec<PathBuf>,
    /// Ref files.
    pub refs: Vec<PathBuf>,
    /// Blobs no remaining revision uses, with their lock files.
    pub blobs: Vec<(PathBuf, PathBuf)>,
    /// Bytes expected to be freed.
    pub expected_freed: u64,
}

/// What a delete or prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Paths removed.
    pub removed: Vec<PathBuf>,
    /// Blobs kept because another process holds their lock (a download is running).
    pub skipped_locked: Vec<PathBuf>,
    /// Bytes freed.
    pub freed: u64,
}

/// Options for [`CacheDir::prune`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOptions {
    /// Only report.
    pub dry_run: bool,
    /// Also delete revisions no ref points at (what `hf cache prune` does; note that downloads pinned
    /// to a commit have no ref).
    pub detached_revisions: bool,
    /// Dangling refs, temp files and unreferenced blobs younger than this are left alone (a
    /// download may be starting or finishing).
    pub grace: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            dry_run: false,
            detached_revisions: false,
            grace: Duration::from_secs(3600),
        }
    }
}

/// What [`CacheDir::prune`] removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Orphaned `.incomplete` files (no process holds their blob lock).
    pub incomplete: Vec<PathBuf>,
    /// Blobs referenced by no snapshot.
    pub unreferenced_blobs: Vec<PathBuf>,
    /// Refs pointing at commits with no snapshot.
    pub dangling_refs: Vec<PathBuf>,
    /// Leftover `*.<8hex>.tmp` files.
    pub temp_files: Vec<PathBuf>,
    /// Detached revisions removed (only with [`PruneOptions::detached_revisions`]).
    pub detached_revisions: Vec<PathBuf>,
    /// Entries kept because a process holds their lock.
    pub skipped_locked: Vec<PathBuf>,
    /// Unreferenced blobs and unique temp files kept because they are younger than
    /// [`PruneOptions::grace`] (a lock-free download of a small file may be finishing).
    pub skipped_young: Vec<PathBuf>,
    /// Bytes freed (or that would be).
    pub freed: u64,
}

/// A verification failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyProblem {
    /// A blob's content does not match its ETag name.
    BlobMismatch {
        /// The blob.
        path: PathBuf,
        /// Its name.
        etag: String,
        /// Content SHA-256.
        sha256: String,
        /// Content git blob SHA-1.
        git_sha1: String,
    },
    /// A snapshot file differs from the cached tree listing.
    TreeMismatch {
        /// The snapshot entry.
        path: PathBuf,
        /// "size", "sha256" or "git blob sha1".
        what: &'static str,
        /// From the tree listing.
        expected: String,
        /// Found.
        actual: String,
    },
    /// A snapshot entry whose blob is gone.
    BrokenSymlink {
        /// The entry.
        path: PathBuf,
    },
    /// A file could not be read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The error text.
        error: String,
    },
}

/// Result of [`RepoCache::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blobs hashed.
    pub blobs_checked: usize,
    /// Snapshot files compared with a tree listing.
    pub files_checked: usize,
    /// Blobs whose names are not hashes (nothing to compare).
    pub unverifiable: Vec<PathBuf>,
    /// Files listed in a tree but absent from the snapshot (normal after a filtered download).
    pub missing_files: Vec<(String, String)>,
    /// Failures.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// True if no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn is_ignored(name: &str) -> bool {
    IGNORED.contains(&name)
}

fn read_dir_sorted(dir: &Path) -> std::io::Result<Vec<fs::DirEntry>> {
    let mut v: Vec<_> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

/// Walk `dir` recursively, giving (relative `/` path, full path) of every non-directory entry.
fn walk_files(dir: &Path, warnings: &mut Vec<ScanWarning>) -> Vec<(String, PathBuf)> {
    fn rec(
        dir: &Path,
        prefix: &str,
        out: &mut Vec<(String, PathBuf)>,
        warnings: &mut Vec<ScanWarning>,
    ) {
        let entries = match read_dir_sorted(dir) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(ScanWarning::Unreadable {
                    path: dir.to_path_buf(),
                    error: e.to_string(),
                });
                return;
            }
        };
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_ignored(&name) {
                continue;
            }
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let path = e.path();
            // file_type() does not follow symlinks: a link to a directory is not walked.
            match e.file_type() {
                Ok(t) if t.is_dir() => rec(&path, &rel, out, warnings),
                Ok(_) => out.push((rel, path)),
                Err(err) => warnings.push(ScanWarning::Unreadable {
                    path,
                    error: err.to_string(),
                }),
            }
        }
    }
    let mut out = Vec::new();
    rec(dir, "", &mut out, warnings);
    out
}

fn max_time(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Temp names we or huggingface_hub create in a snapshot or ref folder.
fn is_leftover(name: &str) -> bool {
    name.ends_with(".incomplete") || is_temp_name(name)
}

/// `<etag>.<8 hex>.incomplete`: a process-unique temp that may be written without the blob
/// lock (unlike `<etag>.incomplete` and our resumable `<etag>.csghub.incomplete`).
fn is_unique_temp(name: &str) -> bool {
    name.strip_suffix(".incomplete")
        .and_then(|stem| stem.split_once('.'))
        .is_some_and(|(_, tag)| tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn etag_of_incomplete(name: &str) -> Option<Etag> {
    let stem = name.strip_suffix(".incomplete")?;
    Etag::new(stem.split('.').next()?).ok()
}

fn older_than(path: &Path, grace: Duration) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age >= grace)
}

impl RepoCache {
    /// Scan this repo folder.
    pub fn scan(&self) -> (RepoInfo, Vec<ScanWarning>) {
        let mut warnings = Vec::new();
        let dir = self.path().to_path_buf();

        // Refs (may be nested, like refs/pr/1).
        let mut refs = BTreeMap::new();
        let refs_dir = dir.join("refs");
        if refs_dir.is_dir() {
            for (name, path) in walk_files(&refs_dir, &mut warnings) {
                if path
                    .file_name()
                    .is_some_and(|n| is_leftover(&n.to_string_lossy()))
                {
                    continue;
                }
                match fs::read_to_string(&path) {
                    Ok(t) if is_commit_hash(t.trim()) => {
                        refs.insert(name, t.trim().to_owned());
                    }
                    Ok(_) => warnings.push(ScanWarning::CorruptRef { path }),
                    Err(e) => warnings.push(ScanWarning::Unreadable {
                        path,
                        error: e.to_string(),
                    }),
                }
            }
        }

        let snaps = dir.join("snapshots");
        let mut revisions = Vec::new();
        let mut blobs: HashMap<PathBuf, (u64, Option<SystemTime>, Option<SystemTime>)> =
            HashMap::new();
        if !snaps.is_dir() {
            warnings.push(ScanWarning::MissingSnapshots {
                repo_path: dir.clone(),
            });
        } else {
            match read_dir_sorted(&snaps) {
                Err(e) => warnings.push(ScanWarning::Unreadable {
                    path: snaps.clone(),
                    error: e.to_string(),
                }),
                Ok(entries) => {
                    for e in entries {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if is_ignored(&name) {
                            continue;
                        }
                        let path = e.path();
                        if !path.is_dir() {
                            warnings.push(ScanWarning::FileInSnapshots { path });
                            continue;
                        }
                        let rev =
                            self.scan_revision(&name, &path, &refs, &mut blobs, &mut warnings);
                        revisions.push(rev);
                    }
                }
            }
        }

        let snapshot_commits: BTreeSet<&str> = revisions
            .iter()
            .map(|r: &RevisionInfo| r.commit.as_str())
            .collect();
        for (name, commit) in &refs {
            if !snapshot_commits.contains(commit.as_str()) {
                let mut p = refs_dir.clone();
                p.extend(name.split('/'));
                warnings.push(ScanWarning::DanglingRef {
                    path: p,
                    commit: commit.clone(),
                });
            }
        }

        let size_on_disk = blobs.values().map(|b| b.0).sum();
        let last_accessed = blobs.values().fold(None, |acc, b| max_time(acc, b.1));
        let last_modified = blobs.values().fold(None, |acc, b| max_time(acc, b.2));
        let info = RepoInfo {
            repo: self.repo().clone(),
            path: dir,
            size_on_disk,
            nb_files: blobs.len(),
            revisions,
            refs,
            last_accessed,
            last_modified,
        };
        (info, warnings)
    }

    fn scan_revision(
        &self,
        commit: &str,
        path: &Path,
        refs: &BTreeMap<String, String>,
        blobs: &mut HashMap<PathBuf, (u64, Option<SystemTime>, Option<SystemTime>)>,
        warnings: &mut Vec<ScanWarning>,
    ) -> RevisionInfo {
        let mut files = Vec::new();
        for (rel, fp) in walk_files(path, warnings) {
            if fp
                .file_name()
                .is_some_and(|n| is_leftover(&n.to_string_lossy()))
            {
                continue;
            }
            let blob_path = match fs::canonicalize(&fp) {
                Ok(b) => b,
                Err(_) => {
                    warnings.push(ScanWarning::BrokenSymlink { path: fp });
                    continue;
                }
            };
            let meta = match fs::metadata(&blob_path) {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(ScanWarning::Unreadable {
                        path: fp,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            let (size, acc, modi) = (meta.len(), meta.accessed().ok(), meta.modified().ok());
            blobs.insert(blob_path.clone(), (size, acc, modi));
            files.push(CachedFile {
                repo_path: rel,
                file_path: fp,
                blob_path,
                size,
                last_accessed: acc,
                last_modified: modi,
            });
        }
        let last_modified = files
            .iter()
            .fold(None, |acc, f| max_time(acc, f.last_modified))
            .or_else(|| fs::metadata(path).and_then(|m| m.modified()).ok());
        RevisionInfo {
            commit: commit.to_owned(),
            path: path.to_path_buf(),
            size_on_disk: files.iter().map(|f| f.size).sum(),
            files,
            refs: refs
                .iter()
                .filter(|(_, c)| c.as_str() == commit)
                .map(|(n, _)| n.clone())
                .collect(),
            last_modified,
        }
    }

    /// Plan deleting some revisions (full commits). Deleting every revision removes the whole repo
    /// folder; otherwise snapshots, their refs, trees and `.no_exist` entries go, and only the blobs no
    /// remaining revision uses.
    pub fn plan_delete_revisions(&self, commits: &[&str]) -> Result<DeletePlan> {
        let (info, _) = self.scan();
        let doomed: BTreeSet<&str> = commits.iter().copied().collect();
        for c in &doomed {
            if !info.revisions.iter().any(|r| r.commit == *c) {
                return Err(CacheError::RevisionNotCached {
                    repo: self.repo().folder_name(),
                    revision: (*c).to_owned(),
                    cache: self.path().to_path_buf(),
                });
            }
        }
        if info
            .revisions
            .iter()
            .all(|r| doomed.contains(r.commit.as_str()))
        {
            return self.plan_delete_repo();
        }
        let mut plan = DeletePlan::default();
        let kept: BTreeSet<&PathBuf> = info
            .revisions
            .iter()
            .filter(|r| !doomed.contains(r.commit.as_str()))
            .flat_map(|r| r.files.iter().map(|f| &f.blob_path))
            .collect();
        let mut planned_blobs = BTreeSet::new();
        for rev in info
            .revisions
            .iter()
            .filter(|r| doomed.contains(r.commit.as_str()))
        {
            plan.snapshots.push(rev.path.clone());
            for extra in [
                self.tree_path(&rev.commit)?,
                self.path().join(".no_exist").join(&rev.commit),
            ] {
                if fs::symlink_metadata(&extra).is_ok() {
                    plan.snapshots.push(extra);
                }
            }
            for r in &rev.refs {
                let mut p = self.path().join("refs");
                p.extend(r.split('/'));
                plan.refs.push(p);
            }
            for f in &rev.files {
                let is_symlink = fs::symlink_metadata(&f.file_path)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false);
                if !is_symlink {
                    // A copy inside the snapshot: freed with the snapshot folder.
                    plan.expected_freed += f.size;
                    continue;
                }
                if kept.contains(&f.blob_path) || !planned_blobs.insert(f.blob_path.clone()) {
                    continue;
                }
                let lock = f
                    .blob_path
                    .file_name()
                    .and_then(|n| Etag::new(&n.to_string_lossy()).ok())
                    .map(|e| self.lock_path(&e))
                    .unwrap_or_default();
                plan.expected_freed += f.size;
                plan.blobs.push((f.blob_path.clone(), lock));
            }
        }
        Ok(plan)
    }

    /// Plan deleting the whole repo folder.
    pub fn plan_delete_repo(&self) -> Result<DeletePlan> {
        let (info, _) = self.scan();
        let mut freed = info.size_on_disk;
        // Unreferenced blobs and partials also go.
        if let Ok(rd) = fs::read_dir(self.blobs_dir()) {
            let referenced: BTreeSet<&PathBuf> = info
                .revisions
                .iter()
                .flat_map(|r| r.files.iter().map(|f| &f.blob_path))
                .collect();
            for e in rd.flatten() {
                let p = fs::canonicalize(e.path()).unwrap_or_else(|_| e.path());
                if !referenced.contains(&p) {
                    freed += file_len(&p);
                }
            }
        }
        if !self.path().exists() {
            return Err(CacheError::RevisionNotCached {
                repo: self.repo().folder_name(),
                revision: "(any)".into(),
                cache: self.path().to_path_buf(),
            });
        }
        Ok(DeletePlan {
            repos: vec![self.path().to_path_buf()],
            expected_freed: freed,
            ..DeletePlan::default()
        })
    }

    /// Recompute checksums: every blob against its ETag name (SHA-256 for 64-hex names; git blob SHA-1,
    /// or the SHA-1 of its git-lfs pointer, for 40-hex names), and every snapshot file against the
    /// cached tree listing (size; `lfs_sha256` or `blob_id`). `commit` limits the tree checks and the
    /// blobs to one revision.
    pub fn verify(&self, commit: Option<&str>) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut digests: HashMap<PathBuf, Option<FileDigests>> = HashMap::new();
        let mut hash = |p: &Path, report: &mut VerifyReport| -> Option<FileDigests> {
            digests
                .entry(p.to_path_buf())
                .or_insert_with(|| match hash_file(p) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        report.problems.push(VerifyProblem::Unreadable {
                            path: p.to_path_buf(),
                            error: e.to_string(),
                        });
                        None
                    }
                })
                .clone()
        };

        let commits: Vec<String> = match commit {
            Some(c) => vec![self.resolve_revision(c)?],
            None => {
                let (info, _) = self.scan();
                info.revisions.into_iter().map(|r| r.commit).collect()
            }
        };

        // Blobs to check by name: all of blobs/ for a full verify, else those the revision links to.
        let mut blob_files: BTreeSet<PathBuf> = BTreeSet::new();
        if commit.is_none()
            && let Ok(rd) = fs::read_dir(self.blobs_dir())
        {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if Etag::new(&name).is_ok() && e.file_type().is_ok_and(|t| t.is_file()) {
                    blob_files.insert(e.path());
                }
            }
        }

        let mut noop = Vec::new();
        for c in &commits {
            let dir = self.snapshot_dir(c)?;
            let tree = self.read_tree(c)?;
            for (rel, fp) in walk_files(&dir, &mut noop) {
                if fp
                    .file_name()
                    .is_some_and(|n| is_leftover(&n.to_string_lossy()))
                {
                    continue;
                }
                let target = match fs::canonicalize(&fp) {
                    Ok(t) => t,
                    Err(_) => {
                        report
                            .problems
                            .push(VerifyProblem::BrokenSymlink { path: fp.clone() });
                        continue;
                    }
                };
                let is_link = fs::symlink_metadata(&fp).is_ok_and(|m| m.file_type().is_symlink());
                if is_link {
                    blob_files.insert(
                        self.blobs_dir()
                            .join(target.file_name().unwrap_or_default()),
                    );
                }
                let Some(tree) = &tree else { continue };
                let Some(entry) = crate::types::RepoPath::new(&rel)
                    .ok()
                    .and_then(|rp| tree.files.get(&rp))
                else {
                    continue;
                };
                let Some(d) = hash(&target, &mut report) else {
                    continue;
                };
                report.files_checked += 1;
                let want_size = entry.lfs_size.unwrap_or(entry.size);
                let mut push = |what, expected: String, actual: String| {
                    report.problems.push(VerifyProblem::TreeMismatch {
                        path: fp.clone(),
                        what,
                        expected,
                        actual,
                    })
                };
                if want_size != d.size {
                    push("size", want_size.to_string(), d.size.to_string());
                } else if let Some(sha) = &entry.lfs_sha256 {
                    if !sha.eq_ignore_ascii_case(&d.sha256) {
                        push("sha256", sha.clone(), d.sha256.clone());
                    }
                } else if !entry.blob_id.eq_ignore_ascii_case(&d.git_sha1) {
                    push("git blob sha1", entry.blob_id.clone(), d.git_sha1.clone());
                }
            }
            if let Some(tree) = &tree {
                for p in tree.files.keys() {
                    if !p.join_to(&dir).is_file() {
                        report.missing_files.push((c.clone(), p.to_string()));
                    }
                }
            }
        }

        for b in &blob_files {
            let Some(etag) = b
                .file_name()
                .and_then(|n| Etag::new(&n.to_string_lossy()).ok())
            else {
                continue;
            };
            let Some(d) = hash(b, &mut report) else {
                continue;
            };
            report.blobs_checked += 1;
            match match_etag(&etag, &d) {
                EtagMatch::Mismatch => report.problems.push(VerifyProblem::BlobMismatch {
                    path: b.clone(),
                    etag: etag.to_string(),
                    sha256: d.sha256,
                    git_sha1: d.git_sha1,
                }),
                EtagMatch::Unverifiable => report.unverifiable.push(b.clone()),
                _ => {}
            }
        }
        Ok(report)
    }
}

impl DeletePlan {
    /// Remove what the plan lists. Blobs whose lock another process holds are kept and reported.
    pub fn execute(&self) -> Result<DeleteReport> {
        let mut report = DeleteReport::default();
        for r in &self.repos {
            fs::remove_dir_all(r).ctx("delete repo folder", r)?;
            report.removed.push(r.clone());
        }
        for s in &self.snapshots {
            let res = if fs::symlink_metadata(s).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(s)
            } else {
                fs::remove_file(s)
            };
            res.ctx("delete snapshot", s)?;
            report.removed.push(s.clone());
        }
        for r in &self.refs {
            match fs::remove_file(r) {
                Ok(()) => report.removed.push(r.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("delete ref", r),
            }
        }
        for (b, lock) in &self.blobs {
            // Hold the blob lock while deleting so a concurrent download that is about to link this
            // blob is not broken; if it is held, keep the blob.
            let guard = if lock.as_os_str().is_empty() {
                None
            } else {
                match CacheLock::try_acquire(lock)? {
                    Some(g) => Some(g),
                    None => {
                        report.skipped_locked.push(b.clone());
                        continue;
                    }
                }
            };
            let size = file_len(b);
            match fs::remove_file(b) {
                Ok(()) => {
                    report.freed += size;
                    report.removed.push(b.clone());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("delete blob", b),
            }
            drop(guard);
        }
        if !self.repos.is_empty() || !self.snapshots.is_empty() {
            report.freed = report.freed.max(self.expected_freed);
        }
        Ok(report)
    }
}

impl CacheDir {
    /// Repo folders present in the cache, sorted; other entries become warnings.
    fn repo_folders(&self, warnings: &mut Vec<ScanWarning>) -> Result<Vec<RepoCache>> {
        let entries = match read_dir_sorted(self.root()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).ctx("list cache", self.root()),
        };
        let mut out = Vec::new();
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".locks" || name == "CACHEDIR.TAG" || is_ignored(&name) {
                continue;
            }
            match RepoRef::from_folder_name(&name) {
                Some(r) if e.path().is_dir() => out.push(self.repo(r)),
                _ => warnings.push(ScanWarning::NotARepoFolder { path: e.path() }),
            }
        }
        Ok(out)
    }

    /// Scan the whole cache: repos, revisions, refs, sizes (shared blobs counted once), access times,
    /// incomplete downloads and warnings for corrupt entries.
    pub fn scan(&self) -> Result<CacheInfo> {
        let mut warnings = Vec::new();
        let mut repos = Vec::new();
        let mut incomplete_files = Vec::new();
        let mut all_blobs: HashMap<PathBuf, u64> = HashMap::new();
        for rc in self.repo_folders(&mut warnings)? {
            let (info, w) = rc.scan();
            warnings.extend(w);
            for f in info.revisions.iter().flat_map(|r| &r.files) {
                all_blobs.insert(f.blob_path.clone(), f.size);
            }
            if let Ok(rd) = read_dir_sorted(&rc.blobs_dir()) {
                for e in rd {
                    if e.file_name().to_string_lossy().ends_with(".incomplete") {
                        let p = e.path();
                        incomplete_files.push(IncompleteFile {
                            size: file_len(&p),
                            path: p,
                        });
                    }
                }
            }
            repos.push(info);
        }
        Ok(CacheInfo {
            root: self.root().to_path_buf(),
            size_on_disk: all_blobs.values().sum(),
            repos,
            incomplete_files,
            warnings,
        })
    }

    /// Remove orphaned `.incomplete` files (only those whose blob lock is free; process-unique
    /// ones also older than `opts.grace`), blobs no snapshot references (lock free and older than
    /// `opts.grace`), refs to commits without a snapshot and leftover temp files (both older than
    /// `opts.grace`), and with `opts.detached_revisions` revisions no ref points at.
    pub fn prune(&self, opts: &PruneOptions) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        let mut ignored = Vec::new();
        for rc in self.repo_folders(&mut ignored)? {
            let (mut info, _) = rc.scan();

            if opts.detached_revisions {
                let detached: Vec<String> = info
                    .revisions
                    .iter()
                    .filter(|r| r.refs.is_empty())
                    .map(|r| r.commit.clone())
                    .collect();
                if !detached.is_empty() {
                    let refs: Vec<&str> = detached.iter().map(String::as_str).collect();
                    let plan = rc.plan_delete_revisions(&refs)?;
                    report.freed += plan.expected_freed;
                    report
                        .detached_revisions
                        .extend(detached.iter().filter_map(|c| rc.snapshot_dir(c).ok()));
                    if !opts.dry_run {
                        let done = plan.execute()?;
                        report.skipped_locked.extend(done.skipped_locked);
                    }
                    if !plan.repos.is_empty() {
                        continue;
                    }
                    info = if opts.dry_run {
                        // Pretend the detached revisions are gone for the rest of the dry run.
                        info.revisions.retain(|r| !r.refs.is_empty());
                        info
                    } else {
                        rc.scan().0
                    };
                }
            }

            let referenced: BTreeSet<PathBuf> = info
                .revisions
                .iter()
                .flat_map(|r| r.files.iter().map(|f| f.blob_path.clone()))
                .collect();
            if let Ok(rd) = read_dir_sorted(&rc.blobs_dir()) {
                for e in rd {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let p = e.path();
                    if is_temp_name(&name) {
                        if older_than(&p, opts.grace) {
                            report.freed += file_len(&p);
                            report.temp_files.push(p.clone());
                            if !opts.dry_run {
                                let _ = fs::remove_file(&p);
                            }
                        }
                        continue;
                    }
                    let (etag, kind) = if name.ends_with(".incomplete") {
                        (etag_of_incomplete(&name), 0)
                    } else {
                        (Etag::new(&name).ok(), 1)
                    };
                    let Some(etag) = etag else { continue };
                    if kind == 1 {
                        let canon = fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
                        if referenced.contains(&canon) {
                            continue;
                        }
                    }
                    // Small files are written without the blob lock (a process-unique temp,
                    // then a rename, then the snapshot link): a young unreferenced blob or
                    // unique temp may be a download in progress.
                    let unlocked_kind = kind == 1 || is_unique_temp(&name);
                    if unlocked_kind && !older_than(&p, opts.grace) {
                        report.skipped_young.push(p);
                        continue;
                    }
                    let Some(_guard) = CacheLock::try_acquire(&rc.lock_path(&etag))? else {
                        report.skipped_locked.push(p);
                        continue;
                    };
                    report.freed += file_len(&p);
                    if !opts.dry_run {
                        fs::remove_file(&p).ctx("delete", &p)?;
                    }
                    if kind == 0 {
                        report.incomplete.push(p);
                    } else {
                        report.unreferenced_blobs.push(p);
                    }
                }
            }

            let snapshot_commits: BTreeSet<&str> =
                info.revisions.iter().map(|r| r.commit.as_str()).collect();
            let refs_dir = rc.path().join("refs");
            let mut noop = Vec::new();
            for (name, path) in walk_files(&refs_dir, &mut noop) {
                let file_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if is_leftover(&file_name) {
                    if older_than(&path, opts.grace) {
                        report.temp_files.push(path.clone());
                        if !opts.dry_run {
                            let _ = fs::remove_file(&path);
                        }
                    }
                    continue;
                }
                let Some(commit) = info.refs.get(&name) else {
                    continue;
                };
                if !snapshot_commits.contains(commit.as_str()) && older_than(&path, opts.grace) {
                    report.dangling_refs.push(path.clone());
                    if !opts.dry_run {
                        fs::remove_file(&path).ctx("delete dangling ref", &path)?;
                    }
                }
            }
        }
        Ok(report)
    }
}
