//! A model on disk ([`ModelDir`]) and the `from_pretrained` entry point ([`ModelRepo`]).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{GenerationConfig, ModelConfig};
use crate::error::{Error, Result};
use crate::weights::{INDEX_FILE, SINGLE_FILE, WeightIndex, Weights};

/// `config.json`.
pub const CONFIG_FILE: &str = "config.json";
/// `generation_config.json`.
pub const GENERATION_CONFIG_FILE: &str = "generation_config.json";

/// Tokenizer and chat-template files a loader needs, by exact name.
pub const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "chat_template.jinja",
    "chat_template.json",
];

/// The tokenizer files present in a model directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenizerFiles {
    /// `tokenizer.json` (the fast tokenizer, loadable by the `tokenizers` crate).
    pub tokenizer_json: Option<PathBuf>,
    /// `tokenizer_config.json`.
    pub tokenizer_config: Option<PathBuf>,
    /// `special_tokens_map.json`.
    pub special_tokens_map: Option<PathBuf>,
    /// `added_tokens.json`.
    pub added_tokens: Option<PathBuf>,
    /// `vocab.json` / `vocab.txt`.
    pub vocab: Vec<PathBuf>,
    /// `merges.txt` (BPE).
    pub merges: Option<PathBuf>,
    /// A SentencePiece model (`tokenizer.model`, `spiece.model`, `sentencepiece.bpe.model`).
    pub sentencepiece: Option<PathBuf>,
    /// `chat_template.jinja` / `chat_template.json`.
    pub chat_template: Option<PathBuf>,
}

impl TokenizerFiles {
    /// Find the tokenizer files in `dir`.
    pub fn find(dir: &Path) -> Self {
        let f = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        Self {
            tokenizer_json: f("tokenizer.json"),
            tokenizer_config: f("tokenizer_config.json"),
            special_tokens_map: f("special_tokens_map.json"),
            added_tokens: f("added_tokens.json"),
            vocab: ["vocab.json", "vocab.txt"]
                .into_iter()
                .filter_map(f)
                .collect(),
            merges: f("merges.txt"),
            sentencepiece: ["tokenizer.model", "spiece.model", "sentencepiece.bpe.model"]
                .into_iter()
                .find_map(f),
            chat_template: ["chat_template.jinja", "chat_template.json"]
                .into_iter()
                .find_map(f),
        }
    }

    /// Whether any tokenizer file was found.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A model directory (a local checkout or a resolved snapshot): typed config, generation
/// config, tokenizer files, and weights opened on demand.
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
    config: ModelConfig,
    generation_config: Option<GenerationConfig>,
    tokenizer: TokenizerFiles,
}

