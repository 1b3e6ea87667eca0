//! Scan, delete, prune, verify.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use csghub_cache::{
    CacheDir, Etag, PruneOptions, RepoPath, RepoType, ScanWarning, TreeEntry, VerifyProblem,
};

fn two_revisions(tmp: &tempfile::TempDir) -> csghub_cache::RepoCache {
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    // "shared" is in both revisions: one blob.
    put(&r, C1, "shared.bin", b"0123456789"); // 10 bytes
    put(&r, C1, "old.bin", b"old!"); // 4 bytes
    put(&r, C2, "shared.bin", b"0123456789");
    put(&r, C2, "sub/new.bin", b"new"); // 3 bytes
    r.write_ref("main", C2).unwrap();
    r.write_ref("v1", C1).unwrap();
    r
}

#[test]
fn scan_counts_shared_blobs_once() {
    let tmp = tempfile::tempdir().unwrap();
    let r = two_revisions(&tmp);
    let d = repo(&CacheDir::new(tmp.path()), RepoType::Dataset, "ns/d");
    put(&d, C1, "data.csv", b"a,b\n");
    let info = CacheDir::new(tmp.path()).scan().unwrap();
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    assert_eq!(info.repos.len(), 2);
    let m = info.repos.iter().find(|x| x.repo == *r.repo()).unwrap();
    assert_eq!(m.size_on_disk, 17);
    assert_eq!(m.nb_files, 3);
    assert_eq!(m.revisions.len(), 2);
    let r1 = &m.revisions[0];
    assert_eq!(
        (r1.commit.as_str(), r1.size_on_disk, r1.refs.clone()),
        (C1, 14, vec!["v1".to_owned()])
    );
    let r2 = &m.revisions[1];
    assert_eq!(
        (r2.commit.as_str(), r2.size_on_disk, r2.refs.clone()),
        (C2, 13, vec!["main".to_owned()])
    );
    assert_eq!(
        r2.files
            .iter()
            .map(|f| f.repo_path.as_str())
            .collect::<Vec<_>>(),
        vec!["shared.bin", "sub/new.bin"]
    );
    assert_eq!(m.refs.get("main").map(String::as_str), Some(C2));
    assert!(m.last_accessed.is_some() && m.last_modified.is_some());
    assert_eq!(info.size_on_disk, 17 + 4);
}

#[test]
fn scan_warns_about_corrupt_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let r = two_revisions(&tmp);
    // Broken symlink: delete the blob of old.bin.
    fs::remove_file(r.blobs_dir().join(git_sha1(b"old!"))).unwrap();
    // Ref to a missing snapshot.
    r.write_ref("gone", "3333333333333333333333333333333333333333")
        .unwrap();
    // A file in snapshots/.
    fs::write(r.path().join("snapshots/stray.txt"), "x").unwrap();
    // Garbage ref and a non-repo folder.
    fs::write(r.path().join("refs/bad"), "not a commit").unwrap();
    fs::create_dir(tmp.path().join("random-folder")).unwrap();
    // Ignored litter.
    fs::write(tmp.path().join(".DS_Store"), "").unwrap();

    let info = CacheDir::new(tmp.path()).scan().unwrap();
    let w = &info.warnings;
    assert!(
        w.contains(&ScanWarning::BrokenSymlink {
            path: r
                .snapshot_file(C1, &RepoPath::new("old.bin").unwrap())
                .unwrap()
        }),
        "{w:?}"
    );
    assert!(
        w.contains(&ScanWarning::DanglingRef {
            path: r.path().join("refs/gone"),
            commit: "3333333333333333333333333333333333333333".into()
        }),
        "{w:?}"
    );
    assert!(
        w.contains(&ScanWarning::FileInSnapshots {
            path: r.path().join("snapshots/stray.txt")
        }),
        "{w:?}"
    );
    assert!(
        w.contains(&ScanWarning::CorruptRef {
            path: r.path().join("refs/bad")
        }),
        "{w:?}"
    );
    assert!(
        w.contains(&ScanWarning::NotARepoFolder {
            path: tmp.path().join("random-folder")
        }),
        "{w:?}"
    );
    assert_eq!(w.len(), 5, "{w:?}");
    // The healthy parts are still reported.
    assert_eq!(info.repos[0].size_on_disk, 13);
    // Warnings render as messages naming the file.
    assert!(
        w.iter()
            .all(|x| x.to_string().contains(tmp.path().to_str().unwrap()))
    );
}

