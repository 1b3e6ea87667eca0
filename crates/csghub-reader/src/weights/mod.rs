//! Safetensors weights: one file or an index plus shards, memory-mapped and validated.
//!
//! Views are plain `&[u8]` slices of the mapped files plus dtype and shape; nothing is copied.
//! [`TensorView::to_safetensors`] turns one into a `safetensors::tensor::TensorView`, which
//! candle (`candle_core::safetensors::Load`) and other frameworks load directly.

mod file;
mod mmap;
mod sharded;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use file::{MAX_HEADER_LEN, SafetensorsFile};
pub use safetensors::Dtype;
pub use sharded::{ShardedWeights, WeightIndex};

use crate::error::{Error, Result};

/// File name of single-file weights.
pub const SINGLE_FILE: &str = "model.safetensors";
/// File name of the shard index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// A zero-copy view of one tensor: its name, dtype, shape and raw little-endian bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorView<'a> {
    /// Tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub name: &'a str,
    /// Element type.
    pub dtype: Dtype,
    /// Dimensions, outermost first (row-major).
    pub shape: &'a [usize],
    /// The raw bytes, exactly as stored in the file. Not necessarily aligned.
    pub bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn element_count(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// The same view as a `safetensors` crate `TensorView`, the type candle's
    /// `candle_core::safetensors::Load` and other loaders accept.
    pub fn to_safetensors(&self) -> Result<safetensors::tensor::TensorView<'a>> {
        safetensors::tensor::TensorView::new(self.dtype, self.shape.to_vec(), self.bytes).map_err(
            |e| Error::InvalidHeader {
                path: PathBuf::from(self.name),
                reason: e.to_string(),
            },
        )
    }
}

/// Lets a view be written back out with `safetensors::serialize` without copying it first.
impl safetensors::View for TensorView<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// A model's weights: a single `model.safetensors` or a sharded set.
#[derive(Debug)]
pub enum Weights {
    /// One file.
    Single(SafetensorsFile),
    /// An index and its shards.
    Sharded(ShardedWeights),
}

impl Weights {
    /// Open the weights of a model directory: `model.safetensors.index.json` if present, else
    /// `model.safetensors`. Pickle formats (`*.bin`, `*.pt`) are never loaded; if only those
    /// exist the error says so.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let index = dir.join(INDEX_FILE);
        if index.is_file() {
            return ShardedWeights::open(index).map(Weights::Sharded);
        }
        let single = dir.join(SINGLE_FILE);
        if single.is_file() {
            return SafetensorsFile::open(single).map(Weights::Single);
        }
        Err(Error::NoWeights {
            dir: dir.to_path_buf(),
            found: other_weight_formats(dir),
        })
    }

    /// A zero-copy view of one tensor by name, `None` if no file has it.
    pub fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        match self {
            Weights::Single(f) => f.tensor(name),
            Weights::Sharded(s) => s.tensor(name),
        }
    }

    /// Views of every tensor (file order, shard by shard).
    pub fn tensors(&self) -> Box<dyn Iterator<Item = TensorView<'_>> + '_> {
        match self {
            Weights::Single(f) => Box::new(f.tensors()),
            Weights::Sharded(s) => Box::new(s.tensors()),
        }
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        match self {
            Weights::Single(f) => f.len(),
            Weights::Sharded(s) => s.len(),
        }
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The files backing these weights.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Weights::Single(f) => vec![f.path()],
            Weights::Sharded(s) => s.shards().iter().map(SafetensorsFile::path).collect(),
        }
    }

    /// Total number of parameters (elements) over all tensors.
    pub fn parameter_count(&self) -> u64 {
        self.tensors().map(|t| t.element_count()).sum()
    }

    /// Bytes of tensor data per dtype.
    pub fn bytes_per_dtype(&self) -> BTreeMap<Dtype, u64> {
        let mut out = BTreeMap::new();
        for t in self.tensors() {
            *out.entry(t.dtype).or_insert(0) += t.bytes.len() as u64;
        }
        out
    }

    /// Total bytes of tensor data.
    pub fn total_bytes(&self) -> u64 {
        self.tensors().map(|t| t.bytes.len() as u64).sum()
    }
}

fn other_weight_formats(dir: &Path) -> String {
    let Ok(read) = std::fs::read_dir(dir) else {
        return String::new();
    };
    let mut others: Vec<String> = read
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            [
                ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx",
            ]
            .iter()
            .any(|ext| n.ends_with(ext))
        })
        .collect();
    if others.is_empty() {
        return String::new();
    }
    others.sort();
    format!(
        " (found {}; only safetensors is loaded, pickle formats are never executed)",
        others.join(", ")
    )
}
