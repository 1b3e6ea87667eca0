//! Every route a client needs, as constructors of [`Endpoint`] values. Execute them with
//! [`crate::Client::execute`] (or the blocking facade).
//!
//! Encoding rules (SERVER.md §1.3): namespace, name and revision are single percent-encoded
//! segments; file paths keep `/` and percent-encode the rest. The server decodes `%2F` before
//! routing, so a revision with `/` (`refs/pr/1`, `feature/x`) only works where it travels as
//! `?ref=` ([`last_commit`], [`commits`], [`blob`], [`legacy_tree`], REST resolve). Path-revision
//! routes still send it as `%2F` (the server then answers "not found"); check
//! [`crate::revision_fits_path`] to pick a `?ref=` route first.

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::dto::{
    Action, BatchRequest, BatchResponse, CommitsPage, CompleteMultipartBody, DeployCreated,
    HfCommitLine, HfCommitResponse, HfPathInfo, HfRepoInfo, LfsObject, Paged, TokenInfo,
    WhoamiResponse,
};
use crate::endpoint::{Body, Endpoint, Envelope, FormPart, Target};
use crate::error::NotFoundMeans;
use crate::generated::{
    Branch, Code, Commit, CommitFilesReq, CommitResponse, CreateDatasetReq, CreateFileReq,
    CreateModelReq, CreateRepoReq, CreateSpaceReq, Dataset, DeleteFileReq, Deploy, File, McpServer,
    MetadataTag, Model, PreuploadReq, PreuploadResp, RepoFileTree, Skill, Space, SpaceResource,
    UpdateFileReq, UpdateRepoReq,
};
use crate::repo::{RepoId, RepoType, encode_repo_path, encode_revision, encode_segment};

/// Content type of LFS batch and verify requests.
pub const LFS_MEDIA_TYPE: &str = "application/vnd.git-lfs+json";

/// A repository detail DTO and the kind it belongs to.
pub trait RepoDetail: DeserializeOwned {
    /// The repo kind whose REST detail route returns this type.
    const KIND: RepoType;
}

macro_rules! repo_detail {
    ($($t:ty => $k:expr),* $(,)?) => { $(impl RepoDetail for $t { const KIND: RepoType = $k; })* };
}
repo_detail!(
    Model => RepoType::Model,
    Dataset => RepoType::Dataset,
    Space => RepoType::Space,
    Code => RepoType::Code,
    McpServer => RepoType::McpServer,
    Skill => RepoType::Skill,
);

fn rest_repo(kind: RepoType, repo: &RepoId) -> String {
    format!("/api/v1/{}/{}", kind.rest_segment(), repo.encoded())
}

fn hf_kind(kind: RepoType, allowed: &[RepoType]) -> Result<&'static str, Error> {
    if allowed.contains(&kind) {
        Ok(kind.rest_segment())
    } else {
        Err(Error::InvalidInput {
            what: "repo type",
            value: kind.to_string(),
            reason: "this HF-compatible route exists only for the kinds SERVER.md §4 lists",
        })
    }
}

// ------------------------------------------------------------------------------------------
// Repo info (SERVER.md §5.1, §8.1)

/// `GET /api/v1/{type}/{ns}/{name}`: REST detail, typed by kind (`repo_detail::<Model>(..)`).
pub fn repo_detail<T: RepoDetail>(repo: &RepoId) -> Endpoint<T> {
    Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}",
        rest_repo(T::KIND, repo),
        Envelope::Data,
    )
}

/// `GET /hf/api/{type}/{ns}/{name}[/revision/{rev}][?blobs=true]`: HF-compatible info with the
/// recursive file list (`siblings`). For non-models `sha` is the default branch name (§8.1).
pub fn hf_repo_info(
    kind: RepoType,
    repo: &RepoId,
    revision: Option<&str>,
    blobs: bool,
) -> Result<Endpoint<HfRepoInfo>, Error> {
    let seg = hf_kind(kind, &RepoType::ALL[..6])?;
    let mut path = format!("/hf/api/{seg}/{}", repo.encoded());
    if let Some(rev) = revision {
        path = format!("{path}/revision/{}", encode_revision(rev)?);
    }
    let ep = Endpoint::new(
        Method::GET,
        "/hf/api/{type}/{ns}/{name}/revision/{rev}",
        path,
        Envelope::Raw,
    );
    Ok(if blobs { ep.query("blobs", "true") } else { ep })
}

