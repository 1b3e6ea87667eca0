//! Validated names: repo types, repo ids, repo-relative paths, ETags, commits and revisions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{CacheError, Result};

/// The kind of repository; decides the cache folder prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RepoType {
    /// `model` → `models--`
    Model,
    /// `dataset` → `datasets--`
    Dataset,
    /// `space` → `spaces--`
    Space,
    /// `code` → `codes--` (CSGHub only; unknown to huggingface_hub)
    Code,
    /// `mcp` → `mcps--` (CSGHub only)
    Mcp,
    /// `skill` → `skills--` (CSGHub only)
    Skill,
}

impl RepoType {
    /// All repo types, in CLI order.
    pub const ALL: [RepoType; 6] = [
        RepoType::Model,
        RepoType::Dataset,
        RepoType::Space,
        RepoType::Code,
        RepoType::Mcp,
        RepoType::Skill,
    ];

    /// The CLI name: `model`, `dataset`, …
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
            RepoType::Code => "code",
            RepoType::Mcp => "mcp",
            RepoType::Skill => "skill",
        }
    }

    /// The cache folder prefix (plural): `models`, `datasets`, …
    pub fn folder_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
            RepoType::Code => "codes",
            RepoType::Mcp => "mcps",
            RepoType::Skill => "skills",
        }
    }

    /// Inverse of [`RepoType::folder_prefix`].
    pub fn from_folder_prefix(prefix: &str) -> Option<RepoType> {
        RepoType::ALL
            .into_iter()
            .find(|t| t.folder_prefix() == prefix)
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RepoType {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self> {
        RepoType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| CacheError::InvalidRepoType {
                value: s.to_owned(),
            })
    }
}

/// A repo id `namespace/name`, validated so that it maps to exactly one cache folder.
///
/// Both parts: 1–96 ASCII letters, digits, `-`, `_`, `.`; not starting with `.`. The namespace may not
/// contain `--` (the folder separator), so `models--ns--na--me` parses back unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId {
    namespace: String,
    name: String,
}

