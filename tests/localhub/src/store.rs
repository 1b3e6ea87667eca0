//! The hub's repositories on disk: users, tokens, repos, branches, commits, git blobs and LFS objects.
//!
//! Model: every commit holds its full flat tree (`path -> Entry`). Git blobs (for LFS files the
//! pointer text) live in `objects/<sha1>`, LFS objects in `lfs/<aa>/<bb>/<rest>` as the real
//! object store keys them. The metadata is one JSON document written atomically after each change.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sha1::Digest as _;

/// Size above which the real server makes a file LFS regardless of `.gitattributes` (20 MiB).
pub const MAX_UN_LFS_FILE_SIZE: u64 = 20_971_520;

/// The six repo kinds of SERVER.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    /// `models`
    Model,
    /// `datasets`
    Dataset,
    /// `spaces`
    Space,
    /// `codes`
    Code,
    /// `mcps` (git segment `mcpservers`)
    Mcp,
    /// `skills`
    Skill,
}

impl RepoType {
    /// All kinds, in SERVER.md order.
    pub const ALL: [RepoType; 6] = [
        RepoType::Model,
        RepoType::Dataset,
        RepoType::Space,
        RepoType::Code,
        RepoType::Mcp,
        RepoType::Skill,
    ];

    /// REST / HF plural segment (`models`, ..., `mcps`).
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
            RepoType::Code => "codes",
            RepoType::Mcp => "mcps",
            RepoType::Skill => "skills",
        }
    }

    /// Git smart-HTTP / LFS segment (`mcpservers` for MCP).
    pub fn git_segment(self) -> &'static str {
        match self {
            RepoType::Mcp => "mcpservers",
            other => other.plural(),
        }
    }

    /// Internal singular name (`model`, ..., `mcpserver`).
    pub fn internal(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
            RepoType::Code => "code",
            RepoType::Mcp => "mcpserver",
            RepoType::Skill => "skill",
        }
    }

    /// Parse a REST / HF plural segment.
    pub fn from_plural(s: &str) -> Option<RepoType> {
        RepoType::ALL.into_iter().find(|t| t.plural() == s)
    }

    /// Parse a git segment (`models`, ..., `mcpservers`).
    pub fn from_git_segment(s: &str) -> Option<RepoType> {
        RepoType::ALL.into_iter().find(|t| t.git_segment() == s)
    }
}

/// A user of the hub.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub username: String,
    /// E-mail.
    pub email: String,
    /// Stable uuid-like id.
    pub uuid: String,
    /// Site admin.
    pub admin: bool,
}

/// An access token (SERVER.md §10).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    /// Owner.
    pub user: String,
    /// Application: `git`, `mirror`, `aigateway`...
    pub application: String,
    /// Token name.
    pub name: String,
    /// RFC 3339 expiry; the zero time means none.
    pub expire_at: String,
}

/// Membership role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Can read private repos.
    Read,
    /// Can write.
    Write,
    /// Can manage.
    Admin,
}

/// LFS pointer data of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LfsInfo {
    /// sha256 hex.
    pub oid: String,
    /// Real object size.
    pub size: u64,
}

/// One file in a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Git blob SHA-1 of the stored blob (the pointer for LFS files).
    pub sha1: String,
    /// Size of the git blob (the pointer size for LFS files).
    pub blob_size: u64,
    /// LFS object, when the file is an LFS pointer.
    pub lfs: Option<LfsInfo>,
}

impl Entry {
    /// Real size of the file content.
    pub fn size(&self) -> u64 {
        self.lfs.as_ref().map_or(self.blob_size, |l| l.size)
    }
}

/// A commit with its full flat tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    /// 40-hex id.
    pub id: String,
    /// Parent ids.
    pub parents: Vec<String>,
    /// Message.
    pub message: String,
    /// Author (also committer).
    pub author: String,
    /// Author e-mail.
    pub email: String,
    /// RFC 3339 date.
    pub date: String,
    /// path -> entry.
    pub tree: BTreeMap<String, Entry>,
}

