//! Refs, commits, repo lists, inference and fine-tune (SERVER.md §3.1, §5, §11).

mod common;

use common::*;
use csghub_api::generated::{Dataset, McpServer, Model};
use csghub_api::{Error, RepoType, endpoints};
use serde_json::json;

#[tokio::test]
async fn branches_accept_null_and_lists() {
    let server = hub(json(200, json!({"msg": "OK", "data": null}))).await;
    let list = client(&server)
        .execute(endpoints::branches(RepoType::Model, &odd_repo()))
        .await
        .unwrap();
    assert!(list.is_empty());
    let r = only_request(&server).await;
    assert_target(
        &r,
        "GET",
        "/api/v1/models/my%20ns/m%C3%B6del%231%25/branches",
        None,
    );
    assert_std_headers(&r);
    // `feature/x` is reported as `x` by the server (§5.2); we pass it on as sent.
    let body =
        json!({"msg": "OK", "data": [{"name": "x", "message": "tip", "commit": {"id": "c1"}}]});
    let server = hub(json(200, body)).await;
    let list = client(&server)
        .execute(endpoints::branches(RepoType::Dataset, &repo()))
        .await
        .unwrap();
    assert_eq!(list[0].name, "x");
    assert_eq!(list[0].commit.as_ref().unwrap().id, "c1");
}

#[tokio::test]
async fn metadata_tags() {
    let body = json!({"msg": "OK", "data": [{"id": 1, "name": "pytorch", "category": "framework", "group": "",
        "scope": "model", "built_in": true, "show_name": "PyTorch", "i18n_key": "", "created_at": "", "updated_at": ""}]});
    let server = hub(json(200, body)).await;
    let tags = client(&server)
        .execute(endpoints::tags(RepoType::Model, &repo()))
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/models/ns/name/tags",
        None,
    );
    assert_eq!(tags[0].category, "framework");
    assert!(tags[0].built_in);
}

#[tokio::test]
async fn commits_page() {
    let body = json!({"msg": "OK", "data": {"commits": [commit_json("c2"), commit_json("c1")], "total": 2, "page_count": 1}});
    let server = hub(json(200, body)).await;
    let page = client(&server)
        .execute(endpoints::commits(RepoType::Code, &repo(), "refs/pr/1", 50, 1).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(
        &r,
        "GET",
        "/api/v1/codes/ns/name/commits",
        Some("ref=refs%2Fpr%2F1&per=50&page=1"),
    );
    assert_std_headers(&r);
    assert_eq!(page.total, 2);
    assert_eq!(page.commits[1].id, "c1");
    let server = hub(json(
        500,
        json!({"code": "GIT-ERR-11", "msg": "branch not found"}),
    ))
    .await;
    let err = client(&server)
        .execute(endpoints::commits(RepoType::Code, &repo(), "nope", 50, 1).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RevisionNotFound(_)));
}

#[tokio::test]
async fn commit_detail_diff_is_a_string() {
    let mut c = commit_json("c1");
    c["diff"] = json!("ZGlmZg==");
    c["files"] = json!(["a"]);
    c["parents"] = json!([{"sha": "p"}]);
    c["stats"] = json!({"total": 2, "additions": 1, "deletions": 1});
    let server = hub(json(200, json!({"msg": "OK", "data": c}))).await;
    let d = client(&server)
        .execute(endpoints::commit_detail(RepoType::Model, &repo(), "c1").unwrap())
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/models/ns/name/commit/c1",
        None,
    );
    assert_eq!(d.diff, "ZGlmZg==");
    assert_eq!(d.parents[0].sha, "p");
    assert_eq!(d.stats.unwrap().additions, 1);
}

#[tokio::test]
async fn user_repos_message_envelope() {
    let body =
        json!({"message": "OK", "data": [{"path": "alice/a"}, {"path": "alice/b"}], "total": 7});
    let server = hub(json(200, body)).await;
    let page = client(&server)
        .execute(endpoints::user_repos::<Dataset>("alice", 2, 1).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(
        &r,
        "GET",
        "/api/v1/user/alice/datasets",
        Some("per=2&page=1"),
    );
    assert_std_headers(&r);
    assert_eq!(page.total, 7);
    assert_eq!(page.items[1].path, "alice/b");
}

#[tokio::test]
async fn org_repos_nested_and_msg_envelopes() {
    let body = json!({"msg": "OK", "data": {"data": [{"path": "org/m"}], "total": 1}});
    let server = hub(json(200, body)).await;
    let page = client(&server)
        .execute(endpoints::org_repos::<McpServer>("my org", 10, 2).unwrap())
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/organization/my%20org/mcps",
        Some("per=10&page=2"),
    );
    assert_eq!(page.items[0].path, "org/m");
    assert_eq!(page.total, 1);
    let body = json!({"msg": "OK", "data": [{"path": "org/x"}], "total": 1});
    let server = hub(json(200, body)).await;
    let page = client(&server)
        .execute(endpoints::org_repos::<Model>("org", 10, 1).unwrap())
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/organization/org/models",
        Some("per=10&page=1"),
    );
    assert_eq!(page.items[0].path, "org/x");
    // Empty nested page.
    let server = hub(json(
        200,
        json!({"msg": "OK", "data": {"data": null, "total": 0}}),
    ))
    .await;
    let page = client(&server)
        .execute(endpoints::org_repos::<Model>("org", 10, 1).unwrap())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(endpoints::user_repos::<Model>("../x", 1, 1).is_err());
}

