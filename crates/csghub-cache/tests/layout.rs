//! Golden layout: build a cache through the API and compare the exact tree with huggingface_hub's.

mod common;

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use common::*;
use csghub_cache::{
    CACHEDIR_TAG_CONTENT, CacheDir, CacheError, Etag, EtagKind, LinkKind, RepoId, RepoPath,
    RepoRef, RepoType, TreeEntry, TreeListing,
};

#[test]
fn golden_layout_matches_huggingface_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CacheDir::new(tmp.path());
    let r = repo(&cache, RepoType::Model, "OpenCSG/demo");
    let readme = put(&r, C1, "README.md", b"hello\n");
    let deep = put(&r, C1, "a/b/c.bin", b"deep");
    // Same content twice in one commit: one blob.
    put(&r, C1, "a/copy.md", b"hello\n");
    r.write_ref("main", C1).unwrap();
    r.write_ref("refs/pr/1", C1).unwrap();
    r.write_tree(
        C1,
        &tree_of(&[
            ("README.md", b"hello\n"),
            ("a/b/c.bin", b"deep"),
            ("a/copy.md", b"hello\n"),
        ]),
    )
    .unwrap();
    r.mark_missing(C1, &RepoPath::new("sub/missing.json").unwrap())
        .unwrap();

    assert_eq!(readme.as_str(), "ce013625030ba8dba906f756967f9e9ca394464a");
    let d = deep.as_str();
    let mut expected: Vec<String> = [
        ".locks/".to_owned(),
        ".locks/models--OpenCSG--demo/".to_owned(),
        format!(".locks/models--OpenCSG--demo/{d}.lock"),
        ".locks/models--OpenCSG--demo/ce013625030ba8dba906f756967f9e9ca394464a.lock".to_owned(),
        "CACHEDIR.TAG".to_owned(),
        "models--OpenCSG--demo/".to_owned(),
        "models--OpenCSG--demo/.no_exist/".to_owned(),
        format!("models--OpenCSG--demo/.no_exist/{C1}/"),
        format!("models--OpenCSG--demo/.no_exist/{C1}/sub/"),
        format!("models--OpenCSG--demo/.no_exist/{C1}/sub/missing.json"),
        "models--OpenCSG--demo/blobs/".to_owned(),
        format!("models--OpenCSG--demo/blobs/{d}"),
        "models--OpenCSG--demo/blobs/ce013625030ba8dba906f756967f9e9ca394464a".to_owned(),
        "models--OpenCSG--demo/refs/".to_owned(),
        "models--OpenCSG--demo/refs/main".to_owned(),
        "models--OpenCSG--demo/refs/refs/".to_owned(),
        "models--OpenCSG--demo/refs/refs/pr/".to_owned(),
        "models--OpenCSG--demo/refs/refs/pr/1".to_owned(),
        "models--OpenCSG--demo/snapshots/".to_owned(),
        format!("models--OpenCSG--demo/snapshots/{C1}/"),
        format!("models--OpenCSG--demo/snapshots/{C1}/README.md -> ../../blobs/ce013625030ba8dba906f756967f9e9ca394464a"),
        format!("models--OpenCSG--demo/snapshots/{C1}/a/"),
        format!("models--OpenCSG--demo/snapshots/{C1}/a/b/"),
        format!("models--OpenCSG--demo/snapshots/{C1}/a/b/c.bin -> ../../../../blobs/{d}"),
        format!("models--OpenCSG--demo/snapshots/{C1}/a/copy.md -> ../../../blobs/ce013625030ba8dba906f756967f9e9ca394464a"),
        "models--OpenCSG--demo/trees/".to_owned(),
        format!("models--OpenCSG--demo/trees/{C1}.json"),
    ]
    .into_iter()
    .collect();
    expected.sort();
    let mut actual = tree_listing(tmp.path());
    actual.sort();
    assert_eq!(actual, expected);

    // Ref content: the commit, no newline.
    let root = tmp.path().join("models--OpenCSG--demo");
    assert_eq!(fs::read(root.join("refs/main")).unwrap(), C1.as_bytes());
    assert_eq!(
        fs::read(root.join("refs/refs/pr/1")).unwrap(),
        C1.as_bytes()
    );
    // CACHEDIR.TAG signature.
    let tag = fs::read_to_string(tmp.path().join("CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55\n"));
    assert_eq!(tag, CACHEDIR_TAG_CONTENT);
    assert_eq!(
        fs::read(root.join(format!("snapshots/{C1}/a/b/c.bin"))).unwrap(),
        b"deep"
    );
    // .no_exist markers are empty.
    assert_eq!(
        fs::read(root.join(format!(".no_exist/{C1}/sub/missing.json"))).unwrap(),
        b""
    );
}

