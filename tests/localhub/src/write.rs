//! Write routes: repo create/update/delete, single-file raw writes, JSON and NDJSON commits,
//! preupload, `upload_file`, the LFS batch API with basic and multipart transfers, verify,
//! `complete_multipart`, and deploy instances (SERVER.md §8.4, §9, §11).

use std::sync::Arc;

use axum::http::Method;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Hub;
use crate::http::{self, Caller, Req, Resp, api_err, hf_err, json_resp, ok};
use crate::read::{deploy_json, repo_json};
use crate::routes::{RepoRef, Route};
use crate::store::{
    Change, Deploy, LfsInfo, MAX_UN_LFS_FILE_SIZE, MultipartUpload, RepoType, State, StoreError,
    lfs_key, matches_lfs, now_unix, rfc3339,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) async fn handle(hub: &Arc<Hub>, route: Route, req: &mut Req) -> Resp {
    match route {
        Route::HfCreateRepo => hf_create_repo(hub, req).await,
        Route::ApiCreateRepo { t } => api_create_repo(hub, req, t).await,
        Route::ApiRepo { r } if req.method == Method::PUT => update_repo(hub, req, &r).await,
        Route::ApiRepo { r } => delete_repo(hub, req, &r),
        Route::Raw { r, path } => raw_write(hub, req, &r, &path).await,
        Route::Preupload { r, rev } => preupload(hub, req, &r, &rev, false).await,
        Route::HfPreupload { r, rev } => preupload(hub, req, &r, &rev, true).await,
        Route::CommitJson { r, rev } => commit_json(hub, req, &r, &rev).await,
        Route::HfCommit { r, rev } => hf_commit(hub, req, &r, &rev).await,
        Route::UploadFile { r } => upload_file(hub, req, &r).await,
        Route::LfsBatch { r, hf } => lfs_batch(hub, req, &r, hf).await,
        Route::LfsPut { r, oid, size } => lfs_put(hub, req, &r, &oid, &size).await,
        Route::LfsVerify { r } => lfs_verify(hub, req, &r).await,
        Route::CompleteMultipart => complete_multipart(hub, req).await,
        Route::Deploy {
            r,
            finetune,
            id,
            action,
        } => deploy(hub, req, &r, finetune, id.as_deref(), action.as_deref()).await,
        _ => http::page_404(),
    }
}

fn save(hub: &Hub, st: &State) -> Option<Resp> {
    hub.store.save(st).err().map(http::io_500)
}

fn not_found_ctx(r: &RepoRef) -> Resp {
    api_err(
        404,
        "SYS-ERR-3",
        Some(json!({"repo_type": r.t.internal(), "path": format!("{}/{}", r.ns, r.name)})),
    )
}

