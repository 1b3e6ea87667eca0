//! `config.json` and `generation_config.json`, typed for the common fields, with every other field
//! kept; and family/task resolution the way transformers' Auto classes do it.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result, io_err};

/// One or several token ids (`eos_token_id` is an int in most configs and a list in some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// A single id.
    One(i64),
    /// Several ids (any of them ends generation, for `eos_token_id`).
    Many(Vec<i64>),
}

impl TokenIds {
    /// The ids as a slice-like vector.
    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }

    /// The first id, if any.
    pub fn first(&self) -> Option<i64> {
        match self {
            TokenIds::One(id) => Some(*id),
            TokenIds::Many(ids) => ids.first().copied(),
        }
    }

    /// Whether `id` is among these ids.
    pub fn contains(&self, id: i64) -> bool {
        match self {
            TokenIds::One(x) => *x == id,
            TokenIds::Many(ids) => ids.contains(&id),
        }
    }
}

/// `rope_scaling` (linear, dynamic, yarn, llama3, longrope, …).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RopeScaling {
    /// `rope_type` (the current key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_type: Option<String>,
    /// `type` (the older key, still in many configs).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Scaling factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// `original_max_position_embeddings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_max_position_embeddings: Option<u64>,
    /// All other fields (`low_freq_factor`, `beta_fast`, `mrope_section`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RopeScaling {
    /// The scaling kind, from `rope_type` or else `type`.
    pub fn kind(&self) -> Option<&str> {
        self.rope_type.as_deref().or(self.type_.as_deref())
    }
}

/// A model's `config.json`.
///
/// Common fields are typed and optional (models vary); everything else stays in [`extra`]
/// and is written back unchanged by `serde_json::to_value`.
///
/// [`extra`]: Self::extra
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Architecture class names, e.g. `["LlamaForCausalLM"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// Model type, e.g. `llama`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Width of the hidden states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_size: Option<u64>,
    /// Width of the MLP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate_size: Option<u64>,
    /// Number of transformer blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_hidden_layers: Option<u64>,
    /// Attention heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_attention_heads: Option<u64>,
    /// Key/value heads (grouped-query attention); absent means equal to attention heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_key_value_heads: Option<u64>,
    /// Per-head width, when not `hidden_size / num_attention_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<u64>,
    /// Vocabulary size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<u64>,
    /// Longest sequence the position embeddings cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_position_embeddings: Option<u64>,
    /// Storage dtype, e.g. `bfloat16` (older key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
    /// Storage dtype (newer transformers write `dtype`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// RoPE base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// RoPE scaling settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<RopeScaling>,
    /// RMSNorm epsilon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rms_norm_eps: Option<f64>,
    /// Activation function name, e.g. `silu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_act: Option<String>,
    /// Beginning-of-sequence token id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<TokenIds>,
    /// Padding token id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<TokenIds>,
    /// Whether `lm_head` shares the embedding matrix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_word_embeddings: Option<bool>,
    /// Sliding-window attention size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<u64>,
    /// Whether the attention projections have biases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_bias: Option<bool>,
    /// transformers version that wrote the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformers_version: Option<String>,
    /// Every field not typed above, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Model dimensions with the aliases older families use (`n_embd`, `d_model`, `n_layer`, …)
/// resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dims {
    /// Hidden width (`hidden_size`, `n_embd`, `d_model`).
    pub hidden_size: Option<u64>,
    /// Blocks (`num_hidden_layers`, `n_layer`, `num_layers`).
    pub num_layers: Option<u64>,
    /// Heads (`num_attention_heads`, `n_head`, `num_heads`).
    pub num_heads: Option<u64>,
    /// KV heads (defaults to `num_heads`).
    pub num_kv_heads: Option<u64>,
    /// Head width (`head_dim`, else hidden / heads).
    pub head_dim: Option<u64>,
    /// MLP width (`intermediate_size`, `n_inner`, `d_ff`).
    pub intermediate_size: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Context length (`max_position_embeddings`, `n_positions`, `n_ctx`).
    pub max_positions: Option<u64>,
}

