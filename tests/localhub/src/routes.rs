//! The route table: decoded path → [`Route`], the way gin matches (`UseRawPath=false`: `%2F`
//! is a `/` before matching; 404 text for unknown routes and methods; trailing-slash redirects).

use std::sync::Arc;

use axum::http::Method;

use crate::http::{Req, Resp};
use crate::store::RepoType;
use crate::{Fault, Hub, read, write};

/// `{type}/{ns}/{name}` of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRef {
    /// Kind.
    pub t: RepoType,
    /// Namespace.
    pub ns: String,
    /// Name.
    pub name: String,
}

/// A matched route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Route {
    Healthz,
    HfInfo {
        r: RepoRef,
        rev: Option<String>,
    },
    HfTree {
        r: RepoRef,
        rev: String,
        path: String,
    },
    HfResolve {
        r: RepoRef,
        rev: String,
        path: String,
    },
    HfWhoami,
    HfCreateRepo,
    HfPreupload {
        r: RepoRef,
        rev: String,
    },
    HfCommit {
        r: RepoRef,
        rev: String,
    },
    LfsBatch {
        r: RepoRef,
        hf: bool,
    },
    LfsPut {
        r: RepoRef,
        oid: String,
        size: String,
    },
    LfsVerify {
        r: RepoRef,
    },
    CompleteMultipart,
    SpaceResources,
    ApiCreateRepo {
        t: RepoType,
    },
    ApiList {
        t: RepoType,
    },
    ApiRepo {
        r: RepoRef,
    },
    Branches {
        r: RepoRef,
    },
    Tags {
        r: RepoRef,
    },
    Commits {
        r: RepoRef,
    },
    LastCommit {
        r: RepoRef,
    },
    CommitOne {
        r: RepoRef,
        id: String,
    },
    RefTree {
        r: RepoRef,
        rev: String,
        path: String,
    },
    LegacyTree {
        r: RepoRef,
    },
    AllFiles {
        r: RepoRef,
    },
    Blob {
        r: RepoRef,
        path: String,
    },
    Raw {
        r: RepoRef,
        path: String,
    },
    ApiResolve {
        r: RepoRef,
        path: String,
    },
    Preupload {
        r: RepoRef,
        rev: String,
    },
    CommitJson {
        r: RepoRef,
        rev: String,
    },
    UploadFile {
        r: RepoRef,
    },
    TokenInfo {
        token: String,
    },
    UserRepos {
        user: String,
        t: RepoType,
    },
    OrgRepos {
        org: String,
        t: RepoType,
    },
    UserRun {
        user: String,
        kind: String,
    },
    UserFinetunes {
        user: String,
    },
    Deploy {
        r: RepoRef,
        finetune: bool,
        id: Option<String>,
        action: Option<String>,
    },
}

impl Route {
    /// A short name used by fault matchers and the request log.
    pub fn kind(&self) -> &'static str {
        match self {
            Route::Healthz => "healthz",
            Route::HfInfo { .. } => "repo_info",
            Route::HfTree { .. } => "hf_tree",
            Route::HfResolve { .. } => "resolve",
            Route::HfWhoami => "whoami",
            Route::HfCreateRepo => "hf_create_repo",
            Route::HfPreupload { .. } | Route::Preupload { .. } => "preupload",
            Route::HfCommit { .. } => "hf_commit",
            Route::LfsBatch { .. } => "lfs_batch",
            Route::LfsPut { .. } => "lfs_put",
            Route::LfsVerify { .. } => "lfs_verify",
            Route::CompleteMultipart => "complete_multipart",
            Route::SpaceResources => "space_resources",
            Route::ApiCreateRepo { .. } => "create_repo",
            Route::ApiRepo { .. } => "repo",
            Route::Branches { .. } => "branches",
            Route::Tags { .. } => "tags",
            Route::Commits { .. } => "commits",
            Route::LastCommit { .. } => "last_commit",
            Route::CommitOne { .. } => "commit_one",
            Route::RefTree { .. } => "tree",
            Route::LegacyTree { .. } => "legacy_tree",
            Route::AllFiles { .. } => "all_files",
            Route::Blob { .. } => "blob",
            Route::Raw { .. } => "raw",
            Route::ApiResolve { .. } => "api_resolve",
            Route::CommitJson { .. } => "commit",
            Route::UploadFile { .. } => "upload_file",
            Route::TokenInfo { .. } => "token",
            Route::ApiList { .. } | Route::UserRepos { .. } | Route::OrgRepos { .. } => "repo_list",
            Route::UserRun { .. } | Route::UserFinetunes { .. } => "deploy_list",
            Route::Deploy { .. } => "deploy",
        }
    }
}

