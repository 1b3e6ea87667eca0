//! Safetensors reading: valid files, sharding, and every hostile/corrupt case as its own test.

use std::path::{Path, PathBuf};

use csghub_reader::{Dtype, Error, ExpectedBytes, SafetensorsFile, ShardedWeights, Weights};

/// Raw safetensors bytes from a header string and a data section.
fn raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn open_raw(header: &str, data: &[u8]) -> Result<SafetensorsFile, Error> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "x.safetensors", &raw(header, data));
    SafetensorsFile::open(p)
}

/// Two tensors: `a` F32 [2] (8 bytes) then `b` U8 [3] (3 bytes).
const GOOD: &str = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}"#;
const GOOD_DATA: &[u8] = &[0, 0, 128, 63, 0, 0, 0, 64, 7, 8, 9];

#[test]
fn valid_file_gives_zero_copy_views() {
    let f = open_raw(GOOD, GOOD_DATA).unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f.names().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(f.metadata().unwrap()["format"], "pt");
    let a = f.tensor("a").unwrap();
    assert_eq!((a.dtype, a.shape), (Dtype::F32, &[2usize][..]));
    assert_eq!(a.bytes, &GOOD_DATA[..8]);
    let floats: Vec<f32> = a
        .bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, [1.0, 2.0]);
    assert_eq!(f.tensor("b").unwrap().bytes, &[7, 8, 9]);
    assert!(f.tensor("missing").is_none());
    // The view is a slice of the mapping, not a copy: views taken twice share an address.
    assert_eq!(f.tensor("a").unwrap().bytes.as_ptr(), a.bytes.as_ptr());
    // And it converts into the safetensors crate's view (what candle loads).
    let st = a.to_safetensors().unwrap();
    assert_eq!(
        (st.dtype(), st.shape(), st.data()),
        (Dtype::F32, &[2usize][..], a.bytes)
    );
}

#[test]
fn agrees_with_safetensors_crate_on_valid_file() {
    let bytes = raw(GOOD, GOOD_DATA);
    let ours = SafetensorsFile::from_bytes(bytes.clone(), "mem").unwrap();
    let theirs = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    for (name, view) in theirs.tensors() {
        let t = ours.tensor(&name).unwrap();
        assert_eq!(
            (t.dtype, t.shape, t.bytes),
            (view.dtype(), view.shape(), view.data())
        );
    }
    assert_eq!(ours.len(), theirs.len());
}

#[test]
fn empty_header_no_tensors_is_valid() {
    let f = open_raw("{}", &[]).unwrap();
    assert!(f.is_empty());
}

#[test]
fn scalar_and_zero_sized_tensors() {
    let h = r#"{"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"z":{"dtype":"F16","shape":[0,4],"data_offsets":[8,8]}}"#;
    let f = open_raw(h, &7i64.to_le_bytes()).unwrap();
    assert_eq!(f.tensor("s").unwrap().element_count(), 1);
    assert_eq!(f.tensor("z").unwrap().bytes.len(), 0);
}

#[test]
fn hostile_file_shorter_than_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "short.safetensors", &[1, 2, 3]);
    let err = SafetensorsFile::open(&p).unwrap_err();
    assert!(matches!(err, Error::HeaderTooSmall { len: 3, .. }), "{err}");
    assert!(err.to_string().contains("short.safetensors"));
}

#[test]
fn hostile_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.safetensors", &[]);
    assert!(matches!(
        SafetensorsFile::open(&p).unwrap_err(),
        Error::HeaderTooSmall { len: 0, .. }
    ));
}

