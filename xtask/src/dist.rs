//! `cargo xtask dist`: the release archive of `csghub-cli` for the host target.
//!
//! Builds `csghub-cli` with the `release` profile (LTO, one codegen unit, stripped), checks that
//! the binary needs no shared library beyond the C runtime (rustls, no OpenSSL), packs it with the
//! README and LICENSE into `<target>/dist/csghub-cli-<version>-<host>.tar.gz`, writes the
//! archive's `.sha256` (in `sha256sum` format) and proves the archive works by extracting it to a
//! temp dir and running `--version` there with an empty environment (no cargo, no rustup).
//!
//! Also home of [`cli_startup_and_size`], the `--version` startup / binary size part of
//! `cargo xtask bench`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Shared libraries a Linux binary may need: the C runtime and the dynamic loader, nothing a
/// user would have to install.
const ALLOWED_SHARED_LIBS: &[&str] = &[
    "linux-vdso.so",
    "linux-gate.so",
    "libc.so",
    "libm.so",
    "libgcc_s.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "ld-linux",
    "ld-musl",
    "libc.musl",
];

/// What `dist` produced.
pub struct Dist {
    /// The binary inside `target/release/`.
    pub binary: PathBuf,
    /// `target/dist/csghub-cli-<version>-<host>.tar.gz`.
    pub archive: PathBuf,
    /// `<archive>.sha256`.
    pub checksum: PathBuf,
}

/// `cargo xtask dist`.
pub fn run(root: &Path) -> Result<(), String> {
    let dist = build(root)?;
    let size = file_size(&dist.binary)?;
    let archive_size = file_size(&dist.archive)?;
    println!(
        "csghub-cli binary: {} ({})",
        human_bytes(size),
        dist.binary.display()
    );
    println!(
        "archive: {} ({})",
        dist.archive.display(),
        human_bytes(archive_size)
    );
    println!("checksum: {}", dist.checksum.display());
    Ok(())
}

/// Build the release binary, check it, pack and verify the archive.
pub fn build(root: &Path) -> Result<Dist, String> {
    let meta = Metadata::load(root)?;
    let version = meta.package_version("csghub-cli")?;
    let host = host_triple()?;
    let binary = release_binary(root, &meta)?;
    check_shared_libs(&binary)?;

    let dist_dir = meta.target_dir.join("dist");
    std::fs::create_dir_all(&dist_dir)
        .map_err(|e| format!("cannot create {}: {e}", dist_dir.display()))?;
    let stem = format!("csghub-cli-{version}-{host}");
    let archive = dist_dir.join(format!("{stem}.tar.gz"));

    // Stage `<stem>/{csghub-cli,README.md,LICENSE}` so the archive unpacks into one folder.
    let staging = tempfile::tempdir_in(&dist_dir)
        .map_err(|e| format!("cannot create a temp dir in {}: {e}", dist_dir.display()))?;
    let top = staging.path().join(&stem);
    std::fs::create_dir(&top).map_err(|e| format!("cannot create {}: {e}", top.display()))?;
    copy(&binary, &top.join(exe_name("csghub-cli")))?;
    copy(&root.join("README.md"), &top.join("README.md"))?;
    copy(&root.join("LICENSE"), &top.join("LICENSE"))?;

    // Written next to the final name and renamed, so a failed run leaves no half archive.
    let partial = dist_dir.join(format!("{stem}.tar.gz.incomplete"));
    crate::run(
        Command::new("tar")
            .arg("-czf")
            .arg(&partial)
            .arg("-C")
            .arg(staging.path())
            .arg(&stem),
    )?;
    rename(&partial, &archive)?;

    let digest = sha256_file(&archive)?;
    let checksum = dist_dir.join(format!("{stem}.tar.gz.sha256"));
    let line = format!("{digest}  {stem}.tar.gz\n");
    let partial = dist_dir.join(format!("{stem}.tar.gz.sha256.incomplete"));
    std::fs::write(&partial, line)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    rename(&partial, &checksum)?;

    smoke_test(&archive, &stem, &version)?;
    Ok(Dist {
        binary,
        archive,
        checksum,
    })
}

/// `cargo build --release -p csghub-cli` and the path of the binary.
fn release_binary(root: &Path, meta: &Metadata) -> Result<PathBuf, String> {
    crate::run(crate::cargo().current_dir(root).args([
        "build",
        "--release",
        "--locked",
        "-p",
        "csghub-cli",
        "--bin",
        "csghub-cli",
    ]))?;
    let binary = meta.target_dir.join("release").join(exe_name("csghub-cli"));
    if !binary.is_file() {
        return Err(format!(
            "the release build finished but {} is missing",
            binary.display()
        ));
    }
    Ok(binary)
}

/// Fail when the binary links a shared library a plain machine may not have (OpenSSL, ...).
fn check_shared_libs(binary: &Path) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        // ldd is Linux's; elsewhere the dependency graph (rustls, no native-tls) is the guarantee.
        return Ok(());
    }
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("cannot run ldd on {}: {e}", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // ldd says "not a dynamic executable" (exit 1) for a static binary: nothing to check.
        let err = String::from_utf8_lossy(&out.stderr);
        if text.contains("not a dynamic executable") || err.contains("not a dynamic executable") {
            return Ok(());
        }
        return Err(format!("ldd {} failed: {}", binary.display(), err.trim()));
    }
    let unexpected: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("statically linked"))
        .filter(|l| !ALLOWED_SHARED_LIBS.iter().any(|ok| l.contains(ok)))
        .collect();
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} needs shared libraries a user may not have:\n  {}\n\
             keep the HTTP stack on rustls (no native-tls/OpenSSL) and no C system libraries",
            binary.display(),
            unexpected.join("\n  ")
        ))
    }
}

