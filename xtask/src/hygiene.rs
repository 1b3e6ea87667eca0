//! Cheap CI checks of what users of the library crates get: `default-features = false` really
//! leaves out the HTTP stack, and the API docs build without warnings.

use std::path::Path;
use std::process::{Command, Stdio};

/// Crates that must build without any HTTP client or server with `--no-default-features`.
const NO_HTTP_CRATES: &[&str] = &["csghub-cache", "csghub-reader"];

/// Dependency names that mean "an HTTP stack came in".
const HTTP_STACK: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "rustls",
    "native-tls",
];

/// `cargo tree -e normal --no-default-features` of each [`NO_HTTP_CRATES`] has no
/// [`HTTP_STACK`] crate, and csghub-reader compiles that way.
pub fn no_http_stack(root: &Path) -> Result<(), String> {
    for krate in NO_HTTP_CRATES {
        let mut cmd = crate::cargo();
        cmd.current_dir(root).args([
            "tree",
            "-p",
            krate,
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ]);
        eprintln!("xtask: running {cmd:?}");
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo tree: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo tree -p {krate} failed with {}", out.status));
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        let found = http_crates_in(&tree);
        if !found.is_empty() {
            return Err(format!(
                "{krate} with default-features = false depends on {}: it must have no HTTP stack \
                 (see `cargo tree -p {krate} --no-default-features -e normal -i <crate>`)",
                found.join(", ")
            ));
        }
    }
    crate::run(crate::cargo().current_dir(root).args([
        "check",
        "-p",
        "csghub-reader",
        "--no-default-features",
    ]))
}

/// The HTTP-stack crate names in `cargo tree --prefix none --format {p}` output.
fn http_crates_in(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| HTTP_STACK.contains(name))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `cargo doc --no-deps --workspace` with `RUSTDOCFLAGS=-D warnings` (broken intra-doc links,
/// bad code blocks, missing docs on the public API).
pub fn docs(root: &Path) -> Result<(), String> {
    crate::run(
        Command::new(crate::cargo().get_program())
            .current_dir(root)
            .args(["doc", "--no-deps", "--workspace"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_http_crates_by_exact_name() {
        let tree = "csghub-reader v0.1.0 (/w/crates/csghub-reader)\nhyper v1.8.1\n\
                    hyperlocal-ish v0.1.0\nreqwest v0.13.1 (*)\nserde v1.0.228\n";
        assert_eq!(http_crates_in(tree), vec!["hyper", "reqwest"]);
        assert!(http_crates_in("csghub-cache v0.1.0\nsha2 v0.10.9\n").is_empty());
    }
}