// ------------------------------------------------------------------------------------------
// Listing (SERVER.md §6)

/// `GET /api/v1/{type}/{ns}/{name}/refs/{ref}/tree/{path}?limit=&cursor=`: one page of a
/// directory (not recursive). A missing path or ref answers 200 with an empty body, read as an
/// empty page. Follow `cursor` with [`crate::Client::tree_pages`].
pub fn tree_page(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    dir: &str,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Endpoint<RepoFileTree>, Error> {
    let path = format!(
        "{}/refs/{}/tree/{}",
        rest_repo(kind, repo),
        encode_revision(revision)?,
        encode_repo_path(dir)?
    );
    Ok(Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/refs/{ref}/tree/{path}",
        path,
        Envelope::DataOrEmpty,
    )
    .query_opt("limit", limit)
    .query_opt("cursor", cursor.filter(|c| !c.is_empty())))
}

/// `GET /api/v1/{type}/{ns}/{name}/tree?path=&ref=`: legacy listing (≤ 1000 entries, with
/// last commits). Takes the revision as a query, so `refs/pr/1` works here.
pub fn legacy_tree(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    dir: &str,
) -> Result<Endpoint<Vec<File>>, Error> {
    crate::repo::check_revision(revision)?;
    encode_repo_path(dir)?;
    Ok(Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/tree",
        format!("{}/tree", rest_repo(kind, repo)),
        Envelope::Data,
    )
    .query("path", dir.trim_matches('/'))
    .query("ref", revision))
}

/// `GET /hf/api/{models|datasets}/{ns}/{name}/tree/{rev}/{path}?recursive=true`: every file
/// below `dir` in one answer (directories omitted when recursive).
pub fn hf_tree(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    dir: &str,
    recursive: bool,
) -> Result<Endpoint<Vec<HfPathInfo>>, Error> {
    let seg = hf_kind(kind, &[RepoType::Model, RepoType::Dataset])?;
    let path = format!(
        "/hf/api/{seg}/{}/tree/{}/{}",
        repo.encoded(),
        encode_revision(revision)?,
        encode_repo_path(dir)?
    );
    let ep = Endpoint::new(
        Method::GET,
        "/hf/api/{type}/{ns}/{name}/tree/{rev}/{path}",
        path,
        Envelope::Raw,
    )
    .not_found(NotFoundMeans::Entry);
    // Exactly lower-case `true` (§8.3).
    Ok(if recursive {
        ep.query("recursive", "true")
    } else {
        ep
    })
}

/// `GET /api/v1/{type}/{ns}/{name}/blob/{path}?ref=`: one file's metadata (and base64 content
/// up to 900 000 bytes).
pub fn blob(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    path: &str,
) -> Result<Endpoint<File>, Error> {
    crate::repo::check_revision(revision)?;
    let p = format!("{}/blob/{}", rest_repo(kind, repo), non_empty_path(path)?);
    Ok(Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/blob/{path}",
        p,
        Envelope::Data,
    )
    .query("ref", revision)
    .not_found(NotFoundMeans::Entry))
}

fn non_empty_path(path: &str) -> Result<String, Error> {
    let encoded = encode_repo_path(path)?;
    if encoded.is_empty() {
        return Err(Error::InvalidInput {
            what: "file path",
            value: path.to_owned(),
            reason: "must name a file",
        });
    }
    Ok(encoded)
}

// ------------------------------------------------------------------------------------------
// Refs and commits (SERVER.md §5.2-§5.6)

/// `GET /api/v1/{type}/{ns}/{name}/branches`: all branches (`null` reads as none). Note the
/// server reports `feature/x` as `x` (§5.2).
pub fn branches(kind: RepoType, repo: &RepoId) -> Endpoint<Vec<Branch>> {
    Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/branches",
        format!("{}/branches", rest_repo(kind, repo)),
        Envelope::Data,
    )
}

