//! Offline resolution from refs/snapshots/trees/.no_exist alone.

mod common;

use std::fs;

use common::*;
use csghub_cache::{CacheDir, CacheError, RepoPath, RepoType, SnapshotStatus};

const C3: &str = "1111aaaa11111111111111111111111111111111";

fn setup() -> (tempfile::TempDir, csghub_cache::RepoCache) {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    put(&r, C1, "config.json", b"{}");
    put(&r, C1, "sub/w.bin", b"weights");
    r.write_tree(
        C1,
        &tree_of(&[("config.json", b"{}"), ("sub/w.bin", b"weights")]),
    )
    .unwrap();
    r.write_ref("main", C1).unwrap();
    r.write_ref("v1.0", C1).unwrap();
    // C2: one of two files downloaded.
    put(&r, C2, "config.json", b"{\"v\":2}");
    r.write_tree(
        C2,
        &tree_of(&[("config.json", b"{\"v\":2}"), ("big.bin", b"big")]),
    )
    .unwrap();
    r.write_ref("dev", C2).unwrap();
    (tmp, r)
}

fn rp(s: &str) -> RepoPath {
    RepoPath::new(s).unwrap()
}

#[test]
fn resolves_by_branch_tag_full_and_abbreviated_commit() {
    let (_tmp, r) = setup();
    let want = r.snapshot_file(C1, &rp("sub/w.bin")).unwrap();
    for rev in ["main", "v1.0", C1, "11111111", "1111"] {
        // "1111" is ambiguous only once C3 exists (below).
        assert_eq!(
            r.resolve_file(rev, &rp("sub/w.bin")).unwrap(),
            want,
            "{rev}"
        );
    }
    assert_eq!(fs::read(&want).unwrap(), b"weights");
    assert_eq!(r.resolve_revision("2222222").unwrap(), C2);
    assert_eq!(r.resolve_revision("dev").unwrap(), C2);
    put(&r, C3, "x", b"x");
    match r.resolve_revision("1111") {
        Err(CacheError::AmbiguousRevision { candidates, .. }) => {
            assert_eq!(candidates, vec![C1, C3])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.resolve_revision("1111aa").unwrap(), C3);
    assert!(matches!(
        r.resolve_revision("nope"),
        Err(CacheError::RevisionNotCached { .. })
    ));
    assert!(matches!(
        r.resolve_revision("abc"),
        Err(CacheError::RevisionNotCached { .. })
    ));
    assert!(matches!(
        r.resolve_revision("fff0"),
        Err(CacheError::RevisionNotCached { .. })
    ));
}

#[test]
fn missing_files_are_classified() {
    let (_tmp, r) = setup();
    // Not in the tree listing: known not to exist.
    match r.resolve_file("main", &rp("nope.txt")) {
        Err(CacheError::EntryNotFound {
            source_of_truth, ..
        }) => assert_eq!(source_of_truth, "tree listing"),
        other => panic!("{other:?}"),
    }
    // In the listing but not downloaded: incomplete snapshot.
    match r.resolve_file("dev", &rp("big.bin")) {
        Err(e @ CacheError::EntryNotCached { .. }) => {
            assert!(e.to_string().contains("incomplete"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // .no_exist marker.
    let c4 = "4444444444444444444444444444444444444444";
    put(&r, c4, "a", b"a");
    r.mark_missing(c4, &rp("gone.json")).unwrap();
    match r.resolve_file(c4, &rp("gone.json")) {
        Err(CacheError::EntryNotFound {
            source_of_truth, ..
        }) => assert_eq!(source_of_truth, ".no_exist marker"),
        other => panic!("{other:?}"),
    }
    // No listing, no marker: unknown.
    assert!(matches!(
        r.resolve_file(c4, &rp("other")),
        Err(CacheError::EntryNotCached { .. })
    ));
}

#[test]
fn tells_complete_from_incomplete_snapshots() {
    let (_tmp, r) = setup();
    let s = r.resolve_snapshot("main").unwrap();
    assert_eq!(s.commit, C1);
    assert_eq!(s.status, SnapshotStatus::Complete);
    let s = r.resolve_snapshot("dev").unwrap();
    assert_eq!(
        s.status,
        SnapshotStatus::Incomplete {
            missing: vec![rp("big.bin")]
        }
    );
    // Deleting a blob makes a complete snapshot incomplete (dangling link does not count).
    let etag = git_sha1(b"weights");
    fs::remove_file(r.blobs_dir().join(&etag)).unwrap();
    assert_eq!(
        r.snapshot_status(C1).unwrap(),
        SnapshotStatus::Incomplete {
            missing: vec![rp("sub/w.bin")]
        }
    );
    let err = r.resolve_file("main", &rp("sub/w.bin")).unwrap_err();
    assert!(matches!(err, CacheError::EntryNotCached { .. }), "{err}");
    // Without a listing completeness is unknown.
    let c5 = "5555555555555555555555555555555555555555";
    put(&r, c5, "a", b"a");
    assert_eq!(
        r.resolve_snapshot(c5).unwrap().status,
        SnapshotStatus::Unknown
    );
    assert!(matches!(
        r.resolve_snapshot("6666666666666666666666666666666666666666"),
        Err(CacheError::RevisionNotCached { .. })
    ));
}
