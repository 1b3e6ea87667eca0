//! Shared helpers for the end-to-end tests in `tests/e2e/tests/`: starting a seeded local hub
//! and finding the Python interpreter of the interop venv.

use std::path::{Path, PathBuf};

use csghub_localhub::{HubConfig, LocalHub};

/// A local hub in a temp dir, seeded by name; the dir lives as long as the value.
pub struct TestHub {
    /// The running hub.
    pub hub: LocalHub,
    /// Its storage (removed on drop).
    pub dir: tempfile::TempDir,
}

impl TestHub {
    /// Start a hub on 127.0.0.1 with `seed` applied.
    pub async fn start(seed: &str) -> TestHub {
        let dir = tempfile::tempdir().expect("temp dir for the hub");
        let hub = LocalHub::start(HubConfig::new(dir.path()))
            .await
            .expect("local hub starts");
        csghub_localhub::seed::by_name(&hub, seed).expect("seed applies");
        TestHub { hub, dir }
    }
}

/// The Python of the interop venv (`CSGHUB_TEST_PYTHON`, set by `cargo xtask test`).
///
/// `None` (the test should return) when it is unset outside CI; under CI (`CI` set) a missing
/// interpreter fails the test, so CI can never skip the interop tests silently.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("CSGHUB_TEST_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CSGHUB_TEST_PYTHON is not set under CI: run the tests with `cargo xtask test`")
        }
        _ => {
            eprintln!(
                "skipped: set CSGHUB_TEST_PYTHON (or run `cargo xtask test`) for Python interop tests"
            );
            None
        }
    }
}

/// `tests/python/<name>` in the workspace.
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("python")
        .join(name)
}

/// Every regular file below `dir` (following symlinks), as sorted relative paths with `/`.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if p.is_file()
                && let Ok(rel) = p.strip_prefix(base)
            {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
