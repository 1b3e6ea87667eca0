//! Error mapping (SERVER.md §3.2, §12.3), transient rule, configuration and redaction.

mod common;

use std::time::Duration;

use common::*;
use csghub_api::{
    ApiErrorInfo, Client, ClientConfig, Error, NotFoundMeans, RepoId, RepoType, Token, endpoints,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::json;
use wiremock::ResponseTemplate;

fn map(status: u16, body: serde_json::Value, nf: NotFoundMeans) -> Error {
    let body = serde_json::to_vec(&body).unwrap();
    Error::from_response(
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
        &body,
        "http://h/x",
        nf,
    )
}

#[test]
fn mapping_follows_code_first_then_status() {
    use NotFoundMeans::*;
    let cases: Vec<(u16, serde_json::Value, NotFoundMeans, &str, bool)> = vec![
        // status, body, 404 meaning, expected variant, transient
        (
            404,
            json!({"code": "SYS-ERR-3", "context": {"path": "ns/name"}}),
            Repo,
            "RepoNotFound",
            false,
        ),
        (
            500,
            json!({"code": "SYS-ERR-3"}),
            Repo,
            "RepoNotFound",
            false,
        ),
        (
            404,
            json!({"msg": "not found"}),
            Entry,
            "EntryNotFound",
            false,
        ),
        (
            404,
            json!({"msg": "not found"}),
            Repo,
            "RepoNotFound",
            false,
        ),
        (404, json!({"msg": "not found"}), Other, "NotFound", false),
        (
            404,
            json!({"code": "GIT-ERR-6"}),
            Entry,
            "RevisionNotFound",
            false,
        ),
        (
            500,
            json!({"code": "GIT-ERR-15"}),
            Repo,
            "EntryNotFound",
            false,
        ),
        (
            500,
            json!({"code": "AUTH-ERR-2", "msg": "AUTH-ERR-2: forbidden"}),
            Repo,
            "Forbidden",
            false,
        ),
        (
            500,
            json!({"code": "AUTH-ERR-0"}),
            Repo,
            "Unauthorized",
            false,
        ),
        (
            500,
            json!({"code": "AUTH-ERR-1"}),
            Repo,
            "Unauthorized",
            false,
        ),
        (401, json!({"code": "AUTH-ERR-5"}), Repo, "BadToken", false),
        (401, json!({"code": "AUTH-ERR-7"}), Repo, "Forbidden", false),
        (403, json!({"code": "AUTH-ERR-6"}), Repo, "Forbidden", false),
        (401, serde_json::Value::Null, Repo, "Unauthorized", false),
        (
            403,
            json!({"error": "You do not have permission to access this repository."}),
            Repo,
            "Forbidden",
            false,
        ),
        (400, json!({"code": "REPO-ERR-0"}), Repo, "Conflict", false),
        (
            409,
            json!({"code": "MIRROR-ERR-2"}),
            Repo,
            "Conflict",
            false,
        ),
        (409, json!({"url": "ns/name"}), Repo, "Conflict", false),
        (
            429,
            json!({"error": "Rate limit exceeded. Please try again later."}),
            Repo,
            "RateLimited",
            true,
        ),
        (202, json!({"code": "MIRROR-ERR-1"}), Repo, "NotReady", true),
        (500, json!({"code": "SYS-ERR-0"}), Repo, "Server", true),
        (500, json!({"code": "GIT-ERR-21"}), Repo, "Server", true),
        (
            500,
            json!({"code": "REPO-ERR-1", "msg": "invalid name"}),
            Repo,
            "Server",
            false,
        ),
        (500, json!({"error": "gitaly"}), Repo, "Server", true),
        (400, json!({"code": "REQ-ERR-6"}), Repo, "Server", false),
        (503, json!({"code": "GIT-ERR-34"}), Repo, "Server", true),
    ];
    for (status, body, nf, want, transient) in cases {
        let err = map(status, body.clone(), nf);
        let got = match &err {
            Error::Unauthorized {
                bad_token: true, ..
            } => "BadToken",
            Error::Unauthorized { .. } => "Unauthorized",
            Error::Forbidden(_) => "Forbidden",
            Error::RepoNotFound(_) => "RepoNotFound",
            Error::RevisionNotFound(_) => "RevisionNotFound",
            Error::EntryNotFound(_) => "EntryNotFound",
            Error::NotFound(_) => "NotFound",
            Error::Conflict(_) => "Conflict",
            Error::RateLimited { .. } => "RateLimited",
            Error::NotReady { .. } => "NotReady",
            Error::Server(_) => "Server",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(got, want, "{status} {body}");
        assert_eq!(err.is_transient(), transient, "{status} {body}");
        assert_eq!(err.info().unwrap().status, status);
    }
}

#[test]
fn empty_and_non_json_bodies_still_map() {
    // Recovered panic: bare 500, empty body.
    let err = Error::from_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        b"",
        "u",
        NotFoundMeans::Repo,
    );
    assert!(matches!(&err, Error::Server(i) if i.code.is_none() && i.message.is_empty()));
    assert!(err.is_transient());
    let err = Error::from_response(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        b"404 page not found",
        "u",
        NotFoundMeans::Entry,
    );
    assert!(matches!(&err, Error::EntryNotFound(i) if i.message == "404 page not found"));
}

#[tokio::test]
async fn rate_limit_retry_after_and_request_id_reach_the_error() {
    let server = hub(json(
        429,
        json!({"error": "Rate limit exceeded. Please try again later."}),
    )
    .insert_header("Retry-After", "7")
    .insert_header("X-Request-ID", "req-42"))
    .await;
    let err = client(&server)
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.info().unwrap().request_id.as_deref(), Some("req-42"));
    assert!(err.to_string().contains("req-42"));
    assert!(err.is_transient());
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_url_and_excerpt() {
    let server =
        hub(ResponseTemplate::new(200).set_body_string("{\"msg\":\"OK\",\"data\": [tru")).await;
    let err = client(&server)
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap_err();
    match &err {
        Error::Decode {
            url,
            status,
            excerpt,
            ..
        } => {
            assert!(url.ends_with("/api/v1/models/ns/name/branches"), "{url}");
            assert_eq!(*status, 200);
            assert!(excerpt.starts_with("{\"msg\":\"OK\""));
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    // Wrong shape (a string where a list is expected) is also Decode, not a panic.
    let server = hub(json(200, json!({"msg": "OK", "data": "nope"}))).await;
    let err = client(&server)
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }));
}