impl ModelDir {
    /// Open a model directory: `config.json` is required; `generation_config.json` is read if
    /// present (and must then be valid); tokenizer files are located, not parsed.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::MissingFile {
                path: root,
                hint: "expected a model directory",
            });
        }
        let config_path = root.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(Error::MissingFile {
                path: config_path,
                hint: "a model directory needs config.json",
            });
        }
        let config = ModelConfig::from_file(&config_path)?;
        let gen_path = root.join(GENERATION_CONFIG_FILE);
        let generation_config = if gen_path.is_file() {
            Some(GenerationConfig::from_file(&gen_path)?)
        } else {
            None
        };
        let tokenizer = TokenizerFiles::find(&root);
        Ok(Self {
            root,
            config,
            generation_config,
            tokenizer,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The parsed `config.json`.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The parsed `generation_config.json`, if the model has one.
    pub fn generation_config(&self) -> Option<&GenerationConfig> {
        self.generation_config.as_ref()
    }

    /// The tokenizer files present.
    pub fn tokenizer_files(&self) -> &TokenizerFiles {
        &self.tokenizer
    }

    /// Memory-map and validate the safetensors weights (see [`Weights::open_dir`]).
    pub fn weights(&self) -> Result<Weights> {
        Weights::open_dir(&self.root)
    }
}

#[cfg(feature = "tokenizer")]
impl ModelDir {
    /// Load `tokenizer.json` with the `tokenizers` crate.
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer> {
        let Some(path) = &self.tokenizer.tokenizer_json else {
            return Err(Error::MissingFile {
                path: self.root.join("tokenizer.json"),
                hint: "only tokenizer.json (fast tokenizers) can be loaded",
            });
        };
        tokenizers::Tokenizer::from_file(path).map_err(|e| Error::Tokenizer {
            path: path.clone(),
            reason: e.to_string(),
        })
    }
}

/// Entry point mirroring `AutoModel*.from_pretrained`.
#[derive(Debug, Clone, Copy)]
pub struct ModelRepo;

impl ModelRepo {
    /// Load a model by local directory path or repo id with default options.
    ///
    /// Like transformers, an existing directory is used as is; a repo id (`ns/name`) is
    /// downloaded (feature `download`) or found in the cache. See [`FromPretrained::load`].
    pub fn from_pretrained(name_or_path: impl Into<String>) -> Result<ModelDir> {
        Self::builder(name_or_path).load()
    }

    /// Start a `from_pretrained` call with options.
    pub fn builder(name_or_path: impl Into<String>) -> FromPretrained {
        FromPretrained {
            name_or_path: name_or_path.into(),
            revision: None,
            endpoint: None,
            token: None,
            cache_dir: None,
            offline: false,
            extra_files: Vec::new(),
        }
    }
}

/// Options of a `from_pretrained` call; finish with [`load`](Self::load).
#[derive(Clone)]
pub struct FromPretrained {
    name_or_path: String,
    revision: Option<String>,
    endpoint: Option<String>,
    token: Option<String>,
    cache_dir: Option<PathBuf>,
    offline: bool,
    extra_files: Vec<String>,
}

impl fmt::Debug for FromPretrained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromPretrained")
            .field("name_or_path", &self.name_or_path)
            .field("revision", &self.revision)
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("cache_dir", &self.cache_dir)
            .field("offline", &self.offline)
            .field("extra_files", &self.extra_files)
            .finish()
    }
}

