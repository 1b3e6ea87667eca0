//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading a model or dataset from local files.
///
/// Variants carry the file they are about so a caller (or a user reading the message) knows what
/// to fix; hostile or corrupt input always ends up here, never in a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },

    /// A JSON file (config, generation config, index) is not valid JSON or has wrong field types.
    #[error("{path} is not a valid {what}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the file should have been, e.g. `config.json`.
        what: &'static str,
        /// The parser's message, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// A required file is missing from the model directory.
    #[error("{path} not found: {hint}")]
    MissingFile {
        /// The path that was expected.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
    },

    /// The safetensors file is shorter than the 8-byte header length prefix.
    #[error("{path}: file is {len} bytes, too short for a safetensors header (needs at least 8)")]
    HeaderTooSmall {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },

    /// The declared header length is over the 100 MB limit safetensors sets.
    #[error(
        "{path}: declared header length {header_len} is over the 100 MB limit; the file is corrupt or not safetensors"
    )]
    HeaderTooLarge {
        /// The file.
        path: PathBuf,
        /// The declared header length.
        header_len: u64,
    },

    /// The declared header length runs past the end of the file (truncated download?).
    #[error(
        "{path}: declared header length {header_len} runs past the end of the {file_len}-byte file; the file is truncated or corrupt, download it again"
    )]
    HeaderBeyondFile {
        /// The file.
        path: PathBuf,
        /// The declared header length.
        header_len: u64,
        /// The actual file length.
        file_len: u64,
    },

    /// The header is not UTF-8 JSON of the safetensors shape.
    #[error("{path}: invalid safetensors header: {reason}")]
    InvalidHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// One tensor name appears twice in a single header.
    #[error("{path}: tensor {name:?} appears twice in the header")]
    DuplicateTensor {
        /// The file.
        path: PathBuf,
        /// The repeated tensor name.
        name: String,
    },

    /// A tensor's `data_offsets` point past the data section, overlap another tensor, leave a gap,
    /// or are reversed.
    #[error("{path}: tensor {name:?} has invalid data_offsets [{start}, {end}]: {reason}")]
    InvalidOffsets {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Declared start offset (relative to the data section).
        start: u64,
        /// Declared end offset.
        end: u64,
        /// What is wrong with them.
        reason: String,
    },

    /// `shape × dtype size` does not equal the tensor's byte length (or overflows).
    #[error(
        "{path}: tensor {name:?} of dtype {dtype} and shape {shape:?} needs {expected} bytes but its offsets span {actual}"
    )]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Declared dtype, as written in the header.
        dtype: String,
        /// Declared shape.
        shape: Vec<usize>,
        /// Bytes that shape × dtype needs (`None` if that overflows).
        expected: ExpectedBytes,
        /// Bytes the offsets span.
        actual: u64,
    },

    /// The tensors do not cover the data section exactly (trailing bytes after the last tensor).
    #[error(
        "{path}: tensors cover {covered} bytes but the data section is {data_len} bytes; the file is corrupt"
    )]
    IncompleteData {
        /// The file.
        path: PathBuf,
        /// Bytes covered by tensors.
        covered: u64,
        /// Bytes after the header.
        data_len: u64,
    },

    /// `model.safetensors.index.json` is structurally wrong (no `weight_map`, bad value types).
    #[error("{path}: invalid safetensors index: {reason}")]
    InvalidIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The index names a shard file with `..`, an absolute path or other unsafe components.
    #[error("{index}: shard name {shard:?} is not a plain relative file name; refusing to open it")]
    UnsafeShardName {
        /// The index file.
        index: PathBuf,
        /// The offending shard name.
        shard: String,
    },

    /// The index names a shard that is not on disk.
    #[error("{index}: shard {shard:?} is listed but {path} does not exist; download it again")]
    MissingShard {
        /// The index file.
        index: PathBuf,
        /// The shard name from the index.
        shard: String,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// One tensor name is claimed by two shards (in their headers or in the index).
    #[error("tensor {name:?} is in two shards: {first} and {second}")]
    TensorInTwoShards {
        /// The tensor.
        name: String,
        /// One shard.
        first: PathBuf,
        /// The other shard.
        second: PathBuf,
    },

    /// The index and the shard headers disagree about where a tensor lives.
    #[error("{index}: tensor {name:?}: {reason}")]
    IndexMismatch {
        /// The index file.
        index: PathBuf,
        /// The tensor.
        name: String,
        /// How they disagree.
        reason: String,
    },

    /// No safetensors weights in the directory.
    #[error("no safetensors weights in {dir}{found}")]
    NoWeights {
        /// The directory searched.
        dir: PathBuf,
        /// A note about other weight formats that were seen (e.g. `pytorch_model.bin`).
        found: String,
    },

    /// `config.json` names a `model_type` this crate does not know.
    #[error("unsupported model_type {model_type:?}; supported model types: {supported}")]
    UnsupportedModelType {
        /// The `model_type` from config.json.
        model_type: String,
        /// Comma-separated list of supported model types.
        supported: String,
    },

    /// An architecture name whose task suffix is not known.
    #[error("unsupported architecture {architecture:?}; known suffixes: {supported}")]
    UnsupportedArchitecture {
        /// The architecture class name, e.g. `LlamaForFooBar`.
        architecture: String,
        /// Comma-separated list of recognised suffixes.
        supported: String,
    },

    /// The model family does not offer the task asked for (e.g. a causal LM from T5).
    #[error("model_type {model_type:?} does not support task {task}; it supports: {supported}")]
    UnsupportedTask {
        /// The model type.
        model_type: String,
        /// The task asked for.
        task: String,
        /// What it does support.
        supported: String,
    },

    /// Neither `model_type` nor `architectures` is set, so nothing can be resolved.
    #[error(
        "{path}: config.json has neither model_type nor architectures; cannot tell what model this is"
    )]
    UnknownFamily {
        /// The config file.
        path: PathBuf,
    },

    /// The name passed to `from_pretrained` is neither a local directory nor a valid repo id.
    #[error(
        "{name:?} is neither an existing local directory nor a repo id of the form \"namespace/name\""
    )]
    InvalidRepoId {
        /// What was passed.
        name: String,
    },

    /// A repo id was given but this build cannot fetch or find it in a cache yet.
    /// The repo id is not in the cache (offline, or built without the `download` feature).
    #[error(
        "{repo_id} at {revision} is not in the cache {cache}: {reason}; download it first (online), or check the revision and cache dir"
    )]
    NotCached {
        /// The repo id asked for.
        repo_id: String,
        /// The revision asked for.
        revision: String,
        /// The cache root.
        cache: PathBuf,
        /// What was missing.
        reason: String,
    },

    /// Downloading the files loading needs failed.
    #[error("downloading {repo_id}: {reason}")]
    Download {
        /// The repo id asked for.
        repo_id: String,
        /// The transfer error, as text (it names the file and what to do).
        reason: String,
    },

    /// `tokenizer.json` could not be loaded by the `tokenizers` crate.
    #[error("{path}: cannot load tokenizer: {reason}")]
    Tokenizer {
        /// The tokenizer file (or the model directory if there is none).
        path: PathBuf,
        /// The tokenizers crate's message.
        reason: String,
    },

    /// A tensor's dtype has no equivalent in the framework it is being loaded into.
    #[error("tensor {name:?} has dtype {dtype}, which {target} cannot load; it loads {supported}")]
    UnsupportedDtype {
        /// The tensor.
        name: String,
        /// Its stored dtype.
        dtype: safetensors::Dtype,
        /// The framework, e.g. `candle`.
        target: &'static str,
        /// Comma-separated dtypes the framework does load.
        supported: String,
    },

    /// candle refused to build a tensor (e.g. a device this build has no support for).
    #[error("tensor {name:?}: candle cannot load it: {reason}")]
    Candle {
        /// The tensor.
        name: String,
        /// candle's message.
        reason: String,
    },

    /// A dataset README's YAML front matter could not be parsed or has the wrong shape.
    #[error("{path}: invalid dataset card YAML: {reason}")]
    InvalidDatasetCard {
        /// The README.md.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A `data_files` pattern from a dataset card is unsafe or not a valid glob.
    #[error("{path}: invalid data_files pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The README.md.
        path: PathBuf,
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },

    /// A dataset config name that the card does not define.
    #[error("dataset config {name:?} not found; available: {available}")]
    UnknownDatasetConfig {
        /// The requested config name.
        name: String,
        /// Comma-separated available names.
        available: String,
    },

    /// No data files could be found for a dataset.
    #[error("no data files (parquet, jsonl, json, csv, arrow) found in {dir}")]
    NoDataFiles {
        /// The dataset directory.
        dir: PathBuf,
    },
}

/// Byte count a tensor's shape and dtype call for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedBytes {
    /// The exact number of bytes.
    Bytes(u64),
    /// `shape × dtype` overflows a `usize`.
    Overflow,
    /// The element count × bit width is not a whole number of bytes (sub-byte dtypes).
    NotWholeBytes,
}

impl std::fmt::Display for ExpectedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedBytes::Bytes(n) => write!(f, "{n}"),
            ExpectedBytes::Overflow => f.write_str("more than usize::MAX"),
            ExpectedBytes::NotWholeBytes => f.write_str("a fractional number of"),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
