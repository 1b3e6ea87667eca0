//! candle integration (feature `candle`): a candle-nn [`VarBuilder`] over the validated,
//! memory-mapped weights, so candle model code (`candle-transformers` or your own) loads
//! straight from a [`ModelDir`] or [`Weights`].
//!
//! ```
//! use csghub_reader::ModelDir;
//! use csghub_reader::candle::candle_core::{DType, Device};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! csghub_reader::demo::write_demo_llama(dir.path())?;
//! let vb = ModelDir::open(dir.path())?.var_builder(DType::F32, &Device::Cpu)?;
//! // Tensor names resolve across shards; the shape the model asks for is checked.
//! let embed = csghub_reader::candle::candle_nn::embedding(32, 16, vb.pp("model.embed_tokens"))?;
//! assert_eq!(embed.embeddings().dims(), &[32, 16]);
//! assert!(vb.get((3, 16), "model.embed_tokens.weight").is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # Copies
//!
//! Nothing is read until model code asks for a tensor, and tensors it never asks for are never
//! touched. candle tensors own their storage (a `Vec` on CPU, device memory on CUDA/Metal), so
//! each tensor asked for is copied once out of the mapped file into candle's storage; a dtype
//! conversion (e.g. BF16 weights into an F32 `VarBuilder`) makes one more buffer, through
//! candle's own `Tensor::to_dtype`. A true zero-copy path would need candle to accept borrowed
//! storage, which it does not.
//!
//! safetensors data is little-endian and candle reinterprets it in native byte order, so
//! (like candle's own loaders) this is for little-endian hosts.

use std::borrow::Borrow;
use std::path::Path;

pub use candle_core;
use candle_core::{DType, Device, Shape, Tensor};
pub use candle_nn;
use candle_nn::var_builder::{SimpleBackend, VarBuilder};

use crate::error::{Error, Result};
use crate::model::ModelDir;
use crate::weights::{Dtype, TensorView, Weights};

/// The safetensors dtypes candle loads, each with its candle [`DType`].
///
/// Everything else (BOOL, I8, U16, U64, C64, the F8_E5M2/FNUZ variants and the sub-byte
/// MX formats) is refused with [`Error::UnsupportedDtype`] naming the tensor.
pub const SUPPORTED_DTYPES: [(Dtype, DType); 10] = [
    (Dtype::F64, DType::F64),
    (Dtype::F32, DType::F32),
    (Dtype::F16, DType::F16),
    (Dtype::BF16, DType::BF16),
    (Dtype::F8_E4M3, DType::F8E4M3),
    (Dtype::I64, DType::I64),
    (Dtype::I32, DType::I32),
    (Dtype::I16, DType::I16),
    (Dtype::U32, DType::U32),
    (Dtype::U8, DType::U8),
];

/// The candle [`DType`] for a safetensors dtype, `None` if candle has no equivalent this crate
/// loads (see [`SUPPORTED_DTYPES`]).
pub fn candle_dtype(dtype: Dtype) -> Option<DType> {
    SUPPORTED_DTYPES
        .iter()
        .find(|(d, _)| *d == dtype)
        .map(|&(_, c)| c)
}