#[tokio::test]
async fn repo_list_sends_search_only_when_given() {
    let body = json!({"msg": "OK", "data": [{"path": "a/b c"}], "total": 7});
    let server = hub(json(200, body.clone())).await;
    let page = client(&server)
        .execute(endpoints::repo_list::<Dataset>(Some("b c&d"), 5, 2))
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/datasets",
        Some("search=b+c%26d&per=5&page=2"),
    );
    assert_eq!((page.items[0].path.as_str(), page.total), ("a/b c", 7));
    let server = hub(json(200, body)).await;
    client(&server)
        .execute(endpoints::repo_list::<Model>(Some(""), 50, 1))
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/models",
        Some("per=50&page=1"),
    );
}

fn deploy_json(id: i64) -> serde_json::Value {
    json!({"deploy_id": id, "deploy_name": "d", "status": "Running", "endpoint": "http://e", "model_id": "ns/name",
        "instances": null, "git_branch": "main", "min_replica": 1, "max_replica": 1, "engine_args": "", "pay_mode": "free"})
}

#[tokio::test]
async fn inference_list_get_start_stop() {
    let server = hub(json(
        200,
        json!({"message": "OK", "data": [deploy_json(5)], "total": 1}),
    ))
    .await;
    let page = client(&server)
        .execute(endpoints::inference_list("alice", 50, 1).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(
        &r,
        "GET",
        "/api/v1/user/alice/run/model",
        Some("per=50&page=1&deploy_type=1"),
    );
    assert_std_headers(&r);
    assert_eq!(page.items[0].deploy_id, 5);
    assert!(page.items[0].instances.is_empty());

    let server = hub(json(200, json!({"msg": "OK", "data": deploy_json(5)}))).await;
    let c = client(&server);
    let d = c
        .execute(endpoints::inference_get(&repo(), 5))
        .await
        .unwrap();
    assert_eq!(d.status, "Running");
    c.execute(endpoints::inference_start(&repo(), 5))
        .await
        .unwrap();
    c.execute(endpoints::inference_stop(&repo(), 5))
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_target(&reqs[0], "GET", "/api/v1/models/ns/name/run/5", None);
    assert_target(&reqs[1], "PUT", "/api/v1/models/ns/name/run/5/start", None);
    assert_target(&reqs[2], "PUT", "/api/v1/models/ns/name/run/5/stop", None);
    for r in &reqs {
        assert_std_headers(r);
    }
    let server = hub(json(404, json!({"code": "SYS-ERR-3", "msg": "no rows"}))).await;
    let err = client(&server)
        .execute(endpoints::inference_get(&repo(), 9))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn inference_create() {
    let server = hub(json(200, json!({"msg": "OK", "data": {"deploy_id": 11}}))).await;
    let req = csghub_api::generated::ModelRunReq {
        deploy_name: Some("my-ep".into()),
        resource_id: Some(3),
        ..Default::default()
    };
    let created = client(&server)
        .execute(endpoints::inference_create(&repo(), &req))
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(&r, "POST", "/api/v1/models/ns/name/run", None);
    assert_eq!(
        body_json(&r),
        json!({"deploy_name": "my-ep", "resource_id": 3})
    );
    assert_eq!(created.deploy_id, 11);
}

#[tokio::test]
async fn finetune_list_get_start_stop() {
    let server = hub(json(
        200,
        json!({"message": "OK", "data": [deploy_json(8)], "total": 1}),
    ))
    .await;
    let page = client(&server)
        .execute(endpoints::finetune_list("alice", 20, 3).unwrap())
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/user/alice/finetune/instances",
        Some("per=20&page=3"),
    );
    assert_eq!(page.items[0].deploy_id, 8);

    let server = hub(json(200, json!({"msg": "OK", "data": null}))).await;
    let c = client(&server);
    c.execute(endpoints::finetune_start(&repo(), 8))
        .await
        .unwrap();
    c.execute(endpoints::finetune_stop(&repo(), 8))
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_target(
        &reqs[0],
        "PUT",
        "/api/v1/models/ns/name/finetune/8/start",
        None,
    );
    assert_target(
        &reqs[1],
        "PUT",
        "/api/v1/models/ns/name/finetune/8/stop",
        None,
    );
}