fn rr(t: RepoType, ns: &str, name: &str) -> RepoRef {
    RepoRef {
        t,
        ns: ns.to_string(),
        name: name.to_string(),
    }
}

/// `.git` suffix is optional on git routes.
fn strip_git(name: &str) -> &str {
    name.strip_suffix(".git").unwrap_or(name)
}

/// Match a decoded path. `None` = gin's 404.
pub fn classify(method: &Method, path: &str) -> Option<Route> {
    let p = path.strip_prefix('/')?;
    let segs: Vec<&str> = p.split('/').collect();
    let m = method.as_str();
    let get = m == "GET";
    // Catch-all tail from segment i: `*path` needs at least the slash.
    let tail = |i: usize| -> Option<String> { (segs.len() > i).then(|| segs[i..].join("/")) };
    match segs.as_slice() {
        ["healthz"] if get => Some(Route::Healthz),
        [fam @ ("hf" | "csg" | "ms"), rest @ ..] => classify_hf(m, fam, rest, &segs, &tail),
        ["api", "v1", rest @ ..] => classify_api(m, rest, &tail),
        [gt, ns, name, "info", "lfs", rest @ ..] => {
            let t = RepoType::from_git_segment(gt)?;
            let r = rr(t, ns, strip_git(name));
            match (m, rest) {
                ("POST", ["objects", "batch"]) => Some(Route::LfsBatch { r, hf: false }),
                ("PUT", ["objects", oid, size]) => Some(Route::LfsPut {
                    r,
                    oid: oid.to_string(),
                    size: size.to_string(),
                }),
                ("POST", ["verify"]) => Some(Route::LfsVerify { r }),
                _ => None,
            }
        }
        _ => None,
    }
}

fn classify_hf(
    m: &str,
    _fam: &str,
    rest: &[&str],
    _segs: &[&str],
    tail: &dyn Fn(usize) -> Option<String>,
) -> Option<Route> {
    let get = m == "GET";
    // `tail` indexes into the full segment list: rest starts at 1.
    match rest {
        ["api", "whoami-v2"] if get => Some(Route::HfWhoami),
        ["api", "repos", "create"] if m == "POST" => Some(Route::HfCreateRepo),
        ["api", types, ns, name] if get => Some(Route::HfInfo {
            r: rr(RepoType::from_plural(types)?, ns, name),
            rev: None,
        }),
        ["api", types, ns, name, "revision", rev] if get => Some(Route::HfInfo {
            r: rr(RepoType::from_plural(types)?, ns, name),
            rev: Some(rev.to_string()),
        }),
        [
            "api",
            types @ ("models" | "datasets"),
            ns,
            name,
            "tree",
            rev,
            ..,
        ] if get && rest.len() >= 7 => Some(Route::HfTree {
            r: rr(RepoType::from_plural(types)?, ns, name),
            rev: rev.to_string(),
            path: tail(7)?,
        }),
        [
            "api",
            types @ ("models" | "datasets"),
            ns,
            name,
            "preupload",
            rev,
        ] if m == "POST" => Some(Route::HfPreupload {
            r: rr(RepoType::from_plural(types)?, ns, name),
            rev: rev.to_string(),
        }),
        [
            "api",
            types @ ("models" | "datasets"),
            ns,
            name,
            "commit",
            rev,
        ] if m == "POST" => Some(Route::HfCommit {
            r: rr(RepoType::from_plural(types)?, ns, name),
            rev: rev.to_string(),
        }),
        ["api", ..] => None,
        ["datasets", ns, name, "info", "lfs", "objects", "batch"] if m == "POST" => {
            Some(Route::LfsBatch {
                r: rr(RepoType::Dataset, ns, strip_git(name)),
                hf: true,
            })
        }
        [ns, name, "info", "lfs", "objects", "batch"] if m == "POST" && !is_static(ns) => {
            Some(Route::LfsBatch {
                r: rr(RepoType::Model, ns, strip_git(name)),
                hf: true,
            })
        }
        [types, ns, name, "resolve", rev, ..]
            if (get || m == "HEAD") && is_static(types) && rest.len() >= 6 =>
        {
            Some(Route::HfResolve {
                r: rr(RepoType::from_plural(types)?, ns, name),
                rev: rev.to_string(),
                path: tail(6)?,
            })
        }
        [ns, name, "resolve", rev, ..]
            if (get || m == "HEAD") && !is_static(ns) && rest.len() >= 5 =>
        {
            Some(Route::HfResolve {
                r: rr(RepoType::Model, ns, name),
                rev: rev.to_string(),
                path: tail(5)?,
            })
        }
        _ => None,
    }
}

/// Static first segments under `/hf` that shadow namespaces (§1.3).
fn is_static(s: &str) -> bool {
    matches!(
        s,
        "datasets" | "spaces" | "codes" | "mcps" | "skills" | "api"
    )
}

