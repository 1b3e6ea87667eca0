//! `csghub-localhub`: a local CSGHub server that reproduces the real server's HTTP behaviour
//! (`shared/api/SERVER.md`), quirks included, for tests and demos.
//!
//! One job: stand in for hub.opencsg.com on 127.0.0.1. It is a real HTTP server storing repos on
//! disk, with a second listener playing the S3 object store that LFS downloads are redirected to
//! (another origin, which refuses any request carrying `Authorization`), fault injection per
//! route and a request log for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let hub = csghub_localhub::LocalHub::start(csghub_localhub::HubConfig::new(dir.path())).await?;
//! csghub_localhub::seed::demo(&hub)?;
//! println!("hub at {}", hub.url());
//! # Ok(()) }
//! ```

// Handlers return ready HTTP responses as their error values: that is the server's contract.
#![allow(clippy::result_large_err)]

pub mod faults;
pub mod http;
mod objects;
mod read;
pub mod routes;
pub mod seed;
pub mod store;
mod write;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{Method, header};
use hmac::Mac as _;

pub use faults::{Fault, Faults, LogEntry, Matcher};
pub use store::{RepoType, Store, StoreError};

use crate::http::{Req, Resp};

/// How to start a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Where repos are stored.
    pub root: PathBuf,
    /// Address of the API listener (port 0 = any free port).
    pub addr: SocketAddr,
    /// Address of the object-store listener (port 0 = any free port).
    pub objects_addr: SocketAddr,
    /// Lifetime of presigned URLs (the real server: 72 h).
    pub presign_ttl_secs: u64,
    /// Minimum multipart part size (the real server: 50 MiB). Tests lower it to exercise several
    /// parts with small files.
    pub min_multipart_size: u64,
}

