//! The local hub speaks the real protocol: the Python clients written against the real CSGHub
//! server (pycsghub 0.9.3 with its default `/csg` routes, huggingface_hub 2.4 with
//! `HF_ENDPOINT=<hub>/hf`) download the seeded interop repo byte for byte.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use csghub_e2e::{TestHub, files_below, python, python_script};
use csghub_localhub::seed;

fn expected() -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = seed::interop_files().into_iter().collect();
    files.insert(
        ".gitattributes".into(),
        csghub_localhub::store::DEFAULT_GITATTRIBUTES
            .as_bytes()
            .to_vec(),
    );
    files
}

fn assert_same_tree(dir: &Path, want: &BTreeMap<String, Vec<u8>>, who: &str) {
    let got: Vec<String> = files_below(dir)
        .into_iter()
        // Client bookkeeping, not repo content.
        .filter(|p| !p.starts_with(".cache/"))
        .collect();
    let want_names: Vec<String> = want.keys().cloned().collect();
    assert_eq!(
        got,
        want_names,
        "{who}: file list differs in {}",
        dir.display()
    );
    for (path, bytes) in want {
        let on_disk = std::fs::read(dir.join(path)).expect("downloaded file readable");
        assert!(
            on_disk == *bytes,
            "{who}: {path} differs ({} bytes on disk, {} expected)",
            on_disk.len(),
            bytes.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pycsghub_and_huggingface_hub_download_the_seeded_repo_byte_identically() {
    let Some(python) = python() else { return };
    let t = TestHub::start("interop").await;
    let out = tempfile::tempdir().unwrap();
    let script = python_script("download_interop.py");
    let endpoint = t.hub.url().to_string();
    let out_path = out.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([endpoint.as_str(), seed::ALICE_TOKEN, seed::INTEROP_MODEL])
            .arg(&out_path)
            .env_remove("HF_TOKEN")
            .env_remove("CSGHUB_TOKEN")
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python clients failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let dirs: serde_json::Value = serde_json::from_str(line).expect("script prints JSON");
    let want = expected();
    assert!(want.len() > 120, "seed has 100+ small files");
    assert_same_tree(
        Path::new(dirs["pycsghub"].as_str().unwrap()),
        &want,
        "pycsghub",
    );
    assert_same_tree(
        Path::new(dirs["hf"].as_str().unwrap()),
        &want,
        "huggingface_hub",
    );

    let log = t.hub.faults().log();
    // LFS files were served through the 302 to the second origin, without the token.
    let object_gets: Vec<_> = log.iter().filter(|e| e.listener == "objects").collect();
    assert!(
        object_gets.len() >= 4,
        "both clients fetched both LFS files from the object store: {object_gets:?}"
    );
    assert!(
        object_gets.iter().all(|e| !e.authorized && e.status < 300),
        "no Authorization reached the object store: {object_gets:?}"
    );
    // Both route families were used, and the token was sent to the hub itself.
    assert!(
        log.iter()
            .any(|e| e.path.starts_with("/csg/") && e.authorized)
    );
    assert!(
        log.iter()
            .any(|e| e.path.starts_with("/hf/") && e.authorized)
    );
    // Nothing answered with a server error.
    let errors: Vec<_> = log.iter().filter(|e| e.status >= 500).collect();
    assert!(errors.is_empty(), "server errors: {errors:?}");
}