/// Repo name rules (§4): 2-64 chars, letter first, no doubled separators.
fn valid_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    if !(2..=64).contains(&b.len()) {
        return Err("name must be 2-64 characters".into());
    }
    if !b[0].is_ascii_alphabetic() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Err("name must start with a letter and end with a letter or digit".into());
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err("name may only contain letters, digits, '-', '_' and '.'".into());
    }
    if ["--", "__", ".."].iter().any(|d| name.contains(d)) {
        return Err("name must not contain doubled '-', '_' or '.'".into());
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateRepoReq {
    namespace: String,
    name: String,
    nickname: String,
    description: String,
    private: bool,
    license: String,
    default_branch: String,
    #[serde(rename = "type")]
    kind: Value,
}

async fn hf_create_repo(hub: &Arc<Hub>, req: &mut Req) -> Resp {
    let user = {
        let st = hub.store.lock();
        match http::authenticate(&st, &req.headers) {
            Err(r) => return r,
            Ok(Caller::Anonymous) => return hf_err(401, "AUTH-ERR-1"),
            Ok(Caller::User(u)) => u,
        }
    };
    let body: CreateRepoReq = match req.json().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let t = match body.kind.as_str().unwrap_or("model") {
        "" | "model" => RepoType::Model,
        "dataset" => RepoType::Dataset,
        _ => return json_resp(400, json!({"msg": "Unsupported repo type"})),
    };
    // `namespace`/`organization` are ignored: always the caller's namespace (§8.4).
    let mut st = hub.store.lock();
    if let Some(existing) = st.repo(t, &user, &body.name) {
        let mut v = repo_json(&st, existing, Some(&user));
        v["url"] = json!(existing.path());
        return json_resp(409, v);
    }
    if let Err(detail) = valid_name(&body.name) {
        return json_resp(
            500,
            json!({"code": "REPO-ERR-1", "msg": "REPO-ERR-1", "context": {"detail": detail}}),
        );
    }
    create_common(hub, &mut st, t, &user, &user, &body, false)
}

fn create_common(
    hub: &Hub,
    st: &mut State,
    t: RepoType,
    ns: &str,
    user: &str,
    body: &CreateRepoReq,
    wrap: bool,
) -> Resp {
    if let Err(e) = hub
        .store
        .create_repo(st, t, ns, &body.name, body.private, user)
    {
        return http::io_500(e);
    }
    if let Some(repo) = st.repo_mut(t, ns, &body.name) {
        if !body.nickname.is_empty() {
            repo.nickname = body.nickname.clone();
        }
        repo.description = body.description.clone();
        if !body.license.is_empty() {
            repo.license = body.license.clone();
        }
        let db = body.default_branch.as_str();
        if !db.is_empty() && db != "main" {
            let main = repo.branches.remove("main");
            if let Some(c) = main {
                repo.branches.insert(db.to_string(), c);
            }
            repo.default_branch = db.to_string();
        }
    }
    if let Some(r) = save(hub, st) {
        return r;
    }
    let Some(repo) = st.repo(t, ns, &body.name) else {
        return http::io_500("repo vanished");
    };
    let v = repo_json(st, repo, Some(user));
    if wrap { ok(v) } else { json_resp(200, v) }
}

async fn api_create_repo(hub: &Arc<Hub>, req: &mut Req, t: RepoType) -> Resp {
    let user = {
        let st = hub.store.lock();
        match http::authenticate(&st, &req.headers) {
            Err(r) => return r,
            Ok(Caller::Anonymous) => return api_err(401, "AUTH-ERR-1", None),
            Ok(Caller::User(u)) => u,
        }
    };
    let raw: Value = match req.json().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // gin's `binding:"required"` on CreateSpaceReq: a non-empty sdk and cluster, a non-zero
    // resource (§9.1).
    if t == RepoType::Space
        && let Some(field) = missing_space_field(&raw)
    {
        return json_resp(
            400,
            json!({"code": "REQ-ERR-1", "msg": format!("REQ-ERR-1: invalid request body: Key: 'CreateSpaceReq.{field}' Error:Field validation for '{field}' failed on the 'required' tag")}),
        );
    }
    let body: CreateRepoReq = match serde_json::from_value(raw) {
        Ok(b) => b,
        Err(e) => {
            return json_resp(
                400,
                json!({"code": "REQ-ERR-1", "msg": format!("REQ-ERR-1: invalid request body: {e}")}),
            );
        }
    };
    let ns = if body.namespace.is_empty() {
        user.clone()
    } else {
        body.namespace.clone()
    };
    let mut st = hub.store.lock();
    if let Err(detail) = valid_name(&body.name) {
        return api_err(500, "REPO-ERR-1", Some(json!({"detail": detail})));
    }
    if !st.can_write_ns(&ns, Some(&user)) {
        return api_err(403, "AUTH-ERR-2", None);
    }
    if st.repo(t, &ns, &body.name).is_some() {
        return api_err(400, "REPO-ERR-0", None);
    }
    create_common(hub, &mut st, t, &ns, &user, &body, true)
}

/// The first required CreateSpaceReq field that is absent or zero, by its Go name.
fn missing_space_field(body: &Value) -> Option<&'static str> {
    let empty_str = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    };
    if empty_str("cluster_id") {
        Some("ClusterID")
    } else if body
        .get("resource_id")
        .and_then(Value::as_i64)
        .is_none_or(|v| v == 0)
    {
        Some("ResourceID")
    } else if empty_str("sdk") {
        Some("Sdk")
    } else {
        None
    }
}

