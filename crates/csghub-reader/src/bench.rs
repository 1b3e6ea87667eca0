//! The work `cargo xtask bench reader` measures, callable from the xtask.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::weights::Weights;

/// Timings of [`open_index_and_view`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchReport {
    /// Time to open the index, map and validate every shard, and build the name lookup.
    pub open_and_index: Duration,
    /// Time to look every tensor up by name and take its zero-copy view.
    pub view_all: Duration,
    /// Tensors viewed.
    pub tensors: usize,
    /// Bytes covered by the views.
    pub bytes: u64,
}

/// Open the weights in `dir`, then look up every tensor by name and take its view (the same
/// work [`PYTHON_SAFE_OPEN_SCRIPT`] does with `safetensors.safe_open`).
pub fn open_index_and_view(dir: &Path) -> Result<BenchReport> {
    let start = Instant::now();
    let weights = Weights::open_dir(dir)?;
    let open_and_index = start.elapsed();
    let names: Vec<String> = weights.tensors().map(|t| t.name.to_owned()).collect();
    let start = Instant::now();
    let mut bytes = 0u64;
    for name in &names {
        if let Some(view) = weights.tensor(black_box(name)) {
            bytes += black_box(view.bytes).len() as u64;
        }
    }
    let view_all = start.elapsed();
    Ok(BenchReport {
        open_and_index,
        view_all,
        tensors: names.len(),
        bytes,
    })
}

/// Python doing the same work with `safetensors.safe_open` (lazy slices, no copies), best of 10
/// after a warm-up. Run as `python -c SCRIPT <model dir>`; prints `{"open_and_index_s": .., "view_all_s": .., "tensors": ..}`.
pub const PYTHON_SAFE_OPEN_SCRIPT: &str = r#"
import json, os, sys, time
import numpy  # imported up front so the timing does not include it
from safetensors import safe_open
d = sys.argv[1]

def run():
    t0 = time.perf_counter()
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        wm = json.load(f)["weight_map"]
    handles = {s: safe_open(os.path.join(d, s), framework="numpy") for s in sorted(set(wm.values()))}
    lookup = {n: handles[s] for n, s in wm.items()}
    t1 = time.perf_counter()
    n = 0
    for name, h in lookup.items():
        n += len(h.get_slice(name).get_shape())
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(lookup)

run()  # warm-up: first-call imports and page cache
best = min(run() for _ in range(10))
print(json.dumps({"open_and_index_s": best[0], "view_all_s": best[1], "tensors": best[2]}))
"#;