fn classify_api(m: &str, rest: &[&str], tail: &dyn Fn(usize) -> Option<String>) -> Option<Route> {
    let get = m == "GET";
    // `tail(i)` counts from the full path: `api`, `v1` are 0 and 1.
    match rest {
        ["complete_multipart"] if m == "POST" => Some(Route::CompleteMultipart),
        ["space_resources"] if get => Some(Route::SpaceResources),
        ["token", token] if get => Some(Route::TokenInfo {
            token: token.to_string(),
        }),
        ["user", user, "run", kind] if get => Some(Route::UserRun {
            user: user.to_string(),
            kind: kind.to_string(),
        }),
        ["user", user, "finetune", "instances"] if get => Some(Route::UserFinetunes {
            user: user.to_string(),
        }),
        ["user", user, types] if get => Some(Route::UserRepos {
            user: user.to_string(),
            t: RepoType::from_plural(types)?,
        }),
        ["organization", org, types] if get => Some(Route::OrgRepos {
            org: org.to_string(),
            t: RepoType::from_plural(types)?,
        }),
        [types] if m == "POST" => Some(Route::ApiCreateRepo {
            t: RepoType::from_plural(types)?,
        }),
        [types] if get => Some(Route::ApiList {
            t: RepoType::from_plural(types)?,
        }),
        [types, ns, name, more @ ..] => {
            let r = rr(RepoType::from_plural(types)?, ns, name);
            classify_repo(m, r, more, tail)
        }
        _ => None,
    }
}

fn classify_repo(
    m: &str,
    r: RepoRef,
    more: &[&str],
    tail: &dyn Fn(usize) -> Option<String>,
) -> Option<Route> {
    let get = m == "GET";
    // Segments before `more`: api, v1, type, ns, name = 5.
    let t = |i: usize| tail(5 + i);
    let model = r.t == RepoType::Model;
    match more {
        [] if matches!(m, "GET" | "PUT" | "DELETE") => Some(Route::ApiRepo { r }),
        ["branches"] if get => Some(Route::Branches { r }),
        ["tags"] if get => Some(Route::Tags { r }),
        ["commits"] if get => Some(Route::Commits { r }),
        ["last_commit"] if get => Some(Route::LastCommit { r }),
        ["commit", id] if get => Some(Route::CommitOne {
            r,
            id: id.to_string(),
        }),
        ["commit", rev] if m == "POST" => Some(Route::CommitJson {
            r,
            rev: rev.to_string(),
        }),
        ["tree"] if get => Some(Route::LegacyTree { r }),
        ["all_files"] if get => Some(Route::AllFiles { r }),
        ["refs", rev, "tree", ..] if get && more.len() >= 4 => Some(Route::RefTree {
            r,
            rev: rev.to_string(),
            path: t(3)?,
        }),
        ["blob", ..] if get && more.len() >= 2 => Some(Route::Blob { path: t(1)?, r }),
        ["raw", ..] if matches!(m, "GET" | "POST" | "PUT" | "DELETE") && more.len() >= 2 => {
            Some(Route::Raw { path: t(1)?, r })
        }
        ["resolve", ..] if get && more.len() >= 2 => Some(Route::ApiResolve { path: t(1)?, r }),
        ["preupload", rev] if m == "POST" => Some(Route::Preupload {
            r,
            rev: rev.to_string(),
        }),
        ["upload_file"] if m == "POST" => Some(Route::UploadFile { r }),
        ["run"] if model && matches!(m, "GET" | "POST") => Some(Route::Deploy {
            r,
            finetune: false,
            id: None,
            action: None,
        }),
        ["finetune"] if model && m == "POST" => Some(Route::Deploy {
            r,
            finetune: true,
            id: None,
            action: None,
        }),
        ["run", id] if model && matches!(m, "GET" | "DELETE") => Some(Route::Deploy {
            r,
            finetune: false,
            id: Some(id.to_string()),
            action: None,
        }),
        [
            kind @ ("run" | "finetune"),
            id,
            action @ ("start" | "stop" | "wakeup"),
        ] if model && m == "PUT" => Some(Route::Deploy {
            r,
            finetune: *kind == "finetune",
            id: Some(id.to_string()),
            action: Some(action.to_string()),
        }),
        _ => None,
    }
}

/// gin's `RedirectTrailingSlash`: 301 for GET, 307 otherwise, query kept.
pub fn trailing_slash_redirect(req: &Req) -> Option<Resp> {
    let alt = match req.path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => format!("{}/", req.path),
    };
    classify(&req.method, &alt)?;
    let raw_alt = match req.raw_path.strip_suffix('/') {
        Some(p) => p.to_string(),
        None => format!("{}/", req.raw_path),
    };
    let location = match &req.raw_query {
        Some(q) => format!("{raw_alt}?{q}"),
        None => raw_alt,
    };
    let status = if req.method == Method::GET { 301 } else { 307 };
    let mut r = crate::http::raw_resp(status, "text/html; charset=utf-8", "");
    crate::http::set(&mut r, "location", &location);
    Some(r)
}