#[tokio::test]
async fn decode_excerpt_never_shows_the_token() {
    let body = format!("{{\"transfer\": 5, \"auth\": \"Bearer {TOKEN}\", \"raw\": \"{TOKEN}\"}}");
    let server = hub(ResponseTemplate::new(200).set_body_string(body)).await;
    let req = csghub_api::dto::BatchRequest {
        operation: "upload".into(),
        ..Default::default()
    };
    let err = client(&server)
        .execute(endpoints::lfs_batch(RepoType::Model, &repo(), &req))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[tokio::test]
async fn transport_errors_are_transient_and_redacted() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cfg = ClientConfig::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_proxy_from_env(false)
        .with_connect_timeout(Duration::from_secs(2))
        .with_token(Some(Token::new(TOKEN).unwrap()));
    let err = Client::new(cfg)
        .unwrap()
        .execute(endpoints::token_info(&Token::new(TOKEN).unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("/api/v1/token/{token}"), "{shown}");
}

#[tokio::test]
async fn read_timeout_is_a_transient_transport_error() {
    let server =
        hub(json(200, json!({"msg": "OK", "data": []})).set_delay(Duration::from_millis(1500)))
            .await;
    let c = Client::new(config(&server).with_read_timeout(Duration::from_millis(200))).unwrap();
    let err = c
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn s3_internal_header_and_custom_user_agent() {
    let server = hub(json(200, json!({"msg": "OK", "data": []}))).await;
    let c = Client::new(
        config(&server)
            .with_s3_internal(true)
            .with_user_agent("csghub-cli/9 csghub-rs/0.1.0"),
    )
    .unwrap();
    c.execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_eq!(header(&r, "x-opencsg-s3-internal"), Some("true"));
    assert_eq!(
        header(&r, "user-agent"),
        Some("csghub-cli/9 csghub-rs/0.1.0")
    );
}

#[tokio::test]
async fn anonymous_client_sends_no_authorization() {
    let server = hub(json(200, json!({"msg": "OK", "data": []}))).await;
    anon_client(&server)
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap();
    assert_eq!(header(&only_request(&server).await, "authorization"), None);
}

#[tokio::test]
async fn endpoint_with_path_prefix_is_kept() {
    let server = hub(json(200, json!({"msg": "OK", "data": []}))).await;
    let cfg = ClientConfig::new(&format!("{}/prefix//", server.uri()))
        .unwrap()
        .with_proxy_from_env(false);
    assert_eq!(cfg.endpoint().path(), "/prefix");
    Client::new(cfg)
        .unwrap()
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap();
    assert_eq!(
        only_request(&server).await.url.path(),
        "/prefix/api/v1/models/ns/name/branches"
    );
}

#[test]
fn config_defaults_and_validation() {
    let cfg = ClientConfig::default();
    assert_eq!(cfg.endpoint().as_str(), "https://hub.opencsg.com/");
    assert_eq!(
        cfg.user_agent(),
        format!("csghub-rs/{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(cfg.token().is_none());
    assert_eq!(
        ClientConfig::new("https://hub.example.com/")
            .unwrap()
            .endpoint()
            .as_str(),
        "https://hub.example.com/"
    );
    for bad in ["ftp://x", "not a url", "https://x/?q=1", "https://x/#f", ""] {
        assert!(
            matches!(
                ClientConfig::new(bad),
                Err(Error::InvalidInput {
                    what: "endpoint",
                    ..
                })
            ),
            "{bad}"
        );
    }
    let err = ClientConfig::new("https://user:hunter2@x").unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    for bad in ["", "  ", "a b", "to\nk", "tök"] {
        assert!(Token::new(bad).is_err(), "{bad:?}");
    }
    // Surrounding whitespace (a token file's newline) is dropped.
    assert_eq!(Token::new(" tok\n").unwrap().expose(), "tok");
}

#[test]
fn clients_build_without_a_global_crypto_provider() {
    // Twice, with TLS endpoints: no process-global rustls provider is installed or needed.
    for _ in 0..2 {
        Client::new(ClientConfig::default()).unwrap();
    }
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

#[test]
fn repo_ids_and_types() {
    assert!("ns/name".parse::<RepoId>().is_ok());
    for bad in ["ns", "ns/", "/name", "a/b/c", "../x", "ns/..", "ns/a\nb"] {
        assert!(bad.parse::<RepoId>().is_err(), "{bad}");
    }
    assert_eq!(
        "mcp".parse::<RepoType>().unwrap().git_segment(),
        "mcpservers"
    );
    assert_eq!("mcps".parse::<RepoType>().unwrap().rest_segment(), "mcps");
    assert!("widgets".parse::<RepoType>().is_err());
    assert!(endpoints::last_commit(RepoType::Model, &"a/b".parse().unwrap(), "").is_err());
    assert!(
        endpoints::tree_page(
            RepoType::Model,
            &"a/b".parse().unwrap(),
            "main",
            "a/../../x",
            None,
            None
        )
        .is_err()
    );
}

/// Every `Debug`/`Display` a caller can reach: config, token, client, endpoint, and each error
/// variant built from answers that echo the token.
#[tokio::test]
async fn no_token_in_any_debug_or_display() {
    let token = Token::new(TOKEN).unwrap();
    let server = hub(json(200, json!({"msg": "OK"}))).await;
    let cfg = config(&server).with_token(Some(token.clone()));
    let client = Client::new(cfg.clone()).unwrap();
    let mut shown = vec![
        format!("{token}"),
        format!("{token:?}"),
        format!("{cfg:?}"),
        format!("{client:?}"),
    ];
    shown.push(format!("{:?}", endpoints::token_info(&token)));
    // Answers that echo the token in the message, one per HTTP-derived variant.
    let echo = |code: &str| json!({"code": code, "msg": format!("{code}: header Bearer {TOKEN} refused"), "raw": TOKEN});
    let answers = [
        (401, echo("AUTH-ERR-5"), false),
        (403, echo("AUTH-ERR-2"), false),
        (404, echo("SYS-ERR-3"), false),
        (404, echo("GIT-ERR-6"), false),
        (404, echo("GIT-ERR-15"), false),
        (
            404,
            json!({"msg": format!("token {TOKEN} not found")}),
            true,
        ),
        (409, echo("REPO-ERR-0"), false),
        (429, echo("REQ-ERR-10"), false),
        (202, echo("MIRROR-ERR-1"), false),
        (500, echo("SYS-ERR-0"), false),
    ];
    let mut variants = std::collections::BTreeSet::new();
    for (status, body, token_route) in answers {
        let server = hub(json(status, body)).await;
        let c = Client::new(config(&server)).unwrap();
        let err = if token_route {
            c.execute(endpoints::token_info(&token)).await.unwrap_err()
        } else {
            c.execute(endpoints::branches(RepoType::Model, &repo()))
                .await
                .unwrap_err()
        };
        variants.insert(
            format!("{err:?}")
                .split(['(', ' ', '{'])
                .next()
                .unwrap()
                .to_owned(),
        );
        shown.push(format!("{err}"));
        shown.push(format!("{err:?}"));
    }
    // Decode (body echoing the token), InvalidInput (bad token value), Transport are the rest.
    let server =
        hub(ResponseTemplate::new(200).set_body_string(format!("[\"Bearer {TOKEN}\" {TOKEN}")))
            .await;
    let err = Client::new(config(&server))
        .unwrap()
        .execute(endpoints::branches(RepoType::Model, &repo()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }));
    shown.push(format!("{err} {err:?}"));
    let err = Token::new(format!("{TOKEN} x")).unwrap_err();
    shown.push(format!("{err} {err:?}"));
    assert_eq!(variants.len(), 10, "{variants:?}");
    let info = ApiErrorInfo {
        status: 500,
        code: None,
        message: "m".into(),
        request_id: None,
        url: "u".into(),
    };
    shown.push(format!("{info} {info:?}"));
    shown.push(format!("{:?}", Token::new("x y")));
    for s in &shown {
        assert!(!s.contains(TOKEN), "token leaked in: {s}");
    }
}
