//! `repo info|files|branches|tags|commits|create|delete`.

use std::collections::VecDeque;
use std::io::IsTerminal;

use csghub_api::endpoints;
use csghub_api::generated::{
    Code, CreateDatasetReq, CreateModelReq, CreateRepoReq, CreateSpaceReq, Dataset, McpServer,
    Model, Skill, Space, SpaceResource,
};
use csghub_api::{Error as ApiError, RepoId};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{RepoArg, RepoCommand, RepoKind};
use crate::context::Ctx;
use crate::error::{CliError, Subject};
use crate::output::{human_size, plural, sanitize, table};

/// Runs one `repo` subcommand.
pub async fn run(ctx: &Ctx, cmd: RepoCommand) -> Result<(), CliError> {
    match cmd {
        RepoCommand::Info { repo, revision } => info(ctx, &repo, &revision).await,
        RepoCommand::Files {
            repo,
            path,
            revision,
        } => files(ctx, &repo, path.as_deref(), &revision).await,
        RepoCommand::Branches { repo } => branches(ctx, &repo).await,
        RepoCommand::Tags { repo } => tags(ctx, &repo).await,
        RepoCommand::Commits {
            repo,
            revision,
            limit,
            page,
        } => commits(ctx, &repo, &revision, limit, page).await,
        RepoCommand::Create {
            repo,
            private,
            nickname,
            description,
            license,
            default_branch,
            space_sdk,
            resource_id,
        } => {
            let opts = CreateOpts {
                private,
                nickname,
                description,
                license,
                default_branch,
                space_sdk,
                resource_id,
            };
            create(ctx, &repo, &opts).await
        }
        RepoCommand::Delete { repo, yes } => delete(ctx, &repo, yes).await,
    }
}

/// The repo detail as JSON, whatever the kind's DTO.
async fn detail(ctx: &Ctx, kind: RepoKind, id: &RepoId) -> Result<Value, CliError> {
    let subject = Subject::repo(kind, id);
    macro_rules! get {
        ($t:ty) => {
            serde_json::to_value(ctx.call(endpoints::repo_detail::<$t>(id), &subject).await?)
        };
    }
    let v = match kind {
        RepoKind::Model => get!(Model),
        RepoKind::Dataset => get!(Dataset),
        RepoKind::Space => get!(Space),
        RepoKind::Code => get!(Code),
        RepoKind::Mcp => get!(McpServer),
        RepoKind::Skill => get!(Skill),
    };
    v.map_err(|e| CliError::Failed(format!("cannot encode the repo detail: {e}")))
}

/// A commit as shown.
#[derive(Debug, Serialize)]
struct CommitOut {
    id: String,
    message: String,
    author: String,
    date: String,
}

impl From<csghub_api::generated::Commit> for CommitOut {
    fn from(c: csghub_api::generated::Commit) -> CommitOut {
        let date = if c.committer_date.is_empty() {
            c.created_at
        } else {
            c.committer_date
        };
        CommitOut {
            id: c.id,
            message: c.message,
            author: c.author_name,
            date,
        }
    }
}

/// The tip commit of `revision`; an unknown revision is an error (the server may answer an
/// empty commit instead of 404, SERVER.md §5.5).
async fn tip(
    ctx: &Ctx,
    kind: RepoKind,
    id: &RepoId,
    revision: &str,
) -> Result<CommitOut, CliError> {
    let subject = Subject::repo(kind, id).at(revision);
    let ep = endpoints::last_commit(kind.api(), id, revision)
        .map_err(|e| ctx.api_error(e, subject.clone()))?;
    let c = ctx.call(ep, &subject).await?;
    if c.id.is_empty() {
        return Err(revision_missing(kind, id, revision));
    }
    Ok(c.into())
}

fn repo_flag(kind: RepoKind) -> String {
    match kind {
        RepoKind::Model => String::new(),
        k => format!(" -t {}", k.as_str()),
    }
}

