//! Streaming hashers for verifying blobs: git blob SHA-1 and SHA-256. Nothing here reads a whole file
//! into memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha1::Digest as _;

use crate::error::{IoContext, Result};

/// Incremental git blob SHA-1: `sha1("blob <len>\0" + content)`. The length must be known up front
/// (git hashes it first); [`GitBlobSha1::finalize`] reports `None` if the bytes fed differ from it.
#[derive(Clone)]
pub struct GitBlobSha1 {
    inner: sha1::Sha1,
    expected_len: u64,
    seen: u64,
}

impl GitBlobSha1 {
    /// Start hashing a blob of `len` bytes.
    pub fn new(len: u64) -> GitBlobSha1 {
        let mut inner = sha1::Sha1::new();
        inner.update(format!("blob {len}\0").as_bytes());
        GitBlobSha1 {
            inner,
            expected_len: len,
            seen: 0,
        }
    }

    /// Feed content bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.seen += data.len() as u64;
        self.inner.update(data);
    }

    /// Lower-case hex digest, or `None` if the content length differs from the announced one.
    pub fn finalize(self) -> Option<String> {
        (self.seen == self.expected_len).then(|| hex::encode(self.inner.finalize()))
    }
}

/// Incremental SHA-256 giving lower-case hex.
#[derive(Clone, Default)]
pub struct Sha256Hasher {
    inner: sha2::Sha256,
}

impl Sha256Hasher {
    /// Start hashing.
    pub fn new() -> Sha256Hasher {
        Sha256Hasher::default()
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// Lower-case hex digest.
    pub fn finalize(self) -> String {
        hex::encode(self.inner.finalize())
    }
}

/// Both digests of one file, computed in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigests {
    /// Byte length.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// Git blob SHA-1, lower-case hex.
    pub git_sha1: String,
}

const BUF: usize = 1 << 20;

/// Hash a file (following symlinks) with SHA-256 and git blob SHA-1 in one streaming pass.
pub fn hash_file(path: &Path) -> Result<FileDigests> {
    let mut f = File::open(path).ctx("open", path)?;
    let len = f.metadata().ctx("stat", path)?.len();
    let mut sha = Sha256Hasher::new();
    let mut git = GitBlobSha1::new(len);
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).ctx("read", path)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        sha.update(&buf[..n]);
        git.update(&buf[..n]);
    }
    // A size change while reading means someone is writing the file: report it instead of a bogus hash.
    let git_sha1 = git
        .finalize()
        .ok_or_else(|| std::io::Error::other("file changed size while being hashed"))
        .ctx("hash", path)?;
    Ok(FileDigests {
        size,
        sha256: sha.finalize(),
        git_sha1,
    })
}

/// The git-lfs pointer file text for an object (what git stores in place of an LFS file).
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// Git blob SHA-1 of the LFS pointer for an object; CSGHub may name LFS blobs by it.
pub fn lfs_pointer_git_sha1(sha256: &str, size: u64) -> String {
    let p = lfs_pointer(sha256, size);
    let mut g = GitBlobSha1::new(p.len() as u64);
    g.update(p.as_bytes());
    g.finalize().unwrap_or_default()
}

impl std::fmt::Debug for Sha256Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256Hasher")
    }
}

impl std::fmt::Debug for GitBlobSha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GitBlobSha1")
    }
}
