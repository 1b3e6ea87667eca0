//! `upload_large_folder` against the local hub: batched commits, resume without re-hashing,
//! SIGKILL mid-parts then resume without sending a finished part twice, failing commits that
//! back off instead of looping, corrupt state, and the folder lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csghub_api::{Client, ClientConfig, RepoId, RepoType, Token};
use csghub_cache::CacheDir;
use csghub_localhub::{Fault, HubConfig, LocalHub, Matcher, seed};
use csghub_transfer::{
    DownloadConfig, Downloader, LargeFolderRequest, NoProgress, Reporter, Request, RetryPolicy,
    STATE_DIR, Target, TransferError, UploadConfig, UploadOutcome, UploadStatus, Uploader,
};

const CHILD_ENV: &str = "CSGHUB_TRANSFER_LARGE_FOLDER_CHILD";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        budget: Duration::from_secs(20),
    }
}

async fn start_at(hub_dir: &Path) -> LocalHub {
    let mut cfg = HubConfig::new(hub_dir);
    cfg.min_multipart_size = 1 << 20;
    let hub = LocalHub::start(cfg).await.unwrap();
    seed::by_name(&hub, "empty").unwrap();
    hub
}

fn client(url: &str) -> Client {
    let cfg = ClientConfig::new(url)
        .unwrap()
        .with_token(Some(Token::new(seed::ALICE_TOKEN).unwrap()))
        .with_read_timeout(Duration::from_secs(5));
    Client::new(cfg).unwrap()
}

fn uploader(url: &str, f: impl FnOnce(&mut UploadConfig)) -> Uploader {
    let mut config = UploadConfig {
        retry: fast_retry(),
        commit_retry: fast_retry(),
        ..UploadConfig::default()
    };
    f(&mut config);
    Uploader::new(client(url), config)
}

fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (p, b) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    }
}

async fn download(url: &str, repo: &RepoId, work: &Path) -> BTreeMap<String, Vec<u8>> {
    let cache = tempfile::tempdir_in(work).unwrap();
    let out = tempfile::tempdir_in(work).unwrap();
    let d = Downloader::new(
        client(url),
        CacheDir::new(cache.path()),
        DownloadConfig {
            retry: fast_retry(),
            ..DownloadConfig::default()
        },
    );
    let mut req = Request::snapshot(RepoType::Model, repo.clone(), "main");
    req.target = Target::LocalDir(out.path().to_path_buf());
    d.download(&req, Arc::new(NoProgress)).await.unwrap();
    let mut got = BTreeMap::new();
    collect(out.path(), out.path(), &mut got);
    got.remove(".gitattributes");
    got.remove("README.md");
    got
}

