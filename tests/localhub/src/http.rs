//! Request and response plumbing shared by the handlers: the R envelope, error bodies as the real
//! server writes them, authentication, and file streaming with ranges and body faults.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::store::State;

/// A response.
pub type Resp = Response<Body>;

/// An incoming request with its path already percent-decoded (gin matches decoded paths).
pub struct Req {
    /// Method.
    pub method: Method,
    /// Path as sent.
    pub raw_path: String,
    /// Decoded path.
    pub path: String,
    /// Raw query string.
    pub raw_query: Option<String>,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, until a handler takes it.
    pub body: Option<Body>,
}

impl Req {
    /// First value of a query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Read the whole body (bounded).
    pub async fn bytes(&mut self, limit: usize) -> Result<Bytes, Resp> {
        let body = self.body.take().unwrap_or_else(Body::empty);
        axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| json_resp(400, json!({"msg": "request body too large or unreadable"})))
    }

    /// Parse the body as JSON; 400 with an R body on failure (as gin's bind does).
    pub async fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, Resp> {
        let b = self.bytes(64 << 20).await?;
        serde_json::from_slice(&b).map_err(|e| {
            json_resp(
                400,
                json!({"code": "REQ-ERR-1", "msg": format!("REQ-ERR-1: invalid request body: {e}")}),
            )
        })
    }

    /// Stream the body into a new file at `path`, returning (size, sha256 hex if `hash`, else
    /// empty).
    pub async fn to_file(
        &mut self,
        path: &std::path::Path,
        hash: bool,
    ) -> Result<(u64, String), Resp> {
        let f = std::fs::File::create(path).map_err(io_500)?;
        self.to_file_at(std::sync::Arc::new(f), 0, u64::MAX, hash)
            .await
    }

    /// Stream the body into `file` from `offset` on, at most `limit` bytes (a longer body is
    /// refused before anything past the limit is written: 400 `EntityTooLarge`). Network
    /// chunks are gathered into batches of a few MiB and each batch is written by one blocking
    /// task with positional writes: no copy through a tokio file buffer and no blocking on the
    /// async workers.
    pub async fn to_file_at(
        &mut self,
        file: std::sync::Arc<std::fs::File>,
        offset: u64,
        limit: u64,
        hash: bool,
    ) -> Result<(u64, String), Resp> {
        use sha2::Digest as _;
        const BATCH: usize = 4 << 20;
        let body = self.body.take().unwrap_or_else(Body::empty);
        let mut stream = body.into_data_stream();
        let mut h = sha2::Sha256::new();
        let mut n = 0u64;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0usize;
        // The previous batch's write runs while the next batch arrives.
        let mut pending: Option<tokio::task::JoinHandle<std::io::Result<()>>> = None;
        let mut done = false;
        while !done {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    if hash {
                        h.update(&chunk);
                    }
                    batch_len += chunk.len();
                    batch.push(chunk);
                    if n + batch_len as u64 > limit {
                        if let Some(p) = pending.take() {
                            let _ = p.await;
                        }
                        return Err(s3_error(
                            400,
                            "EntityTooLarge",
                            "Your proposed upload exceeds the maximum allowed size",
                        ));
                    }
                    if batch_len < BATCH {
                        continue;
                    }
                }
                Some(Err(_)) => {
                    if let Some(p) = pending.take() {
                        let _ = p.await;
                    }
                    return Err(json_resp(400, json!({"msg": "body read failed"})));
                }
                None => done = true,
            }
            if let Some(p) = pending.take() {
                join_write(p).await?;
            }
            let at = offset + n;
            n += batch_len as u64;
            let chunks = std::mem::take(&mut batch);
            batch_len = 0;
            let file = file.clone();
            pending = Some(tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt as _;
                let mut at = at;
                for c in chunks {
                    file.write_all_at(&c, at)?;
                    at += c.len() as u64;
                }
                Ok(())
            }));
        }
        if let Some(p) = pending.take() {
            join_write(p).await?;
        }
        let digest = if hash {
            hex::encode(h.finalize())
        } else {
            String::new()
        };
        Ok((n, digest))
    }
}

async fn join_write(p: tokio::task::JoinHandle<std::io::Result<()>>) -> Result<(), Resp> {
    match p.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(io_500(e)),
        Err(e) => Err(io_500(e)),
    }
}

/// 500 for an I/O failure inside the hub.
pub fn io_500<E: std::fmt::Display>(e: E) -> Resp {
    json_resp(
        500,
        json!({"code": "SYS-ERR-0", "msg": format!("SYS-ERR-0: {e}")}),
    )
}