/// `GET /api/v1/{type}/{ns}/{name}/tags`: the repo's metadata tags (not git tags, §5.3).
pub fn tags(kind: RepoType, repo: &RepoId) -> Endpoint<Vec<MetadataTag>> {
    Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/tags",
        format!("{}/tags", rest_repo(kind, repo)),
        Envelope::Data,
    )
}

/// `GET /api/v1/{type}/{ns}/{name}/commits?ref=&per=&page=`: one page of commits.
pub fn commits(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<CommitsPage>, Error> {
    crate::repo::check_revision(revision)?;
    Ok(Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/commits",
        format!("{}/commits", rest_repo(kind, repo)),
        Envelope::Data,
    )
    .query("ref", revision)
    .query("per", per)
    .query("page", page)
    .not_found(NotFoundMeans::Revision))
}

/// `GET /api/v1/{type}/{ns}/{name}/last_commit?ref=`: the tip commit of `revision`. An unknown
/// ref may answer an all-empty commit (`id == ""`, §5.5): check `id`.
pub fn last_commit(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
) -> Result<Endpoint<Commit>, Error> {
    crate::repo::check_revision(revision)?;
    Ok(Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/last_commit",
        format!("{}/last_commit", rest_repo(kind, repo)),
        Envelope::Data,
    )
    .query("ref", revision)
    .not_found(NotFoundMeans::Revision))
}

/// `GET /api/v1/{type}/{ns}/{name}/commit/{commit_id}`: one commit with its diff.
pub fn commit_detail(
    kind: RepoType,
    repo: &RepoId,
    commit_id: &str,
) -> Result<Endpoint<CommitResponse>, Error> {
    let p = format!(
        "{}/commit/{}",
        rest_repo(kind, repo),
        encode_revision(commit_id)?
    );
    Ok(Endpoint::new(
        Method::GET,
        "/api/v1/{type}/{ns}/{name}/commit/{commit_id}",
        p,
        Envelope::Data,
    )
    .not_found(NotFoundMeans::Revision))
}

// ------------------------------------------------------------------------------------------
// Download URLs (SERVER.md §7). The body itself is fetched by csghub-transfer.

/// Path of the HF-style resolve route `/{prefix}[/{type}s]/{ns}/{name}/resolve/{rev}/{path}`,
/// `prefix` being `hf` or `csg`. Refused for prompts and for revisions containing `/` (use
/// [`rest_resolve_path`] for those).
pub fn hf_resolve_path(
    prefix: &str,
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    path: &str,
) -> Result<String, Error> {
    let kind_prefix = kind.hf_resolve_prefix().ok_or(Error::InvalidInput {
        what: "repo type",
        value: kind.to_string(),
        reason: "prompts have no download route",
    })?;
    if !crate::repo::revision_fits_path(revision) {
        return Err(Error::InvalidInput {
            what: "revision",
            value: revision.to_owned(),
            reason: "contains `/`, which the server cannot route in a path segment (SERVER.md §1.3); use the REST resolve route",
        });
    }
    Ok(format!(
        "/{}{kind_prefix}/{}/resolve/{}/{}",
        encode_segment(prefix),
        repo.encoded(),
        encode_revision(revision)?,
        non_empty_path(path)?
    ))
}

/// Path and query of the REST resolve route `/api/v1/{type}/{ns}/{name}/resolve/{path}?ref=`
/// (works with any revision; datasets need login).
pub fn rest_resolve_path(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    path: &str,
) -> Result<(String, Vec<(String, String)>), Error> {
    crate::repo::check_revision(revision)?;
    Ok((
        format!(
            "{}/resolve/{}",
            rest_repo(kind, repo),
            non_empty_path(path)?
        ),
        vec![("ref".to_owned(), revision.to_owned())],
    ))
}

// ------------------------------------------------------------------------------------------
// Account (SERVER.md §8.4, §10)