fn revision_missing(kind: RepoKind, id: &RepoId, revision: &str) -> CliError {
    CliError::Failed(format!(
        "revision {revision:?} not found in {} {id}; list branches with `csghub-cli repo \
         branches {id}{}`",
        kind.as_str(),
        repo_flag(kind)
    ))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

async fn info(ctx: &Ctx, repo: &RepoArg, revision: &str) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    let d = detail(ctx, kind, id).await?;
    let commit = tip(ctx, kind, id, revision).await?;
    let tags: Vec<String> = d
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let num = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
    let value = json!({
        "repo_type": kind.as_str(),
        "repo_id": id.to_string(),
        "nickname": str_field(&d, "nickname"),
        "description": str_field(&d, "description"),
        "private": d.get("private").and_then(Value::as_bool).unwrap_or(false),
        "default_branch": str_field(&d, "default_branch"),
        "license": str_field(&d, "license"),
        "downloads": num("downloads"),
        "likes": num("likes"),
        "created_at": str_field(&d, "created_at"),
        "updated_at": str_field(&d, "updated_at"),
        "tags": tags,
        "revision": revision,
        "commit": commit,
    });
    ctx.out.emit(&value, || {
        let mut s = format!("{} {id}\n", kind.as_str());
        let mut line = |k: &str, v: &str| {
            if !v.is_empty() {
                s.push_str(&format!("  {k:<16}{}\n", sanitize(v)));
            }
        };
        line("nickname:", str_field(&d, "nickname"));
        line("description:", str_field(&d, "description"));
        line(
            "visibility:",
            if value["private"].as_bool() == Some(true) {
                "private"
            } else {
                "public"
            },
        );
        line("default branch:", str_field(&d, "default_branch"));
        line("license:", str_field(&d, "license"));
        line(
            "stats:",
            &format!("{} downloads, {} likes", num("downloads"), num("likes")),
        );
        line("created:", str_field(&d, "created_at"));
        line("updated:", str_field(&d, "updated_at"));
        line("tags:", &tags.join(", "));
        line(
            &format!("{revision}:"),
            &format!(
                "{} {:?} ({}, {})",
                commit.id, commit.message, commit.author, commit.date
            ),
        );
        s
    })
}

/// One file of a listing.
#[derive(Debug, Serialize)]
struct FileOut {
    path: String,
    size: i64,
    lfs: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    sha256: String,
    blob_id: String,
}

async fn list_dir(
    ctx: &Ctx,
    kind: RepoKind,
    id: &RepoId,
    commit: &str,
    dir: &str,
    subject: &Subject,
) -> Result<Vec<csghub_api::generated::File>, CliError> {
    let client = ctx.client()?;
    ctx.out.debug(format_args!(
        "GET {}/api/v1/{}/{}/refs/{commit}/tree/{dir} (paged)",
        ctx.config.endpoint,
        kind.api().rest_segment(),
        id
    ));
    let mut pages = std::pin::pin!(client.tree_pages(kind.api(), id, commit, dir, Some(1000)));
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(page.map_err(|e| ctx.api_error(e, subject.clone()))?);
    }
    Ok(out)
}

async fn files(
    ctx: &Ctx,
    repo: &RepoArg,
    path: Option<&str>,
    revision: &str,
) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    let commit = tip(ctx, kind, id, revision).await?;
    let root = path.unwrap_or("").trim_matches('/').to_owned();
    let subject = Subject::repo(kind, id).at(revision).path(&root);
    let mut files = Vec::new();
    let mut queue = VecDeque::from([root.clone()]);
    let mut first = true;
    while let Some(dir) = queue.pop_front() {
        let entries = list_dir(ctx, kind, id, &commit.id, &dir, &subject).await?;
        if first && entries.is_empty() && !root.is_empty() {
            // A missing path answers an empty page: look for `root` as a file in its parent.
            let parent = root.rsplit_once('/').map_or("", |(p, _)| p);
            let siblings = list_dir(ctx, kind, id, &commit.id, parent, &subject).await?;
            match siblings
                .into_iter()
                .find(|f| f.path.trim_matches('/') == root && f.kind != "dir")
            {
                Some(f) => files.push(f),
                None => {
                    return Err(CliError::Failed(format!(
                        "{root:?} not found in {} {id} at revision {revision:?}; list files with \
                         `csghub-cli repo files {id}{}`",
                        kind.as_str(),
                        repo_flag(kind)
                    )));
                }
            }
        }
        first = false;
        for e in entries {
            if e.kind == "dir" {
                if csghub_cache::RepoPath::new(&e.path).is_ok() {
                    queue.push_back(e.path.clone());
                } else {
                    ctx.out.warn(format_args!(
                        "skipping folder with an unsafe name from the server: {:?}",
                        e.path
                    ));
                }
            } else {
                if csghub_cache::RepoPath::new(&e.path).is_err() {
                    ctx.out.warn(format_args!(
                        "the server lists a file with an unsafe name, which downloads will \
                         refuse: {:?}",
                        e.path
                    ));
                }
                files.push(e);
            }
        }
    }
    let mut rows: Vec<FileOut> = files
        .into_iter()
        .map(|f| FileOut {
            path: f.path,
            size: f.size,
            lfs: f.lfs,
            sha256: f.lfs_sha256,
            blob_id: f.sha,
        })
        .collect();
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    let total: i64 = rows.iter().map(|f| f.size.max(0)).sum();
    ctx.out.info(format_args!(
        "{}, {} at {revision} ({})",
        plural(rows.len(), "file"),
        human_size(total as u64),
        commit.id
    ));
    let value = json!({
        "repo_type": kind.as_str(),
        "repo_id": id.to_string(),
        "revision": revision,
        "commit": commit.id,
        "files": rows,
    });
    ctx.out.emit(&value, || {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|f| {
                vec![
                    human_size(f.size.max(0) as u64),
                    if f.lfs { "lfs" } else { "" }.into(),
                    sanitize(&f.path).into_owned(),
                ]
            })
            .collect();
        table(&["SIZE", "LFS", "PATH"], &cells)
    })
}