#[test]
fn hostile_header_over_100mb() {
    let mut bytes = 100_000_001u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let err = SafetensorsFile::from_bytes(bytes, "big").unwrap_err();
    assert!(
        matches!(
            err,
            Error::HeaderTooLarge {
                header_len: 100_000_001,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hostile_header_length_u64_max() {
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    assert!(matches!(
        SafetensorsFile::from_bytes(bytes, "max").unwrap_err(),
        Error::HeaderTooLarge { .. }
    ));
}

#[test]
fn hostile_header_length_beyond_file() {
    let mut bytes = 1000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let err = SafetensorsFile::from_bytes(bytes, "trunc").unwrap_err();
    assert!(
        matches!(
            err,
            Error::HeaderBeyondFile {
                header_len: 1000,
                file_len: 10,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hostile_header_not_utf8() {
    let mut bytes = 4u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0x7b, 0xff, 0xfe, 0x7d]);
    assert!(matches!(
        SafetensorsFile::from_bytes(bytes, "utf").unwrap_err(),
        Error::InvalidHeader { .. }
    ));
}

#[test]
fn hostile_header_invalid_json() {
    let err = open_raw(r#"{"a":{"dtype":"F32","#, &[]).unwrap_err();
    assert!(matches!(err, Error::InvalidHeader { .. }), "{err}");
}

#[test]
fn hostile_header_not_an_object() {
    assert!(matches!(
        open_raw("[1,2]", &[]).unwrap_err(),
        Error::InvalidHeader { .. }
    ));
}

#[test]
fn hostile_unknown_dtype() {
    let h = r#"{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#;
    let err = open_raw(h, &[0; 16]).unwrap_err();
    assert!(matches!(err, Error::InvalidHeader { .. }), "{err}");
}

#[test]
fn hostile_metadata_not_string_map() {
    let h = r#"{"__metadata__":{"n":1}}"#;
    assert!(matches!(
        open_raw(h, &[]).unwrap_err(),
        Error::InvalidHeader { .. }
    ));
}

#[test]
fn hostile_duplicate_tensor_name_in_header() {
    let h = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
    let err = open_raw(h, &[1]).unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateTensor { name, .. } if name == "a"),
        "{err}"
    );
}

#[test]
fn hostile_offsets_past_data() {
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
    let err = open_raw(h, &[1, 2]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOffsets { name, end: 4, .. } if name == "a"),
        "{err}"
    );
}

#[test]
fn hostile_offsets_near_usize_max() {
    // Offsets that would overflow `usize` arithmetic if added before bounds checks.
    let h = format!(
        r#"{{"a":{{"dtype":"U8","shape":[{n}],"data_offsets":[0,{n}]}}}}"#,
        n = usize::MAX - 4
    );
    let err = open_raw(&h, &[0; 8]).unwrap_err();
    assert!(matches!(err, Error::InvalidOffsets { .. }), "{err}");
}

#[test]
fn hostile_offsets_reversed() {
    let h = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}"#;
    let err = open_raw(h, &[1, 2]).unwrap_err();
    assert!(matches!(&err, Error::InvalidOffsets { reason, .. } if reason.contains("after end")));
}

#[test]
fn hostile_overlapping_offsets() {
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#;
    let err = open_raw(h, &[0; 6]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOffsets { name, reason, .. } if name == "b" && reason.contains("overlaps")),
        "{err}"
    );
}

#[test]
fn hostile_two_tensors_same_bytes() {
    // Aliasing: two names over the same span is also an overlap.
    let h = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
    let err = open_raw(h, &[0; 2]).unwrap_err();
    assert!(matches!(err, Error::InvalidOffsets { .. }), "{err}");
}

#[test]
fn hostile_gap_between_tensors() {
    let h = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}"#;
    let err = open_raw(h, &[0; 5]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOffsets { reason, .. } if reason.contains("unused")),
        "{err}"
    );
}

