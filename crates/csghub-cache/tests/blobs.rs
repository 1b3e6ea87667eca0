//! Blob writers: verification before visibility, resumable partials, hashing helpers.

mod common;

use std::fs;
use std::io::Write;

use common::*;
use csghub_cache::{CacheDir, CacheError, Etag, Expected, GitBlobSha1, RepoType, hash_file};

#[test]
fn git_blob_sha1_matches_git() {
    // `printf 'hello\n' | git hash-object --stdin` and the empty blob.
    assert_eq!(
        git_sha1(b"hello\n"),
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
    assert_eq!(git_sha1(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    let mut h = GitBlobSha1::new(5);
    h.update(b"abc");
    assert_eq!(h.finalize(), None, "length differs from the announced one");
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f");
    fs::write(&f, "hello\n").unwrap();
    let d = hash_file(&f).unwrap();
    assert_eq!(d.size, 6);
    assert_eq!(d.git_sha1, "ce013625030ba8dba906f756967f9e9ca394464a");
    assert_eq!(
        d.sha256,
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
}

#[test]
fn mismatching_blob_is_never_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    let etag = Etag::new(&git_sha1(b"right")).unwrap();
    for (data, expected, what) in [
        (&b"wrong"[..], Expected::etag_and_size(None), "etag"),
        (&b"right!"[..], Expected::etag_and_size(Some(5)), "size"),
        (
            &b"right"[..],
            Expected {
                sha256: Some(sha256(b"x")),
                ..Expected::none()
            },
            "sha256",
        ),
    ] {
        let mut w = r.begin_blob(&etag, expected).unwrap();
        w.write_all(data).unwrap();
        match w.finish() {
            Err(CacheError::Mismatch { what: got, .. }) => assert_eq!(got, what),
            other => panic!("{other:?}"),
        }
        assert!(files_named(&r.blobs_dir()).is_empty());
    }
    // A dropped writer cleans up after itself.
    let mut w = r.begin_blob(&etag, Expected::none()).unwrap();
    w.write_all(b"partial").unwrap();
    drop(w);
    assert!(files_named(&r.blobs_dir()).is_empty());
    // Unknown size: the git hash is computed after the fact.
    let mut w = r.begin_blob(&etag, Expected::etag_and_size(None)).unwrap();
    w.write_all(b"right").unwrap();
    assert_eq!(w.finish().unwrap(), r.blob_path(&etag));
}

#[test]
fn partial_restarts_on_corrupt_or_foreign_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    let data = b"0123456789abcdef";
    let etag = Etag::new(&sha256(data)).unwrap();
    let part = r.lock_blob(&etag).unwrap().open_partial(16).unwrap();
    part.write_at(0, &data[..8]).unwrap();
    part.commit_range(0..8).unwrap();
    let sidecar = part.sidecar_path().to_path_buf();
    assert!(
        part.path()
            .to_string_lossy()
            .ends_with(".csghub.incomplete")
    );
    assert!(sidecar.to_string_lossy().ends_with(".incomplete"));
    let lock = part.finish(Expected::none()).unwrap_err();
    assert!(
        matches!(lock, CacheError::PartialIncomplete { missing: 8, .. }),
        "{lock}"
    );

    // Sidecar garbage: resume is refused, the partial starts from zero.
    fs::write(&sidecar, "{broken").unwrap();
    let part = r.lock_blob(&etag).unwrap().open_partial(16).unwrap();
    assert!(part.completed().is_empty());
    // Different size than recorded: also starts over.
    part.write_at(0, &data[..4]).unwrap();
    part.commit_range(0..4).unwrap();
    let lock = part.discard();
    assert!(files_named(&r.blobs_dir()).is_empty());
    let part = lock.open_partial(16).unwrap();
    assert!(part.completed().is_empty());
    // Out-of-range writes are refused.
    assert!(matches!(
        part.write_at(10, &data[..8]),
        Err(CacheError::OutOfRange { .. })
    ));
    assert!(matches!(
        part.commit_range(8..17),
        Err(CacheError::OutOfRange { .. })
    ));
    // Out-of-order ranges, then a corrupted byte: finish rejects and removes the partial.
    part.write_at(8, &data[8..]).unwrap();
    part.commit_range(8..16).unwrap();
    part.write_at(0, b"X1234567").unwrap();
    part.commit_range(0..8).unwrap();
    assert_eq!(part.missing(), vec![]);
    let err = part.finish(Expected::etag_and_size(None)).unwrap_err();
    assert!(
        matches!(err, CacheError::Mismatch { what: "etag", .. }),
        "{err}"
    );
    assert!(files_named(&r.blobs_dir()).is_empty());
}