impl ModelConfig {
    /// Read and parse a `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            what: "config.json",
            source,
        })
    }

    /// The storage dtype, from `torch_dtype` or `dtype`.
    pub fn storage_dtype(&self) -> Option<&str> {
        self.torch_dtype.as_deref().or(self.dtype.as_deref())
    }

    /// The nested `text_config` of multimodal models, parsed as a config of its own.
    pub fn text_config(&self) -> Option<ModelConfig> {
        serde_json::from_value(self.extra.get("text_config")?.clone()).ok()
    }

    fn extra_u64(&self, keys: &[&str]) -> Option<u64> {
        keys.iter().find_map(|k| self.extra.get(*k)?.as_u64())
    }

    /// Dimensions with family-specific aliases resolved.
    pub fn dims(&self) -> Dims {
        let hidden_size = self
            .hidden_size
            .or_else(|| self.extra_u64(&["n_embd", "d_model"]));
        let num_heads = self
            .num_attention_heads
            .or_else(|| self.extra_u64(&["n_head", "num_heads"]));
        let head_dim = self.head_dim.or_else(|| match (hidden_size, num_heads) {
            (Some(h), Some(n)) if n > 0 => Some(h / n),
            _ => None,
        });
        Dims {
            hidden_size,
            num_layers: self
                .num_hidden_layers
                .or_else(|| self.extra_u64(&["n_layer", "num_layers"])),
            num_heads,
            num_kv_heads: self.num_key_value_heads.or(num_heads),
            head_dim,
            intermediate_size: self
                .intermediate_size
                .or_else(|| self.extra_u64(&["n_inner", "d_ff"])),
            vocab_size: self.vocab_size,
            max_positions: self
                .max_position_embeddings
                .or_else(|| self.extra_u64(&["n_positions", "n_ctx"])),
        }
    }

    /// Resolve the family and task, as `AutoModel` would: the family from `model_type` (or,
    /// if absent, from the architecture name), the task from the first architecture's suffix
    /// (or the family's default).
    pub fn resolve(&self) -> Result<Resolved> {
        let architecture = self.architectures.as_ref().and_then(|a| a.first()).cloned();
        let family = match (&self.model_type, &architecture) {
            (Some(mt), _) => ModelFamily::by_model_type(mt)?,
            (None, Some(arch)) => {
                let (prefix, _) = split_architecture(arch)?;
                ModelFamily::by_class_prefix(prefix).ok_or_else(|| Error::UnsupportedModelType {
                    model_type: prefix.to_owned(),
                    supported: ModelFamily::supported_list(),
                })?
            }
            (None, None) => {
                return Err(Error::UnknownFamily {
                    path: "config.json".into(),
                });
            }
        };
        let task = match &architecture {
            Some(arch) => {
                let (_, suffix) = split_architecture(arch)?;
                suffix.task(family.kind)
            }
            None => family.tasks.first().copied().unwrap_or(Task::Base),
        };
        Ok(Resolved {
            family,
            task,
            architecture,
        })
    }

    /// Check that this model can be loaded for `task` (like `AutoModelForCausalLM` refusing a
    /// T5 config) and return its family.
    pub fn require_task(&self, task: Task) -> Result<&'static ModelFamily> {
        let resolved = self.resolve()?;
        if resolved.family.tasks.contains(&task) {
            return Ok(resolved.family);
        }
        Err(Error::UnsupportedTask {
            model_type: resolved.family.model_type.to_owned(),
            task: task.to_string(),
            supported: resolved
                .family
                .tasks
                .iter()
                .map(Task::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// A `generation_config.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Beginning-of-sequence token id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<TokenIds>,
    /// Padding token id(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<TokenIds>,
    /// Sample instead of greedy decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Repetition penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Max new tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u64>,
    /// Max total length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// transformers version that wrote the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformers_version: Option<String>,
    /// Every field not typed above, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl GenerationConfig {
    /// Read and parse a `generation_config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            what: "generation_config.json",
            source,
        })
    }
}

/// What a model head does, as named by the architecture suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Task {
    /// Base model without a head (`LlamaModel`, `BertModel`).
    Base,
    /// Next-token prediction (`…ForCausalLM`, `…LMHeadModel`).
    CausalLM,
    /// Sequence classification (`…ForSequenceClassification`).
    SequenceClassification,
    /// Token classification (`…ForTokenClassification`).
    TokenClassification,
    /// Extractive QA (`…ForQuestionAnswering`).
    QuestionAnswering,
    /// Masked LM (`…ForMaskedLM`).
    MaskedLM,
    /// Encoder-decoder generation (`T5ForConditionalGeneration`, `…ForSeq2SeqLM`).
    Seq2SeqLM,
    /// Image + text in, text out (`Qwen2VLForConditionalGeneration`, `LlavaForConditionalGeneration`).
    ImageTextToText,
    /// Multiple choice (`…ForMultipleChoice`).
    MultipleChoice,
    /// Pre-training heads (`BertForPreTraining`).
    PreTraining,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Task::Base => "Base",
            Task::CausalLM => "CausalLM",
            Task::SequenceClassification => "SequenceClassification",
            Task::TokenClassification => "TokenClassification",
            Task::QuestionAnswering => "QuestionAnswering",
            Task::MaskedLM => "MaskedLM",
            Task::Seq2SeqLM => "Seq2SeqLM",
            Task::ImageTextToText => "ImageTextToText",
            Task::MultipleChoice => "MultipleChoice",
            Task::PreTraining => "PreTraining",
        })
    }
}