async fn branches(ctx: &Ctx, repo: &RepoArg) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    let list = ctx
        .call(
            endpoints::branches(kind.api(), id),
            &Subject::repo(kind, id),
        )
        .await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "commit": b.commit.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
                "message": b.message,
            })
        })
        .collect();
    ctx.out.emit(&rows, || {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                [&r["name"], &r["commit"], &r["message"]]
                    .iter()
                    .map(|v| sanitize(v.as_str().unwrap_or("")).into_owned())
                    .collect()
            })
            .collect();
        table(&["BRANCH", "COMMIT", "MESSAGE"], &cells)
    })
}

async fn tags(ctx: &Ctx, repo: &RepoArg) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    let list = ctx
        .call(endpoints::tags(kind.api(), id), &Subject::repo(kind, id))
        .await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|t| json!({ "name": t.name, "category": t.category, "group": t.group }))
        .collect();
    ctx.out.emit(&rows, || {
        if rows.is_empty() {
            return format!("{} {id} has no metadata tags.", kind.as_str());
        }
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                [&r["name"], &r["category"], &r["group"]]
                    .iter()
                    .map(|v| sanitize(v.as_str().unwrap_or("")).into_owned())
                    .collect()
            })
            .collect();
        table(&["TAG", "CATEGORY", "GROUP"], &cells)
    })
}

async fn commits(
    ctx: &Ctx,
    repo: &RepoArg,
    revision: &str,
    limit: u32,
    page: u32,
) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    // The commits route may answer an empty list for an unknown ref: check the ref first.
    tip(ctx, kind, id, revision).await?;
    let subject = Subject::repo(kind, id).at(revision);
    let ep = endpoints::commits(kind.api(), id, revision, limit, page)
        .map_err(|e| ctx.api_error(e, subject.clone()))?;
    let p = ctx.call(ep, &subject).await?;
    let rows: Vec<CommitOut> = p.commits.into_iter().map(CommitOut::from).collect();
    ctx.out.info(format_args!(
        "page {page} of {} ({} commits on {revision})",
        p.page_count.max(1),
        p.total
    ));
    ctx.out.emit(&rows, || {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|c| {
                vec![
                    c.id.chars().take(12).collect(),
                    sanitize(&c.date).into_owned(),
                    sanitize(&c.author).into_owned(),
                    sanitize(&c.message).into_owned(),
                ]
            })
            .collect();
        table(&["COMMIT", "DATE", "AUTHOR", "MESSAGE"], &cells)
    })
}

struct CreateOpts {
    private: bool,
    nickname: Option<String>,
    description: Option<String>,
    license: Option<String>,
    default_branch: Option<String>,
    space_sdk: String,
    resource_id: Option<i64>,
}