async fn update_repo(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef) -> Resp {
    let c = {
        let st = hub.store.lock();
        match http::authenticate(&st, &req.headers) {
            Err(r) => return r,
            Ok(c) => c,
        }
    };
    let body: Value = match req.json().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    if !st.can_write(repo, c.user()) {
        return api_err(403, "AUTH-ERR-2", None);
    }
    let Some(repo) = st.repo_mut(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    if let Some(v) = body.get("nickname").and_then(Value::as_str) {
        repo.nickname = v.to_string();
    }
    if let Some(v) = body.get("description").and_then(Value::as_str) {
        repo.description = v.to_string();
    }
    if let Some(v) = body.get("private").and_then(Value::as_bool) {
        repo.private = v;
    }
    if let Some(v) = body.get("default_branch").and_then(Value::as_str)
        && repo.branches.contains_key(v)
    {
        repo.default_branch = v.to_string();
    }
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    match st.repo(r.t, &r.ns, &r.name) {
        Some(repo) => ok(repo_json(&st, repo, c.user())),
        None => not_found_ctx(r),
    }
}

fn delete_repo(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let mut st = hub.store.lock();
    let c = match http::authenticate(&st, &req.headers) {
        Err(r) => return r,
        Ok(c) => c,
    };
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    if !st.can_admin(repo, c.user()) {
        return api_err(403, "AUTH-ERR-2", None);
    }
    st.repos
        .remove(&crate::store::repo_key(r.t, &r.ns, &r.name));
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    ok(Value::Null)
}

/// Keep only base64 characters, as the server cleans commit content.
fn clean_b64(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FileReq {
    message: String,
    branch: String,
    content: String,
    new_branch: String,
    original_content: String,
    origin_path: String,
}

fn write_caller(hub: &Hub, req: &Req, r: &RepoRef) -> Result<(Caller, bool), Resp> {
    let st = hub.store.lock();
    let c = http::authenticate(&st, &req.headers)?;
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return Err(not_found_ctx(r));
    };
    let can = st.can_write(repo, c.user());
    Ok((c, can))
}

/// `POST|PUT|DELETE .../raw/{path}` (§9.3-§9.5).
async fn raw_write(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef, path: &str) -> Resp {
    let (c, can) = match write_caller(hub, req, r) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let method = req.method.clone();
    let raw = match req.bytes(64 << 20).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if method == Method::DELETE && raw.is_empty() {
        return api_err(400, "REQ-ERR-1", None);
    }
    let body: FileReq = match serde_json::from_slice(&raw) {
        Ok(b) => b,
        Err(_) => return api_err(400, "REQ-ERR-1", None),
    };
    if !can {
        let code = if method == Method::POST {
            "AUTH-ERR-0"
        } else {
            "AUTH-ERR-2"
        };
        return api_err(500, code, None);
    }
    let user = c.user().unwrap_or_default().to_string();
    let mut st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    let branch = if body.branch.is_empty() {
        repo.default_branch.clone()
    } else {
        body.branch.clone()
    };
    let Some(tip) = st.commit_at(repo, &branch) else {
        return api_err(500, "GIT-ERR-11", None);
    };
    let exists = tip.tree.contains_key(path);
    let patterns = hub.store.patterns_of(&tip.tree);
    let (target, start) = if body.new_branch.is_empty() {
        (branch.clone(), None)
    } else {
        (body.new_branch.clone(), Some(branch.as_str()))
    };
    let change = if method == Method::DELETE {
        if !exists {
            return api_err(500, "GIT-ERR-15", None);
        }
        Change::Delete(path.to_string())
    } else {
        if method == Method::POST && exists {
            return api_err(500, "GIT-ERR-22", None);
        }
        if method == Method::PUT && !exists && body.origin_path.is_empty() {
            return api_err(500, "GIT-ERR-15", None);
        }
        match file_change(hub, &patterns, path, &body.content, &body.original_content) {
            Ok(ch) => ch,
            Err(resp) => return resp,
        }
    };
    let mut changes = Vec::new();
    if method == Method::PUT && !body.origin_path.is_empty() && body.origin_path != path {
        changes.push(Change::Delete(body.origin_path.clone()));
    }
    changes.push(change);
    let msg = if body.message.is_empty() {
        format!("update {path}")
    } else {
        body.message.clone()
    };
    match hub.store.commit(
        &mut st, r.t, &r.ns, &r.name, &target, start, changes, &msg, &user,
    ) {
        Ok(_) => {}
        Err(StoreError::FileNotFound(p)) => {
            return json_resp(500, json!({"msg": format!("file not found: {p}")}));
        }
        Err(e) => return http::io_500(e),
    }
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    ok(json!({}))
}

/// LFS by `.gitattributes` (basename): the object is `original_content`; else the base64 text
/// must fit the non-LFS limit.
fn file_change(
    hub: &Hub,
    patterns: &[String],
    path: &str,
    content_b64: &str,
    original_b64: &str,
) -> Result<Change, Resp> {
    if matches_lfs(patterns, path) {
        let bytes = B64.decode(clean_b64(original_b64)).map_err(|e| {
            json_resp(
                500,
                json!({"msg": format!("invalid original_content: {e}")}),
            )
        })?;
        let info = hub.store.put_lfs_bytes(&bytes).map_err(http::io_500)?;
        return Ok(Change::PutLfs(path.to_string(), info));
    }
    if content_b64.len() as u64 > MAX_UN_LFS_FILE_SIZE {
        return Err(json_resp(
            500,
            json!({"msg": "file size exceeds the limit of non-LFS file"}),
        ));
    }
    let bytes = B64
        .decode(clean_b64(content_b64))
        .map_err(|e| json_resp(500, json!({"msg": format!("invalid content: {e}")})))?;
    Ok(Change::PutRaw(path.to_string(), bytes))
}

#[derive(Deserialize)]
struct PreuploadReq {
    files: Vec<PreuploadFile>,
}

#[derive(Deserialize)]
struct PreuploadFile {
    path: String,
    #[serde(default)]
    size: i64,
}

/// `preupload/{rev}` (§9.7): the mode, existing oid, ignore and dir flags per file.
async fn preupload(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef, rev: &str, hf: bool) -> Resp {
    let (c, can) = match write_caller(hub, req, r) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if !hf && c.user().is_none() {
        return api_err(401, "AUTH-ERR-1", None);
    }
    let body: PreuploadReq = match req.json().await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if !can {
        return if hf {
            hf_err(500, "AUTH-ERR-2")
        } else {
            api_err(500, "AUTH-ERR-2", None)
        };
    }
    let st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    let empty = Default::default();
    let tree = st.commit_at(repo, rev).map_or(&empty, |c| &c.tree);
    let patterns = hub.store.patterns_of(tree);
    let ignores: Vec<String> = tree
        .get(".gitignore")
        .and_then(|e| hub.store.read_blob(&e.sha1).ok())
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let files: Vec<Value> = body
        .files
        .iter()
        .map(|f| {
            let lfs = matches_lfs(&patterns, &f.path) || f.size as u64 > MAX_UN_LFS_FILE_SIZE;
            let oid = tree.get(&f.path).map_or(String::new(), |e| {
                e.lfs.as_ref().map_or(e.sha1.clone(), |l| l.oid.clone())
            });
            let prefix = format!("{}/", f.path);
            let is_dir = tree.keys().any(|k| k.starts_with(&prefix));
            let ignored = matches_lfs(
                &ignores
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect::<Vec<_>>(),
                &f.path,
            );
            json!({"path": f.path, "uploadMode": if lfs { "lfs" } else { "regular" }, "oid": oid,
                   "shouldIgnore": ignored, "isDir": is_dir})
        })
        .collect();
    let v = json!({"files": files});
    if hf { json_resp(200, v) } else { ok(v) }
}

#[derive(Deserialize)]
struct CommitReq {
    #[serde(default)]
    message: String,
    files: Vec<CommitFile>,
}

#[derive(Deserialize)]
struct CommitFile {
    path: String,
    action: String,
    #[serde(default)]
    content: String,
}

fn commit_error(msg: impl std::fmt::Display) -> Resp {
    json_resp(500, json!({"error": msg.to_string()}))
}

/// `POST /api/v1/.../commit/{rev}` (§9.6): errors are `{"error"}`; a `delete` of an existing
/// file becomes an `update` with empty content (the file is truncated, not removed).
async fn commit_json(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef, rev: &str) -> Resp {
    let (c, can) = match write_caller(hub, req, r) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let body: CommitReq = match req.bytes(1 << 30).await.map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return commit_error(format!("invalid request body: {e}")),
        Err(resp) => return resp,
    };
    if !can {
        return commit_error("permission denied: user has no write permission on this repository");
    }
    let user = c.user().unwrap_or_default().to_string();
    let mut st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return commit_error("repo not found");
    };
    let Some(tip) = st
        .commit_at(repo, rev)
        .filter(|_| repo.branches.contains_key(rev))
    else {
        return commit_error(format!("branch {rev} not found"));
    };
    let existing = tip.tree.clone();
    let mut changes = Vec::new();
    for f in &body.files {
        let exists = existing.contains_key(&f.path);
        let action = if exists { "update" } else { f.action.as_str() };
        match action {
            "create" | "update" => {
                let content = if f.action == "delete" {
                    Vec::new()
                } else {
                    match B64.decode(clean_b64(&f.content)) {
                        Ok(b) => b,
                        Err(e) => {
                            return commit_error(format!(
                                "invalid base64 content for {}: {e}",
                                f.path
                            ));
                        }
                    }
                };
                changes.push(Change::PutRaw(f.path.clone(), content));
            }
            // Deleting a file that does not exist.
            "delete" => return commit_error(format!("file {} not found", f.path)),
            other => return commit_error(format!("invalid action {other}")),
        }
    }
    let msg = if body.message.is_empty() {
        "commit files".to_string()
    } else {
        body.message
    };
    if let Err(e) = hub.store.commit(
        &mut st, r.t, &r.ns, &r.name, rev, None, changes, &msg, &user,
    ) {
        return commit_error(e);
    }
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    json_resp(200, json!({"msg": "OK"}))
}

