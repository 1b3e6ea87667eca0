//! Hostile repo paths are rejected with an error naming the path; good ones are accepted.

use csghub_cache::{CacheError, RepoPath};

#[test]
fn hostile_paths_are_rejected() {
    let long_seg = "a".repeat(256);
    let long_path = vec!["abc"; 1100].join("/");
    let cases: Vec<&str> = vec![
        "",
        "/etc/passwd",
        "../x",
        "a/../b",
        "a/..",
        "..",
        ".",
        "./a",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        "..\\x",
        "C:\\Windows\\x",
        "C:x",
        "c:/x",
        "a/D:foo",
        "\\\\host\\share\\x",
        "a\0b",
        "a\nb",
        &long_seg,
        &long_path,
    ];
    for bad in cases {
        match RepoPath::new(bad) {
            Err(e @ CacheError::InvalidRepoPath { .. }) => {
                let CacheError::InvalidRepoPath { path, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(path, bad);
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("{bad:?}")),
                    "message {msg:?} does not name the path"
                );
            }
            other => panic!("{bad:?} accepted: {other:?}"),
        }
    }
}

#[test]
fn ordinary_paths_are_accepted() {
    for ok in [
        "README.md",
        "a/b/c.safetensors",
        ".gitattributes",
        "dir/.hidden",
        "...",
        "a..b/c",
        "unicode/模型.bin",
        "with space/x y.txt",
        "ab:c",
        &"a".repeat(255),
    ] {
        let p = RepoPath::new(ok).unwrap_or_else(|e| panic!("{ok:?} rejected: {e}"));
        assert_eq!(p.as_str(), ok);
    }
    let p = RepoPath::new("a/b/c.txt").unwrap();
    assert_eq!(p.depth(), 2);
    assert_eq!(p.segments().collect::<Vec<_>>(), vec!["a", "b", "c.txt"]);
    assert_eq!(
        p.join_to(std::path::Path::new("/base")),
        std::path::PathBuf::from("/base/a/b/c.txt")
    );
}

#[test]
fn revisions_are_validated() {
    for bad in ["", "../main", "a//b", "/abs", "a\\b", "x\0"] {
        assert!(
            matches!(
                csghub_cache::validate_revision(bad),
                Err(CacheError::InvalidRevision { .. })
            ),
            "{bad:?}"
        );
    }
    for ok in ["main", "refs/pr/1", "v1.0", "feature/x"] {
        csghub_cache::validate_revision(ok).unwrap();
    }
}