/// JSON response.
pub fn json_resp(status: u16, v: Value) -> Resp {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// Plain response with a content type.
pub fn raw_resp(status: u16, content_type: &'static str, body: impl Into<Body>) -> Resp {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// gin's answer for an unknown route.
pub fn page_404() -> Resp {
    raw_resp(404, "text/plain", "404 page not found")
}

/// 200 with an empty body (the tree route's answer for a missing path, §6.2).
pub fn empty_200() -> Resp {
    let mut r = Response::new(Body::empty());
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// `{"msg":"not found"}` with 404 (plain `errorx.ErrNotFound`).
pub fn not_found() -> Resp {
    json_resp(404, json!({"msg": "not found"}))
}

/// R success.
pub fn ok(data: Value) -> Resp {
    if data.is_null() {
        return json_resp(200, json!({"msg": "OK"}));
    }
    json_resp(200, json!({"msg": "OK", "data": data}))
}

/// English text of the codes the hub emits.
fn code_text(code: &str) -> &'static str {
    match code {
        "AUTH-ERR-0" => "unauthorized, please login first",
        "AUTH-ERR-1" => "user not found, please login first",
        "AUTH-ERR-2" => "Access forbidden, insufficient permissions",
        "AUTH-ERR-5" => "invalid authorization header",
        "AUTH-ERR-7" => "user does not match",
        "SYS-ERR-3" => "record not found",
        "REPO-ERR-0" => "repo already exists",
        "REPO-ERR-1" => "repo name is invalid",
        "REQ-ERR-0" => "bad request",
        "REQ-ERR-1" => "invalid request body",
        "REQ-ERR-6" => "invalid parameter",
        "GIT-ERR-4" => "failed to get commit",
        "GIT-ERR-6" => "commit not found",
        "GIT-ERR-11" => "branch not found",
        "GIT-ERR-15" => "file not found",
        "GIT-ERR-22" => "failed to commit files",
        _ => "error",
    }
}

/// R error on `/api/v1` (localized: `msg` = `"<code>: <text>"`).
pub fn api_err(status: u16, code: &str, context: Option<Value>) -> Resp {
    let mut v = json!({"code": code, "msg": format!("{code}: {}", code_text(code))});
    if let Some(c) = context {
        v["context"] = c;
    }
    json_resp(status, v)
}

/// R error on `/hf` routes (no localization middleware: terse `msg`).
pub fn hf_err(status: u16, code: &str) -> Resp {
    json_resp(status, json!({"code": code, "msg": code}))
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// A known user.
    User(String),
}

impl Caller {
    /// Username, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::User(u) => Some(u),
        }
    }
}

/// `Authenticator` middleware of `/api/v1` and `/hf` (§2.1): a presented credential that fails is a
/// 401 `AUTH-ERR-5`, even for public resources.
pub fn authenticate(state: &State, headers: &HeaderMap) -> Result<Caller, Resp> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let bad = || hf_err(401, "AUTH-ERR-5");
    let value = value.to_str().map_err(|_| bad())?;
    if let Some(tok) = value.strip_prefix("Bearer ") {
        let tok = tok.trim();
        return match state.tokens.get(tok) {
            Some(t) if ["git", "mirror", "aigateway"].contains(&t.application.as_str()) => {
                Ok(Caller::User(t.user.clone()))
            }
            _ => Err(bad()),
        };
    }
    if let Some(b64) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        // The real server panics on a value without a colon: bare 500.
        let Some((user, tok)) = text.split_once(':') else {
            return Err(raw_resp(500, "text/plain", Body::empty()));
        };
        return match state.tokens.get(tok) {
            Some(t) if t.user == user => Ok(Caller::User(t.user.clone())),
            _ => Err(bad()),
        };
    }
    Err(bad())
}

/// Git/LFS routes (§2.3): only `git` access tokens; a bad token silently means anonymous.
pub fn authenticate_git(state: &State, headers: &HeaderMap) -> Caller {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Caller::Anonymous;
    };
    let tok = if let Some(t) = value.strip_prefix("Bearer ") {
        Some(t.trim().to_string())
    } else if let Some(b) = value.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|s| s.split_once(':').map(|(_, t)| t.to_string()))
    } else {
        None
    };
    match tok.and_then(|t| state.tokens.get(&t)) {
        Some(t) if t.application == "git" => Caller::User(t.user.clone()),
        _ => Caller::Anonymous,
    }
}

/// A parsed `Range` header against a size.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// No range, or several ranges (served in full).
    Full,
    /// One satisfiable range, inclusive.
    One(u64, u64),
    /// Malformed or unsatisfiable.
    Unsatisfiable,
}

