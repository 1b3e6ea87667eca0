//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use csghub_cache::{
    CacheDir, Etag, Expected, RepoCache, RepoId, RepoPath, RepoRef, RepoType, TreeEntry,
    TreeListing,
};

pub const C1: &str = "1111111111111111111111111111111111111111";
pub const C2: &str = "2222222222222222222222222222222222222222";

pub fn git_sha1(data: &[u8]) -> String {
    let mut h = csghub_cache::GitBlobSha1::new(data.len() as u64);
    h.update(data);
    h.finalize().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    let mut h = csghub_cache::Sha256Hasher::new();
    h.update(data);
    h.finalize()
}

pub fn repo(cache: &CacheDir, ty: RepoType, id: &str) -> RepoCache {
    cache.repo(RepoRef::new(ty, RepoId::parse(id).unwrap()))
}

/// Store `data` as a blob named by its git SHA-1 and link it at `path` in `commit`. Returns the ETag.
pub fn put(repo: &RepoCache, commit: &str, path: &str, data: &[u8]) -> Etag {
    let etag = Etag::new(&git_sha1(data)).unwrap();
    put_etag(repo, commit, path, data, &etag);
    etag
}

pub fn put_etag(repo: &RepoCache, commit: &str, path: &str, data: &[u8], etag: &Etag) {
    let lock = repo.lock_blob(etag).unwrap();
    if !lock.blob_exists() {
        let mut w = lock
            .begin(Expected::etag_and_size(Some(data.len() as u64)))
            .unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
    }
    repo.link_snapshot(commit, &RepoPath::new(path).unwrap(), etag)
        .unwrap();
}

pub fn tree_of(files: &[(&str, &[u8])]) -> TreeListing {
    let mut t = TreeListing::default();
    for (p, d) in files {
        t.files.insert(
            RepoPath::new(p).unwrap(),
            TreeEntry {
                size: d.len() as u64,
                blob_id: git_sha1(d),
                lfs_sha256: None,
                lfs_size: None,
                xet_hash: None,
            },
        );
    }
    t
}

/// Every entry under `root`, relative, sorted; symlinks shown as `path -> target`, dirs with a `/`.
pub fn tree_listing(root: &Path) -> Vec<String> {
    fn rec(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().to_string_lossy()
                ));
            } else if ft.is_dir() {
                out.push(format!("{rel}/"));
                rec(base, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    rec(root, root, &mut out);
    out
}

pub fn files_named(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

pub fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}