fn collect(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(d).unwrap().flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        if rel == ".cache" {
            continue;
        }
        if p.is_dir() {
            collect(base, &p, out);
        } else {
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

#[derive(Default)]
struct Last(Mutex<UploadStatus>);

impl Reporter for Last {
    fn on_upload_status(&self, status: &UploadStatus) {
        *self.0.lock().unwrap() = status.clone();
    }
}

fn folder_files() -> BTreeMap<String, Vec<u8>> {
    let mut m: BTreeMap<String, Vec<u8>> = (0..40)
        .map(|i| {
            (
                format!("part-{}/f{i:02}.txt", i % 4),
                format!("n{i}\n").into_bytes(),
            )
        })
        .collect();
    m.insert("big/a.bin".into(), seed::pseudo_random(11, 3 << 20));
    m.insert(
        "big/b.safetensors".into(),
        seed::pseudo_random(12, (2 << 20) + 3),
    );
    m.insert("名前 with space.txt".into(), b"x".to_vec());
    m.insert("zero.bin".into(), Vec::new());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_in_batches_and_a_rerun_neither_hashes_nor_sends() {
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_at(hub_dir.path()).await;
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("big-folder");
    let files = folder_files();
    write_files(&folder, &files);
    let id: RepoId = "alice/large".parse().unwrap();
    let mut req = LargeFolderRequest::new(RepoType::Model, id.clone(), &folder);
    req.commit_files = 10;
    req.num_workers = Some(3);
    let last = Arc::new(Last::default());
    let up = uploader(hub.url(), |_| {});
    let r = up.upload_large_folder(&req, last.clone()).await.unwrap();
    assert!(r.commit.is_some());
    assert_eq!(r.files.len(), files.len());
    let commits = hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.route == "commit")
        .count();
    assert_eq!(commits, files.len().div_ceil(10), "batches of 10");
    let s = last.0.lock().unwrap().clone();
    assert_eq!(s.files_total, files.len() as u64);
    assert_eq!(s.files_hashed, files.len() as u64);
    assert_eq!(s.files_committed, files.len() as u64);
    assert_eq!(s.commits as usize, commits);
    assert_eq!(download(hub.url(), &id, work.path()).await, files);
    // The state follows the documented layout and the folder ignores it.
    let root = folder.join(STATE_DIR);
    assert!(root.join("target.json").is_file());
    assert_eq!(
        std::fs::read_to_string(folder.join(".cache/csghub/.gitignore")).unwrap(),
        "*\n"
    );
    assert_eq!(state_files(&root).len(), files.len());

    // Again: no hashing, no upload, no commit.
    hub.faults().clear_log();
    let last = Arc::new(Last::default());
    let r = up.upload_large_folder(&req, last.clone()).await.unwrap();
    assert_eq!(r.commit, None);
    assert!(r.files.iter().all(|(_, o)| *o == UploadOutcome::Unchanged));
    let s = last.0.lock().unwrap().clone();
    assert_eq!(s.bytes_hashed, 0, "hashes come from the state");
    let routes: BTreeSet<String> = hub.faults().log().into_iter().map(|e| e.route).collect();
    assert_eq!(
        routes,
        BTreeSet::from(["branches".to_string(), "preupload".to_string()])
    );

    // A changed file is hashed again (and only it).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(folder.join("part-1/f01.txt"), b"changed\n").unwrap();
    let last = Arc::new(Last::default());
    up.upload_large_folder(&req, last.clone()).await.unwrap();
    assert_eq!(last.0.lock().unwrap().bytes_hashed, 8);
    let got = download(hub.url(), &id, work.path()).await;
    assert_eq!(got["part-1/f01.txt"], b"changed\n");
}

fn state_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root.join("files")) else {
        return out;
    };
    for d in rd.flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == "json") {
                out.push(f.path());
            }
        }
    }
    out
}

/// Finished parts recorded in the state of the one LFS file.
fn recorded_parts(folder: &Path) -> usize {
    state_files(&folder.join(STATE_DIR))
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|v| v["parts"]["etags"].as_object().map(|o| o.len()))
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of sigkill_mid_parts_then_resume_sends_no_finished_part_again"]
async fn child_large_folder() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, folder) = spec.split_once('|').unwrap();
    let up = uploader(url, |c| c.parts_in_flight = 1);
    let req = LargeFolderRequest::new(RepoType::Model, "alice/killed".parse().unwrap(), folder);
    up.upload_large_folder(&req, Arc::new(NoProgress))
        .await
        .unwrap();
}

