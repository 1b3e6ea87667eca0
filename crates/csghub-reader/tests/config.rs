//! config.json / generation_config.json typing and Auto-class style resolution.

use csghub_reader::config::{ArchitectureKind, Dims};
use csghub_reader::{Error, GenerationConfig, ModelConfig, ModelFamily, Task, TokenIds};

const LLAMA3: &str = r#"{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 2048,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}"#;

fn parse(s: &str) -> ModelConfig {
    serde_json::from_str(s).unwrap()
}

#[test]
fn llama3_common_fields_typed_and_unknown_kept() {
    let c = parse(LLAMA3);
    assert_eq!(c.model_type.as_deref(), Some("llama"));
    assert_eq!(c.hidden_size, Some(2048));
    assert_eq!(c.num_key_value_heads, Some(8));
    assert_eq!(
        c.eos_token_id,
        Some(TokenIds::Many(vec![128001, 128008, 128009]))
    );
    assert!(c.eos_token_id.as_ref().unwrap().contains(128009));
    assert_eq!(
        c.bos_token_id.as_ref().and_then(TokenIds::first),
        Some(128000)
    );
    assert_eq!(c.rope_theta, Some(500000.0));
    let rs = c.rope_scaling.as_ref().unwrap();
    assert_eq!((rs.kind(), rs.factor), (Some("llama3"), Some(32.0)));
    assert_eq!(rs.extra["low_freq_factor"], 1.0);
    assert_eq!(c.tie_word_embeddings, Some(true));
    assert_eq!(c.storage_dtype(), Some("bfloat16"));
    assert_eq!(c.extra["mlp_bias"], false);
    assert_eq!(c.extra["use_cache"], true);
    let d = c.dims();
    assert_eq!(
        (d.head_dim, d.num_kv_heads, d.num_layers),
        (Some(64), Some(8), Some(16))
    );
}

#[test]
fn round_trip_keeps_every_field() {
    let original: serde_json::Value = serde_json::from_str(LLAMA3).unwrap();
    let back = serde_json::to_value(parse(LLAMA3)).unwrap();
    assert_eq!(back, original);
}

#[test]
fn gpt2_aliases_resolved() {
    let c = parse(
        r#"{"architectures":["GPT2LMHeadModel"],"model_type":"gpt2","n_embd":768,"n_layer":12,
            "n_head":12,"n_positions":1024,"n_ctx":1024,"vocab_size":50257,"eos_token_id":50256}"#,
    );
    assert_eq!(
        c.dims(),
        Dims {
            hidden_size: Some(768),
            num_layers: Some(12),
            num_heads: Some(12),
            num_kv_heads: Some(12),
            head_dim: Some(64),
            intermediate_size: None,
            vocab_size: Some(50257),
            max_positions: Some(1024),
        }
    );
    assert_eq!(c.eos_token_id, Some(TokenIds::One(50256)));
    assert_eq!(c.resolve().unwrap().task, Task::CausalLM);
}

#[test]
fn old_rope_type_key_and_null_fields() {
    let c = parse(
        r#"{"model_type":"qwen2","rope_scaling":{"type":"yarn","factor":4.0},"sliding_window":null,"dtype":"float16"}"#,
    );
    assert_eq!(c.rope_scaling.as_ref().unwrap().kind(), Some("yarn"));
    assert_eq!(c.sliding_window, None);
    assert_eq!(c.storage_dtype(), Some("float16"));
}

#[test]
fn wrong_field_type_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.json");
    std::fs::write(&p, r#"{"hidden_size":"big"}"#).unwrap();
    let err = ModelConfig::from_file(&p).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Json {
                what: "config.json",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("config.json"));
}

#[test]
fn malformed_json_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("generation_config.json");
    std::fs::write(&p, "{\"do_sample\": tru").unwrap();
    let err = GenerationConfig::from_file(&p).unwrap_err();
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
fn generation_config_fields() {
    let g: GenerationConfig = serde_json::from_str(
        r#"{"bos_token_id":1,"eos_token_id":[2,3],"do_sample":true,"temperature":0.6,"top_p":0.9,"custom":7}"#,
    )
    .unwrap();
    assert_eq!(g.eos_token_id.unwrap().to_vec(), [2, 3]);
    assert_eq!(
        (g.do_sample, g.temperature, g.top_p),
        (Some(true), Some(0.6), Some(0.9))
    );
    assert_eq!(g.extra["custom"], 7);
}

