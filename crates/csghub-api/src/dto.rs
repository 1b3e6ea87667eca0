//! Hand-written DTOs for what the swagger spec does not describe (SERVER.md §13.1, last row).
//! Each type names the SERVER.md section it follows.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::de::null_default;
use crate::generated::Commit;

/// Hand-written (SERVER.md §3.1): a paged list in any of the three envelopes
/// `{msg,data:[..],total}`, `{message,data:[..],total}` and `{msg,data:{data:[..],total}}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Paged<T> {
    /// The items of this page (`null` reads as empty).
    pub items: Vec<T>,
    /// Total number of items over all pages.
    pub total: i64,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            total: 0,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Paged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let body = Value::deserialize(deserializer)?;
        let total_of = |v: &Value| v.get("total").and_then(Value::as_i64).unwrap_or(0);
        let (items, total) = match body.get("data") {
            None | Some(Value::Null) => (Value::Array(Vec::new()), total_of(&body)),
            Some(Value::Array(a)) => (Value::Array(a.clone()), total_of(&body)),
            Some(nested @ Value::Object(_)) => {
                let items = match nested.get("data") {
                    None | Some(Value::Null) => Value::Array(Vec::new()),
                    Some(v) => v.clone(),
                };
                (items, total_of(nested))
            }
            Some(_) => {
                return Err(D::Error::custom(
                    "paged list: `data` is neither a list nor an object",
                ));
            }
        };
        let items = Vec::<T>::deserialize(items).map_err(D::Error::custom)?;
        Ok(Paged { items, total })
    }
}

/// Hand-written (SERVER.md §5.4): `data` of `GET .../commits` (the spec says a bare list).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitsPage {
    /// The commits of this page, newest first.
    #[serde(deserialize_with = "null_default")]
    pub commits: Vec<Commit>,
    /// Number of commits on the ref.
    #[serde(deserialize_with = "null_default")]
    pub total: i64,
    /// Number of pages at the requested `per`.
    #[serde(deserialize_with = "null_default")]
    pub page_count: i64,
}

/// Hand-written (SERVER.md §8.1): HF-compatible repo info, `SDKModelInfo` for models and
/// `SDKFiles` for the other kinds (where `sha` is the default branch *name*).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HfRepoInfo {
    /// `ns/name`.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Namespace (models only).
    #[serde(deserialize_with = "null_default")]
    pub author: String,
    /// Commit id at the revision (models); default branch name (other kinds, §8.1).
    #[serde(deserialize_with = "null_default")]
    pub sha: String,
    /// RFC 3339 (models only; snake_case unlike HF).
    #[serde(deserialize_with = "null_default")]
    pub created_at: String,
    /// RFC 3339 (models only).
    #[serde(deserialize_with = "null_default")]
    pub last_modified: String,
    /// Private repository.
    #[serde(deserialize_with = "null_default")]
    pub private: bool,
    /// Download count.
    #[serde(deserialize_with = "null_default")]
    pub downloads: i64,
    /// Like count.
    #[serde(deserialize_with = "null_default")]
    pub likes: i64,
    /// Framework tag (models only).
    #[serde(deserialize_with = "null_default")]
    pub library_name: String,
    /// Task tag (models only).
    #[serde(deserialize_with = "null_default")]
    pub pipeline_tag: String,
    /// Tag names.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Every file of the revision, recursively.
    #[serde(deserialize_with = "null_default")]
    pub siblings: Vec<HfSibling>,
    /// Spaces using the model.
    #[serde(deserialize_with = "null_default")]
    pub spaces: Vec<String>,
}

/// Hand-written (SERVER.md §8.1): `SDKFile`, one file of [`HfRepoInfo::siblings`].
/// `blob_id`, `size` and `lfs` are only sent with `blobs=true` (models).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HfSibling {
    /// Path in the repository.
    #[serde(deserialize_with = "null_default")]
    pub rfilename: String,
    /// Git blob SHA-1.
    #[serde(rename = "blobId", skip_serializing_if = "Option::is_none")]
    pub blob_id: Option<String>,
    /// Size in bytes (LFS: the real object size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// LFS details when the file is an LFS pointer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lfs: Option<HfLfs>,
}

/// Hand-written (SERVER.md §8.1): `SDKLFS`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HfLfs {
    /// LFS oid (sha256 hex).
    #[serde(deserialize_with = "null_default")]
    pub sha256: String,
    /// Object size.
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    /// Pointer blob size.
    #[serde(rename = "pointerSize", deserialize_with = "null_default")]
    pub pointer_size: i64,
}

/// Hand-written (SERVER.md §8.3): `HFDSPathInfo`, one entry of the HF tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HfPathInfo {
    /// `file` or `dir`.
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub kind: String,
    /// Path in the repository.
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    /// Size in bytes.
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    /// Git blob SHA-1.
    #[serde(deserialize_with = "null_default")]
    pub oid: String,
}

