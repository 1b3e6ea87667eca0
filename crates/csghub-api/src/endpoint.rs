//! A route as a value: method, path, query, body, envelope and response type.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::error::NotFoundMeans;

/// How the response body carries the value (SERVER.md §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// Envelope R: the value is `data` (absent or `null` reads as empty).
    Data,
    /// Envelope R, and 200 with an empty body means "nothing" (the REST tree, §6.2).
    DataOrEmpty,
    /// The whole body is the value (HF routes, LFS).
    Raw,
    /// One of the three paged envelopes, decoded by [`crate::Paged`].
    Paged,
    /// Success is the status alone; the body is ignored.
    Ignore,
    /// Success is an empty body; any body on a 2xx is a failure (`complete_multipart`, §9.10).
    EmptyOnSuccess,
}

/// One part of a `multipart/form-data` body.
#[derive(Clone)]
pub struct FormPart {
    /// Field name (`file`, `file_path`, `message`, `branch`).
    pub name: String,
    /// File name for file parts.
    pub file_name: Option<String>,
    /// Content.
    pub data: Bytes,
}

/// A request body.
#[derive(Clone)]
pub enum Body {
    /// No body.
    None,
    /// JSON (`application/json`, or the given content type).
    Json {
        /// Serialised JSON.
        bytes: Bytes,
        /// Content type to send.
        content_type: &'static str,
    },
    /// NDJSON (`application/x-ndjson`).
    Ndjson(Bytes),
    /// `multipart/form-data`.
    Multipart(Vec<FormPart>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sizes only: bodies may hold file contents.
        match self {
            Body::None => f.write_str("None"),
            Body::Json {
                bytes,
                content_type,
            } => write!(f, "Json({content_type}, {} bytes)", bytes.len()),
            Body::Ndjson(b) => write!(f, "Ndjson({} bytes)", b.len()),
            Body::Multipart(parts) => write!(f, "Multipart({} parts)", parts.len()),
        }
    }
}

impl Body {
    pub(crate) fn json(value: &impl Serialize) -> Body {
        Body::json_as(value, "application/json")
    }

    pub(crate) fn json_as(value: &impl Serialize, content_type: &'static str) -> Body {
        // Our DTOs have string keys only, so serialisation cannot fail; an empty body would
        // be refused by the server rather than silently accepted.
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        Body::Json {
            bytes: Bytes::from(bytes),
            content_type,
        }
    }
}

/// Where the request goes.
#[derive(Clone)]
pub enum Target {
    /// A path below the configured endpoint, already percent-encoded, starting with `/`.
    Path(String),
    /// An absolute URL handed out by the server (LFS actions, `complete_multipart`).
    Url(Url),
}

/// A typed route: what to send and how to read the answer as `T`.
pub struct Endpoint<T> {
    /// HTTP method.
    pub method: Method,
    /// The route as SERVER.md writes it, e.g. `/api/v1/{type}/{ns}/{name}/refs/{ref}/tree/{path}`.
    pub template: &'static str,
    /// The concrete, encoded target.
    pub target: Target,
    /// Query parameters (encoded when sent).
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// How the answer carries `T`.
    pub envelope: Envelope,
    /// Send `Authorization` (when a token is configured).
    pub auth: bool,
    /// What a bare 404 means here.
    pub not_found: NotFoundMeans,
    /// The path holds a secret (the token check route): show the template in errors.
    pub secret_path: bool,
    pub(crate) response: PhantomData<fn() -> T>,
}

impl<T> Clone for Endpoint<T> {
    fn clone(&self) -> Self {
        Self {
            method: self.method.clone(),
            template: self.template,
            target: self.target.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            envelope: self.envelope,
            auth: self.auth,
            not_found: self.not_found,
            secret_path: self.secret_path,
            response: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Endpoint<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match (&self.target, self.secret_path) {
            (_, true) => self.template.to_owned(),
            (Target::Path(p), false) => p.clone(),
            (Target::Url(u), false) => crate::repo::redact_url(u),
        };
        f.debug_struct("Endpoint")
            .field("method", &self.method)
            .field("template", &self.template)
            .field("target", &target)
            .field("query", &self.query)
            .field("body", &self.body)
            .field("envelope", &self.envelope)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<T> Endpoint<T> {
    pub(crate) fn new(
        method: Method,
        template: &'static str,
        path: String,
        envelope: Envelope,
    ) -> Self {
        Self {
            method,
            template,
            target: Target::Path(path),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
            envelope,
            auth: true,
            not_found: NotFoundMeans::Repo,
            secret_path: false,
            response: PhantomData,
        }
    }

    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn query_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub(crate) fn header(mut self, key: &str, value: &str) -> Self {
        self.headers.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub(crate) fn not_found(mut self, means: NotFoundMeans) -> Self {
        self.not_found = means;
        self
    }
}

/// Decodes a 2xx body according to `envelope`. `Ok(None)` means "a failure sent with 2xx"
/// (only [`Envelope::EmptyOnSuccess`]); the caller then maps it like an error status.
pub(crate) fn decode<T: DeserializeOwned>(
    envelope: Envelope,
    body: &[u8],
) -> Result<Option<T>, serde_json::Error> {
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let value = match envelope {
        Envelope::Ignore => Value::Null,
        Envelope::EmptyOnSuccess => {
            if !empty {
                return Ok(None);
            }
            Value::Null
        }
        Envelope::Raw | Envelope::Paged => {
            if empty {
                Value::Null
            } else {
                serde_json::from_slice(body)?
            }
        }
        Envelope::Data | Envelope::DataOrEmpty => {
            if empty && envelope == Envelope::DataOrEmpty {
                Value::Object(serde_json::Map::new())
            } else {
                let mut whole: Value = serde_json::from_slice(body)?;
                whole
                    .get_mut("data")
                    .map(Value::take)
                    .unwrap_or(Value::Null)
            }
        }
    };
    lenient(value).map(Some)
}

/// `null` reads as an empty list or object when the type cannot take `null` itself.
fn lenient<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    if value.is_null() {
        let first = match serde_json::from_value::<T>(Value::Null) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if let Ok(v) = serde_json::from_value::<T>(Value::Array(Vec::new())) {
            return Ok(v);
        }
        if let Ok(v) = serde_json::from_value::<T>(Value::Object(serde_json::Map::new())) {
            return Ok(v);
        }
        return Err(first);
    }
    serde_json::from_value(value)
}
