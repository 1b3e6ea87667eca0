//! ModelDir / from_pretrained on local directories, and the demo model generator.

use csghub_reader::demo::{tiny_llama, write_demo_llama, write_synthetic_model};
use csghub_reader::{Dtype, Error, ModelDir, ModelRepo, Task, Weights};

#[test]
fn demo_llama_opens_as_a_full_model() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_demo_llama(dir.path()).unwrap();
    assert_eq!(
        files,
        [
            "config.json",
            "generation_config.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "model.safetensors.index.json",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
    );
    let model = ModelRepo::from_pretrained(dir.path().to_str().unwrap()).unwrap();
    let c = model.config();
    assert_eq!(c.resolve().unwrap().task, Task::CausalLM);
    assert_eq!(c.vocab_size, Some(tiny_llama::VOCAB as u64));
    assert_eq!(
        model
            .generation_config()
            .unwrap()
            .eos_token_id
            .as_ref()
            .unwrap()
            .to_vec(),
        [2]
    );
    let tok = model.tokenizer_files();
    assert!(tok.tokenizer_json.is_some() && tok.tokenizer_config.is_some());
    assert!(tok.special_tokens_map.is_some() && tok.merges.is_none());

    let w = model.weights().unwrap();
    let Weights::Sharded(s) = &w else {
        panic!("demo model must be sharded")
    };
    assert_eq!(s.shards().len(), 2);
    // 1 embed + 9 per layer × 2 + final norm + lm_head.
    assert_eq!(w.len(), 1 + 9 * tiny_llama::LAYERS + 2);
    let embed = w.tensor("model.embed_tokens.weight").unwrap();
    assert_eq!(embed.shape, [tiny_llama::VOCAB, tiny_llama::HIDDEN]);
    assert_eq!(embed.dtype, Dtype::F32);
    let k = w.tensor("model.layers.1.self_attn.k_proj.weight").unwrap();
    assert_eq!(
        k.shape,
        [
            tiny_llama::KV_HEADS * tiny_llama::HEAD_DIM,
            tiny_llama::HIDDEN
        ]
    );
    assert!(
        s.shard_of("lm_head.weight")
            .unwrap()
            .path()
            .ends_with(tiny_llama::SHARDS[1])
    );
    let norm: Vec<f32> = w
        .tensor("model.norm.weight")
        .unwrap()
        .bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert!(norm.iter().all(|&x| x == 1.0));
    let params = w.parameter_count();
    assert_eq!(w.bytes_per_dtype()[&Dtype::F32], params * 4);
    assert_eq!(s.index().total_size(), Some(params * 4));

    // The tokenizer vocabulary matches the config's vocab size and the special ids.
    let tj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tok.tokenizer_json.as_ref().unwrap()).unwrap())
            .unwrap();
    let vocab = tj["model"]["vocab"].as_object().unwrap();
    assert_eq!(vocab.len(), tiny_llama::VOCAB);
    assert_eq!(
        (vocab["<s>"].as_u64(), vocab["</s>"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn demo_llama_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let files = write_demo_llama(a.path()).unwrap();
    write_demo_llama(b.path()).unwrap();
    // Writing again over existing files works and changes nothing.
    write_demo_llama(b.path()).unwrap();
    for f in &files {
        let (x, y) = (
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between runs");
    }
    // No temp files left behind.
    assert_eq!(std::fs::read_dir(b.path()).unwrap().count(), files.len());
}

#[test]
fn synthetic_model_for_bench() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_synthetic_model(dir.path(), 40 << 20, 4).unwrap();
    assert_eq!(shards.len(), 4);
    let report = csghub_reader::bench::open_index_and_view(dir.path()).unwrap();
    assert_eq!(report.tensors, 10);
    assert_eq!(report.bytes, 10 * (4 << 20));
    // Every shard got tensors even though 10 does not divide by 4.
    for p in &shards {
        assert!(csghub_reader::SafetensorsFile::open(p).unwrap().len() >= 2);
    }
}

#[test]
fn missing_config_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = ModelDir::open(dir.path()).unwrap_err();
    assert!(matches!(&err, Error::MissingFile { path, .. } if path.ends_with("config.json")));
}

#[test]
fn corrupt_generation_config_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_demo_llama(dir.path()).unwrap();
    std::fs::write(dir.path().join("generation_config.json"), "{").unwrap();
    let err = ModelDir::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Json {
                what: "generation_config.json",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn repo_id_not_in_the_cache_offline_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let err = ModelRepo::builder("OpenCSG/csg-wukong-1B")
        .cache_dir(cache.path())
        .offline(true)
        .load()
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotCached { repo_id, .. } if repo_id == "OpenCSG/csg-wukong-1B"),
        "{err}"
    );
    assert!(err.to_string().contains("download it first"), "{err}");
}

#[test]
fn invalid_names_rejected() {
    for bad in [
        "",
        "a/b/c",
        "../x",
        "ns/..",
        "ns/na me",
        "/nonexistent/dir/xyz",
    ] {
        let err = ModelRepo::from_pretrained(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidRepoId { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn builder_redacts_token_and_selects_files() {
    let b = ModelRepo::builder("ns/name")
        .revision("main")
        .token("secret-token-123")
        .offline(true)
        .extra_file("pytorch_model.bin");
    assert!(!format!("{b:?}").contains("secret-token-123"));
    let listing: Vec<String> = [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "merges.txt",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model.safetensors",
        "pytorch_model.bin",
        "tf_model.h5",
        "model.pt",
        "README.md",
    ]
    .map(String::from)
    .to_vec();
    let picked = b.select_files(&listing);
    assert_eq!(
        picked,
        [
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "merges.txt",
            "model.safetensors.index.json",
            "pytorch_model.bin",
        ]
    );
    let plain = ModelRepo::builder("ns/name");
    let single = ["config.json", "model.safetensors", "model.pt"].map(String::from);
    assert_eq!(
        plain.select_files(&single),
        ["config.json", "model.safetensors"]
    );
}

#[cfg(feature = "tokenizer")]
#[test]
fn demo_tokenizer_loads_and_encodes() {
    let dir = tempfile::tempdir().unwrap();
    write_demo_llama(dir.path()).unwrap();
    let model = ModelDir::open(dir.path()).unwrap();
    let tok = model.tokenizer().unwrap();
    assert_eq!(tok.get_vocab_size(true), tiny_llama::VOCAB);
    let enc = tok.encode("Hello world, csghub!", false).unwrap();
    // Lowercased, split on whitespace/punctuation; unknown pieces map to <unk> (0).
    assert_eq!(enc.get_ids(), [3, 4, 0, 8, 0]);
    assert_eq!(tok.token_to_id("</s>"), Some(2));
}

#[cfg(feature = "tokenizer")]
#[test]
fn corrupt_tokenizer_json_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_demo_llama(dir.path()).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "{\"model\": 3}").unwrap();
    let err = ModelDir::open(dir.path()).unwrap().tokenizer().unwrap_err();
    assert!(matches!(err, Error::Tokenizer { .. }), "{err}");
}
