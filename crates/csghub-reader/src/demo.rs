//! Small generated models: a tiny Llama for the local hub's `demo` seed and tests, and a large
//! synthetic sharded model for the reader benchmark. Output is deterministic (same bytes on
//! every call) and every file is written atomically (temp file in the same directory + rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use serde_json::json;

use crate::error::{Error, Result, io_err};
use crate::weights::{INDEX_FILE, TensorView};

/// Shape of the tiny demo Llama.
pub mod tiny_llama {
    /// Vocabulary size (matches the WordLevel tokenizer).
    pub const VOCAB: usize = 32;
    /// Hidden width.
    pub const HIDDEN: usize = 16;
    /// MLP width.
    pub const INTERMEDIATE: usize = 32;
    /// Blocks.
    pub const LAYERS: usize = 2;
    /// Attention heads.
    pub const HEADS: usize = 4;
    /// Key/value heads.
    pub const KV_HEADS: usize = 2;
    /// Head width.
    pub const HEAD_DIM: usize = HIDDEN / HEADS;
    /// Shard files written.
    pub const SHARDS: [&str; 2] = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ];
}

/// The words of the demo tokenizer after the three special tokens.
const WORDS: [&str; 29] = [
    "hello", "world", "the", "a", "model", "csghub", "rust", "llama", "is", "tiny", "and", "fast",
    "to", "of", "in", "it", "load", "weights", "token", "text", "data", "we", "you", "this",
    "that", "with", "for", "on", ".",
];

