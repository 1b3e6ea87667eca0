//! Cross-process behaviour: a writer killed before the rename leaves nothing visible; 8 processes racing
//! for one blob download it once and all see identical bytes; a killed resumable writer can be resumed.
//!
//! Children are this test binary re-run with `--ignored --exact child_main` and `CSGHUB_CACHE_CHILD` set.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;
use csghub_cache::{CacheDir, Etag, Expected, RepoPath, RepoType};

const MODE: &str = "CSGHUB_CACHE_CHILD";
const DIR: &str = "CSGHUB_CACHE_CHILD_DIR";
const ID: &str = "CSGHUB_CACHE_CHILD_ID";

fn content() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn spawn(mode: &str, dir: &Path, id: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_main",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MODE, mode)
        .env(DIR, dir)
        .env(ID, id.to_string())
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child never created {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Entry point of the child processes; does nothing when run normally.
#[test]
#[ignore = "child process entry point, run by the other tests"]
fn child_main() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let id: usize = std::env::var(ID).unwrap().parse().unwrap();
    let cache = CacheDir::new(dir.join("cache"));
    let r = repo(&cache, RepoType::Model, "ns/racy");
    let data = content();
    let etag = Etag::new(&git_sha1(&data)).unwrap();
    match mode.as_str() {
        // Write everything, then stall before `finish` (the rename) until killed.
        "stall_before_rename" => {
            let mut w = r
                .begin_blob(&etag, Expected::etag_and_size(Some(data.len() as u64)))
                .unwrap();
            w.write_all(&data).unwrap();
            w.flush().unwrap();
            std::fs::write(dir.join("ready"), b"").unwrap();
            std::thread::sleep(Duration::from_secs(120));
            unreachable!("should have been killed");
        }
        // Resumable partial: commit the first half, then stall holding the lock until killed.
        "stall_partial" => {
            let lock = r.lock_blob(&etag).unwrap();
            let part = lock.open_partial(data.len() as u64).unwrap();
            let half = data.len() / 2;
            part.write_at(0, &data[..half]).unwrap();
            part.commit_range(0..half as u64).unwrap();
            // Written but not committed: must not be trusted after the kill.
            part.write_at(half as u64, &data[half..half + 10]).unwrap();
            std::fs::write(dir.join("ready"), b"").unwrap();
            std::thread::sleep(Duration::from_secs(120));
            unreachable!("should have been killed");
        }
        "race" => {
            wait_for(&dir.join("go"));
            let lock = r.lock_blob(&etag).unwrap();
            let outcome = if lock.blob_exists() {
                "found"
            } else {
                let mut w = lock
                    .begin(Expected::etag_and_size(Some(data.len() as u64)))
                    .unwrap();
                // Slow "download" so the others really wait on the lock.
                for chunk in data.chunks(30_000) {
                    w.write_all(chunk).unwrap();
                    std::thread::sleep(Duration::from_millis(20));
                }
                w.finish().unwrap();
                "wrote"
            };
            let f = r
                .link_snapshot(C1, &RepoPath::new("w/weights.bin").unwrap(), &etag)
                .unwrap();
            drop(lock);
            let got = std::fs::read(f).unwrap();
            std::fs::write(
                dir.join(format!("out-{id}")),
                format!("{outcome} {}", sha256(&got)),
            )
            .unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn killed_writer_leaves_only_incomplete_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn("stall_before_rename", tmp.path(), 0);
    wait_for(&tmp.path().join("ready"));
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();

    let cache = CacheDir::new(tmp.path().join("cache"));
    let r = repo(&cache, RepoType::Model, "ns/racy");
    let etag = Etag::new(&git_sha1(&content())).unwrap();
    assert!(!r.has_blob(&etag));
    assert!(!r.path().join("snapshots").exists());
    let blobs = files_named(&r.blobs_dir());
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(
        blobs[0].starts_with(&format!("{etag}.")) && blobs[0].ends_with(".incomplete"),
        "{blobs:?}"
    );
    // The scanner reports it, offline resolution does not see it, and prune cleans it once it
    // is older than the grace period (a unique temp may be a lock-free download in progress).
    let scan = cache.scan().unwrap();
    assert_eq!(scan.incomplete_files.len(), 1);
    assert!(
        r.resolve_file(C1, &RepoPath::new("w/weights.bin").unwrap())
            .is_err()
    );
    let report = cache.prune(&Default::default()).unwrap();
    assert_eq!(report.skipped_young.len(), 1);
    assert_eq!(files_named(&r.blobs_dir()).len(), 1);
    let report = cache
        .prune(&csghub_cache::PruneOptions {
            grace: Duration::ZERO,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(report.incomplete.len(), 1);
    assert!(files_named(&r.blobs_dir()).is_empty());
}

#[test]
fn killed_resumable_writer_can_be_resumed_by_the_next_process() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn("stall_partial", tmp.path(), 0);
    wait_for(&tmp.path().join("ready"));
    let cache =
        CacheDir::new(tmp.path().join("cache")).with_lock_timeout(Some(Duration::from_millis(300)));
    let r = repo(&cache, RepoType::Model, "ns/racy");
    let data = content();
    let etag = Etag::new(&git_sha1(&data)).unwrap();
    // While the child lives, the lock is held and the error says which lock and what to do.
    let err = r.lock_blob(&etag).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&r.lock_path(&etag).display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("another csghub-cli or huggingface_hub process"),
        "{msg}"
    );
    // Prune leaves the partial alone while it is locked.
    let report = cache.prune(&Default::default()).unwrap();
    assert!(report.incomplete.is_empty());
    assert_eq!(report.skipped_locked.len(), 2, "{report:?}");

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!r.has_blob(&etag));
    assert!(!r.path().join("snapshots").exists());

    // The kernel released the dead process's lock; resume from the committed half only.
    let lock = r.lock_blob(&etag).unwrap();
    let part = lock.open_partial(data.len() as u64).unwrap();
    let half = (data.len() / 2) as u64;
    assert_eq!(part.completed(), vec![0..half]);
    assert_eq!(part.missing(), vec![half..data.len() as u64]);
    assert_eq!(part.resume_offset(), half);
    part.write_at(half, &data[half as usize..]).unwrap();
    part.commit_range(half..data.len() as u64).unwrap();
    let lock = part.finish(Expected::etag_and_size(None)).unwrap();
    assert_eq!(std::fs::read(lock.blob_path()).unwrap(), data);
    assert_eq!(files_named(&r.blobs_dir()), vec![etag.to_string()]);
}

#[test]
fn eight_processes_racing_download_once() {
    let tmp = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..8).map(|i| spawn("race", tmp.path(), i)).collect();
    std::fs::write(tmp.path().join("go"), b"").unwrap();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let expected = sha256(&content());
    let mut wrote = 0;
    for i in 0..8 {
        let out = std::fs::read_to_string(tmp.path().join(format!("out-{i}"))).unwrap();
        let (outcome, sha) = out.split_once(' ').unwrap();
        assert_eq!(sha, expected, "child {i}");
        match outcome {
            "wrote" => wrote += 1,
            "found" => {}
            o => panic!("{o}"),
        }
    }
    assert_eq!(wrote, 1, "exactly one process downloads");
    let r = repo(
        &CacheDir::new(tmp.path().join("cache")),
        RepoType::Model,
        "ns/racy",
    );
    let etag = Etag::new(&git_sha1(&content())).unwrap();
    assert_eq!(files_named(&r.blobs_dir()), vec![etag.to_string()]);
}