#[test]
fn delete_revision_keeps_blobs_still_referenced() {
    let tmp = tempfile::tempdir().unwrap();
    let r = two_revisions(&tmp);
    r.write_tree(C1, &tree_of(&[("old.bin", b"old!")])).unwrap();
    r.mark_missing(C1, &RepoPath::new("nothing").unwrap())
        .unwrap();
    let plan = r.plan_delete_revisions(&[C1]).unwrap();
    assert_eq!(plan.expected_freed, 4);
    assert!(plan.repos.is_empty());
    // Dry run: nothing changed yet.
    assert!(r.snapshot_dir(C1).unwrap().exists());
    let report = plan.execute().unwrap();
    assert_eq!(report.freed, 4);
    assert!(!r.snapshot_dir(C1).unwrap().exists());
    assert!(!r.tree_path(C1).unwrap().exists());
    assert!(!r.path().join(".no_exist").join(C1).exists());
    assert_eq!(r.read_ref("v1").unwrap(), None);
    assert_eq!(r.read_ref("main").unwrap().as_deref(), Some(C2));
    let mut blobs = files_named(&r.blobs_dir());
    blobs.sort();
    let mut want = vec![git_sha1(b"0123456789"), git_sha1(b"new")];
    want.sort();
    assert_eq!(blobs, want);
    assert_eq!(
        fs::read(
            r.resolve_file("main", &RepoPath::new("shared.bin").unwrap())
                .unwrap()
        )
        .unwrap(),
        b"0123456789"
    );

    // Deleting the last revision removes the repo folder.
    let plan = r.plan_delete_revisions(&[C2]).unwrap();
    assert_eq!(plan.repos, vec![r.path().to_path_buf()]);
    assert_eq!(plan.expected_freed, 13);
    plan.execute().unwrap();
    assert!(!r.path().exists());
}

#[test]
fn delete_unknown_revision_is_an_error_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let r = two_revisions(&tmp);
    assert!(
        r.plan_delete_revisions(&["9999999999999999999999999999999999999999"])
            .is_err()
    );
    assert_eq!(r.cached_commits(), vec![C1, C2]);
}

#[test]
fn prune_removes_orphans_unreferenced_blobs_and_dangling_refs() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CacheDir::new(tmp.path());
    let r = two_revisions(&tmp);
    let orphan_blob = r.blobs_dir().join(git_sha1(b"nobody"));
    fs::write(&orphan_blob, "nobody").unwrap();
    let incomplete = r
        .blobs_dir()
        .join(format!("{}.0badc0de.incomplete", "a".repeat(40)));
    fs::write(&incomplete, "part").unwrap();
    r.write_ref("gone", "3333333333333333333333333333333333333333")
        .unwrap();

    // Young dangling refs survive the default grace period; dry run removes nothing.
    let opts = PruneOptions {
        dry_run: true,
        grace: Duration::ZERO,
        ..Default::default()
    };
    let report = cache.prune(&opts).unwrap();
    assert_eq!(report.unreferenced_blobs, vec![orphan_blob.clone()]);
    assert_eq!(report.incomplete, vec![incomplete.clone()]);
    assert_eq!(report.dangling_refs, vec![r.path().join("refs/gone")]);
    assert!(orphan_blob.exists() && incomplete.exists());

    // A lock-free download of a small file writes a unique temp, renames it to the blob, then
    // links it: young ones may be mid-download and survive the grace period; a plain
    // `.incomplete` (written under the blob lock) goes as soon as its lock is free.
    let plain = r.blobs_dir().join(format!("{}.incomplete", "b".repeat(40)));
    fs::write(&plain, "xy").unwrap();
    let report = cache.prune(&PruneOptions::default()).unwrap();
    assert!(
        report.dangling_refs.is_empty(),
        "grace period protects fresh refs"
    );
    assert!(orphan_blob.exists() && incomplete.exists() && !plain.exists());
    assert_eq!(
        report.skipped_young,
        vec![orphan_blob.clone(), incomplete.clone()]
    );
    assert_eq!(report.freed, 2);

    let report = cache
        .prune(&PruneOptions {
            grace: Duration::ZERO,
            ..Default::default()
        })
        .unwrap();
    assert!(!orphan_blob.exists() && !incomplete.exists());
    assert_eq!(report.freed, 6 + 4);
    assert_eq!(report.dangling_refs.len(), 1);
    assert_eq!(r.read_ref("gone").unwrap(), None);
    // Everything referenced is intact.
    assert_eq!(
        r.snapshot_status(C1).unwrap(),
        csghub_cache::SnapshotStatus::Unknown
    );
    assert!(cache.scan().unwrap().warnings.is_empty());
    assert_eq!(r.cached_commits(), vec![C1, C2]);
}

