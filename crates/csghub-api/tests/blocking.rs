//! The synchronous facade (feature `blocking`): same requests, one runtime per client.
#![cfg(feature = "blocking")]

mod common;

use common::*;
use csghub_api::{Error, RepoType, blocking, endpoints};
use serde_json::json;
use wiremock::matchers::{any, query_param};
use wiremock::{Mock, MockServer};

/// wiremock needs a runtime; the blocking client must run outside of it.
fn with_hub<R: Send + 'static>(
    setup: impl FnOnce(&MockServer) -> R + Send + 'static,
    mocks: Vec<Mock>,
) -> (R, Vec<wiremock::Request>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        for m in mocks {
            m.mount(&s).await;
        }
        s
    });
    let out = std::thread::scope(|scope| scope.spawn(|| setup(&server)).join().unwrap());
    let reqs = rt.block_on(server.received_requests()).unwrap();
    (out, reqs)
}

#[test]
fn blocking_execute_and_tree_iterator() {
    let mocks = vec![
        Mock::given(query_param("cursor", "p2")).respond_with(json(
            200,
            json!({"msg": "OK", "data": {"Files": [{"path": "c"}], "Cursor": ""}}),
        )),
        Mock::given(any()).respond_with(json(
            200,
            json!({"msg": "OK", "data": {"Files": [{"path": "a"}], "Cursor": "p2"}}),
        )),
    ];
    let ((pages, commit_id), reqs) = with_hub(
        |server| {
            let client = blocking::Client::new(config(server)).unwrap();
            let pages: Vec<Vec<String>> = client
                .tree_pages(RepoType::Model, &repo(), "main", "", Some(1))
                .map(|p| p.unwrap().into_iter().map(|f| f.path).collect())
                .collect();
            // Same client, another call: no new runtime needed.
            let err = client
                .execute(endpoints::last_commit(RepoType::Model, &repo(), "main").unwrap())
                .map(|c| c.id);
            (pages, err)
        },
        mocks,
    );
    assert_eq!(pages, vec![vec!["a".to_owned()], vec!["c".to_owned()]]);
    // The catch-all answers a tree page to last_commit: it still decodes (fields default).
    assert_eq!(commit_id.unwrap(), "");
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1].url.query(), Some("limit=1&cursor=p2"));
    assert_std_headers(&reqs[2]);
}

#[test]
fn blocking_errors_map_the_same_way() {
    let mocks = vec![
        Mock::given(any())
            .respond_with(json(500, json!({"code": "AUTH-ERR-2", "msg": "forbidden"}))),
    ];
    let (err, _) = with_hub(
        |server| {
            blocking::Client::new(config(server))
                .unwrap()
                .execute(endpoints::branches(RepoType::Model, &repo()))
                .unwrap_err()
        },
        mocks,
    );
    assert!(matches!(err, Error::Forbidden(_)));
}