/// Unpack the archive in a temp dir and run `csghub-cli --version` with an empty environment
/// (no cargo, no rustup on PATH, no HOME), as on a machine without Rust.
fn smoke_test(archive: &Path, stem: &str, version: &str) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    crate::run_quiet(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(tmp.path()),
    )?;
    let exe = tmp.path().join(stem).join(exe_name("csghub-cli"));
    for name in ["README.md", "LICENSE"] {
        if !tmp.path().join(stem).join(name).is_file() {
            return Err(format!("{} has no {stem}/{name}", archive.display()));
        }
    }
    let out = Command::new(&exe)
        .arg("--version")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the unpacked {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.contains(version) {
        return Err(format!(
            "the unpacked csghub-cli --version failed ({}): stdout {:?}, stderr {:?}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    eprintln!(
        "xtask: unpacked archive runs with an empty environment: {}",
        stdout.trim()
    );
    Ok(())
}

/// The `--version` startup time and binary size of the release (dist) build of csghub-cli, as a
/// printable report. For `cargo xtask bench`: builds like `dist` (nothing to do when `dist` ran).
// Until `cargo xtask bench` calls it (xtask/src/bench.rs belongs to the bench's owner).
pub fn cli_startup_and_size(root: &Path) -> Result<String, String> {
    const RUNS: usize = 50;
    let meta = Metadata::load(root)?;
    let binary = release_binary(root, &meta)?;
    let size = file_size(&binary)?;
    let ours = startup_times(&mut Command::new(&binary), RUNS)?;
    let mut report = format!(
        "csghub-cli (release: LTO, stripped)\n  binary size      {} ({size} bytes)\n  \
         `--version`      median {}, min {} over {RUNS} runs\n",
        human_bytes(size),
        ms(ours.median),
        ms(ours.min),
    );
    // pycsghub's csghub-cli from the test venv, when `cargo xtask test` created it: the ratio
    // is what to compare across machines.
    let py_cli = meta
        .target_dir
        .join("pyvenv")
        .join("bin")
        .join("csghub-cli");
    if py_cli.is_file() {
        const PY_RUNS: usize = 10;
        match startup_times(&mut Command::new(&py_cli), PY_RUNS) {
            Ok(py) => report.push_str(&format!(
                "  pycsghub `csghub-cli --version`: median {} over {PY_RUNS} runs ({:.0}x slower)\n",
                ms(py.median),
                py.median.as_secs_f64() / ours.median.as_secs_f64().max(1e-9)
            )),
            Err(e) => report.push_str(&format!("  pycsghub csghub-cli: not measured ({e})\n")),
        }
    } else {
        report.push_str(
            "  pycsghub csghub-cli: not measured (no target/pyvenv; `cargo xtask test` creates it)\n",
        );
    }
    Ok(report)
}

struct Times {
    median: Duration,
    min: Duration,
}

/// Run `cmd --version` `runs` times (after one warm-up) and return the median and minimum.
fn startup_times(cmd: &mut Command, runs: usize) -> Result<Times, String> {
    cmd.arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut times = Vec::with_capacity(runs);
    for i in 0..=runs {
        let start = Instant::now();
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        let took = start.elapsed();
        if !status.success() {
            return Err(format!("{cmd:?} failed with {status}"));
        }
        if i > 0 {
            times.push(took);
        }
    }
    times.sort();
    Ok(Times {
        median: times[times.len() / 2],
        min: times[0],
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// What `cargo metadata --no-deps` says: target dir (respects CARGO_TARGET_DIR and config)
/// and the workspace packages.
pub struct Metadata {
    /// Where cargo builds.
    pub target_dir: PathBuf,
    /// The parsed `cargo metadata` output.
    pub json: serde_json::Value,
}

impl Metadata {
    /// Run `cargo metadata --format-version 1 --no-deps` in `root`.
    pub fn load(root: &Path) -> Result<Self, String> {
        let out = crate::cargo()
            .current_dir(root)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo metadata failed with {}", out.status));
        }
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
        let target_dir = json["target_directory"]
            .as_str()
            .map(PathBuf::from)
            .ok_or("cargo metadata has no target_directory")?;
        Ok(Self { target_dir, json })
    }

    /// `(name, version, publishable)` of every workspace member.
    pub fn members(&self) -> Vec<(String, String, bool)> {
        self.json["packages"]
            .as_array()
            .map(|pkgs| {
                pkgs.iter()
                    .map(|p| {
                        let name = p["name"].as_str().unwrap_or_default().to_string();
                        let version = p["version"].as_str().unwrap_or_default().to_string();
                        // `publish = false` shows as an empty registry list.
                        let publishable =
                            !matches!(p["publish"].as_array(), Some(r) if r.is_empty());
                        (name, version, publishable)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The version of workspace package `name`.
    pub fn package_version(&self, name: &str) -> Result<String, String> {
        self.members()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v)
            .ok_or_else(|| format!("no package {name} in the workspace"))
    }
}

/// The host target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| "rustc -vV printed no host triple".to_string())
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to)
        .map_err(|e| format!("cannot rename {} to {}: {e}", from.display(), to.display()))
}

fn file_size(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn human_bytes(n: u64) -> String {
    format!("{:.2} MiB", n as f64 / (1024.0 * 1024.0))
}
