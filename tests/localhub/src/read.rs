//! Read routes: repo info, trees, refs, commits, blobs, downloads, tokens, lists (SERVER.md §5-§8,
//! §10, §11).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::Method;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::http::{self, Caller, Req, Resp, api_err, hf_err, json_resp, not_found, ok};
use crate::routes::RepoRef;
use crate::store::{Commit, Entry, Repo, RepoType, State, lfs_key};
use crate::{Fault, Hub};

/// Zero-valued commit as Go serialises an empty `types.Commit`.
fn zero_commit() -> Value {
    json!({"id": "", "committer_name": "", "committer_email": "", "committer_date": "",
           "created_at": "", "message": "", "author_name": "", "author_email": "", "authored_date": ""})
}

/// `types.Commit`.
pub(crate) fn commit_json(c: &Commit) -> Value {
    json!({
        "id": c.id,
        "committer_name": c.author,
        "committer_email": c.email,
        "committer_date": c.date,
        "created_at": c.date,
        "message": html_escape(c.message.lines().next().unwrap_or("")),
        "author_name": c.author,
        "author_email": c.email,
        "authored_date": c.date,
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `types.File` for a file entry.
fn file_json(path: &str, e: &Entry) -> Value {
    let (lfs_sha, rel) = match &e.lfs {
        Some(l) => (
            l.oid.clone(),
            lfs_key(&l.oid).trim_start_matches("lfs/").to_string(),
        ),
        None => (String::new(), String::new()),
    };
    json!({
        "name": base(path),
        "type": "file",
        "size": e.size(),
        "path": path,
        "mode": "33188",
        "sha": e.sha1,
        "lfs": e.lfs.is_some(),
        "lfs_sha256": lfs_sha,
        "lfs_pointer_size": if e.lfs.is_some() { e.blob_size } else { 0 },
        "lfs_relative_path": rel,
        "commit": zero_commit(),
        "last_commit_sha": "",
        "url": "",
        "xnet_enabled": false,
    })
}

/// A directory's pseudo tree id (the hub keeps flat trees).
fn dir_sha(tree: &BTreeMap<String, Entry>, dir: &str) -> String {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    let prefix = format!("{dir}/");
    for (p, e) in tree.range(prefix.clone()..) {
        if !p.starts_with(&prefix) {
            break;
        }
        h.update(p.as_bytes());
        h.update(e.sha1.as_bytes());
    }
    hex::encode(h.finalize())
}

fn dir_json(tree: &BTreeMap<String, Entry>, path: &str) -> Value {
    json!({
        "name": base(path), "type": "dir", "size": 0, "path": path, "mode": "16384",
        "sha": dir_sha(tree, path), "lfs": false, "lfs_sha256": "", "lfs_pointer_size": 0,
        "lfs_relative_path": "", "commit": zero_commit(), "last_commit_sha": "", "url": "",
        "xnet_enabled": false,
    })
}

/// Immediate children of `dir` ("" = root): directories first, then files, each by name.
/// `None` when the directory does not exist.
fn children(tree: &BTreeMap<String, Entry>, dir: &str) -> Option<(Vec<String>, Vec<String>)> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut dirs = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for p in tree.keys() {
        let Some(rest) = p.strip_prefix(&prefix) else {
            continue;
        };
        match rest.split_once('/') {
            Some((d, _)) => {
                dirs.insert(format!("{prefix}{d}"));
            }
            None => files.push(p.clone()),
        }
    }
    if dirs.is_empty() && files.is_empty() && !dir.is_empty() {
        return None;
    }
    Some((dirs.into_iter().collect(), files))
}

/// Caller of an `/api/v1` or `/hf` route, or the 401 for a bad token.
fn caller(st: &State, req: &Req) -> Result<Caller, Resp> {
    http::authenticate(st, &req.headers)
}

/// The `/api/v1/{type}/{ns}/{name}/...` preamble: Authenticator → RepoExists → NeedLogin
/// (datasets' read routes, §4) → read permission (`deny` is the status the route uses).
fn api_repo<'a>(
    st: &'a State,
    req: &Req,
    r: &RepoRef,
    dataset_login: bool,
    deny: (u16, &str),
) -> Result<(&'a Repo, Caller), Resp> {
    let c = caller(st, req)?;
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return Err(api_err(
            404,
            "SYS-ERR-3",
            Some(json!({"repo_type": r.t.internal(), "path": format!("{}/{}", r.ns, r.name)})),
        ));
    };
    if dataset_login && r.t == RepoType::Dataset && c.user().is_none() {
        return Err(api_err(401, "AUTH-ERR-1", None));
    }
    if !st.can_read(repo, c.user()) {
        return Err(api_err(deny.0, deny.1, None));
    }
    Ok((repo, c))
}

