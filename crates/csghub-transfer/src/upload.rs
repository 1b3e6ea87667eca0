//! Upload a file or a folder as one commit (SERVER.md §9.15): preupload for the modes, one
//! streaming pass per file for sha256 and the git blob SHA-1, unchanged files skipped, LFS
//! objects through the batch API (multipart parts in parallel, per-part retry, complete,
//! verify), regular files base64 in one JSON commit, deletions through `DELETE raw/{path}`.
//!
//! The same building blocks serve [`crate::large_folder`], which adds a resume state.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use csghub_api::dto::{
    Action, BatchRef, BatchRequest, CompleteMultipartBody, CompletePart, LfsObject,
};
use csghub_api::generated::{
    Code, CreateDatasetReq, CreateFileReq, CreateModelReq, CreateRepoReq, CreateSpaceReq,
    DeleteFileReq, McpServer, PreuploadFile, PreuploadReq, Skill, SpaceResource, UpdateFileReq,
    UploadMode,
};
use csghub_api::{Client, Method, NotFoundMeans, RepoId, RepoType, endpoints};
use csghub_cache::RepoPath;
use futures_util::{StreamExt as _, TryStreamExt as _};
use reqwest::{Url, header};
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

use crate::error::TransferError;
use crate::patterns::Filter;
use crate::progress::{FileOutcome, Reporter, UploadStatus};
use crate::retry::RetryPolicy;

/// Files of this size or more always go through LFS: base64 inflates by 4/3 and the server
/// caps regular content at 20 MiB of base64 (SERVER.md §0.14, §9.15).
pub const LFS_THRESHOLD: u64 = 10 << 20;

/// Paths per preupload call (as pycsghub sends).
const PREUPLOAD_BATCH: usize = 50;

/// Read buffer of hashing and of streamed request bodies.
const IO_CHUNK: usize = 512 << 10;

/// How many times part URLs are re-requested for one object (expired URLs) before giving up.
const MAX_URL_REFRESHES: u32 = 3;

/// Tuning of uploads.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Files hashed or uploaded at once.
    pub max_workers: usize,
    /// Parallel part PUTs of one multipart object.
    pub parts_in_flight: usize,
    /// Retries of every idempotent request (preupload, batch, parts, complete, verify).
    pub retry: RetryPolicy,
    /// Retries of a commit. Commits are not idempotent: only connection failures, 429 and
    /// 502/503/504 are retried, with growing delays and a small cap, and before each retry the
    /// client checks (one preupload) whether the lost commit landed after all.
    pub commit_retry: RetryPolicy,
    /// Files of at least this size go through LFS whatever preupload says.
    pub lfs_threshold: u64,
    /// Create the repo (and the branch) when missing.
    pub create_repo: bool,
    /// Visibility of a repo created here (private by default, like pycsghub).
    pub private: bool,
    /// SDK of a space created here (`gradio` by default).
    pub space_sdk: String,
    /// Space resource of a space created here (default: the first available one, as pycsghub).
    pub space_resource_id: Option<i64>,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_workers: 4,
            parts_in_flight: 4,
            retry: RetryPolicy::default(),
            commit_retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(30),
                budget: Duration::from_secs(120),
            },
            lfs_threshold: LFS_THRESHOLD,
            create_repo: true,
            private: true,
            space_sdk: "gradio".into(),
            space_resource_id: None,
        }
    }
}

/// What to upload (`csghub-cli upload REPO LOCAL [PATH_IN_REPO]`).
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// Repo kind.
    pub kind: RepoType,
    /// `ns/name`.
    pub repo: RepoId,
    /// Branch to commit to (created from `main` when missing).
    pub revision: String,
    /// A file or a folder.
    pub local: PathBuf,
    /// For a file: its path in the repo (empty: the file's name; ending in `/`: that folder
    /// plus the file's name). For a folder: the folder in the repo (empty: the root).
    pub path_in_repo: String,
    /// Allow patterns over paths relative to the local folder (empty: everything).
    pub allow: Vec<String>,
    /// Ignore patterns over the same paths.
    pub ignore: Vec<String>,
    /// Remote files below `path_in_repo` matching these patterns (relative to it) and not part
    /// of this upload are deleted.
    pub delete: Vec<String>,
    /// Commit message (default: `Upload <name> with csghub`).
    pub message: Option<String>,
    /// Commit description, appended to the message after a blank line.
    pub description: Option<String>,
}

impl UploadRequest {
    /// Upload `local` to the root of `repo` on `main`.
    pub fn new(kind: RepoType, repo: RepoId, local: impl Into<PathBuf>) -> UploadRequest {
        UploadRequest {
            kind,
            repo,
            revision: "main".into(),
            local: local.into(),
            path_in_repo: String::new(),
            allow: Vec::new(),
            ignore: Vec::new(),
            delete: Vec::new(),
            message: None,
            description: None,
        }
    }
}

/// What happened to one local file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Sent and committed.
    Committed,
    /// The server already had this content at this path: nothing sent.
    Unchanged,
    /// The repo's `.gitignore` ignores the path: nothing sent.
    Ignored,
}

/// The result of an upload.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The branch tip after the upload (`None` when nothing changed).
    pub commit: Option<String>,
    /// Each selected file (path in the repo) and what happened to it, sorted by path.
    pub files: Vec<(String, UploadOutcome)>,
    /// Remote files deleted.
    pub deleted: Vec<String>,
    /// LFS bytes sent (retried parts count again).
    pub bytes_uploaded: u64,
    /// Time from the start until the last file was hashed (zero for large-folder uploads).
    pub hash_time: Duration,
    /// Time from the first LFS upload (or, without one, from the end of hashing) to the end of
    /// the commit; it overlaps `hash_time` when several files are uploaded (large folders: the
    /// whole run).
    pub transfer_time: Duration,
}

/// The upload engine.
#[derive(Debug, Clone)]
pub struct Uploader {
    pub(crate) client: Client,
    pub(crate) config: UploadConfig,
}

/// Shared state of one upload run.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub client: Client,
    pub kind: RepoType,
    pub repo: RepoId,
    pub revision: String,
    pub config: UploadConfig,
    pub reporter: Arc<dyn Reporter>,
    pub tracker: Arc<Tracker>,
}

/// Counters reported through [`Reporter::on_upload_status`].
pub(crate) struct Tracker {
    status: Mutex<UploadStatus>,
    reporter: Arc<dyn Reporter>,
}

impl Tracker {
    pub fn new(reporter: Arc<dyn Reporter>) -> Tracker {
        Tracker {
            status: Mutex::new(UploadStatus::default()),
            reporter,
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut UploadStatus)) {
        let snapshot = {
            let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut s);
            s.clone()
        };
        self.reporter.on_upload_status(&snapshot);
    }

    pub fn get(&self) -> UploadStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A local file selected for upload.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    /// Path relative to the selected folder, `/`-separated.
    pub rel: String,
    /// Path in the repo.
    pub dest: String,
    /// On disk.
    pub abs: PathBuf,
    /// Size when listed.
    pub size: u64,
    /// Modification time (ns since the epoch) when listed.
    pub mtime_ns: u128,
}

