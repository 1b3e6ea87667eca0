//! Fails when `src/generated.rs` is not what the generator makes of the committed spec and
//! overrides. Fix: run `cargo xtask codegen`.

#[path = "../codegen/gen.rs"]
#[allow(dead_code)]
mod generator;

#[test]
fn generated_dtos_are_fresh() {
    let root = env!("CARGO_MANIFEST_DIR");
    let spec = std::fs::read_to_string(format!("{root}/spec/csghub-server.swagger.json")).unwrap();
    let overrides = std::fs::read_to_string(format!("{root}/codegen/overrides.txt")).unwrap();
    let expected = generator::generate(&spec, &overrides).unwrap();
    let committed = std::fs::read_to_string(format!("{root}/src/generated.rs")).unwrap_or_default();
    assert!(
        committed == expected,
        "crates/csghub-api/src/generated.rs is stale: run `cargo xtask codegen` and commit it"
    );
}