/// `GET /api/v1/token/{token}?app=git`: details of a token, sent without `Authorization`.
/// The token travels in the path; errors and `Debug` show the route template instead.
pub fn token_info(token: &crate::Token) -> Endpoint<TokenInfo> {
    let mut ep = Endpoint::new(
        Method::GET,
        "/api/v1/token/{token}",
        format!("/api/v1/token/{}", encode_segment(token.expose())),
        Envelope::Data,
    )
    .query("app", "git")
    .not_found(NotFoundMeans::Other);
    ep.auth = false;
    ep.secret_path = true;
    ep
}

/// `GET /hf/api/whoami-v2`: the caller's user name (needs a token).
pub fn whoami() -> Endpoint<WhoamiResponse> {
    Endpoint::new(
        Method::GET,
        "/hf/api/whoami-v2",
        "/hf/api/whoami-v2".to_owned(),
        Envelope::Raw,
    )
    .not_found(NotFoundMeans::Other)
}

// ------------------------------------------------------------------------------------------
// Upload (SERVER.md §9)

/// `POST /api/v1/{type}/{ns}/{name}/preupload/{rev}`: upload mode and existing oid per path.
pub fn preupload(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    req: &PreuploadReq,
) -> Result<Endpoint<PreuploadResp>, Error> {
    let p = format!(
        "{}/preupload/{}",
        rest_repo(kind, repo),
        encode_revision(revision)?
    );
    Ok(Endpoint::new(
        Method::POST,
        "/api/v1/{type}/{ns}/{name}/preupload/{rev}",
        p,
        Envelope::Data,
    )
    .body(Body::json(req))
    .not_found(NotFoundMeans::Revision))
}

/// `POST /api/v1/{type}/{ns}/{name}/commit/{rev}`: one commit of base64 files (LFS files as
/// pointer text). `delete` of an existing file empties it (§9.6): delete with [`delete_file`].
pub fn commit(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    req: &CommitFilesReq,
) -> Result<Endpoint<()>, Error> {
    let p = format!(
        "{}/commit/{}",
        rest_repo(kind, repo),
        encode_revision(revision)?
    );
    Ok(Endpoint::new(
        Method::POST,
        "/api/v1/{type}/{ns}/{name}/commit/{rev}",
        p,
        Envelope::Ignore,
    )
    .body(Body::json(req))
    .not_found(NotFoundMeans::Revision))
}

/// `POST /hf/api/{models|datasets}/{ns}/{name}/commit/{rev}`: the HF NDJSON commit.
pub fn hf_commit(
    kind: RepoType,
    repo: &RepoId,
    revision: &str,
    lines: &[HfCommitLine],
) -> Result<Endpoint<HfCommitResponse>, Error> {
    let seg = hf_kind(kind, &[RepoType::Model, RepoType::Dataset])?;
    let mut body = Vec::new();
    for line in lines {
        // Serialising our own enum of strings cannot fail.
        body.extend(serde_json::to_vec(line).unwrap_or_default());
        body.push(b'\n');
    }
    let p = format!(
        "/hf/api/{seg}/{}/commit/{}",
        repo.encoded(),
        encode_revision(revision)?
    );
    Ok(Endpoint::new(
        Method::POST,
        "/hf/api/{type}/{ns}/{name}/commit/{rev}",
        p,
        Envelope::Raw,
    )
    .body(Body::Ndjson(Bytes::from(body)))
    .not_found(NotFoundMeans::Revision))
}

/// `POST /{git type}/{ns}/{name}.git/info/lfs/objects/batch` (git family; `mcpservers` for MCP).
/// Needs an access token of app `git`.
pub fn lfs_batch(kind: RepoType, repo: &RepoId, req: &BatchRequest) -> Endpoint<BatchResponse> {
    let p = format!(
        "/{}/{}/{}.git/info/lfs/objects/batch",
        kind.git_segment(),
        encode_segment(repo.namespace()),
        encode_segment(repo.name())
    );
    Endpoint::new(
        Method::POST,
        "/{gitType}/{ns}/{name}.git/info/lfs/objects/batch",
        p,
        Envelope::Raw,
    )
    .header("Accept", LFS_MEDIA_TYPE)
    .body(Body::json_as(req, LFS_MEDIA_TYPE))
}

