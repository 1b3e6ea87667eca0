//! The effective configuration. This is the ONE module that reads environment variables
//! ([`EnvVars::from_process`]); everything else gets a [`Config`].
//!
//! Token order: `-k/--token` → `CSGHUB_TOKEN` → token file. The token file is
//! `$CSGHUB_TOKEN_PATH`, else `~/.cache/csg/token` (where `login` writes, and where
//! huggingface_hub looks when pycsghub sets `HF_HOME=~/.cache/csg`). pycsghub's own default,
//! `$CSGHUB_HOME/token` (`/home/token` when unset), is read as a fallback only when
//! `CSGHUB_HOME` is set explicitly: a token in the shared `/home` directory is a security
//! smell (PYCSGHUB.md §10.3) and is never read.
//!
//! Endpoint order: `-e/--endpoint` (an explicit value always wins, fixing pycsghub §1.3) →
//! `CSGHUB_DOMAIN` → `https://hub.opencsg.com`.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use csghub_api::Token;

use crate::cli::{DEFAULT_ENDPOINT, GlobalArgs};
use crate::error::CliError;

/// Access token variable (shared with pycsghub).
pub const ENV_TOKEN: &str = "CSGHUB_TOKEN";
/// Token file variable (shared with pycsghub).
pub const ENV_TOKEN_PATH: &str = "CSGHUB_TOKEN_PATH";
/// pycsghub's base folder of its default token file.
pub const ENV_HOME: &str = "CSGHUB_HOME";
/// Endpoint variable (shared with pycsghub).
pub const ENV_DOMAIN: &str = "CSGHUB_DOMAIN";
/// Cache root variable (shared with pycsghub and csghub-cache).
pub const ENV_CACHE: &str = csghub_cache::CACHE_ENV;
/// pycsghub's stack selector; accepted and ignored (csghub-cli has one transfer stack).
pub const ENV_DISABLE_XNET: &str = "CSGHUB_DISABLE_XNET";
/// Offline mode (for the transfer commands).
pub const ENV_OFFLINE: &str = "CSGHUB_OFFLINE";
/// huggingface_hub's offline switch, honoured too.
pub const ENV_HF_OFFLINE: &str = "HF_HUB_OFFLINE";
/// <https://no-color.org>.
pub const ENV_NO_COLOR: &str = "NO_COLOR";

/// Default token file below the home directory.
pub const DEFAULT_TOKEN_SUBPATH: &str = ".cache/csg/token";

/// A snapshot of the environment variables csghub-cli reads.
#[derive(Debug, Clone, Default)]
pub struct EnvVars {
    /// `CSGHUB_TOKEN`.
    pub token: Option<String>,
    /// `CSGHUB_TOKEN_PATH`.
    pub token_path: Option<OsString>,
    /// `CSGHUB_HOME`.
    pub csghub_home: Option<OsString>,
    /// `CSGHUB_DOMAIN`.
    pub domain: Option<String>,
    /// `CSGHUB_CACHE`.
    pub cache: Option<OsString>,
    /// `CSGHUB_DISABLE_XNET`.
    pub disable_xnet: Option<String>,
    /// `CSGHUB_OFFLINE` / `HF_HUB_OFFLINE`.
    pub offline: bool,
    /// `NO_COLOR` set and non-empty.
    pub no_color: bool,
    /// The user's home directory.
    pub home: Option<PathBuf>,
}

fn non_empty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|v| !v.is_empty())
}

fn truthy(v: Option<OsString>) -> bool {
    v.and_then(|v| v.into_string().ok()).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

impl EnvVars {
    /// Reads the process environment (the only place that does).
    pub fn from_process() -> EnvVars {
        let var = |k: &str| non_empty(std::env::var_os(k));
        let string = |k: &str| var(k).map(|v| v.to_string_lossy().into_owned());
        EnvVars {
            token: string(ENV_TOKEN),
            token_path: var(ENV_TOKEN_PATH),
            csghub_home: var(ENV_HOME),
            domain: string(ENV_DOMAIN),
            cache: var(ENV_CACHE),
            disable_xnet: string(ENV_DISABLE_XNET),
            offline: truthy(var(ENV_OFFLINE)) || truthy(var(ENV_HF_OFFLINE)),
            no_color: var(ENV_NO_COLOR).is_some(),
            home: std::env::home_dir().filter(|h| !h.as_os_str().is_empty()),
        }
    }
}

/// Where the endpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// `-e/--endpoint`.
    Flag,
    /// `CSGHUB_DOMAIN`.
    Env,
    /// The built-in default.
    Default,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndpointSource::Flag => "-e/--endpoint",
            EndpointSource::Env => ENV_DOMAIN,
            EndpointSource::Default => "default",
        })
    }
}

/// Where the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `-k/--token`.
    Flag,
    /// `CSGHUB_TOKEN`.
    Env,
    /// A token file.
    File(PathBuf),
    /// Typed at the `login` prompt or piped to it.
    Input,
}

