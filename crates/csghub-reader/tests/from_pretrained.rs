//! `from_pretrained("ns/name")` against the local hub: online it downloads only what loading
//! needs, pinned to one commit; then offline, with the hub gone, it resolves from the cache.
#![cfg(feature = "download")]

use csghub_localhub::{HubConfig, LocalHub, seed};
use csghub_reader::{ModelRepo, Task};

#[test]
fn from_pretrained_online_then_offline() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let hub_dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let hub = rt
        .block_on(LocalHub::start(HubConfig::new(hub_dir.path())))
        .unwrap();
    seed::demo(&hub).unwrap();
    // An extra file the loader must not fetch unless asked.
    seed::repo_with_files(
        &hub,
        csghub_localhub::RepoType::Model,
        "OpenCSG/demo-model",
        false,
        vec![("pytorch_model.bin".into(), vec![0u8; 4096])],
        "add a pickle file",
    )
    .unwrap();
    let url = hub.url().to_string();

    let model = ModelRepo::builder("OpenCSG/demo-model")
        .endpoint(&url)
        .cache_dir(cache.path())
        .load()
        .unwrap();
    assert_eq!(model.config().model_type.as_deref(), Some("llama"));
    assert_eq!(model.config().resolve().unwrap().task, Task::CausalLM);
    let weights = model.weights().unwrap();
    assert!(weights.parameter_count() > 0);
    assert!(model.tokenizer_files().tokenizer_json.is_some());
    let fetched: Vec<String> = hub
        .faults()
        .log()
        .iter()
        .filter(|e| e.route == "resolve")
        .map(|e| e.path.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    assert!(!fetched.iter().any(|f| f.ends_with(".bin")), "{fetched:?}");
    assert!(
        fetched.iter().any(|f| f.ends_with(".safetensors")),
        "{fetched:?}"
    );
    assert!(
        !fetched.iter().any(|f| f == "README.md"),
        "only what loading needs: {fetched:?}"
    );
    let params = weights.parameter_count();
    drop(weights);
    drop(model);

    // The hub is gone: offline resolution from the cache alone.
    drop(hub);
    let offline = ModelRepo::builder("OpenCSG/demo-model")
        .cache_dir(cache.path())
        .offline(true)
        .load()
        .unwrap();
    assert_eq!(offline.weights().unwrap().parameter_count(), params);
}
