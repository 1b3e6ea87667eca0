//! One-commit uploads against the local hub: round trips (empty, non-ASCII and space names,
//! nested folders, 1000 files, both sides of the LFS threshold), paths in the repo, repo and
//! branch creation, deletions, objects the server already has, part faults (5xx, timeouts,
//! expired URLs) and commit retries with growing delays.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csghub_api::{Client, ClientConfig, RepoId, RepoType, Token};
use csghub_cache::CacheDir;
use csghub_localhub::{Fault, HubConfig, LocalHub, LogEntry, Matcher, seed};
use csghub_transfer::{
    DownloadConfig, Downloader, LFS_THRESHOLD, NoProgress, Reporter, Request, RetryPolicy, Target,
    TransferError, UploadConfig, UploadOutcome, UploadRequest, UploadStatus, Uploader,
};

struct T {
    hub: LocalHub,
    _hub_dir: tempfile::TempDir,
    work: tempfile::TempDir,
}

async fn start() -> T {
    let hub_dir = tempfile::tempdir().unwrap();
    let mut cfg = HubConfig::new(hub_dir.path());
    cfg.min_multipart_size = 1 << 20;
    let hub = LocalHub::start(cfg).await.unwrap();
    seed::by_name(&hub, "empty").unwrap();
    T {
        hub,
        _hub_dir: hub_dir,
        work: tempfile::tempdir().unwrap(),
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
    fn client(&self, token: &str, read_timeout: Duration) -> Client {
        let cfg = ClientConfig::new(self.hub.url())
            .unwrap()
            .with_token(Some(Token::new(token).unwrap()))
            .with_read_timeout(read_timeout);
        Client::new(cfg).unwrap()
    }

    fn uploader(&self, f: impl FnOnce(&mut UploadConfig)) -> Uploader {
        let mut config = UploadConfig {
            retry: fast_retry(),
            commit_retry: fast_retry(),
            ..UploadConfig::default()
        };
        f(&mut config);
        Uploader::new(
            self.client(seed::ALICE_TOKEN, Duration::from_secs(5)),
            config,
        )
    }

    /// Download everything of `repo` at `rev` into a fresh folder; path → bytes.
    async fn download(&self, repo: &RepoId, rev: &str) -> BTreeMap<String, Vec<u8>> {
        let cache = tempfile::tempdir_in(self.work.path()).unwrap();
        let out = tempfile::tempdir_in(self.work.path()).unwrap();
        let d = Downloader::new(
            self.client(seed::ALICE_TOKEN, Duration::from_secs(5)),
            CacheDir::new(cache.path()),
            DownloadConfig {
                retry: fast_retry(),
                ..DownloadConfig::default()
            },
        );
        let mut req = Request::snapshot(RepoType::Model, repo.clone(), rev);
        req.target = Target::LocalDir(out.path().to_path_buf());
        d.download(&req, Arc::new(NoProgress)).await.unwrap();
        read_tree(out.path())
    }

    fn log(&self) -> Vec<LogEntry> {
        self.hub.faults().log()
    }

    fn count(&self, route: &str) -> usize {
        self.log().iter().filter(|e| e.route == route).count()
    }
}

/// Every file below `dir` except bookkeeping folders, path → bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn go(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == ".cache" {
                continue;
            }
            if p.is_dir() {
                go(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    go(dir, dir, &mut out);
    out
}

fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (p, b) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    }
}

fn repo(s: &str) -> RepoId {
    s.parse().unwrap()
}

/// The tricky folder of the issue.
fn tricky_files() -> BTreeMap<String, Vec<u8>> {
    let t = LFS_THRESHOLD as usize;
    BTreeMap::from([
        ("empty.txt".into(), Vec::new()),
        ("empty.bin".into(), Vec::new()),
        (
            "ünïcødé 名字.txt".into(),
            "héllo wörld\n".as_bytes().to_vec(),
        ),
        ("with space/a file.md".into(), b"# spaced\n".to_vec()),
        ("a/b/c/deep.json".into(), b"{\"deep\": true}\n".to_vec()),
        ("under.txt".into(), seed::pseudo_random(1, t - 1)),
        ("over.txt".into(), seed::pseudo_random(2, t + 1)),
        (
            "w.safetensors".into(),
            seed::pseudo_random(3, 3 * (1 << 20) + 5),
        ),
    ])
}

