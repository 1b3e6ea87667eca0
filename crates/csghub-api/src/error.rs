//! One error type for every call, mapped from the server's `code` first and the HTTP status
//! second (SERVER.md §3.2, §12.3).

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// What the server said about a failed request. Never contains the token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiErrorInfo {
    /// HTTP status (200 for the few failures sent with 200, e.g. `complete_multipart`).
    pub status: u16,
    /// The server's error code (`AUTH-ERR-2`, `GIT-ERR-15`, ...), if it sent one.
    pub code: Option<String>,
    /// The server's message (`msg`, `message` or `error`), or a short body excerpt.
    pub message: String,
    /// `X-Request-ID` of the response, to quote in bug reports.
    pub request_id: Option<String>,
    /// The request URL with secrets (token in the path, signatures in the query) replaced.
    pub url: String,
}

impl fmt::Debug for ApiErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiErrorInfo")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("request_id", &self.request_id)
            .field("url", &self.url)
            .finish()
    }
}

impl fmt::Display for ApiErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} from {}", self.status, self.url)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Errors of csghub-api. Match on the variant; [`Error::is_transient`] says whether a retry
/// may help (the one rule shared by retry and offline logic).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not logged in, or the token was refused. `bad_token` is set for `AUTH-ERR-5` (the token
    /// itself is unknown or malformed: drop it or log in again).
    #[error("not authorized: {info}; {}", if *.bad_token { "the token was refused, log in again or remove it" } else { "log in or pass a token with access" })]
    Unauthorized {
        /// Server details.
        info: ApiErrorInfo,
        /// The token itself was refused (`AUTH-ERR-5`).
        bad_token: bool,
    },
    /// Logged in but not allowed (also sent as 500 + `AUTH-ERR-2` by many routes).
    #[error("forbidden: {0}; ask the repository owner for access")]
    Forbidden(ApiErrorInfo),
    /// The repository does not exist (or is hidden from this user).
    #[error("repository not found: {0}; check the repo id and type")]
    RepoNotFound(ApiErrorInfo),
    /// Branch, tag or commit unknown.
    #[error("revision not found: {0}; check the branch, tag or commit")]
    RevisionNotFound(ApiErrorInfo),
    /// File or directory unknown at that revision.
    #[error("file not found: {0}")]
    EntryNotFound(ApiErrorInfo),
    /// Another resource (token, deploy, user) does not exist.
    #[error("not found: {0}")]
    NotFound(ApiErrorInfo),
    /// The resource already exists, or the repo is in a state that forbids the action.
    #[error("conflict: {0}")]
    Conflict(ApiErrorInfo),
    /// Too many requests; wait `retry_after` (if the server said) and retry.
    #[error("rate limited: {info}; retry after {}", fmt_wait(*.retry_after))]
    RateLimited {
        /// Server details.
        info: ApiErrorInfo,
        /// From `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The server is not ready yet (202 `MIRROR-ERR-1`: a mirror is syncing); poll again.
    #[error("not ready yet: {info}; retry after {}", fmt_wait(*.retry_after))]
    NotReady {
        /// Server details.
        info: ApiErrorInfo,
        /// From `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// Any other failure reported by the server.
    #[error("server error: {0}")]
    Server(ApiErrorInfo),
    /// The request did not complete (DNS, connect, TLS, timeout, connection reset).
    #[error("request to {url} failed: {source}; check the network or proxy settings")]
    Transport {
        /// Redacted URL.
        url: String,
        /// The underlying error (its own copy of the URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// The response was not what this client expects.
    #[error(
        "unexpected response from {url} (HTTP {status}): {source}; body starts with {excerpt:?}"
    )]
    Decode {
        /// Redacted URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The first bytes of the body (secrets redacted).
        excerpt: String,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A caller-supplied value is unusable (bad repo id, `..` in a path, empty revision).
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// The value (secrets shown as `***`).
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

fn fmt_wait(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{} s", d.as_secs()),
        None => "a moment".into(),
    }
}

/// What a 404 without a telling code means on a given route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFoundMeans {
    /// The repository.
    Repo,
    /// The file or directory.
    Entry,
    /// The revision.
    Revision,
    /// Some other resource (token, deploy, user).
    Other,
}

