//! Manual run of the reader benchmark until `cargo xtask bench reader` is wired:
//! `cargo run --release -p csghub-reader --example bench_reader -- DIR [PYTHON]`.
//! Writes a 1 GiB, 4-shard model into DIR if it has no index yet, then times open+index and
//! viewing every tensor (best of 20), and the same work in Python's safetensors if PYTHON is given.

use std::path::PathBuf;
use std::process::Command;

use csghub_reader::bench::{PYTHON_SAFE_OPEN_SCRIPT, open_index_and_view};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: bench_reader DIR [PYTHON]")?);
    let python = args.next();
    if !dir.join("model.safetensors.index.json").is_file() {
        csghub_reader::demo::write_synthetic_model(&dir, 1 << 30, 4)?;
    }
    let runs: Vec<_> = (0..20)
        .map(|_| open_index_and_view(&dir))
        .collect::<Result<_, _>>()?;
    let best = runs
        .iter()
        .min_by_key(|r| r.open_and_index)
        .ok_or("no runs")?;
    let best_view = runs.iter().map(|r| r.view_all).min().ok_or("no runs")?;
    println!(
        "rust: open+index {:?}, view all {:?} ({} tensors, {} bytes)",
        best.open_and_index, best_view, best.tensors, best.bytes
    );
    if let Some(py) = python {
        let mut best_py = f64::MAX;
        for _ in 0..5 {
            let out = Command::new(&py)
                .arg("-c")
                .arg(PYTHON_SAFE_OPEN_SCRIPT)
                .arg(&dir)
                .output()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            best_py = best_py.min(v["open_and_index_s"].as_f64().ok_or("bad python output")?);
        }
        let rust_s = best.open_and_index.as_secs_f64();
        println!(
            "python safe_open: open+index {:.3} ms; python/rust = {:.1}x",
            best_py * 1e3,
            best_py / rust_s
        );
    }
    Ok(())
}