async fn create(ctx: &Ctx, repo: &RepoArg, o: &CreateOpts) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    ctx.require_token()?;
    let subject = Subject::repo(kind, id);
    let generic = CreateRepoReq {
        name: id.name().to_owned(),
        namespace: Some(id.namespace().to_owned()),
        nickname: o.nickname.clone(),
        description: o.description.clone(),
        license: o.license.clone(),
        default_branch: o.default_branch.clone(),
        private: Some(o.private),
        ..CreateRepoReq::default()
    };
    let result = match kind {
        RepoKind::Model => {
            created(
                ctx,
                endpoints::create_model(&CreateModelReq::from(&generic)),
            )
            .await
        }
        RepoKind::Dataset => {
            created(
                ctx,
                endpoints::create_dataset(&CreateDatasetReq::from(&generic)),
            )
            .await
        }
        RepoKind::Space => {
            let ep = endpoints::space_resources(0);
            ctx.log_request(&ep);
            let resources = ctx
                .client()?
                .execute(ep)
                .await
                .map_err(|e| ctx.api_error(e, subject.clone()))?;
            let Some(resource) = SpaceResource::choose(&resources, o.resource_id) else {
                let offered: Vec<String> = resources
                    .iter()
                    .map(|r| format!("{} ({})", r.id, r.name))
                    .collect();
                return Err(CliError::Failed(match o.resource_id {
                    Some(id) => format!(
                        "space resource {id} is not offered by {}; choose one of: {}",
                        ctx.config.endpoint,
                        offered.join(", ")
                    ),
                    None => format!(
                        "{} offers no available space resource; pass --resource-id (offered: {})",
                        ctx.config.endpoint,
                        offered.join(", ")
                    ),
                }));
            };
            let req = CreateSpaceReq::new(&generic, &o.space_sdk, resource);
            created(ctx, endpoints::create_space(&req)).await
        }
        RepoKind::Code => created(ctx, endpoints::create_repo::<Code>(&generic)).await,
        RepoKind::Mcp => created(ctx, endpoints::create_repo::<McpServer>(&generic)).await,
        RepoKind::Skill => created(ctx, endpoints::create_repo::<Skill>(&generic)).await,
    };
    let d = match result {
        Ok(v) => v,
        Err(ApiError::Conflict(_)) => {
            return Err(CliError::Failed(format!(
                "{} {id} already exists on {}; choose another name, or delete it first with \
                 `csghub-cli repo delete {id}{}`",
                kind.as_str(),
                ctx.config.endpoint,
                repo_flag(kind)
            )));
        }
        Err(e) => return Err(ctx.api_error(e, subject)),
    };
    let private = d
        .get("private")
        .and_then(Value::as_bool)
        .unwrap_or(o.private);
    let value = json!({
        "repo_type": kind.as_str(),
        "repo_id": id.to_string(),
        "private": private,
        "default_branch": str_field(&d, "default_branch"),
        "url": format!("{}/{}/{id}", ctx.config.endpoint, kind.api().rest_segment()),
    });
    ctx.out.emit(&value, || {
        format!(
            "Created {} {} {id}: {}",
            if private { "private" } else { "public" },
            kind.as_str(),
            value["url"].as_str().unwrap_or("")
        )
    })
}

async fn created<T: serde::de::DeserializeOwned + Serialize>(
    ctx: &Ctx,
    ep: csghub_api::Endpoint<T>,
) -> Result<Value, ApiError> {
    let client = ctx.client().map_err(|e| ApiError::Setup(e.to_string()))?;
    ctx.log_request(&ep);
    let t = client.execute(ep).await?;
    Ok(serde_json::to_value(t).unwrap_or(Value::Null))
}

async fn delete(ctx: &Ctx, repo: &RepoArg, yes: bool) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    ctx.require_token()?;
    let what = format!("{} {id}", kind.as_str());
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(CliError::Usage(format!(
                "refusing to delete {what} without --yes (standard input is not a terminal, so \
                 nobody can confirm)"
            )));
        }
        let term = console::Term::stderr();
        term.write_str(&format!(
            "Delete {what} on {} permanently? Type {id} to confirm: ",
            ctx.config.endpoint
        ))
        .map_err(|e| CliError::io("write the prompt to", "the terminal", e))?;
        let answer = term
            .read_line()
            .map_err(|e| CliError::io("read the answer from", "the terminal", e))?;
        if answer.trim() != id.to_string() {
            return Err(CliError::Failed(format!(
                "not confirmed; {what} was not deleted"
            )));
        }
    }
    ctx.call(
        endpoints::delete_repo(kind.api(), id),
        &Subject::repo(kind, id),
    )
    .await?;
    let value = json!({ "deleted": true, "repo_type": kind.as_str(), "repo_id": id.to_string() });
    ctx.out.emit(&value, || {
        format!("Deleted {what} from {}.", ctx.config.endpoint)
    })
}
