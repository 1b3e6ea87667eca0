//! Snapshot and single-file downloads: resolve once, list once, filter, then fetch every file
//! pinned to the commit, in parallel, verified, into the cache or a local dir.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csghub_api::{Client, NotFoundMeans, RepoId, RepoType, endpoints};
use csghub_cache::{
    BlobWriter, CacheDir, CacheError, Etag, Expected, LocalDir, PartialOwner, RepoCache, RepoPath,
    RepoRef, SnapshotStatus, TreeEntry, TreeListing,
};
use futures_util::StreamExt as _;
use reqwest::{StatusCode, Url, header};

use crate::error::TransferError;
use crate::listing::{self, Listing, RemoteFile};
use crate::patterns::Filter;
use crate::progress::{FileOutcome, Reporter};
use crate::retry::RetryPolicy;

/// Tuning and behaviour of downloads.
#[derive(Debug, Clone)]
pub struct DownloadConfig {
    /// Files fetched at once.
    pub max_workers: usize,
    /// Parallel range requests for one large file.
    pub connections_per_file: usize,
    /// Size of one range request. Files of at least two chunks (or of 64 MiB, whichever is
    /// less) are fetched in ranges into a resumable partial; a killed download fetches at most
    /// one chunk per connection again.
    pub chunk_size: u64,
    /// Retries of every request and chunk.
    pub retry: RetryPolicy,
    /// Answer from the cache only, with no request at all.
    pub offline: bool,
    /// Download again even if the file is cached.
    pub force: bool,
    /// How long to wait for another process's lock on a blob (`None`: forever).
    pub lock_timeout: Option<Duration>,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            max_workers: 8,
            // Chosen by `cargo xtask bench download` (see the README's figures).
            connections_per_file: 2,
            chunk_size: 32 << 20,
            retry: RetryPolicy::default(),
            offline: false,
            force: false,
            lock_timeout: Some(Duration::from_secs(600)),
        }
    }
}

/// Where files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The shared HF-layout cache (`snapshots/<commit>/<path>` → `blobs/<etag>`).
    Cache,
    /// Plain files at `DIR/<path>`, bookkeeping in `DIR/.cache/huggingface/`.
    LocalDir(PathBuf),
}

/// What to download.
#[derive(Debug, Clone)]
pub struct Request {
    /// Repo kind.
    pub kind: RepoType,
    /// `ns/name`.
    pub repo: RepoId,
    /// Branch, tag or commit.
    pub revision: String,
    /// Allow patterns (empty: everything).
    pub allow: Vec<String>,
    /// Ignore patterns.
    pub ignore: Vec<String>,
    /// Exact file paths; when not empty only these, and each must exist.
    pub files: Vec<String>,
    /// Where to put them.
    pub target: Target,
}

impl Request {
    /// Everything of `repo` at `revision` into the cache.
    pub fn snapshot(kind: RepoType, repo: RepoId, revision: &str) -> Request {
        Request {
            kind,
            repo,
            revision: revision.to_string(),
            allow: Vec::new(),
            ignore: Vec::new(),
            files: Vec::new(),
            target: Target::Cache,
        }
    }
}

/// One file of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The file as listed.
    pub file: RemoteFile,
    /// Already present and up to date at the target.
    pub cached: bool,
}

/// What a download would do (`--dry-run`), or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The commit the revision resolved to.
    pub commit: String,
    /// Selected files.
    pub files: Vec<PlannedFile>,
    /// Answered from the cache without the network.
    pub offline: bool,
}

impl Plan {
    /// Bytes still to download.
    pub fn bytes_to_fetch(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.cached)
            .map(|f| f.file.size)
            .sum()
    }
}

/// The result of a download.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// The commit.
    pub commit: String,
    /// `snapshots/<commit>` or the local dir.
    pub root: PathBuf,
    /// Each selected file and what happened to it.
    pub files: Vec<(RepoPath, FileOutcome)>,
    /// Answered from the cache without the network.
    pub offline: bool,
}

impl Downloaded {
    /// Where a downloaded file is.
    pub fn path_of(&self, file: &RepoPath) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(file.as_str().split('/'));
        p
    }
}

/// The download engine.
#[derive(Debug, Clone)]
pub struct Downloader {
    client: Client,
    cache: CacheDir,
    config: DownloadConfig,
}

/// Map the API's repo kind to the cache's.
pub fn cache_repo(kind: RepoType, repo: &RepoId) -> Result<RepoRef, TransferError> {
    let t = match kind {
        RepoType::Model => csghub_cache::RepoType::Model,
        RepoType::Dataset => csghub_cache::RepoType::Dataset,
        RepoType::Space => csghub_cache::RepoType::Space,
        RepoType::Code => csghub_cache::RepoType::Code,
        RepoType::McpServer => csghub_cache::RepoType::Mcp,
        RepoType::Skill => csghub_cache::RepoType::Skill,
        other => {
            return Err(csghub_api::Error::InvalidInput {
                what: "repo type",
                value: other.to_string(),
                reason: "has no file downloads",
            }
            .into());
        }
    };
    let id = csghub_cache::RepoId::new(repo.namespace(), repo.name())?;
    Ok(RepoRef::new(t, id))
}

struct Ctx {
    kind: RepoType,
    repo: RepoId,
    commit: String,
    repo_cache: RepoCache,
    target: Target,
    reporter: Arc<dyn Reporter>,
}