/// A repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repo {
    /// Numeric id.
    pub id: i64,
    /// Kind.
    pub repo_type: RepoType,
    /// Namespace (user or org).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Private repo.
    pub private: bool,
    /// Default branch.
    pub default_branch: String,
    /// Nickname.
    pub nickname: String,
    /// Description.
    pub description: String,
    /// License.
    pub license: String,
    /// branch -> commit id.
    pub branches: BTreeMap<String, String>,
    /// git tag -> commit id.
    pub tags: BTreeMap<String, String>,
    /// LFS objects registered for this repo (`lfs_meta_objects`).
    pub lfs_objects: BTreeSet<String>,
    /// Download counter.
    pub downloads: i64,
    /// Likes.
    pub likes: i64,
    /// Created.
    pub created_at: String,
    /// Updated.
    pub updated_at: String,
}

impl Repo {
    /// `ns/name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A deploy (inference or fine-tune instance), SERVER.md §11.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deploy {
    /// deploy_id.
    pub id: i64,
    /// 1 inference, 2 fine-tune.
    pub deploy_type: i32,
    /// Owner.
    pub user: String,
    /// `ns/name` of the model.
    pub model: String,
    /// Name.
    pub deploy_name: String,
    /// `Running`, `Stopped`, ...
    pub status: String,
    /// Created.
    pub created_at: String,
}

/// An S3-style multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultipartUpload {
    /// Object key `lfs/aa/bb/rest`.
    pub object_key: String,
    /// Declared object size.
    pub size: u64,
    /// Part size.
    pub chunk_size: u64,
    /// part number -> etag of the stored part.
    pub parts: BTreeMap<u32, String>,
    /// part number -> size of the stored part.
    #[serde(default)]
    pub part_sizes: BTreeMap<u32, u64>,
}

/// Everything but file contents.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// username -> user.
    pub users: BTreeMap<String, User>,
    /// token -> info.
    pub tokens: BTreeMap<String, AccessToken>,
    /// org -> (user -> role).
    pub orgs: BTreeMap<String, BTreeMap<String, Role>>,
    /// `type/ns/name` (lower-cased) -> repo.
    pub repos: BTreeMap<String, Repo>,
    /// commit id -> commit.
    pub commits: BTreeMap<String, Commit>,
    /// deploy id -> deploy.
    pub deploys: BTreeMap<i64, Deploy>,
    /// upload id -> multipart upload.
    pub uploads: BTreeMap<String, MultipartUpload>,
    /// Counter for ids.
    pub next_id: i64,
}

/// Errors of store operations (the HTTP layer maps them to the server's answers).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// I/O on the hub's root.
    #[error("local hub storage: {0}")]
    Io(#[from] std::io::Error),
    /// The state file is corrupt.
    #[error("local hub state file is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// Repo missing.
    #[error("repo not found")]
    RepoNotFound,
    /// Repo exists.
    #[error("repo already exists")]
    RepoExists,
    /// Branch or revision missing.
    #[error("revision not found: {0}")]
    RevisionNotFound(String),
    /// Path missing.
    #[error("file not found: {0}")]
    FileNotFound(String),
    /// Path already exists.
    #[error("file already exists: {0}")]
    FileExists(String),
    /// LFS object missing from the object store.
    #[error("lfs object not found: {0}")]
    LfsObjectMissing(String),
    /// Invalid input.
    #[error("{0}")]
    Invalid(String),
}

/// One change in a commit.
#[derive(Debug, Clone)]
pub enum Change {
    /// Create or replace a file with these bytes; LFS when `.gitattributes` or the size says so
    /// (what a git client with the LFS filter does).
    Put(String, Vec<u8>),
    /// Create or replace a file with exactly these bytes as the git blob (what the JSON commit
    /// does); a valid LFS pointer is committed as a pointer.
    PutRaw(String, Vec<u8>),
    /// Create or replace a file as a pointer to an LFS object already in the store.
    PutLfs(String, LfsInfo),
    /// Remove a file.
    Delete(String),
    /// Move a file.
    Rename { from: String, to: String },
}

/// The store: state in memory behind a mutex, persisted to `state.json`; contents on disk.
pub struct Store {
    root: PathBuf,
    state: Mutex<State>,
}

/// Git blob SHA-1 of `content`.
pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

/// sha256 hex of `content`.
pub fn sha256_hex(content: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(content))
}

