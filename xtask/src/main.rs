//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `codegen [--check]`: regenerate csghub-api's DTOs from the swagger spec.
//! - `hub --root DIR [--port N] [--objects-port N] [--seed demo]`: run the local hub.
//! - `demo`: the README's first command: a local hub with the demo seed, and the main job against it.
//! - `test`: every test, with the Python venv the interop tests need (the README's test command).
//! - `ci`: what `.ci/run` runs: formatting, clippy, codegen check, no HTTP stack in
//!   `csghub-reader`/`csghub-cache` without default features, `cargo doc` warning-free, `test`.
//! - `bench download`: csghub-rs against curl on the local hub (ratios, requests, peak RSS).
//! - `dist`: the release archive of csghub-cli for the host (`target/dist/`, with its sha256).
//! - `release <version> [--dry-run]`: lockstep version bump, CHANGELOG, publish dry run.

#![deny(clippy::unwrap_used)]

mod bench;
mod codegen;
mod demo;
mod dist;
mod hygiene;
mod release;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "csghub-rs project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Regenerate csghub-api's generated DTOs from the swagger spec.
    Codegen {
        /// Fail if the committed file is stale instead of writing it.
        #[arg(long)]
        check: bool,
    },
    /// Run the local CSGHub hub until Ctrl-C.
    Hub {
        /// Where the hub stores its repos (created if missing; kept between runs).
        #[arg(long)]
        root: PathBuf,
        /// API port (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Object-store port (0 = any free port).
        #[arg(long, default_value_t = 0)]
        objects_port: u16,
        /// Seed to apply at start: empty, demo or interop.
        #[arg(long)]
        seed: Option<String>,
    },
    /// Start a local hub with the demo seed and run the main job against it.
    Demo,
    /// Run every test (creates target/pyvenv for the Python interop tests).
    Test {
        /// Extra arguments for `cargo test`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// What CI runs: `cargo fmt --check`, clippy with `-D warnings`, codegen check, the
    /// no-HTTP-stack and docs checks, then `test`.
    Ci,
    /// Benchmarks against reference tools in the same run (`download`).
    Bench {
        /// Which benchmark(s).
        what: Vec<String>,
    },
    /// Build the release archive of csghub-cli for the host target into `target/dist/`.
    Dist,
    /// Bump every crate to VERSION, update CHANGELOG.md, run the workspace publish dry run.
    Release {
        /// The new version, e.g. 0.2.0.
        version: String,
        /// Do everything in a temporary clone and leave this tree untouched.
        #[arg(long)]
        dry_run: bool,
    },
    /// The benchmark itself, inside the optimised build.
    #[command(hide = true)]
    BenchRun {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// One measured csghub-rs run of a benchmark.
    #[command(hide = true)]
    BenchChild {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn workspace_root() -> PathBuf {
    // xtask lives at `<root>/xtask`.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.cmd {
        Cmd::Codegen { check } => codegen::run(&root, check),
        Cmd::Hub {
            root: dir,
            port,
            objects_port,
            seed,
        } => run_hub(dir, port, objects_port, seed),
        Cmd::Demo => demo::run(&root),
        Cmd::Test { args } => test(&root, &args),
        Cmd::Ci => ci(&root),
        Cmd::Bench { what } => bench::run(&root, &what),
        Cmd::BenchRun { args } => bench::bench_run(&args),
        Cmd::BenchChild { args } => bench::bench_child(&args),
        Cmd::Dist => dist::run(&root),
        Cmd::Release { version, dry_run } => release::run(&root, &version, dry_run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn run_hub(dir: PathBuf, port: u16, objects_port: u16, seed: Option<String>) -> Result<(), String> {
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    runtime()?.block_on(async move {
        let mut config = csghub_localhub::HubConfig::new(&dir);
        config.addr.set_port(port);
        config.objects_addr.set_port(objects_port);
        let hub = csghub_localhub::LocalHub::start(config)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(seed) = seed {
            csghub_localhub::seed::by_name(&hub, &seed).map_err(|e| e.to_string())?;
        }
        println!("local hub: {}", hub.url());
        println!("object store: {}", hub.objects_url());
        println!("token of alice: {}", csghub_localhub::seed::ALICE_TOKEN);
        println!("press Ctrl-C to stop");
        hub.serve_until_ctrl_c().await;
        Ok(())
    })
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    run_quiet(cmd)
}

/// Run a command without announcing it (its output is the point).
fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

/// Create (once) the venv with the Python peers and return its python.
fn python_venv(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target").join("pyvenv");
    let python = venv.join("bin").join("python");
    let reqs = root.join("tests").join("python").join("requirements.txt");
    let wanted = std::fs::read_to_string(&reqs)
        .map_err(|e| format!("cannot read {}: {e}", reqs.display()))?;
    let stamp = venv.join("requirements.stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Ok(python);
    }
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&py).args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&reqs))?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(python)
}

fn test(root: &Path, args: &[String]) -> Result<(), String> {
    let python = python_venv(root)?;
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .args(args)
        .env("CSGHUB_TEST_PYTHON", &python))?;
    // Optional features are tested too (the workspace run uses default features).
    run(cargo()
        .current_dir(root)
        .args([
            "test",
            "-p",
            "csghub-reader",
            "--all-features",
            "--no-fail-fast",
        ])
        .env("CSGHUB_TEST_PYTHON", &python))?;
    // Doctests are not part of --all-targets.
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--doc"])
        .env("CSGHUB_TEST_PYTHON", &python))
}

fn ci(root: &Path) -> Result<(), String> {
    run(cargo().current_dir(root).args(["fmt", "--all", "--check"]))?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    codegen::run(root, true)?;
    // What users of the library crates get: no HTTP stack without default features, clean docs.
    hygiene::no_http_stack(root)?;
    hygiene::docs(root)?;
    test(root, &[])
}