impl Error {
    /// Whether retrying the same request may succeed: network failures, 429, 202 "not ready",
    /// and 5xx answers that are not permission or validation errors (SERVER.md §12.3).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { source, .. } => !source.is_builder() && !source.is_redirect(),
            Error::RateLimited { .. } | Error::NotReady { .. } => true,
            Error::Server(info) => {
                if matches!(info.status, 502..=504) {
                    return true;
                }
                if !(500..600).contains(&info.status) {
                    return false;
                }
                match info.code.as_deref() {
                    None => true,
                    Some(code) => code.starts_with("SYS-ERR-") || code.starts_with("GIT-ERR-"),
                }
            }
            _ => false,
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::NotReady { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The server's details, for variants that come from an HTTP answer.
    pub fn info(&self) -> Option<&ApiErrorInfo> {
        match self {
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

    /// Maps a failed answer to an error, by the server's `code` first and the status second.
    /// `url` must already be redacted (see [`crate::redact_url`]).
    pub fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        url: &str,
        not_found: NotFoundMeans,
    ) -> Error {
        let parsed = serde_json::from_slice::<Value>(body).ok();
        let obj = parsed.as_ref().and_then(Value::as_object);
        let text = |k: &str| {
            obj.and_then(|o| o.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let code = text("code").filter(|c| !c.is_empty());
        let message = text("msg")
            .or_else(|| text("message"))
            .or_else(|| text("error"))
            .or_else(|| {
                obj.and_then(|o| o.get("errors"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
            })
            .unwrap_or_else(|| excerpt(body));
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let info = ApiErrorInfo {
            status: status.as_u16(),
            code: code.clone(),
            message: redact_text(&message),
            request_id,
            url: url.to_owned(),
        };
        if let Some(code) = code.as_deref() {
            match code {
                "AUTH-ERR-0" | "AUTH-ERR-1" | "AUTH-ERR-4" => {
                    return Error::Unauthorized {
                        info,
                        bad_token: false,
                    };
                }
                "AUTH-ERR-5" => {
                    return Error::Unauthorized {
                        info,
                        bad_token: true,
                    };
                }
                "AUTH-ERR-2" | "AUTH-ERR-3" | "AUTH-ERR-6" | "AUTH-ERR-7" | "AUTH-ERR-9"
                | "AUTH-ERR-10" => return Error::Forbidden(info),
                "SYS-ERR-3" => {
                    return match not_found {
                        NotFoundMeans::Other => Error::NotFound(info),
                        _ => Error::RepoNotFound(info),
                    };
                }
                "REPO-ERR-3" => return Error::RepoNotFound(info),
                "GIT-ERR-4" | "GIT-ERR-6" | "GIT-ERR-11" => return Error::RevisionNotFound(info),
                "GIT-ERR-15" => return Error::EntryNotFound(info),
                "SYS-ERR-4" | "REPO-ERR-0" | "MIRROR-ERR-2" | "MIRROR-ERR-4" => {
                    return Error::Conflict(info);
                }
                "REQ-ERR-10" => return Error::RateLimited { info, retry_after },
                "MIRROR-ERR-1" => return Error::NotReady { info, retry_after },
                _ => {}
            }
        }
        match status.as_u16() {
            401 => Error::Unauthorized {
                info,
                bad_token: false,
            },
            403 => Error::Forbidden(info),
            404 => match not_found {
                NotFoundMeans::Repo => Error::RepoNotFound(info),
                NotFoundMeans::Entry => Error::EntryNotFound(info),
                NotFoundMeans::Revision => Error::RevisionNotFound(info),
                NotFoundMeans::Other => Error::NotFound(info),
            },
            409 => Error::Conflict(info),
            429 => Error::RateLimited { info, retry_after },
            202 => Error::NotReady { info, retry_after },
            _ => Error::Server(info),
        }
    }
}

/// At most 200 characters of a body, lossily decoded, secrets redacted.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(800)]);
    let cut: String = text.chars().take(200).collect();
    redact_text(cut.trim())
}

/// Replaces what follows `Bearer `/`Basic ` (as echoed in LFS actions) with `***`.
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let hit = ["Bearer ", "Basic ", "bearer ", "basic "]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min();
        let Some((i, len)) = hit else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i + len]);
        out.push_str("***");
        let tail = &rest[i + len..];
        let end = tail
            .find(|c: char| c == '"' || c == '\'' || c == ',' || c == '}' || c.is_whitespace())
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
}
