//! Write-side routes: exact requests and realistic answers (SERVER.md §9).

mod common;

use bytes::Bytes;
use common::*;
use csghub_api::dto::{
    Action, BatchRequest, CompleteMultipartBody, CompletePart, HfCommitLine, LfsObject,
};
use csghub_api::endpoints::{self, UploadFile};
use csghub_api::generated::{
    Code, CommitAction, CommitFileReq, CommitFilesReq, CreateDatasetReq, CreateFileReq,
    CreateModelReq, CreateRepoReq, DeleteFileReq, Model, PreuploadFile, PreuploadReq,
    UpdateFileReq, UpdateRepoReq, UploadMode,
};
use csghub_api::{Error, RepoType};
use serde_json::json;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn preupload() {
    let body = json!({"msg": "OK", "data": {"files": [
        {"path": "a b.bin", "uploadMode": "lfs", "oid": "", "shouldIgnore": false, "isDir": false},
        {"path": "x", "uploadMode": "regular", "oid": "s1", "shouldIgnore": true, "isDir": false},
        {"path": "y", "uploadMode": "xet", "oid": null, "shouldIgnore": null, "isDir": true}]}});
    let server = hub(json(200, body)).await;
    let req = PreuploadReq {
        files: vec![PreuploadFile {
            path: "a b.bin".into(),
            size: 30_000_000,
            sample: None,
        }],
    };
    let ep = endpoints::preupload(RepoType::Model, &odd_repo(), "v1#ü", &req).unwrap();
    let resp = client(&server).execute(ep).await.unwrap();
    let r = only_request(&server).await;
    assert_target(
        &r,
        "POST",
        "/api/v1/models/my%20ns/m%C3%B6del%231%25/preupload/v1%23%C3%BC",
        None,
    );
    assert_std_headers(&r);
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(
        body_json(&r),
        json!({"files": [{"path": "a b.bin", "size": 30000000}]})
    );
    assert_eq!(resp.files[0].upload_mode, Some(UploadMode::Lfs));
    assert!(resp.files[1].should_ignore);
    assert_eq!(resp.files[2].upload_mode, Some(UploadMode::Unknown));
    assert!(resp.files[2].is_dir);
}