impl TokenSource {
    /// "the token from CSGHUB_TOKEN", "the token you entered", ...
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Input => "the token you entered".into(),
            other => format!("the token from {other}"),
        }
    }

    /// What to do when this token is wrong.
    pub fn fix_hint(&self) -> String {
        match self {
            TokenSource::Input => {
                "copy the whole access token from your account settings and try again".into()
            }
            TokenSource::Flag => {
                "pass a valid token with -k, or save one with `csghub-cli login`".into()
            }
            TokenSource::Env => {
                format!("set {ENV_TOKEN} to a valid token, or unset it and run `csghub-cli login`")
            }
            TokenSource::File(_) => {
                format!("run `csghub-cli login` to replace it, or set {ENV_TOKEN}")
            }
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Flag => f.write_str("-k/--token"),
            TokenSource::Env => f.write_str(ENV_TOKEN),
            TokenSource::File(p) => write!(f, "token file {}", p.display()),
            TokenSource::Input => f.write_str("the login prompt"),
        }
    }
}

/// The effective configuration of one run.
#[derive(Clone)]
pub struct Config {
    /// Normalised endpoint without trailing slash.
    pub endpoint: String,
    /// Where it came from.
    pub endpoint_source: EndpointSource,
    /// The token, if any (prints as `***`).
    pub token: Option<Token>,
    /// Where the token came from.
    pub token_source: Option<TokenSource>,
    /// Where `login` writes and `logout` deletes.
    pub token_path: Option<PathBuf>,
    /// Problems reading the token file (reported as warnings; the run goes on without it).
    pub token_warning: Option<String>,
    /// `CSGHUB_CACHE` (raw) and home, to resolve the cache root on demand.
    cache_env: Option<OsString>,
    home: Option<PathBuf>,
    /// `CSGHUB_TOKEN` is set (it overrides a saved token; `login`/`logout` warn about it).
    pub env_token_set: bool,
    /// Offline mode requested by environment.
    pub offline: bool,
    /// The raw value of `CSGHUB_DISABLE_XNET`, if set (ignored).
    pub disable_xnet: Option<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint)
            .field("endpoint_source", &self.endpoint_source)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_source", &self.token_source)
            .field("token_path", &self.token_path)
            .finish_non_exhaustive()
    }
}

/// Reads a token file: `Ok(None)` if absent or empty.
pub fn read_token_file(path: &Path) -> Result<Option<String>, std::io::Error> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let s = s.replace(['\r', '\n'], "");
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
        // A file where a folder should be also means "no token file".
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn make_token(value: &str, source: &TokenSource) -> Result<Token, CliError> {
    Token::new(value.replace(['\r', '\n'], "")).map_err(|_| CliError::BadTokenValue {
        origin: source.describe(),
        hint: source.fix_hint(),
    })
}

impl Config {
    /// Resolves flags and environment into the effective configuration.
    pub fn resolve(flags: &GlobalArgs, env: &EnvVars) -> Result<Config, CliError> {
        let (endpoint, endpoint_source) = match (&flags.endpoint, &env.domain) {
            (Some(e), _) => (e.clone(), EndpointSource::Flag),
            (None, Some(d)) => {
                let cfg = csghub_api::ClientConfig::new(d).map_err(|e| CliError::Config {
                    what: format!("{ENV_DOMAIN}={d:?}"),
                    detail: e.to_string(),
                    hint: format!("set {ENV_DOMAIN} to a URL like {DEFAULT_ENDPOINT}, or pass -e"),
                })?;
                (
                    cfg.endpoint().as_str().trim_end_matches('/').to_owned(),
                    EndpointSource::Env,
                )
            }
            (None, None) => (DEFAULT_ENDPOINT.to_owned(), EndpointSource::Default),
        };

        let token_path = match &env.token_path {
            Some(p) => Some(PathBuf::from(p)),
            None => env.home.as_ref().map(|h| {
                DEFAULT_TOKEN_SUBPATH
                    .split('/')
                    .fold(h.clone(), |p, s| p.join(s))
            }),
        };
        let legacy_path = match (&env.token_path, &env.csghub_home) {
            (None, Some(h)) => Some(PathBuf::from(h).join("token")),
            _ => None,
        };

        let mut token_warning = None;
        let (token, token_source) =
            if let Some(t) = flags.token.as_deref().filter(|t| !t.trim().is_empty()) {
                (
                    Some(make_token(t, &TokenSource::Flag)?),
                    Some(TokenSource::Flag),
                )
            } else if let Some(t) = env.token.as_deref().filter(|t| !t.trim().is_empty()) {
                (
                    Some(make_token(t, &TokenSource::Env)?),
                    Some(TokenSource::Env),
                )
            } else {
                let mut found = (None, None);
                for path in token_path.iter().chain(legacy_path.iter()) {
                    match read_token_file(path) {
                        Ok(Some(t)) => {
                            let src = TokenSource::File(path.clone());
                            found = (Some(make_token(&t, &src)?), Some(src));
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            token_warning = Some(format!(
                                "cannot read token file {}: {e}; continuing without a token",
                                path.display()
                            ));
                            break;
                        }
                    }
                }
                found
            };

        Ok(Config {
            endpoint,
            endpoint_source,
            token,
            token_source,
            token_path,
            token_warning,
            cache_env: env.cache.clone(),
            home: env.home.clone(),
            env_token_set: env.token.as_deref().is_some_and(|t| !t.trim().is_empty()),
            offline: env.offline,
            disable_xnet: env.disable_xnet.clone(),
        })
    }