/// One page of a list and the list's total.
fn page_of(all: Vec<Value>, per: i64, page: i64) -> (Vec<Value>, usize) {
    let total = all.len();
    let data = all
        .into_iter()
        .skip(((page - 1) * per) as usize)
        .take(per as usize)
        .collect();
    (data, total)
}

/// `per`/`page` validation (1-100, ≥1; 400 `REQ-ERR-6`).
fn paging(req: &Req, default_per: i64) -> Result<(i64, i64), Resp> {
    let bad = || api_err(400, "REQ-ERR-6", None);
    let per = match req.q("per") {
        None | Some("") => default_per,
        Some(s) => s.parse().map_err(|_| bad())?,
    };
    let page = match req.q("page") {
        None | Some("") => 1,
        Some(s) => s.parse().map_err(|_| bad())?,
    };
    if !(1..=100).contains(&per) || page < 1 {
        return Err(bad());
    }
    Ok((per, page))
}

/// GET/HEAD resolve (§7.2, §7.3). `hf` = the `/hf|/csg|/ms` family.
pub fn resolve(
    hub: &Arc<Hub>,
    req: &Req,
    r: &RepoRef,
    rev: &str,
    path: &str,
    hf: bool,
    fault: Option<Fault>,
) -> (Resp, Option<Fault>) {
    let head = req.method == Method::HEAD;
    let mut st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return (resp, fault),
    };
    if !hf {
        if st.repo(r.t, &r.ns, &r.name).is_none() {
            return (
                api_err(
                    404,
                    "SYS-ERR-3",
                    Some(
                        json!({"repo_type": r.t.internal(), "path": format!("{}/{}", r.ns, r.name)}),
                    ),
                ),
                fault,
            );
        }
        if r.t == RepoType::Dataset && c.user().is_none() {
            return (api_err(401, "AUTH-ERR-1", None), fault);
        }
    }
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return (not_found(), fault);
    };
    // An empty `ref` makes the git layer use `main` (§7.2 step 7).
    let rev = if rev.is_empty() { "main" } else { rev };
    let Some(commit) = st.commit_at(repo, rev) else {
        let resp = if head {
            hf_err(500, "GIT-ERR-6")
        } else {
            not_found()
        };
        return (resp, fault);
    };
    let commit_id = commit.id.clone();
    let Some(entry) = commit.tree.get(path).cloned() else {
        return (not_found(), fault);
    };
    // The existence check runs before the permission check (§7.2 step 1).
    if !st.can_read(repo, c.user()) {
        let resp = match c {
            Caller::Anonymous => {
                if hf {
                    hf_err(401, "AUTH-ERR-1")
                } else {
                    api_err(401, "AUTH-ERR-1", None)
                }
            }
            Caller::User(_) => {
                if hf {
                    hf_err(403, "AUTH-ERR-2")
                } else {
                    api_err(403, "AUTH-ERR-2", None)
                }
            }
        };
        return (resp, fault);
    }
    let etag = format!("\"{}\"", entry.sha1);
    if head {
        let mut resp = http::raw_resp(200, "application/octet-stream", axum::body::Body::empty());
        http::set(&mut resp, "content-length", &entry.size().to_string());
        http::set(&mut resp, "etag", &etag);
        http::set(&mut resp, "x-repo-commit", &commit_id);
        http::set(&mut resp, "accept-ranges", "bytes");
        return (resp, fault);
    }
    let full_or_zero = match req.header("range") {
        None => true,
        Some(h) => h.trim().starts_with("bytes=0-"),
    };
    if full_or_zero && let Some(repo) = st.repo_mut(r.t, &r.ns, &r.name) {
        repo.downloads += 1;
    }
    drop(st);
    match &entry.lfs {
        Some(l) => {
            let disposition = format!("attachment;filename={}", base(path));
            let url = hub.presign(
                "GET",
                &lfs_key(&l.oid),
                &[("response-content-disposition", &disposition)],
            );
            let mut resp = http::raw_resp(302, "text/html; charset=utf-8", "");
            http::set(&mut resp, "location", &url);
            http::set(&mut resp, "accept-ranges", "bytes");
            (resp, fault)
        }
        None => {
            let file_fault = fault.filter(|f| {
                matches!(
                    f,
                    Fault::DropAfter(_) | Fault::FlipByte(_) | Fault::Stall { .. }
                )
            });
            let mut resp = http::serve_file(
                req,
                hub.store.blob_path(&entry.sha1),
                entry.size(),
                Some(&etag),
                file_fault.as_ref(),
            );
            http::set(
                &mut resp,
                "content-disposition",
                &format!("attachment; filename=\"{}\"", base(path)),
            );
            (resp, None)
        }
    }
}