/// The hashes of a file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHashes {
    /// sha256 hex (the LFS oid).
    pub sha256: String,
    /// Git blob SHA-1 hex (`sha1("blob <size>\0" + content)`, a regular file's oid); `None`
    /// when it was not needed (a file that goes through LFS and whose remote oid, if any, is a
    /// sha256).
    #[serde(default)]
    pub git_sha1: Option<String>,
}

/// Hash `path` in one streaming pass: sha256, and the git blob SHA-1 too when `git_sha1` is
/// set. `size` is the expected size (the git header needs it up front); a file that changed
/// size is an error. `on_bytes` is called as bytes are read. Blocking: call it off the async
/// workers.
///
/// Big files are read on a second thread while this one hashes, so the read costs no time
/// beside sha256 itself; the SHA-1, when asked for, runs on a third.
pub fn hash_file(
    path: &Path,
    size: u64,
    git_sha1: bool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<FileHashes, TransferError> {
    let io = |e: std::io::Error| TransferError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut sha256 = sha2::Sha256::new();
    let mut sha1 = git_sha1.then(|| {
        let mut h = sha1::Sha1::new();
        h.update(format!("blob {size}\0").as_bytes());
        h
    });
    let total = if size < PIPELINE_MIN {
        let mut buf =
            vec![0u8; HASH_BLOCK.min(usize::try_from(size).unwrap_or(HASH_BLOCK).max(8192))];
        let mut total = 0u64;
        loop {
            let n = read_full(&mut f, &mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            sha256.update(&buf[..n]);
            if let Some(h) = sha1.as_mut() {
                h.update(&buf[..n]);
            }
            total += n as u64;
            on_bytes(n as u64);
        }
        total
    } else {
        hash_pipelined(&mut f, &mut sha256, sha1.as_mut(), on_bytes).map_err(io)?
    };
    if total != size {
        return Err(changed(path));
    }
    Ok(FileHashes {
        sha256: hex::encode(sha256.finalize()),
        git_sha1: sha1.map(|h| hex::encode(h.finalize())),
    })
}

/// Files from this size on are hashed with a read-ahead thread.
const PIPELINE_MIN: u64 = 16 << 20;
/// Read size while hashing.
const HASH_BLOCK: usize = 1 << 20;

/// Fill `buf` as far as the file allows; short only at the end of the file.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader thread fills a small ring of buffers while this thread hashes them.
fn hash_pipelined(
    f: &mut std::fs::File,
    sha256: &mut sha2::Sha256,
    mut sha1: Option<&mut sha1::Sha1>,
    on_bytes: &mut dyn FnMut(u64),
) -> std::io::Result<u64> {
    use std::sync::mpsc;
    const RING: usize = 3;
    let (full_tx, full_rx) = mpsc::sync_channel::<std::io::Result<(Vec<u8>, usize)>>(RING);
    let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(RING);
    for _ in 0..RING {
        // Cannot fail: the channel has room for the whole ring and its receiver is alive.
        let _ = free_tx.send(vec![0u8; HASH_BLOCK]);
    }
    std::thread::scope(|s| {
        // Owned by this closure so both drop on an early return, which ends the reader
        // before the scope joins it.
        let (full_rx, free_tx) = (full_rx, free_tx);
        s.spawn(move || {
            while let Ok(mut buf) = free_rx.recv() {
                let r = read_full(f, &mut buf);
                let end = matches!(r, Ok(0) | Err(_));
                if full_tx.send(r.map(|n| (buf, n))).is_err() || end {
                    break;
                }
            }
        });
        let mut total = 0u64;
        // Dropping `full_rx` on an early return stops the reader.
        while let Ok(r) = full_rx.recv() {
            let (buf, n) = r?;
            if n == 0 {
                break;
            }
            let block = &buf[..n];
            match sha1.as_deref_mut() {
                Some(h1) => std::thread::scope(|s2| {
                    s2.spawn(|| h1.update(block));
                    sha256.update(block);
                }),
                None => sha256.update(block),
            }
            total += n as u64;
            on_bytes(n as u64);
            let _ = free_tx.send(buf);
        }
        Ok(total)
    })
}

/// Bytes per second of single-core sha256 on this machine, measured over about `millis` ms
/// (for `cargo xtask bench upload`, which compares upload throughput against it).
pub fn sha256_rate(millis: u64) -> f64 {
    let buf = vec![0x5au8; 4 << 20];
    let mut h = sha2::Sha256::new();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_millis(millis.max(1)) {
        h.update(&buf);
        n += buf.len() as u64;
    }
    let _ = h.finalize();
    n as f64 / started.elapsed().as_secs_f64()
}

/// The LFS pointer text committed for an object.
pub fn lfs_pointer(oid: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n")
}

fn changed(path: &Path) -> TransferError {
    TransferError::LocalFile {
        path: path.to_path_buf(),
        reason: "the file changed while it was being uploaded; run the upload again".into(),
    }
}

pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// `prefix/rel` as a validated repo path.
pub(crate) fn join_repo(prefix: &str, rel: &str, local: &Path) -> Result<String, TransferError> {
    let prefix = prefix.trim_matches('/');
    let p = if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    };
    RepoPath::new(&p)
        .map(|r| r.as_str().to_string())
        .map_err(|e| TransferError::LocalFile {
            path: local.to_path_buf(),
            reason: format!("cannot be stored in the repo as {p:?}: {e}"),
        })
}

/// Folders never uploaded: git metadata and the bookkeeping of csghub and huggingface_hub.
fn excluded(rel: &str) -> bool {
    let segs: Vec<&str> = rel.split('/').collect();
    segs.contains(&".git")
        || segs
            .windows(2)
            .any(|w| w[0] == ".cache" && (w[1] == "csghub" || w[1] == "huggingface"))
}

/// Every regular file below `folder` that `filter` selects (paths relative to `folder`), with
/// its repo path below `prefix`. Symlinks to files are followed, symlinks to folders are not
/// (no cycles).
pub(crate) fn collect_files(
    folder: &Path,
    prefix: &str,
    filter: &Filter,
) -> Result<Vec<LocalFile>, TransferError> {
    let mut out = Vec::new();
    let mut stack = vec![(folder.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| TransferError::Io {
            path: dir.clone(),
            source: e,
        })?;
        for entry in rd {
            let entry = entry.map_err(|e| TransferError::Io {
                path: dir.clone(),
                source: e,
            })?;
            let abs = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(TransferError::LocalFile {
                    path: abs,
                    reason: "the name is not valid UTF-8; rename it to upload it".into(),
                });
            };
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            if excluded(&rel) {
                continue;
            }
            let lmeta = entry.metadata().map_err(|e| TransferError::Io {
                path: abs.clone(),
                source: e,
            })?;
            if lmeta.is_dir() {
                stack.push((abs, rel));
                continue;
            }
            let meta = if lmeta.file_type().is_symlink() {
                match std::fs::metadata(&abs) {
                    Ok(m) if m.is_file() => m,
                    _ => continue,
                }
            } else if lmeta.is_file() {
                lmeta
            } else {
                continue;
            };
            if !filter.matches(&rel) {
                continue;
            }
            let dest = join_repo(prefix, &rel, &abs)?;
            out.push(LocalFile {
                rel,
                dest,
                abs,
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
            });
        }
    }
    out.sort_by(|a, b| a.dest.cmp(&b.dest));
    Ok(out)
}

