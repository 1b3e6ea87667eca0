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

fn spec() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/csghub-server.swagger.json"
    ))
    .unwrap()
}

#[test]
fn overrides_change_the_output_and_stale_ones_are_refused() {
    let plain = generator::generate(
        &spec(),
        "dto RepoFileTree types.GetRepoFileTreeResp\ndto File types.File",
    )
    .unwrap();
    assert!(!plain.contains("rename = \"Files\""));
    let fixed = generator::generate(
        &spec(),
        "dto RepoFileTree types.GetRepoFileTreeResp\ndto File types.File\nrename RepoFileTree.files Files",
    )
    .unwrap();
    assert!(fixed.contains("#[serde(rename = \"Files\", deserialize_with = \"null_default\")]\n    pub files: Vec<File>,"));
    // An override for a key the spec does not have (fixed upstream, or a typo) is an error.
    let err =
        generator::generate(&spec(), "dto File types.File\nrename File.nope Nope").unwrap_err();
    assert!(err.contains("no field `nope`"), "{err}");
    let err = generator::generate(&spec(), "dto X types.DoesNotExist").unwrap_err();
    assert!(err.contains("no definition"), "{err}");
    let err =
        generator::generate(&spec(), "dto File types.File\nfield File.x Unknown").unwrap_err();
    assert!(err.contains("unknown type"), "{err}");
    assert!(generator::generate("{not json", "").is_err());
}
