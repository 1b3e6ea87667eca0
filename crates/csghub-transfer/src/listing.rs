//! Resolve a revision to a commit once and list the repo's files at that commit, with what each
//! file must verify against (SERVER.md §5.9, §6.9, §8.1).

use csghub_api::{Client, RepoId, RepoType, endpoints, revision_fits_path};
use csghub_cache::{Etag, RepoPath};
use futures_util::TryStreamExt as _;

use crate::error::TransferError;

/// One file of the listing, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Path in the repo (validated: no `..`, absolute paths, backslashes, NUL ...).
    pub path: RepoPath,
    /// Content size in bytes.
    pub size: u64,
    /// Git blob SHA-1 (of the LFS pointer for LFS files): the blob name in the cache, as
    /// huggingface_hub names it against CSGHub (the HEAD `ETag`).
    pub etag: Etag,
    /// SHA-256 of the content, for LFS files.
    pub sha256: Option<String>,
}

/// The files of a repo at one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The commit the revision resolved to.
    pub commit: String,
    /// Every file (sorted by path).
    pub files: Vec<RemoteFile>,
}

fn repo_label(kind: RepoType, repo: &RepoId) -> String {
    format!(
        "{}/{}/{}",
        kind.rest_segment(),
        repo.namespace(),
        repo.name()
    )
}

fn checked(
    path: &str,
    size: i64,
    sha1: &str,
    sha256: Option<&str>,
) -> Result<RemoteFile, TransferError> {
    let unsafe_path = |reason: String| TransferError::UnsafePath {
        path: path.to_string(),
        reason,
    };
    let repo_path = RepoPath::new(path).map_err(|e| unsafe_path(e.to_string()))?;
    let etag = Etag::new(sha1).map_err(|e| unsafe_path(format!("bad blob id: {e}")))?;
    let size = u64::try_from(size).map_err(|_| unsafe_path(format!("negative size {size}")))?;
    let sha256 = match sha256.filter(|s| !s.is_empty()) {
        Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(s.to_ascii_lowercase())
        }
        Some(s) => return Err(unsafe_path(format!("bad sha256 {s:?}"))),
        None => None,
    };
    Ok(RemoteFile {
        path: repo_path,
        size,
        etag,
        sha256,
    })
}

/// Resolve `revision` and list every file at the resulting commit, in as few requests as the
/// server allows: models take one (`/revision/{rev}?blobs=true`); other kinds take the tip commit
/// from `last_commit` (their info `sha` is a branch name, §0.9) and walk the REST tree.
pub async fn list(
    client: &Client,
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
) -> Result<Listing, TransferError> {
    let mut listing = if kind == RepoType::Model && revision_fits_path(revision) {
        model_listing(client, repo, revision).await?
    } else {
        let commit = last_commit(client, kind, repo, revision).await?;
        if kind == RepoType::Model {
            model_listing(client, repo, &commit).await?
        } else {
            match tree_listing(client, kind, repo, &commit).await {
                // Dataset REST reads need login (§0.11); the HF tree does not. It has no sha256,
                // but the blob id still verifies every byte (for LFS files through the pointer).
                Err(TransferError::Api(e))
                    if kind == RepoType::Dataset
                        && matches!(
                            *e,
                            csghub_api::Error::Unauthorized {
                                bad_token: false,
                                ..
                            }
                        ) =>
                {
                    hf_tree_listing(client, kind, repo, &commit).await?
                }
                other => other?,
            }
        }
    };
    listing
        .files
        .sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
    Ok(listing)
}

/// The commit at the tip of `revision` (an unknown ref answers an all-empty commit, §5.5).
pub async fn last_commit(
    client: &Client,
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
) -> Result<String, TransferError> {
    let c = client
        .execute(endpoints::last_commit(kind, repo, revision)?)
        .await
        .map_err(|e| match e {
            csghub_api::Error::RevisionNotFound(_) => TransferError::RevisionNotFound {
                repo: repo_label(kind, repo),
                revision: revision.to_string(),
            },
            e => e.into(),
        })?;
    if c.id.len() != 40 || !c.id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TransferError::RevisionNotFound {
            repo: repo_label(kind, repo),
            revision: revision.to_string(),
        });
    }
    Ok(c.id)
}

async fn model_listing(
    client: &Client,
    repo: &RepoId,
    revision: &str,
) -> Result<Listing, TransferError> {
    let info = client
        .execute(endpoints::hf_repo_info(
            RepoType::Model,
            repo,
            Some(revision),
            true,
        )?)
        .await
        .map_err(|e| match e {
            // The model info answers an unknown revision with a server error (GIT-ERR-6).
            csghub_api::Error::RevisionNotFound(_) => TransferError::RevisionNotFound {
                repo: repo_label(RepoType::Model, repo),
                revision: revision.to_string(),
            },
            e => e.into(),
        })?;
    if info.sha.len() != 40 {
        return Err(TransferError::RevisionNotFound {
            repo: repo_label(RepoType::Model, repo),
            revision: revision.to_string(),
        });
    }
    // A server that ignores `blobs=true` gives names only: fall back to the tree.
    if info
        .siblings
        .iter()
        .any(|s| s.blob_id.is_none() || s.size.is_none())
    {
        return tree_listing(client, RepoType::Model, repo, &info.sha).await;
    }
    let files = info
        .siblings
        .iter()
        .map(|s| {
            checked(
                &s.rfilename,
                s.size.unwrap_or_default(),
                s.blob_id.as_deref().unwrap_or_default(),
                s.lfs.as_ref().map(|l| l.sha256.as_str()),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listing {
        commit: info.sha,
        files,
    })
}

/// Breadth-first walk of the paged REST tree pinned to `commit` (§6.9).
async fn tree_listing(
    client: &Client,
    kind: RepoType,
    repo: &RepoId,
    commit: &str,
) -> Result<Listing, TransferError> {
    let mut files = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        let pages: Vec<Vec<csghub_api::generated::File>> = client
            .tree_pages(kind, repo, commit, &dir, Some(10_000))
            .try_collect()
            .await?;
        for entry in pages.into_iter().flatten() {
            if entry.kind == "dir" {
                // Validate directory names too before walking into them.
                RepoPath::new(&entry.path).map_err(|e| TransferError::UnsafePath {
                    path: entry.path.clone(),
                    reason: e.to_string(),
                })?;
                dirs.push(entry.path);
            } else {
                let sha256 = entry.lfs.then_some(entry.lfs_sha256.as_str());
                files.push(checked(&entry.path, entry.size, &entry.sha, sha256)?);
            }
        }
    }
    Ok(Listing {
        commit: commit.to_string(),
        files,
    })
}

/// The HF recursive tree (models and datasets only, §8.3).
async fn hf_tree_listing(
    client: &Client,
    kind: RepoType,
    repo: &RepoId,
    commit: &str,
) -> Result<Listing, TransferError> {
    let entries = client
        .execute(endpoints::hf_tree(kind, repo, commit, "", true)?)
        .await?;
    let files = entries
        .iter()
        .filter(|e| e.kind == "file")
        .map(|e| checked(&e.path, e.size, &e.oid, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listing {
        commit: commit.to_string(),
        files,
    })
}