/// `POST <upload href>` of a multipart upload: completes it. No `Authorization` (the signed URL
/// is the capability); success is 200 with an empty body, any body is a failure (§9.10).
pub fn complete_multipart(href: &str, body: &CompleteMultipartBody) -> Result<Endpoint<()>, Error> {
    let url = absolute(href, "complete_multipart href")?;
    let mut ep = Endpoint::new(
        Method::POST,
        "/api/v1/complete_multipart",
        String::new(),
        Envelope::EmptyOnSuccess,
    )
    .body(Body::json(body))
    .not_found(NotFoundMeans::Other);
    ep.target = Target::Url(url);
    ep.auth = false;
    Ok(ep)
}

/// `POST <verify href>` with `{oid, size}`: registers the uploaded object for the repo. Sends
/// the action's headers, and `Authorization` only if the action asked for it.
pub fn lfs_verify(action: &Action, object: &LfsObject) -> Result<Endpoint<()>, Error> {
    let url = absolute(&action.href, "verify href")?;
    let mut ep = Endpoint::new(
        Method::POST,
        "/{gitType}/{ns}/{name}.git/info/lfs/verify",
        String::new(),
        Envelope::Ignore,
    )
    .body(Body::json_as(object, LFS_MEDIA_TYPE))
    .not_found(NotFoundMeans::Entry);
    for (k, v) in action.headers_without_auth() {
        ep = ep.header(k, v);
    }
    ep.target = Target::Url(url);
    ep.auth = action.wants_auth();
    Ok(ep)
}

fn absolute(href: &str, what: &'static str) -> Result<url::Url, Error> {
    let url = url::Url::parse(href).map_err(|_| Error::InvalidInput {
        what,
        value: hide(href),
        reason: "not an absolute URL",
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidInput {
            what,
            value: hide(href),
            reason: "scheme must be http or https",
        });
    }
    Ok(url)
}

fn hide(href: &str) -> String {
    href.split('?').next().unwrap_or("").to_owned()
}

/// `POST /api/v1/{type}/{ns}/{name}/raw/{path}`: create one file (`content` base64; with
/// `new_branch` this also creates a branch, §9.3).
pub fn create_file(
    kind: RepoType,
    repo: &RepoId,
    path: &str,
    req: &CreateFileReq,
) -> Result<Endpoint<()>, Error> {
    raw_write(Method::POST, kind, repo, path, Body::json(req))
}

/// `PUT /api/v1/{type}/{ns}/{name}/raw/{path}`: update (or, with `origin_path`, move) a file.
pub fn update_file(
    kind: RepoType,
    repo: &RepoId,
    path: &str,
    req: &UpdateFileReq,
) -> Result<Endpoint<()>, Error> {
    raw_write(Method::PUT, kind, repo, path, Body::json(req))
}

/// `DELETE /api/v1/{type}/{ns}/{name}/raw/{path}` with a JSON body (`message`, `branch`).
pub fn delete_file(
    kind: RepoType,
    repo: &RepoId,
    path: &str,
    req: &DeleteFileReq,
) -> Result<Endpoint<()>, Error> {
    raw_write(Method::DELETE, kind, repo, path, Body::json(req))
}

fn raw_write(
    method: Method,
    kind: RepoType,
    repo: &RepoId,
    path: &str,
    body: Body,
) -> Result<Endpoint<()>, Error> {
    let p = format!("{}/raw/{}", rest_repo(kind, repo), non_empty_path(path)?);
    Ok(Endpoint::new(
        method,
        "/api/v1/{type}/{ns}/{name}/raw/{path}",
        p,
        Envelope::Ignore,
    )
    .body(body)
    .not_found(NotFoundMeans::Entry))
}

/// One file for [`upload_file`].
#[derive(Clone, Debug)]
pub struct UploadFile {
    /// Path in the repository.
    pub path: String,
    /// Content.
    pub data: Bytes,
}

