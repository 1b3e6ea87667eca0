//! The command line: every command, option and default, as clap derive structs.
//!
//! Names, short flags and defaults follow pycsghub 0.9.3 (`PYCSGHUB.md` §8) so scripts keep
//! working; where pycsghub misbehaves the help text says what csghub-cli does instead.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The public CSGHub instance (same default as pycsghub).
pub const DEFAULT_ENDPOINT: &str = csghub_api::DEFAULT_ENDPOINT;

const AFTER_HELP: &str = "\
Environment:
  CSGHUB_TOKEN       access token (after -k/--token, before the token file)
  CSGHUB_TOKEN_PATH  token file (default ~/.cache/csg/token; written by `login`)
  CSGHUB_DOMAIN      endpoint (after -e/--endpoint; default https://hub.opencsg.com)
  CSGHUB_CACHE       cache root (default ~/.cache/csg/hub)
  NO_COLOR           no colours on stderr

Exit codes: 0 success, 1 failure, 2 usage error.";

/// csghub-cli: the CSGHub command-line client (a drop-in for pycsghub's `csghub-cli`).
#[derive(Debug, Parser)]
#[command(
    name = "csghub-cli",
    version,
    about,
    arg_required_else_help = true,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Access token (overrides CSGHUB_TOKEN and the token file). Prefer `login`: a token on the
    /// command line ends up in your shell history.
    #[arg(
        short = 'k',
        long = "token",
        global = true,
        help_heading = "Global options",
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// CSGHub endpoint, e.g. https://hub.opencsg.com. Unlike pycsghub, an explicit value always
    /// wins over CSGHUB_DOMAIN, even when it equals the default.
    #[arg(short = 'e', long = "endpoint", global = true, help_heading = "Global options", value_name = "URL",
          value_parser = parse_endpoint)]
    pub endpoint: Option<String>,
    /// Print results as JSON on stdout (for scripts).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// No progress bars and no informational logs (warnings and errors are still shown).
    #[arg(short = 'q', long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Debug logs on stderr (same as -L DEBUG).
    #[arg(short = 'v', long, global = true, help_heading = "Global options")]
    pub verbose: bool,
    /// Log level (case-insensitive; pycsghub only accepted upper case).
    #[arg(short = 'L', long = "log-level", global = true, help_heading = "Global options", value_enum, ignore_case = true,
          default_value_t = LogLevel::Info, hide_default_value = true)]
    pub log_level: LogLevel,
}

/// pycsghub's `-L/--log-level` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a repository snapshot or some files (pycsghub compatible).
    Download(DownloadArgs),
    /// Upload a file or folder to a repository (pycsghub compatible).
    Upload(UploadArgs),
    /// Upload a large folder resumably (pycsghub compatible).
    #[command(name = "upload-large-folder")]
    UploadLargeFolder(UploadLargeFolderArgs),
    /// Inference endpoints: list, start, stop.
    #[command(subcommand)]
    Inference(DeployCommand),
    /// Fine-tune instances: list, start, stop.
    #[command(subcommand)]
    Finetune(DeployCommand),
    /// Show the effective configuration (endpoint, token source, cache); never the token.
    Env,
    /// Print the version (same as --version).
    Version,
    /// Check a token against the server and save it (mode 0600).
    Login(LoginArgs),
    /// Remove the saved token.
    Logout,
    /// Show who the current token belongs to.
    Whoami,
    /// Inspect and manage repositories on the server.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Inspect and clean the local cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Inspect models.
    #[command(subcommand)]
    Model(ModelCommand),
}

/// pycsghub's repo types (`-t/--repo-type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RepoKind {
    #[default]
    Model,
    Dataset,
    Space,
    Code,
    Mcp,
    Skill,
}

impl RepoKind {
    /// The csghub-api type.
    pub fn api(self) -> csghub_api::RepoType {
        match self {
            RepoKind::Model => csghub_api::RepoType::Model,
            RepoKind::Dataset => csghub_api::RepoType::Dataset,
            RepoKind::Space => csghub_api::RepoType::Space,
            RepoKind::Code => csghub_api::RepoType::Code,
            RepoKind::Mcp => csghub_api::RepoType::McpServer,
            RepoKind::Skill => csghub_api::RepoType::Skill,
        }
    }

    /// The csghub-cache type.
    pub fn cache(self) -> csghub_cache::RepoType {
        match self {
            RepoKind::Model => csghub_cache::RepoType::Model,
            RepoKind::Dataset => csghub_cache::RepoType::Dataset,
            RepoKind::Space => csghub_cache::RepoType::Space,
            RepoKind::Code => csghub_cache::RepoType::Code,
            RepoKind::Mcp => csghub_cache::RepoType::Mcp,
            RepoKind::Skill => csghub_cache::RepoType::Skill,
        }
    }

