//! Fault injection and the request log, controlled from tests.
//!
//! A test pushes a script of [`Fault`]s for a [`Matcher`]; each matching request consumes the next
//! fault. Faults that act on the status are answered before the handler runs; faults that act on
//! the body wrap the handler's response stream.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status and body instead of running the handler.
    Status {
        /// HTTP status.
        status: u16,
        /// Body (JSON or text).
        body: String,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Wait, then handle normally.
    Delay(Duration),
    /// Handle normally but cut the connection after this many body bytes.
    DropAfter(u64),
    /// Handle normally but XOR the body byte at this offset (of the response body) with 0xFF.
    FlipByte(u64),
    /// Send this many body bytes, then stall for the duration before going on.
    Stall {
        /// Bytes sent before stalling.
        after: u64,
        /// How long to stall.
        duration: Duration,
    },
    /// Answer as the object store does for an expired presigned URL (403 `AccessDenied`).
    Expired,
    /// Handle normally (a no-op slot in a script).
    Pass,
}

impl Fault {
    /// A plain status fault with an R-envelope-like body.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            body: format!("{{\"msg\":\"injected fault {status}\"}}"),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many(retry_after: u64) -> Fault {
        Fault::Status {
            status: 429,
            body: "{\"error\":\"Rate limit exceeded. Please try again later.\"}".into(),
            retry_after: Some(retry_after),
        }
    }
}

/// Which requests a script applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// Route kind name (see [`crate::routes::Route::kind`]), e.g. `"resolve"`, `"object_get"`.
    pub route: Option<String>,
    /// HTTP method, e.g. `"GET"`.
    pub method: Option<String>,
    /// Substring of the decoded path.
    pub path_contains: Option<String>,
}

impl Matcher {
    /// Match a route kind.
    pub fn route(kind: &str) -> Matcher {
        Matcher {
            route: Some(kind.to_string()),
            method: None,
            path_contains: None,
        }
    }

    /// Also require a method.
    pub fn method(mut self, m: &str) -> Matcher {
        self.method = Some(m.to_ascii_uppercase());
        self
    }

    /// Also require a path substring.
    pub fn path(mut self, s: &str) -> Matcher {
        self.path_contains = Some(s.to_string());
        self
    }

    fn matches(&self, kind: &str, method: &str, path: &str) -> bool {
        self.route.as_deref().is_none_or(|r| r == kind)
            && self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// `main` or `objects` listener.
    pub listener: &'static str,
    /// Method.
    pub method: String,
    /// Path as sent (percent-encoded).
    pub raw_path: String,
    /// Decoded path.
    pub path: String,
    /// Raw query, if any.
    pub query: Option<String>,
    /// Route kind (`"unknown"` for 404 routes).
    pub route: String,
    /// Response status.
    pub status: u16,
    /// Whether an `Authorization` header was sent.
    pub authorized: bool,
    /// `Range` header, if sent.
    pub range: Option<String>,
    /// Fault applied, if any.
    pub fault: Option<Fault>,
    /// When the request reached the handler.
    pub started: std::time::Instant,
    /// Time from arrival to the response head (a request body is read within it; a streamed
    /// response body is not).
    pub handled_in: std::time::Duration,
}

#[derive(Default)]
struct Inner {
    scripts: Vec<(Matcher, VecDeque<Fault>)>,
    log: Vec<LogEntry>,
}

/// Shared fault scripts and request log.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue faults for requests matching `m` (one fault per matching request, in order).
    pub fn push(&self, m: Matcher, faults: impl IntoIterator<Item = Fault>) {
        self.lock().scripts.push((m, faults.into_iter().collect()));
    }

    /// Remove every script.
    pub fn clear(&self) {
        self.lock().scripts.clear();
    }

    /// Faults not yet consumed.
    pub fn pending(&self) -> usize {
        self.lock().scripts.iter().map(|(_, q)| q.len()).sum()
    }

    /// Take the next fault for a request, if a script matches.
    pub(crate) fn take(&self, kind: &str, method: &str, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        for (m, q) in inner.scripts.iter_mut() {
            if !q.is_empty() && m.matches(kind, method, path) {
                return q.pop_front();
            }
        }
        None
    }

    pub(crate) fn record(&self, e: LogEntry) {
        self.lock().log.push(e);
    }

    /// A copy of the request log.
    pub fn log(&self) -> Vec<LogEntry> {
        self.lock().log.clone()
    }

    /// Clear the request log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }
}
