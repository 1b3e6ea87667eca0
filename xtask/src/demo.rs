//! `cargo xtask demo`: a local hub seeded with the demo repos, and the main job against it.
//!
//! Until `csghub-cli download` lands, the job lists what the hub serves: the demo model's files
//! pinned to a commit, and one repo of every type.

use std::time::Duration;

use csghub_localhub::{HubConfig, LocalHub, seed};

pub fn run() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("csghub-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = crate::runtime()?.block_on(job(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn job(dir: &std::path::Path) -> Result<(), String> {
    let hub = LocalHub::start(HubConfig::new(dir))
        .await
        .map_err(|e| e.to_string())?;
    seed::demo(&hub).map_err(|e| e.to_string())?;
    println!("local hub with the demo seed at {}", hub.url());
    // reqwest is built without a default TLS provider; plain http needs none, but the builder
    // wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let get = |url: String| {
        let http = http.clone();
        async move {
            let resp = http
                .get(&url)
                .bearer_auth(seed::ALICE_TOKEN)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            let status = resp.status();
            let body: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| format!("GET {url}: bad JSON: {e}"))?;
            if !status.is_success() {
                return Err(format!("GET {url}: {status}: {body}"));
            }
            Ok::<_, String>(body)
        }
    };
    let info = get(format!(
        "{}/hf/api/models/OpenCSG/demo-model/revision/main?blobs=true",
        hub.url()
    ))
    .await?;
    println!(
        "\nOpenCSG/demo-model at main = commit {}",
        info["sha"].as_str().unwrap_or("?")
    );
    println!("{:<28} {:>10}  {:<4}  blob", "file", "bytes", "lfs");
    for s in info["siblings"].as_array().into_iter().flatten() {
        println!(
            "{:<28} {:>10}  {:<4}  {}",
            s["rfilename"].as_str().unwrap_or("?"),
            s["size"].as_u64().unwrap_or(0),
            if s.get("lfs").is_some() { "yes" } else { "no" },
            s["blobId"].as_str().unwrap_or("?"),
        );
    }
    println!("\nrepos of OpenCSG by type:");
    for t in ["models", "datasets", "spaces", "codes", "mcps", "skills"] {
        let list = get(format!("{}/api/v1/organization/OpenCSG/{t}", hub.url())).await?;
        // Two of the three paged envelopes (§3.1): flat `data` or nested `data.data`.
        let items = list["data"]
            .as_array()
            .or_else(|| list["data"]["data"].as_array())
            .cloned()
            .unwrap_or_default();
        let names: Vec<&str> = items.iter().filter_map(|r| r["path"].as_str()).collect();
        println!("  {t:<9} {}", names.join(", "));
    }
    Ok(())
}