    /// The CLI spelling (`model`, `dataset`, ...).
    pub fn as_str(self) -> &'static str {
        self.cache().as_str()
    }
}

/// A validated `namespace/name`.
pub fn parse_repo_id(s: &str) -> Result<csghub_api::RepoId, String> {
    s.parse::<csghub_api::RepoId>().map_err(|_| {
        format!("{s:?} is not a repo id; expected `namespace/name`, e.g. OpenCSG/csg-wukong-1B")
    })
}

fn parse_endpoint(s: &str) -> Result<String, String> {
    csghub_api::ClientConfig::new(s)
        .map(|c| c.endpoint().as_str().trim_end_matches('/').to_owned())
        .map_err(|e| e.to_string())
}

/// `download REPO_ID [FILENAMES...]`.
#[derive(Debug, Args, Clone)]
pub struct DownloadArgs {
    /// Repository id, `namespace/name`.
    #[arg(value_name = "REPO_ID", value_parser = parse_repo_id)]
    pub repo_id: csghub_api::RepoId,
    /// Files to download: one name downloads that file; several are glob patterns (as in
    /// pycsghub); none downloads the whole snapshot.
    #[arg(value_name = "FILENAMES")]
    pub filenames: Vec<String>,
    /// Repository type.
    #[arg(short = 't', long = "repo-type", value_enum, default_value_t = RepoKind::Model)]
    pub repo_type: RepoKind,
    /// Branch, tag or commit.
    #[arg(short = 'r', long, default_value = "main")]
    pub revision: String,
    /// Cache root (also `-cd`, as in pycsghub; default $CSGHUB_CACHE or ~/.cache/csg/hub).
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Write plain files into this folder instead of the cache (also `-ld`).
    #[arg(long = "local-dir", value_name = "DIR")]
    pub local_dir: Option<PathBuf>,
    /// Only files matching these globs (repeat the option for several).
    #[arg(long = "allow-patterns", value_name = "GLOB")]
    pub allow_patterns: Vec<String>,
    /// Skip files matching these globs (repeat the option for several).
    #[arg(long = "ignore-patterns", value_name = "GLOB")]
    pub ignore_patterns: Vec<String>,
    /// Mirror prefix on the server (accepted for compatibility).
    #[arg(long, default_value = "csg", value_parser = ["csg", "hf", "ms"])]
    pub source: String,
    /// Show what would be downloaded without downloading (pycsghub ignored this flag).
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Download again even if the files are cached.
    #[arg(long = "force-download")]
    pub force_download: bool,
    /// Parallel downloads (also `-mw`).
    #[arg(long = "max-workers", default_value_t = 8, value_name = "N")]
    pub max_workers: usize,
}

/// `upload REPO_ID LOCAL_PATH [PATH_IN_REPO]`.
#[derive(Debug, Args, Clone)]
pub struct UploadArgs {
    /// Repository id, `namespace/name` (created if missing).
    #[arg(value_name = "REPO_ID", value_parser = parse_repo_id)]
    pub repo_id: csghub_api::RepoId,
    /// File or folder to upload.
    #[arg(value_name = "LOCAL_PATH")]
    pub local_path: PathBuf,
    /// Destination in the repository. For a file it defaults to its name (pycsghub uploaded
    /// `a.txt` to `a.txt/a.txt`); for a folder, to the repository root.
    #[arg(value_name = "PATH_IN_REPO")]
    pub path_in_repo: Option<String>,
    /// Repository type.
    #[arg(short = 't', long = "repo-type", value_enum, default_value_t = RepoKind::Model)]
    pub repo_type: RepoKind,
    /// Branch to commit to (created if missing).
    #[arg(short = 'r', long, default_value = "main")]
    pub revision: String,
    /// Git user name (pycsghub compatibility; unused by the HTTP upload).
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Only files matching these globs (repeat for several).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files matching these globs (repeat for several).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Delete remote files matching these globs that are not uploaded (repeat for several).
    #[arg(long, value_name = "GLOB")]
    pub delete: Vec<String>,
    /// Commit message.
    #[arg(long = "commit-message")]
    pub commit_message: Option<String>,
    /// Commit description.
    #[arg(long = "commit-description")]
    pub commit_description: Option<String>,
    /// Open a pull request instead of committing to the branch.
    #[arg(long = "create-pr")]
    pub create_pr: bool,
    /// Create the repository as private if it does not exist.
    #[arg(long)]
    pub private: bool,
    /// Upload again every N minutes (pycsghub only slept; csghub-cli really re-uploads).
    #[arg(long, value_name = "MINUTES")]
    pub every: Option<f64>,
}