impl RepoId {
    /// Build from the two parts, validating each.
    pub fn new(namespace: &str, name: &str) -> Result<RepoId> {
        let id = format!("{namespace}/{name}");
        check_id_part(&id, namespace)?;
        check_id_part(&id, name)?;
        if namespace.contains("--") {
            return Err(CacheError::InvalidRepoId {
                id,
                reason: "the namespace may not contain \"--\"",
            });
        }
        Ok(RepoId {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Parse `"namespace/name"`.
    pub fn parse(id: &str) -> Result<RepoId> {
        let Some((ns, name)) = id.split_once('/') else {
            return Err(CacheError::InvalidRepoId {
                id: id.to_owned(),
                reason: "missing \"/\"",
            });
        };
        if name.contains('/') {
            return Err(CacheError::InvalidRepoId {
                id: id.to_owned(),
                reason: "more than one \"/\"",
            });
        }
        RepoId::new(ns, name)
    }

    /// The namespace (owner).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The repo name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn check_id_part(id: &str, part: &str) -> Result<()> {
    let bad = |reason| {
        Err(CacheError::InvalidRepoId {
            id: id.to_owned(),
            reason,
        })
    };
    if part.is_empty() {
        return bad("empty namespace or name");
    }
    if part.len() > 96 {
        return bad("namespace or name longer than 96 characters");
    }
    if part.starts_with('.') {
        return bad("namespace or name starts with \".\"");
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return bad("only ASCII letters, digits, \"-\", \"_\" and \".\" are allowed");
    }
    Ok(())
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for RepoId {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self> {
        RepoId::parse(s)
    }
}

/// A repo type plus id: names one repo folder of the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoRef {
    /// The repo type.
    pub repo_type: RepoType,
    /// The repo id.
    pub id: RepoId,
}

impl RepoRef {
    /// Pair a type with an id.
    pub fn new(repo_type: RepoType, id: RepoId) -> RepoRef {
        RepoRef { repo_type, id }
    }

    /// The folder name: `{type}s--{namespace}--{name}` (as huggingface_hub's `repo_folder_name`).
    pub fn folder_name(&self) -> String {
        format!(
            "{}--{}--{}",
            self.repo_type.folder_prefix(),
            self.id.namespace,
            self.id.name
        )
    }

    /// Parse a folder name back; `None` if it is not a repo folder of a known type.
    pub fn from_folder_name(folder: &str) -> Option<RepoRef> {
        let (prefix, rest) = folder.split_once("--")?;
        let repo_type = RepoType::from_folder_prefix(prefix)?;
        let (ns, name) = rest.split_once("--")?;
        RepoId::new(ns, name)
            .ok()
            .map(|id| RepoRef { repo_type, id })
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.repo_type, self.id)
    }
}

/// Longest accepted repo path, in bytes (Linux `PATH_MAX`).
pub const MAX_REPO_PATH_LEN: usize = 4096;
/// Longest accepted path segment, in bytes (common `NAME_MAX`).
pub const MAX_SEGMENT_LEN: usize = 255;

/// A validated repo-relative file path such as `sub/dir/model.safetensors`.
///
/// Rejected (under POSIX *and* Windows rules, so a file cached on Linux cannot escape on Windows):
/// empty paths, a leading `/`, empty segments (`a//b`, trailing `/`), `.` and `..` segments, backslashes,
/// drive prefixes (`C:`) and any `:` in a segment's second position, NUL and other control characters,
/// segments over 255 bytes and paths over 4096 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(String);

impl RepoPath {
    /// Validate `path`; the error names the path and the reason.
    pub fn new(path: &str) -> Result<RepoPath> {
        let bad = |reason| {
            Err(CacheError::InvalidRepoPath {
                path: path.to_owned(),
                reason,
            })
        };
        if path.is_empty() {
            return bad("empty path");
        }
        if path.len() > MAX_REPO_PATH_LEN {
            return bad("path longer than 4096 bytes");
        }
        if path.starts_with('/') {
            return bad("absolute path (leading \"/\")");
        }
        if path.contains('\\') {
            return bad("backslash in path");
        }
        if path.chars().any(|c| c.is_control()) {
            return bad("NUL or control character in path");
        }
        for seg in path.split('/') {
            if seg.is_empty() {
                return bad("empty path segment (\"//\" or trailing \"/\")");
            }
            if seg == "." || seg == ".." {
                return bad("\".\" or \"..\" path segment");
            }
            if seg.len() > MAX_SEGMENT_LEN {
                return bad("path segment longer than 255 bytes");
            }
            let b = seg.as_bytes();
            if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
                return bad("Windows drive prefix (like \"C:\")");
            }
        }
        Ok(RepoPath(path.to_owned()))
    }

    /// The path as given, `/`-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Number of directories above the file (`a/b/c` → 2).
    pub fn depth(&self) -> usize {
        self.0.matches('/').count()
    }

    /// `base` joined with each segment (platform separators).
    pub fn join_to(&self, base: &Path) -> PathBuf {
        let mut p = base.to_path_buf();
        for seg in self.segments() {
            p.push(seg);
        }
        p
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RepoPath {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self> {
        RepoPath::new(s)
    }
}

impl AsRef<str> for RepoPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// What an ETag (blob name) is, judging by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagKind {
    /// 40 hex digits: a git blob SHA-1 (regular files; on CSGHub possibly the LFS pointer's SHA-1).
    GitSha1,
    /// 64 hex digits: the SHA-256 of the content (LFS / Xet files on the HF Hub).
    Sha256,
    /// Anything else; cannot be verified from the name.
    Other,
}

/// A normalized ETag: the blob file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Etag(String);

impl Etag {
    /// Normalize an HTTP `ETag` header value like huggingface_hub does (strip a leading `W/` and the
    /// surrounding quotes) and validate it as a file name (ASCII letters, digits, `-`, `_`; 1–128 chars).
    pub fn from_header(value: &str) -> Result<Etag> {
        let v = value.trim();
        let v = v.strip_prefix("W/").unwrap_or(v);
        Etag::new(v.trim_matches('"'))
    }

    /// Validate an already-normalized ETag.
    pub fn new(etag: &str) -> Result<Etag> {
        let bad = |reason| {
            Err(CacheError::InvalidEtag {
                etag: etag.to_owned(),
                reason,
            })
        };
        if etag.is_empty() {
            return bad("empty");
        }
        if etag.len() > 128 {
            return bad("longer than 128 characters");
        }
        if !etag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad("only ASCII letters, digits, \"-\" and \"_\" are allowed in a blob name");
        }
        Ok(Etag(etag.to_owned()))
    }

    /// The blob file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shape of the ETag.
    pub fn kind(&self) -> EtagKind {
        if !self.0.bytes().all(|b| b.is_ascii_hexdigit()) {
            return EtagKind::Other;
        }
        match self.0.len() {
            40 => EtagKind::GitSha1,
            64 => EtagKind::Sha256,
            _ => EtagKind::Other,
        }
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True if `s` is a full 40-hex commit hash.
pub fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn check_commit(commit: &str) -> Result<()> {
    if is_commit_hash(commit) {
        Ok(())
    } else {
        Err(CacheError::InvalidCommit {
            commit: commit.to_owned(),
        })
    }
}

/// Validate a revision name for use as a `refs/<revision>` file (may contain `/`, like `refs/pr/1`).
pub fn validate_revision(revision: &str) -> Result<()> {
    let bad = |reason| {
        Err(CacheError::InvalidRevision {
            revision: revision.to_owned(),
            reason,
        })
    };
    if revision.is_empty() {
        return bad("empty");
    }
    // Same rules as file paths: a ref is a file under refs/.
    if let Err(CacheError::InvalidRepoPath { reason, .. }) = RepoPath::new(revision) {
        return bad(reason);
    }
    Ok(())
}