#[tokio::test]
async fn commit_json_and_its_error_shape() {
    let server = hub(json(200, json!({"msg": "OK"}))).await;
    let req = CommitFilesReq {
        message: "add".into(),
        files: vec![CommitFileReq {
            path: "dir one/ü.txt".into(),
            action: CommitAction::Create,
            content: Some("aGk=".into()),
        }],
    };
    client(&server)
        .execute(endpoints::commit(RepoType::Dataset, &repo(), "main", &req).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(&r, "POST", "/api/v1/datasets/ns/name/commit/main", None);
    assert_std_headers(&r);
    assert_eq!(
        body_json(&r),
        json!({"message": "add", "files": [{"path": "dir one/ü.txt", "action": "create", "content": "aGk="}]})
    );
    // Commit errors are `500 {"error": ...}` (§9.6): not R, and transient by status.
    let server = hub(json(500, json!({"error": "branch not found"}))).await;
    let err = client(&server)
        .execute(endpoints::commit(RepoType::Dataset, &repo(), "main", &req).unwrap())
        .await
        .unwrap_err();
    match &err {
        Error::Server(info) => assert_eq!(info.message, "branch not found"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn hf_ndjson_commit() {
    let server = hub(json(200, json!({"commitUrl": "ns/name", "commitOid": ""}))).await;
    let lines = vec![
        HfCommitLine::Header {
            summary: "s".into(),
            description: String::new(),
        },
        HfCommitLine::File {
            path: "a.txt".into(),
            content: "aGk=".into(),
            encoding: "base64".into(),
        },
        HfCommitLine::LfsFile {
            path: "w.bin".into(),
            algo: "sha256".into(),
            oid: "ab".into(),
            size: 9,
        },
    ];
    let resp = client(&server)
        .execute(endpoints::hf_commit(RepoType::Model, &repo(), "main", &lines).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(&r, "POST", "/hf/api/models/ns/name/commit/main", None);
    assert_eq!(header(&r, "content-type"), Some("application/x-ndjson"));
    let text = String::from_utf8(r.body.clone()).unwrap();
    let parsed: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        parsed[0],
        json!({"key": "header", "value": {"summary": "s", "description": ""}})
    );
    assert_eq!(
        parsed[2],
        json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "ab", "size": 9}})
    );
    assert_eq!(resp.commit_url, "ns/name");
    assert!(endpoints::hf_commit(RepoType::Code, &repo(), "main", &lines).is_err());
}

#[tokio::test]
async fn lfs_batch_uses_git_segment_and_lfs_media_type() {
    let server = hub(ResponseTemplate::new(200).set_body_raw(
        serde_json::to_vec(&json!({"transfer": "multipart", "objects": [
            {"oid": "aa", "size": 104857600, "actions": {
                "upload": {"href": "http://hub/api/v1/complete_multipart?objectKey=k&uploadId=u&expiresAt=t&signature=SIG",
                           "header": {"chunk_size": "52428800", "2": "http://s3/b?partNumber=2&X-Amz-Signature=P2", "1": "http://s3/b?partNumber=1&X-Amz-Signature=P1"}},
                "verify": {"href": "http://hub/mcpservers/ns/name.git/info/lfs/verify",
                           "header": {"Authorization": format!("Bearer {TOKEN}"), "Accept": "application/vnd.git-lfs+json"}}}},
            {"oid": "bb", "size": 1},
            {"oid": "cc", "size": 6000000000u64, "error": {"code": 422, "message": "Please use csghub-sdk to upload files > 5GB."}}]}))
        .unwrap(),
        "application/vnd.git-lfs+json",
    ))
    .await;
    let req = BatchRequest {
        operation: "upload".into(),
        transfers: vec!["basic".into(), "multipart".into()],
        git_ref: None,
        objects: vec![LfsObject {
            oid: "aa".into(),
            size: 104857600,
        }],
        hash_algo: Some("sha256".into()),
        upload_id: None,
    };
    let resp = client(&server)
        .execute(endpoints::lfs_batch(RepoType::McpServer, &odd_repo(), &req))
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(
        &r,
        "POST",
        "/mcpservers/my%20ns/m%C3%B6del%231%25.git/info/lfs/objects/batch",
        None,
    );
    assert_std_headers(&r);
    assert_eq!(header(&r, "accept"), Some("application/vnd.git-lfs+json"));
    assert_eq!(
        header(&r, "content-type"),
        Some("application/vnd.git-lfs+json")
    );
    assert_eq!(
        body_json(&r),
        json!({"operation": "upload", "transfers": ["basic", "multipart"],
        "objects": [{"oid": "aa", "size": 104857600}], "hash_algo": "sha256"})
    );
    assert_eq!(resp.transfer, "multipart");
    let upload = resp.objects[0]
        .actions
        .as_ref()
        .unwrap()
        .upload
        .as_ref()
        .unwrap();
    let (chunk, parts) = upload.multipart_parts().unwrap();
    assert_eq!(chunk, 52428800);
    assert_eq!(parts.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 2]);
    assert!(resp.objects[1].actions.is_none());
    assert_eq!(resp.objects[2].error.as_ref().unwrap().code, 422);
    // Nothing secret in Debug: echoed token, part signatures, completion signature.
    let shown = format!("{resp:?}");
    for secret in [TOKEN, "SIG", "P1", "P2"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test]
async fn complete_multipart_success_failure_and_no_auth() {
    let server = hub(ResponseTemplate::new(200)).await;
    let href = format!(
        "{}/api/v1/complete_multipart?objectKey=lfs%2Fab&uploadId=u1&expiresAt=2026-01-01T00%3A00%3A00Z&signature=SIG",
        server.uri()
    );
    let body = CompleteMultipartBody {
        oid: "ab".into(),
        parts: vec![CompletePart {
            part_number: 1,
            etag: "\"e1\"".into(),
        }],
    };
    client(&server)
        .execute(endpoints::complete_multipart(&href, &body).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(
        &r,
        "POST",
        "/api/v1/complete_multipart",
        Some("objectKey=lfs%2Fab&uploadId=u1&expiresAt=2026-01-01T00%3A00%3A00Z&signature=SIG"),
    );
    assert_eq!(header(&r, "authorization"), None);
    assert_eq!(
        body_json(&r),
        json!({"oid": "ab", "parts": [{"partNumber": 1, "etag": "\"e1\""}]})
    );
    // 200 with a body is a failure (§9.10), and the signature is not shown.
    let server = hub(json(200, json!({"msg": "invalid signature"}))).await;
    let href = format!("{}/api/v1/complete_multipart?signature=SIG", server.uri());
    let err = client(&server)
        .execute(endpoints::complete_multipart(&href, &body).unwrap())
        .await
        .unwrap_err();
    match &err {
        Error::Server(info) => {
            assert_eq!(info.status, 200);
            assert_eq!(info.message, "invalid signature");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    assert!(!format!("{err} {err:?}").contains("SIG"));
    assert!(endpoints::complete_multipart("/relative", &body).is_err());
}

#[tokio::test]
async fn lfs_verify_sends_action_headers_and_auth_only_when_asked() {
    let server = hub(json(200, serde_json::Value::Null)).await;
    let mut action = Action {
        href: format!("{}/models/ns/name.git/info/lfs/verify", server.uri()),
        ..Default::default()
    };
    action
        .header
        .insert("Authorization".into(), "Bearer echoed".into());
    action
        .header
        .insert("Accept".into(), "application/vnd.git-lfs+json".into());
    let obj = LfsObject {
        oid: "ab".into(),
        size: 3,
    };
    client(&server)
        .execute(endpoints::lfs_verify(&action, &obj).unwrap())
        .await
        .unwrap();
    let r = only_request(&server).await;
    assert_target(&r, "POST", "/models/ns/name.git/info/lfs/verify", None);
    // Our own token, not the echoed string.
    assert_std_headers(&r);
    assert_eq!(header(&r, "accept"), Some("application/vnd.git-lfs+json"));
    assert_eq!(body_json(&r), json!({"oid": "ab", "size": 3}));

    let server = hub(json(200, serde_json::Value::Null)).await;
    let action = Action {
        href: format!("{}/v", server.uri()),
        ..Default::default()
    };
    client(&server)
        .execute(endpoints::lfs_verify(&action, &obj).unwrap())
        .await
        .unwrap();
    assert_eq!(header(&only_request(&server).await, "authorization"), None);

    let server = hub(json(400, json!({"msg": "object size mismatch"}))).await;
    let action = Action {
        href: format!("{}/v", server.uri()),
        ..Default::default()
    };
    let err = client(&server)
        .execute(endpoints::lfs_verify(&action, &obj).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Server(ref i) if i.status == 400 && i.message == "object size mismatch")
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn raw_create_update_delete() {
    let server = hub(json(200, json!({"msg": "OK", "data": {}}))).await;
    let c = client(&server);
    let create = CreateFileReq {
        message: "m".into(),
        branch: "main".into(),
        content: Some("aGk=".into()),
        new_branch: Some("feature".into()),
        ..Default::default()
    };
    c.execute(endpoints::create_file(RepoType::Space, &repo(), ODD_PATH, &create).unwrap())
        .await
        .unwrap();
    let update = UpdateFileReq {
        message: "u".into(),
        branch: "main".into(),
        origin_path: Some("old.txt".into()),
        ..Default::default()
    };
    c.execute(endpoints::update_file(RepoType::Space, &repo(), ODD_PATH, &update).unwrap())
        .await
        .unwrap();
    let delete = DeleteFileReq {
        message: "d".into(),
        branch: "main".into(),
        ..Default::default()
    };
    c.execute(endpoints::delete_file(RepoType::Space, &repo(), ODD_PATH, &delete).unwrap())
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    let path = format!("/api/v1/spaces/ns/name/raw/{ODD_PATH_ENCODED}");
    assert_target(&reqs[0], "POST", &path, None);
    assert_eq!(
        body_json(&reqs[0]),
        json!({"message": "m", "branch": "main", "content": "aGk=", "new_branch": "feature"})
    );
    assert_target(&reqs[1], "PUT", &path, None);
    assert_eq!(
        body_json(&reqs[1]),
        json!({"message": "u", "branch": "main", "origin_path": "old.txt"})
    );
    assert_target(&reqs[2], "DELETE", &path, None);
    assert_eq!(
        body_json(&reqs[2]),
        json!({"message": "d", "branch": "main"})
    );
    for r in &reqs {
        assert_std_headers(r);
    }
    // No write permission: 500 + AUTH-ERR-2 is Forbidden, not a retryable server error.
    let server = hub(json(
        500,
        json!({"code": "AUTH-ERR-2", "msg": "AUTH-ERR-2: forbidden"}),
    ))
    .await;
    let err = client(&server)
        .execute(endpoints::delete_file(RepoType::Space, &repo(), "a", &delete).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)));
    assert!(!err.is_transient());
    assert!(endpoints::create_file(RepoType::Space, &repo(), "a/../b", &create).is_err());
}

#[tokio::test]
async fn upload_file_multipart_form() {
    let server = hub(json(200, json!({"msg": "OK"}))).await;
    let files = vec![
        UploadFile {
            path: "dir/a b.txt".into(),
            data: Bytes::from_static(b"hello"),
        },
        UploadFile {
            path: "ü.bin".into(),
            data: Bytes::from_static(b"\x00\x01"),
        },
    ];
    let ep = endpoints::upload_file(RepoType::Code, &repo(), "main", "upload", &files).unwrap();
    client(&server).execute(ep).await.unwrap();
    let r = only_request(&server).await;
    assert_target(&r, "POST", "/api/v1/codes/ns/name/upload_file", None);
    assert_std_headers(&r);
    let ct = header(&r, "content-type").unwrap().to_owned();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8_lossy(&r.body);
    let names: Vec<&str> = body
        .match_indices("; name=\"")
        .map(|(i, _)| &body[i + 8..i + 8 + body[i + 8..].find('"').unwrap()])
        .collect();
    assert_eq!(
        names,
        vec![
            "file",
            "file",
            "file_path",
            "file_path",
            "message",
            "branch"
        ]
    );
    assert!(body.contains("filename=\"a b.txt\""));
    assert!(body.contains("\r\n\r\nhello\r\n"));
    assert!(body.contains("\r\n\r\ndir/a b.txt\r\n"));
    assert!(body.contains("\r\n\r\nmain\r\n"));
}

#[tokio::test]
async fn create_update_delete_repo() {
    let model = json!({"msg": "OK", "data": {"path": "ns/new", "name": "new", "private": true, "namespace": null}});
    let server = hub(json(200, model)).await;
    let c = client(&server);
    let m: Model = c
        .execute(endpoints::create_model(&CreateModelReq {
            name: "new".into(),
            namespace: Some("ns".into()),
            private: Some(true),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(m.path, "ns/new");
    c.execute(endpoints::create_dataset(&CreateDatasetReq {
        name: "d".into(),
        kind: Some(0),
        ..Default::default()
    }))
    .await
    .unwrap();
    let _: Code = c
        .execute(endpoints::create_repo::<Code>(&CreateRepoReq {
            name: "c".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let _: Model = c
        .execute(endpoints::update_repo::<Model>(
            &repo(),
            &UpdateRepoReq {
                default_branch: Some("dev".into()),
                private: Some(false),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    c.execute(endpoints::delete_repo(RepoType::Skill, &repo()))
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_target(&reqs[0], "POST", "/api/v1/models", None);
    assert_eq!(
        body_json(&reqs[0]),
        json!({"name": "new", "namespace": "ns", "private": true})
    );
    assert_target(&reqs[1], "POST", "/api/v1/datasets", None);
    assert_eq!(body_json(&reqs[1]), json!({"name": "d", "type": 0}));
    assert_target(&reqs[2], "POST", "/api/v1/codes", None);
    assert_target(&reqs[3], "PUT", "/api/v1/models/ns/name", None);
    assert_eq!(
        body_json(&reqs[3]),
        json!({"default_branch": "dev", "private": false})
    );
    assert_target(&reqs[4], "DELETE", "/api/v1/skills/ns/name", None);
    for r in &reqs {
        assert_std_headers(r);
    }
    let server = hub(json(400, json!({"code": "REPO-ERR-0", "msg": "exists"}))).await;
    let err = client(&server)
        .execute(endpoints::create_model(&CreateModelReq {
            name: "new".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)));
}

#[tokio::test]
async fn space_resources_then_create_space() {
    let list = json!({"msg": "OK", "total": 2, "data": [
        {"id": 7, "name": "cpu", "resources": "{}", "cluster_id": "c1", "is_available": false},
        {"id": 9, "name": "t4", "resources": "{}", "cluster_id": "c2", "is_available": true,
         "price": 1.5, "pay_mode": "minute", "type": "gpu"}]});
    let server = hub(json(200, list)).await;
    let resources = client(&server)
        .execute(endpoints::space_resources(0))
        .await
        .unwrap();
    assert_target(
        &only_request(&server).await,
        "GET",
        "/api/v1/space_resources",
        Some("deploy_type=0"),
    );
    // The first *available* one, or the one asked for.
    let chosen = csghub_api::generated::SpaceResource::choose(&resources, None).unwrap();
    assert_eq!((chosen.id, chosen.cluster_id.as_str()), (9, "c2"));
    assert_eq!(
        csghub_api::generated::SpaceResource::choose(&resources, Some(7)).map(|r| r.id),
        Some(7)
    );

    let server = hub(json(200, json!({"msg": "OK", "data": {"path": "ns/s"}}))).await;
    let generic = CreateRepoReq {
        name: "s".into(),
        namespace: Some("ns".into()),
        private: Some(true),
        ..Default::default()
    };
    let req = csghub_api::generated::CreateSpaceReq::new(&generic, "gradio", chosen);
    let s = client(&server)
        .execute(endpoints::create_space(&req))
        .await
        .unwrap();
    assert_eq!(s.path, "ns/s");
    let r = only_request(&server).await;
    assert_target(&r, "POST", "/api/v1/spaces", None);
    assert_eq!(
        body_json(&r),
        json!({"name": "s", "namespace": "ns", "private": true, "sdk": "gradio",
            "resource_id": 9, "cluster_id": "c2"})
    );
}
