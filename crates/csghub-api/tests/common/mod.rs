//! Shared helpers: a wiremock hub that answers everything with one response, and accessors for
//! the exact request it received.
#![allow(dead_code)]

use csghub_api::{Client, ClientConfig, RepoId, Token};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const TOKEN: &str = "tok-SECRET-1234";

/// A repo id with characters that need encoding.
pub fn odd_repo() -> RepoId {
    RepoId::new("my ns", "mödel#1%").unwrap()
}

pub fn repo() -> RepoId {
    "ns/name".parse().unwrap()
}

/// A file path with spaces, `#`, `%`, `?` and non-ASCII.
pub const ODD_PATH: &str = "dir one/f#1%?ü.txt";
pub const ODD_PATH_ENCODED: &str = "dir%20one/f%231%25%3F%C3%BC.txt";

pub async fn hub(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

pub fn json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

pub fn config(server: &MockServer) -> ClientConfig {
    // A trailing slash on purpose: it must be normalised away.
    ClientConfig::new(&format!("{}/", server.uri()))
        .unwrap()
        .with_proxy_from_env(false)
        .with_token(Some(Token::new(TOKEN).unwrap()))
}

pub fn client(server: &MockServer) -> Client {
    Client::new(config(server)).unwrap()
}

pub fn anon_client(server: &MockServer) -> Client {
    Client::new(config(server).with_token(None)).unwrap()
}

/// The one request the hub received.
pub async fn only_request(server: &MockServer) -> Request {
    let mut reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "expected exactly one request");
    reqs.remove(0)
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).map(|v| v.to_str().unwrap())
}

/// Method, raw (still percent-encoded) path and raw query.
pub fn assert_target(req: &Request, method: &str, path: &str, query: Option<&str>) {
    assert_eq!(req.method.as_str(), method);
    assert_eq!(req.url.path(), path);
    assert_eq!(req.url.query(), query);
}

/// The headers every authenticated API request carries.
pub fn assert_std_headers(req: &Request) {
    assert_eq!(
        header(req, "authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(
        header(req, "user-agent"),
        Some(&*format!("csghub-rs/{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(header(req, "x-opencsg-s3-internal"), None);
}

pub fn body_json(req: &Request) -> serde_json::Value {
    serde_json::from_slice(&req.body).unwrap()
}

pub fn commit_json(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "committer_name": "alice", "committer_email": "a@x", "committer_date": "2026-01-02T03:04:05Z",
        "created_at": "2026-01-02T03:04:05Z", "message": "init &amp; more", "author_name": "alice",
        "author_email": "a@x", "authored_date": "2026-01-02T03:04:05Z"
    })
}
