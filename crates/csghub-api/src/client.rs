//! The one small client that executes [`Endpoint`]s over reqwest + rustls.

use std::fmt;
use std::sync::Arc;

use futures_util::Stream;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::endpoint::{Body, Endpoint, Target, decode};
use crate::error::{NotFoundMeans, excerpt};
use crate::generated::File;
use crate::repo::{RepoId, RepoType, redact_url};
use crate::{ClientConfig, Error, endpoints};

/// Header that asks for object-store URLs on the internal network (SERVER.md §1.2).
pub const S3_INTERNAL_HEADER: &str = "X-OPENCSG-S3-Internal";

/// Largest error body read to build an [`Error`].
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Async CSGHub client. Cheap to clone (shared connection pool).
///
/// Redirects are **not** followed (policy `none`): API routes do not redirect except for
/// trailing-slash fixes, and a resolve 302 points at an object store that must not receive
/// `Authorization` (SERVER.md §7.2). [`Client::send`] hands 3xx answers back to the caller,
/// which follows them with [`Client::request_without_auth`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    /// Endpoint without trailing slash, for joining encoded paths.
    base: String,
    auth: Option<HeaderValue>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// rustls with the `ring` provider and the platform verifier, built per client: no
/// process-global provider is installed or required.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
        Error::Setup(format!(
            "cannot load the system's certificate verifier: {e}"
        ))
    })?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Setup(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

impl Client {
    /// Builds a client from `config` (TLS, timeouts, proxies from the environment if enabled).
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .user_agent(config.user_agent())
            .connect_timeout(config.connect_timeout())
            .read_timeout(config.read_timeout())
            .redirect(reqwest::redirect::Policy::none());
        if !config.proxy_from_env() {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| Error::Setup(e.without_url().to_string()))?;
        let auth = match config.token() {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| Error::InvalidInput {
                        what: "token",
                        value: "***".into(),
                        reason: "not a valid header value",
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let base = config.endpoint().as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                base,
                auth,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The underlying reqwest client (same pool, timeouts, TLS; no auth added).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// `endpoint + path` for an already-encoded path starting with `/`.
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        Url::parse(&format!("{}{}", self.inner.base, path)).map_err(|_| Error::InvalidInput {
            what: "path",
            value: path.to_owned(),
            reason: "does not form a valid URL",
        })
    }

    /// A request to the hub: `Authorization` (if a token is set, marked sensitive) and
    /// `X-OPENCSG-S3-Internal` (if configured) added.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut rb = self.request_without_auth(method, url);
        if let Some(auth) = &self.inner.auth {
            rb = rb.header(AUTHORIZATION, auth.clone());
        }
        if self.inner.config.s3_internal() {
            rb = rb.header(S3_INTERNAL_HEADER, "true");
        }
        rb
    }

    /// A request without `Authorization`, for presigned object-store URLs and redirect targets.
    pub fn request_without_auth(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.http.request(method, url)
    }

    /// Sends `rb`; 1xx-3xx answers are returned as they are (redirects are not followed),
    /// 4xx/5xx become an [`Error`] mapped from status, headers and body. `url` is only used in
    /// error messages (it is redacted first).
    pub async fn send(
        &self,
        rb: RequestBuilder,
        url: &Url,
        not_found: NotFoundMeans,
    ) -> Result<Response, Error> {
        let shown = redact_url(url);
        let resp = rb.send().await.map_err(|e| self.transport(&shown, e))?;
        let status = resp.status();
        if status.is_client_error() || status.is_server_error() {
            let headers = resp.headers().clone();
            let body = self.read_limited(resp, &shown).await?;
            return Err(self.error_from(status, &headers, &body, &shown, not_found));
        }
        Ok(resp)
    }

    /// Maps a failed answer (status, headers, body) to an [`Error`], redacting this client's
    /// token from anything quoted.
    pub fn error_from(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        url: &str,
        not_found: NotFoundMeans,
    ) -> Error {
        let mut err = Error::from_response(status, headers, body, url, not_found);
        if let Some(token) = self.inner.config.token() {
            if let Some(info) = error_info_mut(&mut err) {
                info.message = info.message.replace(token.expose(), "***");
            }
            // With a token the server accepted (not AUTH-ERR-5), "not logged in" codes mean the
            // account lacks access (e.g. 500 AUTH-ERR-0 on a private repo's info): telling the
            // user to log in would be wrong.
            if let Error::Unauthorized {
                info,
                bad_token: false,
            } = err
            {
                err = Error::Forbidden(info);
            }
        }
        err
    }

    fn transport(&self, shown: &str, e: reqwest::Error) -> Error {
        Error::Transport {
            url: shown.to_owned(),
            source: e.without_url(),
        }
    }

    async fn read_limited(&self, mut resp: Response, shown: &str) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(shown, e))? {
            body.extend_from_slice(&chunk);
            if body.len() >= ERROR_BODY_LIMIT {
                break;
            }
        }
        Ok(body)
    }

    /// Executes a typed route and decodes its answer.
    pub async fn execute<T: DeserializeOwned>(&self, ep: Endpoint<T>) -> Result<T, Error> {
        let url = match &ep.target {
            Target::Path(p) => self.url(p)?,
            Target::Url(u) => u.clone(),
        };
        let mut url_q = url.clone();
        if !ep.query.is_empty() {
            url_q.query_pairs_mut().extend_pairs(ep.query.iter());
        }
        let shown = if ep.secret_path {
            // The path holds a secret: show the route template instead.
            format!("{}{}", self.inner.base, ep.template)
        } else {
            redact_url(&url_q)
        };
        let mut rb = if ep.auth {
            self.request(ep.method.clone(), url_q)
        } else {
            self.request_without_auth(ep.method.clone(), url_q)
        };
        for (k, v) in &ep.headers {
            let name = HeaderName::from_bytes(k.as_bytes());
            let value = HeaderValue::from_str(v);
            match (name, value) {
                (Ok(n), Ok(mut v)) => {
                    if n == AUTHORIZATION {
                        v.set_sensitive(true);
                    }
                    rb = rb.header(n, v);
                }
                _ => {
                    return Err(Error::InvalidInput {
                        what: "header",
                        value: k.clone(),
                        reason: "not a valid HTTP header",
                    });
                }
            }
        }
        rb = match &ep.body {
            Body::None => rb,
            Body::Json {
                bytes,
                content_type,
            } => rb.header(CONTENT_TYPE, *content_type).body(bytes.clone()),
            Body::Ndjson(bytes) => rb
                .header(CONTENT_TYPE, "application/x-ndjson")
                .body(bytes.clone()),
            Body::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for part in parts {
                    let mut p = reqwest::multipart::Part::bytes(part.data.to_vec());
                    if let Some(name) = &part.file_name {
                        p = p.file_name(name.clone());
                    }
                    form = form.part(part.name.clone(), p);
                }
                rb.multipart(form)
            }
        };
        let resp = rb.send().await.map_err(|e| self.transport(&shown, e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| self.transport(&shown, e))?;
        if !status.is_success() {
            return Err(self.error_from(status, &headers, &body, &shown, ep.not_found));
        }
        if status == StatusCode::ACCEPTED && body_code(&body).as_deref() == Some("MIRROR-ERR-1") {
            return Err(self.error_from(status, &headers, &body, &shown, ep.not_found));
        }
        match decode::<T>(ep.envelope, &body) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(self.error_from(status, &headers, &body, &shown, ep.not_found)),
            Err(source) => {
                let mut text = excerpt(&body);
                if let Some(token) = self.inner.config.token() {
                    text = text.replace(token.expose(), "***");
                }
                Err(Error::Decode {
                    url: shown,
                    status: status.as_u16(),
                    excerpt: text,
                    source,
                })
            }
        }
    }

    /// Download URL of a file: HF style `/hf/[{type}s/]{ns}/{name}/resolve/{rev}/{path}`, or the
    /// REST route `/api/v1/{type}/{ns}/{name}/resolve/{path}?ref={rev}` when the revision holds
    /// a `/` (SERVER.md §1.3, §7.1). Fetch it with [`Client::request`] + [`Client::send`].
    pub fn resolve_url(
        &self,
        kind: RepoType,
        repo: &RepoId,
        revision: &str,
        path: &str,
    ) -> Result<Url, Error> {
        if crate::repo::revision_fits_path(revision) {
            self.url(&endpoints::hf_resolve_path(
                "hf", kind, repo, revision, path,
            )?)
        } else {
            self.rest_resolve_url(kind, repo, revision, path)
        }
    }

    /// The REST resolve URL `/api/v1/{type}/{ns}/{name}/resolve/{path}?ref={rev}`.
    pub fn rest_resolve_url(
        &self,
        kind: RepoType,
        repo: &RepoId,
        revision: &str,
        path: &str,
    ) -> Result<Url, Error> {
        let (p, query) = endpoints::rest_resolve_path(kind, repo, revision, path)?;
        let mut url = self.url(&p)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// Every entry of directory `dir` at `revision`, page by page, following `Cursor` until it
    /// is empty (not recursive). `limit` is the page size (server default 500, max 10 000).
    pub fn tree_pages(
        &self,
        kind: RepoType,
        repo: &RepoId,
        revision: &str,
        dir: &str,
        limit: Option<u32>,
    ) -> impl Stream<Item = Result<Vec<File>, Error>> + Send + 'static {
        let client = self.clone();
        let (repo, revision, dir) = (repo.clone(), revision.to_owned(), dir.to_owned());
        futures_util::stream::unfold(Some(String::new()), move |cursor| {
            let (client, repo, revision, dir) =
                (client.clone(), repo.clone(), revision.clone(), dir.clone());
            async move {
                let cursor = cursor?;
                let page = async {
                    let ep =
                        endpoints::tree_page(kind, &repo, &revision, &dir, limit, Some(&cursor))?;
                    client.execute(ep).await
                }
                .await;
                match page {
                    Ok(page) => {
                        let next = (!page.cursor.is_empty() && page.cursor != cursor)
                            .then_some(page.cursor);
                        Some((Ok(page.files), next))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
    }
}

fn body_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("code")?
        .as_str()
        .map(str::to_owned)
}

fn error_info_mut(err: &mut Error) -> Option<&mut crate::ApiErrorInfo> {
    match err {
        Error::Unauthorized { info, .. }
        | Error::RateLimited { info, .. }
        | Error::NotReady { info, .. }
        | Error::Forbidden(info)
        | Error::RepoNotFound(info)
        | Error::RevisionNotFound(info)
        | Error::EntryNotFound(info)
        | Error::NotFound(info)
        | Error::Conflict(info)
        | Error::Server(info) => Some(info),
        _ => None,
    }
}
