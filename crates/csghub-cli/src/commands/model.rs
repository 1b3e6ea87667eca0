//! `model inspect REPO|DIR`: config summary, resolved family, tensor table and shard sizes.
//!
//! A repo id is resolved offline from the cache for now; downloading on demand comes with the
//! transfer commands.

use std::path::{Path, PathBuf};

use csghub_reader::{Error as ReaderError, ModelDir, Weights};
use serde_json::{Value, json};

use crate::cli::{ModelCommand, RepoKind, parse_repo_id};
use crate::context::Ctx;
use crate::error::CliError;
use crate::output::{human_count, human_size, plural, sanitize, table};

/// Runs one `model` subcommand.
pub fn run(ctx: &Ctx, cmd: ModelCommand) -> Result<(), CliError> {
    match cmd {
        ModelCommand::Inspect {
            target,
            revision,
            cache_dir,
            no_tensors,
        } => inspect(ctx, &target, &revision, cache_dir.as_deref(), no_tensors),
    }
}

/// Where the model files are.
struct Located {
    dir: PathBuf,
    label: String,
    repo: Option<(String, String)>,
}

fn locate(
    ctx: &Ctx,
    target: &str,
    revision: &str,
    cache_dir: Option<&Path>,
) -> Result<Located, CliError> {
    let p = Path::new(target);
    if p.is_dir() {
        return Ok(Located {
            dir: p.to_path_buf(),
            label: target.to_owned(),
            repo: None,
        });
    }
    let looks_like_path = target.starts_with(['.', '/', '~']) || target.matches('/').count() != 1;
    let id = match parse_repo_id(target) {
        Ok(id) if !looks_like_path => id,
        _ => {
            return Err(CliError::Failed(format!(
                "{target:?} is neither a folder nor a repo id `namespace/name`; give a model \
                 folder or a repository downloaded to the cache"
            )));
        }
    };
    let cache = super::cache::open(ctx, cache_dir)?;
    let rc = super::cache::repo_cache(&cache, RepoKind::Model, &id)?;
    let snap = rc
        .resolve_snapshot(revision)
        .map_err(|source| CliError::Cache {
            action: format!(
                "cannot inspect model {id} (repo ids are looked up in the local cache only)"
            ),
            source: Box::new(source),
        })?;
    if let csghub_cache::SnapshotStatus::Incomplete { missing } = &snap.status {
        ctx.out.warn(format_args!(
            "the cached snapshot of {id} misses {} file(s); the report covers what is there",
            missing.len()
        ));
    }
    Ok(Located {
        dir: snap.path,
        label: format!(
            "{id}@{revision} ({}, cache)",
            snap.commit.chars().take(12).collect::<String>()
        ),
        repo: Some((id.to_string(), snap.commit)),
    })
}

