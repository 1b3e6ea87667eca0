//! Feature `candle`: a candle-nn `VarBuilder` over the mapped weights, checked against the raw
//! little-endian bytes of our own views.
#![cfg(feature = "candle")]

use std::path::Path;

use csghub_reader::candle::candle_core::{DType, Device, Module, Tensor};
use csghub_reader::candle::{SUPPORTED_DTYPES, candle_dtype, candle_nn};
use csghub_reader::demo::tiny_llama::{HEAD_DIM, HIDDEN, INTERMEDIATE, KV_HEADS, VOCAB};
use csghub_reader::{Dtype, Error, ModelDir, SafetensorsFile, Weights};
use safetensors::tensor::TensorView as StView;

fn demo() -> (tempfile::TempDir, ModelDir) {
    let dir = tempfile::tempdir().unwrap();
    csghub_reader::demo::write_demo_llama(dir.path()).unwrap();
    let model = ModelDir::open(dir.path()).unwrap();
    (dir, model)
}

/// Decode raw little-endian f32 bytes, independently of candle.
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn flat_f32(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Write a single-file model from `(name, dtype, shape, bytes)` with `safetensors::serialize`.
fn write_single(dir: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Weights {
    let views: Vec<(&str, StView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, StView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let bytes = safetensors::serialize(views, None).unwrap();
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
    Weights::open_dir(dir).unwrap()
}

fn le<T: Copy, const N: usize>(values: &[T], to: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

#[test]
fn demo_llama_tensors_across_shards_match_raw_bytes() {
    let (_dir, model) = demo();
    let weights = model.weights().unwrap();
    let vb = weights.var_builder(DType::F32, &Device::Cpu);
    let kv = KV_HEADS * HEAD_DIM;
    let cases: [(&str, Vec<usize>); 5] = [
        ("model.embed_tokens.weight", vec![VOCAB, HIDDEN]), // shard 1
        ("model.layers.0.self_attn.k_proj.weight", vec![kv, HIDDEN]), // shard 1
        (
            "model.layers.1.mlp.down_proj.weight",
            vec![HIDDEN, INTERMEDIATE],
        ), // shard 2
        ("model.norm.weight", vec![HIDDEN]),                // shard 2
        ("lm_head.weight", vec![VOCAB, HIDDEN]),            // shard 2
    ];
    for (name, shape) in cases {
        let t = vb.get(shape.as_slice(), name).unwrap();
        assert_eq!(t.dims(), shape.as_slice(), "{name}");
        assert_eq!(t.dtype(), DType::F32);
        assert_eq!(
            flat_f32(&t),
            f32s(weights.tensor(name).unwrap().bytes),
            "{name}"
        );
    }
    // Prefixes (how model code walks the tree) resolve to the same tensors.
    let q = vb
        .pp("model")
        .pp("layers")
        .pp(1)
        .pp("self_attn.q_proj")
        .get((HIDDEN, HIDDEN), "weight")
        .unwrap();
    let raw = weights
        .tensor("model.layers.1.self_attn.q_proj.weight")
        .unwrap();
    assert_eq!(flat_f32(&q), f32s(raw.bytes));
    // The random tensors are not all equal, so the comparison above is not vacuous.
    assert!(flat_f32(&q).windows(2).any(|w| w[0] != w[1]));

    // Every tensor is served, unchecked, with its stored shape.
    for view in weights.tensors() {
        assert!(vb.contains_tensor(view.name));
        let t = vb.get_unchecked(view.name).unwrap();
        assert_eq!(t.dims(), view.shape, "{}", view.name);
        assert_eq!(flat_f32(&t), f32s(view.bytes), "{}", view.name);
    }
}

#[test]
fn candle_nn_layers_load_and_compute_from_the_demo_llama() {
    let (_dir, model) = demo();
    // ModelDir::var_builder owns the weights: nothing else is kept alive here.
    let vb = model.var_builder(DType::F32, &Device::Cpu).unwrap();
    let weights = model.weights().unwrap();

    let embed = candle_nn::embedding(VOCAB, HIDDEN, vb.pp("model.embed_tokens")).unwrap();
    let ids = Tensor::new(&[5u32, 0], &Device::Cpu).unwrap();
    let rows = flat_f32(&embed.forward(&ids).unwrap());
    let table = f32s(weights.tensor("model.embed_tokens.weight").unwrap().bytes);
    assert_eq!(&rows[..HIDDEN], &table[5 * HIDDEN..6 * HIDDEN]);
    assert_eq!(&rows[HIDDEN..], &table[..HIDDEN]);

    // y = x W^T with x = e_3 picks column 3 of W, i.e. element 3 of each row.
    let up = candle_nn::linear_no_bias(HIDDEN, INTERMEDIATE, vb.pp("model.layers.0.mlp.up_proj"))
        .unwrap();
    let mut e3 = vec![0f32; HIDDEN];
    e3[3] = 1.0;
    let x = Tensor::from_vec(e3, (1, HIDDEN), &Device::Cpu).unwrap();
    let y = flat_f32(&up.forward(&x).unwrap());
    let w = f32s(
        weights
            .tensor("model.layers.0.mlp.up_proj.weight")
            .unwrap()
            .bytes,
    );
    let column: Vec<f32> = (0..INTERMEDIATE).map(|r| w[r * HIDDEN + 3]).collect();
    assert_eq!(y, column);
}

#[test]
fn wrong_shape_is_an_error_naming_the_tensor_file_and_both_shapes() {
    let (_dir, model) = demo();
    let vb = model.var_builder(DType::F32, &Device::Cpu).unwrap();
    let err = vb
        .get((3, HIDDEN), "model.embed_tokens.weight")
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"model.embed_tokens.weight\""), "{err}");
    assert!(err.contains("model-00001-of-00002.safetensors"), "{err}");
    assert!(err.contains("expected: [3, 16]"), "{err}");
    assert!(err.contains("got: [32, 16]"), "{err}");

    // Through candle-nn layer constructors too (a config with the wrong width).
    let err = candle_nn::linear_no_bias(HIDDEN, 999, vb.pp("lm_head"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"lm_head.weight\""), "{err}");
    assert!(err.contains("model-00002-of-00002.safetensors"), "{err}");
    assert!(
        err.contains("expected: [999, 16]") && err.contains("got: [32, 16]"),
        "{err}"
    );
}

#[test]
fn missing_tensor_is_an_error_naming_it() {
    let (_dir, model) = demo();
    let vb = model.var_builder(DType::F32, &Device::Cpu).unwrap();
    assert!(!vb.contains_tensor("model.layers.2.mlp.up_proj.weight"));
    let err = vb
        .pp("model.layers.2")
        .get((INTERMEDIATE, HIDDEN), "mlp.up_proj.weight")
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.layers.2.mlp.up_proj.weight"), "{err}");
    let err = vb.get_unchecked("nope").unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn bf16_and_f16_convert_to_f32_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // Exact in both formats, including a large power of two and f16's smallest subnormal.
    let values = [1.0f32, -2.5, 0.15625, 32768.0, 2f32.powi(-24), -0.0];
    // bf16 is the top half of an f32; these values are exact in it.
    let bf16: Vec<u8> = values
        .iter()
        .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
        .collect();
    // IEEE half bit patterns of the same values, written out by hand.
    let f16 = le(
        &[0x3C00u16, 0xC100, 0x3100, 0x7800, 0x0001, 0x8000],
        u16::to_le_bytes,
    );
    let weights = write_single(
        dir.path(),
        &[
            ("h.bf16", Dtype::BF16, vec![2, 3], bf16),
            ("h.f16", Dtype::F16, vec![6], f16),
        ],
    );
    let vb = weights.var_builder(DType::F32, &Device::Cpu);
    let b = vb.get((2, 3), "h.bf16").unwrap();
    assert_eq!(b.dtype(), DType::F32);
    assert_eq!(flat_f32(&b), values);
    let h = vb.get(6, "h.f16").unwrap();
    assert_eq!(h.dtype(), DType::F32);
    assert_eq!(flat_f32(&h), values);

    // Asking for the stored dtype keeps it; F16 → BF16 → F32 round-trips these values.
    let kept = vb.get_unchecked_dtype("h.bf16", DType::BF16).unwrap();
    assert_eq!(kept.dtype(), DType::BF16);
    let vb16 = weights.var_builder(DType::BF16, &Device::Cpu);
    let cross = vb16.get(6, "h.f16").unwrap();
    assert_eq!(cross.dtype(), DType::BF16);
    assert_eq!(flat_f32(&cross.to_dtype(DType::F32).unwrap()), values);
}

#[test]
fn integer_f64_and_f8_tensors_load_with_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let weights = write_single(
        dir.path(),
        &[
            (
                "i64",
                Dtype::I64,
                vec![3],
                le(&[-1i64, i64::MAX, 7], i64::to_le_bytes),
            ),
            (
                "i32",
                Dtype::I32,
                vec![2],
                le(&[i32::MIN, 42], i32::to_le_bytes),
            ),
            (
                "i16",
                Dtype::I16,
                vec![2],
                le(&[-300i16, 300], i16::to_le_bytes),
            ),
            (
                "u32",
                Dtype::U32,
                vec![2],
                le(&[u32::MAX, 9], u32::to_le_bytes),
            ),
            ("u8", Dtype::U8, vec![3], vec![0, 128, 255]),
            (
                "f64",
                Dtype::F64,
                vec![2],
                le(&[0.1f64, -1e300], f64::to_le_bytes),
            ),
            // E4M3: 0x38 = 1.0, 0xC0 = -2.0, 0x00 = 0.
            ("f8", Dtype::F8_E4M3, vec![3], vec![0x38, 0xC0, 0x00]),
        ],
    );
    let vb = weights.var_builder(DType::F32, &Device::Cpu);
    let native = |name: &str| {
        let d = candle_dtype(weights.tensor(name).unwrap().dtype).unwrap();
        vb.get_unchecked_dtype(name, d).unwrap()
    };
    assert_eq!(native("i64").to_vec1::<i64>().unwrap(), [-1, i64::MAX, 7]);
    assert_eq!(native("i32").to_vec1::<i32>().unwrap(), [i32::MIN, 42]);
    assert_eq!(native("i16").to_vec1::<i16>().unwrap(), [-300, 300]);
    assert_eq!(native("u32").to_vec1::<u32>().unwrap(), [u32::MAX, 9]);
    assert_eq!(native("u8").to_vec1::<u8>().unwrap(), [0, 128, 255]);
    assert_eq!(native("f64").to_vec1::<f64>().unwrap(), [0.1, -1e300]);
    assert_eq!(native("f8").dtype(), DType::F8E4M3);
    // And converted to the builder's F32.
    assert_eq!(flat_f32(&vb.get(3, "u8").unwrap()), [0.0, 128.0, 255.0]);
    assert_eq!(flat_f32(&vb.get(2, "i16").unwrap()), [-300.0, 300.0]);
    assert_eq!(flat_f32(&vb.get(3, "f8").unwrap()), [1.0, -2.0, 0.0]);

    // The mapping table agrees with candle's own names for every supported dtype.
    for (ours, theirs) in SUPPORTED_DTYPES {
        assert_eq!(candle_dtype(ours), Some(theirs));
        assert_eq!(safetensors::Dtype::from(theirs), ours);
    }
}

#[test]
fn unsupported_dtype_is_an_error_naming_tensor_and_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let weights = write_single(
        dir.path(),
        &[
            ("flags", Dtype::BOOL, vec![2], vec![0, 1]),
            ("q8", Dtype::I8, vec![2], vec![0xFF, 1]),
            (
                "big",
                Dtype::U64,
                vec![1],
                le(&[u64::MAX], u64::to_le_bytes),
            ),
        ],
    );
    let vb = weights.var_builder(DType::F32, &Device::Cpu);
    for (name, dtype, shape) in [("flags", "BOOL", 2), ("q8", "I8", 2), ("big", "U64", 1)] {
        assert!(vb.contains_tensor(name));
        let err = vb.get(shape, name).unwrap_err().to_string();
        assert!(err.contains(&format!("{name:?}")), "{err}");
        assert!(err.contains(&format!("dtype {dtype}")), "{err}");
        assert!(err.contains("candle") && err.contains("BF16"), "{err}");

        match weights.tensor(name).unwrap().to_candle(&Device::Cpu) {
            Err(Error::UnsupportedDtype {
                name: n, target, ..
            }) => {
                assert_eq!((n.as_str(), target), (name, "candle"));
            }
            other => panic!("expected UnsupportedDtype, got {other:?}"),
        }
    }
}

