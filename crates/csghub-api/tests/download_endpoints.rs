//! Read-side routes: exact requests and realistic answers (SERVER.md §5-§8, §10).

mod common;

use common::*;
use csghub_api::generated::{Code, Dataset, McpServer, Model, Skill, Space};
use csghub_api::{Error, RepoType, endpoints};
use futures_util::StreamExt;
use serde_json::json;
use wiremock::ResponseTemplate;

fn repo_body(extra: serde_json::Value) -> serde_json::Value {
    let mut base = json!({
        "id": 7, "name": "name", "nickname": "", "description": null, "path": "ns/name", "private": false,
        "default_branch": "main", "likes": 0, "downloads": 12, "license": "apache-2.0",
        "tags": null, "repository": {"http_clone_url": "https://hub/models/ns/name.git", "ssh_clone_url": ""},
        "repository_id": 9, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z",
        "source": "local", "sync_status": "", "can_write": true, "can_manage": false,
        "user": {"username": "alice", "nickname": "Alice", "email": "", "orgs": null},
        "namespace": {"Path": "ns", "Type": "user", "Avatar": "", "UUID": "u-1", "NSType": "user",
                      "User": {"username": "alice"}},
        "hf_path": "", "ms_path": "", "csg_path": "", "xnet_enabled": false, "url": ""
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    json!({"msg": "OK", "data": base})
}

#[tokio::test]
async fn model_detail_parses_untagged_namespace_and_nulls() {
    let body = repo_body(
        json!({"metadata": {"model_params": 1.5, "tensor_type": "BF16", "architecture": "Llama",
        "mini_gpu_memory_gb": 4.0, "pd_recommendation": null}, "arch_allowed": true, "enable_inference": true,
        "widget_type": "generation", "status": null}),
    );
    let server = hub(json(200, body)).await;
    let model: Model = client(&server)
        .execute(endpoints::repo_detail::<Model>(&odd_repo()))
        .await
        .unwrap();
    let req = only_request(&server).await;
    assert_target(
        &req,
        "GET",
        "/api/v1/models/my%20ns/m%C3%B6del%231%25",
        None,
    );
    assert_std_headers(&req);
    assert_eq!(model.path, "ns/name");
    assert_eq!(model.description, "");
    assert!(model.tags.is_empty());
    assert!(model.arch_allowed);
    let ns = model.namespace.unwrap();
    assert_eq!(
        (
            ns.path.as_str(),
            ns.kind.as_str(),
            ns.uuid.as_str(),
            ns.ns_type.as_str()
        ),
        ("ns", "user", "u-1", "user")
    );
    assert_eq!(ns.user.unwrap().username, "alice");
    assert_eq!(model.metadata.unwrap().architecture, "Llama");
    assert_eq!(
        model.repository.unwrap().http_clone_url,
        "https://hub/models/ns/name.git"
    );
}

#[tokio::test]
async fn every_repo_kind_has_a_typed_detail_route() {
    async fn check<T: csghub_api::endpoints::RepoDetail + std::fmt::Debug>(
        segment: &str,
        extra: serde_json::Value,
    ) -> T {
        let server = hub(json(200, repo_body(extra))).await;
        let v = client(&server)
            .execute(endpoints::repo_detail::<T>(&repo()))
            .await
            .unwrap();
        assert_target(
            &only_request(&server).await,
            "GET",
            &format!("/api/v1/{segment}/ns/name"),
            None,
        );
        v
    }
    let d: Dataset = check(
        "datasets",
        json!({"dataset_type": 0, "forked": true, "status": "ok", "price": null}),
    )
    .await;
    assert!(d.forked);
    let s: Space = check("spaces", json!({"sdk": "gradio", "repo_size": 1024})).await;
    assert_eq!(s.sdk, "gradio");
    let c: Code = check("codes", json!({"repo_size": null})).await;
    assert_eq!(c.downloads, 12);
    let m: McpServer = check("mcps", json!({"repo_size": 5})).await;
    assert_eq!(m.path, "ns/name");
    let k: Skill = check(
        "skills",
        json!({"latest_version": "v2", "versions": [{"v": 1}]}),
    )
    .await;
    assert_eq!(k.versions.len(), 1);
}

#[tokio::test]
async fn hf_model_info_with_blobs_and_revision() {
    let body = json!({"id": "ns/name", "author": "ns", "sha": "abc123", "created_at": "2026-01-01T00:00:00Z",
        "last_modified": "2026-01-02T00:00:00Z", "private": false, "downloads": 3, "likes": 0,
        "library_name": "transformers", "pipeline_tag": "text-generation", "tags": ["llm"], "spaces": null,
        "siblings": [
            {"rfilename": "config.json", "blobId": "b1", "size": 10},
            {"rfilename": "model.safetensors", "blobId": "b2", "size": 5000000,
             "lfs": {"sha256": "aa", "size": 5000000, "pointerSize": 134}}]});
    let server = hub(json(200, body)).await;
    let ep = endpoints::hf_repo_info(RepoType::Model, &repo(), Some("v1.0#ü%"), true).unwrap();
    let info = client(&server).execute(ep).await.unwrap();
    let req = only_request(&server).await;
    assert_target(
        &req,
        "GET",
        "/hf/api/models/ns/name/revision/v1.0%23%C3%BC%25",
        Some("blobs=true"),
    );
    assert_std_headers(&req);
    assert_eq!(info.sha, "abc123");
    assert_eq!(info.siblings[1].lfs.as_ref().unwrap().pointer_size, 134);
    assert_eq!(info.siblings[0].lfs, None);
    assert!(info.spaces.is_empty());
}

#[tokio::test]
async fn hf_info_for_other_kinds_and_pr_refs() {
    // SDKFiles: `sha` is the default branch name (§8.1).
    let body = json!({"id": "ns/name", "sha": "main", "siblings": [{"rfilename": "a b.csv"}], "private": true,
        "downloads": 0, "likes": 0, "tags": []});
    let server = hub(json(200, body)).await;
    for (kind, seg) in [
        (RepoType::Dataset, "datasets"),
        (RepoType::Space, "spaces"),
        (RepoType::Code, "codes"),
        (RepoType::McpServer, "mcps"),
        (RepoType::Skill, "skills"),
    ] {
        let info = client(&server)
            .execute(endpoints::hf_repo_info(kind, &repo(), None, false).unwrap())
            .await
            .unwrap();
        assert_eq!(info.siblings[0].rfilename, "a b.csv");
        let reqs = server.received_requests().await.unwrap();
        assert_eq!(
            reqs.last().unwrap().url.path(),
            format!("/hf/api/{seg}/ns/name")
        );
    }
    // `refs/pr/1` is percent-encoded as one segment (the server cannot route it, §1.3).
    let ep = endpoints::hf_repo_info(RepoType::Model, &repo(), Some("refs/pr/1"), false).unwrap();
    assert!(
        matches!(&ep.target, csghub_api::Target::Path(p) if p == "/hf/api/models/ns/name/revision/refs%2Fpr%2F1")
    );
    assert!(matches!(
        endpoints::hf_repo_info(RepoType::Prompt, &repo(), None, false),
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn hf_recursive_tree() {
    let body = json!([{"type": "file", "path": "a/b c.bin", "size": 3, "oid": "s1"}, {"type": "file", "path": "x", "size": 0, "oid": "s2"}]);
    let server = hub(json(200, body)).await;
    let ep = endpoints::hf_tree(RepoType::Dataset, &repo(), "main", ODD_PATH, true).unwrap();
    let entries = client(&server).execute(ep).await.unwrap();
    let req = only_request(&server).await;
    assert_target(
        &req,
        "GET",
        &format!("/hf/api/datasets/ns/name/tree/main/{ODD_PATH_ENCODED}"),
        Some("recursive=true"),
    );
    assert_eq!(entries[0].path, "a/b c.bin");
    assert_eq!(entries[0].kind, "file");
    assert!(endpoints::hf_tree(RepoType::Space, &repo(), "main", "", true).is_err());
    // Non-recursive listing of an empty dir answers `null` (§8.3).
    let server = hub(json(200, serde_json::Value::Null)).await;
    let ep = endpoints::hf_tree(RepoType::Model, &repo(), "main", "", false).unwrap();
    assert!(client(&server).execute(ep).await.unwrap().is_empty());
    assert_target(
        &only_request(&server).await,
        "GET",
        "/hf/api/models/ns/name/tree/main/",
        None,
    );
}

fn file_json(path: &str) -> serde_json::Value {
    json!({"name": path.rsplit('/').next().unwrap(), "type": "file", "size": 5000000, "path": path, "mode": "33188",
        "sha": "s", "lfs": true, "lfs_sha256": "ab", "lfs_pointer_size": 134, "lfs_relative_path": "ab/cd/ef",
        "commit": {"id": ""}, "last_commit_sha": "", "url": "", "xnet_enabled": false})
}

#[tokio::test]
async fn tree_page_uses_capitalised_keys() {
    let body = json!({"msg": "OK", "data": {"Files": [file_json("d/x.bin")], "Cursor": "next=="}});
    let server = hub(json(200, body)).await;
    let ep = endpoints::tree_page(
        RepoType::Model,
        &repo(),
        "v1.0#ü%",
        ODD_PATH,
        Some(10000),
        Some("c+/="),
    )
    .unwrap();
    let page = client(&server).execute(ep).await.unwrap();
    let req = only_request(&server).await;
    assert_target(
        &req,
        "GET",
        &format!("/api/v1/models/ns/name/refs/v1.0%23%C3%BC%25/tree/{ODD_PATH_ENCODED}"),
        Some("limit=10000&cursor=c%2B%2F%3D"),
    );
    assert_std_headers(&req);
    assert_eq!(page.cursor, "next==");
    assert_eq!(page.files[0].lfs_sha256, "ab");
    assert_eq!(page.files[0].size, 5000000);
}

#[tokio::test]
async fn tree_root_uses_trailing_slash_and_empty_body_means_no_entries() {
    let server = hub(ResponseTemplate::new(200)).await;
    let ep =
        endpoints::tree_page(RepoType::Dataset, &repo(), "refs/pr/1", "/", None, None).unwrap();
    let page = client(&server).execute(ep).await.unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/datasets/ns/name/refs/refs%2Fpr%2F1/tree/",
        None,
    );
    assert!(page.files.is_empty());
    assert!(page.cursor.is_empty());
}

#[tokio::test]
async fn tree_of_syncing_mirror_is_not_ready() {
    let body = json!({"code": "MIRROR-ERR-1", "msg": "syncing", "context": {"task_id": 1, "status": "running"}});
    let server = hub(json(202, body).insert_header("Retry-After", "2")).await;
    let ep = endpoints::tree_page(RepoType::Model, &repo(), "main", "", None, None).unwrap();
    let err = client(&server).execute(ep).await.unwrap_err();
    assert!(matches!(err, Error::NotReady { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(2)));
    assert!(err.is_transient());
}

#[tokio::test]
async fn tree_pages_follow_the_cursor() {
    use wiremock::matchers::query_param;
    use wiremock::{Mock, MockServer};
    let server = MockServer::start().await;
    Mock::given(query_param("cursor", "p2"))
        .respond_with(json(
            200,
            json!({"msg": "OK", "data": {"Files": [file_json("c")], "Cursor": ""}}),
        ))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json(200, json!({"msg": "OK", "data": {"Files": [file_json("a"), file_json("b")], "Cursor": "p2"}})))
        .mount(&server)
        .await;
    let pages: Vec<_> = client(&server)
        .tree_pages(RepoType::Code, &repo(), "main", "dir", Some(2))
        .collect()
        .await;
    let names: Vec<Vec<String>> = pages
        .into_iter()
        .map(|p| p.unwrap().into_iter().map(|f| f.path).collect())
        .collect();
    assert_eq!(
        names,
        vec![vec!["a".to_owned(), "b".to_owned()], vec!["c".to_owned()]]
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].url.query(), Some("limit=2"));
    assert_eq!(reqs[1].url.query(), Some("limit=2&cursor=p2"));
    assert_eq!(
        reqs[1].url.path(),
        "/api/v1/codes/ns/name/refs/main/tree/dir"
    );
}

#[tokio::test]
async fn tree_pages_stop_on_error() {
    let server = hub(json(
        403,
        json!({"code": "AUTH-ERR-2", "msg": "AUTH-ERR-2: forbidden"}),
    ))
    .await;
    let pages: Vec<_> = client(&server)
        .tree_pages(RepoType::Model, &repo(), "main", "", None)
        .collect()
        .await;
    assert_eq!(pages.len(), 1);
    assert!(matches!(pages[0], Err(Error::Forbidden(_))));
}

#[tokio::test]
async fn legacy_tree_takes_ref_as_query() {
    let server = hub(json(
        200,
        json!({"msg": "OK", "data": [file_json("a b/c")]}),
    ))
    .await;
    let ep = endpoints::legacy_tree(RepoType::Model, &repo(), "refs/pr/1", "a b").unwrap();
    let files = client(&server).execute(ep).await.unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/models/ns/name/tree",
        Some("path=a+b&ref=refs%2Fpr%2F1"),
    );
    assert_eq!(files[0].path, "a b/c");
}

#[tokio::test]
async fn last_commit_with_pr_ref() {
    let server = hub(json(
        200,
        json!({"msg": "OK", "data": commit_json("c0ffee")}),
    ))
    .await;
    let ep = endpoints::last_commit(RepoType::McpServer, &repo(), "refs/pr/1").unwrap();
    let commit = client(&server).execute(ep).await.unwrap();
    let req = only_request(&server).await;
    assert_target(
        &req,
        "GET",
        "/api/v1/mcps/ns/name/last_commit",
        Some("ref=refs%2Fpr%2F1"),
    );
    assert_std_headers(&req);
    assert_eq!(commit.id, "c0ffee");
    assert_eq!(commit.message, "init &amp; more");
}

#[tokio::test]
async fn blob_metadata() {
    let mut f = file_json("dir one/f#1%?ü.txt");
    f["content"] = json!("aGVsbG8=");
    f["commit"] = commit_json("c1");
    f["preview_code"] = json!(1);
    let server = hub(json(200, json!({"msg": "OK", "data": f}))).await;
    let ep = endpoints::blob(RepoType::Dataset, &repo(), "main", ODD_PATH).unwrap();
    let file = client(&server).execute(ep).await.unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        &format!("/api/v1/datasets/ns/name/blob/{ODD_PATH_ENCODED}"),
        Some("ref=main"),
    );
    assert_eq!(file.content, "aGVsbG8=");
    assert_eq!(file.commit.unwrap().id, "c1");
    assert_eq!(file.preview_code, 1);
    let server = hub(json(
        404,
        json!({"code": "GIT-ERR-15", "msg": "file not found"}),
    ))
    .await;
    let ep = endpoints::blob(RepoType::Dataset, &repo(), "main", "x").unwrap();
    assert!(matches!(
        client(&server).execute(ep).await,
        Err(Error::EntryNotFound(_))
    ));
}

#[tokio::test]
async fn resolve_urls() {
    let server = hub(ResponseTemplate::new(200)).await;
    let c = client(&server);
    let base = server.uri();
    assert_eq!(
        c.resolve_url(RepoType::Model, &repo(), "main", ODD_PATH)
            .unwrap()
            .as_str(),
        format!("{base}/hf/ns/name/resolve/main/{ODD_PATH_ENCODED}")
    );
    assert_eq!(
        c.resolve_url(RepoType::Dataset, &odd_repo(), "v1", "a.bin")
            .unwrap()
            .as_str(),
        format!("{base}/hf/datasets/my%20ns/m%C3%B6del%231%25/resolve/v1/a.bin")
    );
    assert_eq!(
        c.resolve_url(RepoType::McpServer, &repo(), "v1", "a")
            .unwrap()
            .as_str(),
        format!("{base}/hf/mcps/ns/name/resolve/v1/a")
    );
    // A revision with `/` switches to the REST route with `?ref=`.
    assert_eq!(
        c.resolve_url(RepoType::Space, &repo(), "refs/pr/1", "a b")
            .unwrap()
            .as_str(),
        format!("{base}/api/v1/spaces/ns/name/resolve/a%20b?ref=refs%2Fpr%2F1")
    );
    assert_eq!(
        endpoints::hf_resolve_path("csg", RepoType::Skill, &repo(), "main", "x/y").unwrap(),
        "/csg/skills/ns/name/resolve/main/x/y"
    );
    for bad in ["../etc/passwd", "a//b", "a/./b", ""] {
        assert!(
            matches!(
                c.resolve_url(RepoType::Model, &repo(), "main", bad),
                Err(Error::InvalidInput { .. })
            ),
            "{bad}"
        );
    }
    assert!(
        c.resolve_url(RepoType::Prompt, &repo(), "main", "a")
            .is_err()
    );
    assert!(c.resolve_url(RepoType::Model, &repo(), "", "a").is_err());
}

#[tokio::test]
async fn resolve_redirect_is_not_followed_and_send_keeps_auth_on_hub_only() {
    let server = hub(ResponseTemplate::new(302).insert_header(
        "Location",
        "http://127.0.0.1:9/bucket/obj?X-Amz-Signature=s",
    ))
    .await;
    let c = client(&server);
    let url = c
        .resolve_url(RepoType::Model, &repo(), "main", "w.bin")
        .unwrap();
    let resp = c
        .send(
            c.request(csghub_api::Method::GET, url.clone()),
            &url,
            csghub_api::NotFoundMeans::Entry,
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_std_headers(&only_request(&server).await);
    // The object-store request is built without auth.
    let target = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let rb = c
        .request_without_auth(csghub_api::Method::GET, target)
        .build()
        .unwrap();
    assert!(rb.headers().get("authorization").is_none());
}

#[tokio::test]
async fn send_maps_errors_of_raw_requests() {
    let server =
        hub(json(404, json!({"msg": "not found"})).insert_header("X-Request-ID", "rid-7")).await;
    let c = client(&server);
    let url = c
        .resolve_url(RepoType::Model, &repo(), "main", "missing")
        .unwrap();
    let err = c
        .send(
            c.request(csghub_api::Method::GET, url.clone()),
            &url,
            csghub_api::NotFoundMeans::Entry,
        )
        .await
        .unwrap_err();
    match err {
        Error::EntryNotFound(info) => {
            assert_eq!(info.request_id.as_deref(), Some("rid-7"));
            assert_eq!(info.message, "not found");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn token_info_is_sent_without_authorization_and_never_shown() {
    let body = json!({"msg": "OK", "data": {"id": 1, "token": TOKEN, "token_name": "cli", "application": "git",
        "user_name": "alice", "expire_at": "0001-01-01T00:00:00Z", "quota": null, "usage": 3}});
    let server = hub(json(200, body)).await;
    let token = csghub_api::Token::new(TOKEN).unwrap();
    let ep = endpoints::token_info(&token);
    assert!(!format!("{ep:?}").contains(TOKEN));
    let info = client(&server).execute(ep).await.unwrap();
    let req = only_request(&server).await;
    assert_target(
        &req,
        "GET",
        &format!("/api/v1/token/{TOKEN}"),
        Some("app=git"),
    );
    assert_eq!(header(&req, "authorization"), None);
    assert_eq!(info.user_name, "alice");
    assert_eq!(info.other["usage"], json!(3));
    assert!(!format!("{info:?}").contains(TOKEN));
    // Unknown token: 404, and the error shows the template, not the token.
    let server = hub(json(404, json!({"msg": "not found"}))).await;
    let err = client(&server)
        .execute(endpoints::token_info(&token))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
    assert!(!format!("{err} {err:?}").contains(TOKEN), "{err}");
}

#[tokio::test]
async fn whoami() {
    let body = json!({"name": "alice", "email": "", "auth": {"accessToken": {"displayName": "alice", "role": "write"}, "type": "Bearer"}});
    let server = hub(json(200, body)).await;
    let me = client(&server).execute(endpoints::whoami()).await.unwrap();
    let req = only_request(&server).await;
    assert_target(&req, "GET", "/hf/api/whoami-v2", None);
    assert_std_headers(&req);
    assert_eq!(me.name, "alice");
    assert_eq!(me.auth.unwrap().access_token.unwrap().role, "write");
    let server = hub(json(
        401,
        json!({"code": "AUTH-ERR-1", "msg": "AUTH-ERR-1"}),
    ))
    .await;
    let err = anon_client(&server)
        .execute(endpoints::whoami())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Unauthorized {
            bad_token: false,
            ..
        }
    ));
    assert_eq!(header(&only_request(&server).await, "authorization"), None);
}
