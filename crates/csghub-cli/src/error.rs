//! Every failure of the CLI as one line that says what failed and what to do, plus its exit
//! code (0 ok, 1 failure, 2 usage). Server errors come from csghub-api already redacted; this
//! module adds the context (endpoint, token source, repository) and the advice.

use std::fmt;
use std::path::PathBuf;

use csghub_api::Error as ApiError;

use crate::cli::RepoKind;
use crate::config::TokenSource;

/// Exit code of a usage error (same as clap's).
pub const EXIT_USAGE: i32 = 2;
/// Exit code of any other failure.
pub const EXIT_FAILURE: i32 = 1;

/// What an API call was about, to name it in errors.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// The repository.
    pub repo: Option<(RepoKind, csghub_api::RepoId)>,
    /// The revision asked for.
    pub revision: Option<String>,
    /// The file or folder asked for.
    pub path: Option<String>,
    /// Anything else (`inference instance 5 of ns/name`, `user alice`).
    pub what: Option<String>,
}

impl Subject {
    /// A repository.
    pub fn repo(kind: RepoKind, id: &csghub_api::RepoId) -> Subject {
        Subject {
            repo: Some((kind, id.clone())),
            ..Subject::default()
        }
    }

    /// Something that is not a repository.
    pub fn other(what: impl Into<String>) -> Subject {
        Subject {
            what: Some(what.into()),
            ..Subject::default()
        }
    }

    /// Adds the revision.
    pub fn at(mut self, revision: &str) -> Subject {
        self.revision = Some(revision.to_owned());
        self
    }

    /// Adds a path.
    pub fn path(mut self, path: &str) -> Subject {
        self.path = Some(path.to_owned());
        self
    }

    fn name(&self) -> String {
        match (&self.what, &self.repo) {
            (Some(w), _) => w.clone(),
            (None, Some((k, id))) => format!("{} {id}", k.as_str()),
            (None, None) => "the request".into(),
        }
    }
}

/// A failed API call with the context to explain it.
#[derive(Debug)]
pub struct ApiFailure {
    /// The error.
    pub error: ApiError,
    /// The endpoint.
    pub endpoint: String,
    /// Where the token came from, if one was sent.
    pub token_source: Option<TokenSource>,
    /// What the call was about.
    pub subject: Subject,
}

/// Every failure of the CLI.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A configuration value is unusable.
    #[error("invalid {what}: {detail}; {hint}")]
    Config {
        /// Which setting.
        what: String,
        /// What is wrong.
        detail: String,
        /// What to do.
        hint: String,
    },
    /// The configured token cannot be sent (never shows the value).
    #[error("{origin} is malformed (a token is printable ASCII without spaces); {hint}")]
    BadTokenValue {
        /// Which token ("the token from CSGHUB_TOKEN").
        origin: String,
        /// What to do.
        hint: String,
    },
    /// The command needs a token and none is configured.
    #[error(
        "not logged in to {endpoint}: no token in -k/--token, CSGHUB_TOKEN or {token_file}; \
         run `csghub-cli login` or set CSGHUB_TOKEN"
    )]
    NotLoggedIn {
        /// The endpoint.
        endpoint: String,
        /// The token file looked at.
        token_file: String,
    },
    /// A server call failed.
    #[error("{}", render_api(.0))]
    Api(Box<ApiFailure>),
    /// The local cache could not be used.
    #[error("{action}: {source}")]
    Cache {
        /// What was being done.
        action: String,
        /// The cache error (names the path); boxed, it is large.
        source: Box<csghub_cache::CacheError>,
    },
    /// A model could not be read.
    #[error("cannot inspect {target}: {source}")]
    Reader {
        /// The folder or repo.
        target: String,
        /// The reader error (names the file); boxed, it is large.
        source: Box<csghub_reader::Error>,
    },
    /// A local file operation failed.
    #[error("cannot {action} {}: {source}{}", .path.display(), io_hint(.source))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Any other failure, already phrased as one line with advice.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Api(f) if matches!(f.error, ApiError::InvalidInput { .. }) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Wraps an API error with its context.
    pub fn api(
        error: ApiError,
        endpoint: &str,
        token_source: Option<&TokenSource>,
        subject: Subject,
    ) -> CliError {
        CliError::Api(Box::new(ApiFailure {
            error,
            endpoint: endpoint.to_owned(),
            token_source: token_source.cloned(),
            subject,
        }))
    }

    /// A local I/O failure.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> CliError {
        CliError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

fn io_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        PermissionDenied | ReadOnlyFilesystem => "; check the permissions or choose another path",
        NotADirectory | AlreadyExists => "; a file is in the way, choose another path",
        StorageFull => "; free some disk space",
        _ => "",
    }
}

