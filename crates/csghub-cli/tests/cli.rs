//! End-to-end tests: the real `csghub-cli` binary against an in-process local hub, with a
//! private HOME, token file and cache per test. Outputs (exit code, stdout, stderr) are checked
//! by insta snapshots with the hub URL, temp paths and timestamps filtered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use csghub_localhub::seed::{ALICE_TOKEN, BOB_TOKEN};
use csghub_localhub::store::Deploy;
use csghub_localhub::{HubConfig, LocalHub, RepoType, seed};

/// One test's world: a seeded hub, a home directory, and helpers to run the binary.
struct World {
    // Dropped before the runtime that serves it (fields drop in order).
    hub: LocalHub,
    _rt: tokio::runtime::Runtime,
    _hub_dir: tempfile::TempDir,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// A finished run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl World {
    fn new(seed_name: &str) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let hub_dir = tempfile::tempdir().unwrap();
        let hub = rt
            .block_on(LocalHub::start(HubConfig::new(hub_dir.path())))
            .unwrap();
        seed::by_name(&hub, seed_name).unwrap();
        let home = tempfile::tempdir().unwrap();
        World {
            hub,
            _rt: rt,
            _hub_dir: hub_dir,
            home,
            env: Vec::new(),
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn cache(&self) -> PathBuf {
        self.home().join("cache")
    }

    fn token_file(&self) -> PathBuf {
        self.home().join(".cache/csg/token")
    }

    /// Adds an environment variable for every later run.
    fn set(&mut self, k: &str, v: &str) -> &mut World {
        self.env.push((k.into(), v.into()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_csghub-cli"));
        // Nothing from the developer's environment (tokens, proxies, HOME) leaks in.
        c.env_clear()
            .env("HOME", self.home())
            .env("CSGHUB_DOMAIN", self.hub.url())
            .env("CSGHUB_CACHE", self.cache())
            .env("NO_COLOR", "1")
            .current_dir(self.home())
            .args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut c = self.command(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// The run as snapshot text, with unstable parts replaced.
    fn render(&self, r: &Run) -> String {
        let home = self.home().to_string_lossy().into_owned();
        let text = format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            r.code, r.stdout, r.stderr
        );
        let text = text.replace(self.hub.url(), "[HUB]");
        text.replace(&home, "[HOME]")
    }

    fn seed_deploy(&self, deploy_type: i32, name: &str, user: &str, status: &str) -> i64 {
        let store = self.hub.store();
        let mut st = store.lock();
        let id = st.next_id();
        st.deploys.insert(
            id,
            Deploy {
                id,
                deploy_type,
                user: user.into(),
                model: "OpenCSG/demo-model".into(),
                deploy_name: name.into(),
                status: status.into(),
                created_at: "2026-01-01T00:00:00Z".into(),
            },
        );
        store.save(&st).unwrap();
        id
    }
}

macro_rules! snap {
    ($world:expr, $name:expr, $run:expr) => {{
        let text = $world.render(&$run);
        insta::with_settings!({
            filters => vec![
                (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", "[TIME]"),
                (r"csghub-cli \d+\.\d+\.\d+", "csghub-cli [VERSION]"),
                (r#""version": "\d+\.\d+\.\d+""#, r#""version": "[VERSION]""#),
                (r"version: \d+\.\d+\.\d+", "version: [VERSION]"),
                (r"Platform: \S+", "Platform: [PLATFORM]"),
                (r#""platform": "[^"]+""#, r#""platform": "[PLATFORM]""#),
                (r"localhub-\d{8}", "[REQUEST-ID]"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, text);
        });
    }};
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

// ---------------------------------------------------------------------------------------------
// version, help, usage

#[test]
fn version_and_help() {
    let w = World::new("empty");
    let v = w.run(&["--version"]);
    assert_eq!(v.code, 0);
    assert_eq!(
        v.stdout,
        format!("csghub-cli {}\n", env!("CARGO_PKG_VERSION"))
    );
    let v2 = w.run(&["version"]);
    assert_eq!(v2.stdout, v.stdout);
    assert_eq!(json(&w.run(&["version", "--json"]))["name"], "csghub-cli");
    snap!(w, "version", v);
    snap!(w, "help", w.run(&["--help"]));
    snap!(w, "download_help", w.run(&["download", "--help"]));
    snap!(w, "upload_help", w.run(&["upload", "--help"]));
    snap!(
        w,
        "upload_large_folder_help",
        w.run(&["upload-large-folder", "--help"])
    );
}

#[test]
fn usage_errors_exit_2() {
    let w = World::new("empty");
    let none = w.run(&[]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("Usage: csghub-cli"), "{}", none.stderr);
    snap!(w, "usage_bad_repo_id", w.run(&["repo", "info", "no-slash"]));
    snap!(w, "usage_unknown_command", w.run(&["frobnicate"]));
    snap!(
        w,
        "usage_bad_repo_type",
        w.run(&["repo", "info", "a/b", "-t", "prompt"])
    );
    snap!(w, "usage_bad_endpoint", w.run(&["-e", "ftp://x", "whoami"]));
}

// ---------------------------------------------------------------------------------------------
// env, login, logout, whoami

#[test]
fn env_never_prints_the_token() {
    let mut w = World::new("empty");
    w.set("CSGHUB_TOKEN", ALICE_TOKEN)
        .set("CSGHUB_DISABLE_XNET", "true");
    let r = w.run(&["env"]);
    assert!(!r.stdout.contains(ALICE_TOKEN) && !r.stderr.contains(ALICE_TOKEN));
    snap!(w, "env", r);
    let j = w.run(&["env", "--json"]);
    assert!(!j.stdout.contains(ALICE_TOKEN));
    snap!(w, "env_json", j);
    let explicit = w.run(&["env", "-e", "https://hub.opencsg.com", "--json"]);
    assert_eq!(json(&explicit)["endpoint"], "https://hub.opencsg.com");
    assert_eq!(json(&explicit)["endpoint_source"], "-e/--endpoint");
}

#[test]
fn login_whoami_logout() {
    let w = World::new("empty");
    let login = w.run_with(&["login"], Some(&format!("{ALICE_TOKEN}\n")));
    snap!(w, "login", login);
    let saved = std::fs::read_to_string(w.token_file()).unwrap();
    assert_eq!(saved, ALICE_TOKEN);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let who = w.run(&["whoami"]);
    assert!(!who.stdout.contains(ALICE_TOKEN) && !who.stderr.contains(ALICE_TOKEN));
    snap!(w, "whoami", who);
    snap!(w, "whoami_json", w.run(&["whoami", "--json"]));
    // -k wins over the saved token.
    assert_eq!(w.run(&["whoami", "-k", BOB_TOKEN]).stdout, "bob\n");
    snap!(w, "logout", w.run(&["logout"]));
    assert!(!w.token_file().exists());
    snap!(w, "logout_again", w.run(&["logout"]));
    snap!(w, "whoami_not_logged_in", w.run(&["whoami"]));
}

#[test]
fn login_with_flag_and_json() {
    let w = World::new("empty");
    let r = w.run(&["login", "-k", BOB_TOKEN, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["user"], "bob");
    assert_eq!(std::fs::read_to_string(w.token_file()).unwrap(), BOB_TOKEN);
}

#[test]
fn login_rejects_a_bad_token_and_saves_nothing() {
    let w = World::new("empty");
    let bad = "0000000000000000000000000000000000000bad";
    let r = w.run_with(&["login"], Some(bad));
    assert!(!r.stderr.contains(bad));
    snap!(w, "login_bad_token", r);
    assert!(!w.token_file().exists());
    snap!(w, "login_empty_stdin", w.run_with(&["login"], Some("\n\n")));
    snap!(
        w,
        "login_malformed_token",
        w.run_with(&["login"], Some("has spaces in it\n"))
    );
}

#[test]
fn login_to_an_unwritable_path_fails_cleanly() {
    let mut w = World::new("empty");
    let blocker = w.home().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let target = blocker.join("token");
    w.set("CSGHUB_TOKEN_PATH", target.to_str().unwrap());
    let r = w.run_with(&["login"], Some(ALICE_TOKEN));
    snap!(w, "login_unwritable", r);
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
}

#[test]
fn bad_token_in_env_names_endpoint_and_fix() {
    let mut w = World::new("demo");
    let bad = "ffff00000000000000000000000000000000ffff";
    w.set("CSGHUB_TOKEN", bad);
    let r = w.run(&["whoami"]);
    assert!(!r.stderr.contains(bad));
    snap!(w, "whoami_bad_token", r);
    snap!(
        w,
        "repo_info_bad_token",
        w.run(&["repo", "info", "OpenCSG/demo-model"])
    );
}

#[test]
fn debug_logs_never_show_the_token() {
    let mut w = World::new("demo");
    w.set("CSGHUB_TOKEN", ALICE_TOKEN);
    for args in [
        &["whoami", "-v"][..],
        &["repo", "info", "OpenCSG/demo-model", "-L", "DEBUG"],
        &["repo", "info", "alice/none", "-v"],
        &["login", "-k", ALICE_TOKEN, "-v"],
    ] {
        let r = w.run(args);
        assert!(r.stderr.contains("debug: "), "{args:?}: {}", r.stderr);
        assert!(
            !r.stdout.contains(ALICE_TOKEN) && !r.stderr.contains(ALICE_TOKEN),
            "{args:?} leaked the token: {} {}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn token_file_is_read_from_csghub_token_path() {
    let mut w = World::new("empty");
    let file = w.home().join("elsewhere/tok");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("  {ALICE_TOKEN}\r\n")).unwrap();
    w.set("CSGHUB_TOKEN_PATH", file.to_str().unwrap());
    let r = w.run(&["whoami", "--json"]);
    assert_eq!(json(&r)["user"], "alice");
    assert_eq!(
        json(&r)["token_source"],
        format!("token file {}", file.display())
    );
}

#[test]
fn server_down() {
    let w = World::new("empty");
    let r = w.run(&[
        "-e",
        "http://127.0.0.1:1",
        "repo",
        "info",
        "OpenCSG/demo-model",
    ]);
    snap!(w, "server_down", r);
}

// ---------------------------------------------------------------------------------------------
// repo

#[test]
fn repo_info_files_branches_tags_commits() {
    let w = World::new("demo");
    snap!(
        w,
        "repo_info",
        w.run(&["repo", "info", "OpenCSG/demo-model"])
    );
    snap!(
        w,
        "repo_info_json",
        w.run(&["repo", "info", "OpenCSG/demo-model", "--json"])
    );
    snap!(
        w,
        "repo_info_dataset",
        w.run(&["repo", "info", "OpenCSG/demo-dataset", "-t", "dataset"])
    );
    snap!(
        w,
        "repo_files",
        w.run(&["repo", "files", "OpenCSG/demo-model"])
    );
    snap!(
        w,
        "repo_files_json",
        w.run(&["repo", "files", "OpenCSG/demo-model", "--json"])
    );
    snap!(
        w,
        "repo_files_one_file",
        w.run(&["repo", "files", "OpenCSG/demo-model", "config.json"])
    );
    // Datasets need a login even when public (SERVER.md §4).
    snap!(
        w,
        "repo_files_dataset_needs_login",
        w.run(&["repo", "files", "OpenCSG/demo-dataset", "-t", "dataset"])
    );
    snap!(
        w,
        "repo_files_subdir",
        w.run(&[
            "repo",
            "files",
            "OpenCSG/demo-dataset",
            "data",
            "-t",
            "dataset",
            "-k",
            ALICE_TOKEN
        ])
    );
    snap!(
        w,
        "repo_branches",
        w.run(&["repo", "branches", "OpenCSG/demo-model"])
    );
    snap!(
        w,
        "repo_tags",
        w.run(&["repo", "tags", "OpenCSG/demo-model"])
    );
    snap!(
        w,
        "repo_commits",
        w.run(&["repo", "commits", "OpenCSG/demo-model"])
    );
    snap!(
        w,
        "repo_commits_json",
        w.run(&["repo", "commits", "OpenCSG/demo-model", "--json"])
    );
}

#[test]
fn repo_error_paths() {
    let w = World::new("demo");
    snap!(
        w,
        "repo_missing",
        w.run(&["repo", "info", "OpenCSG/no-such-model"])
    );
    snap!(
        w,
        "repo_wrong_type",
        w.run(&["repo", "files", "OpenCSG/demo-model", "-t", "dataset"])
    );
    snap!(
        w,
        "repo_missing_revision",
        w.run(&["repo", "info", "OpenCSG/demo-model", "-r", "no-such-branch"])
    );
    snap!(
        w,
        "repo_files_missing_revision",
        w.run(&["repo", "files", "OpenCSG/demo-model", "-r", "nope"])
    );
    snap!(
        w,
        "repo_files_missing_file",
        w.run(&["repo", "files", "OpenCSG/demo-model", "missing.bin"])
    );
    snap!(
        w,
        "repo_commits_missing_revision",
        w.run(&["repo", "commits", "OpenCSG/demo-model", "-r", "nope"])
    );
}

#[test]
fn private_repo_needs_the_right_account() {
    let mut w = World::new("demo");
    seed::repo_with_files(
        &w.hub,
        RepoType::Model,
        "alice/secret",
        true,
        vec![("a.txt".into(), b"a".to_vec())],
        "add a",
    )
    .unwrap();
    snap!(
        w,
        "private_anonymous",
        w.run(&["repo", "info", "alice/secret"])
    );
    w.set("CSGHUB_TOKEN", BOB_TOKEN);
    snap!(
        w,
        "private_other_user",
        w.run(&["repo", "info", "alice/secret"])
    );
    let ok = w.run(&["repo", "info", "alice/secret", "-k", ALICE_TOKEN, "--json"]);
    assert_eq!(json(&ok)["private"], true);
}

#[test]
fn hostile_file_names_are_escaped() {
    let w = World::new("demo");
    seed::repo_with_files(
        &w.hub,
        RepoType::Model,
        "OpenCSG/hostile",
        false,
        vec![
            ("evil\x1b[31mred.txt".into(), b"x".to_vec()),
            ("line\nbreak.txt".into(), b"y".to_vec()),
            ("ok.txt".into(), b"z".to_vec()),
        ],
        "hostile names",
    )
    .unwrap();
    let r = w.run(&["repo", "files", "OpenCSG/hostile"]);
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    snap!(w, "repo_files_hostile", r);
    let j = w.run(&["repo", "files", "OpenCSG/hostile", "--json"]);
    let paths: Vec<String> = json(&j)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        paths.contains(&"evil\x1b[31mred.txt".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn repo_create_and_delete() {
    let mut w = World::new("demo");
    snap!(
        w,
        "repo_create_not_logged_in",
        w.run(&["repo", "create", "alice/new-model"])
    );
    w.set("CSGHUB_TOKEN", ALICE_TOKEN);
    snap!(
        w,
        "repo_create",
        w.run(&[
            "repo",
            "create",
            "alice/new-model",
            "--private",
            "--description",
            "made by a test"
        ])
    );
    let info = w.run(&["repo", "info", "alice/new-model", "--json"]);
    assert_eq!(json(&info)["private"], true);
    assert_eq!(json(&info)["description"], "made by a test");
    snap!(
        w,
        "repo_create_exists",
        w.run(&["repo", "create", "alice/new-model"])
    );
    let ds = w.run(&[
        "repo",
        "create",
        "OpenCSG/new-data",
        "-t",
        "dataset",
        "--json",
    ]);
    assert_eq!(ds.code, 0, "{}", ds.stderr);
    assert_eq!(json(&ds)["repo_type"], "dataset");
    // A space runs on a space resource: the first available one unless --resource-id.
    let sp = w.run(&["repo", "create", "alice/new-space", "-t", "space", "--json"]);
    assert_eq!(sp.code, 0, "{}", sp.stderr);
    assert_eq!(json(&sp)["repo_type"], "space");
    snap!(
        w,
        "repo_create_space_unknown_resource",
        w.run(&[
            "repo",
            "create",
            "alice/other-space",
            "-t",
            "space",
            "--resource-id",
            "999"
        ])
    );
    snap!(
        w,
        "repo_create_forbidden",
        w.run(&["repo", "create", "bob/x-model"])
    );
    snap!(
        w,
        "repo_delete_needs_yes",
        w.run(&["repo", "delete", "alice/new-model"])
    );
    snap!(
        w,
        "repo_delete",
        w.run(&["repo", "delete", "alice/new-model", "--yes"])
    );
    assert_eq!(w.run(&["repo", "info", "alice/new-model"]).code, 1);
    snap!(
        w,
        "repo_delete_missing",
        w.run(&["repo", "delete", "alice/new-model", "-y"])
    );
}

// ---------------------------------------------------------------------------------------------
// inference, finetune

#[test]
fn inference_and_finetune() {
    let mut w = World::new("demo");
    let inf = w.seed_deploy(1, "demo-endpoint", "alice", "Stopped");
    w.seed_deploy(1, "bobs-endpoint", "bob", "Running");
    let ft = w.seed_deploy(2, "demo-finetune", "alice", "Stopped");
    snap!(
        w,
        "inference_list_not_logged_in",
        w.run(&["inference", "list"])
    );
    w.set("CSGHUB_TOKEN", ALICE_TOKEN);
    snap!(w, "inference_list", w.run(&["inference", "list"]));
    snap!(
        w,
        "inference_list_json",
        w.run(&["inference", "list", "--json"])
    );
    snap!(
        w,
        "inference_list_other_user",
        w.run(&["inference", "list", "-u", "bob"])
    );
    let id = inf.to_string();
    snap!(
        w,
        "inference_start",
        w.run(&["inference", "start", "OpenCSG/demo-model", &id])
    );
    let stop = w.run(&["inference", "stop", "OpenCSG/demo-model", &id, "--json"]);
    assert_eq!(json(&stop)["status"], "Stopped");
    snap!(
        w,
        "inference_start_missing",
        w.run(&["inference", "start", "OpenCSG/demo-model", "999"])
    );
    snap!(
        w,
        "finetune_list",
        w.run(&["finetune", "list", "-u", "alice"])
    );
    snap!(
        w,
        "finetune_start",
        w.run(&["finetune", "start", "OpenCSG/demo-model", &ft.to_string()])
    );
    snap!(
        w,
        "usage_finetune_bad_id",
        w.run(&["finetune", "stop", "OpenCSG/demo-model", "x"])
    );
}

// ---------------------------------------------------------------------------------------------
// transfer commands

/// Every regular file below `dir`, sorted, without bookkeeping folders.
fn files_in(dir: &Path) -> Vec<String> {
    fn go(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                go(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.retain(|p| !p.starts_with(".cache"));
    out.sort();
    out
}

#[test]
fn download_snapshot_then_cached_rerun() {
    let w = World::new("demo");
    let r = w.run(&["download", "OpenCSG/demo-model"]);
    snap!(w, "download_snapshot", r);
    let dir = PathBuf::from(r.stdout.trim());
    assert!(dir.join("config.json").is_file());
    assert!(dir.join("model-00001-of-00002.safetensors").is_file());
    // A re-run is answered from the cache (one listing request) and says so in JSON.
    w.hub.faults().clear_log();
    let again = w.run(&["download", "OpenCSG/demo-model", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let v = json(&again);
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["downloaded"] == false)
    );
    assert_eq!(w.hub.faults().log().len(), 1);
    // Offline: no request at all.
    w.hub.faults().clear_log();
    let mut w2 = w;
    w2.set("HF_HUB_OFFLINE", "1");
    let off = w2.run(&["download", "OpenCSG/demo-model", "-q"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert_eq!(off.stdout.trim(), dir.to_string_lossy());
    assert!(w2.hub.faults().log().is_empty());
}

#[test]
fn pycsghub_documented_command_line_works_unchanged() {
    let w = World::new("demo");
    let out = w.home().join("wukong");
    let r = w.run(&[
        "download",
        "OpenCSG/csg-wukong-1B",
        "--allow-patterns",
        "*.json",
        "--ignore-patterns",
        "tokenizer.json",
        "--local-dir",
        out.to_str().unwrap(),
        "-e",
        w.hub.url(),
    ]);
    snap!(w, "download_pycsghub_example", r);
    assert_eq!(
        files_in(&out),
        [
            "config.json",
            "generation_config.json",
            "model.safetensors.index.json",
            "special_tokens_map.json",
            "tokenizer_config.json"
        ]
    );
}

#[test]
fn download_one_file_and_dry_run() {
    let w = World::new("demo");
    snap!(
        w,
        "download_dry_run",
        w.run(&[
            "download",
            "OpenCSG/demo-model",
            "--dry-run",
            "--allow-patterns",
            "*.json"
        ])
    );
    assert!(
        !w.cache().exists() || files_in(&w.cache()).is_empty(),
        "dry run writes nothing"
    );
    let r = w.run(&["download", "OpenCSG/demo-model", "config.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.trim().ends_with("/config.json"), "{}", r.stdout);
    let text = std::fs::read_to_string(r.stdout.trim()).unwrap();
    assert!(text.contains("llama"));
}

#[test]
fn download_error_paths() {
    let mut w = World::new("demo");
    snap!(
        w,
        "download_missing_repo",
        w.run(&["download", "OpenCSG/nope"])
    );
    snap!(
        w,
        "download_missing_file",
        w.run(&["download", "OpenCSG/demo-model", "nope.txt"])
    );
    snap!(
        w,
        "download_missing_revision",
        w.run(&["download", "OpenCSG/demo-model", "--revision", "nope"])
    );
    // A hostile name in the server's listing: refused, nothing written.
    seed::repo_with_files(
        &w.hub,
        RepoType::Model,
        "OpenCSG/hostile",
        false,
        vec![("../escape.txt".into(), b"x".to_vec())],
        "add",
    )
    .unwrap();
    snap!(
        w,
        "download_hostile_name",
        w.run(&["download", "OpenCSG/hostile"])
    );
    assert!(!w.home().join("escape.txt").exists());
    // A local dir that cannot be written: a file is in the way (fails for root too).
    let blocker = w.home().join("blocker");
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let target = blocker.join("sub");
    snap!(
        w,
        "download_local_dir_not_writable",
        w.run(&[
            "download",
            "OpenCSG/demo-model",
            "config.json",
            "--local-dir",
            target.to_str().unwrap()
        ])
    );
    assert_eq!(
        std::fs::read(&blocker).unwrap(),
        b"a file, not a folder",
        "nothing overwritten"
    );
    w.set("CSGHUB_TOKEN", "not-a-valid-token");
    snap!(
        w,
        "download_bad_token",
        w.run(&["download", "OpenCSG/demo-model"])
    );
}

#[test]
fn upload_file_folder_and_large_folder_round_trip() {
    let mut w = World::new("empty");
    w.set("CSGHUB_TOKEN", ALICE_TOKEN);
    let src = w.home().join("src");
    std::fs::create_dir_all(src.join("nested/deeper")).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(src.join("nested/deeper/b b.txt"), b"beta\n").unwrap();
    std::fs::write(src.join("nested/数据.json"), b"{}").unwrap();
    std::fs::write(src.join("empty.bin"), b"").unwrap();
    let r = w.run(&[
        "upload",
        "alice/uploaded",
        src.to_str().unwrap(),
        "--commit-message",
        "first",
    ]);
    let text = w.render(&r);
    assert_eq!(r.code, 0, "{text}");
    assert!(
        r.stdout.contains("alice/uploaded: 4 files committed"),
        "{text}"
    );
    // One file to a path in the repo.
    let one = w.home().join("one.txt");
    std::fs::write(&one, b"one\n").unwrap();
    let r = w.run(&["upload", "alice/uploaded", one.to_str().unwrap(), "docs/"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Round trip through download.
    let out = w.home().join("back");
    let r = w.run(&[
        "download",
        "alice/uploaded",
        "--local-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (p, want) in [
        ("a.txt", &b"alpha\n"[..]),
        ("nested/deeper/b b.txt", b"beta\n"),
        ("nested/数据.json", b"{}"),
        ("empty.bin", b""),
        ("docs/one.txt", b"one\n"),
    ] {
        assert_eq!(std::fs::read(out.join(p)).unwrap(), want, "{p}");
    }
    // Large folder, resumable; a second run has nothing to do.
    let r = w.run(&[
        "upload-large-folder",
        "alice/big-folder",
        src.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["files"].as_array().unwrap().len(), 4);
    let r = w.run(&[
        "upload-large-folder",
        "alice/big-folder",
        src.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        json(&r)["commit"].is_null(),
        "nothing to commit on a re-run: {}",
        r.stdout
    );
    // Without a token: one clear line.
    let w2 = World::new("empty");
    snap!(
        w2,
        "upload_not_logged_in",
        w2.run(&["upload", "alice/x", src.to_str().unwrap()])
    );
}

// ---------------------------------------------------------------------------------------------
// cache and model inspect (offline)

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Puts the reader's tiny demo Llama into the cache as `OpenCSG/tiny-llama` at COMMIT, `main`.
fn cache_demo_model(cache: &Path) -> Vec<String> {
    use csghub_cache::{CacheDir, Etag, Expected, RepoId, RepoPath, RepoRef};
    let src = tempfile::tempdir().unwrap();
    let names = csghub_reader::demo::write_demo_llama(src.path()).unwrap();
    let cache = CacheDir::new(cache);
    let repo = cache.repo(RepoRef::new(
        csghub_cache::RepoType::Model,
        RepoId::parse("OpenCSG/tiny-llama").unwrap(),
    ));
    for name in &names {
        let path = src.path().join(name);
        let d = csghub_cache::hash_file(&path).unwrap();
        let etag = Etag::new(if name.ends_with(".safetensors") {
            &d.sha256
        } else {
            &d.git_sha1
        })
        .unwrap();
        let mut wr = repo
            .begin_blob(&etag, Expected::etag_and_size(Some(d.size)))
            .unwrap();
        wr.write_all(&std::fs::read(&path).unwrap()).unwrap();
        wr.finish().unwrap();
        repo.link_snapshot(COMMIT, &RepoPath::new(name).unwrap(), &etag)
            .unwrap();
    }
    repo.write_ref("main", COMMIT).unwrap();
    names
}

#[test]
fn model_inspect_dir_and_cached_repo() {
    let w = World::new("empty");
    let dir = w.home().join("tiny");
    csghub_reader::demo::write_demo_llama(&dir).unwrap();
    snap!(w, "model_inspect_dir", w.run(&["model", "inspect", "tiny"]));
    let j = w.run(&["model", "inspect", "tiny", "--json"]);
    let v = json(&j);
    let sum: u64 = v["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["parameters"].as_u64().unwrap())
        .sum();
    assert_eq!(v["parameters"].as_u64().unwrap(), sum);
    assert_eq!(v["family"]["model_type"], "llama");
    assert_eq!(v["shards"].as_array().unwrap().len(), 2);
    snap!(
        w,
        "model_inspect_not_cached",
        w.run(&["model", "inspect", "OpenCSG/tiny-llama"])
    );
    cache_demo_model(&w.cache());
    snap!(
        w,
        "model_inspect_cached_repo",
        w.run(&["model", "inspect", "OpenCSG/tiny-llama", "--no-tensors"])
    );
    snap!(
        w,
        "model_inspect_neither",
        w.run(&["model", "inspect", "./nowhere"])
    );
}

#[test]
fn model_inspect_corrupt_weights() {
    let w = World::new("empty");
    let dir = w.home().join("broken");
    csghub_reader::demo::write_demo_llama(&dir).unwrap();
    let shard = dir.join("model-00002-of-00002.safetensors");
    let len = std::fs::metadata(&shard).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap();
    f.set_len(len / 2).unwrap();
    snap!(
        w,
        "model_inspect_truncated",
        w.run(&["model", "inspect", "broken"])
    );
    std::fs::remove_file(dir.join("config.json")).unwrap();
    snap!(
        w,
        "model_inspect_no_config",
        w.run(&["model", "inspect", "broken"])
    );
}

#[test]
fn cache_ls_verify_rm_prune() {
    let w = World::new("empty");
    snap!(w, "cache_ls_empty", w.run(&["cache", "ls"]));
    cache_demo_model(&w.cache());
    snap!(w, "cache_ls", w.run(&["cache", "ls"]));
    snap!(
        w,
        "cache_ls_revisions",
        w.run(&["cache", "ls", "--revisions"])
    );
    let j = json(&w.run(&["cache", "ls", "--json"]));
    assert_eq!(j["repos"][0]["repo_id"], "OpenCSG/tiny-llama");
    assert_eq!(j["repos"][0]["refs"]["main"], COMMIT);
    snap!(w, "cache_verify_ok", w.run(&["cache", "verify"]));
    snap!(
        w,
        "cache_verify_not_cached",
        w.run(&["cache", "verify", "OpenCSG/other"])
    );
    // Corrupt one blob: verify must fail with exit 1 and name it.
    let blobs = w.cache().join("models--OpenCSG--tiny-llama/blobs");
    let mut entries: Vec<_> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let victim = entries
        .iter()
        .find(|p| std::fs::metadata(p).unwrap().len() > 100)
        .unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[50] ^= 0xff;
    std::fs::write(victim, bytes).unwrap();
    snap!(
        w,
        "cache_verify_corrupt",
        w.run(&["cache", "verify", "OpenCSG/tiny-llama"])
    );
    // A stray blob nothing references, for prune; two hours old (younger ones may be a
    // download that is about to link them, and are kept).
    let stray = blobs.join("deadbeefdeadbeefdeadbeefdeadbeefdeadbeef");
    std::fs::write(&stray, "stray").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    snap!(
        w,
        "cache_prune_dry_run",
        w.run(&["cache", "prune", "--dry-run"])
    );
    snap!(w, "cache_prune", w.run(&["cache", "prune"]));
    snap!(
        w,
        "cache_rm_dry_run",
        w.run(&["cache", "rm", "OpenCSG/tiny-llama", "--dry-run"])
    );
    assert!(w.cache().join("models--OpenCSG--tiny-llama").exists());
    snap!(
        w,
        "cache_rm_unknown_revision",
        w.run(&["cache", "rm", "OpenCSG/tiny-llama", "-r", "v9"])
    );
    snap!(
        w,
        "cache_rm",
        w.run(&["cache", "rm", "OpenCSG/tiny-llama", "-r", "main"])
    );
    assert!(!w.cache().join("models--OpenCSG--tiny-llama").exists());
    snap!(
        w,
        "cache_rm_missing",
        w.run(&["cache", "rm", "OpenCSG/tiny-llama"])
    );
}

#[test]
fn closed_stdout_is_not_an_error() {
    let w = World::new("demo");
    let mut c = w.command(&["repo", "files", "OpenCSG/demo-model"]);
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
