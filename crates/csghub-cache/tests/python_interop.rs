//! huggingface_hub (Python) reads a cache written by this crate, offline. Needs `CSGHUB_TEST_PYTHON`
//! (a python with huggingface_hub); skipped without it unless `CI` is set.

mod common;

use std::process::Command;

use common::*;
use csghub_cache::{CacheDir, RepoPath, RepoType};

fn python() -> Option<String> {
    match std::env::var("CSGHUB_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CSGHUB_TEST_PYTHON must point at a python with huggingface_hub when CI is set")
        }
        _ => {
            println!("skipped: CSGHUB_TEST_PYTHON is not set");
            None
        }
    }
}

const SCRIPT: &str = r#"
import json, os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download, try_to_load_from_cache
from huggingface_hub.file_download import _CACHED_NO_EXIST
root = sys.argv[1]
out = {}
p = hf_hub_download("ns/m", "sub/w.bin", revision="main", cache_dir=root)
out["content"] = open(p, "rb").read().decode()
out["tag_content"] = open(hf_hub_download("ns/m", "config.json", revision="v1", cache_dir=root), "rb").read().decode()
out["no_exist"] = try_to_load_from_cache("ns/m", "gone.json", cache_dir=root, revision="main") is _CACHED_NO_EXIST
snap = snapshot_download("ns/m", revision="main", cache_dir=root)
out["snapshot_files"] = sorted(os.path.relpath(os.path.join(d, f), snap) for d, _, fs in os.walk(snap) for f in fs)
ds = hf_hub_download("ns/d", "data.csv", repo_type="dataset", revision="main", cache_dir=root)
out["dataset"] = open(ds, "rb").read().decode()
info = scan_cache_dir(root)
out["warnings"] = [str(w) for w in info.warnings]
out["repos"] = sorted((r.repo_type, r.repo_id, r.size_on_disk, sorted(r.refs)) for r in info.repos)
print(json.dumps(out))
"#;

#[test]
fn huggingface_hub_reads_our_cache_offline() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = CacheDir::new(tmp.path());
    let r = repo(&cache, RepoType::Model, "ns/m");
    put(&r, C1, "config.json", b"{}");
    put(&r, C1, "sub/w.bin", b"weights");
    r.write_tree(
        C1,
        &tree_of(&[("config.json", b"{}"), ("sub/w.bin", b"weights")]),
    )
    .unwrap();
    r.write_ref("main", C1).unwrap();
    r.write_ref("v1", C1).unwrap();
    r.mark_missing(C1, &RepoPath::new("gone.json").unwrap())
        .unwrap();
    let d = repo(&cache, RepoType::Dataset, "ns/d");
    put(&d, C2, "data.csv", b"a,b\n");
    d.write_ref("main", C2).unwrap();

    let out = Command::new(&py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["content"], "weights");
    assert_eq!(v["tag_content"], "{}");
    assert_eq!(v["no_exist"], true);
    assert_eq!(
        v["snapshot_files"],
        serde_json::json!(["config.json", "sub/w.bin"])
    );
    assert_eq!(v["dataset"], "a,b\n");
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(
        v["repos"],
        serde_json::json!([
            ["dataset", "ns/d", 4, ["main"]],
            ["model", "ns/m", 9, ["main", "v1"]]
        ])
    );
}