/// The LFS pointer text for an object.
pub fn lfs_pointer(oid: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n")
}

/// Parse an LFS pointer, as the server does for committed content.
pub fn parse_lfs_pointer(content: &[u8]) -> Option<LfsInfo> {
    if content.len() > 1024 {
        return None;
    }
    let text = std::str::from_utf8(content).ok()?;
    let mut lines = text.lines();
    if lines.next()? != "version https://git-lfs.github.com/spec/v1" {
        return None;
    }
    let oid = lines.next()?.strip_prefix("oid sha256:")?;
    let size = lines.next()?.strip_prefix("size ")?.parse().ok()?;
    if oid.len() != 64 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(LfsInfo {
        oid: oid.to_ascii_lowercase(),
        size,
    })
}

/// Object-store key of an LFS object.
pub fn lfs_key(oid: &str) -> String {
    format!("lfs/{}/{}/{}", &oid[0..2], &oid[2..4], &oid[4..])
}

/// RFC 3339 (UTC, seconds) for a unix time.
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Now as unix seconds.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Glob match of one `.gitattributes` pattern against a lower-cased basename (`*`, `?`).
fn glob_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], n) || (!n.is_empty() && rec(p, &n[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &n[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

/// LFS glob patterns (`filter=lfs`) of a `.gitattributes` text.
pub fn lfs_patterns(gitattributes: &str) -> Vec<String> {
    gitattributes
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let pat = parts.next()?;
            if pat.starts_with('#') {
                return None;
            }
            parts
                .any(|a| a == "filter=lfs")
                .then(|| pat.to_ascii_lowercase())
        })
        .collect()
}

/// Whether `path` matches one of the LFS patterns (basename, lower-cased, as the server does).
pub fn matches_lfs(patterns: &[String], path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.rsplit('/').next().unwrap_or(p);
        glob_match(p, &base)
    })
}

/// The HF-style `.gitattributes` the server writes into new model repos.
pub const DEFAULT_GITATTRIBUTES: &str = "*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.gguf filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
";

impl Store {
    /// Open (or create) a store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(root.join("objects"))?;
        fs::create_dir_all(root.join("lfs"))?;
        fs::create_dir_all(root.join("tmp"))?;
        fs::create_dir_all(root.join("parts"))?;
        let state_path = root.join("state.json");
        let state = match fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e.into()),
        };
        Ok(Store {
            root: root.to_path_buf(),
            state: Mutex::new(state),
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lock the state. A poisoned lock is recovered: the state is plain data.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Persist the state atomically.
    pub fn save(&self, state: &State) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(state)?;
        self.write_atomic(&self.root.join("state.json"), &bytes)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.temp_path();
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        // No fsync: the rename keeps readers from seeing a torn file, and a test hub need not
        // survive a power cut. An fsync per request stalled the runtime behind ext4 journal
        // commits of the object data being uploaded.
        fs::rename(&tmp, path)?;
        Ok(())
    }

    /// The file a multipart upload's parts are written into, each at its offset.
    pub fn multipart_data_path(&self, upload_id: &str) -> PathBuf {
        // Upload ids are ours (hex), but never let one name a path outside `parts/`.
        let safe: String = upload_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        self.root.join("parts").join(format!("{safe}.data"))
    }

    /// A fresh temp path inside the store (same file system as the objects).
    pub fn temp_path(&self) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{}-{}-{n}", std::process::id(), now_unix()))
    }

    /// Path of a git blob.
    pub fn blob_path(&self, sha1: &str) -> PathBuf {
        self.root.join("objects").join(sha1)
    }

    /// Path of an LFS object.
    pub fn lfs_path(&self, oid: &str) -> PathBuf {
        self.root.join(lfs_key(oid))
    }

    /// Path of an object-store key (`lfs/aa/bb/rest`), if well formed.
    pub fn object_key_path(&self, key: &str) -> Option<PathBuf> {
        let oid: String = key.strip_prefix("lfs/")?.split('/').collect();
        (oid.len() == 64 && oid.bytes().all(|b| b.is_ascii_hexdigit()) && lfs_key(&oid) == key)
            .then(|| self.lfs_path(&oid))
    }

    /// Whether an LFS object is in the object store.
    pub fn has_lfs_object(&self, oid: &str) -> bool {
        self.lfs_path(oid).is_file()
    }

    /// Store a git blob, returning its SHA-1.
    pub fn put_blob(&self, content: &[u8]) -> Result<String, StoreError> {
        let sha = git_blob_sha1(content);
        let path = self.blob_path(&sha);
        if !path.exists() {
            self.write_atomic(&path, content)?;
        }
        Ok(sha)
    }

    /// Store an LFS object from bytes, returning its info.
    pub fn put_lfs_bytes(&self, content: &[u8]) -> Result<LfsInfo, StoreError> {
        let oid = sha256_hex(content);
        let path = self.lfs_path(&oid);
        if !path.exists() {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            self.write_atomic(&path, content)?;
        }
        Ok(LfsInfo {
            oid,
            size: content.len() as u64,
        })
    }

    /// Move a verified temp file into the object store as LFS object `oid`.
    pub fn adopt_lfs_file(&self, tmp: &Path, oid: &str) -> Result<(), StoreError> {
        let path = self.lfs_path(oid);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(tmp, &path)?;
        Ok(())
    }

    /// Read a whole git blob.
    pub fn read_blob(&self, sha1: &str) -> Result<Vec<u8>, StoreError> {
        Ok(fs::read(self.blob_path(sha1))?)
    }
}