/// How a family is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchitectureKind {
    /// GPT-style decoder.
    DecoderOnly,
    /// BERT-style encoder.
    EncoderOnly,
    /// T5/BART-style encoder-decoder.
    EncoderDecoder,
    /// A vision encoder feeding a language model.
    VisionLanguage,
}

/// A known model family.
#[derive(Debug, PartialEq, Eq)]
pub struct ModelFamily {
    /// The `model_type` in config.json.
    pub model_type: &'static str,
    /// The class name prefix transformers uses (`Llama` in `LlamaForCausalLM`).
    pub class_prefix: &'static str,
    /// How it is built.
    pub kind: ArchitectureKind,
    /// Tasks transformers has heads for; the first is the usual one.
    pub tasks: &'static [Task],
}

/// The result of [`ModelConfig::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The family.
    pub family: &'static ModelFamily,
    /// The task of the (first) architecture, or the family's usual one.
    pub task: Task,
    /// The architecture class name, if config.json lists one.
    pub architecture: Option<String>,
}

use ArchitectureKind::*;
use Task::*;

const DECODER: &[Task] = &[
    CausalLM,
    Base,
    SequenceClassification,
    TokenClassification,
    QuestionAnswering,
];
const DECODER_GEN: &[Task] = &[CausalLM, Base, SequenceClassification];
const ENCODER: &[Task] = &[
    MaskedLM,
    Base,
    SequenceClassification,
    TokenClassification,
    QuestionAnswering,
    MultipleChoice,
    PreTraining,
    CausalLM,
];
const SEQ2SEQ: &[Task] = &[Seq2SeqLM, Base, SequenceClassification, QuestionAnswering];
const VISION_LM: &[Task] = &[ImageTextToText, Base];

macro_rules! family {
    ($mt:literal, $prefix:literal, $kind:expr, $tasks:expr) => {
        ModelFamily {
            model_type: $mt,
            class_prefix: $prefix,
            kind: $kind,
            tasks: $tasks,
        }
    };
}

/// Model types this crate knows, in the spirit of transformers' `CONFIG_MAPPING_NAMES`.
pub static FAMILIES: &[ModelFamily] = &[
    family!("llama", "Llama", DecoderOnly, DECODER),
    family!("mistral", "Mistral", DecoderOnly, DECODER),
    family!("mixtral", "Mixtral", DecoderOnly, DECODER),
    family!("qwen2", "Qwen2", DecoderOnly, DECODER),
    family!("qwen2_moe", "Qwen2Moe", DecoderOnly, DECODER),
    family!("qwen3", "Qwen3", DecoderOnly, DECODER),
    family!("qwen3_moe", "Qwen3Moe", DecoderOnly, DECODER),
    family!("gemma", "Gemma", DecoderOnly, DECODER_GEN),
    family!("gemma2", "Gemma2", DecoderOnly, DECODER_GEN),
    family!("gemma3_text", "Gemma3", DecoderOnly, DECODER_GEN),
    family!("phi", "Phi", DecoderOnly, DECODER),
    family!("phi3", "Phi3", DecoderOnly, DECODER),
    family!("gpt2", "GPT2", DecoderOnly, DECODER),
    family!("gpt_neox", "GPTNeoX", DecoderOnly, DECODER),
    family!("gptj", "GPTJ", DecoderOnly, DECODER),
    family!("falcon", "Falcon", DecoderOnly, DECODER),
    family!("starcoder2", "Starcoder2", DecoderOnly, DECODER),
    family!("deepseek_v2", "DeepseekV2", DecoderOnly, DECODER_GEN),
    family!("deepseek_v3", "DeepseekV3", DecoderOnly, DECODER_GEN),
    family!("olmo", "Olmo", DecoderOnly, DECODER_GEN),
    family!("olmo2", "Olmo2", DecoderOnly, DECODER_GEN),
    family!("stablelm", "StableLm", DecoderOnly, DECODER),
    family!("opt", "OPT", DecoderOnly, DECODER),
    family!("bloom", "Bloom", DecoderOnly, DECODER),
    family!("internlm2", "InternLM2", DecoderOnly, DECODER_GEN),
    family!("chatglm", "ChatGLM", DecoderOnly, DECODER_GEN),
    family!("baichuan", "Baichuan", DecoderOnly, DECODER_GEN),
    family!("bert", "Bert", EncoderOnly, ENCODER),
    family!("roberta", "Roberta", EncoderOnly, ENCODER),
    family!("xlm-roberta", "XLMRoberta", EncoderOnly, ENCODER),
    family!("distilbert", "DistilBert", EncoderOnly, ENCODER),
    family!("deberta-v2", "DebertaV2", EncoderOnly, ENCODER),
    family!("electra", "Electra", EncoderOnly, ENCODER),
    family!("modernbert", "ModernBert", EncoderOnly, ENCODER),
    family!("t5", "T5", EncoderDecoder, SEQ2SEQ),
    family!("mt5", "MT5", EncoderDecoder, SEQ2SEQ),
    family!("bart", "Bart", EncoderDecoder, SEQ2SEQ),
    family!("mbart", "MBart", EncoderDecoder, SEQ2SEQ),
    family!("qwen2_vl", "Qwen2VL", VisionLanguage, VISION_LM),
    family!("qwen2_5_vl", "Qwen2_5_VL", VisionLanguage, VISION_LM),
    family!("llava", "Llava", VisionLanguage, VISION_LM),
    family!("gemma3", "Gemma3", VisionLanguage, VISION_LM),
    family!("mllama", "Mllama", VisionLanguage, VISION_LM),
];

