//! Synchronous facade (feature `blocking`). One current-thread tokio runtime per
//! [`Client`], built once and reused by every call; do not call from inside an async runtime.

use std::fmt;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use url::Url;

use crate::endpoint::Endpoint;
use crate::error::NotFoundMeans;
use crate::generated::File;
use crate::repo::{RepoId, RepoType};
use crate::{ClientConfig, Error};

/// Blocking CSGHub client wrapping the async [`crate::Client`].
pub struct Client {
    runtime: tokio::runtime::Runtime,
    inner: crate::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the async client and the runtime that drives it.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Setup(format!("cannot start the I/O runtime: {e}")))?;
        let inner = {
            // reqwest needs a runtime context while building (DNS resolver, timers).
            let _guard = runtime.enter();
            crate::Client::new(config)?
        };
        Ok(Self { runtime, inner })
    }

    /// The async client inside (same pool, config and token).
    pub fn async_client(&self) -> &crate::Client {
        &self.inner
    }

    /// Executes a typed route.
    pub fn execute<T: DeserializeOwned>(&self, ep: Endpoint<T>) -> Result<T, Error> {
        self.runtime.block_on(self.inner.execute(ep))
    }

    /// See [`crate::Client::resolve_url`].
    pub fn resolve_url(
        &self,
        kind: RepoType,
        repo: &RepoId,
        revision: &str,
        path: &str,
    ) -> Result<Url, Error> {
        self.inner.resolve_url(kind, repo, revision, path)
    }

    /// Sends a prepared request (see [`crate::Client::send`]) and returns status, headers and
    /// the whole body.
    pub fn send(
        &self,
        rb: reqwest::RequestBuilder,
        url: &Url,
        not_found: NotFoundMeans,
    ) -> Result<
        (
            reqwest::StatusCode,
            reqwest::header::HeaderMap,
            bytes::Bytes,
        ),
        Error,
    > {
        self.runtime.block_on(async {
            let resp = self.inner.send(rb, url, not_found).await?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            let shown = crate::redact_url(url);
            let body = resp.bytes().await.map_err(|e| Error::Transport {
                url: shown,
                source: e.without_url(),
            })?;
            Ok((status, headers, body))
        })
    }

    /// The pages of a directory listing as an iterator (see [`crate::Client::tree_pages`]).
    pub fn tree_pages(
        &self,
        kind: RepoType,
        repo: &RepoId,
        revision: &str,
        dir: &str,
        limit: Option<u32>,
    ) -> impl Iterator<Item = Result<Vec<File>, Error>> + '_ {
        let mut stream = Box::pin(self.inner.tree_pages(kind, repo, revision, dir, limit));
        std::iter::from_fn(move || self.runtime.block_on(stream.next()))
    }
}