    /// The cache root: `explicit` (a `--cache-dir`), else `CSGHUB_CACHE`, else
    /// `~/.cache/csg/hub`.
    pub fn cache_root(&self, explicit: Option<&Path>) -> Result<PathBuf, CliError> {
        csghub_cache::CacheDir::resolve_root(
            explicit.map(Path::to_path_buf),
            self.cache_env.clone(),
            self.home.clone(),
        )
        .map_err(|e| CliError::Config {
            what: "cache directory".into(),
            detail: e.to_string(),
            hint: format!("set {ENV_CACHE} or pass --cache-dir"),
        })
    }

    /// Where the cache root came from, for `env`.
    pub fn cache_source(&self) -> &'static str {
        if self.cache_env.is_some() {
            ENV_CACHE
        } else {
            "default"
        }
    }

    /// The token path or an error saying how to set one.
    pub fn require_token_path(&self) -> Result<&Path, CliError> {
        self.token_path.as_deref().ok_or_else(|| CliError::Config {
            what: "token file".into(),
            detail: "no home directory found".into(),
            hint: format!("set {ENV_TOKEN_PATH}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(token: Option<&str>, endpoint: Option<&str>) -> GlobalArgs {
        GlobalArgs {
            token: token.map(str::to_owned),
            endpoint: endpoint.map(str::to_owned),
            ..GlobalArgs::default()
        }
    }

    #[test]
    fn explicit_default_endpoint_beats_csghub_domain() {
        let env = EnvVars {
            domain: Some("http://other.example".into()),
            ..EnvVars::default()
        };
        let c = Config::resolve(&flags(None, Some(DEFAULT_ENDPOINT)), &env).unwrap();
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.endpoint_source, EndpointSource::Flag);
        let c = Config::resolve(&flags(None, None), &env).unwrap();
        assert_eq!(c.endpoint, "http://other.example");
        assert_eq!(c.endpoint_source, EndpointSource::Env);
        let c = Config::resolve(&flags(None, None), &EnvVars::default()).unwrap();
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.endpoint_source, EndpointSource::Default);
    }

    #[test]
    fn bad_domain_is_reported() {
        let env = EnvVars {
            domain: Some("ftp://x".into()),
            ..EnvVars::default()
        };
        let err = Config::resolve(&flags(None, None), &env).unwrap_err();
        assert!(err.to_string().contains("CSGHUB_DOMAIN"), "{err}");
    }

    #[test]
    fn token_order_is_flag_env_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tok");
        std::fs::write(&file, "filetoken\r\n").unwrap();
        let mut env = EnvVars {
            token: Some("envtoken".into()),
            token_path: Some(file.clone().into()),
            ..EnvVars::default()
        };
        let c = Config::resolve(&flags(Some("flagtoken"), None), &env).unwrap();
        assert_eq!(c.token.unwrap().expose(), "flagtoken");
        assert_eq!(c.token_source, Some(TokenSource::Flag));
        let c = Config::resolve(&flags(Some(""), None), &env).unwrap();
        assert_eq!(c.token.unwrap().expose(), "envtoken");
        env.token = None;
        let c = Config::resolve(&flags(None, None), &env).unwrap();
        assert_eq!(c.token.unwrap().expose(), "filetoken");
        assert_eq!(c.token_source, Some(TokenSource::File(file)));
    }

    #[test]
    fn default_token_path_is_under_home_and_legacy_needs_csghub_home() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("legacy");
        std::fs::create_dir(&legacy).unwrap();
        std::fs::write(legacy.join("token"), "legacytoken").unwrap();
        let mut env = EnvVars {
            home: Some(dir.path().to_path_buf()),
            ..EnvVars::default()
        };
        let c = Config::resolve(&flags(None, None), &env).unwrap();
        assert_eq!(
            c.token_path.as_deref(),
            Some(dir.path().join(".cache/csg/token").as_path())
        );
        assert!(c.token.is_none());
        env.csghub_home = Some(legacy.clone().into());
        let c = Config::resolve(&flags(None, None), &env).unwrap();
        assert_eq!(c.token.unwrap().expose(), "legacytoken");
        // `login` still writes to the new default.
        assert_eq!(
            c.token_path.as_deref(),
            Some(dir.path().join(".cache/csg/token").as_path())
        );
    }

    #[test]
    fn malformed_token_names_its_source_not_its_value() {
        let env = EnvVars {
            token: Some("has space inside".into()),
            ..EnvVars::default()
        };
        let err = Config::resolve(&flags(None, None), &env).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("CSGHUB_TOKEN"), "{text}");
        assert!(!text.contains("has space"), "{text}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = Config::resolve(&flags(Some("sekrit"), None), &EnvVars::default()).unwrap();
        assert!(!format!("{c:?}").contains("sekrit"));
    }
}