#[cfg(unix)]
#[test]
fn lock_files_are_group_writable() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Dataset, "ns/data");
    let etag = put(&r, C1, "x", b"x");
    let mode = fs::metadata(r.lock_path(&etag))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o664);
    assert_eq!(
        r.lock_path(&etag),
        tmp.path()
            .join(".locks/datasets--ns--data")
            .join(format!("{etag}.lock"))
    );
}

#[test]
fn tree_json_is_format_version_1_with_one_space_indent() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    let mut t = tree_of(&[("config.json", b"{}")]);
    t.files.insert(
        RepoPath::new("model.safetensors").unwrap(),
        TreeEntry {
            size: 10,
            blob_id: "b".repeat(40),
            lfs_sha256: Some("c".repeat(64)),
            lfs_size: Some(10),
            xet_hash: None,
        },
    );
    r.write_tree(C1, &t).unwrap();
    let text = fs::read_to_string(r.tree_path(C1).unwrap()).unwrap();
    let expected = format!(
        "{{\n \"format_version\": 1,\n \"files\": {{\n  \"config.json\": {{\n   \"size\": 2,\n   \"blob_id\": \"{}\"\n  }},\n  \"model.safetensors\": {{\n   \"size\": 10,\n   \"blob_id\": \"{}\",\n   \"lfs_sha256\": \"{}\",\n   \"lfs_size\": 10\n  }}\n }}\n}}",
        git_sha1(b"{}"),
        "b".repeat(40),
        "c".repeat(64)
    );
    assert_eq!(text, expected);
    assert_eq!(r.read_tree(C1).unwrap().unwrap(), t);
    assert!(r.read_tree(C2).unwrap().is_none());
}

#[test]
fn tree_json_bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    let path = r.tree_path(C1).unwrap();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    for bad in [
        "{not json",
        r#"{"format_version": 2, "files": {}}"#,
        r#"{"format_version": 1, "files": {"../evil": {"size": 1, "blob_id": "x"}}}"#,
        r#"{"format_version": 1, "files": {"a": {"size": "big", "blob_id": "x"}}}"#,
    ] {
        fs::write(&path, bad).unwrap();
        match r.read_tree(C1) {
            Err(CacheError::CorruptMetadata { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{bad}: expected CorruptMetadata, got {other:?}"),
        }
        // The bad file is kept for inspection (no data loss).
        assert!(path.exists());
    }
}

#[test]
fn copy_fallback_when_symlinks_disabled() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CacheDir::new(tmp.path()).with_symlinks(false);
    let r = repo(&cache, RepoType::Model, "ns/m");
    let etag = Etag::new(&git_sha1(b"data")).unwrap();
    put_etag(&r, C1, "d/x.bin", b"data", &etag);
    let (p, kind) = r
        .link_snapshot_kind(C1, &RepoPath::new("d/y.bin").unwrap(), &etag)
        .unwrap();
    assert_eq!(kind, LinkKind::Copy);
    let snap = r
        .snapshot_file(C1, &RepoPath::new("d/x.bin").unwrap())
        .unwrap();
    assert!(
        !fs::symlink_metadata(&snap)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&snap).unwrap(), b"data");
    assert_eq!(fs::read(&p).unwrap(), b"data");
    // The blob stays, so other snapshots are not broken.
    assert!(r.has_blob(&etag));
    // No temp leftovers next to the copies.
    assert_eq!(files_named(snap.parent().unwrap()), vec!["x.bin", "y.bin"]);
}

#[test]
fn relinking_replaces_a_link_to_another_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    put(&r, C1, "f", b"old");
    let new = put(&r, C1, "f", b"new");
    let f = r.snapshot_file(C1, &RepoPath::new("f").unwrap()).unwrap();
    assert_eq!(fs::read(&f).unwrap(), b"new");
    assert_eq!(
        fs::read_link(&f).unwrap(),
        PathBuf::from(format!("../../blobs/{new}"))
    );
    assert_eq!(files_named(f.parent().unwrap()), vec!["f"]);
}

#[test]
fn link_to_missing_blob_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    let etag = Etag::new(&"a".repeat(40)).unwrap();
    let err = r
        .link_snapshot(C1, &RepoPath::new("f").unwrap(), &etag)
        .unwrap_err();
    assert!(matches!(err, CacheError::BlobMissing { .. }), "{err}");
    assert!(!r.path().join("snapshots").exists());
}

#[test]
fn refs_are_atomic_and_skip_needless_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&CacheDir::new(tmp.path()), RepoType::Model, "ns/m");
    r.write_ref("main", C1).unwrap();
    r.write_ref("main", C2).unwrap();
    assert_eq!(r.read_ref("main").unwrap().as_deref(), Some(C2));
    // A commit "revision" is not stored as a ref.
    r.write_ref(C1, C1).unwrap();
    assert!(!r.path().join("refs").join(C1).exists());
    assert_eq!(files_named(&r.path().join("refs")), vec!["main"]);
    // Tolerates a trailing newline written by hand.
    fs::write(r.ref_path("v1").unwrap(), format!("{C1}\n")).unwrap();
    assert_eq!(r.read_ref("v1").unwrap().as_deref(), Some(C1));
    assert_eq!(r.read_ref("nope").unwrap(), None);
    fs::write(r.ref_path("bad").unwrap(), "garbage").unwrap();
    assert!(matches!(
        r.read_ref("bad"),
        Err(CacheError::CorruptMetadata { .. })
    ));
    assert!(matches!(
        r.write_ref("main", "xyz"),
        Err(CacheError::InvalidCommit { .. })
    ));
    assert!(matches!(
        r.write_ref("../escape", C1),
        Err(CacheError::InvalidRevision { .. })
    ));
}

