//! `trees/<commit>.json`: huggingface_hub's cached tree listing, format_version 1.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CacheError, IoContext, Result};
use crate::fsutil;
use crate::types::RepoPath;

/// The only tree-listing format we read or write.
pub const TREE_FORMAT_VERSION: u64 = 1;

/// One file of a tree listing, mirroring the server's `/tree` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Size of the file content in bytes.
    pub size: u64,
    /// Git blob id (SHA-1 of the file, or of the LFS pointer for LFS files).
    pub blob_id: String,
    /// SHA-256 of the content for LFS files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_sha256: Option<String>,
    /// Size of the LFS object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_size: Option<u64>,
    /// Xet hash, when the server uses Xet storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xet_hash: Option<String>,
}

impl TreeEntry {
    /// The ETag the HF Hub would give for this file (LFS sha256 if any, else the git blob id).
    pub fn hub_etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.blob_id)
    }
}

/// A complete file listing of a repo at one commit; paths validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeListing {
    /// Files by path.
    pub files: BTreeMap<RepoPath, TreeEntry>,
}

#[derive(Serialize, Deserialize)]
struct TreeFile {
    format_version: u64,
    files: BTreeMap<String, TreeEntry>,
}

impl TreeListing {
    /// Parse the JSON text of a tree file. Unknown format versions and hostile paths are errors.
    pub fn from_json(text: &str, path_for_errors: &Path) -> Result<TreeListing> {
        let corrupt = |reason: String| CacheError::CorruptMetadata {
            path: path_for_errors.to_path_buf(),
            reason,
        };
        let raw: TreeFile = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        if raw.format_version != TREE_FORMAT_VERSION {
            return Err(corrupt(format!(
                "unsupported format_version {} (expected 1)",
                raw.format_version
            )));
        }
        let mut files = BTreeMap::new();
        for (p, e) in raw.files {
            let rp = RepoPath::new(&p).map_err(|e| corrupt(e.to_string()))?;
            files.insert(rp, e);
        }
        Ok(TreeListing { files })
    }

    /// JSON text as huggingface_hub writes it (`json.dump(indent=1)`, paths sorted).
    pub fn to_json(&self) -> String {
        let raw = TreeFile {
            format_version: TREE_FORMAT_VERSION,
            files: self
                .files
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect(),
        };
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        // Serializing plain strings and integers into a Vec cannot fail.
        if raw.serialize(&mut ser).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Read a tree file; `Ok(None)` if it does not exist.
    pub fn read(path: &Path) -> Result<Option<TreeListing>> {
        match std::fs::read_to_string(path) {
            Ok(text) => TreeListing::from_json(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).ctx("read tree listing", path),
        }
    }

    /// Write a tree file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        fsutil::atomic_write(path, self.to_json().as_bytes(), "tmp")
    }
}