impl Downloader {
    /// A downloader over an API client and a cache.
    pub fn new(client: Client, cache: CacheDir, config: DownloadConfig) -> Downloader {
        Downloader {
            client,
            cache,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DownloadConfig {
        &self.config
    }

    /// The API client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolve, list and filter; say what is already present. Online this costs one request for
    /// models (two for a revision containing `/`), a few for other kinds; offline none.
    pub async fn plan(&self, req: &Request) -> Result<Plan, TransferError> {
        Ok(self.plan_and_listing(req).await?.0)
    }

    async fn plan_and_listing(
        &self,
        req: &Request,
    ) -> Result<(Plan, Option<Listing>), TransferError> {
        let repo_cache = self.cache.repo(cache_repo(req.kind, &req.repo)?);
        if self.config.offline {
            return Ok((self.offline_plan(req, &repo_cache)?, None));
        }
        let started = Instant::now();
        let mut attempt = 0;
        let listing = loop {
            match listing::list(&self.client, req.kind, &req.repo, &req.revision).await {
                Ok(l) => break l,
                Err(e) if e.is_transient() => {
                    // The network is down or the server failing: answer from the cache at once
                    // if it can (as huggingface_hub does), else retry with backoff.
                    if attempt == 0
                        && let Ok(plan) = self.offline_plan(req, &repo_cache)
                    {
                        return Ok((plan, None));
                    }
                    attempt += 1;
                    match self
                        .config
                        .retry
                        .delay(attempt, started.elapsed(), retry_after_of(&e))
                    {
                        Some(d) => tokio::time::sleep(d).await,
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let plan = self.plan_from_listing(req, &repo_cache, &listing, false)?;
        Ok((plan, Some(listing)))
    }

    fn plan_from_listing(
        &self,
        req: &Request,
        repo_cache: &RepoCache,
        listing: &Listing,
        offline: bool,
    ) -> Result<Plan, TransferError> {
        let filter = Filter::new(&req.allow, &req.ignore)?;
        let selected: Vec<&RemoteFile> = if req.files.is_empty() {
            listing
                .files
                .iter()
                .filter(|f| filter.matches(f.path.as_str()))
                .collect()
        } else {
            req.files
                .iter()
                .map(|want| {
                    listing
                        .files
                        .iter()
                        .find(|f| f.path.as_str() == want.trim_start_matches('/'))
                        .ok_or_else(|| TransferError::EntryNotFound {
                            repo: repo_label(req),
                            commit: listing.commit.clone(),
                            path: want.clone(),
                        })
                })
                .collect::<Result<_, _>>()?
        };
        let mut files = Vec::with_capacity(selected.len());
        for f in selected {
            let cached =
                !self.config.force && is_present(repo_cache, &req.target, &listing.commit, f)?;
            files.push(PlannedFile {
                file: f.clone(),
                cached,
            });
        }
        Ok(Plan {
            commit: listing.commit.clone(),
            files,
            offline,
        })
    }

    /// Offline: the listing comes from `trees/<commit>.json` (or the snapshot folder).
    fn offline_plan(&self, req: &Request, repo_cache: &RepoCache) -> Result<Plan, TransferError> {
        let not_cached = || TransferError::NotCached {
            what: format!("{} at {}", repo_label(req), req.revision),
        };
        let snap = repo_cache
            .resolve_snapshot(&req.revision)
            .map_err(|_| not_cached())?;
        let tree = repo_cache.read_tree(&snap.commit)?;
        let files: Vec<RemoteFile> = match tree {
            Some(t) => t
                .files
                .into_iter()
                .filter_map(|(path, e)| {
                    Some(RemoteFile {
                        etag: Etag::new(&e.blob_id).ok()?,
                        size: e.size,
                        sha256: e.lfs_sha256,
                        path,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let listing = Listing {
            commit: snap.commit.clone(),
            files,
        };
        let mut plan = if listing.files.is_empty() {
            // No listing cached: explicit files can still be answered from the snapshot.
            let mut files = Vec::new();
            for want in &req.files {
                let path = RepoPath::new(want)?;
                if !repo_cache.snapshot_file(&snap.commit, &path)?.is_file() {
                    return Err(not_cached());
                }
                let etag = Etag::new(&"0".repeat(40))?;
                files.push(PlannedFile {
                    file: RemoteFile {
                        path,
                        size: 0,
                        etag,
                        sha256: None,
                    },
                    cached: true,
                });
            }
            if files.is_empty() && snap.status != SnapshotStatus::Complete {
                return Err(not_cached());
            }
            Plan {
                commit: snap.commit,
                files,
                offline: true,
            }
        } else {
            self.plan_from_listing(req, repo_cache, &listing, true)?
        };
        plan.offline = true;
        if plan.files.iter().any(|f| !f.cached) {
            let missing: Vec<&str> = plan
                .files
                .iter()
                .filter(|f| !f.cached)
                .map(|f| f.file.path.as_str())
                .take(3)
                .collect();
            return Err(TransferError::NotCached {
                what: format!(
                    "{} at {} ({} files missing, e.g. {})",
                    repo_label(req),
                    req.revision,
                    plan.files.iter().filter(|f| !f.cached).count(),
                    missing.join(", ")
                ),
            });
        }
        Ok(plan)
    }

    /// Download what `req` selects. Returns where the files are.
    pub async fn download(
        &self,
        req: &Request,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Downloaded, TransferError> {
        let repo_cache = self.cache.repo(cache_repo(req.kind, &req.repo)?);
        let (plan, listing) = self.plan_and_listing(req).await?;
        let root = match &req.target {
            Target::Cache => repo_cache.snapshot_dir(&plan.commit)?,
            Target::LocalDir(d) => d.clone(),
        };
        if plan.offline {
            return Ok(Downloaded {
                commit: plan.commit,
                root,
                files: plan
                    .files
                    .into_iter()
                    .map(|f| (f.file.path, FileOutcome::Cached))
                    .collect(),
                offline: true,
            });
        }
        reporter.on_plan(plan.files.len(), plan.bytes_to_fetch());
        if req.target == Target::Cache {
            self.cache.ensure_tag()?;
            if req.revision != plan.commit {
                repo_cache.write_ref(&req.revision, &plan.commit)?;
            }
        }
        let ctx = Arc::new(Ctx {
            kind: req.kind,
            repo: req.repo.clone(),
            commit: plan.commit.clone(),
            repo_cache: repo_cache.clone(),
            target: req.target.clone(),
            reporter: reporter.clone(),
        });
        let results: Vec<Result<(RepoPath, FileOutcome), TransferError>> =
            futures_util::stream::iter(plan.files.clone())
                .map(|pf| {
                    let ctx = ctx.clone();
                    let this = self.clone();
                    async move {
                        let outcome = if pf.cached {
                            this.link_cached(&ctx, &pf.file)?;
                            ctx.reporter
                                .on_file_done(pf.file.path.as_str(), FileOutcome::Cached);
                            FileOutcome::Cached
                        } else {
                            this.fetch_file(&ctx, &pf.file).await?
                        };
                        Ok((pf.file.path, outcome))
                    }
                })
                .buffer_unordered(self.config.max_workers.max(1))
                .collect()
                .await;
        let mut files = Vec::with_capacity(results.len());
        for r in results {
            files.push(r?);
        }
        files.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        if let (Some(listing), Target::Cache) = (&listing, &req.target) {
            // Recorded last: its presence never claims files that are not there.
            repo_cache.write_tree(&listing.commit, &tree_of(listing))?;
        }
        Ok(Downloaded {
            commit: plan.commit,
            root,
            files,
            offline: false,
        })
    }

    fn link_cached(&self, ctx: &Ctx, file: &RemoteFile) -> Result<(), TransferError> {
        if ctx.target == Target::Cache {
            let snap = ctx.repo_cache.snapshot_file(&ctx.commit, &file.path)?;
            if !snap.exists() {
                ctx.repo_cache
                    .link_snapshot(&ctx.commit, &file.path, &file.etag)?;
            }
        }
        Ok(())
    }

    async fn fetch_file(
        &self,
        ctx: &Arc<Ctx>,
        file: &RemoteFile,
    ) -> Result<FileOutcome, TransferError> {
        let expected = Expected {
            size: Some(file.size),
            sha256: file.sha256.clone(),
            git_sha1: None,
            match_etag: true,
        };
        match &ctx.target {
            Target::Cache if file.size < SMALL_FILE => {
                // Small files skip the cross-process blob lock: its lock file costs as much as
                // the download, and a duplicate fetch by a racing process costs little. The blob
                // lands through a process-unique temp file and an atomic rename, so racing
                // writers (huggingface_hub's included) leave one whole verified blob. They skip
                // the fsync too (it doubled the time of a folder of small files; a kill still
                // cannot expose a partial file, see `BlobWriter::with_fsync`).
                let rc = ctx.repo_cache.clone();
                self.fetch_streamed(ctx, file, || {
                    rc.begin_blob(&file.etag, expected.clone())
                        .map(|w| w.with_fsync(false))
                })
                .await?;
                ctx.repo_cache
                    .link_snapshot(&ctx.commit, &file.path, &file.etag)?;
            }
            Target::Cache => {
                let rc = ctx.repo_cache.clone();
                let etag = file.etag.clone();
                let lock = blocking(move || rc.lock_blob(&etag)).await?;
                if !self.config.force && lock.blob_exists() {
                    // Another process finished it while we waited for the lock.
                    ctx.repo_cache
                        .link_snapshot(&ctx.commit, &file.path, &file.etag)?;
                    ctx.reporter
                        .on_file_done(file.path.as_str(), FileOutcome::Cached);
                    return Ok(FileOutcome::Cached);
                }
                // Large files go through the resumable partial, whatever the connection count.
                let lock = if self.ranged(file.size) {
                    let (rc, etag) = (ctx.repo_cache.clone(), file.etag.clone());
                    let relock = move || rc.lock_blob(&etag);
                    self.fetch_ranged(ctx, file, lock, relock, &expected)
                        .await?
                } else {
                    self.fetch_streamed(ctx, file, || lock.begin(expected.clone()))
                        .await?;
                    lock
                };
                ctx.repo_cache
                    .link_snapshot(&ctx.commit, &file.path, &file.etag)?;
                drop(lock);
            }
            Target::LocalDir(dir) => {
                let local = LocalDir::new(dir);
                let (path, etag, timeout) = (
                    file.path.clone(),
                    file.etag.clone(),
                    self.config.lock_timeout,
                );
                let relock = {
                    let local = local.clone();
                    move || local.lock_file(&path, &etag, timeout)
                };
                let lock = blocking(relock.clone()).await?;
                // Large files resume from `.cache/huggingface/download/<path>.csghub.incomplete`,
                // in parallel ranges, as in the cache.
                let lock = if self.ranged(file.size) {
                    self.fetch_ranged(ctx, file, lock, relock, &expected)
                        .await?
                } else {
                    self.fetch_streamed(ctx, file, || {
                        local.begin_file(&file.path, &file.etag, expected.clone())
                    })
                    .await?;
                    lock
                };
                local.write_metadata(&file.path, &ctx.commit, &file.etag)?;
                drop(lock);
            }
        }
        ctx.reporter
            .on_file_done(file.path.as_str(), FileOutcome::Transferred);
        Ok(FileOutcome::Transferred)
    }

    /// Whether a file of `size` bytes goes through the resumable partial in ranges.
    fn ranged(&self, size: u64) -> bool {
        size >= (2 * self.config.chunk_size.max(1)).min(RANGED_MIN)
    }

    /// The resolve URL pinned to the commit (`/csg` family: no mirror-path mapping, §8).
    fn resolve_url(&self, ctx: &Ctx, file: &RemoteFile) -> Result<Url, TransferError> {
        let path = endpoints::hf_resolve_path(
            "csg",
            ctx.kind,
            &ctx.repo,
            &ctx.commit,
            file.path.as_str(),
        )?;
        Ok(self.client.url(&path)?)
    }

    /// Where the bytes are: the resolve URL itself (regular files, with the token) or the
    /// redirect target (LFS: another origin, never sent the token).
    async fn locate(&self, ctx: &Ctx, file: &RemoteFile) -> Result<Source, TransferError> {
        let url = self.resolve_url(ctx, file)?;
        let rb = self.client.request(reqwest::Method::GET, url.clone());
        let resp = self.client.send(rb, &url, NotFoundMeans::Entry).await?;
        if resp.status().is_redirection() {
            let loc = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    http_error(
                        file,
                        &url,
                        resp.status().as_u16(),
                        "redirect without Location",
                    )
                })?;
            let target = url
                .join(loc)
                .map_err(|e| http_error(file, &url, 302, &format!("bad Location: {e}")))?;
            // Only the same origin may see the token.
            let auth = target.origin() == url.origin();
            return Ok(Source { url: target, auth });
        }
        Ok(Source { url, auth: true })
    }

    fn request(&self, src: &Source) -> reqwest::RequestBuilder {
        if src.auth {
            self.client.request(reqwest::Method::GET, src.url.clone())
        } else {
            self.client
                .request_without_auth(reqwest::Method::GET, src.url.clone())
        }
    }

    /// Send a GET for `range` (inclusive), following at most one redirect manually without
    /// the token.
    async fn get(
        &self,
        file: &RemoteFile,
        src: &Source,
        range: Option<(u64, u64)>,
    ) -> Result<reqwest::Response, TransferError> {
        let mut src = src.clone();
        for _ in 0..3 {
            let mut rb = self.request(&src);
            if let Some((a, b)) = range {
                rb = rb.header(header::RANGE, format!("bytes={a}-{b}"));
            }
            let resp = rb.send().await.map_err(|e| transport(file, &e, 1))?;
            let status = resp.status();
            if status.is_redirection() {
                let loc = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        http_error(file, &src.url, status.as_u16(), "redirect without Location")
                    })?;
                let next = src.url.join(loc).map_err(|e| {
                    http_error(
                        file,
                        &src.url,
                        status.as_u16(),
                        &format!("bad Location: {e}"),
                    )
                })?;
                let auth = src.auth && next.origin() == src.url.origin();
                src = Source { url: next, auth };
                continue;
            }
            if status.is_success() {
                return Ok(resp);
            }
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok());
            if src.auth {
                // Our own server: map its error body (auth, not found ...).
                let headers = resp.headers().clone();
                let body = resp.bytes().await.unwrap_or_default();
                let err = self.client.error_from(
                    status,
                    &headers,
                    &body,
                    &csghub_api::redact_url(&src.url),
                    NotFoundMeans::Entry,
                );
                return Err(err.into());
            }
            let body = resp.text().await.unwrap_or_default();
            let mut e = http_error(file, &src.url, status.as_u16(), excerpt(&body));
            if let (TransferError::Http { message, .. }, Some(s)) = (&mut e, retry_after) {
                message.push_str(&format!(" (retry after {s} s)"));
            }
            return Err(e);
        }
        Err(http_error(file, &src.url, 310, "too many redirects"))
    }

    /// Stream the whole file into a fresh writer; retries transient failures, and a checksum
    /// mismatch once.
    async fn fetch_streamed(
        &self,
        ctx: &Ctx,
        file: &RemoteFile,
        mut writer: impl FnMut() -> Result<BlobWriter, CacheError>,
    ) -> Result<(), TransferError> {
        let mut checksum_failures = 0;
        let mut attempt = 0;
        let started = Instant::now();
        let mut src: Option<Source> = None;
        loop {
            let result = async {
                let s = match &src {
                    Some(s) => s.clone(),
                    None => {
                        let s = if file.sha256.is_some() {
                            self.locate(ctx, file).await?
                        } else {
                            Source {
                                url: self.resolve_url(ctx, file)?,
                                auth: true,
                            }
                        };
                        src = Some(s.clone());
                        s
                    }
                };
                ctx.reporter.on_file_start(file.path.as_str(), file.size, 0);
                let mut w = StreamWriter::new(writer()?);
                let mut resp = self.get(file, &s, None).await?;
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| transport(file, &e, attempt + 1))?
                {
                    let n = chunk.len() as u64;
                    w.push(chunk).await?;
                    ctx.reporter.on_file_progress(file.path.as_str(), n);
                }
                w.finish().await?;
                Ok::<(), TransferError>(())
            }
            .await;
            match result {
                Ok(()) => return Ok(()),
                Err(TransferError::Cache(CacheError::Mismatch { .. }))
                    if checksum_failures == 0 =>
                {
                    checksum_failures += 1;
                    src = None;
                    ctx.reporter.on_retry(
                        file.path.as_str(),
                        1,
                        Duration::ZERO,
                        "checksum mismatch",
                    );
                }
                Err(TransferError::Cache(CacheError::Mismatch {
                    what,
                    expected,
                    actual,
                    ..
                })) => {
                    return Err(TransferError::Checksum {
                        path: file.path.as_str().to_string(),
                        detail: format!("{what}: expected {expected}, got {actual}"),
                    });
                }
                Err(e) => {
                    attempt += 1;
                    if self.back_off(ctx, file, attempt, started, e).await? {
                        // Expired presigned URL: resolve the redirect again.
                        src = None;
                    }
                }
            }
        }
    }

    /// The shared retry rule of whole-file and range fetches: give up on a fatal error or when
    /// the budget is spent, else report and wait. `Ok(true)`: the presigned URL expired and
    /// must be resolved again before the next try.
    async fn back_off(
        &self,
        ctx: &Ctx,
        file: &RemoteFile,
        attempt: u32,
        started: Instant,
        e: TransferError,
    ) -> Result<bool, TransferError> {
        let expired = is_expired(&e);
        if !(e.is_transient() || expired) {
            return Err(e);
        }
        let Some(delay) = self
            .config
            .retry
            .delay(attempt, started.elapsed(), retry_after_of(&e))
        else {
            return Err(e);
        };
        ctx.reporter
            .on_retry(file.path.as_str(), attempt, delay, &e.to_string());
        tokio::time::sleep(delay).await;
        Ok(expired)
    }

    /// Fetch a large file as parallel byte ranges into a resumable partial blob.
    async fn fetch_ranged<L: PartialOwner>(
        &self,
        ctx: &Arc<Ctx>,
        file: &RemoteFile,
        lock: L,
        relock: impl Fn() -> Result<L, CacheError> + Clone + Send + 'static,
        expected: &Expected,
    ) -> Result<L, TransferError> {
        let size = file.size;
        let mut checksum_failures = 0;
        let mut lock = lock;
        loop {
            let partial = {
                let l = lock;
                blocking(move || l.open_partial(size)).await?
            };
            let partial = Arc::new(partial);
            let done_before: u64 = partial.completed().iter().map(|r| r.end - r.start).sum();
            ctx.reporter
                .on_file_start(file.path.as_str(), size, done_before);
            let chunk = self.config.chunk_size.max(1);
            let mut jobs: Vec<(u64, u64)> = Vec::new();
            for r in partial.missing() {
                let mut a = r.start;
                while a < r.end {
                    let b = (a + chunk).min(r.end);
                    jobs.push((a, b));
                    a = b;
                }
            }
            let src = Arc::new(tokio::sync::RwLock::new(self.locate(ctx, file).await?));
            // Hash in order while the ranges arrive, so finishing does not read the file again.
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let written = Arc::new(Written::default());
            let hasher = {
                let (partial, stop, written) = (partial.clone(), stop.clone(), written.clone());
                let git = expected.sha256.is_none();
                tokio::task::spawn_blocking(move || hash_in_order(&partial, &written, git, &stop))
            };
            let commits = Commits::default();
            let results: Vec<Result<(), TransferError>> = futures_util::stream::iter(jobs)
                .map(|(a, b)| {
                    let (partial, src, ctx) = (partial.clone(), src.clone(), ctx.clone());
                    let (written, commits) = (written.clone(), &commits);
                    async move {
                        self.fetch_range(&ctx, file, &partial, &written, commits, &src, a..b)
                            .await
                    }
                })
                .buffer_unordered(self.config.connections_per_file.max(1))
                .collect()
                .await;
            // Commits land before anything else: a failed run still leaves its ranges recorded.
            let committed = commits.wait_all(partial.path()).await;
            let failed = results.iter().any(Result::is_err) || committed.is_err();
            if failed {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let digests = hasher.await.map_err(|e| join_error(partial.path(), e))?;
            for r in results {
                r?;
            }
            committed?;
            let digests = digests?;
            let partial = Arc::try_unwrap(partial).map_err(|_| TransferError::Io {
                path: PathBuf::from(file.path.as_str()),
                source: std::io::Error::other("partial download still shared"),
            })?;
            let exp = expected.clone();
            match blocking(move || partial.finish_with_digests(exp, digests)).await {
                Ok(l) => return Ok(l),
                Err(TransferError::Cache(CacheError::Mismatch {
                    what,
                    expected,
                    actual,
                    ..
                })) => {
                    checksum_failures += 1;
                    if checksum_failures > 1 {
                        return Err(TransferError::Checksum {
                            path: file.path.as_str().to_string(),
                            detail: format!("{what}: expected {expected}, got {actual}"),
                        });
                    }
                    ctx.reporter.on_retry(
                        file.path.as_str(),
                        1,
                        Duration::ZERO,
                        "checksum mismatch",
                    );
                    // `finish` deleted the partial; take the lock again to start over.
                    lock = blocking(relock.clone()).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One range `[a, b)`, streamed to its offset; a failure resumes after the bytes already
    /// written, with backoff; an expired presigned URL is re-resolved.
    ///
    /// Disk work never runs on the async thread that drives the connections: buffers are written
    /// on the blocking pool (one in flight per range, double-buffered) and the range's commit
    /// (fdatasync + sidecar) is handed to `commits`, which the caller awaits before finishing.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_range<L: PartialOwner>(
        &self,
        ctx: &Ctx,
        file: &RemoteFile,
        partial: &Arc<csghub_cache::PartialBlob<L>>,
        written: &Arc<Written>,
        commits: &Commits,
        src: &tokio::sync::RwLock<Source>,
        range: std::ops::Range<u64>,
    ) -> Result<(), TransferError> {
        let (a, b) = (range.start, range.end);
        let started = Instant::now();
        let mut attempt = 0;
        let mut w = RangeWriter::new(partial.clone(), written.clone(), a);
        loop {
            let s = src.read().await.clone();
            let result = async {
                let resp = self.get(file, &s, Some((w.received(), b - 1))).await?;
                if resp.status() != StatusCode::PARTIAL_CONTENT {
                    return Err(http_error(
                        file,
                        &s.url,
                        resp.status().as_u16(),
                        "the server ignored the byte range",
                    ));
                }
                let mut resp = resp;
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| transport(file, &e, attempt + 1))?
                {
                    let n = chunk.len() as u64;
                    if w.received() + n > b {
                        return Err(http_error(
                            file,
                            &s.url,
                            206,
                            "more bytes than the range asked for",
                        ));
                    }
                    w.push(chunk).await?;
                    ctx.reporter.on_file_progress(file.path.as_str(), n);
                }
                if w.received() != b {
                    return Err(TransferError::Transport {
                        path: file.path.as_str().to_string(),
                        message: format!(
                            "connection closed at byte {} of range {a}-{b}",
                            w.received()
                        ),
                        attempts: attempt + 1,
                    });
                }
                Ok(())
            }
            .await;
            // Whatever arrived is kept: written out and committed so a retry (or a later
            // process) resumes there.
            let pos = w.flush().await?;
            if pos > a {
                let p = partial.clone();
                commits.push(tokio::task::spawn_blocking(move || p.commit_range(a..pos)));
            }
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    attempt += 1;
                    if self.back_off(ctx, file, attempt, started, e).await? {
                        let fresh = self.locate(ctx, file).await?;
                        *src.write().await = fresh;
                    }
                }
            }
        }
    }
}

/// Streams one range into its partial file from the blocking pool: network chunks gather in
/// [`Chunks`] of [`WRITE_BUF`]; a full batch is written while the next one fills (so at most two
/// batches a range), and [`Written`] learns of bytes once they are in the file.
struct RangeWriter<L: PartialOwner> {
    partial: Arc<csghub_cache::PartialBlob<L>>,
    written: Arc<Written>,
    /// Start of the range (the key in [`Written`]).
    start: u64,
    /// Bytes of the range in the file (written and recorded).
    pos: u64,
    buf: Chunks,
    /// The write in flight: it ends at `pos + len` and hands its batch back for reuse.
    pending: Option<(u64, tokio::task::JoinHandle<Result<Chunks, CacheError>>)>,
}

impl<L: PartialOwner> RangeWriter<L> {
    fn new(partial: Arc<csghub_cache::PartialBlob<L>>, written: Arc<Written>, start: u64) -> Self {
        RangeWriter {
            partial,
            written,
            start,
            pos: start,
            buf: Chunks::default(),
            pending: None,
        }
    }

    /// Offset of the next byte to arrive (written, in flight or buffered).
    fn received(&self) -> u64 {
        self.pos + self.pending.as_ref().map_or(0, |p| p.0) + self.buf.len() as u64
    }

    async fn push(&mut self, data: bytes::Bytes) -> Result<(), TransferError> {
        self.buf.push(data);
        if self.buf.len() >= WRITE_BUF {
            let spare = self.wait().await?;
            self.send(spare);
        }
        Ok(())
    }

    /// Start writing the batch; `spare` becomes the next one.
    fn send(&mut self, spare: Chunks) {
        let mut data = std::mem::replace(&mut self.buf, spare);
        let (partial, at, len) = (self.partial.clone(), self.pos, data.len() as u64);
        let h = tokio::task::spawn_blocking(move || {
            let mut at = at;
            for c in data.parts() {
                partial.write_at(at, c)?;
                at += c.len() as u64;
            }
            Ok(data)
        });
        self.pending = Some((len, h));
    }

    /// Wait for the write in flight; returns an empty batch to fill next.
    async fn wait(&mut self) -> Result<Chunks, TransferError> {
        let Some((len, h)) = self.pending.take() else {
            return Ok(Chunks::default());
        };
        let done = match h.await {
            Ok(r) => r.map_err(TransferError::from),
            Err(e) => Err(join_error(self.partial.path(), e)),
        };
        let mut data = match done {
            Ok(d) => d,
            Err(e) => {
                // The bytes after a failed write would land at the wrong offset: drop them, so
                // a retry asks for everything from `pos` again.
                self.buf.clear();
                return Err(e);
            }
        };
        self.pos += len;
        self.written.record(self.start, self.pos);
        data.clear();
        Ok(data)
    }

    /// Write out everything received; returns the end of the range's bytes in the file.
    async fn flush(&mut self) -> Result<u64, TransferError> {
        let spare = self.wait().await?;
        if !self.buf.is_empty() {
            self.send(spare);
            self.wait().await?;
        }
        Ok(self.pos)
    }
}

/// Streams a whole file into a [`BlobWriter`] from the blocking pool, so hashing and writing
/// one file never holds up the connections of the others: chunks gather in [`Chunks`] of
/// [`WRITE_BUF`], and a full batch is hashed and written (with the writer moved along) while the
/// next one fills. A file smaller than a batch is written by the closing task in one go.
struct StreamWriter {
    /// The writer, when no write holds it.
    writer: Option<BlobWriter>,
    temp: PathBuf,
    buf: Chunks,
    pending: Option<tokio::task::JoinHandle<std::io::Result<(BlobWriter, Chunks)>>>,
}

impl StreamWriter {
    fn new(writer: BlobWriter) -> Self {
        StreamWriter {
            temp: writer.temp_path().to_path_buf(),
            writer: Some(writer),
            buf: Chunks::default(),
            pending: None,
        }
    }

    fn io(&self, source: std::io::Error) -> TransferError {
        TransferError::Io {
            path: self.temp.clone(),
            source,
        }
    }

    /// The writer back from the write in flight, and a batch to fill next.
    async fn take(&mut self) -> Result<(BlobWriter, Chunks), TransferError> {
        if let Some(h) = self.pending.take() {
            let (w, mut spare) = h
                .await
                .map_err(|e| join_error(&self.temp, e))?
                .map_err(|e| self.io(e))?;
            spare.clear();
            return Ok((w, spare));
        }
        let w = self
            .writer
            .take()
            .ok_or_else(|| self.io(std::io::Error::other("blob writer already closed")))?;
        Ok((w, Chunks::default()))
    }

    async fn push(&mut self, data: bytes::Bytes) -> Result<(), TransferError> {
        self.buf.push(data);
        if self.buf.len() >= WRITE_BUF {
            let (mut w, spare) = self.take().await?;
            let mut data = std::mem::replace(&mut self.buf, spare);
            self.pending = Some(tokio::task::spawn_blocking(move || {
                for c in data.parts() {
                    std::io::Write::write_all(&mut w, c)?;
                }
                Ok((w, data))
            }));
        }
        Ok(())
    }

    /// Write the rest, verify, fsync (if the writer does) and rename, off the async thread.
    async fn finish(mut self) -> Result<(), TransferError> {
        let (mut w, _) = self.take().await?;
        let mut rest = std::mem::take(&mut self.buf);
        let temp = self.temp.clone();
        blocking(move || {
            for c in rest.parts() {
                std::io::Write::write_all(&mut w, c).map_err(|source| CacheError::Io {
                    op: "write",
                    path: temp.clone(),
                    source,
                })?;
            }
            w.finish()
        })
        .await?;
        Ok(())
    }
}

/// A batch of received bytes on its way to disk. Network chunks are kept as they came (no copy);
/// small ones are gathered into one buffer first, so a batch never costs a write call per few
/// kilobytes.
#[derive(Default)]
struct Chunks {
    parts: Vec<bytes::Bytes>,
    /// Small chunks being gathered (the last part, once sealed).
    tail: bytes::BytesMut,
    len: usize,
}

/// Chunks below this size are copied into the batch's tail instead of kept whole.
const SMALL_CHUNK: usize = 64 << 10;

impl Chunks {
    fn push(&mut self, c: bytes::Bytes) {
        self.len += c.len();
        if c.len() < SMALL_CHUNK {
            self.tail.extend_from_slice(&c);
        } else {
            self.seal();
            self.parts.push(c);
        }
    }

    fn seal(&mut self) {
        if !self.tail.is_empty() {
            self.parts.push(self.tail.split().freeze());
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.parts.clear();
        self.tail.clear();
        self.len = 0;
    }

    /// The bytes in order (seals the tail).
    fn parts(&mut self) -> impl Iterator<Item = &[u8]> {
        self.seal();
        self.parts.iter().map(|b| &b[..])
    }
}

/// Range commits running on the blocking pool; all of them succeed before a partial is finished.
#[derive(Default)]
struct Commits(std::sync::Mutex<Vec<tokio::task::JoinHandle<Result<(), CacheError>>>>);

impl Commits {
    fn push(&self, h: tokio::task::JoinHandle<Result<(), CacheError>>) {
        if let Ok(mut v) = self.0.lock() {
            v.push(h);
        }
    }

    async fn wait_all(&self, path: &std::path::Path) -> Result<(), TransferError> {
        let handles = self
            .0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let mut first = Ok(());
        for h in handles {
            let r = match h.await {
                Ok(r) => r.map_err(TransferError::from),
                Err(e) => Err(join_error(path, e)),
            };
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Size of the write buffer of one range task.
const WRITE_BUF: usize = 1 << 20;

/// Files of this size are always fetched in ranges (resumable), whatever the chunk size.
const RANGED_MIN: u64 = 64 << 20;

/// Files below this size are written into the cache without the per-blob lock or an fsync.
const SMALL_FILE: u64 = 1 << 20;

/// Where a file's bytes are fetched from.
#[derive(Debug, Clone)]
struct Source {
    url: Url,
    /// Whether the token may be sent (same origin as the hub).
    auth: bool,
}

fn repo_label(req: &Request) -> String {
    format!(
        "{}/{}/{}",
        req.kind.rest_segment(),
        req.repo.namespace(),
        req.repo.name()
    )
}

fn is_present(
    repo_cache: &RepoCache,
    target: &Target,
    commit: &str,
    f: &RemoteFile,
) -> Result<bool, TransferError> {
    Ok(match target {
        Target::Cache => repo_cache.has_blob(&f.etag),
        Target::LocalDir(d) => LocalDir::new(d).is_up_to_date(&f.path, commit, Some(&f.etag))?,
    })
}

/// The `trees/<commit>.json` listing of a listing.
pub fn tree_of(listing: &Listing) -> TreeListing {
    TreeListing {
        files: listing
            .files
            .iter()
            .map(|f| {
                (
                    f.path.clone(),
                    TreeEntry {
                        size: f.size,
                        blob_id: f.etag.as_str().to_string(),
                        lfs_sha256: None,
                        lfs_size: None,
                        xet_hash: None,
                    },
                )
            })
            .collect(),
    }
}

fn excerpt(body: &str) -> &str {
    let end = body.char_indices().nth(200).map_or(body.len(), |(i, _)| i);
    &body[..end]
}

fn http_error(file: &RemoteFile, url: &Url, status: u16, message: &str) -> TransferError {
    TransferError::Http {
        path: file.path.as_str().to_string(),
        status,
        url: csghub_api::redact_url(url),
        message: message.to_string(),
    }
}

fn transport(file: &RemoteFile, e: &reqwest::Error, attempts: u32) -> TransferError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading"
    } else {
        "request failed"
    };
    TransferError::Transport {
        path: file.path.as_str().to_string(),
        message: format!(
            "{kind}: {}",
            std::error::Error::source(e).map_or_else(|| kind.to_string(), |s| s.to_string())
        ),
        attempts,
    }
}

/// A presigned URL that expired (S3 answers 403 `AccessDenied` "Request has expired").
fn is_expired(e: &TransferError) -> bool {
    matches!(e, TransferError::Http { status: 403, message, .. } if message.contains("expired"))
}

fn retry_after_of(e: &TransferError) -> Option<Duration> {
    match e {
        TransferError::Api(api) => api.retry_after(),
        TransferError::Http { message, .. } => message
            .rsplit_once("(retry after ")
            .and_then(|(_, s)| s.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
            .map(Duration::from_secs),
        _ => None,
    }
}

/// Run blocking cache work (locks, hashing, renames) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CacheError> + Send + 'static,
) -> Result<T, TransferError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| join_error(std::path::Path::new(""), e))?
        .map_err(TransferError::from)
}

/// A blocking task that panicked or was cancelled, as an I/O error on the file it worked on.
fn join_error(path: &std::path::Path, e: tokio::task::JoinError) -> TransferError {
    TransferError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Hash a partial file front to back as its completed prefix grows (reading back what the range
/// tasks wrote, still in the page cache). Returns when the whole file is hashed, or `Err` when
/// `stop` is set because the download failed.
/// Bytes written so far into each range of this run (range start -> end of what is written),
/// in memory. The sidecar learns of a range only when it is whole (with an fsync); the hasher
/// follows this instead, so it stays a megabyte behind the download rather than a chunk.
#[derive(Default)]
struct Written(std::sync::Mutex<std::collections::BTreeMap<u64, u64>>);

impl Written {
    fn record(&self, start: u64, end: u64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(start, end);
        }
    }

    /// End of the bytes from 0 that are on disk: committed before this run or written in it.
    fn prefix(&self, committed: &[std::ops::Range<u64>]) -> u64 {
        let mut ranges: Vec<(u64, u64)> = committed.iter().map(|r| (r.start, r.end)).collect();
        if let Ok(m) = self.0.lock() {
            ranges.extend(m.iter().map(|(a, b)| (*a, *b)));
        }
        ranges.sort_unstable();
        let mut end = 0;
        for (a, b) in ranges {
            if a > end {
                break;
            }
            end = end.max(b);
        }
        end
    }
}

fn hash_in_order<L: PartialOwner>(
    partial: &csghub_cache::PartialBlob<L>,
    written: &Written,
    git: bool,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<csghub_cache::FileDigests, TransferError> {
    use std::os::unix::fs::FileExt as _;
    let path = partial.path().to_path_buf();
    let io = |source| TransferError::Io {
        path: path.clone(),
        source,
    };
    let f = std::fs::File::open(&path).map_err(io)?;
    let size = partial.size();
    let mut sha = csghub_cache::Sha256Hasher::new();
    let mut sha1 = git.then(|| csghub_cache::GitBlobSha1::new(size));
    let mut buf = vec![0u8; 1 << 20];
    let mut hashed = 0u64;
    while hashed < size {
        let prefix = written.prefix(&partial.completed());
        if prefix <= hashed {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(io(std::io::Error::other("download stopped")));
            }
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        while hashed < prefix {
            let n = ((prefix - hashed) as usize).min(buf.len());
            f.read_exact_at(&mut buf[..n], hashed).map_err(io)?;
            sha.update(&buf[..n]);
            if let Some(g) = sha1.as_mut() {
                g.update(&buf[..n]);
            }
            hashed += n as u64;
        }
    }
    Ok(csghub_cache::FileDigests {
        size,
        sha256: sha.finalize(),
        git_sha1: sha1
            .and_then(csghub_cache::GitBlobSha1::finalize)
            .unwrap_or_default(),
    })
}
