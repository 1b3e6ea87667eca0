//! `csghub-api`: the CSGHub server's HTTP API as typed Rust values.
//!
//! One job: describe and execute the server's routes (DTOs generated from the swagger spec,
//! hand-written ones where the spec has nothing, endpoints as data, error mapping). It knows
//! nothing about caches, files on disk or terminals.
//!
//! - [`generated`]: DTOs written by `cargo xtask codegen` from the spec plus
//!   `codegen/overrides.txt` (the places where the real server differs, SERVER.md §13.2).
//! - [`dto`]: hand-written DTOs for routes the spec lacks (HF info and tree, LFS, NDJSON commit).
//! - [`endpoints`]: one constructor per route, returning an [`Endpoint`] value.
//! - [`Client`]: executes endpoints (async); `blocking::Client` with feature `blocking`.
//! - [`Error`]: one error enum mapped from the server's `code` and status.
//!
//! ```no_run
//! # async fn demo() -> Result<(), csghub_api::Error> {
//! use csghub_api::{endpoints, Client, ClientConfig, RepoType};
//! let client = Client::new(ClientConfig::default())?;
//! let repo = "OpenCSG/csg-wukong-1B".parse()?;
//! let commit = client.execute(endpoints::last_commit(RepoType::Model, &repo, "main")?).await?;
//! println!("{}", commit.id);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod client;
mod config;
mod de;
pub mod dto;
mod endpoint;
pub mod endpoints;
mod error;
pub mod generated;
mod repo;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use client::{Client, S3_INTERNAL_HEADER};
pub use config::{ClientConfig, DEFAULT_ENDPOINT, DEFAULT_USER_AGENT, Token};
pub use dto::Paged;
pub use endpoint::{Body, Endpoint, Envelope, FormPart, Target};
pub use error::{ApiErrorInfo, Error, NotFoundMeans};
pub use repo::{
    RepoId, RepoType, encode_repo_path, encode_revision, encode_segment, redact_url,
    revision_fits_path,
};
pub use reqwest::Method;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