#[test]
fn resolution_by_architecture_suffix() {
    let cases = [
        ("llama", "LlamaForCausalLM", Task::CausalLM),
        (
            "qwen2",
            "Qwen2ForSequenceClassification",
            Task::SequenceClassification,
        ),
        (
            "bert",
            "BertForTokenClassification",
            Task::TokenClassification,
        ),
        (
            "roberta",
            "RobertaForQuestionAnswering",
            Task::QuestionAnswering,
        ),
        ("bert", "BertForMaskedLM", Task::MaskedLM),
        ("t5", "T5ForConditionalGeneration", Task::Seq2SeqLM),
        (
            "qwen2_vl",
            "Qwen2VLForConditionalGeneration",
            Task::ImageTextToText,
        ),
        ("bert", "BertModel", Task::Base),
        ("gpt2", "GPT2LMHeadModel", Task::CausalLM),
        ("mistral", "MistralForCausalLM", Task::CausalLM),
        ("qwen3", "Qwen3ForCausalLM", Task::CausalLM),
        ("gemma", "GemmaForCausalLM", Task::CausalLM),
        ("phi3", "Phi3ForCausalLM", Task::CausalLM),
    ];
    for (mt, arch, task) in cases {
        let c = parse(&format!(
            r#"{{"model_type":"{mt}","architectures":["{arch}"]}}"#
        ));
        let r = c.resolve().unwrap();
        assert_eq!((r.family.model_type, r.task), (mt, task), "{arch}");
        assert_eq!(r.architecture.as_deref(), Some(arch));
    }
}

#[test]
fn family_from_architecture_when_model_type_missing() {
    let r = parse(r#"{"architectures":["MistralForCausalLM"]}"#)
        .resolve()
        .unwrap();
    assert_eq!((r.family.model_type, r.task), ("mistral", Task::CausalLM));
    assert_eq!(r.family.kind, ArchitectureKind::DecoderOnly);
}

#[test]
fn default_task_without_architectures() {
    assert_eq!(
        parse(r#"{"model_type":"bert"}"#).resolve().unwrap().task,
        Task::MaskedLM
    );
    assert_eq!(
        parse(r#"{"model_type":"llama"}"#).resolve().unwrap().task,
        Task::CausalLM
    );
}

#[test]
fn unknown_model_type_lists_supported() {
    let err = parse(r#"{"model_type":"frobnicator"}"#)
        .resolve()
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedModelType { model_type, .. } if model_type == "frobnicator")
    );
    let msg = err.to_string();
    for known in [
        "llama", "mistral", "qwen2", "qwen3", "gemma", "phi3", "gpt2", "bert", "t5",
    ] {
        assert!(msg.contains(known), "{known} missing from: {msg}");
    }
    assert_eq!(
        ModelFamily::supported().count(),
        csghub_reader::config::FAMILIES.len()
    );
}

#[test]
fn unknown_architecture_suffix_is_an_error() {
    let err = parse(r#"{"model_type":"llama","architectures":["LlamaForFrobnication"]}"#)
        .resolve()
        .unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedArchitecture { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ForCausalLM"));
}

#[test]
fn no_model_type_nor_architectures() {
    assert!(matches!(
        parse("{}").resolve().unwrap_err(),
        Error::UnknownFamily { .. }
    ));
}

#[test]
fn require_task_like_auto_model_for_causal_lm() {
    assert_eq!(
        parse(r#"{"model_type":"llama"}"#)
            .require_task(Task::CausalLM)
            .unwrap()
            .model_type,
        "llama"
    );
    let err = parse(r#"{"model_type":"t5"}"#)
        .require_task(Task::CausalLM)
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedTask { .. }), "{err}");
    assert!(err.to_string().contains("Seq2SeqLM"));
}

#[test]
fn text_config_of_multimodal() {
    let c = parse(
        r#"{"model_type":"gemma3","text_config":{"model_type":"gemma3_text","hidden_size":640}}"#,
    );
    let t = c.text_config().unwrap();
    assert_eq!(
        (t.model_type.as_deref(), t.hidden_size),
        (Some("gemma3_text"), Some(640))
    );
}