impl HubConfig {
    /// Defaults: 127.0.0.1 on free ports, real-server limits.
    pub fn new(root: &Path) -> HubConfig {
        HubConfig {
            root: root.to_path_buf(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            objects_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            presign_ttl_secs: 72 * 3600,
            min_multipart_size: 52_428_800,
        }
    }
}

/// Errors starting the hub.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Could not bind or serve.
    #[error("local hub: cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shared state of a running hub.
pub struct Hub {
    /// Repos on disk.
    pub store: Store,
    /// Fault scripts and request log.
    pub faults: Faults,
    /// `http://127.0.0.1:PORT` of the API listener.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the object store listener.
    pub objects_base: String,
    config: HubConfig,
    secret: [u8; 32],
    /// Presigned URLs issued at or before this unix time are treated as expired.
    expired_before: AtomicU64,
    request_id: AtomicU64,
}

/// A running local hub; dropping it stops both listeners.
pub struct LocalHub {
    hub: Arc<Hub>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LocalHub {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl LocalHub {
    /// Bind both listeners and serve in the current tokio runtime.
    pub async fn start(config: HubConfig) -> Result<LocalHub, HubError> {
        let store = Store::open(&config.root)?;
        let main = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| HubError::Bind {
                addr: config.addr,
                source,
            })?;
        let objects = tokio::net::TcpListener::bind(config.objects_addr)
            .await
            .map_err(|source| HubError::Bind {
                addr: config.objects_addr,
                source,
            })?;
        let main_addr = main.local_addr().map_err(|source| HubError::Bind {
            addr: config.addr,
            source,
        })?;
        let obj_addr = objects.local_addr().map_err(|source| HubError::Bind {
            addr: config.objects_addr,
            source,
        })?;
        // The signing secret is derived from the root so a restarted hub accepts its own URLs.
        let secret: [u8; 32] = {
            use sha2::Digest as _;
            sha2::Sha256::digest(config.root.to_string_lossy().as_bytes()).into()
        };
        let hub = Arc::new(Hub {
            store,
            faults: Faults::default(),
            base: format!("http://{main_addr}"),
            objects_base: format!("http://{obj_addr}"),
            config,
            secret,
            expired_before: AtomicU64::new(0),
            request_id: AtomicU64::new(0),
        });
        let app_main = axum::Router::new()
            .fallback(main_entry)
            .with_state(hub.clone());
        let app_obj = axum::Router::new()
            .fallback(objects_entry)
            .with_state(hub.clone());
        // No Nagle: small responses must not wait for a delayed ACK (40 ms per request).
        use axum::serve::ListenerExt as _;
        let main = main.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let objects = objects.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let t1 = tokio::spawn(async move {
            let _ = axum::serve(main, app_main).await;
        });
        let t2 = tokio::spawn(async move {
            let _ = axum::serve(objects, app_obj).await;
        });
        Ok(LocalHub {
            hub,
            tasks: vec![t1, t2],
        })
    }

    /// The API base URL (`http://127.0.0.1:PORT`), what clients use as endpoint.
    pub fn url(&self) -> &str {
        &self.hub.base
    }

    /// The object store's base URL (the second origin).
    pub fn objects_url(&self) -> &str {
        &self.hub.objects_base
    }

    /// Shared state (store, faults).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Fault scripts and request log.
    pub fn faults(&self) -> &Faults {
        &self.hub.faults
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.hub.store
    }

    /// Make every presigned URL issued so far expire (as after 72 h).
    pub fn expire_presigned_urls(&self) {
        self.hub
            .expired_before
            .store(store::now_unix() + 1, Ordering::SeqCst);
    }

    /// Wait until the process gets Ctrl-C (for `cargo xtask hub`).
    pub async fn serve_until_ctrl_c(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Hub {
    /// The hub's configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    fn sign(&self, msg: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(msg.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A presigned object-store URL for `method` on `key` (plus extra query).
    pub fn presign(&self, method: &str, key: &str, extra: &[(&str, &str)]) -> String {
        let date = store::now_unix();
        let ttl = self.config.presign_ttl_secs;
        let extra_q: String = extra
            .iter()
            .map(|(k, v)| format!("&{}={}", k, routes::query_escape(v)))
            .collect();
        let extra_sig: String = extra.iter().map(|(k, v)| format!("{k}={v};")).collect();
        let sig = self.sign(&format!("{method}\n{key}\n{date}\n{ttl}\n{extra_sig}"));
        format!(
            "{}/csghub/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={ttl}{extra_q}&X-Amz-Signature={sig}",
            self.objects_base
        )
    }

    /// Check a presigned request; `Err` is the S3 answer.
    pub(crate) fn check_presigned(
        &self,
        method: &str,
        key: &str,
        req: &Req,
        extra_keys: &[&str],
    ) -> Result<(), Resp> {
        let bad = || {
            http::s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        };
        let date: u64 = req
            .q("X-Amz-Date")
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)?;
        let ttl: u64 = req
            .q("X-Amz-Expires")
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)?;
        // Like SigV4, the signature covers the parameters the URL carries: a URL presigned
        // without `response-content-disposition` (LFS batch download) is as valid as one with it.
        let extra_sig: String = extra_keys
            .iter()
            .filter_map(|k| req.q(k).map(|v| format!("{k}={v};")))
            .collect();
        let want = self.sign(&format!("{method}\n{key}\n{date}\n{ttl}\n{extra_sig}"));
        if req.q("X-Amz-Signature") != Some(want.as_str()) {
            return Err(bad());
        }
        if date + ttl < store::now_unix() || date < self.expired_before.load(Ordering::SeqCst) {
            return Err(http::s3_error(403, "AccessDenied", "Request has expired"));
        }
        Ok(())
    }

    /// Signature of a `complete_multipart` URL.
    pub(crate) fn sign_completion(&self, key: &str, upload_id: &str, expires: &str) -> String {
        self.sign(&format!("complete\n{key}\n{upload_id}\n{expires}"))
    }
}

fn unreachable_hmac() -> hmac::Hmac<sha2::Sha256> {
    // HMAC accepts keys of any length; this cannot happen.
    panic!("HMAC key rejected")
}

fn decode_path(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn to_req(r: Request) -> Req {
    let (parts, body) = r.into_parts();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(str::to_string);
    Req {
        method: parts.method,
        path: decode_path(&raw_path),
        query: parse_query(raw_query.as_deref()),
        raw_path,
        raw_query,
        headers: parts.headers,
        body: Some(body),
    }
}

async fn main_entry(AxState(hub): AxState<Arc<Hub>>, r: Request) -> Resp {
    let started = std::time::Instant::now();
    let mut req = to_req(r);
    let route = routes::classify(&req.method, &req.path);
    let kind = route.as_ref().map_or("unknown", routes::Route::kind);
    let (mut resp, fault) = match route {
        None => (
            routes::trailing_slash_redirect(&req).unwrap_or_else(http::page_404),
            None,
        ),
        Some(route) => match pre_fault(&hub, kind, &req).await {
            Err((resp, f)) => (drained(&mut req, resp).await, Some(f)),
            Ok(fault) => {
                let applied = fault.clone();
                let (resp, left) = routes::handle(&hub, route, &mut req, fault).await;
                (post_fault(resp, left).await, applied)
            }
        },
    };
    let id = hub.request_id.fetch_add(1, Ordering::Relaxed);
    http::set(&mut resp, "x-request-id", &format!("localhub-{id:08}"));
    log(&hub, "main", kind, &req, &resp, fault, started);
    resp
}

async fn objects_entry(AxState(hub): AxState<Arc<Hub>>, r: Request) -> Resp {
    let started = std::time::Instant::now();
    let mut req = to_req(r);
    let kind = match req.method {
        Method::GET | Method::HEAD => "object_get",
        Method::PUT => "object_put",
        _ => "unknown",
    };
    let (resp, fault) = match pre_fault(&hub, kind, &req).await {
        Err((resp, f)) => (drained(&mut req, resp).await, Some(f)),
        Ok(fault) => {
            let applied = fault.clone();
            let (resp, left) = objects::handle(&hub, &mut req, fault).await;
            (post_fault(resp, left).await, applied)
        }
    };
    log(&hub, "objects", kind, &req, &resp, fault, started);
    resp
}

/// Read and discard the request body before an injected answer, so the client sees the
/// status instead of a connection reset while it is still sending (which would make fault
/// tests depend on timing).
async fn drained(req: &mut Req, resp: Resp) -> Resp {
    if let Some(body) = req.body.take() {
        let _ = axum::body::to_bytes(body, usize::MAX).await;
    }
    resp
}

/// Take the next fault for this request: status faults answer at once, delays wait; body faults
/// are handed to the handler.
fn pre_fault(
    hub: &Hub,
    kind: &str,
    req: &Req,
) -> impl std::future::Future<Output = Result<Option<Fault>, (Resp, Fault)>> + Send + use<> {
    let fault = hub.faults.take(kind, req.method.as_str(), &req.path);
    apply_pre_fault(fault)
}

async fn apply_pre_fault(fault: Option<Fault>) -> Result<Option<Fault>, (Resp, Fault)> {
    let fault = fault.filter(|f| *f != Fault::Pass);
    if let Some(f) = fault {
        if let Some(resp) = http::status_fault(&f) {
            return Err((resp, f));
        }
        http::delay_fault(Some(&f)).await;
        return Ok(Some(f));
    }
    Ok(None)
}

/// Apply a body fault the handler did not consume (it streams files itself) to the buffered body.
async fn post_fault(resp: Resp, left: Option<Fault>) -> Resp {
    match left {
        Some(fault @ (Fault::DropAfter(_) | Fault::FlipByte(_) | Fault::Stall { .. })) => {
            let (parts, body) = resp.into_parts();
            match axum::body::to_bytes(body, 256 << 20).await {
                Ok(bytes) => Resp::from_parts(parts, http::fault_bytes_body(bytes, &fault)),
                Err(_) => Resp::from_parts(parts, Body::empty()),
            }
        }
        _ => resp,
    }
}

#[allow(clippy::too_many_arguments)]
fn log(
    hub: &Hub,
    listener: &'static str,
    kind: &str,
    req: &Req,
    resp: &Resp,
    fault: Option<Fault>,
    started: std::time::Instant,
) {
    hub.faults.record(LogEntry {
        started,
        handled_in: started.elapsed(),
        listener,
        method: req.method.to_string(),
        raw_path: req.raw_path.clone(),
        path: req.path.clone(),
        query: req.raw_query.clone(),
        route: kind.to_string(),
        status: resp.status().as_u16(),
        authorized: req.headers.contains_key(header::AUTHORIZATION),
        range: req.header("range").map(str::to_string),
        fault,
    });
}