fn supported_list() -> String {
    SUPPORTED_DTYPES
        .iter()
        .map(|(d, _)| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl TensorView<'_> {
    /// Copy this tensor into a candle [`Tensor`] on `device`, keeping its stored dtype.
    ///
    /// Fails with [`Error::UnsupportedDtype`] if candle has no equivalent dtype, and with
    /// [`Error::Candle`] if candle refuses (e.g. a CUDA device in a build without CUDA).
    pub fn to_candle(&self, device: &Device) -> Result<Tensor> {
        let dtype = candle_dtype(self.dtype).ok_or_else(|| Error::UnsupportedDtype {
            name: self.name.to_owned(),
            dtype: self.dtype,
            target: "candle",
            supported: supported_list(),
        })?;
        Tensor::from_raw_buffer(self.bytes, dtype, self.shape, device).map_err(|e| Error::Candle {
            name: self.name.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// A candle-nn [`SimpleBackend`] serving tensors from [`Weights`] (one file or all shards),
/// owned (`WeightsBackend<Weights>`) or borrowed (`WeightsBackend<&Weights>`).
///
/// Usually built through [`Weights::var_builder`] or [`ModelDir::var_builder`]; use it
/// directly to wrap it (e.g. in candle-nn's `rename_f`) before making a `VarBuilder`.
///
/// Errors it gives candle (all name the tensor):
/// - a name no file has: `candle_core::Error::CannotFindTensor`, as candle's own safetensors
///   backends do;
/// - a shape other than the one the model code asks for: `candle_core::Error::UnexpectedShape`
///   with the weight file, the asked-for (`expected`) and the stored (`got`) shape;
/// - a dtype candle cannot load: this crate's [`Error::UnsupportedDtype`], wrapped.
#[derive(Debug)]
pub struct WeightsBackend<W> {
    weights: W,
}

impl<W: Borrow<Weights>> WeightsBackend<W> {
    /// Serve tensors from `weights`.
    pub fn new(weights: W) -> Self {
        Self { weights }
    }

    /// The weights served.
    pub fn weights(&self) -> &Weights {
        self.weights.borrow()
    }

    fn view(&self, name: &str) -> candle_core::Result<TensorView<'_>> {
        self.weights().tensor(name).ok_or_else(|| {
            candle_core::Error::CannotFindTensor {
                path: name.to_owned(),
            }
            .bt()
        })
    }

    fn load(
        &self,
        view: TensorView<'_>,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = view.to_candle(dev).map_err(candle_core::Error::wrap)?;
        if tensor.dtype() == dtype {
            return Ok(tensor);
        }
        let from = tensor.dtype();
        tensor.to_dtype(dtype).map_err(|e| {
            e.context(format!(
                "converting tensor {:?} from {from:?} to {dtype:?}",
                view.name
            ))
        })
    }

    /// The file holding a tensor, for error messages.
    fn file_of(&self, name: &str) -> Option<&Path> {
        match self.weights() {
            Weights::Single(f) => Some(f.path()),
            Weights::Sharded(s) => s.shard_of(name).map(|f| f.path()),
        }
    }
}

impl<W: Borrow<Weights> + Send + Sync> SimpleBackend for WeightsBackend<W> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _init: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let view = self.view(name)?;
        // Checked before anything is copied, so a wrong config fails fast on large tensors.
        if view.shape != s.dims() {
            let file = self
                .file_of(name)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!(
                    "tensor {name:?} in {file}: the model code asks for a different shape than the weights have"
                ),
                expected: s,
                got: Shape::from(view.shape),
            }
            .bt());
        }
        self.load(view, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let view = self.view(name)?;
        self.load(view, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.weights().tensor(name).is_some()
    }
}

impl Weights {
    /// A candle-nn [`VarBuilder`] borrowing these weights: `get` finds a tensor by name in
    /// whichever file or shard holds it, checks its shape against what the model code asks
    /// for, copies it to `device` and converts it to `dtype` (the builder's default; candle's
    /// `get_with_hints_dtype` / `to_dtype` choose another per tensor).
    ///
    /// See the [module docs](crate::candle) for what is copied when.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'_> {
        VarBuilder::from_backend(Box::new(WeightsBackend::new(self)), dtype, device.clone())
    }

    /// Like [`var_builder`](Self::var_builder), but the builder owns the weights (and their
    /// mappings), so it can outlive the caller's scope.
    pub fn into_var_builder(self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(WeightsBackend::new(self)), dtype, device.clone())
    }
}

impl ModelDir {
    /// Open the weights ([`ModelDir::weights`]: full validation of every header, no tensor
    /// data read) and return a candle-nn [`VarBuilder`] that owns them. See
    /// [`Weights::var_builder`].
    pub fn var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        Ok(self.weights()?.into_var_builder(dtype, device))
    }
}
