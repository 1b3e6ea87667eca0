//! Downloads against the local hub: layout, verification, request counts, and every fault the
//! issue names (drops, 5xx bursts, 429 + Retry-After, stalls, flipped bytes, expired redirects,
//! hostile listings, SIGKILL then resume).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use csghub_api::{Client, ClientConfig, RepoId, RepoType, Token};
use csghub_cache::CacheDir;
use csghub_localhub::{Fault, HubConfig, LocalHub, Matcher, seed};
use csghub_transfer::{
    DownloadConfig, Downloader, FileOutcome, NoProgress, Reporter, Request, RetryPolicy, Target,
    TransferError,
};

struct T {
    hub: LocalHub,
    _hub_dir: tempfile::TempDir,
    cache_dir: tempfile::TempDir,
}

async fn start(seed_name: &str) -> T {
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = LocalHub::start(HubConfig::new(hub_dir.path()))
        .await
        .unwrap();
    seed::by_name(&hub, seed_name).unwrap();
    T {
        hub,
        _hub_dir: hub_dir,
        cache_dir: tempfile::tempdir().unwrap(),
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        budget: Duration::from_secs(20),
    }
}

impl T {
    fn client(&self, token: Option<&str>) -> Client {
        let cfg = ClientConfig::new(self.hub.url())
            .unwrap()
            .with_token(token.map(|t| Token::new(t).unwrap()))
            .with_read_timeout(Duration::from_secs(2));
        Client::new(cfg).unwrap()
    }

    fn downloader(&self, token: Option<&str>, f: impl FnOnce(&mut DownloadConfig)) -> Downloader {
        let mut config = DownloadConfig {
            retry: fast_retry(),
            chunk_size: 4 << 20,
            ..DownloadConfig::default()
        };
        f(&mut config);
        Downloader::new(
            self.client(token),
            CacheDir::new(self.cache_dir.path()),
            config,
        )
    }

    fn cache(&self) -> &Path {
        self.cache_dir.path()
    }
}

fn interop() -> RepoId {
    seed::INTEROP_MODEL.parse().unwrap()
}

fn expected_files() -> BTreeMap<String, Vec<u8>> {
    let mut m: BTreeMap<String, Vec<u8>> = seed::interop_files().into_iter().collect();
    m.insert(
        ".gitattributes".into(),
        csghub_localhub::store::DEFAULT_GITATTRIBUTES
            .as_bytes()
            .to_vec(),
    );
    m
}

fn file_of(name: &str) -> Vec<u8> {
    expected_files().remove(name).unwrap()
}

