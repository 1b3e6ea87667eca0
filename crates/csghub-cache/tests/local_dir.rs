//! Local-dir mode: files at DIR/<path>, metadata as huggingface_hub writes it.

mod common;

use std::fs;
use std::io::Write;
use std::time::{Duration, SystemTime};

use common::*;
use csghub_cache::{CacheError, Etag, Expected, LocalDir, RepoPath};

#[test]
fn download_and_metadata_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let ld = LocalDir::new(tmp.path());
    let path = RepoPath::new("sub/file.txt").unwrap();
    let data = b"local content";
    let etag = Etag::new(&git_sha1(data)).unwrap();
    let lock = ld.lock(&path, Some(Duration::from_secs(5))).unwrap();
    let mut w = ld
        .begin_file(
            &path,
            &etag,
            Expected::etag_and_size(Some(data.len() as u64)),
        )
        .unwrap();
    let temp = w.temp_path().to_path_buf();
    assert!(temp.starts_with(tmp.path().join(".cache/huggingface/download/sub")));
    let name = temp.file_name().unwrap().to_string_lossy().into_owned();
    // <urlsafe-b64(sha1("file.txt.metadata"))>.<etag>.<8hex>.incomplete
    assert!(
        name.contains(&format!(".{etag}.")) && name.ends_with(".incomplete"),
        "{name}"
    );
    w.write_all(data).unwrap();
    assert!(
        !tmp.path().join("sub/file.txt").exists(),
        "visible before finish"
    );
    w.finish().unwrap();
    ld.write_metadata(&path, C1, &etag).unwrap();
    drop(lock);

    assert_eq!(fs::read(tmp.path().join("sub/file.txt")).unwrap(), data);
    let hf = tmp.path().join(".cache/huggingface");
    assert_eq!(fs::read_to_string(hf.join(".gitignore")).unwrap(), "*");
    assert!(
        fs::read_to_string(hf.join("CACHEDIR.TAG"))
            .unwrap()
            .starts_with("Signature: 8a477f597d28d172789f06886806bc55")
    );
    assert!(hf.join("download/sub/file.txt.lock").exists());
    let text = fs::read_to_string(hf.join("download/sub/file.txt.metadata")).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 4, "{text:?}");
    assert_eq!((lines[0], lines[1], lines[3]), (C1, etag.as_str(), ""));
    let ts: f64 = lines[2].parse().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - ts).abs() < 60.0);
    // No temp leftovers.
    assert_eq!(
        files_named(&hf.join("download/sub")),
        vec!["file.txt.lock", "file.txt.metadata"]
    );

    let meta = ld.read_metadata(&path).unwrap().unwrap();
    assert_eq!(
        (meta.commit.as_str(), meta.etag.as_str()),
        (C1, etag.as_str())
    );
    assert!(ld.is_up_to_date(&path, C1, None).unwrap());
    // Other commit, same etag: up to date, and the metadata moves to the new commit.
    assert!(ld.is_up_to_date(&path, C2, Some(&etag)).unwrap());
    assert_eq!(ld.read_metadata(&path).unwrap().unwrap().commit, C2);
    let other = Etag::new(&"f".repeat(40)).unwrap();
    assert!(!ld.is_up_to_date(&path, C1, Some(&other)).unwrap());
}

#[test]
fn reads_metadata_written_by_huggingface_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let ld = LocalDir::new(tmp.path());
    let path = RepoPath::new("a.txt").unwrap();
    fs::write(tmp.path().join("a.txt"), "x").unwrap();
    let mp = ld.metadata_path(&path);
    fs::create_dir_all(mp.parent().unwrap()).unwrap();
    let ts = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 5.0;
    fs::write(&mp, format!("{C1}\n{}\n{ts}\n", "e".repeat(64))).unwrap();
    let m = ld.read_metadata(&path).unwrap().unwrap();
    assert_eq!(m.etag, "e".repeat(64));
    assert_eq!(m.timestamp, ts);
}

#[test]
fn stale_metadata_is_ignored_and_corrupt_metadata_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let ld = LocalDir::new(tmp.path());
    let path = RepoPath::new("f.bin").unwrap();
    let etag = Etag::new(&git_sha1(b"v1")).unwrap();
    fs::write(tmp.path().join("f.bin"), "v1").unwrap();
    let mp = ld.metadata_path(&path);
    fs::create_dir_all(mp.parent().unwrap()).unwrap();
    // Written 10 s before the file's mtime: the user edited the file afterwards.
    let old = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 10.0;
    fs::write(&mp, format!("{C1}\n{etag}\n{old}\n")).unwrap();
    assert_eq!(ld.read_metadata(&path).unwrap(), None);
    assert!(!ld.is_up_to_date(&path, C1, Some(&etag)).unwrap());
    assert!(mp.exists(), "stale (not corrupt) metadata is kept");

    for bad in [
        "",
        "only-one-line\n",
        &format!("{C1}\n{etag}\nnot-a-number\n"),
        &format!("{C1}\n{etag}\ninf\n"),
    ] {
        fs::write(&mp, bad).unwrap();
        assert_eq!(ld.read_metadata(&path).unwrap(), None, "{bad:?}");
        assert!(!mp.exists(), "corrupt metadata {bad:?} must be deleted");
    }
    // The data file itself is never touched.
    assert_eq!(fs::read(tmp.path().join("f.bin")).unwrap(), b"v1");
    // File gone: metadata does not count.
    ld.write_metadata(&path, C1, &etag).unwrap();
    fs::remove_file(tmp.path().join("f.bin")).unwrap();
    assert_eq!(ld.read_metadata(&path).unwrap(), None);
}

#[test]
fn sha256_etag_without_metadata_is_checked_by_hashing() {
    let tmp = tempfile::tempdir().unwrap();
    let ld = LocalDir::new(tmp.path());
    let path = RepoPath::new("m.safetensors").unwrap();
    fs::write(tmp.path().join("m.safetensors"), "tensor").unwrap();
    let etag = Etag::new(&sha256(b"tensor")).unwrap();
    assert!(ld.is_up_to_date(&path, C1, Some(&etag)).unwrap());
    assert_eq!(
        ld.read_metadata(&path).unwrap().unwrap().etag,
        etag.as_str()
    );
    fs::remove_file(ld.metadata_path(&path)).unwrap();
    let wrong = Etag::new(&sha256(b"other")).unwrap();
    assert!(!ld.is_up_to_date(&path, C1, Some(&wrong)).unwrap());
}

#[test]
fn wrong_content_never_appears() {
    let tmp = tempfile::tempdir().unwrap();
    let ld = LocalDir::new(tmp.path());
    let path = RepoPath::new("x.bin").unwrap();
    let etag = Etag::new(&sha256(b"expected")).unwrap();
    let mut w = ld
        .begin_file(&path, &etag, Expected::etag_and_size(None))
        .unwrap();
    let temp = w.temp_path().to_path_buf();
    w.write_all(b"tampered").unwrap();
    let err = w.finish().unwrap_err();
    assert!(
        matches!(err, CacheError::Mismatch { what: "etag", .. }),
        "{err}"
    );
    assert!(!tmp.path().join("x.bin").exists());
    assert!(!temp.exists());
}