/// `upload-large-folder REPO_ID LOCAL_PATH`.
#[derive(Debug, Args, Clone)]
pub struct UploadLargeFolderArgs {
    /// Repository id, `namespace/name` (created if missing).
    #[arg(value_name = "REPO_ID", value_parser = parse_repo_id)]
    pub repo_id: csghub_api::RepoId,
    /// Folder to upload.
    #[arg(value_name = "LOCAL_PATH")]
    pub local_path: PathBuf,
    /// Repository type.
    #[arg(short = 't', long = "repo-type", value_enum, default_value_t = RepoKind::Model)]
    pub repo_type: RepoKind,
    /// Branch to commit to.
    #[arg(short = 'r', long, default_value = "main")]
    pub revision: String,
    /// Only files matching these globs (repeat for several).
    #[arg(long = "allow-patterns", value_name = "GLOB")]
    pub allow_patterns: Vec<String>,
    /// Skip files matching these globs (repeat for several).
    #[arg(long = "ignore-patterns", value_name = "GLOB")]
    pub ignore_patterns: Vec<String>,
    /// Parallel workers (default: number of CPUs - 2, at least 2).
    #[arg(short = 'n', long = "num-workers", value_name = "N")]
    pub num_workers: Option<usize>,
    /// Print a progress report regularly. Off by default (pycsghub's help wrongly said on).
    #[arg(long = "print-report")]
    pub print_report: bool,
    /// Seconds between reports.
    #[arg(
        long = "print-report-every",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub print_report_every: u64,
}

/// `inference ...` and `finetune ...`.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// List your instances (ID, name, model, status).
    List(DeployListArgs),
    /// Start an instance.
    Start(DeployIdArgs),
    /// Stop an instance.
    Stop(DeployIdArgs),
}

