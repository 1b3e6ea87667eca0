//! `cargo xtask demo`: the main job against an embedded default. A local hub with the demo seed
//! (a tiny Llama-shaped model in sharded safetensors with tokenizer.json), then the real
//! `csghub-cli download` (with progress) and `csghub-cli model inspect` against it.

use std::path::Path;
use std::process::Command;

use csghub_localhub::{HubConfig, LocalHub, seed};

pub fn run(root: &Path) -> Result<(), String> {
    crate::run(crate::cargo().current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "csghub-cli",
        "--bin",
        "csghub-cli",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from);
    let cli = target.join("debug").join("csghub-cli");
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let rt = crate::runtime()?;
    let hub = rt
        .block_on(LocalHub::start(HubConfig::new(&dir.path().join("hub"))))
        .map_err(|e| e.to_string())?;
    seed::demo(&hub).map_err(|e| e.to_string())?;
    println!("local CSGHub with the demo seed at {}\n", hub.url());
    let cache = dir.path().join("cache");
    let csghub = |args: &[&str]| {
        let mut cmd = Command::new(&cli);
        cmd.args(args)
            .env("CSGHUB_CACHE", &cache)
            .env("CSGHUB_DOMAIN", hub.url())
            .env_remove("CSGHUB_TOKEN");
        println!("$ csghub-cli {}", args.join(" "));
        crate::run_quiet(&mut cmd)
    };
    csghub(&["download", "OpenCSG/demo-model"])?;
    println!();
    csghub(&["model", "inspect", "OpenCSG/demo-model"])?;
    println!();
    csghub(&["repo", "files", "OpenCSG/demo-model"])?;
    Ok(())
}