/// Parse `Range` as Go's `http.ServeContent`-like logic of the server does: one range → 206,
/// several → full 200, malformed/unsatisfiable → 416.
pub fn parse_range(h: Option<&str>, size: u64) -> RangeReq {
    let Some(h) = h else { return RangeReq::Full };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeReq::Unsatisfiable;
    };
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let mut parsed = Vec::new();
    for p in &parts {
        let Some((a, b)) = p.split_once('-') else {
            return RangeReq::Unsatisfiable;
        };
        let r = if a.is_empty() {
            let Ok(n) = b.parse::<u64>() else {
                return RangeReq::Unsatisfiable;
            };
            if n == 0 || size == 0 {
                return RangeReq::Unsatisfiable;
            }
            (size.saturating_sub(n), size - 1)
        } else {
            let Ok(start) = a.parse::<u64>() else {
                return RangeReq::Unsatisfiable;
            };
            if start >= size {
                return RangeReq::Unsatisfiable;
            }
            let end = if b.is_empty() {
                size - 1
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(size - 1),
                    _ => return RangeReq::Unsatisfiable,
                }
            };
            (start, end)
        };
        parsed.push(r);
    }
    match parsed.as_slice() {
        [(a, b)] => RangeReq::One(*a, *b),
        [] => RangeReq::Unsatisfiable,
        _ => RangeReq::Full,
    }
}

/// Stream `len` bytes of `path` from `offset`, applying a body fault.
pub fn file_body(path: PathBuf, offset: u64, len: u64, fault: Option<&Fault>) -> Body {
    let fault = fault.cloned();
    let stream = async_stream(path, offset, len, fault);
    Body::from_stream(stream)
}

fn async_stream(
    path: PathBuf,
    offset: u64,
    len: u64,
    fault: Option<Fault>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    struct St {
        file: Option<std::fs::File>,
        path: PathBuf,
        offset: u64,
        sent: u64,
        len: u64,
        fault: Option<Fault>,
        stalled: bool,
        pool: BufPool,
    }
    let st = St {
        file: None,
        path,
        offset,
        sent: 0,
        len,
        fault,
        stalled: false,
        pool: BufPool::default(),
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.sent >= st.len {
            return None;
        }
        let mut want = (st.len - st.sent).min(CHUNK as u64);
        match &st.fault {
            Some(Fault::DropAfter(n)) => {
                if st.sent >= *n {
                    // Let hyper flush what was sent before the connection is cut.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "injected drop",
                        )),
                        st,
                    ));
                }
                want = want.min(n - st.sent);
            }
            Some(Fault::Stall { after, duration }) if !st.stalled => {
                if st.sent >= *after {
                    st.stalled = true;
                    tokio::time::sleep(*duration).await;
                } else {
                    want = want.min(after - st.sent);
                }
            }
            _ => {}
        }
        // One blocking read straight into a pooled buffer that goes back to the pool once
        // hyper has sent it (fresh buffers per chunk cost a page fault per 4 KiB).
        let (file, path, at) = (st.file.take(), st.path.clone(), st.offset + st.sent);
        let mut buf = st.pool.take();
        let read = tokio::task::spawn_blocking(move || {
            let r = (|| {
                let mut f = match file {
                    Some(f) => f,
                    None => {
                        let mut f = std::fs::File::open(&path)?;
                        std::io::Seek::seek(&mut f, SeekFrom::Start(at))?;
                        f
                    }
                };
                std::io::Read::read_exact(&mut f, &mut buf[..want as usize])?;
                Ok(f)
            })();
            (r, buf)
        })
        .await;
        let (file, mut buf) = match read {
            Ok((Ok(f), buf)) => (f, buf),
            Ok((Err(e), _)) => return Some((Err(e), st)),
            Err(e) => return Some((Err(std::io::Error::other(e.to_string())), st)),
        };
        st.file = Some(file);
        if let Some(Fault::FlipByte(at)) = st.fault
            && at >= st.sent
            && at < st.sent + want
        {
            buf[(at - st.sent) as usize] ^= 0xFF;
        }
        st.sent += want;
        let chunk = Bytes::from_owner(Pooled {
            buf,
            len: want as usize,
            pool: st.pool.clone(),
        });
        Some((Ok(chunk), st))
    })
}

/// Read size of served files.
const CHUNK: usize = 1 << 20;

/// Buffers of one response body, reused once hyper has sent them.
#[derive(Clone, Default)]
struct BufPool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl BufPool {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| vec![0u8; CHUNK])
    }
}

struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: BufPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pool.0.lock()
            && p.len() < 4
        {
            p.push(std::mem::take(&mut self.buf));
        }
    }
}

/// Serve a file (or a byte range of it) with the server's single-range semantics (§7.2).
/// `etag` is the strong ETag `If-Range` is compared to.
pub fn serve_file(
    req: &Req,
    path: PathBuf,
    size: u64,
    etag: Option<&str>,
    fault: Option<&Fault>,
) -> Resp {
    let range_h = req.header("range");
    let if_range = req.header("if-range");
    let mut range = parse_range(range_h, size);
    if range_h.is_some()
        && let Some(ir) = if_range
    {
        // Only a strong ETag equal to ours keeps the range; a date or mismatch → full 200.
        if Some(ir) != etag {
            range = RangeReq::Full;
        }
    }
    let (status, offset, len) = match range {
        RangeReq::Full => (200, 0, size),
        RangeReq::One(a, b) => (206, a, b - a + 1),
        RangeReq::Unsatisfiable => {
            let mut r = raw_resp(416, "text/plain", Body::empty());
            set(&mut r, "content-range", &format!("bytes */{size}"));
            set(&mut r, "content-length", "0");
            return r;
        }
    };
    let body = if req.method == Method::HEAD {
        Body::empty()
    } else {
        file_body(path, offset, len, fault)
    };
    let mut r = raw_resp(status, "application/octet-stream", body);
    set(&mut r, "content-length", &len.to_string());
    set(&mut r, "accept-ranges", "bytes");
    if status == 206 {
        set(
            &mut r,
            "content-range",
            &format!("bytes {offset}-{}/{size}", offset + len - 1),
        );
    }
    if if_range.is_some()
        && let Some(e) = etag
    {
        set(&mut r, "etag", e);
    }
    r
}

/// Set a header (ignoring values that are not valid header text).
pub fn set(r: &mut Resp, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// Apply a status-type fault, if that is what `f` is.
pub fn status_fault(f: &Fault) -> Option<Resp> {
    match f {
        Fault::Status {
            status,
            body,
            retry_after,
        } => {
            let mut r = raw_resp(*status, "application/json; charset=utf-8", body.clone());
            if let Some(s) = retry_after {
                set(&mut r, "retry-after", &s.to_string());
            }
            Some(r)
        }
        Fault::Expired => Some(s3_error(403, "AccessDenied", "Request has expired")),
        _ => None,
    }
}

/// An S3-style XML error.
pub fn s3_error(status: u16, code: &str, message: &str) -> Resp {
    raw_resp(
        status,
        "application/xml",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ),
    )
}

/// Wait for a delay fault.
pub async fn delay_fault(f: Option<&Fault>) {
    if let Some(Fault::Delay(d)) = f {
        tokio::time::sleep(*d).await;
    }
}

/// A body fault for a JSON/bytes response: buffer it and apply drop/flip/stall.
pub fn fault_bytes_body(bytes: Bytes, fault: &Fault) -> Body {
    let fault = fault.clone();
    let stream = futures_util::stream::unfold(
        (bytes, 0u64, fault, false),
        |(b, sent, f, done)| async move {
            if done || sent as usize >= b.len() {
                return None;
            }
            let rest = b.slice(sent as usize..);
            match &f {
                Fault::DropAfter(n) => {
                    if sent >= *n {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "injected drop",
                            )),
                            (b, sent, f, true),
                        ));
                    }
                    let take = ((*n - sent) as usize).min(rest.len());
                    let chunk = rest.slice(..take);
                    Some((Ok(chunk), (b, sent + take as u64, f, false)))
                }
                Fault::FlipByte(at) => {
                    let mut v = rest.to_vec();
                    if let Some(x) = v
                        .get_mut((*at).saturating_sub(sent) as usize)
                        .filter(|_| *at >= sent)
                    {
                        *x ^= 0xFF;
                    }
                    let n = v.len() as u64;
                    Some((Ok(Bytes::from(v)), (b, sent + n, f, false)))
                }
                Fault::Stall { after, duration } => {
                    if sent == 0 && *after > 0 {
                        let take = (*after as usize).min(rest.len());
                        return Some((Ok(rest.slice(..take)), (b, take as u64, f, false)));
                    }
                    tokio::time::sleep(*duration).await;
                    let n = rest.len() as u64;
                    Some((Ok(rest), (b, sent + n, f, false)))
                }
                _ => {
                    let n = rest.len() as u64;
                    Some((Ok(rest), (b, sent + n, f, false)))
                }
            }
        },
    );
    Body::from_stream(stream)
}

/// Default `Duration` helper for readability in tests.
pub const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