fn part_of(query: &Option<String>) -> u32 {
    query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("partNumber="))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_parts_then_resume_sends_no_finished_part_again() {
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_at(hub_dir.path()).await;
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("killed");
    let data = seed::pseudo_random(21, (8 << 20) + 11);
    let files = BTreeMap::from([
        ("weights.bin".to_string(), data.clone()),
        ("config.json".to_string(), b"{}".to_vec()),
    ]);
    write_files(&folder, &files);
    // Each part PUT waits first, so the child is surely between parts when it dies.
    hub.faults().push(
        Matcher::route("object_put"),
        (0..100).map(|_| Fault::Delay(Duration::from_millis(400))),
    );
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_large_folder", "--nocapture"])
        .env(CHILD_ENV, format!("{}|{}", hub.url(), folder.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while recorded_parts(&folder) < 3 {
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
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    hub.faults().clear();
    let before: BTreeSet<u32> = hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.route == "object_put" && e.status == 200)
        .map(|e| part_of(&e.query))
        .collect();
    assert!(before.len() >= 3 && before.len() < 9, "{before:?}");
    assert!(
        hub.faults().log().iter().all(|e| e.route != "commit"),
        "killed before the commit"
    );

    // A part the child had sent but never heard back about may still land; let it settle.
    tokio::time::sleep(Duration::from_millis(700)).await;
    hub.faults().clear_log();
    let last = Arc::new(Last::default());
    let up = uploader(hub.url(), |_| {});
    let req = LargeFolderRequest::new(RepoType::Model, "alice/killed".parse().unwrap(), &folder);
    up.upload_large_folder(&req, last.clone()).await.unwrap();
    let after: Vec<u32> = hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.route == "object_put" && e.status == 200)
        .map(|e| part_of(&e.query))
        .collect();
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "finished parts sent again: before {before:?}, after {after:?}"
    );
    let all: BTreeSet<u32> = before.iter().chain(&after).copied().collect();
    assert_eq!(all, (1..=9).collect::<BTreeSet<u32>>());
    assert_eq!(last.0.lock().unwrap().bytes_hashed, 0, "no re-hash");
    let got = download(hub.url(), &"alice/killed".parse().unwrap(), work.path()).await;
    assert_eq!(got, files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_commits_back_off_and_the_rerun_resumes_without_resending() {
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_at(hub_dir.path()).await;
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("f");
    let files = folder_files();
    write_files(&folder, &files);
    let id: RepoId = "alice/commit-fails".parse().unwrap();
    let req = LargeFolderRequest::new(RepoType::Model, id.clone(), &folder);
    // The branch is "not found" (a 500 `{"error"}`): no retry, no loop.
    hub.faults().push(
        Matcher::route("commit"),
        (0..1000).map(|_| Fault::Status {
            status: 500,
            body: "{\"error\":\"branch main not found\"}".into(),
            retry_after: None,
        }),
    );
    let up = uploader(hub.url(), |_| {});
    let err = up
        .upload_large_folder(&req, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("branch main not found"), "{err}");
    let log = hub.faults().log();
    assert_eq!(log.iter().filter(|e| e.route == "commit").count(), 1);
    assert!(log.len() < 60, "{} requests", log.len());

    // 503 from a gateway: a few attempts with growing delays, then the run stops.
    hub.faults().clear();
    hub.faults().clear_log();
    hub.faults().push(
        Matcher::route("commit"),
        (0..1000).map(|_| Fault::status(503)),
    );
    let up4 = uploader(hub.url(), |c| {
        c.commit_retry = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            budget: Duration::from_secs(10),
        }
    });
    let t0 = std::time::Instant::now();
    up4.upload_large_folder(&req, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert_eq!(
        hub.faults()
            .log()
            .iter()
            .filter(|e| e.route == "commit")
            .count(),
        4
    );
    assert!(t0.elapsed() >= Duration::from_millis(175));
    // LFS objects were verified in the first run: nothing is sent again.
    assert_eq!(
        hub.faults()
            .log()
            .iter()
            .filter(|e| e.route == "object_put" || e.route == "lfs_batch")
            .count(),
        0
    );

    hub.faults().clear();
    up.upload_large_folder(&req, Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(download(hub.url(), &id, work.path()).await, files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupt_state_is_ignored_and_a_second_run_is_locked_out() {
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_at(hub_dir.path()).await;
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("c");
    let files = BTreeMap::from([
        ("a.txt".to_string(), b"a".to_vec()),
        ("b.bin".to_string(), seed::pseudo_random(3, 1 << 20)),
    ]);
    write_files(&folder, &files);
    let id: RepoId = "alice/corrupt".parse().unwrap();
    let req = LargeFolderRequest::new(RepoType::Model, id.clone(), &folder);
    let up = uploader(hub.url(), |_| {});
    up.upload_large_folder(&req, Arc::new(NoProgress))
        .await
        .unwrap();
    for p in state_files(&folder.join(STATE_DIR)) {
        std::fs::write(&p, b"{ not json").unwrap();
    }
    std::fs::write(folder.join(STATE_DIR).join("target.json"), b"\x00garbage").unwrap();
    let last = Arc::new(Last::default());
    let r = up.upload_large_folder(&req, last.clone()).await.unwrap();
    assert!(r.files.iter().all(|(_, o)| *o == UploadOutcome::Unchanged));
    assert_eq!(last.0.lock().unwrap().files_hashed, 2, "hashed again");

    // Another run holds the lock: refused at once, nothing sent.
    let lock = std::fs::File::open(folder.join(STATE_DIR).join("lock")).unwrap();
    lock.lock().unwrap();
    hub.faults().clear_log();
    let err = up
        .upload_large_folder(&req, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::Locked { .. }), "{err}");
    assert!(hub.faults().log().is_empty());
    drop(lock);

    // Uploading a file instead of a folder is refused clearly.
    let mut not_dir = req.clone();
    not_dir.folder = folder.join("a.txt");
    let err = up
        .upload_large_folder(&not_dir, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::LocalFile { .. }), "{err}");
}