/// The server's view of one path (preupload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Remote {
    /// Preupload said `lfs`.
    pub lfs: bool,
    /// Oid of the file already at that path (sha256 for LFS, git SHA-1 otherwise; empty: none).
    pub oid: String,
    /// Ignored by the repo's `.gitignore`.
    pub ignore: bool,
}

impl Remote {
    /// Whether the remote file has exactly this content.
    pub fn same(&self, h: &FileHashes) -> bool {
        !self.oid.is_empty()
            && (self.oid.eq_ignore_ascii_case(&h.sha256)
                || h.git_sha1
                    .as_deref()
                    .is_some_and(|g| self.oid.eq_ignore_ascii_case(g)))
    }
}

fn retry_after_of(e: &TransferError) -> Option<Duration> {
    e.api().and_then(csghub_api::Error::retry_after)
}

impl Ctx {
    /// Run `f` until it succeeds, retrying errors `retryable` accepts with `policy`'s backoff.
    pub async fn retrying<T, F, Fut>(
        &self,
        what: &str,
        policy: &RetryPolicy,
        retryable: fn(&TransferError) -> bool,
        mut f: F,
    ) -> Result<T, TransferError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransferError>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if retryable(&e) => {
                    attempt += 1;
                    let Some(d) = policy.delay(attempt, started.elapsed(), retry_after_of(&e))
                    else {
                        return Err(e);
                    };
                    self.reporter.on_retry(what, attempt, d, &e.to_string());
                    tokio::time::sleep(d).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.kind.rest_segment(),
            self.repo.namespace(),
            self.repo.name()
        )
    }

    /// Preupload `files` (path, size), [`PREUPLOAD_BATCH`] per call.
    pub async fn preupload(
        &self,
        files: &[(String, u64)],
    ) -> Result<BTreeMap<String, Remote>, TransferError> {
        let mut out = BTreeMap::new();
        for chunk in files.chunks(PREUPLOAD_BATCH) {
            let req = PreuploadReq {
                files: chunk
                    .iter()
                    .map(|(p, s)| PreuploadFile {
                        path: p.clone(),
                        sample: None,
                        size: i64::try_from(*s).unwrap_or(i64::MAX),
                    })
                    .collect(),
            };
            let resp = self
                .retrying(
                    "preupload",
                    &self.config.retry,
                    TransferError::is_transient,
                    || {
                        let req = &req;
                        async move {
                            let ep =
                                endpoints::preupload(self.kind, &self.repo, &self.revision, req)?;
                            Ok(self.client.execute(ep).await?)
                        }
                    },
                )
                .await?;
            let mut got: BTreeMap<String, Remote> = BTreeMap::new();
            for f in resp.files {
                if f.is_dir {
                    return Err(TransferError::LocalFile {
                        path: PathBuf::from(&f.path),
                        reason: format!(
                            "{} already has a folder at this path; choose another path in the repo",
                            self.label()
                        ),
                    });
                }
                got.insert(
                    f.path,
                    Remote {
                        lfs: f.upload_mode == Some(UploadMode::Lfs),
                        oid: f.oid,
                        ignore: f.should_ignore,
                    },
                );
            }
            for (p, _) in chunk {
                let r = got.remove(p).ok_or_else(|| TransferError::Protocol {
                    context: format!("preupload of {}", self.label()),
                    message: format!("no answer for {p:?}"),
                })?;
                out.insert(p.clone(), r);
            }
        }
        Ok(out)
    }
}

// ------------------------------------------------------------------------------------------
// Repo and branch

/// Make sure the repo and the branch exist, creating them when missing (the repo private by
/// default, the branch from `main` or the first branch). Returns whether anything was created.
pub(crate) async fn ensure_repo_and_branch(
    ctx: &Ctx,
    create: bool,
    private: bool,
) -> Result<bool, TransferError> {
    let list = || async {
        ctx.retrying(
            "branches",
            &ctx.config.retry,
            TransferError::is_transient,
            || async {
                Ok(ctx
                    .client
                    .execute(endpoints::branches(ctx.kind, &ctx.repo))
                    .await?)
            },
        )
        .await
    };
    let mut created = false;
    let branches = match list().await {
        Ok(b) => b,
        Err(TransferError::Api(e))
            if create && matches!(*e, csghub_api::Error::RepoNotFound(_)) =>
        {
            create_repo(ctx, private).await?;
            created = true;
            list().await?
        }
        Err(e) => return Err(e),
    };
    let names: BTreeSet<&str> = branches.iter().map(|b| b.name.as_str()).collect();
    if names.contains(ctx.revision.as_str()) {
        return Ok(created);
    }
    if !create {
        return Err(TransferError::RevisionNotFound {
            repo: ctx.label(),
            revision: ctx.revision.clone(),
        });
    }
    let start = if names.contains("main") {
        Some("main".to_string())
    } else {
        names.iter().next().map(|s| s.to_string())
    };
    create_branch(ctx, start.as_deref()).await?;
    Ok(true)
}