/// `/hf/api/{types}/{ns}/{name}[/revision/{rev}]` (§8.1).
pub fn hf_info(hub: &Arc<Hub>, req: &Req, r: &RepoRef, rev: Option<&str>) -> Resp {
    let st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let model = r.t == RepoType::Model;
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return if model {
            hf_err(500, "SYS-ERR-3")
        } else {
            not_found()
        };
    };
    if !st.can_read(repo, c.user()) {
        return match (model, &c) {
            (true, _) => hf_err(500, "AUTH-ERR-0"),
            (false, Caller::Anonymous) => hf_err(500, "AUTH-ERR-1"),
            (false, Caller::User(_)) => hf_err(500, "AUTH-ERR-2"),
        };
    }
    // Without a revision the file list comes from `main`, the sha from the default branch.
    let files_rev = rev.unwrap_or(if model { "main" } else { &repo.default_branch });
    let Some(files_commit) = st.commit_at(repo, files_rev) else {
        return hf_err(500, "GIT-ERR-6");
    };
    let sha = if model {
        match st.commit_at(repo, rev.unwrap_or(&repo.default_branch)) {
            Some(c) => c.id.clone(),
            None => return hf_err(500, "GIT-ERR-6"),
        }
    } else {
        // Quirk §0.9: the branch NAME, not a commit id.
        repo.default_branch.clone()
    };
    let blobs = matches!(req.q("blobs"), Some("true" | "1" | "True"));
    let siblings: Vec<Value> = files_commit
        .tree
        .iter()
        .map(|(p, e)| {
            if model && blobs {
                let mut v = json!({"rfilename": p, "blobId": e.sha1, "size": e.size()});
                if let Some(l) = &e.lfs {
                    v["lfs"] = json!({"sha256": l.oid, "size": l.size, "pointerSize": e.blob_size});
                }
                v
            } else {
                json!({"rfilename": p})
            }
        })
        .collect();
    let id = repo.path();
    if model {
        json_resp(
            200,
            json!({
                "id": id, "author": repo.namespace, "sha": sha, "created_at": repo.created_at,
                "last_modified": repo.updated_at, "private": repo.private,
                "downloads": repo.downloads, "likes": repo.likes, "library_name": "transformers",
                "pipeline_tag": "text-generation", "tags": ["transformers", "text-generation"],
                "siblings": siblings, "spaces": [],
            }),
        )
    } else {
        json_resp(
            200,
            json!({"id": id, "sha": sha, "siblings": siblings, "private": repo.private,
                   "downloads": repo.downloads, "likes": repo.likes, "tags": []}),
        )
    }
}

/// `/hf/api/{models|datasets}/{ns}/{name}/tree/{rev}/{path}` (§8.3).
pub fn hf_tree(hub: &Arc<Hub>, req: &Req, r: &RepoRef, rev: &str, path: &str) -> Resp {
    let st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Some(repo) = st.repo(r.t, &r.ns, &r.name) else {
        return hf_err(500, "SYS-ERR-3");
    };
    if !st.can_read(repo, c.user()) {
        return match (r.t, &c) {
            (RepoType::Model, Caller::Anonymous) => hf_err(500, "AUTH-ERR-1"),
            _ => hf_err(403, "AUTH-ERR-2"),
        };
    }
    let Some(commit) = st.commit_at(repo, rev) else {
        return hf_err(500, "GIT-ERR-6");
    };
    let dir = path.trim_matches('/');
    let tree = &commit.tree;
    if req.q("recursive") == Some("true") {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let out: Vec<Value> = tree
            .iter()
            .filter(|(p, _)| p.starts_with(&prefix))
            .map(|(p, e)| json!({"type": "file", "path": p, "size": e.size(), "oid": e.sha1}))
            .collect();
        return json_resp(200, Value::Array(out));
    }
    // Non-recursive (what `recursive=True` gets too): directories included, ≤ 1000 entries.
    match children(tree, dir) {
        Some((dirs, files)) => {
            let mut out: Vec<Value> = dirs
                .iter()
                .map(|d| json!({"type": "dir", "path": d, "size": 0, "oid": dir_sha(tree, d)}))
                .collect();
            out.extend(files.iter().filter_map(|p| {
                tree.get(p)
                    .map(|e| json!({"type": "file", "path": p, "size": e.size(), "oid": e.sha1}))
            }));
            out.truncate(1000);
            json_resp(200, Value::Array(out))
        }
        None if r.t == RepoType::Dataset => json_resp(200, Value::Null),
        None => json_resp(200, json!([])),
    }
}

