//! `upload-large-folder`: upload a big folder in several commits, surviving interruption.
//!
//! Files flow through a pipeline (hash → preupload → LFS upload → commit batches) with at most
//! `num_workers` files per stage at once. Every request is retried with growing delays (no tight
//! loops); a file that still fails is reported at the end while the others go on.
//!
//! # Resume state
//!
//! Kept under `<folder>/.cache/csghub/upload/` (`<folder>/.cache/csghub/.gitignore` holds `*`),
//! every file written atomically (temp file + rename):
//!
//! - `target.json`: `{"version":1,"kind":"models","repo":"ns/name","revision":"main"}`. When the
//!   target differs, the per-file state below is discarded.
//! - `lock`: held (OS file lock) while a run uses the folder.
//! - `files/<aa>/<sha256 of the relative path>.json`, one per local file:
//!   `{"version":1,"path":"sub/a.bin","size":N,"mtime_ns":T,"hashes":{"sha256":..,"git_sha1":..}|null,
//!   "lfs_verified":bool,"parts":{"upload_id":..,"chunk_size":N,"etags":{"1":"\"etag\"",..}},
//!   "committed":bool}`.
//!   Hashes are trusted only while `size` and `mtime_ns` match the file; otherwise the whole
//!   entry starts over. `parts` lets a multipart upload resume with its `upload_id` without
//!   sending finished parts again; `lfs_verified` skips the LFS step entirely.
//!
//! Unreadable or foreign entries are ignored (the file is simply hashed again). The state is
//! kept after a successful run, so running again costs one preupload per 50 files and no
//! hashing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use csghub_api::{RepoId, RepoType};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::error::TransferError;
use crate::patterns::Filter;
use crate::progress::{FileOutcome, Reporter};
use crate::upload::{
    self, CommitItem, Ctx, FileHashes, LocalFile, PartsState, Remote, UploadOutcome, Uploaded,
    Uploader,
};

/// Where the resume state lives, relative to the uploaded folder.
pub const STATE_DIR: &str = ".cache/csghub/upload";

const STATE_VERSION: u32 = 1;

/// What to upload (`csghub-cli upload-large-folder REPO LOCAL`).
#[derive(Debug, Clone)]
pub struct LargeFolderRequest {
    /// Repo kind.
    pub kind: RepoType,
    /// `ns/name`.
    pub repo: RepoId,
    /// Branch (created from `main` when missing).
    pub revision: String,
    /// The folder; its files go to the repo root with the same relative paths.
    pub folder: PathBuf,
    /// Allow patterns (empty: everything).
    pub allow: Vec<String>,
    /// Ignore patterns.
    pub ignore: Vec<String>,
    /// Files per stage at once (`--num-workers`; `None`: `max(cpus - 2, 2)` as pycsghub).
    pub num_workers: Option<usize>,
    /// Files per commit at most.
    pub commit_files: usize,
    /// Regular (non-LFS) bytes per commit at most (they travel base64 in the commit body).
    pub commit_bytes: u64,
    /// Commit message of every batch.
    pub message: String,
}

