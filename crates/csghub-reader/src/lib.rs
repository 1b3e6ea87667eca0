//! `csghub-reader`: open a downloaded model the way `transformers.from_pretrained` does.
//!
//! One job: turn a local model snapshot into a typed `config.json`, located tokenizer and
//! generation files, and safetensors weights that are memory-mapped, validated and handed out
//! as zero-copy views; plus the split → file mapping of a dataset snapshot.
//!
//! Hostile or corrupt files (bad header lengths, overlapping offsets, shape/size mismatches,
//! broken shard indexes, unsafe paths) become [`Error`]s, never panics or out-of-bounds reads.
//!
//! With the `candle` feature, the `candle` module turns the weights into a candle-nn `VarBuilder`.
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

pub mod bench;
#[cfg(feature = "candle")]
pub mod candle;
pub mod config;
#[cfg(feature = "datasets")]
pub mod datasets;
pub mod demo;
mod error;
#[cfg(feature = "download")]
mod hub;
pub mod model;
pub mod weights;

pub use config::{GenerationConfig, ModelConfig, ModelFamily, Task, TokenIds};
#[cfg(feature = "datasets")]
pub use datasets::{DataFiles, DatasetRepo};
pub use error::{Error, ExpectedBytes, Result};
pub use model::{FromPretrained, ModelDir, ModelRepo, TokenizerFiles};
pub use weights::{Dtype, SafetensorsFile, ShardedWeights, TensorView, WeightIndex, Weights};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