/// Key of a repo in [`State::repos`] (paths are case-insensitive in the server's DB).
pub fn repo_key(t: RepoType, ns: &str, name: &str) -> String {
    format!("{}/{}/{}", t.plural(), ns, name).to_ascii_lowercase()
}

impl State {
    /// Allocate an id.
    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Find a repo.
    pub fn repo(&self, t: RepoType, ns: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&repo_key(t, ns, name))
    }

    /// Find a repo mutably.
    pub fn repo_mut(&mut self, t: RepoType, ns: &str, name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&repo_key(t, ns, name))
    }

    /// Resolve a revision (branch, tag, full or abbreviated commit id reachable in the repo).
    pub fn resolve(&self, repo: &Repo, rev: &str) -> Option<String> {
        if let Some(c) = repo.branches.get(rev).or_else(|| repo.tags.get(rev)) {
            return Some(c.clone());
        }
        if rev.len() >= 7 && rev.len() <= 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            let rev = rev.to_ascii_lowercase();
            let mut seen = BTreeSet::new();
            let mut todo: Vec<String> = repo
                .branches
                .values()
                .chain(repo.tags.values())
                .cloned()
                .collect();
            while let Some(id) = todo.pop() {
                if !seen.insert(id.clone()) {
                    continue;
                }
                if id.starts_with(&rev) {
                    return Some(id);
                }
                if let Some(c) = self.commits.get(&id) {
                    todo.extend(c.parents.iter().cloned());
                }
            }
        }
        None
    }

    /// The commit at a revision.
    pub fn commit_at(&self, repo: &Repo, rev: &str) -> Option<&Commit> {
        self.resolve(repo, rev).and_then(|id| self.commits.get(&id))
    }

    /// Commits reachable from `head`, newest first (first-parent order).
    pub fn history(&self, head: &str) -> Vec<&Commit> {
        let mut out = Vec::new();
        let mut cur = Some(head.to_string());
        while let Some(id) = cur {
            match self.commits.get(&id) {
                Some(c) => {
                    cur = c.parents.first().cloned();
                    out.push(c);
                }
                None => break,
            }
        }
        out
    }

    /// Role of `user` for `namespace` (owner = Admin).
    pub fn role(&self, user: &str, namespace: &str) -> Option<Role> {
        if user.eq_ignore_ascii_case(namespace) {
            return Some(Role::Admin);
        }
        self.orgs
            .iter()
            .find(|(org, _)| org.eq_ignore_ascii_case(namespace))
            .and_then(|(_, members)| members.get(user).copied())
    }

    /// Read access.
    pub fn can_read(&self, repo: &Repo, user: Option<&str>) -> bool {
        if !repo.private {
            return true;
        }
        user.is_some_and(|u| self.is_admin(u) || self.role(u, &repo.namespace).is_some())
    }

    /// Write access.
    pub fn can_write(&self, repo: &Repo, user: Option<&str>) -> bool {
        self.can_write_ns(&repo.namespace, user)
    }

    /// Write access to a namespace.
    pub fn can_write_ns(&self, namespace: &str, user: Option<&str>) -> bool {
        user.is_some_and(|u| {
            self.is_admin(u) || matches!(self.role(u, namespace), Some(Role::Write | Role::Admin))
        })
    }

    /// Admin access to a repo (delete).
    pub fn can_admin(&self, repo: &Repo, user: Option<&str>) -> bool {
        user.is_some_and(|u| {
            self.is_admin(u) || matches!(self.role(u, &repo.namespace), Some(Role::Admin))
        })
    }

    fn is_admin(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.admin)
    }
}