fn inspect(
    ctx: &Ctx,
    target: &str,
    revision: &str,
    cache_dir: Option<&Path>,
    no_tensors: bool,
) -> Result<(), CliError> {
    let loc = locate(ctx, target, revision, cache_dir)?;
    let reader_err = |source| CliError::Reader {
        target: loc.label.clone(),
        source: Box::new(source),
    };
    let model = ModelDir::open(&loc.dir).map_err(reader_err)?;
    let cfg = model.config();
    let dims = cfg.dims();
    let (family, family_error) = match cfg.resolve() {
        Ok(r) => (
            json!({
                "model_type": r.family.model_type,
                "class_prefix": r.family.class_prefix,
                "kind": kind_name(r.family.kind),
                "task": r.task.to_string(),
                "architecture": r.architecture,
            }),
            None,
        ),
        Err(e) => (Value::Null, Some(e.to_string())),
    };
    let weights = match model.weights() {
        Ok(w) => Some(w),
        Err(ReaderError::NoWeights { dir, found }) => {
            ctx.out.warn(format_args!(
                "no safetensors weights in {}{found}",
                dir.display()
            ));
            None
        }
        Err(e) => return Err(reader_err(e)),
    };
    let (shards, tensors, params, total, per_dtype) = match &weights {
        Some(w) => weight_summary(w),
        None => (Vec::new(), Vec::new(), 0, 0, Value::Null),
    };
    let config = json!({
        "model_type": cfg.model_type,
        "architectures": cfg.architectures,
        "hidden_size": dims.hidden_size,
        "num_layers": dims.num_layers,
        "num_heads": dims.num_heads,
        "num_kv_heads": dims.num_kv_heads,
        "head_dim": dims.head_dim,
        "intermediate_size": dims.intermediate_size,
        "vocab_size": dims.vocab_size,
        "max_positions": dims.max_positions,
        "dtype": cfg.storage_dtype(),
    });
    let value = json!({
        "target": loc.label,
        "path": loc.dir,
        "repo_id": loc.repo.as_ref().map(|r| r.0.clone()),
        "commit": loc.repo.as_ref().map(|r| r.1.clone()),
        "config": config,
        "family": family,
        "family_error": family_error,
        "parameters": params,
        "tensor_bytes": total,
        "bytes_per_dtype": per_dtype,
        "shards": shards,
        "tensors": if no_tensors { Value::Null } else { Value::Array(tensors.clone()) },
    });
    ctx.out.emit(&value, || {
        let mut s = format!("model {}\n", sanitize(&loc.label));
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        match (&family_error, &value["family"]) {
            (Some(e), _) => s.push_str(&format!("  family:      unknown ({})\n", sanitize(e))),
            (None, f) => s.push_str(&format!(
                "  family:      {} ({}, {}, task {})\n",
                f["model_type"].as_str().unwrap_or(""),
                f["architecture"].as_str().unwrap_or("no architecture"),
                f["kind"].as_str().unwrap_or(""),
                f["task"].as_str().unwrap_or("")
            )),
        }
        s.push_str(&format!(
            "  config:      hidden {}, layers {}, heads {} (kv {}), head dim {}, intermediate {}, \
             vocab {}, positions {}, dtype {}\n",
            opt(dims.hidden_size),
            opt(dims.num_layers),
            opt(dims.num_heads),
            opt(dims.num_kv_heads),
            opt(dims.head_dim),
            opt(dims.intermediate_size),
            opt(dims.vocab_size),
            opt(dims.max_positions),
            cfg.storage_dtype().unwrap_or("-")
        ));
        if weights.is_none() {
            s.push_str("  weights:     none (no safetensors files)\n");
            return s;
        }
        s.push_str(&format!(
            "  parameters:  {params} ({})\n  weights:     {} in {}",
            human_count(params),
            human_size(total),
            plural(shards.len(), "file")
        ));
        if let Some(m) = per_dtype.as_object() {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k} {}", human_size(v.as_u64().unwrap_or(0))))
                .collect();
            s.push_str(&format!(" ({})", parts.join(", ")));
        }
        s.push_str("\n\n");
        let cells: Vec<Vec<String>> = shards
            .iter()
            .map(|f| {
                vec![
                    sanitize(f["file"].as_str().unwrap_or("")).into_owned(),
                    human_size(f["size"].as_u64().unwrap_or(0)),
                    f["tensors"].as_u64().unwrap_or(0).to_string(),
                ]
            })
            .collect();
        s.push_str(&table(&["FILE", "SIZE", "TENSORS"], &cells));
        if !no_tensors {
            s.push('\n');
            let cells: Vec<Vec<String>> = tensors
                .iter()
                .map(|t| {
                    let shape: Vec<String> = t["shape"]
                        .as_array()
                        .map(|a| a.iter().map(|d| d.to_string()).collect())
                        .unwrap_or_default();
                    vec![
                        sanitize(t["name"].as_str().unwrap_or("")).into_owned(),
                        t["dtype"].as_str().unwrap_or("").to_owned(),
                        format!("[{}]", shape.join(", ")),
                        t["parameters"].as_u64().unwrap_or(0).to_string(),
                    ]
                })
                .collect();
            s.push_str(&table(&["TENSOR", "DTYPE", "SHAPE", "PARAMETERS"], &cells));
        }
        s
    })
}

fn kind_name(k: csghub_reader::config::ArchitectureKind) -> &'static str {
    use csghub_reader::config::ArchitectureKind::*;
    match k {
        DecoderOnly => "decoder-only",
        EncoderOnly => "encoder-only",
        EncoderDecoder => "encoder-decoder",
        VisionLanguage => "vision-language",
    }
}

type Summary = (Vec<Value>, Vec<Value>, u64, u64, Value);

fn weight_summary(w: &Weights) -> Summary {
    let file_name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let shards: Vec<Value> = match w {
        Weights::Single(f) => vec![(f.path(), f.len())],
        Weights::Sharded(s) => s.shards().iter().map(|f| (f.path(), f.len())).collect(),
    }
    .into_iter()
    .map(|(p, n)| {
        json!({
            "file": file_name(p),
            "size": std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            "tensors": n,
        })
    })
    .collect();
    let tensors: Vec<Value> = w
        .tensors()
        .map(|t| {
            let shard = match w {
                Weights::Sharded(s) => s.shard_of(t.name).map(|f| file_name(f.path())),
                Weights::Single(_) => None,
            };
            json!({
                "name": t.name,
                "dtype": format!("{:?}", t.dtype),
                "shape": t.shape,
                "parameters": t.element_count(),
                "bytes": t.bytes.len(),
                "file": shard,
            })
        })
        .collect();
    let per_dtype: serde_json::Map<String, Value> = w
        .bytes_per_dtype()
        .into_iter()
        .map(|(d, b)| (format!("{d:?}"), json!(b)))
        .collect();
    (
        shards,
        tensors,
        w.parameter_count(),
        w.total_bytes(),
        Value::Object(per_dtype),
    )
}