/// Hand-written (SERVER.md §8.4): `GET /hf/api/whoami-v2`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WhoamiResponse {
    /// User name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Always empty on CSGHub.
    #[serde(deserialize_with = "null_default")]
    pub email: String,
    /// How the caller authenticated.
    pub auth: Option<WhoamiAuth>,
}

/// Hand-written (SERVER.md §8.4): `auth` of [`WhoamiResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WhoamiAuth {
    /// Token details.
    #[serde(rename = "accessToken")]
    pub access_token: Option<WhoamiAccessToken>,
    /// `Bearer`.
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub kind: String,
}

/// Hand-written (SERVER.md §8.4): `auth.accessToken` of [`WhoamiResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WhoamiAccessToken {
    /// User name.
    #[serde(rename = "displayName", deserialize_with = "null_default")]
    pub display_name: String,
    /// `write`.
    #[serde(deserialize_with = "null_default")]
    pub role: String,
}

/// Hand-written (SERVER.md §10): `CheckAccessTokenResp` of `GET /api/v1/token/{token}`.
/// `Debug` hides `token`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenInfo {
    /// Record id.
    #[serde(deserialize_with = "null_default")]
    pub id: i64,
    /// The token value itself (secret).
    #[serde(deserialize_with = "null_default")]
    pub token: String,
    /// Token name.
    #[serde(deserialize_with = "null_default")]
    pub token_name: String,
    /// `git` (normal hub token), `mirror`, `starship` or `aigateway`.
    #[serde(deserialize_with = "null_default")]
    pub application: String,
    /// Permission, when restricted.
    #[serde(deserialize_with = "null_default")]
    pub permission: String,
    /// Owner.
    #[serde(deserialize_with = "null_default")]
    pub user_name: String,
    /// Owner uuid.
    #[serde(deserialize_with = "null_default")]
    pub user_uuid: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` means no expiry. Expired tokens are still returned:
    /// compare yourself.
    #[serde(deserialize_with = "null_default")]
    pub expire_at: String,
    /// Namespace uuid.
    #[serde(deserialize_with = "null_default")]
    pub ns_uuid: String,
    /// Token type.
    #[serde(deserialize_with = "null_default")]
    pub token_type: String,
    /// RFC 3339.
    #[serde(deserialize_with = "null_default")]
    pub created_at: String,
    /// RFC 3339.
    #[serde(deserialize_with = "null_default")]
    pub updated_at: String,
    /// Other keys (quota and usage fields), kept as sent.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInfo")
            .field("id", &self.id)
            .field("token", &"***")
            .field("token_name", &self.token_name)
            .field("application", &self.application)
            .field("user_name", &self.user_name)
            .field("expire_at", &self.expire_at)
            .finish_non_exhaustive()
    }
}

/// Hand-written (SERVER.md §9.8): LFS batch request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// `upload` or `download`.
    pub operation: String,
    /// `basic`, and `multipart` for presigned part uploads.
    #[serde(default)]
    pub transfers: Vec<String>,
    /// Ignored by the server; sent for git-lfs compatibility.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<BatchRef>,
    /// Objects to transfer.
    pub objects: Vec<LfsObject>,
    /// `sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_algo: Option<String>,
    /// Resume an S3 multipart upload (read from the body only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}

/// Hand-written (SERVER.md §9.8): `ref` of [`BatchRequest`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRef {
    /// Ref name, e.g. `refs/heads/main`.
    pub name: String,
}

/// Hand-written (SERVER.md §9.8): an object in a batch request; also the verify body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LfsObject {
    /// sha256, 64 lower-case hex digits.
    pub oid: String,
    /// Size in bytes.
    pub size: i64,
}

/// Hand-written (SERVER.md §9.8): LFS batch response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchResponse {
    /// `basic` or `multipart` (uploads).
    #[serde(deserialize_with = "null_default")]
    pub transfer: String,
    /// One entry per requested object.
    #[serde(deserialize_with = "null_default")]
    pub objects: Vec<ObjectResponse>,
}

/// Hand-written (SERVER.md §9.8): one object of a batch response. No `actions` on an upload
/// means the server already has it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectResponse {
    /// sha256.
    #[serde(deserialize_with = "null_default")]
    pub oid: String,
    /// Size in bytes.
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<ObjectActions>,
    /// Per-object failure (e.g. 404 unknown object, 422 too large without multipart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ObjectError>,
}

/// Hand-written (SERVER.md §9.8): `actions` of an [`ObjectResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectActions {
    /// Upload: a PUT target (basic) or the `complete_multipart` URL with part URLs in `header`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<Action>,
    /// Download: presigned GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Action>,
    /// Verify after upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Action>,
}