#[test]
fn unaligned_tensor_data_loads_correctly() {
    // `a` U8[3] then `b` F32[2] at data offset 3: with the data section 8-byte aligned, `b`
    // is misaligned for f32, which candle must copy rather than reinterpret.
    let mut header = r#"{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}}"#.to_owned();
    while !(8 + header.len()).is_multiple_of(8) {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&[1, 2, 3]);
    file.extend(le(&[1.5f32, -7.25], f32::to_le_bytes));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    std::fs::write(&path, file).unwrap();
    let weights = Weights::Single(SafetensorsFile::open(&path).unwrap());
    let b = weights.tensor("b").unwrap();
    assert_ne!(
        b.bytes.as_ptr() as usize % 4,
        0,
        "test setup: b should be misaligned"
    );
    let vb = weights.var_builder(DType::F32, &Device::Cpu);
    assert_eq!(flat_f32(&vb.get(2, "b").unwrap()), [1.5, -7.25]);
    let direct = b.to_candle(&Device::Cpu).unwrap();
    assert_eq!(direct.to_vec1::<f32>().unwrap(), [1.5, -7.25]);
}

#[test]
fn owned_var_builder_outlives_the_weights_handle() {
    let (_dir, model) = demo();
    let expected = f32s(
        model
            .weights()
            .unwrap()
            .tensor("model.norm.weight")
            .unwrap()
            .bytes,
    );
    let vb = model
        .weights()
        .unwrap()
        .into_var_builder(DType::F32, &Device::Cpu);
    assert_eq!(
        flat_f32(&vb.get(HIDDEN, "model.norm.weight").unwrap()),
        expected
    );
}

#[test]
fn model_without_or_with_corrupt_weights_fails_before_a_builder_exists() {
    let (dir, _) = demo();
    // A truncated shard is caught by validation when the builder is made, not mid-load.
    let shard = dir.path().join("model-00002-of-00002.safetensors");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 4]).unwrap();
    let model = ModelDir::open(dir.path()).unwrap();
    // (VarBuilder is not Debug, so no unwrap_err.)
    let err = model.var_builder(DType::F32, &Device::Cpu).err().unwrap();
    assert!(
        err.to_string().contains("model-00002-of-00002.safetensors"),
        "{err}"
    );

    // No weights at all.
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let p = f.unwrap().path();
        if p.to_string_lossy().contains("safetensors") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let model = ModelDir::open(dir.path()).unwrap();
    assert!(matches!(
        model.var_builder(DType::F32, &Device::Cpu),
        Err(Error::NoWeights { .. })
    ));
}