/// Percent-encode a query value.
pub fn query_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Run a matched route. Returns the response and the body fault it did not consume.
pub async fn handle(
    hub: &Arc<Hub>,
    route: Route,
    req: &mut Req,
    fault: Option<Fault>,
) -> (Resp, Option<Fault>) {
    match route {
        Route::HfResolve { r, rev, path } => read::resolve(hub, req, &r, &rev, &path, true, fault),
        Route::ApiResolve { r, path } => {
            let rev = req.q("ref").unwrap_or("").to_string();
            read::resolve(hub, req, &r, &rev, &path, false, fault)
        }
        other => {
            let resp = match other {
                Route::Healthz => crate::http::raw_resp(200, "text/plain", ""),
                Route::HfInfo { r, rev } => read::hf_info(hub, req, &r, rev.as_deref()),
                Route::HfTree { r, rev, path } => read::hf_tree(hub, req, &r, &rev, &path),
                Route::HfWhoami => read::whoami(hub, req),
                Route::TokenInfo { token } => read::token_info(hub, req, &token),
                Route::SpaceResources => read::space_resources(hub, req),
                Route::ApiRepo { r } if req.method == Method::GET => read::detail(hub, req, &r),
                Route::Branches { r } => read::branches(hub, req, &r),
                Route::Tags { r } => read::tags(hub, req, &r),
                Route::Commits { r } => read::commits(hub, req, &r),
                Route::LastCommit { r } => read::last_commit(hub, req, &r),
                Route::CommitOne { r, id } => read::commit_one(hub, req, &r, &id),
                Route::RefTree { r, rev, path } => read::ref_tree(hub, req, &r, &rev, &path),
                Route::LegacyTree { r } => read::legacy_tree(hub, req, &r),
                Route::AllFiles { r } => read::all_files(hub, req, &r),
                Route::Blob { r, path } => read::blob(hub, req, &r, &path),
                Route::Raw { r, path } if req.method == Method::GET => {
                    read::raw_get(hub, req, &r, &path)
                }
                Route::ApiList { t } => read::repo_list(hub, req, t),
                Route::UserRepos { user, t } => read::user_repos(hub, req, &user, t, false),
                Route::OrgRepos { org, t } => read::user_repos(hub, req, &org, t, true),
                Route::UserRun { user, kind } => read::user_deploys(hub, req, &user, Some(&kind)),
                Route::UserFinetunes { user } => read::user_deploys(hub, req, &user, None),
                other => write::handle(hub, other, req).await,
            };
            (resp, fault)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(m: &str, p: &str) -> Option<Route> {
        classify(&Method::from_bytes(m.as_bytes()).unwrap(), p)
    }

    #[test]
    fn hf_resolve_routes_with_static_prefixes() {
        assert_eq!(
            c("GET", "/hf/ns/n/resolve/main/a/b.txt"),
            Some(Route::HfResolve {
                r: rr(RepoType::Model, "ns", "n"),
                rev: "main".into(),
                path: "a/b.txt".into()
            })
        );
        assert!(matches!(
            c("HEAD", "/csg/datasets/ns/n/resolve/v1/x"),
            Some(Route::HfResolve {
                r: RepoRef {
                    t: RepoType::Dataset,
                    ..
                },
                ..
            })
        ));
        // `%2F` decoded before matching: `refs/pr/1` splits the revision.
        assert!(matches!(
            c("GET", "/hf/ns/n/resolve/refs/pr/1/x"),
            Some(Route::HfResolve { rev, path, .. }) if rev == "refs" && path == "pr/1/x"
        ));
        assert_eq!(c("POST", "/hf/ns/n/resolve/main/x"), None);
    }

    #[test]
    fn tree_root_needs_trailing_slash() {
        assert!(c("GET", "/api/v1/models/ns/n/refs/main/tree").is_none());
        assert!(c("GET", "/api/v1/models/ns/n/refs/main/tree/").is_some());
    }

    #[test]
    fn git_lfs_routes_accept_optional_dot_git() {
        assert!(matches!(
            c("POST", "/mcpservers/ns/n.git/info/lfs/objects/batch"),
            Some(Route::LfsBatch { r: RepoRef { t: RepoType::Mcp, ref name, .. }, hf: false }) if name == "n"
        ));
        assert!(c("POST", "/mcps/ns/n.git/info/lfs/objects/batch").is_none());
    }
}