/// HF NDJSON commit (§9.7).
async fn hf_commit(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef, rev: &str) -> Resp {
    let (c, can) = match write_caller(hub, req, r) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let raw = match req.bytes(1 << 30).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if !can {
        return commit_error("permission denied");
    }
    let mut summary = "initial commit".to_string();
    let mut changes = Vec::new();
    for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if line.len() as u64 > MAX_UN_LFS_FILE_SIZE {
            return json_resp(400, json!({"msg": "bufio.Scanner: token too long"}));
        }
        let v: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => return json_resp(400, json!({"msg": format!("invalid line: {e}")})),
        };
        let val = &v["value"];
        let path = val["path"].as_str().unwrap_or("").to_string();
        match v["key"].as_str().unwrap_or("") {
            "header" => {
                if let Some(s) = val["summary"].as_str().filter(|s| !s.is_empty()) {
                    summary = s.to_string();
                }
            }
            "file" => match B64.decode(clean_b64(val["content"].as_str().unwrap_or(""))) {
                Ok(b) => changes.push(Change::PutRaw(path, b)),
                Err(e) => return json_resp(400, json!({"msg": format!("invalid base64: {e}")})),
            },
            "lfsFile" => {
                let oid = val["oid"].as_str().unwrap_or("").to_ascii_lowercase();
                let size = val["size"].as_u64().unwrap_or(0);
                changes.push(Change::PutLfs(path, LfsInfo { oid, size }));
            }
            "deletedFile" | "deletedFolder" => changes.push(Change::PutRaw(path, Vec::new())),
            _ => return json_resp(400, json!({"msg": "unknown key type"})),
        }
    }
    let user = c.user().unwrap_or_default().to_string();
    let mut st = hub.store.lock();
    if let Err(e) = hub.store.commit(
        &mut st, r.t, &r.ns, &r.name, rev, None, changes, &summary, &user,
    ) {
        return commit_error(e);
    }
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    json_resp(
        200,
        json!({"commitUrl": format!("{}/{}", r.ns, r.name), "commitOid": ""}),
    )
}

