//! Interop with the real Python `safetensors` library (numpy API): files it writes are read
//! byte-identically, and it reads what the demo generator writes.
//!
//! Needs `CSGHUB_TEST_PYTHON` (a python with safetensors 0.8 and numpy); skipped without it,
//! except under `CI`, where a missing interpreter fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use csghub_reader::{SafetensorsFile, Weights};
use sha2::{Digest, Sha256};

fn python() -> Option<PathBuf> {
    match std::env::var_os("CSGHUB_TEST_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but CSGHUB_TEST_PYTHON is not: the Python interop tests must run in CI"
            )
        }
        _ => {
            println!("skipped: set CSGHUB_TEST_PYTHON to a python with safetensors+numpy to run");
            None
        }
    }
}

fn run(py: &Path, script: &str, arg: &Path) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const WRITE_SCRIPT: &str = r#"
import hashlib, json, os, sys
import numpy as np
from safetensors import TensorSpec, serialize_file
from safetensors.numpy import save_file

d = sys.argv[1]
rng = np.random.default_rng(1234)
names = {"float32": "F32", "float16": "F16", "int64": "I64", "uint8": "U8"}
manifest = {}

def entry(arr, dtype=None):
    return {"dtype": dtype or names[arr.dtype.name], "shape": list(arr.shape),
            "sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()}

single = {
    "w.f32": rng.standard_normal((3, 4)).astype(np.float32),
    "w.f16": rng.standard_normal((5,)).astype(np.float16),
    "ids.i64": np.array([[1, -2], [3, 2**62]], dtype=np.int64),
    "mask.u8": np.arange(7, dtype=np.uint8),
    "scalar": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
save_file(single, os.path.join(d, "single.safetensors"), metadata={"format": "np"})
manifest["single.safetensors"] = {k: entry(v) for k, v in single.items()}

# numpy has no bfloat16: hand the raw 16-bit words to the library as dtype "bfloat16".
bf = (rng.standard_normal((4, 6)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
serialize_file({"w.bf16": TensorSpec(dtype="bfloat16", shape=bf.shape, data_ptr=bf.ctypes.data,
                                     data_len=bf.nbytes)}, os.path.join(d, "bf16.safetensors"))
manifest["bf16.safetensors"] = {"w.bf16": entry(bf, "BF16")}

m = os.path.join(d, "sharded")
os.makedirs(m)
shards = {
    "model-00001-of-00002.safetensors": {"a.weight": rng.standard_normal((8, 8)).astype(np.float16),
                                         "a.bias": np.ones(8, dtype=np.float32)},
    "model-00002-of-00002.safetensors": {"b.weight": rng.integers(0, 255, (16,), dtype=np.uint8),
                                         "b.pos": np.arange(10, dtype=np.int64)},
}
weight_map, total, expect = {}, 0, {}
for fname, tensors in shards.items():
    save_file(tensors, os.path.join(m, fname), metadata={"format": "pt"})
    for k, v in tensors.items():
        weight_map[k] = fname
        total += v.nbytes
        expect[k] = entry(v)
with open(os.path.join(m, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
manifest["sharded"] = expect
print(json.dumps(manifest))
"#;

const READ_SCRIPT: &str = r#"
import hashlib, json, os, sys
from safetensors import safe_open
d = sys.argv[1]
with open(os.path.join(d, "model.safetensors.index.json")) as f:
    wm = json.load(f)["weight_map"]
out = {}
for name, shard in wm.items():
    with safe_open(os.path.join(d, shard), framework="numpy") as f:
        t = f.get_tensor(name)
        out[name] = {"shape": list(t.shape), "dtype": str(t.dtype),
                     "sha256": hashlib.sha256(t.tobytes()).hexdigest()}
print(json.dumps(out))
"#;

type Manifest = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

fn check(name: &str, got: csghub_reader::TensorView<'_>, want: &serde_json::Value) {
    assert_eq!(
        got.dtype.to_string(),
        want["dtype"].as_str().unwrap(),
        "{name} dtype"
    );
    let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
    assert_eq!(got.shape, shape.as_slice(), "{name} shape");
    assert_eq!(
        hex::encode(Sha256::digest(got.bytes)),
        want["sha256"].as_str().unwrap(),
        "{name} bytes differ from what numpy wrote"
    );
}

#[test]
fn reads_files_written_by_python_safetensors_byte_identically() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let manifest: Manifest = serde_json::from_str(&run(&py, WRITE_SCRIPT, dir.path())).unwrap();

    for file in ["single.safetensors", "bf16.safetensors"] {
        let f = SafetensorsFile::open(dir.path().join(file)).unwrap();
        let want = &manifest[file];
        assert_eq!(f.len(), want.len(), "{file}");
        for (name, w) in want {
            check(name, f.tensor(name).unwrap(), w);
        }
    }
    let single = SafetensorsFile::open(dir.path().join("single.safetensors")).unwrap();
    assert_eq!(single.metadata().unwrap()["format"], "np");

    let w = Weights::open_dir(dir.path().join("sharded")).unwrap();
    let want = &manifest["sharded"];
    assert_eq!(w.len(), want.len());
    for (name, v) in want {
        check(name, w.tensor(name).unwrap(), v);
    }
    let Weights::Sharded(s) = &w else {
        panic!("expected sharded")
    };
    assert_eq!(s.index().total_size(), Some(w.total_bytes()));
}

#[test]
fn python_safetensors_reads_the_demo_model() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    csghub_reader::demo::write_demo_llama(dir.path()).unwrap();
    let theirs: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&run(&py, READ_SCRIPT, dir.path())).unwrap();
    let w = Weights::open_dir(dir.path()).unwrap();
    assert_eq!(theirs.len(), w.len());
    for t in w.tensors() {
        let v = &theirs[t.name];
        assert_eq!(v["dtype"], "float32");
        let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
        assert_eq!(t.shape, shape.as_slice());
        assert_eq!(
            hex::encode(Sha256::digest(t.bytes)),
            v["sha256"].as_str().unwrap()
        );
    }
}