/// `/hf/api/whoami-v2` (§8.4).
pub fn whoami(hub: &Arc<Hub>, req: &Req) -> Resp {
    let st = hub.store.lock();
    match caller(&st, req) {
        Err(resp) => resp,
        Ok(Caller::Anonymous) => hf_err(401, "AUTH-ERR-1"),
        Ok(Caller::User(u)) => json_resp(
            200,
            json!({"name": u, "email": "", "auth": {"accessToken": {"displayName": u, "role": "write"}, "type": "Bearer"}}),
        ),
    }
}

/// `/api/v1/token/{token}` (§10): no auth needed, but a bad header is refused first.
pub fn token_info(hub: &Arc<Hub>, req: &Req, token: &str) -> Resp {
    let st = hub.store.lock();
    if let Err(resp) = caller(&st, req) {
        return resp;
    }
    let Some(t) = st.tokens.get(token) else {
        return not_found();
    };
    let uuid = st
        .users
        .get(&t.user)
        .map(|u| u.uuid.clone())
        .unwrap_or_default();
    ok(json!({
        "id": 1, "token": token, "token_name": t.name, "application": t.application,
        "permission": "", "user_name": t.user, "user_uuid": uuid, "expire_at": t.expire_at,
        "ns_uuid": "", "quota_type": "", "quota_value_type": "", "usage": 0, "quota": 0,
        "last_used_at": "0001-01-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z", "token_type": "",
    }))
}

/// The hardware the hub offers: `types.SpaceResource`, the same list for every deploy type.
pub const SPACE_RESOURCES: &[(i64, &str, &str)] = &[
    (
        1,
        "CPU basic · 2 vCPU · 4 GB",
        r#"{"cpu":{"type":"Intel","num":"2"},"memory":"4Gi"}"#,
    ),
    (
        2,
        "NVIDIA T4 · 4 vCPU · 16 GB",
        r#"{"gpu":{"type":"T4","num":"1"},"cpu":{"num":"4"},"memory":"16Gi"}"#,
    ),
];

/// The one cluster of the hub.
pub const CLUSTER_ID: &str = "localhub-cluster-1";

/// `GET /api/v1/space_resources?deploy_type=` (§14): no login needed (pycsghub sends none), but
/// a bad token is still refused.
pub fn space_resources(hub: &Arc<Hub>, req: &Req) -> Resp {
    let st = hub.store.lock();
    if let Err(resp) = caller(&st, req) {
        return resp;
    }
    let data: Vec<Value> = SPACE_RESOURCES
        .iter()
        .map(|(id, name, resources)| {
            json!({
                "id": id, "name": name, "resources": resources, "cluster_id": CLUSTER_ID,
                "cluster_region": "local", "is_available": true, "is_reserved": false,
                "type": if resources.contains("gpu") { "gpu" } else { "cpu" },
                "price": 0, "price_unit": 0, "price_unit_type": "", "order_detail_id": 0,
            })
        })
        .collect();
    let total = data.len();
    json_resp(200, json!({"msg": "OK", "data": data, "total": total}))
}

/// `types.User`.
fn user_json(st: &State, name: &str) -> Value {
    let u = st.users.get(name);
    json!({
        "username": name, "nickname": name, "email": u.map(|u| u.email.clone()).unwrap_or_default(),
        "uuid": u.map(|u| u.uuid.clone()).unwrap_or_default(), "avatar": "",
    })
}

