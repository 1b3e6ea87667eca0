//! Any byte string as config.json (typed fields, family resolution) and as a dataset card's
//! YAML front matter: never a panic.
#![no_main]

use std::path::Path;

use csghub_reader::ModelConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = serde_json::from_slice::<ModelConfig>(data) {
        let _ = config.resolve();
        let _ = config.dims();
        let _ = config.text_config();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let card = format!("---\n{text}\n---\n");
        let _ = csghub_reader::datasets::parse_card_configs(&card, Path::new("README.md"));
    }
});