impl LargeFolderRequest {
    /// Upload `folder` to `repo` on `main` with pycsghub's defaults.
    pub fn new(kind: RepoType, repo: RepoId, folder: impl Into<PathBuf>) -> LargeFolderRequest {
        LargeFolderRequest {
            kind,
            repo,
            revision: "main".into(),
            folder: folder.into(),
            allow: Vec::new(),
            ignore: Vec::new(),
            num_workers: None,
            commit_files: 150,
            commit_bytes: 64 << 20,
            message: "Add files using upload-large-folder tool".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TargetState {
    version: u32,
    kind: String,
    repo: String,
    revision: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct FileState {
    version: u32,
    path: String,
    size: u64,
    mtime_ns: u64,
    #[serde(default)]
    hashes: Option<FileHashes>,
    #[serde(default)]
    lfs_verified: bool,
    #[serde(default)]
    parts: PartsState,
    #[serde(default)]
    committed: bool,
}

struct Entry {
    file: LocalFile,
    state_path: PathBuf,
    state: Mutex<FileState>,
}

impl Entry {
    fn state(&self) -> std::sync::MutexGuard<'_, FileState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut FileState)) -> Result<(), TransferError> {
        let mut s = self.state();
        f(&mut s);
        write_json(&self.state_path, &*s)
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `value` as JSON to `path` atomically (temp file in the same folder + rename).
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TransferError> {
    let io = |p: &Path, e| TransferError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let bytes = serde_json::to_vec(value).map_err(|e| io(path, std::io::Error::other(e)))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path, e)
    })
}

fn state_path(root: &Path, rel: &str) -> PathBuf {
    let h = hex::encode(sha2::Sha256::digest(rel.as_bytes()));
    root.join("files").join(&h[..2]).join(format!("{h}.json"))
}

fn load_state(path: &Path, f: &LocalFile) -> FileState {
    let fresh = FileState {
        version: STATE_VERSION,
        path: f.rel.clone(),
        size: f.size,
        mtime_ns: u64::try_from(f.mtime_ns).unwrap_or(u64::MAX),
        ..FileState::default()
    };
    let Some(s) = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<FileState>(&b).ok())
    else {
        return fresh;
    };
    if s.version != STATE_VERSION
        || s.path != fresh.path
        || s.size != fresh.size
        || s.mtime_ns != fresh.mtime_ns
    {
        // Another file, or changed since: nothing of it can be trusted.
        return fresh;
    }
    s
}

/// One file moving through the pipeline.
enum Step {
    Hashed(Arc<Entry>),
    ToUpload(Arc<Entry>, CommitItem),
    Ready(Arc<Entry>, CommitItem),
    Skip(Arc<Entry>, UploadOutcome),
    Failed(String, TransferError),
    Fatal(TransferError),
}

/// Errors that will not go away for the next file either: stop the run.
fn is_fatal(e: &TransferError) -> bool {
    matches!(
        e.api(),
        Some(
            csghub_api::Error::Unauthorized { .. }
                | csghub_api::Error::Forbidden(_)
                | csghub_api::Error::RepoNotFound(_)
                | csghub_api::Error::RevisionNotFound(_)
        )
    )
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .saturating_sub(2)
        .max(2)
}

impl Uploader {
    /// Upload a large folder in batches of commits, resuming from the state a previous
    /// (interrupted) run left under `<folder>/.cache/csghub/upload/` (see the module docs).
    /// Progress: [`Reporter::on_upload_status`] after every change, plus the per-file events.
    pub async fn upload_large_folder(
        &self,
        req: &LargeFolderRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Uploaded, TransferError> {
        let mut ctx = self.ctx(req.kind, &req.repo, &req.revision, reporter)?;
        let workers = req.num_workers.unwrap_or_else(default_workers).max(1);
        ctx.config.max_workers = workers;
        if !std::fs::metadata(&req.folder).is_ok_and(|m| m.is_dir()) {
            return Err(TransferError::LocalFile {
                path: req.folder.clone(),
                reason: "not a folder; use `upload` for a single file".into(),
            });
        }
        let root = req.folder.join(STATE_DIR);
        let io = |p: &Path, e| TransferError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        if let Some(csghub) = root.parent() {
            let gi = csghub.join(".gitignore");
            if !gi.exists() {
                write_json_text(&gi, "*\n")?;
            }
        }
        let lock_path = root.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(TransferError::Locked { path: lock_path });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path, e)),
        }
        let target = TargetState {
            version: STATE_VERSION,
            kind: req.kind.rest_segment().to_string(),
            repo: format!("{}/{}", req.repo.namespace(), req.repo.name()),
            revision: req.revision.clone(),
        };
        let target_path = root.join("target.json");
        let old: Option<TargetState> = std::fs::read(&target_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if old.as_ref() != Some(&target) {
            let files_dir = root.join("files");
            if files_dir.exists() {
                std::fs::remove_dir_all(&files_dir).map_err(|e| io(&files_dir, e))?;
            }
            write_json(&target_path, &target)?;
        }

        let filter = Filter::new(&req.allow, &req.ignore)?;
        let files = upload::collect_files(&req.folder, "", &filter)?;
        let entries: Vec<Arc<Entry>> = files
            .into_iter()
            .map(|f| {
                let sp = state_path(&root, &f.rel);
                let st = load_state(&sp, &f);
                Arc::new(Entry {
                    file: f,
                    state_path: sp,
                    state: Mutex::new(st),
                })
            })
            .collect();
        let total_files = entries.len();
        let total_bytes: u64 = entries.iter().map(|e| e.file.size).sum();
        ctx.reporter.on_plan(total_files, total_bytes);
        ctx.tracker.update(|s| {
            s.files_total = total_files as u64;
            s.bytes_total = total_bytes;
        });
        if self.config.create_repo {
            upload::ensure_repo_and_branch(&ctx, true, self.config.private).await?;
        }

        let started = Instant::now();
        let ctx = &ctx;
        let hashed = futures_util::stream::iter(entries)
            .map(|e| async move {
                let known = e.state().hashes.clone();
                if known.is_some() {
                    ctx.tracker.update(|s| s.files_hashed += 1);
                    return Step::Hashed(e);
                }
                match upload::hash_blocking(ctx, &e.file, false).await {
                    Ok(h) => match e.update(|s| s.hashes = Some(h)) {
                        Ok(()) => Step::Hashed(e),
                        Err(err) => Step::Fatal(err),
                    },
                    Err(err) => Step::Failed(e.file.dest.clone(), err),
                }
            })
            .buffer_unordered(workers);
        let moded = hashed
            .ready_chunks(50)
            .then(|steps| async move { preupload_steps(ctx, steps).await })
            .flat_map(futures_util::stream::iter);
        let uploaded = moded
            .map(|step| async move {
                match step {
                    Step::ToUpload(e, item) => upload_step(ctx, e, item).await,
                    other => other,
                }
            })
            .buffer_unordered(workers);
        let mut uploaded = std::pin::pin!(uploaded);

        let mut failures: Vec<(String, TransferError)> = Vec::new();
        let mut outcomes: BTreeMap<String, UploadOutcome> = BTreeMap::new();
        let mut batch: Vec<(Arc<Entry>, CommitItem)> = Vec::new();
        let mut batch_bytes = 0u64;
        while let Some(step) = uploaded.next().await {
            match step {
                Step::Fatal(e) => return Err(e),
                Step::Failed(path, e) => failures.push((path, e)),
                Step::Skip(e, outcome) => {
                    e.update(|s| s.committed = true)?;
                    ctx.reporter.on_file_done(&e.file.dest, FileOutcome::Cached);
                    ctx.tracker.update(|s| s.files_skipped += 1);
                    outcomes.insert(e.file.dest.clone(), outcome);
                }
                Step::Ready(e, item) => {
                    if !item.lfs {
                        batch_bytes += item.size;
                    }
                    batch.push((e, item));
                    if batch.len() >= req.commit_files.max(1) || batch_bytes >= req.commit_bytes {
                        commit_batch(ctx, &mut batch, &req.message, &mut outcomes).await?;
                        batch_bytes = 0;
                    }
                }
                // Preupload and upload stages never emit these.
                Step::Hashed(e) | Step::ToUpload(e, _) => failures.push((
                    e.file.dest.clone(),
                    TransferError::Protocol {
                        context: "upload pipeline".into(),
                        message: "a file skipped a stage".into(),
                    },
                )),
            }
        }
        if !batch.is_empty() {
            commit_batch(ctx, &mut batch, &req.message, &mut outcomes).await?;
        }
        if let Some((path, first)) = failures.first() {
            return Err(TransferError::Incomplete {
                failed: failures.len(),
                total: total_files,
                first: format!("{path}: {first}"),
            });
        }
        drop(lock);
        let status = ctx.tracker.get();
        let commit = if status.commits > 0 {
            Some(upload::tip(ctx).await?)
        } else {
            None
        };
        Ok(Uploaded {
            commit,
            files: outcomes.into_iter().collect(),
            deleted: Vec::new(),
            bytes_uploaded: status.bytes_uploaded,
            hash_time: std::time::Duration::ZERO,
            transfer_time: started.elapsed(),
        })
    }
}

