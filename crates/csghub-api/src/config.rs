//! Client configuration: endpoint, token, timeouts, headers.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::Error;

/// The public CSGHub instance, used when no endpoint is configured.
pub const DEFAULT_ENDPOINT: &str = "https://hub.opencsg.com";

/// The `User-Agent` sent by default: `csghub-rs/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("csghub-rs/", env!("CARGO_PKG_VERSION"));

/// An access token. `Debug` and `Display` print `***`; only [`Token::expose`] shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, rejecting values that cannot travel in an HTTP header (empty, spaces,
    /// control characters, non-ASCII).
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        let value = value.trim().to_owned();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidInput {
                what: "token",
                value: "***".into(),
                reason: "must be non-empty printable ASCII without spaces",
            });
        }
        Ok(Self(value))
    }

    /// The secret itself, for the few places that must send it (HTTP header, git credential).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a [`crate::Client`] talks to the server. Build with [`ClientConfig::new`] or
/// [`ClientConfig::default`] and the `with_*` methods.
///
/// The library never reads environment variables for this, except proxies: with
/// [`ClientConfig::with_proxy_from_env`] (on by default) reqwest honours `HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
#[derive(Clone)]
pub struct ClientConfig {
    endpoint: Url,
    token: Option<Token>,
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    s3_internal: bool,
    proxy_from_env: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            endpoint: Url::parse(DEFAULT_ENDPOINT).unwrap_or_else(|_| unreachable!()),
            token: None,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            s3_internal: false,
            proxy_from_env: true,
        }
    }
}

impl ClientConfig {
    /// A configuration for `endpoint` (e.g. `https://hub.opencsg.com`, or with a path prefix);
    /// trailing slashes are dropped. Query, fragment and credentials in the URL are refused.
    pub fn new(endpoint: &str) -> Result<Self, Error> {
        Ok(Self {
            endpoint: normalize_endpoint(endpoint)?,
            ..Self::default()
        })
    }

    /// Sends `Authorization: Bearer <token>` on every request that needs it.
    pub fn with_token(mut self, token: Option<Token>) -> Self {
        self.token = token;
        self
    }

    /// Replaces the default `csghub-rs/<version>` user agent (e.g. to add the CLI's name).
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest pause between two reads of a response (default 60 s). Long downloads are fine:
    /// this is not a total deadline.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sends `X-OPENCSG-S3-Internal: true` (ask for object-store URLs of the internal network;
    /// no effect on a Community Edition server, SERVER.md §1.2).
    pub fn with_s3_internal(mut self, on: bool) -> Self {
        self.s3_internal = on;
        self
    }

    /// Whether proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` (default on).
    pub fn with_proxy_from_env(mut self, on: bool) -> Self {
        self.proxy_from_env = on;
        self
    }

    /// The normalised endpoint (no trailing slash).
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The token, if any.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// The user agent sent.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Read timeout.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// Whether `X-OPENCSG-S3-Internal: true` is sent.
    pub fn s3_internal(&self) -> bool {
        self.s3_internal
    }

    /// Whether proxies are taken from the environment.
    pub fn proxy_from_env(&self) -> bool {
        self.proxy_from_env
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("s3_internal", &self.s3_internal)
            .field("proxy_from_env", &self.proxy_from_env)
            .finish()
    }
}

fn normalize_endpoint(raw: &str) -> Result<Url, Error> {
    let bad = |reason| Error::InvalidInput {
        what: "endpoint",
        value: raw.to_owned(),
        reason,
    };
    let mut url = Url::parse(raw.trim()).map_err(|_| bad("not a URL (expected https://host)"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(bad("URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Do not echo the URL: it holds a credential.
        return Err(Error::InvalidInput {
            what: "endpoint",
            value: "***".into(),
            reason: "credentials in the URL are not allowed; configure a token instead",
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("URL must not have a query or fragment"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}