async fn create_repo(ctx: &Ctx, private: bool) -> Result<(), TransferError> {
    let name = ctx.repo.name().to_string();
    let base = CreateRepoReq {
        name: name.clone(),
        namespace: Some(ctx.repo.namespace().to_string()),
        nickname: Some(name),
        private: Some(private),
        default_branch: Some("main".into()),
        license: Some("apache-2.0".into()),
        ..CreateRepoReq::default()
    };
    let result = match ctx.kind {
        RepoType::Model => ctx
            .client
            .execute(endpoints::create_model(&CreateModelReq::from(&base)))
            .await
            .map(drop),
        RepoType::Dataset => ctx
            .client
            .execute(endpoints::create_dataset(&CreateDatasetReq::from(&base)))
            .await
            .map(drop),
        RepoType::Code => ctx
            .client
            .execute(endpoints::create_repo::<Code>(&base))
            .await
            .map(drop),
        RepoType::McpServer => ctx
            .client
            .execute(endpoints::create_repo::<McpServer>(&base))
            .await
            .map(drop),
        RepoType::Skill => ctx
            .client
            .execute(endpoints::create_repo::<Skill>(&base))
            .await
            .map(drop),
        RepoType::Space => {
            // As pycsghub: the first available space resource, unless one is configured.
            let resources = ctx.client.execute(endpoints::space_resources(0)).await?;
            let want = ctx.config.space_resource_id;
            let Some(resource) = SpaceResource::choose(&resources, want) else {
                return Err(TransferError::SpaceResource {
                    repo: ctx.label(),
                    wanted: want,
                    offered: resources.iter().map(|r| r.id).collect(),
                });
            };
            let req = CreateSpaceReq::new(&base, &ctx.config.space_sdk, resource);
            ctx.client
                .execute(endpoints::create_space(&req))
                .await
                .map(drop)
        }
        other => {
            return Err(csghub_api::Error::InvalidInput {
                what: "repo type",
                value: other.to_string(),
                reason: "cannot be created by an upload: create it first",
            }
            .into());
        }
    };
    match result {
        // Someone created it meanwhile: fine.
        Ok(()) | Err(csghub_api::Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// pycsghub's `.gitattributes` for a new branch when the start branch has none (§3.5).
const DEFAULT_GITATTRIBUTES: &str = "\n*.duckdb filter=lfs diff=lfs merge=lfs -text\n*.7z filter=lfs diff=lfs merge=lfs -text\n*.arrow filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n*.bz2 filter=lfs diff=lfs merge=lfs -text\n*.ckpt filter=lfs diff=lfs merge=lfs -text\n*.ftz filter=lfs diff=lfs merge=lfs -text\n*.gz filter=lfs diff=lfs merge=lfs -text\n*.h5 filter=lfs diff=lfs merge=lfs -text\n*.joblib filter=lfs diff=lfs merge=lfs -text\n*.lfs.* filter=lfs diff=lfs merge=lfs -text\n*.lz4 filter=lfs diff=lfs merge=lfs -text\n*.mlmodel filter=lfs diff=lfs merge=lfs -text\n*.model filter=lfs diff=lfs merge=lfs -text\n*.msgpack filter=lfs diff=lfs merge=lfs -text\n*.npy filter=lfs diff=lfs merge=lfs -text\n*.npz filter=lfs diff=lfs merge=lfs -text\n*.onnx filter=lfs diff=lfs merge=lfs -text\n*.ot filter=lfs diff=lfs merge=lfs -text\n*.parquet filter=lfs diff=lfs merge=lfs -text\n*.pb filter=lfs diff=lfs merge=lfs -text\n*.pickle filter=lfs diff=lfs merge=lfs -text\n*.pkl filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n*.pth filter=lfs diff=lfs merge=lfs -text\n*.rar filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\nsaved_model/**/* filter=lfs diff=lfs merge=lfs -text\n*.tar.* filter=lfs diff=lfs merge=lfs -text\n*.tar filter=lfs diff=lfs merge=lfs -text\n*.tflite filter=lfs diff=lfs merge=lfs -text\n*.tgz filter=lfs diff=lfs merge=lfs -text\n*.wasm filter=lfs diff=lfs merge=lfs -text\n*.xz filter=lfs diff=lfs merge=lfs -text\n*.zip filter=lfs diff=lfs merge=lfs -text\n*.zst filter=lfs diff=lfs merge=lfs -text\n*tfevents* filter=lfs diff=lfs merge=lfs -text\n";

/// Create `ctx.revision` from `start` with a single-file commit (the only way the REST API
/// offers, §9.3): rewrite the start branch's `.gitattributes` unchanged (`PUT` with
/// `new_branch`), or add pycsghub's default one when it has none.
async fn create_branch(ctx: &Ctx, start: Option<&str>) -> Result<(), TransferError> {
    let message = format!("create branch {}", ctx.revision);
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(start) = start else {
        // Empty repo: the first commit creates the branch.
        return add_default_gitattributes(ctx, ctx.revision.clone(), None, message).await;
    };
    let url = ctx
        .client
        .rest_resolve_url(ctx.kind, &ctx.repo, start, ".gitattributes")?;
    let existing = match ctx
        .client
        .send(
            ctx.client.request(Method::GET, url.clone()),
            &url,
            NotFoundMeans::Entry,
        )
        .await
    {
        Ok(resp) if resp.status().is_success() => Some(
            resp.bytes()
                .await
                .map_err(|e| TransferError::Protocol {
                    context: csghub_api::redact_url(&url),
                    message: e.to_string(),
                })?
                .to_vec(),
        ),
        Ok(_) | Err(csghub_api::Error::EntryNotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    match existing {
        Some(bytes) => {
            let req = UpdateFileReq {
                branch: start.to_string(),
                new_branch: Some(ctx.revision.clone()),
                message,
                content: Some(b64.encode(&bytes)),
                ..UpdateFileReq::default()
            };
            ctx.client
                .execute(endpoints::update_file(
                    ctx.kind,
                    &ctx.repo,
                    ".gitattributes",
                    &req,
                )?)
                .await?;
        }
        None => {
            let branch = Some(ctx.revision.clone());
            add_default_gitattributes(ctx, start.to_string(), branch, message).await?;
        }
    }
    Ok(())
}

/// Commit pycsghub's default `.gitattributes` to `branch` (or to `new_branch` made from it).
async fn add_default_gitattributes(
    ctx: &Ctx,
    branch: String,
    new_branch: Option<String>,
    message: String,
) -> Result<(), TransferError> {
    let req = CreateFileReq {
        branch,
        new_branch,
        message,
        content: Some(base64::engine::general_purpose::STANDARD.encode(DEFAULT_GITATTRIBUTES)),
        ..CreateFileReq::default()
    };
    ctx.client
        .execute(endpoints::create_file(
            ctx.kind,
            &ctx.repo,
            ".gitattributes",
            &req,
        )?)
        .await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------
// LFS objects

/// Where a multipart upload stands; kept by large-folder uploads to resume it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartsState {
    /// S3 upload id (from the part URLs' `uploadId`); empty: none yet.
    #[serde(default)]
    pub upload_id: String,
    /// Part size the server chose.
    #[serde(default)]
    pub chunk_size: u64,
    /// ETags of finished parts.
    #[serde(default)]
    pub etags: BTreeMap<u32, String>,
}

/// Called after every change of a [`PartsState`] (to persist it).
pub(crate) type SaveParts<'a> =
    &'a (dyn Fn(&PartsState) -> Result<(), TransferError> + Send + Sync);

/// How an LFS object ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LfsDone {
    /// The server already had it (no `actions`).
    AlreadyThere,
    /// Uploaded and verified now.
    Uploaded,
}

fn is_expired(e: &TransferError) -> bool {
    matches!(e, TransferError::UploadHttp { status: 403, message, .. } if message.contains("expired"))
}

fn part_retryable(e: &TransferError) -> bool {
    e.is_transient() && !is_expired(e)
}

fn excerpt(body: &str) -> String {
    body.chars()
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

fn upload_transport(path: &str, e: &reqwest::Error) -> TransferError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection broke"
    };
    TransferError::UploadTransport {
        path: path.to_string(),
        message: format!(
            "{kind}: {}",
            std::error::Error::source(e).map_or_else(|| kind.to_string(), |s| s.to_string())
        ),
        attempts: 1,
    }
}

/// A request body streaming `len` bytes of `file` from `offset` in bounded chunks (never the
/// whole part in memory), reporting progress as bytes are handed to the connection. Each chunk
/// is one read on the blocking pool straight into the buffer that is sent.
async fn file_range_body(
    ctx: &Ctx,
    file: &Path,
    display: &str,
    offset: u64,
    len: u64,
) -> Result<reqwest::Body, TransferError> {
    use std::io::Seek as _;
    let io = |e| TransferError::Io {
        path: file.to_path_buf(),
        source: e,
    };
    let mut f = std::fs::File::open(file).map_err(io)?;
    f.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
    let pool: BufPool = Arc::default();
    let state = (
        Some(f),
        len,
        ctx.reporter.clone(),
        ctx.tracker.clone(),
        display.to_string(),
    );
    let stream = futures_util::stream::unfold(state, move |(f, left, rep, tracker, name)| {
        let pool = pool.clone();
        async move {
            let mut f = f?;
            if left == 0 {
                return None;
            }
            let want = usize::try_from(left.min(IO_CHUNK as u64)).unwrap_or(IO_CHUNK);
            let mut buf = pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .unwrap_or_else(|| vec![0u8; IO_CHUNK]);
            // The file handle travels into the blocking task and back: reads stay
            // sequential.
            let read = tokio::task::spawn_blocking(move || {
                let r = f.read_exact(&mut buf[..want]);
                (f, r.map(|()| buf))
            })
            .await;
            match read {
                Ok((f, Ok(buf))) => {
                    let n = want as u64;
                    rep.on_file_progress(&name, n);
                    tracker.update(|s| s.bytes_uploaded += n);
                    let chunk = bytes::Bytes::from_owner(PooledBuf {
                        buf,
                        len: want,
                        pool,
                    });
                    Some((
                        Ok::<_, std::io::Error>(chunk),
                        (Some(f), left - n, rep, tracker, name),
                    ))
                }
                // The file shrank: the request fails and the error names the file.
                Ok((_, Err(e))) => Some((Err(e), (None, 0, rep, tracker, name))),
                Err(e) => Some((
                    Err(std::io::Error::other(e.to_string())),
                    (None, 0, rep, tracker, name),
                )),
            }
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// Read buffers of one request body, reused once the connection has sent them.
type BufPool = Arc<Mutex<Vec<Vec<u8>>>>;

/// A chunk of a request body whose buffer goes back to its pool when the connection is done
/// with it: streaming a large file then touches a few buffers instead of faulting in fresh
/// memory for every chunk (which cost about as much CPU as sending the bytes).
struct PooledBuf {
    buf: Vec<u8>,
    len: usize,
    pool: BufPool,
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pool.lock()
            && p.len() < 8
        {
            p.push(std::mem::take(&mut self.buf));
        }
    }
}

/// PUT `len` bytes at `offset` of `file` to `url`; returns the response's `ETag`.
#[allow(clippy::too_many_arguments)]
async fn put_bytes(
    ctx: &Ctx,
    file: &Path,
    display: &str,
    url: &Url,
    offset: u64,
    len: u64,
    with_auth: bool,
    headers: &[(String, String)],
) -> Result<Option<String>, TransferError> {
    let body = file_range_body(ctx, file, display, offset, len).await?;
    let mut rb = if with_auth {
        ctx.client.request(Method::PUT, url.clone())
    } else {
        // Object-store URLs are signed: they must never see the token.
        ctx.client.request_without_auth(Method::PUT, url.clone())
    };
    for (k, v) in headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    let resp = rb
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| upload_transport(display, &e))?;
    let status = resp.status();
    if status.is_success() {
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return Ok(etag);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(TransferError::UploadHttp {
        path: display.to_string(),
        status: status.as_u16(),
        url: csghub_api::redact_url(url),
        message: excerpt(&body),
    })
}

fn parse_href(href: &str, display: &str, what: &str) -> Result<Url, TransferError> {
    Url::parse(href)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| TransferError::Lfs {
            path: display.to_string(),
            message: format!("the server sent an unusable {what} URL"),
        })
}

/// One LFS object: batch, then multipart parts (skipping those in `parts`), complete and
/// verify, or a basic PUT and verify. An object the server already has counts as done.
pub(crate) async fn upload_lfs(
    ctx: &Ctx,
    file: &Path,
    display: &str,
    size: u64,
    oid: &str,
    parts: &Mutex<PartsState>,
    save: SaveParts<'_>,
) -> Result<LfsDone, TransferError> {
    let lock = |p: &Mutex<PartsState>| -> PartsState {
        p.lock().unwrap_or_else(|e| e.into_inner()).clone()
    };
    let mut refreshes = 0;
    loop {
        let upload_id = Some(lock(parts).upload_id).filter(|s| !s.is_empty());
        let req = BatchRequest {
            operation: "upload".into(),
            transfers: vec!["basic".into(), "multipart".into()],
            git_ref: Some(BatchRef {
                name: format!("refs/heads/{}", ctx.revision),
            }),
            objects: vec![LfsObject {
                oid: oid.to_string(),
                size: i64::try_from(size).unwrap_or(i64::MAX),
            }],
            hash_algo: Some("sha256".into()),
            upload_id,
        };
        // The answer echoes the token: it is never logged or put into an error.
        let resp = ctx
            .retrying(
                display,
                &ctx.config.retry,
                TransferError::is_transient,
                || async {
                    Ok(ctx
                        .client
                        .execute(endpoints::lfs_batch(ctx.kind, &ctx.repo, &req))
                        .await?)
                },
            )
            .await?;
        let obj = resp
            .objects
            .into_iter()
            .find(|o| o.oid.eq_ignore_ascii_case(oid))
            .ok_or_else(|| TransferError::Protocol {
                context: format!("LFS batch of {display}"),
                message: "the object is missing from the answer".into(),
            })?;
        if let Some(err) = obj.error {
            return Err(TransferError::Lfs {
                path: display.to_string(),
                message: format!(
                    "the server refused the object (code {}): {}",
                    err.code, err.message
                ),
            });
        }
        let Some(actions) = obj.actions else {
            return Ok(LfsDone::AlreadyThere);
        };
        let (Some(upload), Some(verify)) = (actions.upload, actions.verify) else {
            // git-lfs servers may omit `upload` for known objects; without verify there is
            // nothing left to do either.
            return Ok(LfsDone::AlreadyThere);
        };
        ctx.reporter.on_file_start(display, size, 0);
        let expired = match upload.multipart_parts() {
            Some((chunk, urls)) => {
                multipart(
                    ctx, file, display, size, oid, &upload, chunk, &urls, parts, save,
                )
                .await?
            }
            None => {
                basic(ctx, file, display, size, &upload).await?;
                false
            }
        };
        if expired {
            refreshes += 1;
            if refreshes > MAX_URL_REFRESHES {
                return Err(TransferError::Lfs {
                    path: display.to_string(),
                    message: "part URLs kept expiring; check the machine's clock".into(),
                });
            }
            continue;
        }
        verify_object(ctx, display, size, oid, &verify).await?;
        return Ok(LfsDone::Uploaded);
    }
}

async fn basic(
    ctx: &Ctx,
    file: &Path,
    display: &str,
    size: u64,
    upload: &Action,
) -> Result<(), TransferError> {
    let url = parse_href(&upload.href, display, "upload")?;
    let headers: Vec<(String, String)> = upload
        .headers_without_auth()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ctx.retrying(
        display,
        &ctx.config.retry,
        TransferError::is_transient,
        || {
            put_bytes(
                ctx,
                file,
                display,
                &url,
                0,
                size,
                upload.wants_auth(),
                &headers,
            )
        },
    )
    .await?;
    Ok(())
}

/// Upload the missing parts and complete. `Ok(true)`: some part URL expired, ask for fresh
/// ones (finished parts are kept).
#[allow(clippy::too_many_arguments)]
async fn multipart(
    ctx: &Ctx,
    file: &Path,
    display: &str,
    size: u64,
    oid: &str,
    upload: &Action,
    chunk: u64,
    urls: &[(u32, &str)],
    parts: &Mutex<PartsState>,
    save: SaveParts<'_>,
) -> Result<bool, TransferError> {
    let bad = |m: &str| TransferError::Lfs {
        path: display.to_string(),
        message: format!("unusable multipart plan from the server: {m}"),
    };
    if chunk == 0 || size == 0 {
        return Err(bad("zero part size or empty object"));
    }
    let n = size.div_ceil(chunk);
    if urls.len() as u64 != n
        || urls
            .iter()
            .enumerate()
            .any(|(i, (k, _))| *k as usize != i + 1)
    {
        return Err(bad(&format!("{} part URLs for {n} parts", urls.len())));
    }
    let parsed: Vec<(u32, Url)> = urls
        .iter()
        .map(|(k, u)| parse_href(u, display, "part").map(|u| (*k, u)))
        .collect::<Result<_, _>>()?;
    let upload_id = parsed
        .first()
        .and_then(|(_, u)| {
            u.query_pairs()
                .find(|(k, _)| k == "uploadId")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    let todo: Vec<(u32, Url)> = {
        let mut p = parts.lock().unwrap_or_else(|e| e.into_inner());
        if p.upload_id != upload_id || p.chunk_size != chunk || upload_id.is_empty() {
            // A different (new) multipart upload: earlier parts do not belong to it.
            *p = PartsState {
                upload_id: upload_id.clone(),
                chunk_size: chunk,
                etags: BTreeMap::new(),
            };
            save(&p)?;
        }
        let done: u64 = p
            .etags
            .keys()
            .map(|k| chunk.min(size - u64::from(k - 1) * chunk))
            .sum();
        if done > 0 {
            ctx.reporter.on_file_start(display, size, done);
        }
        parsed
            .into_iter()
            .filter(|(k, _)| !p.etags.contains_key(k))
            .collect()
    };
    let results: Vec<Result<(), TransferError>> = futures_util::stream::iter(todo)
        .map(|(k, url)| async move {
            let offset = u64::from(k - 1) * chunk;
            let len = chunk.min(size - offset);
            let etag = ctx
                .retrying(display, &ctx.config.retry, part_retryable, || {
                    put_bytes(ctx, file, display, &url, offset, len, false, &[])
                })
                .await?
                .ok_or_else(|| TransferError::UploadHttp {
                    path: display.to_string(),
                    status: 200,
                    url: csghub_api::redact_url(&url),
                    message: "the object store sent no ETag for the part".into(),
                })?;
            let mut p = parts.lock().unwrap_or_else(|e| e.into_inner());
            p.etags.insert(k, etag);
            save(&p)
        })
        .buffer_unordered(ctx.config.parts_in_flight.max(1))
        .collect()
        .await;
    let mut expired = false;
    for r in results {
        match r {
            Ok(()) => {}
            Err(e) if is_expired(&e) => expired = true,
            Err(e) => return Err(e),
        }
    }
    if expired {
        return Ok(true);
    }
    let body = CompleteMultipartBody {
        oid: oid.to_string(),
        parts: parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .etags
            .iter()
            .map(|(k, e)| CompletePart {
                part_number: *k,
                etag: e.clone(),
            })
            .collect(),
    };
    let completed = ctx
        .retrying(
            display,
            &ctx.config.retry,
            TransferError::is_transient,
            || async {
                Ok(ctx
                    .client
                    .execute(endpoints::complete_multipart(&upload.href, &body)?)
                    .await?)
            },
        )
        .await;
    if let Err(e) = completed {
        // The parts are unusable now (or the signature is): start over next time.
        let mut p = parts.lock().unwrap_or_else(|e| e.into_inner());
        *p = PartsState::default();
        let _ = save(&p);
        return Err(TransferError::Lfs {
            path: display.to_string(),
            message: format!("completing the multipart upload failed: {e}"),
        });
    }
    Ok(false)
}

async fn verify_object(
    ctx: &Ctx,
    display: &str,
    size: u64,
    oid: &str,
    verify: &Action,
) -> Result<(), TransferError> {
    let object = LfsObject {
        oid: oid.to_string(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
    };
    ctx.retrying(
        display,
        &ctx.config.retry,
        TransferError::is_transient,
        || async {
            Ok(ctx
                .client
                .execute(endpoints::lfs_verify(verify, &object)?)
                .await?)
        },
    )
    .await
    .map_err(|e| TransferError::Lfs {
        path: display.to_string(),
        message: format!("the server did not verify the uploaded object: {e}"),
    })
}

// ------------------------------------------------------------------------------------------
// Commits

/// One file of a commit.
#[derive(Debug, Clone)]
pub(crate) struct CommitItem {
    /// Path in the repo.
    pub path: String,
    /// On disk.
    pub local: PathBuf,
    /// Size.
    pub size: u64,
    /// Hashes.
    pub hashes: FileHashes,
    /// Committed as an LFS pointer.
    pub lfs: bool,
    /// A file exists at this path already (`update` instead of `create`).
    pub exists: bool,
}

/// Commits are retried only when the request surely did not run or the server says so.
fn commit_retryable(e: &TransferError) -> bool {
    match e.api() {
        Some(csghub_api::Error::Transport { .. } | csghub_api::Error::RateLimited { .. }) => true,
        Some(csghub_api::Error::Server(info)) => matches!(info.status, 502..=504),
        _ => false,
    }
}

/// The JSON commit body, streamed: regular files are read, checked and base64-encoded one at
/// a time, so memory holds one file, not the whole commit.
fn commit_body(items: Vec<CommitItem>, message: String) -> reqwest::Body {
    let head = format!(
        "{{\"message\":{},\"files\":[",
        serde_json::Value::String(message)
    );
    let entries =
        futures_util::stream::iter(items.into_iter().enumerate()).then(|(i, it)| async move {
            let content = if it.lfs {
                lfs_pointer(&it.hashes.sha256, it.size).into_bytes()
            } else {
                let bytes = tokio::fs::read(&it.local).await?;
                // The bytes committed must be the bytes hashed.
                if hex::encode(sha2::Sha256::digest(&bytes)) != it.hashes.sha256 {
                    return Err(std::io::Error::other(format!(
                        "{} changed while it was being uploaded",
                        it.local.display()
                    )));
                }
                bytes
            };
            let entry = serde_json::json!({
                "path": it.path,
                "action": if it.exists { "update" } else { "create" },
                "content": base64::engine::general_purpose::STANDARD.encode(content),
            });
            let mut out = if i == 0 { Vec::new() } else { b",".to_vec() };
            out.extend(entry.to_string().into_bytes());
            Ok::<_, std::io::Error>(out)
        });
    let stream = futures_util::stream::once(async move { Ok(head.into_bytes()) })
        .chain(entries)
        .chain(futures_util::stream::once(async { Ok(b"]}".to_vec()) }));
    reqwest::Body::wrap_stream(stream)
}

async fn send_commit(ctx: &Ctx, items: &[CommitItem], message: &str) -> Result<(), TransferError> {
    for it in items.iter().filter(|i| !i.lfs) {
        // Fail before sending when a regular file changed size (the stream also checks content).
        let size = std::fs::metadata(&it.local)
            .map_err(|e| TransferError::Io {
                path: it.local.clone(),
                source: e,
            })?
            .len();
        if size != it.size {
            return Err(changed(&it.local));
        }
    }
    let ep = endpoints::commit(ctx.kind, &ctx.repo, &ctx.revision, &Default::default())?;
    let url = match &ep.target {
        csghub_api::Target::Path(p) => ctx.client.url(p)?,
        csghub_api::Target::Url(u) => u.clone(),
    };
    let rb = ctx
        .client
        .request(Method::POST, url.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(commit_body(items.to_vec(), message.to_string()));
    ctx.client.send(rb, &url, NotFoundMeans::Revision).await?;
    Ok(())
}

/// Whether every item is on the branch with exactly this content (one preupload).
async fn landed(ctx: &Ctx, items: &[CommitItem]) -> Result<bool, TransferError> {
    let q: Vec<(String, u64)> = items.iter().map(|i| (i.path.clone(), i.size)).collect();
    let remote = ctx.preupload(&q).await?;
    Ok(items
        .iter()
        .all(|i| remote.get(&i.path).is_some_and(|r| r.same(&i.hashes))))
}

/// One JSON commit of `items`, retried per [`UploadConfig::commit_retry`].
pub(crate) async fn commit(
    ctx: &Ctx,
    items: &[CommitItem],
    message: &str,
) -> Result<(), TransferError> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        match send_commit(ctx, items, message).await {
            Ok(()) => {
                let n = items.len() as u64;
                ctx.tracker.update(|s| {
                    s.files_committed += n;
                    s.commits += 1;
                });
                return Ok(());
            }
            Err(e) if commit_retryable(&e) => {
                attempt += 1;
                let Some(d) =
                    ctx.config
                        .commit_retry
                        .delay(attempt, started.elapsed(), retry_after_of(&e))
                else {
                    return Err(e);
                };
                ctx.reporter.on_retry("commit", attempt, d, &e.to_string());
                tokio::time::sleep(d).await;
                // The answer may have been lost after the commit ran: never commit twice.
                if landed(ctx, items).await.unwrap_or(false) {
                    let n = items.len() as u64;
                    ctx.tracker.update(|s| {
                        s.files_committed += n;
                        s.commits += 1;
                    });
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn full_message(message: &str, description: Option<&str>) -> String {
    match description.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => format!("{}\n\n{d}", message.trim_end()),
        None => message.to_string(),
    }
}

/// The branch tip (for reporting the commit an upload made).
pub(crate) async fn tip(ctx: &Ctx) -> Result<String, TransferError> {
    let c = ctx
        .retrying(
            "last commit",
            &ctx.config.retry,
            TransferError::is_transient,
            || async {
                Ok(ctx
                    .client
                    .execute(endpoints::last_commit(ctx.kind, &ctx.repo, &ctx.revision)?)
                    .await?)
            },
        )
        .await?;
    Ok(c.id)
}

/// Hash on the blocking pool, counting bytes into the tracker.
///
/// The git SHA-1 is computed when `git_sha1` is set or the file is below the LFS threshold
/// (it may be committed as a regular file, whose oid that is).
pub(crate) async fn hash_blocking(
    ctx: &Ctx,
    f: &LocalFile,
    git_sha1: bool,
) -> Result<FileHashes, TransferError> {
    let (path, size, tracker) = (f.abs.clone(), f.size, ctx.tracker.clone());
    let git_sha1 = git_sha1 || size < ctx.config.lfs_threshold;
    let h = tokio::task::spawn_blocking(move || {
        hash_file(&path, size, git_sha1, &mut |n| {
            tracker.update(|s| s.bytes_hashed += n)
        })
    })
    .await
    .map_err(|e| TransferError::Io {
        path: f.abs.clone(),
        source: std::io::Error::other(e.to_string()),
    })??;
    ctx.tracker.update(|s| s.files_hashed += 1);
    Ok(h)
}

// ------------------------------------------------------------------------------------------
// The one-commit upload

impl Uploader {
    /// An uploader over an API client (its token must be a `git` access token: LFS routes
    /// accept no other, SERVER.md §0.17).
    pub fn new(client: Client, config: UploadConfig) -> Uploader {
        Uploader { client, config }
    }

    /// The configuration.
    pub fn config(&self) -> &UploadConfig {
        &self.config
    }

    pub(crate) fn ctx(
        &self,
        kind: RepoType,
        repo: &RepoId,
        revision: &str,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Ctx, TransferError> {
        csghub_api::encode_revision(revision)?;
        Ok(Ctx {
            client: self.client.clone(),
            kind,
            repo: repo.clone(),
            revision: revision.to_string(),
            config: self.config.clone(),
            tracker: Arc::new(Tracker::new(reporter.clone())),
            reporter,
        })
    }

    /// Upload a file or a folder as one commit (plus one `DELETE` per deleted file). Creates
    /// the repo and the branch when missing (if [`UploadConfig::create_repo`]).
    pub async fn upload(
        &self,
        req: &UploadRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Uploaded, TransferError> {
        let ctx = self.ctx(req.kind, &req.repo, &req.revision, reporter)?;
        let meta = std::fs::metadata(&req.local).map_err(|e| TransferError::LocalFile {
            path: req.local.clone(),
            reason: format!("cannot upload it: {e}"),
        })?;
        let (files, folder_prefix) = if meta.is_dir() {
            let filter = Filter::new(&req.allow, &req.ignore)?;
            let files = collect_files(&req.local, &req.path_in_repo, &filter)?;
            (files, Some(req.path_in_repo.trim_matches('/').to_string()))
        } else {
            let name = req
                .local
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| TransferError::LocalFile {
                    path: req.local.clone(),
                    reason: "the file name is not valid UTF-8".into(),
                })?
                .to_string();
            let dest = if req.path_in_repo.trim().is_empty() {
                join_repo("", &name, &req.local)?
            } else if req.path_in_repo.ends_with('/') {
                join_repo(&req.path_in_repo, &name, &req.local)?
            } else {
                join_repo("", req.path_in_repo.trim_start_matches('/'), &req.local)?
            };
            let f = LocalFile {
                rel: name,
                dest,
                abs: req.local.clone(),
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
            };
            (vec![f], None)
        };
        let default_message = format!(
            "Upload {} with csghub",
            if files.len() == 1 && folder_prefix.is_none() {
                files[0].dest.clone()
            } else {
                format!("{} files", files.len())
            }
        );
        let message = full_message(
            req.message.as_deref().unwrap_or(&default_message),
            req.description.as_deref(),
        );
        if self.config.create_repo {
            ensure_repo_and_branch(&ctx, true, self.config.private).await?;
        }
        let total: u64 = files.iter().map(|f| f.size).sum();
        ctx.reporter.on_plan(files.len(), total);
        ctx.tracker.update(|s| {
            s.files_total = files.len() as u64;
            s.bytes_total = total;
        });
        let q: Vec<(String, u64)> = files.iter().map(|f| (f.dest.clone(), f.size)).collect();
        let remote = ctx.preupload(&q).await?;

        let mut outcomes: BTreeMap<String, UploadOutcome> = BTreeMap::new();
        for f in files.iter().filter(|f| remote[&f.dest].ignore) {
            outcomes.insert(f.dest.clone(), UploadOutcome::Ignored);
            ctx.reporter.on_file_done(&f.dest, FileOutcome::Cached);
            ctx.tracker.update(|s| s.files_skipped += 1);
        }

        // Hash on all cores but one (more would only make every file finish late, and the
        // transfer needs a core), and start each LFS upload as soon as its file is hashed: a folder of big files
        // then costs about its hashing alone. The first failure stops the rest.
        let started = Instant::now();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hash_workers = self.config.max_workers.min(cores - 1).max(1);
        let timing = Mutex::new((Duration::ZERO, None::<Instant>));
        let lfs_threshold = self.config.lfs_threshold;
        let (ctx_ref, remote_ref, timing_ref) = (&ctx, &remote, &timing);
        let done: Vec<Prepared> =
            futures_util::stream::iter(files.iter().filter(|f| !remote[&f.dest].ignore).cloned())
                .map(|f| {
                    // A remote regular file is compared by its git SHA-1.
                    let remote_sha1 = remote_ref[&f.dest].oid.len() == 40;
                    async move {
                        let h = hash_blocking(ctx_ref, &f, remote_sha1).await?;
                        timing_ref.lock().unwrap_or_else(|e| e.into_inner()).0 = started.elapsed();
                        Ok::<_, TransferError>((f, h))
                    }
                })
                .buffer_unordered(hash_workers)
                .map(|r| async move {
                    let (f, h) = r?;
                    let rem = &remote_ref[&f.dest];
                    if rem.same(&h) {
                        ctx_ref.reporter.on_file_done(&f.dest, FileOutcome::Cached);
                        ctx_ref.tracker.update(|s| s.files_skipped += 1);
                        return Ok(Prepared::Unchanged(f.dest));
                    }
                    let item = CommitItem {
                        lfs: f.size > 0 && (rem.lfs || f.size >= lfs_threshold),
                        exists: !rem.oid.is_empty(),
                        path: f.dest.clone(),
                        local: f.abs.clone(),
                        size: f.size,
                        hashes: h,
                    };
                    if item.lfs {
                        timing_ref
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .1
                            .get_or_insert_with(Instant::now);
                        let parts = Mutex::new(PartsState::default());
                        upload_lfs(
                            ctx_ref,
                            &item.local,
                            &item.path,
                            item.size,
                            &item.hashes.sha256,
                            &parts,
                            &|_| Ok(()),
                        )
                        .await?;
                        ctx_ref.tracker.update(|s| s.files_uploaded += 1);
                    }
                    Ok::<_, TransferError>(Prepared::Commit(item))
                })
                .buffer_unordered(self.config.max_workers.max(1))
                .try_collect()
                .await?;
        let mut items = Vec::new();
        for d in done {
            match d {
                Prepared::Commit(item) => items.push(item),
                Prepared::Unchanged(path) => {
                    outcomes.insert(path, UploadOutcome::Unchanged);
                }
            }
        }
        items.sort_by(|a, b| a.path.cmp(&b.path));
        let (hash_time, first_upload) = *timing.lock().unwrap_or_else(|e| e.into_inner());
        let transfer_started = first_upload.unwrap_or_else(Instant::now);
        let regular = items.iter().filter(|i| !i.lfs).count() as u64;
        ctx.tracker.update(|s| s.files_uploaded += regular);

        let mut changed_anything = false;
        if !items.is_empty() {
            commit(&ctx, &items, &message).await?;
            changed_anything = true;
            for it in &items {
                outcomes.insert(it.path.clone(), UploadOutcome::Committed);
                ctx.reporter
                    .on_file_done(&it.path, FileOutcome::Transferred);
            }
        }

        let deleted = match (&folder_prefix, req.delete.is_empty()) {
            (Some(prefix), false) => {
                let keep: BTreeSet<&str> = files.iter().map(|f| f.dest.as_str()).collect();
                delete_remote(&ctx, prefix, &req.delete, &keep, &message).await?
            }
            _ => Vec::new(),
        };
        changed_anything |= !deleted.is_empty();
        let commit_id = if changed_anything {
            Some(tip(&ctx).await?)
        } else {
            None
        };
        Ok(Uploaded {
            commit: commit_id,
            files: outcomes.into_iter().collect(),
            deleted,
            bytes_uploaded: ctx.tracker.get().bytes_uploaded,
            hash_time,
            transfer_time: transfer_started.elapsed(),
        })
    }
}

/// A hashed file: already on the server as it is, or to commit (its LFS object, if any,
/// already uploaded).
enum Prepared {
    Unchanged(String),
    Commit(CommitItem),
}

/// Delete remote files below `prefix` that match `patterns` (relative to `prefix`) and are not
/// in `keep`, one `DELETE raw/{path}` each (the JSON commit would only empty them, §9.6).
async fn delete_remote(
    ctx: &Ctx,
    prefix: &str,
    patterns: &[String],
    keep: &BTreeSet<&str>,
    message: &str,
) -> Result<Vec<String>, TransferError> {
    let filter = Filter::new(patterns, &[])?;
    let listing = crate::listing::list(&ctx.client, ctx.kind, &ctx.repo, &ctx.revision).await?;
    let mut deleted = Vec::new();
    for f in &listing.files {
        let path = f.path.as_str();
        let rel = if prefix.is_empty() {
            path
        } else {
            match path.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
                Some(r) => r,
                None => continue,
            }
        };
        if keep.contains(path) || !filter.matches(rel) {
            continue;
        }
        let req = DeleteFileReq {
            branch: ctx.revision.clone(),
            message: message.to_string(),
            ..DeleteFileReq::default()
        };
        let r = ctx
            .retrying(
                path,
                &ctx.config.retry,
                TransferError::is_transient,
                || async {
                    Ok(ctx
                        .client
                        .execute(endpoints::delete_file(ctx.kind, &ctx.repo, path, &req)?)
                        .await?)
                },
            )
            .await;
        match r {
            Ok(()) => {}
            // Gone already (a retried delete that had run): fine.
            Err(e) if matches!(e.api(), Some(csghub_api::Error::EntryNotFound(_))) => {}
            Err(e) => return Err(e),
        }
        deleted.push(path.to_string());
    }
    Ok(deleted)
}
