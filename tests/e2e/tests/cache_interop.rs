//! One cache for csghub-rs and huggingface_hub (HF-CACHE.md §8): the real huggingface_hub,
//! offline, finds every file csghub-rs downloaded from the local hub, and csghub-rs, offline,
//! finds every file huggingface_hub downloaded into the same layout.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use csghub_api::{Client, ClientConfig, RepoType};
use csghub_cache::CacheDir;
use csghub_e2e::{TestHub, python, python_script};
use csghub_localhub::seed;
use csghub_transfer::{DownloadConfig, Downloader, FileOutcome, NoProgress, Request};
use sha2::Digest as _;

fn expected() -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, Vec<u8>> = seed::interop_files().into_iter().collect();
    files.insert(
        ".gitattributes".into(),
        csghub_localhub::store::DEFAULT_GITATTRIBUTES
            .as_bytes()
            .to_vec(),
    );
    files
        .into_iter()
        .map(|(p, b)| (p, hex::encode(sha2::Sha256::digest(&b))))
        .collect()
}

fn run(python: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg(python_script("hf_cache_interop.py"))
        .args(args)
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn downloader(url: &str, cache: &std::path::Path, offline: bool) -> Downloader {
    let client = Client::new(ClientConfig::new(url).unwrap()).unwrap();
    let config = DownloadConfig {
        offline,
        ..DownloadConfig::default()
    };
    Downloader::new(client, CacheDir::new(cache), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huggingface_hub_reads_offline_what_csghub_rs_downloaded() {
    let Some(python) = python() else { return };
    let t = TestHub::start("interop").await;
    let cache = tempfile::tempdir().unwrap();
    let d = downloader(t.hub.url(), cache.path(), false);
    let req = Request::snapshot(
        RepoType::Model,
        seed::INTEROP_MODEL.parse().unwrap(),
        "main",
    );
    d.download(&req, Arc::new(NoProgress)).await.unwrap();

    let out = cache.path().join("result.json");
    let (py, c, o) = (python.clone(), cache.path().to_path_buf(), out.clone());
    tokio::task::spawn_blocking(move || {
        run(
            &py,
            &[
                "read",
                c.to_str().unwrap(),
                seed::INTEROP_MODEL,
                o.to_str().unwrap(),
            ],
        )
    })
    .await
    .unwrap();
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let got: BTreeMap<String, String> = serde_json::from_value(result["files"].clone()).unwrap();
    assert_eq!(got, expected());
    assert_eq!(
        result["warnings"],
        serde_json::json!([]),
        "scan_cache_dir warnings"
    );
    assert_eq!(result["repos"], serde_json::json!([seed::INTEROP_MODEL]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn csghub_rs_finds_offline_what_huggingface_hub_downloaded() {
    let Some(python) = python() else { return };
    let t = TestHub::start("interop").await;
    let cache = tempfile::tempdir().unwrap();
    let (py, url, c) = (
        python.clone(),
        t.hub.url().to_string(),
        cache.path().to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        run(
            &py,
            &["download", &url, c.to_str().unwrap(), seed::INTEROP_MODEL],
        )
    })
    .await
    .unwrap();
    t.hub.faults().clear_log();
    let d = downloader(t.hub.url(), cache.path(), true);
    let req = Request::snapshot(
        RepoType::Model,
        seed::INTEROP_MODEL.parse().unwrap(),
        "main",
    );
    let got = d.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert!(got.offline);
    assert!(got.files.iter().all(|(_, o)| *o == FileOutcome::Cached));
    let on_disk: BTreeMap<String, String> = got
        .files
        .iter()
        .map(|(p, _)| {
            let bytes = std::fs::read(got.path_of(p)).unwrap();
            (
                p.as_str().to_string(),
                hex::encode(sha2::Sha256::digest(&bytes)),
            )
        })
        .collect();
    assert_eq!(on_disk, expected());
    assert!(t.hub.faults().log().is_empty(), "offline made requests");
    // Online, the same cache is already complete: one listing request, nothing fetched.
    let online = downloader(t.hub.url(), cache.path(), false);
    let again = online.download(&req, Arc::new(NoProgress)).await.unwrap();
    assert!(again.files.iter().all(|(_, o)| *o == FileOutcome::Cached));
    assert_eq!(t.hub.faults().log().len(), 1);
}