/// `types.Model`/`types.Dataset`/... detail object (§5.1).
pub(crate) fn repo_json(st: &State, repo: &Repo, user: Option<&str>) -> Value {
    let owner_is_user = st.users.contains_key(&repo.namespace);
    let mut v = json!({
        "id": repo.id,
        "name": repo.name,
        "nickname": repo.nickname,
        "description": repo.description,
        "path": repo.path(),
        "private": repo.private,
        "default_branch": repo.default_branch,
        "likes": repo.likes,
        "downloads": repo.downloads,
        "license": repo.license,
        "tags": [],
        "repository": {
            "http_clone_url": format!("{}s/{}.git", repo.repo_type.internal(), repo.path()),
            "ssh_clone_url": format!("git@localhub:{}s/{}.git", repo.repo_type.internal(), repo.path()),
        },
        "repository_id": repo.id,
        "created_at": repo.created_at,
        "updated_at": repo.updated_at,
        "source": "local",
        "sync_status": "",
        "mirror_task_status": "",
        "can_write": st.can_write(repo, user),
        "can_manage": st.can_admin(repo, user),
        "user": user_json(st, &repo.namespace),
        "namespace": {
            "Path": repo.namespace, "Type": if owner_is_user { "user" } else { "organization" },
            "Avatar": "", "UUID": "", "NSType": "", "User": user_json(st, &repo.namespace),
        },
        "hf_path": "",
        "ms_path": "",
        "csg_path": "",
        "xnet_enabled": false,
        "xnet_migration_status": "",
        "url": repo.path(),
    });
    match repo.repo_type {
        RepoType::Model => {
            v["metadata"] = json!({"model_params": 0, "tensor_type": "", "architecture": "", "mini_gpu_memory_gb": 0});
            v["base_model"] = json!("");
            v["widget_type"] = json!("generation");
            v["enable_inference"] = json!(true);
            v["enable_finetune"] = json!(true);
            v["enable_evaluation"] = json!(false);
            v["status"] = json!("");
            v["arch_allowed"] = json!(true);
        }
        RepoType::Skill => {
            v["latest_version"] = json!("");
            v["versions"] = json!([]);
        }
        RepoType::Code | RepoType::Space | RepoType::Mcp => v["repo_size"] = json!(0),
        RepoType::Dataset => {}
    }
    v
}