impl Store {
    /// Create a repo with an initial commit (`.gitattributes`, and `README.md` for models, as the
    /// server does). Returns the repo key.
    pub fn create_repo(
        &self,
        state: &mut State,
        t: RepoType,
        ns: &str,
        name: &str,
        private: bool,
        owner: &str,
    ) -> Result<(), StoreError> {
        let key = repo_key(t, ns, name);
        if state.repos.contains_key(&key) {
            return Err(StoreError::RepoExists);
        }
        let now = rfc3339(now_unix());
        let id = state.next_id();
        state.repos.insert(
            key.clone(),
            Repo {
                id,
                repo_type: t,
                namespace: ns.to_string(),
                name: name.to_string(),
                private,
                default_branch: "main".into(),
                nickname: name.to_string(),
                description: String::new(),
                license: "apache-2.0".into(),
                branches: BTreeMap::new(),
                tags: BTreeMap::new(),
                lfs_objects: BTreeSet::new(),
                downloads: 0,
                likes: 0,
                created_at: now.clone(),
                updated_at: now,
            },
        );
        let mut init = vec![Change::Put(
            ".gitattributes".into(),
            DEFAULT_GITATTRIBUTES.as_bytes().to_vec(),
        )];
        if t == RepoType::Model {
            init.push(Change::Put(
                "README.md".into(),
                format!("---\nlicense: apache-2.0\n---\n# {name}\n").into_bytes(),
            ));
        }
        self.commit(
            state,
            t,
            ns,
            name,
            "main",
            None,
            init,
            "initial commit",
            owner,
        )?;
        Ok(())
    }