impl ModelFamily {
    /// Look a family up by `model_type`; unknown types give an error listing the supported ones.
    pub fn by_model_type(model_type: &str) -> Result<&'static ModelFamily> {
        FAMILIES
            .iter()
            .find(|f| f.model_type == model_type)
            .ok_or_else(|| Error::UnsupportedModelType {
                model_type: model_type.to_owned(),
                supported: Self::supported_list(),
            })
    }

    /// Look a family up by architecture class prefix (`Qwen2` for `Qwen2ForCausalLM`).
    /// A text-only family wins over a multimodal one with the same prefix.
    pub fn by_class_prefix(prefix: &str) -> Option<&'static ModelFamily> {
        FAMILIES.iter().find(|f| f.class_prefix == prefix)
    }

    /// All supported `model_type`s.
    pub fn supported() -> impl Iterator<Item = &'static str> {
        FAMILIES.iter().map(|f| f.model_type)
    }

    fn supported_list() -> String {
        Self::supported().collect::<Vec<_>>().join(", ")
    }
}

/// Recognised architecture suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    Fixed(Task),
    ConditionalGeneration,
}

impl Suffix {
    fn task(self, kind: ArchitectureKind) -> Task {
        match self {
            Suffix::Fixed(t) => t,
            Suffix::ConditionalGeneration if kind == VisionLanguage => ImageTextToText,
            Suffix::ConditionalGeneration => Seq2SeqLM,
        }
    }
}

/// Longest suffixes first so `LMHeadModel` wins over `Model`.
const SUFFIXES: &[(&str, Suffix)] = &[
    (
        "ForSequenceClassification",
        Suffix::Fixed(SequenceClassification),
    ),
    ("ForTokenClassification", Suffix::Fixed(TokenClassification)),
    ("ForConditionalGeneration", Suffix::ConditionalGeneration),
    ("ForQuestionAnswering", Suffix::Fixed(QuestionAnswering)),
    ("ForMultipleChoice", Suffix::Fixed(MultipleChoice)),
    ("ForPreTraining", Suffix::Fixed(PreTraining)),
    ("ForSeq2SeqLM", Suffix::Fixed(Seq2SeqLM)),
    ("ForCausalLM", Suffix::Fixed(CausalLM)),
    ("ForMaskedLM", Suffix::Fixed(MaskedLM)),
    ("LMHeadModel", Suffix::Fixed(CausalLM)),
    ("Model", Suffix::Fixed(Base)),
];

fn split_architecture(arch: &str) -> Result<(&str, Suffix)> {
    SUFFIXES
        .iter()
        .find_map(|(s, t)| {
            let prefix = arch.strip_suffix(s)?;
            (!prefix.is_empty()).then_some((prefix, *t))
        })
        .ok_or_else(|| Error::UnsupportedArchitecture {
            architecture: arch.to_owned(),
            supported: SUFFIXES
                .iter()
                .map(|(s, _)| *s)
                .collect::<Vec<_>>()
                .join(", "),
        })
}