/// Hand-written (SERVER.md §9.8): `Link`. `header` may echo the caller's `Authorization` and
/// hold presigned part URLs, so `Debug` redacts them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Action {
    /// Absolute URL.
    #[serde(deserialize_with = "null_default")]
    pub href: String,
    /// Headers to send; for multipart uploads `chunk_size` and `"1"`, `"2"`, ... part URLs.
    #[serde(deserialize_with = "null_default")]
    pub header: BTreeMap<String, String>,
    /// Never set by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl Action {
    /// Whether the server asked for the `Authorization` header on this action.
    pub fn wants_auth(&self) -> bool {
        self.header
            .keys()
            .any(|k| k.eq_ignore_ascii_case("authorization"))
    }

    /// Headers to send besides `Authorization` (which the client adds from its own token).
    pub fn headers_without_auth(&self) -> impl Iterator<Item = (&str, &str)> {
        self.header
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Multipart upload plan: `chunk_size` and the part URLs in part order, or `None` when the
    /// header has no `chunk_size` (basic transfer).
    pub fn multipart_parts(&self) -> Option<(u64, Vec<(u32, &str)>)> {
        let chunk = self.header.get("chunk_size")?.trim().parse::<u64>().ok()?;
        let mut parts: Vec<(u32, &str)> = self
            .header
            .iter()
            .filter_map(|(k, v)| k.parse::<u32>().ok().map(|n| (n, v.as_str())))
            .collect();
        parts.sort_by_key(|(n, _)| *n);
        Some((chunk, parts))
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header: BTreeMap<&str, String> = self
            .header
            .iter()
            .map(|(k, v)| {
                let shown = if k.eq_ignore_ascii_case("authorization") {
                    "***".to_owned()
                } else {
                    hide_query(v)
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("Action")
            .field("href", &hide_query(&self.href))
            .field("header", &header)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

fn hide_query(s: &str) -> String {
    match s.split_once('?') {
        Some((base, _)) => format!("{base}?***"),
        None => s.to_owned(),
    }
}

/// Hand-written (SERVER.md §9.8): `ObjectError`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectError {
    /// HTTP-like code (404, 422, or 0).
    #[serde(deserialize_with = "null_default")]
    pub code: i64,
    /// Explanation.
    #[serde(deserialize_with = "null_default")]
    pub message: String,
}

/// Hand-written (SERVER.md §9.10): body of `POST <complete_multipart href>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompleteMultipartBody {
    /// sha256 of the whole object.
    pub oid: String,
    /// Uploaded parts with the `ETag` each PUT returned.
    pub parts: Vec<CompletePart>,
}

/// Hand-written (SERVER.md §9.10): one part of [`CompleteMultipartBody`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletePart {
    /// 1-based part number.
    #[serde(rename = "partNumber")]
    pub part_number: u32,
    /// `ETag` response header of the part PUT.
    pub etag: String,
}

/// Hand-written (SERVER.md §9.7): one line of the HF NDJSON commit, `{"key": K, "value": V}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "camelCase")]
pub enum HfCommitLine {
    /// Commit message (`summary`; `description` is ignored by the server).
    Header {
        /// Commit message.
        summary: String,
        /// Ignored by the server.
        #[serde(default)]
        description: String,
    },
    /// A regular file, base64 content; each line must stay under 20 MiB (§9.7).
    File {
        /// Path in the repository.
        path: String,
        /// Base64 content.
        content: String,
        /// `base64`.
        encoding: String,
    },
    /// An LFS file whose object is already uploaded.
    LfsFile {
        /// Path in the repository.
        path: String,
        /// `sha256`.
        algo: String,
        /// sha256 hex.
        oid: String,
        /// Size in bytes.
        size: i64,
    },
    /// Rewritten to an emptying update by the server (§9.6): prefer `DELETE .../raw/{path}`.
    DeletedFile {
        /// Path in the repository.
        path: String,
    },
    /// Same caveat as `DeletedFile`.
    DeletedFolder {
        /// Path in the repository.
        path: String,
    },
}

/// Hand-written (SERVER.md §9.7): answer of the HF NDJSON commit (`commitOid` is empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HfCommitResponse {
    /// `ns/name`.
    #[serde(rename = "commitUrl", deserialize_with = "null_default")]
    pub commit_url: String,
    /// Always empty on CSGHub.
    #[serde(rename = "commitOid", deserialize_with = "null_default")]
    pub commit_oid: String,
}

/// Hand-written (SERVER.md §11): `{deploy_id}` answer of create-inference / create-fine-tune.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployCreated {
    /// Id of the new deploy.
    #[serde(deserialize_with = "null_default")]
    pub deploy_id: i64,
}