#[derive(Default)]
struct Recorder {
    retries: Mutex<Vec<(String, Duration)>>,
    last: Mutex<UploadStatus>,
    done: Mutex<Vec<String>>,
}

impl Reporter for Recorder {
    fn on_retry(&self, what: &str, _attempt: u32, delay: Duration, _error: &str) {
        self.retries.lock().unwrap().push((what.to_string(), delay));
    }
    fn on_upload_status(&self, status: &UploadStatus) {
        *self.last.lock().unwrap() = status.clone();
    }
    fn on_file_done(&self, path: &str, _outcome: csghub_transfer::FileOutcome) {
        self.done.lock().unwrap().push(path.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn folder_round_trip_is_byte_identical_and_rerun_sends_nothing() {
    let t = start().await;
    let files = tricky_files();
    let local = t.work.path().join("folder");
    write_files(&local, &files);
    let id = repo("alice/up-model");
    let rec = Arc::new(Recorder::default());
    let mut req = UploadRequest::new(RepoType::Model, id.clone(), &local);
    req.message = Some("first".into());
    req.description = Some("with a description".into());
    let up = t.uploader(|_| {}).upload(&req, rec.clone()).await.unwrap();
    assert!(up.commit.is_some());
    assert_eq!(up.files.len(), files.len());
    assert!(up.files.iter().all(|(_, o)| *o == UploadOutcome::Committed));

    // Exactly one commit; the object store never saw the token; LFS went through parts.
    assert_eq!(t.count("commit"), 1);
    let puts: Vec<LogEntry> = t
        .log()
        .into_iter()
        .filter(|e| e.route == "object_put")
        .collect();
    assert!(
        puts.iter().all(|e| !e.authorized),
        "token sent to the object store"
    );
    // over.txt: 11 parts of 1 MiB; w.safetensors: 4 parts. Nothing else is LFS.
    assert_eq!(puts.len(), 11 + 4, "{puts:?}");
    let status = rec.last.lock().unwrap().clone();
    assert_eq!(status.files_committed, files.len() as u64);
    assert_eq!(status.commits, 1);
    assert_eq!(
        status.bytes_uploaded,
        (LFS_THRESHOLD + 1) + 3 * (1 << 20) + 5
    );

    // The repo was created private: anonymous reads fail.
    let anon = Client::new(ClientConfig::new(t.hub.url()).unwrap()).unwrap();
    let r = anon
        .execute(csghub_api::endpoints::branches(RepoType::Model, &id))
        .await;
    assert!(r.is_err(), "{r:?}");

    let mut got = t.download(&id, "main").await;
    assert!(got.remove(".gitattributes").is_some());
    assert!(got.remove("README.md").is_some());
    assert_eq!(got, files);

    // under.txt went in the commit, over.txt as an LFS pointer.
    let blob = |p: &str| {
        let st = t.hub.store().lock();
        let r = st
            .repo(csghub_localhub::RepoType::Model, "alice", "up-model")
            .unwrap();
        st.commit_at(r, "main").unwrap().tree[p].lfs.is_some()
    };
    assert!(!blob("under.txt"));
    assert!(blob("over.txt"));
    assert!(blob("w.safetensors"));
    assert!(!blob("empty.bin"), "an empty file never goes through LFS");

    // Same folder again: nothing sent, no commit.
    t.hub.faults().clear_log();
    let again = t
        .uploader(|_| {})
        .upload(&req, Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(again.commit, None);
    assert!(
        again
            .files
            .iter()
            .all(|(_, o)| *o == UploadOutcome::Unchanged)
    );
    let routes: Vec<String> = t.log().into_iter().map(|e| e.route).collect();
    assert_eq!(routes, ["branches", "preupload"], "{routes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_files_in_one_commit() {
    let t = start().await;
    let files: BTreeMap<String, Vec<u8>> = (0..1000)
        .map(|i| {
            (
                format!("d{}/sub{}/f{i:04}.txt", i % 7, i % 3),
                format!("file {i}\n").repeat(i % 5).into_bytes(),
            )
        })
        .collect();
    let local = t.work.path().join("many");
    write_files(&local, &files);
    let id = repo("alice/many-files");
    let req = UploadRequest::new(RepoType::Model, id.clone(), &local);
    t.uploader(|_| {})
        .upload(&req, Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(t.count("commit"), 1);
    assert_eq!(t.count("preupload"), 20, "50 paths per preupload");
    let mut got = t.download(&id, "main").await;
    got.remove(".gitattributes");
    got.remove("README.md");
    assert_eq!(got, files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_file_lands_where_asked_on_a_new_branch() {
    let t = start().await;
    let file = t.work.path().join("a.txt");
    std::fs::write(&file, b"A\n").unwrap();
    let id = repo("alice/single");
    let up = t.uploader(|_| {});
    for (path_in_repo, want) in [
        ("", "a.txt"),
        ("docs/", "docs/a.txt"),
        ("x/b.txt", "x/b.txt"),
    ] {
        let mut req = UploadRequest::new(RepoType::Model, id.clone(), &file);
        req.path_in_repo = path_in_repo.into();
        req.revision = "dev".into();
        let r = up.upload(&req, Arc::new(NoProgress)).await.unwrap();
        assert_eq!(r.files, vec![(want.to_string(), UploadOutcome::Committed)]);
    }
    let got = t.download(&id, "dev").await;
    for p in ["a.txt", "docs/a.txt", "x/b.txt"] {
        assert_eq!(got[p], b"A\n", "{p}");
    }
    assert!(!got.contains_key("a.txt/a.txt"));
    // main was left alone.
    let main = t.download(&id, "main").await;
    assert!(!main.contains_key("a.txt"));
}

/// A missing space is created as pycsghub does: on the first available space resource (or the
/// configured one), private, then the upload lands in it. A resource the server does not offer
/// fails before anything is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_space_is_created_on_a_space_resource() {
    let t = start().await;
    let file = t.work.path().join("app.py");
    std::fs::write(&file, b"print('hi')\n").unwrap();
    let up = t.uploader(|_| {});
    let req = UploadRequest::new(RepoType::Space, repo("alice/new-space"), &file);
    let r = up.upload(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        r.files,
        vec![("app.py".to_string(), UploadOutcome::Committed)]
    );
    {
        let st = t.hub.store().lock();
        let space = st
            .repo(csghub_localhub::RepoType::Space, "alice", "new-space")
            .unwrap();
        assert!(space.private);
        assert!(
            st.commit_at(space, "main")
                .unwrap()
                .tree
                .contains_key("app.py")
        );
    }
    assert_eq!(t.count("space_resources"), 1);

    let bad = t.uploader(|c| c.space_resource_id = Some(999_999));
    let req = UploadRequest::new(RepoType::Space, repo("alice/other-space"), &file);
    let err = bad.upload(&req, Arc::new(NoProgress)).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, TransferError::SpaceResource { .. }) && msg.contains("999999"),
        "{msg}"
    );
    let st = t.hub.store().lock();
    assert!(
        st.repo(csghub_localhub::RepoType::Space, "alice", "other-space")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletions_remove_files_instead_of_emptying_them() {
    let t = start().await;
    let id = repo("alice/del");
    let local = t.work.path().join("d");
    write_files(
        &local,
        &BTreeMap::from([
            ("keep.old".to_string(), b"k".to_vec()),
            ("sub/x.txt".to_string(), b"x".to_vec()),
        ]),
    );
    let up = t.uploader(|_| {});
    let req = UploadRequest::new(RepoType::Model, id.clone(), &local);
    up.upload(&req, Arc::new(NoProgress)).await.unwrap();
    // Remote: keep.old and sub/x.txt, then also sub/y.old and gone.old.
    std::fs::write(local.join("sub/y.old"), b"y").unwrap();
    std::fs::write(local.join("gone.old"), b"g").unwrap();
    up.upload(&req, Arc::new(NoProgress)).await.unwrap();
    std::fs::remove_file(local.join("gone.old")).unwrap();
    std::fs::remove_file(local.join("keep.old")).unwrap();
    let mut req = req;
    req.delete = vec!["*.old".into()];
    let r = up.upload(&req, Arc::new(NoProgress)).await.unwrap();
    let mut deleted = r.deleted.clone();
    deleted.sort();
    assert_eq!(deleted, ["gone.old", "keep.old"]);
    let got = t.download(&id, "main").await;
    assert!(!got.contains_key("gone.old") && !got.contains_key("keep.old"));
    assert_eq!(got["sub/y.old"], b"y", "uploaded now: kept");
    assert_eq!(
        t.log()
            .iter()
            .filter(|e| e.route == "raw" && e.method == "DELETE")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_the_server_has_counts_as_done() {
    let t = start().await;
    let id = repo("alice/known");
    let data = seed::pseudo_random(9, 2 << 20);
    let a = t.work.path().join("a.bin");
    std::fs::write(&a, &data).unwrap();
    let up = t.uploader(|_| {});
    up.upload(
        &UploadRequest::new(RepoType::Model, id.clone(), &a),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    t.hub.faults().clear_log();
    // Same content under another path: the batch answers without actions.
    let mut req = UploadRequest::new(RepoType::Model, id.clone(), &a);
    req.path_in_repo = "copy/b.bin".into();
    let r = up.upload(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(
        r.files,
        vec![("copy/b.bin".into(), UploadOutcome::Committed)]
    );
    assert_eq!(t.count("lfs_batch"), 1);
    assert_eq!(t.count("object_put"), 0);
    assert_eq!(t.count("lfs_verify"), 0);
    let got = t.download(&id, "main").await;
    assert_eq!(got["copy/b.bin"], data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn part_5xx_and_dead_connections_are_retried() {
    let t = start().await;
    let id = repo("alice/faulty");
    let data = seed::pseudo_random(5, 3 * (1 << 20) + 7);
    let f = t.work.path().join("w.bin");
    std::fs::write(&f, &data).unwrap();
    t.hub.faults().push(
        Matcher::route("object_put"),
        [
            Fault::status(503),
            Fault::status(500),
            // Longer than the client's read timeout: the connection is given up.
            Fault::Delay(Duration::from_millis(2500)),
        ],
    );
    let rec = Arc::new(Recorder::default());
    let mut config = UploadConfig {
        retry: fast_retry(),
        parts_in_flight: 1,
        ..UploadConfig::default()
    };
    config.commit_retry = fast_retry();
    let up = Uploader::new(t.client(seed::ALICE_TOKEN, Duration::from_secs(1)), config);
    up.upload(
        &UploadRequest::new(RepoType::Model, id.clone(), &f),
        rec.clone(),
    )
    .await
    .unwrap();
    let retries = rec.retries.lock().unwrap().clone();
    assert_eq!(retries.len(), 3, "{retries:?}");
    assert!(retries.iter().all(|(w, _)| w == "w.bin"));
    let got = t.download(&id, "main").await;
    assert_eq!(got["w.bin"], data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_part_url_is_requested_again_and_finished_parts_are_kept() {
    let t = start().await;
    let id = repo("alice/expiry");
    let data = seed::pseudo_random(6, 4 << 20);
    let f = t.work.path().join("e.bin");
    std::fs::write(&f, &data).unwrap();
    // The third part PUT finds its URL expired.
    t.hub.faults().push(
        Matcher::route("object_put"),
        [Fault::Pass, Fault::Pass, Fault::Expired],
    );
    let up = t.uploader(|c| c.parts_in_flight = 1);
    up.upload(
        &UploadRequest::new(RepoType::Model, id.clone(), &f),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(t.count("lfs_batch"), 2, "fresh URLs were asked for once");
    let mut ok_parts: BTreeMap<String, usize> = BTreeMap::new();
    for e in t
        .log()
        .iter()
        .filter(|e| e.route == "object_put" && e.status == 200)
    {
        let q = e.query.clone().unwrap_or_default();
        let part = q
            .split('&')
            .find_map(|kv| kv.strip_prefix("partNumber="))
            .unwrap()
            .to_string();
        *ok_parts.entry(part).or_default() += 1;
    }
    assert_eq!(ok_parts.len(), 4);
    assert!(ok_parts.values().all(|n| *n == 1), "{ok_parts:?}");
    assert_eq!(t.count("object_put"), 5);
    let got = t.download(&id, "main").await;
    assert_eq!(got["e.bin"], data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_commit_is_retried_with_growing_delays_and_a_small_cap() {
    let t = start().await;
    let id = repo("alice/commits");
    let f = t.work.path().join("c.txt");
    std::fs::write(&f, b"c").unwrap();
    let up = t.uploader(|c| {
        c.commit_retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_secs(30),
        }
    });
    let req = UploadRequest::new(RepoType::Model, id.clone(), &f);
    // A gateway failing every time.
    t.hub.faults().push(
        Matcher::route("commit"),
        (0..50).map(|_| Fault::status(503)),
    );
    let rec = Arc::new(Recorder::default());
    let started = std::time::Instant::now();
    let err = up.upload(&req, rec.clone()).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(t.count("commit"), 4, "attempts are capped");
    let delays: Vec<Duration> = rec
        .retries
        .lock()
        .unwrap()
        .iter()
        .filter(|(w, _)| w == "commit")
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(delays.len(), 3);
    assert!(delays.windows(2).all(|w| w[1] >= w[0]), "{delays:?}");
    assert!(started.elapsed() >= Duration::from_millis(350));

    // A "server error" that is really a permission or branch problem: no retry at all.
    t.hub.faults().clear();
    t.hub.faults().clear_log();
    t.hub.faults().push(
        Matcher::route("commit"),
        [Fault::Status {
            status: 500,
            body: "{\"error\":\"permission denied: branch main is protected\"}".into(),
            retry_after: None,
        }],
    );
    let err = up.upload(&req, Arc::new(NoProgress)).await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert_eq!(t.count("commit"), 1);

    // And once the server is fine, the same upload goes through.
    up.upload(&req, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(t.download(&id, "main").await["c.txt"], b"c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_fails_clearly_and_sends_nothing() {
    let t = start().await;
    let up = t.uploader(|_| {});
    let missing = UploadRequest::new(
        RepoType::Model,
        repo("alice/x-repo"),
        t.work.path().join("nope"),
    );
    let err = up.upload(&missing, Arc::new(NoProgress)).await.unwrap_err();
    assert!(matches!(err, TransferError::LocalFile { .. }), "{err}");
    let mut bad_pattern = UploadRequest::new(RepoType::Model, repo("alice/x-repo"), t.work.path());
    bad_pattern.allow = vec!["[oops".into()];
    let err = up
        .upload(&bad_pattern, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("[oops"), "{err}");
    let f = t.work.path().join("f.txt");
    std::fs::write(&f, b"f").unwrap();
    let mut escape = UploadRequest::new(RepoType::Model, repo("alice/x-repo"), &f);
    escape.path_in_repo = "../evil.txt".into();
    let err = up.upload(&escape, Arc::new(NoProgress)).await.unwrap_err();
    assert!(err.to_string().contains(".."), "{err}");
    assert_eq!(t.log().len(), 0, "nothing reached the hub");

    // Bob may not write into alice's namespace: a clear error, few requests.
    let bob = Uploader::new(
        t.client(seed::BOB_TOKEN, Duration::from_secs(5)),
        UploadConfig {
            retry: fast_retry(),
            ..UploadConfig::default()
        },
    );
    let err = bob
        .upload(
            &UploadRequest::new(RepoType::Model, repo("alice/not-bobs"), &f),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.api(), Some(csghub_api::Error::Forbidden(_))),
        "{err}"
    );
    assert!(t.log().len() <= 3, "{:?}", t.log());
}

/// `hash_file` (read-ahead thread for big files, SHA-1 only on request) agrees with the cache's
/// reference hashes, counts every byte, and refuses a file whose size is not the one expected.
#[test]
fn hash_file_agrees_with_reference_hashes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, len) in [
        ("empty", 0usize),
        ("small", 10_240),
        ("big", (20 << 20) + 7),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, seed::pseudo_random(len as u64, len)).unwrap();
        let want = csghub_cache::hash_file(&path).unwrap();
        for with_sha1 in [false, true] {
            let mut counted = 0u64;
            let got =
                csghub_transfer::hash_file(&path, len as u64, with_sha1, &mut |n| counted += n)
                    .unwrap();
            assert_eq!(got.sha256, want.sha256, "{name}");
            assert_eq!(
                got.git_sha1,
                with_sha1.then(|| want.git_sha1.clone()),
                "{name}"
            );
            assert_eq!(counted, len as u64, "{name}");
        }
        let err = csghub_transfer::hash_file(&path, len as u64 + 1, true, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}