#[test]
fn prune_detached_revisions_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CacheDir::new(tmp.path());
    let r = two_revisions(&tmp);
    fs::remove_file(r.ref_path("v1").unwrap()).unwrap();
    let report = cache
        .prune(&PruneOptions {
            detached_revisions: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(report.detached_revisions, vec![r.snapshot_dir(C1).unwrap()]);
    assert_eq!(r.cached_commits(), vec![C2]);
    assert!(!r.blobs_dir().join(git_sha1(b"old!")).exists());
    assert!(r.blobs_dir().join(git_sha1(b"0123456789")).exists());
}

#[test]
fn verify_detects_corrupted_blobs_and_tree_mismatches() {
    let tmp = tempfile::tempdir().unwrap();
    let r = two_revisions(&tmp);
    // An LFS-style blob named by its sha256, and one named by its git-lfs pointer's SHA-1 (CSGHub).
    let lfs = b"large file content";
    let e256 = Etag::new(&sha256(lfs)).unwrap();
    put_etag(&r, C2, "model.safetensors", lfs, &e256);
    let lfs2 = b"another large file";
    let eptr = Etag::new(&csghub_cache::lfs_pointer_git_sha1(
        &sha256(lfs2),
        lfs2.len() as u64,
    ))
    .unwrap();
    put_etag(&r, C2, "pytorch.bin", lfs2, &eptr);
    let mut tree = tree_of(&[("shared.bin", b"0123456789"), ("sub/new.bin", b"new")]);
    tree.files.insert(
        RepoPath::new("model.safetensors").unwrap(),
        TreeEntry {
            size: lfs.len() as u64,
            blob_id: "9".repeat(40),
            lfs_sha256: Some(sha256(lfs)),
            lfs_size: Some(lfs.len() as u64),
            xet_hash: None,
        },
    );
    r.write_tree(C2, &tree).unwrap();

    let ok = r.verify(None).unwrap();
    assert!(ok.is_ok(), "{:?}", ok.problems);
    assert_eq!(ok.blobs_checked, 5);
    assert_eq!(ok.files_checked, 3);

    // Corrupt one byte of a git blob and of the sha256 blob.
    let shared = r.blobs_dir().join(git_sha1(b"0123456789"));
    fs::write(&shared, "0123456780").unwrap();
    fs::write(r.blob_path(&e256), "large file contenT").unwrap();
    let bad = r.verify(Some("main")).unwrap();
    assert!(!bad.is_ok());
    let blob_mismatches: Vec<_> = bad
        .problems
        .iter()
        .filter_map(|p| match p {
            VerifyProblem::BlobMismatch { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert!(blob_mismatches.contains(&shared), "{:?}", bad.problems);
    assert!(
        blob_mismatches.contains(&r.blob_path(&e256)),
        "{:?}",
        bad.problems
    );
    let tree_mismatches = bad
        .problems
        .iter()
        .filter(|p| matches!(p, VerifyProblem::TreeMismatch { .. }))
        .count();
    assert_eq!(tree_mismatches, 2, "{:?}", bad.problems);
    // Verify never modifies anything.
    assert_eq!(fs::read(&shared).unwrap(), b"0123456780");
}