/// `inference list` / `finetune list`.
#[derive(Debug, Args)]
pub struct DeployListArgs {
    /// Whose instances (default: the token's user; pycsghub required this option).
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// `inference start|stop MODEL ID`.
#[derive(Debug, Args)]
pub struct DeployIdArgs {
    /// Model id, `namespace/name`.
    #[arg(value_name = "MODEL", value_parser = parse_repo_id)]
    pub model: csghub_api::RepoId,
    /// Instance id (see `list`).
    #[arg(value_name = "ID")]
    pub id: i64,
}

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the token from stdin even if it is a terminal (otherwise stdin is read only when
    /// piped, and a terminal gets a hidden prompt). `-k TOKEN` also works.
    #[arg(long = "token-stdin")]
    pub token_stdin: bool,
}

/// Options naming one repository.
#[derive(Debug, Args)]
pub struct RepoArg {
    /// Repository id, `namespace/name`.
    #[arg(value_name = "REPO_ID", value_parser = parse_repo_id)]
    pub repo_id: csghub_api::RepoId,
    /// Repository type.
    #[arg(short = 't', long = "repo-type", value_enum, default_value_t = RepoKind::Model)]
    pub repo_type: RepoKind,
}

/// `repo ...`.
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Details of a repository and the tip commit of a revision.
    Info {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
        /// Branch, tag or commit.
        #[arg(short = 'r', long, default_value = "main")]
        revision: String,
    },
    /// List files (recursively) at a revision.
    Files {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
        /// Only below this folder (or just this file).
        #[arg(value_name = "PATH")]
        path: Option<String>,
        /// Branch, tag or commit.
        #[arg(short = 'r', long, default_value = "main")]
        revision: String,
    },
    /// List branches with their tip commits.
    Branches {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
    },
    /// List the repository's metadata tags (task, license, framework, ...). CSGHub has no API
    /// listing git tags.
    Tags {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
    },
    /// List commits of a revision, newest first.
    Commits {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
        /// Branch, tag or commit.
        #[arg(short = 'r', long, default_value = "main")]
        revision: String,
        /// At most this many (1-100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Page number (1 = newest).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        page: u32,
    },
    /// Create a repository.
    Create {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
        /// Make it private.
        #[arg(long)]
        private: bool,
        /// Display name.
        #[arg(long)]
        nickname: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// License, e.g. apache-2.0.
        #[arg(long)]
        license: Option<String>,
        /// Default branch.
        #[arg(long = "default-branch")]
        default_branch: Option<String>,
        /// SDK of a space (gradio, streamlit, docker, ...).
        #[arg(long = "space-sdk", default_value = "gradio")]
        space_sdk: String,
        /// Space resource (hardware) id; default: the first available one, as pycsghub.
        #[arg(long = "resource-id")]
        resource_id: Option<i64>,
    },
    /// Delete a repository on the server (asks for confirmation unless --yes).
    Delete {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
        /// Do not ask; required when stdin is not a terminal.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

/// `cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached repositories (and revisions with --revisions).
    Ls {
        /// Also list each cached revision.
        #[arg(long)]
        revisions: bool,
        /// Cache root (default $CSGHUB_CACHE or ~/.cache/csg/hub).
        #[arg(long = "cache-dir", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Delete a cached repository, or some of its revisions.
    Rm {
        /// The repository.
        #[command(flatten)]
        repo: RepoArg,
        /// Only these revisions (commit, abbreviated commit or ref; repeat for several).
        #[arg(short = 'r', long = "revision", value_name = "REV")]
        revisions: Vec<String>,
        /// Only show what would be deleted.
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// Cache root.
        #[arg(long = "cache-dir", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Remove interrupted downloads, unreferenced blobs, dangling refs and temp files.
    Prune {
        /// Only show what would be removed.
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// Also remove revisions no branch or tag points at.
        #[arg(long)]
        detached: bool,
        /// Cache root.
        #[arg(long = "cache-dir", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Re-hash cached files and compare with their recorded checksums (exit 1 on mismatch).
    Verify {
        /// Only this repository (default: all).
        #[arg(value_name = "REPO_ID", value_parser = parse_repo_id)]
        repo_id: Option<csghub_api::RepoId>,
        /// Repository type.
        #[arg(short = 't', long = "repo-type", value_enum, default_value_t = RepoKind::Model)]
        repo_type: RepoKind,
        /// Only this revision.
        #[arg(short = 'r', long)]
        revision: Option<String>,
        /// Cache root.
        #[arg(long = "cache-dir", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
}

/// `model ...`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Config summary, model family, tensor table and shard sizes of a local model folder or
    /// of a cached repository (offline: download it first).
    Inspect {
        /// A model folder, or a repo id `namespace/name` resolved in the cache.
        #[arg(value_name = "REPO_OR_DIR")]
        target: String,
        /// Revision of a cached repository.
        #[arg(short = 'r', long, default_value = "main")]
        revision: String,
        /// Cache root.
        #[arg(long = "cache-dir", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Omit the per-tensor table.
        #[arg(long = "no-tensors")]
        no_tensors: bool,
    },
}

/// pycsghub's multi-letter short options (`-cd`, `-ld`, `-mw`), which clap cannot express,
/// rewritten to their long forms before parsing. Only exact tokens before `--` are touched.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut rest = false;
    for arg in args {
        if rest {
            out.push(arg);
            continue;
        }
        let mapped = match arg.to_str() {
            Some("--") => {
                rest = true;
                None
            }
            Some(s) => [
                ("-cd", "--cache-dir"),
                ("-ld", "--local-dir"),
                ("-mw", "--max-workers"),
            ]
            .iter()
            .find_map(|(short, long)| {
                if s == *short {
                    Some(OsString::from(*long))
                } else {
                    s.strip_prefix(short)
                        .and_then(|v| v.strip_prefix('='))
                        .map(|v| OsString::from(format!("{long}={v}")))
                }
            }),
            None => None,
        };
        out.push(mapped.unwrap_or(arg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn multi_letter_short_options_are_rewritten() {
        let args = [
            "csghub-cli",
            "download",
            "a/b",
            "-cd",
            "/c",
            "-ld=/l",
            "-mw",
            "3",
        ]
        .map(OsString::from);
        let cli = Cli::try_parse_from(normalize_args(args)).unwrap();
        let Command::Download(d) = cli.command else {
            panic!("not download")
        };
        assert_eq!(d.cache_dir, Some(PathBuf::from("/c")));
        assert_eq!(d.local_dir, Some(PathBuf::from("/l")));
        assert_eq!(d.max_workers, 3);
        let after = normalize_args(["x", "--", "-cd"].map(OsString::from));
        assert_eq!(after[2], OsString::from("-cd"));
    }

    #[test]
    fn download_defaults_match_pycsghub() {
        let cli = Cli::try_parse_from(["csghub-cli", "download", "ns/repo"]).unwrap();
        let Command::Download(d) = cli.command else {
            panic!("not download")
        };
        assert_eq!(d.repo_type, RepoKind::Model);
        assert_eq!(d.revision, "main");
        assert_eq!(d.max_workers, 8);
        assert_eq!(d.source, "csg");
        assert!(!d.dry_run && !d.force_download);
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "csghub-cli",
            "repo",
            "info",
            "ns/repo",
            "-k",
            "tok",
            "-e",
            "http://127.0.0.1:9/",
            "--json",
            "-L",
            "debug",
        ])
        .unwrap();
        assert_eq!(cli.global.token.as_deref(), Some("tok"));
        assert_eq!(cli.global.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert!(cli.global.json);
        assert_eq!(cli.global.log_level, LogLevel::Debug);
    }

    #[test]
    fn bad_repo_id_is_a_usage_error() {
        let err = Cli::try_parse_from(["csghub-cli", "repo", "info", "no-slash"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("namespace/name"), "{err}");
    }
}