/// `GET /api/v1/{type}/{ns}/{name}` (§5.1); spaces need login.
pub fn detail(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let (repo, c) = match api_repo(&st, req, r, false, (403, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if r.t == RepoType::Space && c.user().is_none() {
        return api_err(401, "AUTH-ERR-1", None);
    }
    ok(repo_json(&st, repo, c.user()))
}

/// `GET .../branches` (§5.2): `per`/`page` validated, ignored; `name` is the basename.
pub fn branches(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (500, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if let Err(resp) = paging(req, 50) {
        return resp;
    }
    let list: Vec<Value> = repo
        .branches
        .iter()
        .map(|(b, id)| {
            let msg = st
                .commits
                .get(id)
                .map(|c| c.message.lines().next().unwrap_or("").to_string())
                .unwrap_or_default();
            json!({"name": base(b), "message": msg, "commit": {"id": id}})
        })
        .collect();
    // An empty Go slice serialises as null.
    ok(if list.is_empty() {
        Value::Null
    } else {
        Value::Array(list)
    })
}

/// `GET .../tags` (§5.3): metadata tags, not git tags.
pub fn tags(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (500, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    ok(json!([{
        "id": 1, "name": repo.license, "category": "license", "group": "", "scope": repo.repo_type.internal(),
        "built_in": true, "show_name": repo.license, "i18n_key": "",
        "created_at": repo.created_at, "updated_at": repo.updated_at,
    }]))
}

/// `GET .../commits?ref=&per=&page=` (§5.4).
pub fn commits(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (500, "AUTH-ERR-0")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let (per, page) = match paging(req, 50) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rev = req
        .q("ref")
        .filter(|s| !s.is_empty())
        .unwrap_or(&repo.default_branch);
    let Some(head) = st.resolve(repo, rev) else {
        return api_err(500, "GIT-ERR-6", None);
    };
    let all = st.history(&head);
    let total = all.len() as i64;
    let list: Vec<Value> = all
        .iter()
        .skip(((page - 1) * per) as usize)
        .take(per as usize)
        .map(|c| commit_json(c))
        .collect();
    ok(json!({"commits": list, "total": total, "page_count": (total + per - 1) / per}))
}

/// `GET .../last_commit?ref=` (§5.5): unknown ref → 200 with an all-empty commit.
pub fn last_commit(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, false, (403, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rev = req
        .q("ref")
        .filter(|s| !s.is_empty())
        .unwrap_or(&repo.default_branch);
    match st.commit_at(repo, rev) {
        Some(c) => ok(commit_json(c)),
        None => ok(zero_commit()),
    }
}

/// `GET .../commit/{id}` (§5.6).
pub fn commit_one(hub: &Arc<Hub>, req: &Req, r: &RepoRef, id: &str) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (500, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Some(c) = st.resolve(repo, id).and_then(|id| st.commits.get(&id)) else {
        return api_err(404, "GIT-ERR-6", None);
    };
    let empty = BTreeMap::new();
    let parent_tree = c
        .parents
        .first()
        .and_then(|p| st.commits.get(p))
        .map_or(&empty, |p| &p.tree);
    let mut files = Vec::new();
    let mut diff = String::new();
    let (mut add, mut del) = (0, 0);
    for (p, e) in &c.tree {
        if parent_tree.get(p) != Some(e) {
            files.push(p.clone());
            diff.push_str(&format!("diff --git a/{p} b/{p}\n+++ b/{p}\n"));
            add += 1;
        }
    }
    for p in parent_tree.keys() {
        if !c.tree.contains_key(p) {
            files.push(p.clone());
            diff.push_str(&format!("diff --git a/{p} b/{p}\n--- a/{p}\n"));
            del += 1;
        }
    }
    let mut v = commit_json(c);
    v["files"] = json!(files);
    v["parents"] = json!(
        c.parents
            .iter()
            .map(|p| json!({"sha": p}))
            .collect::<Vec<_>>()
    );
    v["diff"] = json!(base64::engine::general_purpose::STANDARD.encode(diff));
    v["stats"] = json!({"total": add + del, "additions": add, "deletions": del});
    ok(v)
}

/// `GET .../refs/{ref}/tree/{path}?limit=&cursor=` (§6.2): capitalised keys, 200 empty body when
/// the path or ref is missing.
pub fn ref_tree(hub: &Arc<Hub>, req: &Req, r: &RepoRef, rev: &str, path: &str) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (403, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let limit: i64 = match req.q("limit") {
        None | Some("") => 0,
        Some(s) => match s.parse() {
            Ok(n) => n,
            Err(_) => return api_err(400, "REQ-ERR-6", None),
        },
    };
    let limit = match limit {
        0 => 500,
        n if n < 0 => usize::MAX,
        n => n.min(10_000) as usize,
    };
    let offset: usize = match req.q("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match decode_cursor(c) {
            Some(n) => n,
            None => return api_err(400, "REQ-ERR-6", None),
        },
    };
    let Some(commit) = st.commit_at(repo, rev) else {
        return http::empty_200();
    };
    let dir = path.trim_matches('/');
    let Some((dirs, files)) = children(&commit.tree, dir) else {
        return http::empty_200();
    };
    let all: Vec<Value> = dirs
        .iter()
        .map(|d| dir_json(&commit.tree, d))
        .chain(
            files
                .iter()
                .filter_map(|p| commit.tree.get(p).map(|e| file_json(p, e))),
        )
        .collect();
    let end = offset.saturating_add(limit).min(all.len());
    let page: Vec<Value> = all.get(offset.min(end)..end).unwrap_or(&[]).to_vec();
    let cursor = if end < all.len() {
        encode_cursor(end)
    } else {
        String::new()
    };
    ok(json!({"Files": page, "Cursor": cursor}))
}

fn encode_cursor(n: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("entry:{n}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    String::from_utf8(b)
        .ok()?
        .strip_prefix("entry:")?
        .parse()
        .ok()
}

/// Last commit (first-parent history from `head`) that changed anything at or under `path`.
fn last_touch<'a>(st: &'a State, head: &str, path: &str) -> Option<&'a Commit> {
    let hist = st.history(head);
    let prefix = format!("{path}/");
    let view = |c: &Commit| -> Vec<(String, String)> {
        c.tree
            .iter()
            .filter(|(p, _)| *p == path || p.starts_with(&prefix))
            .map(|(p, e)| (p.clone(), e.sha1.clone()))
            .collect()
    };
    let mut newest = hist.first().copied()?;
    let mut newest_view = view(newest);
    for c in hist.iter().skip(1) {
        let v = view(c);
        if v != newest_view {
            return Some(newest);
        }
        newest = c;
        newest_view = v;
    }
    Some(newest)
}

/// `GET .../tree?path=&ref=` (§6.3): ≤ 1000 entries with their last commit.
pub fn legacy_tree(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (403, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rev = req
        .q("ref")
        .filter(|s| !s.is_empty())
        .unwrap_or(&repo.default_branch);
    let Some(commit) = st.commit_at(repo, rev) else {
        return api_err(404, "GIT-ERR-6", None);
    };
    let dir = req.q("path").unwrap_or("").trim_matches('/');
    let Some((dirs, files)) = children(&commit.tree, dir) else {
        return ok(json!([]));
    };
    let with_commit = |mut v: Value, p: &str| {
        if let Some(c) = last_touch(&st, &commit.id, p) {
            v["commit"] = commit_json(c);
            v["last_commit_sha"] = json!(c.id);
        }
        v
    };
    let mut out: Vec<Value> = dirs
        .iter()
        .map(|d| with_commit(dir_json(&commit.tree, d), d))
        .collect();
    out.extend(
        files
            .iter()
            .filter_map(|p| commit.tree.get(p).map(|e| with_commit(file_json(p, e), p))),
    );
    out.truncate(1000);
    ok(Value::Array(out))
}

/// `GET .../all_files` (§6.5): the first 100 root entries of `main`, no cursor.
pub fn all_files(hub: &Arc<Hub>, req: &Req, r: &RepoRef) -> Resp {
    let st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let (repo, _) = match api_repo(&st, req, r, true, (403, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => {
            // Private repos: a non-member gets 403, anonymous 500.
            let private = st.repo(r.t, &r.ns, &r.name).is_some_and(|x| x.private);
            if private && c.user().is_none() && r.t != RepoType::Dataset {
                return api_err(500, "AUTH-ERR-1", None);
            }
            return resp;
        }
    };
    let Some(commit) = st.commit_at(repo, "main") else {
        return ok(json!([]));
    };
    let Some((dirs, files)) = children(&commit.tree, "") else {
        return ok(json!([]));
    };
    let mut out: Vec<Value> = dirs.iter().map(|d| dir_json(&commit.tree, d)).collect();
    out.extend(
        files
            .iter()
            .filter_map(|p| commit.tree.get(p).map(|e| file_json(p, e))),
    );
    out.truncate(100);
    ok(Value::Array(out))
}

/// `GET .../blob/{path}?ref=` (§6.7): no login needed even for datasets.
pub fn blob(hub: &Arc<Hub>, req: &Req, r: &RepoRef, path: &str) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, false, (500, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rev = req
        .q("ref")
        .filter(|s| !s.is_empty())
        .unwrap_or(&repo.default_branch);
    let Some(commit) = st.commit_at(repo, rev) else {
        return api_err(404, "GIT-ERR-6", None);
    };
    let Some(e) = commit.tree.get(path) else {
        return api_err(
            404,
            "GIT-ERR-15",
            Some(json!({"path": path, "branch": rev})),
        );
    };
    let mut v = file_json(path, e);
    if let Some(c) = last_touch(&st, &commit.id, path) {
        v["commit"] = commit_json(c);
        v["last_commit_sha"] = json!(c.id);
    }
    if e.blob_size > 900_000 {
        v["content"] = json!("");
        v["preview_code"] = json!(1);
    } else {
        let bytes = hub.store.read_blob(&e.sha1).unwrap_or_default();
        if std::str::from_utf8(&bytes).is_err() {
            v["preview_code"] = json!(2);
        }
        v["content"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    ok(v)
}

/// `GET .../raw/{path}?ref=` (§7.1): content as a JSON string (LFS: the pointer text).
pub fn raw_get(hub: &Arc<Hub>, req: &Req, r: &RepoRef, path: &str) -> Resp {
    let st = hub.store.lock();
    let (repo, _) = match api_repo(&st, req, r, true, (500, "AUTH-ERR-2")) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rev = req
        .q("ref")
        .filter(|s| !s.is_empty())
        .unwrap_or(&repo.default_branch);
    let Some(e) = st.commit_at(repo, rev).and_then(|c| c.tree.get(path)) else {
        return api_err(
            404,
            "GIT-ERR-15",
            Some(json!({"path": path, "branch": rev})),
        );
    };
    let bytes = hub.store.read_blob(&e.sha1).unwrap_or_default();
    ok(json!(String::from_utf8_lossy(&bytes)))
}

/// `GET /api/v1/{user|organization}/{ns}/{types}` (§5.1, envelopes §3.1).
pub fn user_repos(hub: &Arc<Hub>, req: &Req, owner: &str, t: RepoType, _org: bool) -> Resp {
    let st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let (per, page) = match paging(req, 50) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let all: Vec<Value> = st
        .repos
        .values()
        .filter(|r| r.repo_type == t && r.namespace.eq_ignore_ascii_case(owner))
        .filter(|r| st.can_read(r, c.user()))
        .map(|r| repo_json(&st, r, c.user()))
        .collect();
    let (data, total) = page_of(all, per, page);
    if t == RepoType::Mcp {
        json_resp(
            200,
            json!({"msg": "OK", "data": {"data": data, "total": total}}),
        )
    } else {
        json_resp(200, json!({"message": "OK", "data": data, "total": total}))
    }
}

/// `GET /api/v1/{models|datasets|codes|spaces|mcps|skills}?search=&sort=&per=&page=` (§5.1):
/// public repos plus the private ones the caller can read; `{msg, data, total}`, nested for mcps
/// (§3.1). `search` matches the path case-insensitively; an unknown `sort` is 400 `REQ-ERR-6`.
pub fn repo_list(hub: &Arc<Hub>, req: &Req, t: RepoType) -> Resp {
    let st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let (per, page) = match paging(req, 50) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match req.q("sort") {
        None
        | Some(
            "" | "trending" | "recently_update" | "most_download" | "most_favorite" | "most_star",
        ) => {}
        Some(_) => return api_err(400, "REQ-ERR-6", None),
    }
    let search = req.q("search").unwrap_or("").to_ascii_lowercase();
    let all: Vec<Value> = st
        .repos
        .values()
        .filter(|r| r.repo_type == t && r.path().to_ascii_lowercase().contains(&search))
        .filter(|r| st.can_read(r, c.user()))
        .map(|r| repo_json(&st, r, c.user()))
        .collect();
    let (data, total) = page_of(all, per, page);
    if t == RepoType::Mcp {
        json_resp(
            200,
            json!({"msg": "OK", "data": {"data": data, "total": total}}),
        )
    } else {
        json_resp(200, json!({"msg": "OK", "data": data, "total": total}))
    }
}

/// `DeployRequest` (spec `types.DeployRequest`): the id travels as `deploy_id` and `model_id` is
/// the model path string (pycsghub prints `data[].deploy_id` and `model_id`, PYCSGHUB.md §3.8).
pub(crate) fn deploy_json(d: &crate::store::Deploy) -> Value {
    json!({
        "deploy_id": d.id, "deploy_name": d.deploy_name, "space_id": 0, "model_id": d.model, "status": d.status,
        "git_path": d.model, "git_branch": "main", "env": "", "hardware": "{\"cpu\":{\"num\":\"2\"}}",
        "image_id": "", "cost_per_hour": 0, "cluster_id": "local", "secure_level": 1,
        "svc_name": format!("svc-{}", d.id), "endpoint": format!("http://127.0.0.1/endpoint/{}", d.id),
        "created_at": d.created_at, "updated_at": d.created_at, "type": d.deploy_type,
        "user_uuid": "", "repo_tag": "", "sku": "", "instances": [], "private": false,
        "path": d.model, "proxy_endpoint": "", "engine_args": "", "entrypoint": "",
    })
}

/// `GET /api/v1/user/{u}/run/{model|space}` and `/user/{u}/finetune/instances` (§11, UserMatch).
pub fn user_deploys(hub: &Arc<Hub>, req: &Req, user: &str, kind: Option<&str>) -> Resp {
    let st = hub.store.lock();
    let c = match caller(&st, req) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match c.user() {
        None => return api_err(401, "AUTH-ERR-1", None),
        Some(u) if u != user => return api_err(401, "AUTH-ERR-7", None),
        Some(_) => {}
    }
    let deploy_type = match kind {
        Some("model") => 1,
        Some("space") => 0,
        Some(_) => return api_err(400, "REQ-ERR-0", None),
        None => 2,
    };
    let (per, page) = match paging(req, 50) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let all: Vec<Value> = st
        .deploys
        .values()
        .filter(|d| d.user == user && d.deploy_type == deploy_type)
        .map(deploy_json)
        .collect();
    let (data, total) = page_of(all, per, page);
    json_resp(200, json!({"message": "OK", "data": data, "total": total}))
}