/// `POST .../upload_file` multipart form (§9.11): each file committed separately.
async fn upload_file(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef) -> Resp {
    let (c, can) = match write_caller(hub, req, r) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let ct = req.header("content-type").unwrap_or("").to_string();
    let Some(boundary) = ct
        .split("boundary=")
        .nth(1)
        .map(|b| b.trim_matches('"').to_string())
    else {
        return api_err(400, "REQ-ERR-1", None);
    };
    let raw = match req.bytes(1 << 30).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let parts = match parse_multipart(&raw, &boundary) {
        Some(p) => p,
        None => return api_err(400, "REQ-ERR-1", None),
    };
    let mut files = Vec::new();
    let mut paths = Vec::new();
    let (mut message, mut branch) = (String::new(), String::new());
    for (name, data) in parts {
        match name.as_str() {
            "file" => files.push(data),
            "file_path" => paths.push(String::from_utf8_lossy(&data).into_owned()),
            "message" => message = String::from_utf8_lossy(&data).into_owned(),
            "branch" => branch = String::from_utf8_lossy(&data).into_owned(),
            _ => {}
        }
    }
    if paths.len() < files.len() {
        // Index out of range in the handler: recovered panic, bare 500.
        return http::raw_resp(500, "text/plain", "");
    }
    if !can {
        return api_err(500, "AUTH-ERR-2", None);
    }
    let user = c.user().unwrap_or_default().to_string();
    let mut st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    if branch.is_empty() {
        branch = repo.default_branch.clone();
    }
    for (data, path) in files.into_iter().zip(paths) {
        let Some(tip) = st
            .repo(r.t, &r.ns, &r.name)
            .and_then(|repo| st.commit_at(repo, &branch))
        else {
            return api_err(500, "GIT-ERR-11", None);
        };
        let patterns = hub.store.patterns_of(&tip.tree);
        let change = if matches_lfs(&patterns, &path) {
            match hub.store.put_lfs_bytes(&data) {
                Ok(info) => Change::PutLfs(path.clone(), info),
                Err(e) => return http::io_500(e),
            }
        } else {
            if data.len().div_ceil(3) * 4 > MAX_UN_LFS_FILE_SIZE as usize {
                return json_resp(
                    500,
                    json!({"msg": "file size exceeds the limit of non-LFS file"}),
                );
            }
            Change::PutRaw(path.clone(), data)
        };
        let msg = if message.is_empty() {
            format!("upload {path}")
        } else {
            message.clone()
        };
        if let Err(e) = hub.store.commit(
            &mut st,
            r.t,
            &r.ns,
            &r.name,
            &branch,
            None,
            vec![change],
            &msg,
            &user,
        ) {
            return http::io_500(e);
        }
    }
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    json_resp(200, json!({"msg": "OK"}))
}

/// Minimal multipart/form-data parser: (field name, bytes) pairs.
fn parse_multipart(body: &[u8], boundary: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut out = Vec::new();
    let mut pos = find(body, d, 0)? + d.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(out);
        }
        pos += 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let data_start = head_end + 4;
        let next = find(body, d, data_start)?;
        let data_end = next.checked_sub(2)?; // CRLF before the delimiter
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_string())
            .unwrap_or_default();
        out.push((name, body.get(data_start..data_end)?.to_vec()));
        pos = next + d.len();
    }
}

#[derive(Deserialize)]
struct BatchReq {
    operation: String,
    #[serde(default)]
    transfers: Vec<String>,
    #[serde(default)]
    objects: Vec<BatchObject>,
    #[serde(default)]
    upload_id: String,
}

#[derive(Deserialize)]
struct BatchObject {
    oid: String,
    size: i64,
}

fn lfs_json(status: u16, v: Value) -> Resp {
    let mut r = json_resp(status, v);
    http::set(&mut r, "content-type", "application/vnd.git-lfs+json");
    r
}