/// The innermost cause of an error: for a refused connection, "Connection refused (os error
/// 111)" rather than reqwest's "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The server's message without a leading copy of its code (`SYS-ERR-3: record not found`).
fn message(info: &csghub_api::ApiErrorInfo) -> &str {
    let m = info.message.as_str();
    info.code
        .as_deref()
        .and_then(|c| m.strip_prefix(c))
        .map_or(m, |rest| rest.trim_start_matches([':', ' ']))
}

fn render_api(f: &ApiFailure) -> String {
    let ApiFailure {
        error,
        endpoint,
        token_source,
        subject,
    } = f;
    let name = subject.name();
    let code = |info: &csghub_api::ApiErrorInfo| {
        let mut s = format!("HTTP {}", info.status);
        if let Some(c) = &info.code {
            s.push(' ');
            s.push_str(c);
        }
        s
    };
    let repo_cmd = |cmd: &str| match &subject.repo {
        Some((k, id)) if *k == RepoKind::Model => format!("`csghub-cli repo {cmd} {id}`"),
        Some((k, id)) => format!("`csghub-cli repo {cmd} {id} -t {}`", k.as_str()),
        None => format!("`csghub-cli repo {cmd}`"),
    };
    match error {
        ApiError::Unauthorized { info, .. } => match token_source {
            Some(src) => format!(
                "{endpoint} rejected {} ({}); {}",
                src.describe(),
                code(info),
                src.fix_hint()
            ),
            _ => format!(
                "{endpoint} requires a login for {name} ({}){}; run `csghub-cli login` or set \
                 CSGHUB_TOKEN",
                code(info),
                if matches!(subject.repo, Some((RepoKind::Dataset, _))) {
                    " (CSGHub serves datasets to logged-in users only, even public ones)"
                } else {
                    ""
                }
            ),
        },
        ApiError::Forbidden(info) => {
            let (who, fix) = match token_source {
                Some(src) => (
                    format!("the account of {}", src.describe()),
                    "ask the owner for access, or use a token of an account that has it",
                ),
                None => (
                    "anonymous users".to_owned(),
                    "log in with an account that has access (`csghub-cli login`)",
                ),
            };
            format!(
                "access to {name} on {endpoint} is denied for {who} ({}); {fix}",
                code(info)
            )
        }
        ApiError::RepoNotFound(info) => {
            let private = if token_source.is_none() {
                " (a private repository needs a token: `csghub-cli login`)"
            } else {
                ""
            };
            format!(
                "{name} not found on {endpoint} ({}); check the repo id and -t/--repo-type{private}",
                code(info)
            )
        }
        ApiError::RevisionNotFound(info) => format!(
            "revision {:?} not found in {name} ({}); list branches with {}",
            subject.revision.as_deref().unwrap_or("?"),
            code(info),
            repo_cmd("branches")
        ),
        ApiError::EntryNotFound(info) => format!(
            "{:?} not found in {name} at revision {:?} ({}); list files with {}",
            subject.path.as_deref().unwrap_or("?"),
            subject.revision.as_deref().unwrap_or("?"),
            code(info),
            repo_cmd("files")
        ),
        ApiError::NotFound(info) => format!(
            "{name} not found on {endpoint} ({}): {}",
            code(info),
            message(info)
        ),
        ApiError::Conflict(info) => format!(
            "{name}: the server refused because of a conflict ({}): {}",
            code(info),
            message(info)
        ),
        ApiError::RateLimited { info, retry_after } => format!(
            "{endpoint} is rate limiting requests ({}); retry in {} s",
            code(info),
            retry_after.map_or(60, |d| d.as_secs())
        ),
        ApiError::NotReady { info, retry_after } => format!(
            "{name} is not ready yet ({}: {}); retry in {} s",
            code(info),
            message(info),
            retry_after.map_or(10, |d| d.as_secs())
        ),
        ApiError::Server(info) => {
            let mut s = format!("{endpoint} failed on {name} ({}", code(info));
            if !message(info).is_empty() {
                s.push_str(": ");
                s.push_str(message(info));
            }
            s.push(')');
            if let Some(id) = &info.request_id {
                s.push_str(&format!(" [request id {id}]"));
            }
            s.push_str(if error.is_transient() {
                "; try again later"
            } else {
                "; if it persists, report it to the server's operators with the request id"
            });
            s
        }
        ApiError::Transport { source, .. } => format!(
            "cannot reach {endpoint}: {}; check -e/--endpoint or CSGHUB_DOMAIN, your network \
             and proxy settings",
            root_cause(source)
        ),
        ApiError::Decode { url, status, .. } => format!(
            "unexpected answer from {url} (HTTP {status}); is {endpoint} a CSGHub server? (run \
             with -v for details)"
        ),
        ApiError::InvalidInput {
            what,
            value,
            reason,
        } => format!("invalid {what} {value:?}: {reason}"),
        ApiError::Setup(msg) => format!("cannot set up the HTTP client: {msg}"),
        other => format!("{name} failed: {other}"),
    }
}

/// A one-line summary for logs; `Display` of [`ApiFailure`] is the full message.
impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_api(self))
    }
}