#[test]
fn hostile_shape_times_dtype_not_byte_length() {
    let h = r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
    let err = open_raw(h, &[0; 8]).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::SizeMismatch {
                expected: ExpectedBytes::Bytes(12),
                actual: 8,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hostile_shape_overflow() {
    let h = format!(
        r#"{{"a":{{"dtype":"F32","shape":[{m},{m}],"data_offsets":[0,4]}}}}"#,
        m = u32::MAX
    );
    let err = open_raw(&h, &[0; 4]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                expected: ExpectedBytes::Overflow,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hostile_sub_byte_dtype_fractional_bytes() {
    let h = r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
    let err = open_raw(h, &[0; 2]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                expected: ExpectedBytes::NotWholeBytes,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hostile_trailing_bytes_after_last_tensor() {
    let err = open_raw(GOOD, &[GOOD_DATA, &[0, 0]].concat()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::IncompleteData {
                covered: 11,
                data_len: 13,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn hostile_truncated_data() {
    let err = open_raw(GOOD, &GOOD_DATA[..10]).unwrap_err();
    assert!(matches!(err, Error::InvalidOffsets { .. }), "{err}");
}

// ---------- sharded ----------

const SHARD1: &str = r#"{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
const SHARD2: &str = r#"{"y":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#;

fn sharded_dir(index: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s1.safetensors", &raw(SHARD1, &[5, 6]));
    write(
        dir.path(),
        "s2.safetensors",
        &raw(SHARD2, &42i64.to_le_bytes()),
    );
    write(dir.path(), "model.safetensors.index.json", index.as_bytes());
    dir
}

const INDEX: &str =
    r#"{"metadata":{"total_size":10},"weight_map":{"x":"s1.safetensors","y":"s2.safetensors"}}"#;

#[test]
fn sharded_lookup_across_shards() {
    let dir = sharded_dir(INDEX);
    let w = Weights::open_dir(dir.path()).unwrap();
    assert!(matches!(w, Weights::Sharded(_)));
    assert_eq!(w.len(), 2);
    assert_eq!(w.tensor("x").unwrap().bytes, &[5, 6]);
    assert_eq!(w.tensor("y").unwrap().bytes, &42i64.to_le_bytes());
    assert_eq!(w.parameter_count(), 3);
    let per = w.bytes_per_dtype();
    assert_eq!((per[&Dtype::U8], per[&Dtype::I64]), (2, 8));
    assert_eq!(w.total_bytes(), 10);
    let Weights::Sharded(s) = &w else {
        unreachable!()
    };
    assert_eq!(s.index().total_size(), Some(10));
    assert!(s.shard_of("y").unwrap().path().ends_with("s2.safetensors"));
}

#[test]
fn single_file_weights_preferred_when_no_index() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "model.safetensors", &raw(GOOD, GOOD_DATA));
    let w = Weights::open_dir(dir.path()).unwrap();
    assert!(matches!(w, Weights::Single(_)));
    assert_eq!(w.parameter_count(), 5);
    assert_eq!(w.bytes_per_dtype()[&Dtype::F32], 8);
}

#[test]
fn hostile_index_names_missing_shard() {
    let dir = sharded_dir(r#"{"weight_map":{"x":"s1.safetensors","y":"s9.safetensors"}}"#);
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingShard { shard, .. } if shard == "s9.safetensors"),
        "{err}"
    );
    assert!(err.to_string().contains("s9.safetensors"));
}

#[test]
fn hostile_tensor_in_two_shard_headers() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s1.safetensors", &raw(SHARD1, &[5, 6]));
    write(dir.path(), "s2.safetensors", &raw(SHARD1, &[7, 8]));
    let idx = r#"{"weight_map":{"x":"s1.safetensors","z":"s2.safetensors"}}"#;
    let p = write(dir.path(), "model.safetensors.index.json", idx.as_bytes());
    let err = ShardedWeights::open(p).unwrap_err();
    assert!(
        matches!(&err, Error::TensorInTwoShards { name, .. } if name == "x"),
        "{err}"
    );
}

#[test]
fn hostile_index_lists_tensor_twice() {
    let dir = sharded_dir(
        r#"{"weight_map":{"x":"s1.safetensors","x":"s2.safetensors","y":"s2.safetensors"}}"#,
    );
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidIndex { reason, .. } if reason.contains("twice")),
        "{err}"
    );
}

#[test]
fn hostile_index_points_to_wrong_shard() {
    let dir = sharded_dir(r#"{"weight_map":{"x":"s2.safetensors","y":"s1.safetensors"}}"#);
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(matches!(err, Error::IndexMismatch { .. }), "{err}");
}

#[test]
fn hostile_index_lists_tensor_no_shard_has() {
    let dir = sharded_dir(
        r#"{"weight_map":{"x":"s1.safetensors","y":"s2.safetensors","ghost":"s2.safetensors"}}"#,
    );
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::IndexMismatch { name, .. } if name == "ghost"),
        "{err}"
    );
}

#[test]
fn hostile_shard_has_tensor_index_does_not_list() {
    let dir = sharded_dir(r#"{"weight_map":{"x":"s1.safetensors"}}"#);
    // s2 is not named by the index, so it is not opened: only listed shards count.
    let w = Weights::open_dir(dir.path()).unwrap();
    assert_eq!(w.len(), 1);
    // But an unlisted tensor inside a listed shard is an inconsistency.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s1.safetensors", &raw(GOOD, GOOD_DATA));
    let p = write(
        dir.path(),
        "i.json",
        br#"{"weight_map":{"a":"s1.safetensors"}}"#,
    );
    let err = ShardedWeights::open(p).unwrap_err();
    assert!(
        matches!(&err, Error::IndexMismatch { name, .. } if name == "b"),
        "{err}"
    );
}

#[test]
fn hostile_shard_name_with_dotdot() {
    let dir = sharded_dir(r#"{"weight_map":{"x":"../s1.safetensors"}}"#);
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(matches!(&err, Error::UnsafeShardName { shard, .. } if shard == "../s1.safetensors"));
}

#[test]
fn hostile_shard_name_absolute() {
    let dir = sharded_dir(r#"{"weight_map":{"x":"/etc/passwd"}}"#);
    assert!(matches!(
        Weights::open_dir(dir.path()).unwrap_err(),
        Error::UnsafeShardName { .. }
    ));
}

#[test]
fn hostile_shard_name_backslash_or_dot_component() {
    for bad in [
        r"..\\s1.safetensors",
        "./s1.safetensors",
        "a//s1.safetensors",
        "",
    ] {
        let idx = format!(r#"{{"weight_map":{{"x":"{bad}"}}}}"#);
        let dir = sharded_dir(&idx);
        let err = Weights::open_dir(dir.path()).unwrap_err();
        assert!(matches!(err, Error::UnsafeShardName { .. }), "{bad}: {err}");
    }
}

#[test]
fn hostile_index_without_weight_map() {
    let dir = sharded_dir(r#"{"metadata":{}}"#);
    assert!(matches!(
        Weights::open_dir(dir.path()).unwrap_err(),
        Error::InvalidIndex { .. }
    ));
}

#[test]
fn hostile_index_invalid_json() {
    let dir = sharded_dir("{\"weight_map\": {");
    assert!(matches!(
        Weights::open_dir(dir.path()).unwrap_err(),
        Error::InvalidIndex { .. }
    ));
}

#[test]
fn hostile_index_shard_name_not_string() {
    let dir = sharded_dir(r#"{"weight_map":{"x":1}}"#);
    assert!(matches!(
        Weights::open_dir(dir.path()).unwrap_err(),
        Error::InvalidIndex { .. }
    ));
}

#[test]
fn hostile_corrupt_shard_error_names_the_shard() {
    let dir = sharded_dir(INDEX);
    write(dir.path(), "s2.safetensors", &[9, 9, 9]);
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(matches!(&err, Error::HeaderTooSmall { path, .. } if path.ends_with("s2.safetensors")));
}

#[test]
fn only_pickle_weights_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pytorch_model.bin", b"not loaded");
    let err = Weights::open_dir(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NoWeights { .. }));
    assert!(err.to_string().contains("pytorch_model.bin"), "{err}");
}