fn write_json_text(path: &Path, text: &str) -> Result<(), TransferError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| TransferError::Io {
            path: path.to_path_buf(),
            source: e,
        })
}

/// Preupload the hashed files of `steps` (one call per 50) and decide each one's fate.
async fn preupload_steps(ctx: &Ctx, steps: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len());
    let mut hashed = Vec::new();
    for s in steps {
        match s {
            Step::Hashed(e) => hashed.push(e),
            other => out.push(other),
        }
    }
    if hashed.is_empty() {
        return out;
    }
    let q: Vec<(String, u64)> = hashed
        .iter()
        .map(|e| (e.file.dest.clone(), e.file.size))
        .collect();
    let remote = match ctx.preupload(&q).await {
        Ok(r) => r,
        Err(e) => {
            out.push(Step::Fatal(e));
            return out;
        }
    };
    for e in hashed {
        let rem: Remote = remote.get(&e.file.dest).cloned().unwrap_or_default();
        let Some(h) = e.state().hashes.clone() else {
            continue;
        };
        if rem.ignore {
            out.push(Step::Skip(e, UploadOutcome::Ignored));
        } else if rem.same(&h) {
            out.push(Step::Skip(e, UploadOutcome::Unchanged));
        } else {
            let size = e.file.size;
            let item = CommitItem {
                path: e.file.dest.clone(),
                local: e.file.abs.clone(),
                size,
                lfs: size > 0 && (rem.lfs || size >= ctx.config.lfs_threshold),
                exists: !rem.oid.is_empty(),
                hashes: h,
            };
            out.push(Step::ToUpload(e, item));
        }
    }
    out
}

