//! Any byte string as `model.safetensors.index.json`: never a panic, and an accepted index
//! only names shards that stay inside the model directory.
#![no_main]

use std::path::{Component, Path};

use csghub_reader::WeightIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(index) = WeightIndex::from_slice(data, "fuzz-index.json") else {
        return;
    };
    for shard in index.shard_names() {
        assert!(!shard.is_empty());
        assert!(
            Path::new(shard)
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "unsafe shard name accepted: {shard:?}"
        );
    }
    let _ = index.total_size();
});