#[test]
fn folder_prefixes_for_all_repo_types() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CacheDir::new(tmp.path());
    for (name, prefix) in [
        ("model", "models"),
        ("dataset", "datasets"),
        ("space", "spaces"),
        ("code", "codes"),
        ("mcp", "mcps"),
        ("skill", "skills"),
    ] {
        let t: RepoType = name.parse().unwrap();
        assert_eq!(t.as_str(), name);
        let r = cache.repo(RepoRef::new(t, RepoId::parse("ns/n.a-m_e").unwrap()));
        assert_eq!(r.path(), tmp.path().join(format!("{prefix}--ns--n.a-m_e")));
        assert_eq!(
            RepoRef::from_folder_name(&format!("{prefix}--ns--n.a-m_e")).unwrap(),
            *r.repo()
        );
    }
    assert!(matches!(
        "models".parse::<RepoType>(),
        Err(CacheError::InvalidRepoType { .. })
    ));
    assert_eq!(RepoRef::from_folder_name("kernels--a--b"), None);
    assert_eq!(RepoRef::from_folder_name("models--nodash"), None);
    // A name containing "--" parses back (the namespace cannot contain it).
    let r = RepoRef::from_folder_name("models--ns--a--b").unwrap();
    assert_eq!(r.id.name(), "a--b");
}

#[test]
fn repo_ids_are_validated() {
    for bad in [
        "",
        "noslash",
        "a/b/c",
        "/b",
        "a/",
        "../b",
        "a/..",
        "a b/c",
        "a/b\0",
        "a--x/b",
        ".hidden/x",
        "a/\\b",
    ] {
        match RepoId::parse(bad) {
            Err(CacheError::InvalidRepoId { id, .. }) => assert_eq!(id, bad),
            other => panic!("{bad:?} accepted: {other:?}"),
        }
    }
    let id = RepoId::parse("OpenCSG/csg-wukong-1B").unwrap();
    assert_eq!((id.namespace(), id.name()), ("OpenCSG", "csg-wukong-1B"));
    assert_eq!(id.to_string(), "OpenCSG/csg-wukong-1B");
}

#[test]
fn etags_are_normalized_and_validated() {
    let sha = "a".repeat(64);
    assert_eq!(
        Etag::from_header(&format!("W/\"{sha}\"")).unwrap().as_str(),
        sha
    );
    assert_eq!(
        Etag::from_header(&format!("\"{sha}\"")).unwrap().kind(),
        EtagKind::Sha256
    );
    assert_eq!(
        Etag::new(&"b".repeat(40)).unwrap().kind(),
        EtagKind::GitSha1
    );
    assert_eq!(Etag::new("abc-123").unwrap().kind(), EtagKind::Other);
    for bad in ["", "\"\"", "../x", "a/b", "a.b", "a b", &"a".repeat(129)] {
        assert!(
            matches!(Etag::from_header(bad), Err(CacheError::InvalidEtag { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn cache_root_resolution() {
    let home = Some(PathBuf::from("/home/u"));
    let env = |s: &str| Some(OsString::from(s));
    assert_eq!(
        CacheDir::resolve_root(Some("/x".into()), env("/env"), home.clone()).unwrap(),
        PathBuf::from("/x")
    );
    assert_eq!(
        CacheDir::resolve_root(None, env("/env"), home.clone()).unwrap(),
        PathBuf::from("/env")
    );
    assert_eq!(
        CacheDir::resolve_root(None, env("~/c"), home.clone()).unwrap(),
        PathBuf::from("/home/u/c")
    );
    assert_eq!(
        CacheDir::resolve_root(None, env(""), home.clone()).unwrap(),
        PathBuf::from("/home/u/.cache/csg/hub")
    );
    assert_eq!(
        CacheDir::resolve_root(None, None, home).unwrap(),
        PathBuf::from("/home/u/.cache/csg/hub")
    );
    assert!(matches!(
        CacheDir::resolve_root(None, None, None),
        Err(CacheError::NoHome)
    ));
}

#[test]
fn tree_listing_round_trips_through_text() {
    let t = tree_of(&[("z.txt", b"z"), ("a/b.txt", b"b")]);
    let text = t.to_json();
    assert_eq!(
        TreeListing::from_json(&text, std::path::Path::new("t.json")).unwrap(),
        t
    );
}
