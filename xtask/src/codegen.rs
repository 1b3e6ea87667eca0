//! `cargo xtask codegen [--check]`: regenerate csghub-api's DTO module from the swagger spec.
//!
//! The generator itself lives in `crates/csghub-api/codegen/gen.rs` so that csghub-api's own
//! staleness test runs exactly the same code.

use std::path::Path;

#[path = "../../crates/csghub-api/codegen/gen.rs"]
mod generator;

/// Spec, overrides and output, relative to the workspace root.
const SPEC: &str = "crates/csghub-api/spec/csghub-server.swagger.json";
const OVERRIDES: &str = "crates/csghub-api/codegen/overrides.txt";
const OUTPUT: &str = "crates/csghub-api/src/generated.rs";

/// Regenerates `crates/csghub-api/src/generated.rs`; with `check`, only reports whether the
/// committed file is up to date (error when it is not).
pub fn run(workspace_root: &Path, check: bool) -> Result<(), String> {
    let read = |rel: &str| {
        std::fs::read_to_string(workspace_root.join(rel))
            .map_err(|e| format!("cannot read {}: {e}", workspace_root.join(rel).display()))
    };
    let generated = generator::generate(&read(SPEC)?, &read(OVERRIDES)?)?;
    let out = workspace_root.join(OUTPUT);
    let current = std::fs::read_to_string(&out).unwrap_or_default();
    if current == generated {
        return Ok(());
    }
    if check {
        return Err(format!(
            "{} is stale: run `cargo xtask codegen` and commit the result",
            out.display()
        ));
    }
    // Atomic replace: temp file in the same directory, then rename.
    let tmp = out.with_extension("rs.tmp");
    std::fs::write(&tmp, generated).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &out).map_err(|e| format!("cannot replace {}: {e}", out.display()))?;
    Ok(())
}