    /// Apply `changes` on `branch` as one commit (creating `branch` from `start` if given and the
    /// branch is missing). Returns the new commit id.
    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &self,
        state: &mut State,
        t: RepoType,
        ns: &str,
        name: &str,
        branch: &str,
        start: Option<&str>,
        changes: Vec<Change>,
        message: &str,
        author: &str,
    ) -> Result<String, StoreError> {
        let repo = state.repo(t, ns, name).ok_or(StoreError::RepoNotFound)?;
        let parent = match repo.branches.get(branch) {
            Some(c) => Some(c.clone()),
            None => match start {
                Some(s) => Some(
                    state
                        .resolve(repo, s)
                        .ok_or_else(|| StoreError::RevisionNotFound(s.to_string()))?,
                ),
                None if repo.branches.is_empty() => None,
                None => return Err(StoreError::RevisionNotFound(branch.to_string())),
            },
        };
        let mut tree = parent
            .as_ref()
            .and_then(|p| state.commits.get(p))
            .map(|c| c.tree.clone())
            .unwrap_or_default();
        // `.gitattributes` of the resulting tree decides LFS, as the server's commit does.
        let mut patterns = self.patterns_of(&tree);
        for change in &changes {
            if let Change::Put(p, bytes) | Change::PutRaw(p, bytes) = change
                && p == ".gitattributes"
            {
                patterns = lfs_patterns(&String::from_utf8_lossy(bytes));
            }
        }
        for change in changes {
            match change {
                Change::Put(path, bytes) => {
                    let entry = if let Some(info) = parse_lfs_pointer(&bytes) {
                        // Committed pointer text: registers the object (§9.6).
                        let sha1 = self.put_blob(&bytes)?;
                        Entry {
                            sha1,
                            blob_size: bytes.len() as u64,
                            lfs: Some(info),
                        }
                    } else if matches_lfs(&patterns, &path)
                        || bytes.len() as u64 > MAX_UN_LFS_FILE_SIZE
                    {
                        let info = self.put_lfs_bytes(&bytes)?;
                        self.pointer_entry(info)?
                    } else {
                        let sha1 = self.put_blob(&bytes)?;
                        Entry {
                            sha1,
                            blob_size: bytes.len() as u64,
                            lfs: None,
                        }
                    };
                    tree.insert(path, entry);
                }
                Change::PutRaw(path, bytes) => {
                    let sha1 = self.put_blob(&bytes)?;
                    let entry = Entry {
                        sha1,
                        blob_size: bytes.len() as u64,
                        lfs: parse_lfs_pointer(&bytes),
                    };
                    tree.insert(path, entry);
                }
                Change::PutLfs(path, info) => {
                    let entry = self.pointer_entry(info)?;
                    tree.insert(path, entry);
                }
                Change::Delete(path) => {
                    if tree.remove(&path).is_none() {
                        return Err(StoreError::FileNotFound(path));
                    }
                }
                Change::Rename { from, to } => {
                    let e = tree.remove(&from).ok_or(StoreError::FileNotFound(from))?;
                    tree.insert(to, e);
                }
            }
        }
        let email = state
            .users
            .get(author)
            .map(|u| u.email.clone())
            .unwrap_or_default();
        // Stable id for the same parent, tree and message (timestamps excluded on purpose).
        let mut h = sha1::Sha1::new();
        h.update(b"commit\n");
        if let Some(p) = &parent {
            h.update(format!("parent {p}\n").as_bytes());
        }
        for (p, e) in &tree {
            h.update(p.as_bytes());
            h.update(b"\0");
            h.update(e.sha1.as_bytes());
            h.update(b"\n");
        }
        h.update(message.as_bytes());
        h.update(author.as_bytes());
        let id = hex::encode(h.finalize());
        let lfs_oids: Vec<String> = tree
            .values()
            .filter_map(|e| e.lfs.as_ref().map(|l| l.oid.clone()))
            .collect();
        state.commits.insert(
            id.clone(),
            Commit {
                id: id.clone(),
                parents: parent.into_iter().collect(),
                message: message.to_string(),
                author: author.to_string(),
                email,
                date: rfc3339(now_unix()),
                tree,
            },
        );
        let repo = state
            .repo_mut(t, ns, name)
            .ok_or(StoreError::RepoNotFound)?;
        repo.branches.insert(branch.to_string(), id.clone());
        repo.lfs_objects.extend(lfs_oids);
        repo.updated_at = rfc3339(now_unix());
        Ok(id)
    }

    fn pointer_entry(&self, info: LfsInfo) -> Result<Entry, StoreError> {
        let pointer = lfs_pointer(&info.oid, info.size);
        let sha1 = self.put_blob(pointer.as_bytes())?;
        Ok(Entry {
            sha1,
            blob_size: pointer.len() as u64,
            lfs: Some(info),
        })
    }

    /// LFS patterns of a tree's `.gitattributes`.
    pub fn patterns_of(&self, tree: &BTreeMap<String, Entry>) -> Vec<String> {
        tree.get(".gitattributes")
            .and_then(|e| self.read_blob(&e.sha1).ok())
            .map(|b| lfs_patterns(&String::from_utf8_lossy(&b)))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn git_blob_sha1_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            git_blob_sha1(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn lfs_patterns_match_basenames_case_insensitively() {
        let pats = lfs_patterns(DEFAULT_GITATTRIBUTES);
        assert!(matches_lfs(&pats, "sub/model.SafeTensors"));
        assert!(matches_lfs(&pats, "w.bin"));
        assert!(!matches_lfs(&pats, "config.json"));
        assert!(!matches_lfs(&pats, "bin"));
    }

    #[test]
    fn pointer_round_trip() {
        let oid = "a".repeat(64);
        let p = lfs_pointer(&oid, 42);
        assert_eq!(
            parse_lfs_pointer(p.as_bytes()),
            Some(LfsInfo { oid, size: 42 })
        );
        assert_eq!(parse_lfs_pointer(b"version x\n"), None);
    }
}