/// `POST /api/v1/{type}/{ns}/{name}/upload_file`: multipart form with repeated `file` parts
/// and matching `file_path` values (§9.11).
pub fn upload_file(
    kind: RepoType,
    repo: &RepoId,
    branch: &str,
    message: &str,
    files: &[UploadFile],
) -> Result<Endpoint<()>, Error> {
    crate::repo::check_revision(branch)?;
    let mut parts = Vec::new();
    for f in files {
        let encoded = non_empty_path(&f.path)?;
        let base = f
            .path
            .trim_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(&encoded)
            .to_owned();
        parts.push(FormPart {
            name: "file".into(),
            file_name: Some(base),
            data: f.data.clone(),
        });
    }
    for f in files {
        parts.push(FormPart {
            name: "file_path".into(),
            file_name: None,
            data: Bytes::from(f.path.trim_matches('/').to_owned()),
        });
    }
    parts.push(FormPart {
        name: "message".into(),
        file_name: None,
        data: Bytes::from(message.to_owned()),
    });
    parts.push(FormPart {
        name: "branch".into(),
        file_name: None,
        data: Bytes::from(branch.to_owned()),
    });
    Ok(Endpoint::new(
        Method::POST,
        "/api/v1/{type}/{ns}/{name}/upload_file",
        format!("{}/upload_file", rest_repo(kind, repo)),
        Envelope::Ignore,
    )
    .body(Body::Multipart(parts)))
}

// ------------------------------------------------------------------------------------------
// Repo management (SERVER.md §9.1)

/// `POST /api/v1/models`.
pub fn create_model(req: &CreateModelReq) -> Endpoint<Model> {
    Endpoint::new(
        Method::POST,
        "/api/v1/models",
        "/api/v1/models".into(),
        Envelope::Data,
    )
    .body(Body::json(req))
}

/// `POST /api/v1/datasets` (`type` is the integer dataset type here).
pub fn create_dataset(req: &CreateDatasetReq) -> Endpoint<Dataset> {
    Endpoint::new(
        Method::POST,
        "/api/v1/datasets",
        "/api/v1/datasets".into(),
        Envelope::Data,
    )
    .body(Body::json(req))
}

/// `POST /api/v1/spaces`.
pub fn create_space(req: &CreateSpaceReq) -> Endpoint<Space> {
    create_repo_json(req)
}

/// `GET /api/v1/space_resources?deploy_type=`: the hardware a space (`0`), an inference (`1`)
/// or a fine-tune (`2`) can run on; R{data: [...], total}. pycsghub asks without a token (§14).
pub fn space_resources(deploy_type: u8) -> Endpoint<Vec<SpaceResource>> {
    Endpoint::new(
        Method::GET,
        "/api/v1/space_resources",
        "/api/v1/space_resources".into(),
        Envelope::Data,
    )
    .query("deploy_type", deploy_type)
    .not_found(NotFoundMeans::Other)
}

/// `POST /api/v1/{codes|spaces|mcps|skills}`, typed by kind (`create_repo::<Code>(..)`).
/// Spaces need more fields (`resource_id`, `sdk`) than `CreateRepoReq` has: use
/// [`create_space`].
pub fn create_repo<T: RepoDetail>(req: &CreateRepoReq) -> Endpoint<T> {
    create_repo_json(req)
}

/// `POST /api/v1/{type}` with any serialisable body.
pub fn create_repo_json<T: RepoDetail>(req: &impl serde::Serialize) -> Endpoint<T> {
    let p = format!("/api/v1/{}", T::KIND.rest_segment());
    Endpoint::new(Method::POST, "/api/v1/{type}", p, Envelope::Data).body(Body::json(req))
}

/// `PUT /api/v1/{type}/{ns}/{name}`: change nickname, description, visibility, default branch.
pub fn update_repo<T: RepoDetail>(repo: &RepoId, req: &UpdateRepoReq) -> Endpoint<T> {
    Endpoint::new(
        Method::PUT,
        "/api/v1/{type}/{ns}/{name}",
        rest_repo(T::KIND, repo),
        Envelope::Data,
    )
    .body(Body::json(req))
}

/// `DELETE /api/v1/{type}/{ns}/{name}`.
pub fn delete_repo(kind: RepoType, repo: &RepoId) -> Endpoint<()> {
    Endpoint::new(
        Method::DELETE,
        "/api/v1/{type}/{ns}/{name}",
        rest_repo(kind, repo),
        Envelope::Ignore,
    )
}