/// Every regular file below `dir` (symlinks followed), sorted.
fn walk(dir: &Path) -> Vec<String> {
    fn go(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                go(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        go(dir, dir, &mut out);
    }
    out.sort();
    out
}

fn requests(t: &T) -> usize {
    t.hub.faults().log().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_into_cache_is_byte_identical_and_rerun_costs_one_request() {
    let t = start("interop").await;
    let d = t.downloader(Some(seed::ALICE_TOKEN), |_| {});
    let req = Request::snapshot(RepoType::Model, interop(), "main");
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(got.commit.len(), 40);
    let want = expected_files();
    assert_eq!(got.files.len(), want.len());
    assert!(
        got.files
            .iter()
            .all(|(_, o)| *o == FileOutcome::Transferred)
    );
    assert_eq!(walk(&got.root), want.keys().cloned().collect::<Vec<_>>());
    for (p, bytes) in &want {
        assert!(std::fs::read(got.root.join(p)).unwrap() == *bytes, "{p}");
    }
    // HF layout: relative symlinks into blobs named by the git blob SHA-1, a ref, a tree file.
    let repo_dir = t.cache().join("models--OpenCSG--interop-model");
    let link = std::fs::read_link(got.root.join("data/shard-00/part/file-000.txt")).unwrap();
    assert!(link.starts_with("../../../../../blobs/"), "{link:?}");
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        got.commit
    );
    assert!(
        repo_dir
            .join(format!("trees/{}.json", got.commit))
            .is_file()
    );
    assert!(t.cache().join("CACHEDIR.TAG").is_file());
    let incomplete: Vec<String> = walk(&repo_dir.join("blobs"))
        .into_iter()
        .filter(|p| p.contains("incomplete"))
        .collect();
    assert!(incomplete.is_empty(), "{incomplete:?}");

    // The token never went to the object store; LFS files came from there.
    let log = t.hub.faults().log();
    assert!(log.iter().any(|e| e.listener == "objects"));
    assert!(
        log.iter()
            .filter(|e| e.listener == "objects")
            .all(|e| !e.authorized)
    );
    // One listing request, no per-file HEAD.
    assert_eq!(log.iter().filter(|e| e.route == "repo_info").count(), 1);
    assert_eq!(log.iter().filter(|e| e.method == "HEAD").count(), 0);

    // Fully cached re-run: at most one request.
    t.hub.faults().clear_log();
    let again = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert!(again.files.iter().all(|(_, o)| *o == FileOutcome::Cached));
    assert!(requests(&t) <= 1, "{:?}", t.hub.faults().log());
}

/// Small files skip the blob lock; two downloads of the same snapshot into one cache at the
/// same time must still both succeed and leave one whole, verified copy of every file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_downloads_into_one_cache_agree() {
    let t = start("interop").await;
    let (a, b) = (
        t.downloader(Some(seed::ALICE_TOKEN), |_| {}),
        t.downloader(Some(seed::ALICE_TOKEN), |_| {}),
    );
    let req = Request::snapshot(RepoType::Model, interop(), "main");
    let (ra, rb) = tokio::join!(
        a.download(&req, Arc::new(NoProgress)),
        b.download(&req, Arc::new(NoProgress))
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.root, rb.root);
    for (p, bytes) in &expected_files() {
        assert!(std::fs::read(ra.root.join(p)).unwrap() == *bytes, "{p}");
    }
    let repo_dir = t.cache().join("models--OpenCSG--interop-model");
    let leftovers: Vec<String> = walk(&repo_dir)
        .into_iter()
        .filter(|p| p.contains("incomplete"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let scan = csghub_cache::CacheDir::new(t.cache()).scan().unwrap();
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_file_in_parallel_ranges_and_local_dir_mode() {
    let t = start("interop").await;
    let d = t.downloader(None, |c| {
        c.chunk_size = 8 << 20;
        c.connections_per_file = 4;
    });
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["weights/big.bin".into()];
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        std::fs::read(got.root.join("weights/big.bin")).unwrap(),
        file_of("weights/big.bin")
    );
    let ranged: Vec<String> = t
        .hub
        .faults()
        .log()
        .into_iter()
        .filter(|e| e.listener == "objects")
        .filter_map(|e| e.range)
        .collect();
    assert_eq!(
        ranged.len(),
        9,
        "64 MiB + 13 bytes in 8 MiB chunks: {ranged:?}"
    );

    // Local dir: plain files plus huggingface_hub's metadata; a second run is up to date.
    let local = tempfile::tempdir().unwrap();
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.allow = vec!["*.md".into(), "data/shard-01/".into()];
    req.ignore = vec!["README.md".into()];
    req.target = Target::LocalDir(local.path().to_path_buf());
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(got.root, local.path());
    let names: Vec<String> = walk(local.path())
        .into_iter()
        .filter(|p| !p.starts_with(".cache"))
        .collect();
    let mut want: Vec<String> = expected_files()
        .into_keys()
        .filter(|p| (p.ends_with(".md") && p != "README.md") || p.starts_with("data/shard-01/"))
        .collect();
    want.sort();
    assert_eq!(names, want);
    let meta = std::fs::read_to_string(
        local
            .path()
            .join(".cache/huggingface/download/docs/read me.md.metadata"),
    )
    .unwrap();
    let lines: Vec<&str> = meta.lines().collect();
    assert_eq!(lines[0], got.commit);
    assert_eq!(lines.len(), 3);
    t.hub.faults().clear_log();
    let again = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert!(again.files.iter().all(|(_, o)| *o == FileOutcome::Cached));
    assert_eq!(requests(&t), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_repo_type_downloads_pinned_to_a_commit() {
    let t = start("demo").await;
    for (kind, name) in [
        (RepoType::Model, "OpenCSG/demo-model"),
        (RepoType::Dataset, "OpenCSG/demo-dataset"),
        (RepoType::Space, "OpenCSG/demo-space"),
        (RepoType::Code, "OpenCSG/demo-code"),
        (RepoType::McpServer, "OpenCSG/demo-mcpserver"),
        (RepoType::Skill, "OpenCSG/demo-skill"),
    ] {
        // Datasets anonymously: the REST tree needs login, the HF tree does not.
        for token in [None, Some(seed::BOB_TOKEN)] {
            let d = t.downloader(token, |_| {});
            let req = Request::snapshot(kind, name.parse().unwrap(), "main");
            let got = d
                .download(&req, Arc::new(NoProgress))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!got.files.is_empty());
            assert!(
                got.root.ends_with(&got.commit),
                "{name}: pinned to the commit, not the branch name"
            );
            assert!(got.root.join(".gitattributes").is_file(), "{name}");
        }
    }
    let cache_listing = walk(t.cache());
    for prefix in [
        "models--",
        "datasets--",
        "spaces--",
        "codes--",
        "mcps--",
        "skills--",
    ] {
        assert!(
            cache_listing.iter().any(|p| p.starts_with(prefix)),
            "{prefix}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_repo_revision_and_file_are_clear_errors() {
    let t = start("demo").await;
    let d = t.downloader(None, |_| {});
    let err = d
        .download(
            &Request::snapshot(RepoType::Model, "OpenCSG/none".parse().unwrap(), "main"),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.api(), Some(csghub_api::Error::RepoNotFound(_))),
        "{err:?}"
    );
    let err = d
        .download(
            &Request::snapshot(
                RepoType::Model,
                "OpenCSG/demo-model".parse().unwrap(),
                "nope",
            ),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransferError::RevisionNotFound { .. }),
        "{err:?}"
    );
    let err = d
        .download(
            &Request::snapshot(
                RepoType::Dataset,
                "OpenCSG/demo-dataset".parse().unwrap(),
                "nope",
            ),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransferError::RevisionNotFound { .. }),
        "{err:?}"
    );
    let mut req = Request::snapshot(
        RepoType::Model,
        "OpenCSG/demo-model".parse().unwrap(),
        "main",
    );
    req.files = vec!["no-such-file.txt".into()];
    let err = d.download(&req, Arc::new(NoProgress)).await.unwrap_err();
    assert!(matches!(err, TransferError::EntryNotFound { .. }), "{err}");
    assert!(err.to_string().contains("no-such-file.txt"));
    // Unauthorized for a bad token is not retried and says so.
    let bad = t.downloader(Some("not-a-token"), |_| {});
    t.hub.faults().clear_log();
    let err = bad
        .download(
            &Request::snapshot(
                RepoType::Model,
                "OpenCSG/demo-model".parse().unwrap(),
                "main",
            ),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.api(),
            Some(csghub_api::Error::Unauthorized {
                bad_token: true,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(requests(&t), 1, "401 is never retried");
}

#[derive(Default)]
struct Counting {
    retries: AtomicU64,
    bytes: AtomicU64,
}

impl Reporter for Counting {
    fn on_file_progress(&self, _: &str, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn on_retry(&self, _: &str, _: u32, _: Duration, _: &str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_5xx_bursts_429_with_retry_after_drops_and_stalls() {
    let t = start("interop").await;
    let d = t.downloader(None, |c| c.chunk_size = 8 << 20);
    let faults = t.hub.faults();
    faults.push(
        Matcher::route("repo_info"),
        [Fault::status(502), Fault::status(503)],
    );
    faults.push(
        Matcher::route("resolve").path("medium.jsonl"),
        [
            Fault::status(500),
            Fault::too_many(1),
            Fault::DropAfter(100_000),
        ],
    );
    // Drops at several offsets of the big file's ranges, and a stall past the read timeout.
    let drops: Vec<Fault> = (0..4u64)
        // Random offsets below 1 MiB: every request, first tries and retries alike, is long
        // enough to be cut (faults are consumed per request, retries included).
        .map(|i| Fault::DropAfter(fastrand::u64(1..(1 << 20)) + i))
        .chain([Fault::Stall {
            after: 1000,
            duration: Duration::from_secs(4),
        }])
        .collect();
    faults.push(Matcher::route("object_get").path("lfs/"), drops);
    let reporter = Arc::new(Counting::default());
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.allow = vec!["weights/*".into(), "data/medium.jsonl".into()];
    let started = std::time::Instant::now();
    let got = d.download(&req, reporter.clone()).await.unwrap();
    assert_eq!(
        std::fs::read(got.root.join("weights/big.bin")).unwrap(),
        file_of("weights/big.bin")
    );
    assert_eq!(
        std::fs::read(got.root.join("data/medium.jsonl")).unwrap(),
        file_of("data/medium.jsonl")
    );
    assert_eq!(faults.pending(), 0, "every fault was hit");
    let retries = reporter.retries.load(Ordering::Relaxed);
    assert!(
        retries >= 8,
        "{retries} retries: {:?}",
        faults
            .log()
            .iter()
            .map(|e| (&e.route, e.status, &e.fault))
            .collect::<Vec<_>>()
    );
    // 429 said `Retry-After: 1`: the retry waited at least that long.
    let log = faults.log();
    let medium: Vec<_> = log
        .iter()
        .filter(|e| e.path.ends_with("medium.jsonl"))
        .collect();
    assert!(medium.len() >= 4);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flipped_byte_is_retried_once_then_fails_leaving_nothing_visible() {
    let t = start("interop").await;
    let d = t.downloader(None, |_| {});
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["data/medium.jsonl".into(), "model.safetensors".into()];
    // Once: retried and verified.
    t.hub.faults().push(
        Matcher::route("resolve").path("medium.jsonl"),
        [Fault::FlipByte(12345)],
    );
    t.hub
        .faults()
        .push(Matcher::route("object_get"), [Fault::FlipByte(7)]);
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        std::fs::read(got.root.join("data/medium.jsonl")).unwrap(),
        file_of("data/medium.jsonl")
    );
    assert_eq!(
        std::fs::read(got.root.join("model.safetensors")).unwrap(),
        file_of("model.safetensors")
    );

    // Twice in a row: a clear checksum error and nothing visible.
    let t = start("interop").await;
    let d = t.downloader(None, |_| {});
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["data/medium.jsonl".into()];
    t.hub.faults().push(
        Matcher::route("resolve").path("medium.jsonl"),
        // The second flip lands in the third 1 MiB write batch of the streamed file.
        [Fault::FlipByte(1), Fault::FlipByte((2 << 20) + 5)],
    );
    let err = d.download(&req, Arc::new(NoProgress)).await.unwrap_err();
    assert!(matches!(err, TransferError::Checksum { .. }), "{err:?}");
    assert!(err.to_string().contains("data/medium.jsonl"));
    let files = walk(t.cache());
    assert!(
        files
            .iter()
            .all(|f| !f.contains("snapshots") && !f.contains("incomplete")),
        "{files:?}"
    );
    let blobs: Vec<_> = files.iter().filter(|f| f.contains("/blobs/")).collect();
    assert!(blobs.is_empty(), "{blobs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_presigned_url_is_resolved_again() {
    let t = start("interop").await;
    let d = t.downloader(None, |c| c.chunk_size = 16 << 20);
    t.hub.faults().push(
        Matcher::route("object_get"),
        [Fault::Pass, Fault::Expired, Fault::Expired],
    );
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["weights/big.bin".into()];
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        std::fs::read(got.root.join("weights/big.bin")).unwrap(),
        file_of("weights/big.bin")
    );
    let resolves = t
        .hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.route == "resolve")
        .count();
    assert!(
        resolves >= 2,
        "the redirect was requested again: {resolves}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_listings_fail_naming_the_path_and_write_nothing_outside() {
    for bad in [
        "../escape.txt",
        "/etc/passwd-x",
        "a\\b.txt",
        "nul\0.txt",
        "a//b.txt",
    ] {
        let t = start("empty").await;
        seed::repo_with_files(
            &t.hub,
            csghub_localhub::RepoType::Model,
            "OpenCSG/hostile",
            false,
            vec![
                ("ok.txt".into(), b"ok".to_vec()),
                (bad.into(), b"evil".to_vec()),
            ],
            "add",
        )
        .unwrap();
        let d = t.downloader(None, |_| {});
        let local = tempfile::tempdir().unwrap();
        let target = local.path().join("inner");
        for tgt in [Target::Cache, Target::LocalDir(target.clone())] {
            let mut req =
                Request::snapshot(RepoType::Model, "OpenCSG/hostile".parse().unwrap(), "main");
            req.target = tgt;
            let err = d.download(&req, Arc::new(NoProgress)).await.unwrap_err();
            assert!(
                matches!(err, TransferError::UnsafePath { .. }),
                "{bad:?}: {err:?}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        // Nothing at all was written: no snapshot, no file beside the target.
        assert!(
            walk(t.cache()).iter().all(|p| !p.contains("snapshots")),
            "{bad:?}"
        );
        assert_eq!(walk(local.path()), Vec::<String>::new(), "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offline_answers_from_the_cache_with_no_request() {
    let t = start("interop").await;
    let online = t.downloader(None, |_| {});
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.allow = vec!["*.json".into(), "docs/".into()];
    let got = online.download(&req, Arc::new(NoProgress)).await.unwrap();
    t.hub.faults().clear_log();
    let offline = t.downloader(None, |c| c.offline = true);
    let again = offline.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert!(again.offline);
    assert_eq!(again.commit, got.commit);
    assert_eq!(
        again.files,
        got.files
            .iter()
            .map(|(p, _)| (p.clone(), FileOutcome::Cached))
            .collect::<Vec<_>>()
    );
    assert_eq!(requests(&t), 0);
    // By abbreviated commit too.
    let mut by_commit = req.clone();
    by_commit.revision = got.commit[..10].to_string();
    assert!(
        offline
            .download(&by_commit, Arc::new(NoProgress))
            .await
            .is_ok()
    );
    // What was not downloaded is not invented.
    let mut more = req.clone();
    more.allow = vec!["weights/".into()];
    let err = offline
        .download(&more, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::NotCached { .. }), "{err:?}");
    assert_eq!(requests(&t), 0);
    // A server that is down: transient errors fall back to the cache.
    t.hub.faults().push(
        Matcher::route("repo_info"),
        (0..10).map(|_| Fault::status(503)),
    );
    let flaky = t.downloader(None, |c| c.retry = RetryPolicy::none());
    let fallback = flaky.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert!(fallback.offline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dry_run_plan_says_what_is_cached() {
    let t = start("interop").await;
    let d = t.downloader(None, |_| {});
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.allow = vec!["docs/*".into(), "config.json".into()];
    let plan = d.plan(&req).await.unwrap();
    assert_eq!(plan.files.len(), 2);
    assert!(plan.files.iter().all(|f| !f.cached));
    assert!(walk(t.cache()).is_empty(), "a plan writes nothing");
    req.files = vec!["config.json".into()];
    d.download(&req, Arc::new(NoProgress)).await.unwrap();
    req.files.clear();
    let plan = d.plan(&req).await.unwrap();
    let cached: Vec<(&str, bool)> = plan
        .files
        .iter()
        .map(|f| (f.file.path.as_str(), f.cached))
        .collect();
    assert_eq!(cached, [("config.json", true), ("docs/read me.md", false)]);
    assert_eq!(
        plan.bytes_to_fetch(),
        file_of("docs/read me.md").len() as u64
    );
}

// ---------------------------------------------------------------------------------------------
// SIGKILL mid-download, then resume.

const CHILD_ENV: &str = "CSGHUB_TRANSFER_TEST_CHILD";

/// The child: downloads the big file with one connection and 1 MiB chunks. Run by the parent
/// test below through this test binary; ignored otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of sigkill_then_resume_fetches_at_most_one_chunk_again"]
async fn child_download() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let (url, cache, local) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let client = Client::new(ClientConfig::new(url).unwrap()).unwrap();
    let config = DownloadConfig {
        chunk_size: 1 << 20,
        connections_per_file: 1,
        ..DownloadConfig::default()
    };
    let d = Downloader::new(client, CacheDir::new(cache), config);
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["weights/big.bin".into()];
    if !local.is_empty() {
        req.target = Target::LocalDir(PathBuf::from(local));
    }
    d.download(&req, Arc::new(NoProgress)).await.unwrap();
}

/// Where the partial's sidecar lives: the cache's blobs, or the local dir's download folder.
fn sidecar_dir(cache: &Path, local: Option<&Path>) -> PathBuf {
    match local {
        None => cache.join("models--OpenCSG--interop-model/blobs"),
        Some(l) => l.join(".cache/huggingface/download/weights"),
    }
}

fn sidecar_progress(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".csghub.json.incomplete") {
            let v: serde_json::Value = match std::fs::read(e.path())
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(v) => v,
                None => return 0,
            };
            return v["done"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| r[1].as_u64().unwrap_or(0) - r[0].as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
        }
    }
    0
}

fn range_len(r: &str) -> u64 {
    let (a, b) = r.trim_start_matches("bytes=").split_once('-').unwrap();
    b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_then_resume_fetches_at_most_one_chunk_again() {
    sigkill_then_resume(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_then_resume_into_a_local_dir() {
    sigkill_then_resume(true).await;
}

async fn sigkill_then_resume(into_local_dir: bool) {
    let t = start("interop").await;
    let local_dir = tempfile::tempdir().unwrap();
    let local = into_local_dir.then(|| local_dir.path());
    let sidecars = sidecar_dir(t.cache(), local);
    // Slow the object store down so the child is surely mid-file when it dies.
    t.hub.faults().push(
        Matcher::route("object_get"),
        (0..200).map(|_| Fault::Delay(Duration::from_millis(60))),
    );
    let exe: PathBuf = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["--ignored", "--exact", "child_download", "--nocapture"])
        .env(
            CHILD_ENV,
            format!(
                "{}|{}|{}",
                t.hub.url(),
                t.cache().display(),
                local.map(|l| l.display().to_string()).unwrap_or_default()
            ),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sidecar_progress(&sidecars) < 10 << 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "child made no progress"
        );
        if child.try_wait().unwrap().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut err).unwrap();
            panic!("child ended before it was killed: {err}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    t.hub.faults().clear();
    let done = sidecar_progress(&sidecars);
    assert!(done >= 10 << 20 && done < seed::INTEROP_BIG_SIZE as u64);
    // Nothing unverified is visible.
    let snap = walk(&t.cache().join("models--OpenCSG--interop-model/snapshots"));
    assert!(snap.is_empty(), "{snap:?}");
    if let Some(l) = local {
        assert!(!l.join("weights/big.bin").exists());
    }

    t.hub.faults().clear_log();
    let d = t.downloader(None, |c| c.chunk_size = 1 << 20);
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["weights/big.bin".into()];
    if let Some(l) = local {
        req.target = Target::LocalDir(l.to_path_buf());
    }
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        std::fs::read(got.root.join("weights/big.bin")).unwrap(),
        file_of("weights/big.bin")
    );
    let fetched: u64 = t
        .hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.listener == "objects")
        .filter_map(|e| e.range.as_deref().map(range_len))
        .sum();
    let remaining = seed::INTEROP_BIG_SIZE as u64 - done;
    assert!(fetched >= remaining, "{fetched} < {remaining}");
    assert!(
        fetched <= remaining + (1 << 20),
        "refetched more than one chunk: {fetched} vs {remaining}"
    );
    // The partial and its sidecar are gone once the file is in place.
    let left: Vec<String> = walk(&sidecars)
        .into_iter()
        .filter(|p| p.contains("incomplete"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flipped_byte_in_one_range_of_a_large_file_is_caught() {
    let t = start("interop").await;
    let d = t.downloader(None, |c| c.chunk_size = 8 << 20);
    // The third range request carries one bad byte.
    t.hub.faults().push(
        Matcher::route("object_get"),
        [Fault::Pass, Fault::Pass, Fault::FlipByte(4321)],
    );
    let mut req = Request::snapshot(RepoType::Model, interop(), "main");
    req.files = vec!["weights/big.bin".into()];
    let reporter = Arc::new(Counting::default());
    let got = d.download(&req, reporter.clone()).await.unwrap();
    assert_eq!(
        std::fs::read(got.root.join("weights/big.bin")).unwrap(),
        file_of("weights/big.bin")
    );
    assert!(
        reporter.retries.load(Ordering::Relaxed) >= 1,
        "the mismatch was retried"
    );
    let ranges = t
        .hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.listener == "objects")
        .count();
    assert_eq!(ranges, 18, "one full refetch after the checksum mismatch");
}