impl FromPretrained {
    /// Branch, tag or commit (default: the repo's default branch).
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = Some(revision.into());
        self
    }

    /// Hub endpoint URL.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Access token (never printed; `Debug` redacts it).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Cache directory.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Resolve from the cache only, never the network.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Also fetch these files (exact repo paths), e.g. `pytorch_model.bin` if really wanted.
    pub fn extra_file(mut self, path: impl Into<String>) -> Self {
        self.extra_files.push(path.into());
        self
    }

    /// The name or path given.
    pub fn name_or_path(&self) -> &str {
        &self.name_or_path
    }

    /// The files loading needs out of a repo listing (before shards are known): config,
    /// generation config, tokenizer files, `model.safetensors` or the index, plus extra files.
    /// Pickle weights (`*.bin`, `*.pt`) are only included when named as extra files. After
    /// fetching the index, add [`shard_files`].
    pub fn select_files<'a>(&self, repo_files: &'a [String]) -> Vec<&'a str> {
        let has_index = repo_files.iter().any(|f| f == INDEX_FILE);
        repo_files
            .iter()
            .map(String::as_str)
            .filter(|f| {
                *f == CONFIG_FILE
                    || *f == GENERATION_CONFIG_FILE
                    || TOKENIZER_FILES.contains(f)
                    || (has_index && *f == INDEX_FILE)
                    || (!has_index && *f == SINGLE_FILE)
                    || self.extra_files.iter().any(|e| e == f)
            })
            .collect()
    }

    /// Load: an existing local directory is opened directly (as in transformers). A repo id is
    /// resolved in the cache (`cache_dir`, else `$CSGHUB_CACHE`, else `~/.cache/csg/hub`); with
    /// the `download` feature and not `offline`, the files loading needs are fetched first,
    /// verified, through csghub-transfer. Blocking: from async code use
    /// [`load_async`](Self::load_async).
    pub fn load(self) -> Result<ModelDir> {
        if let Some(dir) = self.local_dir()? {
            return ModelDir::open(dir);
        }
        #[cfg(feature = "download")]
        if !self.offline {
            if tokio::runtime::Handle::try_current().is_ok() {
                return Err(Error::Download {
                    repo_id: self.name_or_path,
                    reason: "load() blocks; inside an async runtime call load_async().await".into(),
                });
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Download {
                    repo_id: self.name_or_path.clone(),
                    reason: format!("cannot start a runtime: {e}"),
                })?;
            return rt.block_on(self.load_async());
        }
        self.load_from_cache()
    }

    /// [`load`](Self::load) for async callers.
    #[cfg(feature = "download")]
    pub async fn load_async(self) -> Result<ModelDir> {
        if let Some(dir) = self.local_dir()? {
            return ModelDir::open(dir);
        }
        if self.offline {
            return self.load_from_cache();
        }
        let dir = crate::hub::download(&self).await?;
        ModelDir::open(dir)
    }

    /// `Some(dir)` for an existing directory; an error for something that is neither a
    /// directory nor a repo id.
    fn local_dir(&self) -> Result<Option<PathBuf>> {
        let path = Path::new(&self.name_or_path);
        if path.is_dir() {
            return Ok(Some(path.to_path_buf()));
        }
        if !is_repo_id(&self.name_or_path) {
            return Err(Error::InvalidRepoId {
                name: self.name_or_path.clone(),
            });
        }
        Ok(None)
    }

    /// The revision asked for (`main` by default, like pycsghub).
    pub(crate) fn revision_or_default(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    pub(crate) fn cache(&self) -> Result<csghub_cache::CacheDir> {
        csghub_cache::CacheDir::from_env_or_default(self.cache_dir.clone()).map_err(|e| {
            Error::NotCached {
                repo_id: self.name_or_path.clone(),
                revision: self.revision_or_default().to_string(),
                cache: self.cache_dir.clone().unwrap_or_default(),
                reason: e.to_string(),
            }
        })
    }

    #[cfg(feature = "download")]
    pub(crate) fn endpoint_opt(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    #[cfg(feature = "download")]
    pub(crate) fn token_opt(&self) -> Option<&str> {
        self.token.as_deref()
    }

    #[cfg(feature = "download")]
    pub(crate) fn extra_files(&self) -> &[String] {
        &self.extra_files
    }

    /// Resolve from the cache alone: the snapshot of the revision, which must hold `config.json`.
    fn load_from_cache(&self) -> Result<ModelDir> {
        let cache = self.cache()?;
        let revision = self.revision_or_default();
        let not_cached = |reason: String| Error::NotCached {
            repo_id: self.name_or_path.clone(),
            revision: revision.to_string(),
            cache: cache.root().to_path_buf(),
            reason,
        };
        let (ns, name) = self
            .name_or_path
            .split_once('/')
            .ok_or_else(|| not_cached("not a repo id".into()))?;
        let id = csghub_cache::RepoId::new(ns, name).map_err(|e| not_cached(e.to_string()))?;
        let repo = cache.repo(csghub_cache::RepoRef::new(
            csghub_cache::RepoType::Model,
            id,
        ));
        let snap = repo
            .resolve_snapshot(revision)
            .map_err(|e| not_cached(e.to_string()))?;
        if !snap.path.join(CONFIG_FILE).is_file() {
            return Err(not_cached(format!(
                "{CONFIG_FILE} is not in the cached snapshot {}",
                snap.commit
            )));
        }
        ModelDir::open(snap.path)
    }
}

/// The shard files an index names (to fetch after the index itself).
pub fn shard_files(index: &WeightIndex) -> Vec<&str> {
    index.shard_names()
}

/// `namespace/name`, each part non-empty, made of `[A-Za-z0-9._-]`, not `.`/`..`.
fn is_repo_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let (Some(ns), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    [ns, name].iter().all(|p| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}