fn valid_oid(oid: &str) -> bool {
    oid.len() == 64
        && oid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// LFS batch (§9.8).
async fn lfs_batch(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef, hf: bool) -> Resp {
    let caller = {
        let st = hub.store.lock();
        if hf {
            match http::authenticate(&st, &req.headers) {
                Ok(c) => c,
                Err(resp) => return resp,
            }
        } else {
            http::authenticate_git(&st, &req.headers)
        }
    };
    let auth_header = req.header("authorization").map(str::to_string);
    let raw = match req.bytes(16 << 20).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let body: BatchReq = match serde_json::from_slice(&raw) {
        Ok(b) => b,
        Err(e) => return api_err(400, "REQ-ERR-1", Some(json!({"detail": e.to_string()}))),
    };
    let upload = match body.operation.as_str() {
        "upload" => true,
        "download" => false,
        _ => return lfs_json(400, json!({})),
    };
    let mut st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name).cloned() else {
        return json_resp(500, json!({"msg": "not found"}));
    };
    let user = caller.user();
    let unauthorized = || {
        let mut resp = lfs_json(401, Value::Null);
        http::set(&mut resp, "www-authenticate", "Basic realm=opencsg-git");
        resp
    };
    if upload && user.is_none() {
        return unauthorized();
    }
    if !st.can_read(&repo, user) {
        return if user.is_none() {
            unauthorized()
        } else {
            json_resp(500, json!({"msg": "not found"}))
        };
    }
    if upload && !st.can_write(&repo, user) {
        return lfs_json(
            403,
            json!({"error": "You do not have permission to access this repository."}),
        );
    }
    let git_base = format!(
        "{}/{}/{}/{}.git/info/lfs",
        hub.base,
        r.t.git_segment(),
        repo.namespace,
        repo.name
    );
    let mut auth_h = serde_json::Map::new();
    if let Some(a) = &auth_header {
        auth_h.insert("Authorization".into(), json!(a));
    }
    let multipart = upload && body.transfers.iter().any(|t| t == "multipart");
    let mut objects = Vec::new();
    for o in &body.objects {
        let oid = o.oid.to_ascii_lowercase();
        if !valid_oid(&o.oid) || o.size < 0 {
            objects
                .push(json!({"oid": o.oid, "size": o.size, "error": {"code": 0, "message": ""}}));
            continue;
        }
        let size = o.size as u64;
        if !upload {
            if !repo.lfs_objects.contains(&oid) || !hub.store.has_lfs_object(&oid) {
                objects.push(json!({"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}}));
            } else {
                let href = hub.presign("GET", &lfs_key(&oid), &[]);
                objects.push(
                    json!({"oid": oid, "size": size, "actions": {"download": {"href": href}}}),
                );
            }
            continue;
        }
        if repo.lfs_objects.contains(&oid) && hub.store.has_lfs_object(&oid) {
            // Already registered for this repo: no actions, skip it.
            objects.push(json!({"oid": oid, "size": size}));
            continue;
        }
        let mut verify_h = auth_h.clone();
        verify_h.insert("Accept".into(), json!("application/vnd.git-lfs+json"));
        let verify = json!({"href": format!("{git_base}/verify"), "header": verify_h});
        let mut obj = json!({"oid": oid, "size": size});
        if multipart {
            let key = lfs_key(&oid);
            let min = hub.config().min_multipart_size.max(1);
            let chunk = size.div_ceil(1000).max(min);
            let parts = size.div_ceil(chunk);
            let upload_id = if !body.upload_id.is_empty()
                && st
                    .uploads
                    .get(&body.upload_id)
                    .is_some_and(|u| u.object_key == key)
            {
                body.upload_id.clone()
            } else {
                let id = format!("{:016x}{:08x}", now_unix(), st.next_id());
                st.uploads.insert(
                    id.clone(),
                    MultipartUpload {
                        object_key: key.clone(),
                        size,
                        chunk_size: chunk,
                        parts: Default::default(),
                        part_sizes: Default::default(),
                    },
                );
                id
            };
            let mut header = serde_json::Map::new();
            header.insert("chunk_size".into(), json!(chunk.to_string()));
            for i in 1..=parts {
                let n = i.to_string();
                let url = hub.presign("PUT", &key, &[("partNumber", &n), ("uploadId", &upload_id)]);
                header.insert(n, json!(url));
            }
            let expires = rfc3339(now_unix() + hub.config().presign_ttl_secs);
            let sig = hub.sign_completion(&key, &upload_id, &expires);
            let href = format!(
                "{}/api/v1/complete_multipart?objectKey={}&uploadId={}&expiresAt={}&signature={}",
                hub.base,
                crate::routes::query_escape(&key),
                upload_id,
                crate::routes::query_escape(&expires),
                sig
            );
            obj["actions"] = json!({"upload": {"href": href, "header": header}, "verify": verify});
        } else {
            obj["actions"] = json!({
                "upload": {"href": format!("{git_base}/objects/{oid}/{size}"), "header": auth_h.clone()},
                "verify": verify,
            });
            if size > 5 << 30 {
                obj["error"] =
                    json!({"code": 422, "message": "Please use csghub-sdk to upload files > 5GB."});
            }
        }
        objects.push(obj);
    }
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    let mut v = json!({"objects": objects});
    if upload {
        v["transfer"] = json!(if multipart { "multipart" } else { "basic" });
    }
    lfs_json(200, v)
}

/// Basic LFS PUT through the server (§9.9): size and sha256 validated.
async fn lfs_put(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef, oid: &str, size: &str) -> Resp {
    let can = {
        let st = hub.store.lock();
        let c = http::authenticate_git(&st, &req.headers);
        if c.user().is_none() {
            return api_err(401, "AUTH-ERR-0", None);
        }
        match st.repo(r.t, &r.ns, &r.name) {
            None => return json_resp(500, json!({"msg": "not found"})),
            Some(repo) => st.can_write(repo, c.user()),
        }
    };
    if !can {
        // The handler writes 401 and then a second JSON document (missing return).
        let body = format!(
            "{}{}",
            json!({"code": "AUTH-ERR-2", "msg": "AUTH-ERR-2"}),
            json!({"code": "SYS-ERR-0", "msg": "permission denied"})
        );
        return http::raw_resp(401, "application/json; charset=utf-8", body);
    }
    let Ok(want_size) = size.parse::<u64>() else {
        return api_err(400, "REQ-ERR-0", None);
    };
    let tmp = hub.store.temp_path();
    let (n, sha) = match req.to_file(&tmp, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if n != want_size || sha != oid {
        let _ = std::fs::remove_file(&tmp);
        return json_resp(
            500,
            json!({"code": "SYS-ERR-0", "msg": format!("lfs object validation failed: got size {n} sha256 {sha}")}),
        );
    }
    if let Err(e) = hub.store.adopt_lfs_file(&tmp, oid) {
        return http::io_500(e);
    }
    http::raw_resp(200, "text/plain", "")
}

#[derive(Deserialize)]
struct VerifyReq {
    oid: String,
    size: u64,
}

/// Verify (§9.9): object exists with that size → registered for the repo. No permission check.
async fn lfs_verify(hub: &Arc<Hub>, req: &mut Req, r: &RepoRef) -> Resp {
    let body: VerifyReq = match req.json().await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let oid = body.oid.to_ascii_lowercase();
    let actual = std::fs::metadata(hub.store.lfs_path(&oid))
        .map(|m| m.len())
        .ok();
    if !valid_oid(&oid) || actual != Some(body.size) {
        return api_err(
            400,
            "REQ-ERR-0",
            Some(json!({"detail": "object not found or size mismatch"})),
        );
    }
    let mut st = hub.store.lock();
    let Some(repo) = st.repo_mut(r.t, &r.ns, &r.name) else {
        return json_resp(500, json!({"msg": "not found"}));
    };
    repo.lfs_objects.insert(oid);
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    lfs_json(200, Value::Null)
}

#[derive(Deserialize)]
struct CompleteReq {
    #[serde(default)]
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct CompletePart {
    #[serde(rename = "partNumber")]
    part_number: u32,
    etag: String,
}

/// `POST /api/v1/complete_multipart` (§9.10): no auth, HMAC in the query; a bad signature is a
/// 200 with `{"msg":"invalid signature"}`; success is a 200 with an empty body.
async fn complete_multipart(hub: &Arc<Hub>, req: &mut Req) -> Resp {
    let (Some(key), Some(upload_id), Some(expires), Some(sig)) = (
        req.q("objectKey").map(str::to_string),
        req.q("uploadId").map(str::to_string),
        req.q("expiresAt").map(str::to_string),
        req.q("signature").map(str::to_string),
    ) else {
        return api_err(400, "REQ-ERR-0", None);
    };
    let expired = {
        let now = rfc3339(now_unix());
        // RFC 3339 UTC strings of equal shape compare in time order.
        expires.len() == now.len() && expires < now
    };
    if sig != hub.sign_completion(&key, &upload_id, &expires) || expired {
        return json_resp(200, json!({"msg": "invalid signature"}));
    }
    let body: CompleteReq = match req.json().await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let upload = {
        let st = hub.store.lock();
        match st.uploads.get(&upload_id) {
            Some(u) if u.object_key == key => u.clone(),
            _ => {
                return json_resp(
                    404,
                    json!({"msg": "complete multipart upload failed: NoSuchUpload"}),
                );
            }
        }
    };
    let expected = upload.size.div_ceil(upload.chunk_size.max(1));
    let ok_parts = body.parts.len() as u64 == expected
        && body.parts.iter().enumerate().all(|(i, p)| {
            p.part_number as usize == i + 1
                && upload
                    .parts
                    .get(&p.part_number)
                    .is_some_and(|e| e.trim_matches('"') == p.etag.trim_matches('"'))
        });
    if !ok_parts {
        return json_resp(
            400,
            json!({"msg": "complete multipart upload failed: InvalidPart: One or more of the specified parts could not be found."}),
        );
    }
    // Every part but the last is exactly chunk_size, and together they make the declared size.
    let sizes_ok = (1..=expected as u32).all(|i| {
        let want = upload
            .chunk_size
            .min(upload.size - u64::from(i - 1) * upload.chunk_size);
        upload.part_sizes.get(&i) == Some(&want)
    });
    if !sizes_ok {
        return json_resp(
            400,
            json!({"msg": "complete multipart upload failed: EntityTooSmall: Your proposed upload is smaller than the minimum allowed object size."}),
        );
    }
    // The parts already sit at their offsets in one file: completing is a rename.
    let tmp = hub.store.multipart_data_path(&upload_id);
    // A failed attempt may have written past the end; the object is exactly `size` bytes.
    let trimmed = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&tmp)
        .and_then(|f| f.set_len(upload.size));
    if let Err(e) = trimmed {
        return http::io_500(e);
    }
    let Some(dest) = hub.store.object_key_path(&key) else {
        return api_err(400, "REQ-ERR-0", None);
    };
    if let Some(parent) = dest.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    // The server does not check the sha256 of multipart uploads: the object is stored as sent.
    if let Err(e) = std::fs::rename(&tmp, &dest) {
        return http::io_500(e);
    }
    let mut st = hub.store.lock();
    st.uploads.remove(&upload_id);
    if let Some(resp) = save(hub, &st) {
        return resp;
    }
    http::raw_resp(200, "text/plain", "")
}

/// Inference (`run`) and fine-tune instances (§11).
async fn deploy(
    hub: &Arc<Hub>,
    req: &mut Req,
    r: &RepoRef,
    finetune: bool,
    id: Option<&str>,
    action: Option<&str>,
) -> Resp {
    let c = {
        let st = hub.store.lock();
        match http::authenticate(&st, &req.headers) {
            Err(resp) => return resp,
            Ok(c) => c,
        }
    };
    let Some(user) = c.user().map(str::to_string) else {
        return api_err(401, "AUTH-ERR-1", None);
    };
    let body: Value = if req.method == Method::POST {
        match req.json().await {
            Ok(b) => b,
            Err(resp) => return resp,
        }
    } else {
        Value::Null
    };
    let mut st = hub.store.lock();
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return not_found_ctx(r);
    };
    let model = repo.path();
    if !st.can_read(repo, Some(&user)) {
        return api_err(403, "AUTH-ERR-2", None);
    }
    let deploy_type = if finetune { 2 } else { 1 };
    let Some(id) = id else {
        if req.method == Method::GET {
            let list: Vec<Value> = st
                .deploys
                .values()
                .filter(|d| d.model == model && d.deploy_type == 1)
                .map(deploy_json)
                .collect();
            return ok(Value::Array(list));
        }
        let name = body["deploy_name"].as_str().unwrap_or("").to_string();
        if let Err(detail) = valid_name(&name) {
            return api_err(400, "REQ-ERR-0", Some(json!({"detail": detail})));
        }
        let id = st.next_id();
        st.deploys.insert(
            id,
            Deploy {
                id,
                deploy_type,
                user: user.clone(),
                model,
                deploy_name: name,
                status: "Deploying".into(),
                created_at: rfc3339(now_unix()),
            },
        );
        if let Some(resp) = save(hub, &st) {
            return resp;
        }
        return ok(json!({"deploy_id": id}));
    };
    let Some(d) = id
        .parse::<i64>()
        .ok()
        .and_then(|i| st.deploys.get(&i))
        .cloned()
    else {
        return api_err(404, "SYS-ERR-3", None);
    };
    if d.model != model || d.deploy_type != deploy_type {
        return api_err(404, "SYS-ERR-3", None);
    }
    if d.user != user {
        return api_err(403, "AUTH-ERR-2", None);
    }
    match (req.method.as_str(), action) {
        ("GET", None) => ok(deploy_json(&d)),
        ("DELETE", None) => {
            st.deploys.remove(&d.id);
            if let Some(resp) = save(hub, &st) {
                return resp;
            }
            ok(Value::Null)
        }
        ("PUT", Some(a)) => {
            let status = match a {
                "start" | "wakeup" => "Running",
                _ => "Stopped",
            };
            if let Some(x) = st.deploys.get_mut(&d.id) {
                x.status = status.to_string();
            }
            if let Some(resp) = save(hub, &st) {
                return resp;
            }
            ok(Value::Null)
        }
        _ => http::page_404(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_follow_server_rules() {
        assert!(valid_name("demo-model").is_ok());
        assert!(valid_name("a").is_err());
        assert!(valid_name("1abc").is_err());
        assert!(valid_name("ab--c").is_err());
        assert!(valid_name("abc-").is_err());
    }

    #[test]
    fn multipart_form_parses_fields() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\na/b.txt\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--XX--\r\n";
        let parts = parse_multipart(body, "XX").unwrap();
        assert_eq!(
            parts,
            vec![
                ("file_path".into(), b"a/b.txt".to_vec()),
                ("file".into(), b"hello".to_vec())
            ]
        );
    }
}