async fn upload_step(ctx: &Ctx, e: Arc<Entry>, item: CommitItem) -> Step {
    if !item.lfs || e.state().lfs_verified {
        ctx.tracker.update(|s| s.files_uploaded += 1);
        return Step::Ready(e, item);
    }
    let parts = Mutex::new(e.state().parts.clone());
    let save = |p: &PartsState| e.update(|s| s.parts = p.clone());
    let r = upload::upload_lfs(
        ctx,
        &item.local,
        &item.path,
        item.size,
        &item.hashes.sha256,
        &parts,
        &save,
    )
    .await;
    match r {
        Ok(_) => match e.update(|s| {
            s.lfs_verified = true;
            s.parts = PartsState::default();
        }) {
            Ok(()) => {
                ctx.tracker.update(|s| s.files_uploaded += 1);
                Step::Ready(e, item)
            }
            Err(err) => Step::Fatal(err),
        },
        Err(err) if is_fatal(&err) => Step::Fatal(err),
        Err(err) => Step::Failed(item.path, err),
    }
}

async fn commit_batch(
    ctx: &Ctx,
    batch: &mut Vec<(Arc<Entry>, CommitItem)>,
    message: &str,
    outcomes: &mut BTreeMap<String, UploadOutcome>,
) -> Result<(), TransferError> {
    let items: Vec<CommitItem> = batch.iter().map(|(_, i)| i.clone()).collect();
    upload::commit(ctx, &items, message).await?;
    for (e, item) in batch.drain(..) {
        e.update(|s| s.committed = true)?;
        ctx.reporter
            .on_file_done(&item.path, FileOutcome::Transferred);
        outcomes.insert(item.path, UploadOutcome::Committed);
    }
    Ok(())
}
