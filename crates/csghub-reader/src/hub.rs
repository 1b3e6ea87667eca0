//! The `download` feature: fetch what `from_pretrained` needs through csghub-transfer.

use std::path::PathBuf;
use std::sync::Arc;

use csghub_api::{Client, ClientConfig, RepoType, Token};
use csghub_transfer::{DownloadConfig, Downloader, NoProgress, Request};

use crate::error::{Error, Result};
use crate::model::FromPretrained;
use crate::weights::INDEX_FILE;
use crate::weights::WeightIndex;

/// Download config, generation config, tokenizer files, weights (index first, then its shards)
/// and extra files; returns the snapshot folder.
pub(crate) async fn download(opts: &FromPretrained) -> Result<PathBuf> {
    let repo_id = opts.name_or_path().to_string();
    let fail = |reason: String| Error::Download {
        repo_id: repo_id.clone(),
        reason,
    };
    let mut config = match opts.endpoint_opt() {
        Some(e) => ClientConfig::new(e).map_err(|e| fail(e.to_string()))?,
        None => ClientConfig::default(),
    };
    if let Some(t) = opts.token_opt() {
        config = config.with_token(Some(Token::new(t).map_err(|e| fail(e.to_string()))?));
    }
    let client = Client::new(config).map_err(|e| fail(e.to_string()))?;
    let downloader = Downloader::new(client, opts.cache()?, DownloadConfig::default());
    let repo = repo_id
        .parse()
        .map_err(|e: csghub_api::Error| fail(e.to_string()))?;
    let mut req = Request::snapshot(RepoType::Model, repo, opts.revision_or_default());
    // One listing request; then only the files loading needs.
    let plan = downloader
        .plan(&req)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let names: Vec<String> = plan
        .files
        .iter()
        .map(|f| f.file.path.as_str().to_string())
        .collect();
    let mut wanted: Vec<String> = opts
        .select_files(&names)
        .into_iter()
        .map(str::to_string)
        .collect();
    for extra in opts.extra_files() {
        if !names.contains(extra) {
            return Err(fail(format!("{extra} is not in the repo")));
        }
    }
    // By revision (so the cache records `refs/<revision>` for offline use) ...
    req.files = wanted.clone();
    let got = downloader
        .download(&req, Arc::new(NoProgress))
        .await
        .map_err(|e| fail(e.to_string()))?;
    // ... then the shards pinned to that commit, so they match the index.
    req.revision = got.commit.clone();
    if wanted.iter().any(|f| f == INDEX_FILE) {
        let index_path = got.root.join(INDEX_FILE);
        let bytes = std::fs::read(&index_path).map_err(|source| Error::Io {
            path: index_path.clone(),
            source,
        })?;
        let index = WeightIndex::from_slice(&bytes, &index_path)?;
        wanted = index
            .shard_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        for shard in &wanted {
            if !names.contains(shard) {
                return Err(fail(format!(
                    "{INDEX_FILE} names shard {shard}, which is not in the repo"
                )));
            }
        }
        req.files = wanted;
        downloader
            .download(&req, Arc::new(NoProgress))
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(got.root)
}