// ------------------------------------------------------------------------------------------
// Repo lists (SERVER.md §5.1, §3.1)

/// `GET /api/v1/{type}?search=&per=&page=`: the public catalogue of one kind (plus private repos
/// the caller can read), typed by kind. `{msg,data,total}`; nested for MCP servers (§3.1, §5.1).
pub fn repo_list<T: RepoDetail>(search: Option<&str>, per: u32, page: u32) -> Endpoint<Paged<T>> {
    Endpoint::new(
        Method::GET,
        "/api/v1/{type}",
        format!("/api/v1/{}", T::KIND.rest_segment()),
        Envelope::Paged,
    )
    .query_opt("search", search.filter(|s| !s.is_empty()))
    .query("per", per)
    .query("page", page)
    .not_found(NotFoundMeans::Other)
}

/// `GET /api/v1/user/{username}/{type}?per=&page=`, typed by kind.
pub fn user_repos<T: RepoDetail>(
    username: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<Paged<T>>, Error> {
    owner_repos(
        "/api/v1/user/{username}/{type}",
        "user",
        username,
        per,
        page,
    )
}

/// `GET /api/v1/organization/{ns}/{type}?per=&page=`, typed by kind.
pub fn org_repos<T: RepoDetail>(
    org: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<Paged<T>>, Error> {
    owner_repos(
        "/api/v1/organization/{ns}/{type}",
        "organization",
        org,
        per,
        page,
    )
}

fn owner_repos<T: RepoDetail>(
    template: &'static str,
    scope: &str,
    owner: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<Paged<T>>, Error> {
    let owner = RepoId::new(owner, "x").map(|r| r.namespace().to_owned())?;
    let p = format!(
        "/api/v1/{scope}/{}/{}",
        encode_segment(&owner),
        T::KIND.rest_segment()
    );
    Ok(Endpoint::new(Method::GET, template, p, Envelope::Paged)
        .query("per", per)
        .query("page", page)
        .not_found(NotFoundMeans::Other))
}

// ------------------------------------------------------------------------------------------
// Inference and fine-tune (SERVER.md §11)

fn deploy_path(repo: &RepoId, what: &str, id: i64) -> String {
    format!("/api/v1/models/{}/{what}/{id}", repo.encoded())
}

fn user_scoped<T>(
    template: &'static str,
    username: &str,
    tail: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<T>, Error> {
    let user = RepoId::new(username, "x").map(|r| r.namespace().to_owned())?;
    Ok(Endpoint::new(
        Method::GET,
        template,
        format!("/api/v1/user/{}/{tail}", encode_segment(&user)),
        Envelope::Paged,
    )
    .query("per", per)
    .query("page", page)
    .not_found(NotFoundMeans::Other))
}

/// `GET /api/v1/user/{username}/run/model?deploy_type=1`: the user's inference endpoints.
pub fn inference_list(
    username: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<Paged<Deploy>>, Error> {
    Ok(user_scoped(
        "/api/v1/user/{username}/run/model",
        username,
        "run/model",
        per,
        page,
    )?
    .query("deploy_type", 1))
}

/// `GET /api/v1/models/{ns}/{name}/run/{id}`: one inference endpoint.
pub fn inference_get(repo: &RepoId, id: i64) -> Endpoint<Deploy> {
    Endpoint::new(
        Method::GET,
        "/api/v1/models/{ns}/{name}/run/{id}",
        deploy_path(repo, "run", id),
        Envelope::Data,
    )
    .not_found(NotFoundMeans::Other)
}

/// `PUT /api/v1/models/{ns}/{name}/run/{id}/start`.
pub fn inference_start(repo: &RepoId, id: i64) -> Endpoint<()> {
    Endpoint::new(
        Method::PUT,
        "/api/v1/models/{ns}/{name}/run/{id}/start",
        format!("{}/start", deploy_path(repo, "run", id)),
        Envelope::Ignore,
    )
    .not_found(NotFoundMeans::Other)
}

/// `PUT /api/v1/models/{ns}/{name}/run/{id}/stop`.
pub fn inference_stop(repo: &RepoId, id: i64) -> Endpoint<()> {
    Endpoint::new(
        Method::PUT,
        "/api/v1/models/{ns}/{name}/run/{id}/stop",
        format!("{}/stop", deploy_path(repo, "run", id)),
        Envelope::Ignore,
    )
    .not_found(NotFoundMeans::Other)
}

/// `POST /api/v1/models/{ns}/{name}/run`: create an inference endpoint.
pub fn inference_create(
    repo: &RepoId,
    req: &crate::generated::ModelRunReq,
) -> Endpoint<DeployCreated> {
    Endpoint::new(
        Method::POST,
        "/api/v1/models/{ns}/{name}/run",
        format!("/api/v1/models/{}/run", repo.encoded()),
        Envelope::Data,
    )
    .body(Body::json(req))
}

/// `GET /api/v1/user/{username}/finetune/instances`: the user's fine-tune instances.
pub fn finetune_list(
    username: &str,
    per: u32,
    page: u32,
) -> Result<Endpoint<Paged<Deploy>>, Error> {
    user_scoped(
        "/api/v1/user/{username}/finetune/instances",
        username,
        "finetune/instances",
        per,
        page,
    )
}

// No `finetune_get`: the server has no `GET /models/{ns}/{name}/finetune/{id}` (SERVER.md §11
// lists PUT/DELETE on that path only; the spec agrees). Find an instance in [`finetune_list`].

/// `PUT /api/v1/models/{ns}/{name}/finetune/{id}/start`.
pub fn finetune_start(repo: &RepoId, id: i64) -> Endpoint<()> {
    Endpoint::new(
        Method::PUT,
        "/api/v1/models/{ns}/{name}/finetune/{id}/start",
        format!("{}/start", deploy_path(repo, "finetune", id)),
        Envelope::Ignore,
    )
    .not_found(NotFoundMeans::Other)
}

/// `PUT /api/v1/models/{ns}/{name}/finetune/{id}/stop`.
pub fn finetune_stop(repo: &RepoId, id: i64) -> Endpoint<()> {
    Endpoint::new(
        Method::PUT,
        "/api/v1/models/{ns}/{name}/finetune/{id}/stop",
        format!("{}/stop", deploy_path(repo, "finetune", id)),
        Envelope::Ignore,
    )
    .not_found(NotFoundMeans::Other)
}

/// The kind-specific create bodies carry the generic fields under the same names: build them
/// from one [`CreateRepoReq`] (name, namespace, nickname, description, license, default branch,
/// private), so callers describe a new repo once whatever its kind.
macro_rules! from_create_repo {
    ($($t:ident),* $(,)?) => {$(
        impl From<&CreateRepoReq> for $t {
            fn from(r: &CreateRepoReq) -> Self {
                $t {
                    name: r.name.clone(),
                    namespace: r.namespace.clone(),
                    nickname: r.nickname.clone(),
                    description: r.description.clone(),
                    license: r.license.clone(),
                    default_branch: r.default_branch.clone(),
                    private: r.private,
                    ..$t::default()
                }
            }
        }
    )*};
}

from_create_repo!(CreateModelReq, CreateDatasetReq, CreateSpaceReq);

impl SpaceResource {
    /// The resource to run a new space on: the one with `id` if given, else the first available
    /// one (what pycsghub takes).
    pub fn choose(list: &[SpaceResource], id: Option<i64>) -> Option<&SpaceResource> {
        match id {
            Some(id) => list.iter().find(|r| r.id == id),
            None => list.iter().find(|r| r.is_available),
        }
    }
}

impl CreateSpaceReq {
    /// A new space described by `r`, running `sdk` (`gradio`, `streamlit`, `docker`, ...) on
    /// `resource` (one of [`space_resources`]): the server requires all three (§9.1).
    pub fn new(r: &CreateRepoReq, sdk: &str, resource: &SpaceResource) -> CreateSpaceReq {
        CreateSpaceReq {
            sdk: sdk.to_string(),
            resource_id: resource.id,
            cluster_id: resource.cluster_id.clone(),
            ..CreateSpaceReq::from(r)
        }
    }
}