/// Write the tiny Llama-shaped demo model into `dir` (created if needed): `config.json`,
/// `generation_config.json`, `tokenizer.json` (WordLevel, 32 tokens), `tokenizer_config.json`,
/// `special_tokens_map.json`, two safetensors shards and `model.safetensors.index.json`.
///
/// Returns the written files' names, sorted. Calling it twice gives identical bytes.
pub fn write_demo_llama(dir: &Path) -> Result<Vec<String>> {
    use tiny_llama::*;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
        write_atomic(&dir.join(name), bytes)?;
        written.push(name.to_owned());
        Ok(())
    };

    let config = json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "vocab_size": VOCAB,
        "max_position_embeddings": 128,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "rope_scaling": null,
        "attention_bias": false,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "tie_word_embeddings": false,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
        "initializer_range": 0.02
    });
    put("config.json", &pretty(&config)?)?;
    let generation = json!({
        "bos_token_id": 1,
        "eos_token_id": 2,
        "do_sample": false,
        "max_new_tokens": 16,
        "transformers_version": "4.46.0"
    });
    put("generation_config.json", &pretty(&generation)?)?;
    put("tokenizer.json", &pretty(&tokenizer_json())?)?;
    let tok_config = json!({
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "model_max_length": 128,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": false
    });
    put("tokenizer_config.json", &pretty(&tok_config)?)?;
    let special = json!({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"});
    put("special_tokens_map.json", &pretty(&special)?)?;

    // Tensors in Llama naming; shard 1 holds embeddings and layer 0, shard 2 the rest.
    let mut rng = XorShift(0x5eed_c59b_0b1d_a7a5);
    let mut shards: [Vec<Owned>; 2] = [Vec::new(), Vec::new()];
    shards[0].push(Owned::random(
        "model.embed_tokens.weight",
        &[VOCAB, HIDDEN],
        &mut rng,
    ));
    for layer in 0..LAYERS {
        let p = format!("model.layers.{layer}");
        let kv = KV_HEADS * HEAD_DIM;
        let s = &mut shards[layer.min(1)];
        s.push(Owned::ones(&format!("{p}.input_layernorm.weight"), HIDDEN));
        s.push(Owned::ones(
            &format!("{p}.post_attention_layernorm.weight"),
            HIDDEN,
        ));
        for (name, shape) in [
            ("self_attn.q_proj", [HIDDEN, HIDDEN]),
            ("self_attn.k_proj", [kv, HIDDEN]),
            ("self_attn.v_proj", [kv, HIDDEN]),
            ("self_attn.o_proj", [HIDDEN, HIDDEN]),
            ("mlp.gate_proj", [INTERMEDIATE, HIDDEN]),
            ("mlp.up_proj", [INTERMEDIATE, HIDDEN]),
            ("mlp.down_proj", [HIDDEN, INTERMEDIATE]),
        ] {
            s.push(Owned::random(
                &format!("{p}.{name}.weight"),
                &shape,
                &mut rng,
            ));
        }
    }
    shards[1].push(Owned::ones("model.norm.weight", HIDDEN));
    shards[1].push(Owned::random("lm_head.weight", &[VOCAB, HIDDEN], &mut rng));

    let mut weight_map = BTreeMap::new();
    let mut total = 0usize;
    for (file, tensors) in SHARDS.iter().zip(&shards) {
        for t in tensors {
            weight_map.insert(t.name.clone(), (*file).to_owned());
            total += t.data.len();
        }
        put(file, &serialize(tensors)?)?;
    }
    let index = json!({"metadata": {"total_size": total}, "weight_map": weight_map});
    put(INDEX_FILE, &pretty(&index)?)?;
    written.sort();
    Ok(written)
}

/// Write a synthetic sharded model of about `total_bytes` into `dir` for benchmarks:
/// `shards` BF16 safetensors files of 4 MiB tensors plus an index and a Llama `config.json`.
/// Tensor data is a fixed byte pattern. Returns the paths of the shard files.
pub fn write_synthetic_model(dir: &Path, total_bytes: u64, shards: usize) -> Result<Vec<PathBuf>> {
    const TENSOR_BYTES: usize = 4 << 20;
    let shards = shards.max(1);
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let pattern: Vec<u8> = (0..TENSOR_BYTES).map(|i| (i % 251) as u8).collect();
    let tensors_total = (total_bytes as usize).div_ceil(TENSOR_BYTES).max(shards);
    let shape = [TENSOR_BYTES / 2 / 1024, 1024];
    let names: Vec<String> = (0..tensors_total)
        .map(|i| format!("model.layers.{}.w{}.weight", i / 8, i % 8))
        .collect();
    let mut weight_map = BTreeMap::new();
    let mut paths = Vec::new();
    for s in 0..shards {
        // Spread evenly so every shard exists even when the count does not divide.
        let chunk = &names[s * tensors_total / shards..(s + 1) * tensors_total / shards];
        let file = format!("model-{:05}-of-{:05}.safetensors", s + 1, shards);
        let views: Vec<(&str, TensorView<'_>)> = chunk
            .iter()
            .map(|n| {
                let v = TensorView {
                    name: n,
                    dtype: Dtype::BF16,
                    shape: &shape,
                    bytes: &pattern,
                };
                (n.as_str(), v)
            })
            .collect();
        for n in chunk {
            weight_map.insert(n.clone(), file.clone());
        }
        let path = dir.join(&file);
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
        safetensors::serialize_to_file(views, None, tmp.path()).map_err(|e| {
            Error::InvalidHeader {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        tmp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        paths.push(path);
    }
    let index = json!({
        "metadata": {"total_size": tensors_total * TENSOR_BYTES},
        "weight_map": weight_map
    });
    write_atomic(&dir.join(INDEX_FILE), &pretty(&index)?)?;
    let config = json!({"architectures": ["LlamaForCausalLM"], "model_type": "llama"});
    write_atomic(&dir.join("config.json"), &pretty(&config)?)?;
    Ok(paths)
}

fn tokenizer_json() -> serde_json::Value {
    let specials = ["<unk>", "<s>", "</s>"];
    let mut vocab = serde_json::Map::new();
    for (i, tok) in specials.iter().chain(WORDS.iter()).enumerate() {
        vocab.insert((*tok).to_owned(), json!(i));
    }
    let added: Vec<_> = specials
        .iter()
        .enumerate()
        .map(|(id, content)| {
            json!({
                "id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true
            })
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    })
}

fn pretty(v: &serde_json::Value) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|e| Error::InvalidHeader {
        path: PathBuf::from("<generated json>"),
        reason: e.to_string(),
    })?;
    out.push(b'\n');
    Ok(out)
}

/// A generated f32 tensor.
struct Owned {
    name: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl Owned {
    fn random(name: &str, shape: &[usize], rng: &mut XorShift) -> Self {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .flat_map(|_| {
                // Uniform in [-0.1, 0.1): small like an initialised model.
                let u = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
                ((u - 0.5) * 0.2).to_le_bytes()
            })
            .collect();
        Self {
            name: name.to_owned(),
            shape: shape.to_vec(),
            data,
        }
    }

    fn ones(name: &str, len: usize) -> Self {
        Self {
            name: name.to_owned(),
            shape: vec![len],
            data: (0..len).flat_map(|_| 1.0f32.to_le_bytes()).collect(),
        }
    }
}

fn serialize(tensors: &[Owned]) -> Result<Vec<u8>> {
    let views = tensors.iter().map(|t| {
        let v = TensorView {
            name: &t.name,
            dtype: Dtype::F32,
            shape: &t.shape,
            bytes: &t.data,
        };
        (t.name.as_str(), v)
    });
    let metadata = Some(std::collections::HashMap::from([(
        "format".to_owned(),
        "pt".to_owned(),
    )]));
    safetensors::serialize(views, metadata).map_err(|e| Error::InvalidHeader {
        path: PathBuf::from("<generated safetensors>"),
        reason: e.to_string(),
    })
}

/// Deterministic pseudo-random numbers (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Write `bytes` to `path` through a temp file in the same directory, then rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}
