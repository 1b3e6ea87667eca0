//! Repository identity and the URL encoding rules of SERVER.md §1.3 and §4.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use crate::Error;

/// Everything but RFC 3986 unreserved characters is percent-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The kinds of repository (SERVER.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepoType {
    /// `models`
    Model,
    /// `datasets`
    Dataset,
    /// `spaces`
    Space,
    /// `codes`
    Code,
    /// `mcps` in REST, `mcpservers` in git paths.
    McpServer,
    /// `skills`
    Skill,
    /// `prompts` (no HF-compatible routes).
    Prompt,
}

impl RepoType {
    /// All kinds.
    pub const ALL: [RepoType; 7] = [
        RepoType::Model,
        RepoType::Dataset,
        RepoType::Space,
        RepoType::Code,
        RepoType::McpServer,
        RepoType::Skill,
        RepoType::Prompt,
    ];

    /// Segment of `/api/v1/{segment}/...` (`mcps` for MCP servers).
    pub fn rest_segment(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
            RepoType::Code => "codes",
            RepoType::McpServer => "mcps",
            RepoType::Skill => "skills",
            RepoType::Prompt => "prompts",
        }
    }

    /// Segment of git and LFS routes `/{segment}/{ns}/{name}.git/...` (`mcpservers`).
    pub fn git_segment(self) -> &'static str {
        match self {
            RepoType::McpServer => "mcpservers",
            other => other.rest_segment(),
        }
    }

    /// The server's internal singular name (`model`, `mcpserver`, ...).
    pub fn singular(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
            RepoType::Code => "code",
            RepoType::McpServer => "mcpserver",
            RepoType::Skill => "skill",
            RepoType::Prompt => "prompt",
        }
    }

    /// Prefix after `/hf` for resolve routes: `""` for models, `"/datasets"`, ... ;
    /// `None` for prompts.
    pub fn hf_resolve_prefix(self) -> Option<&'static str> {
        match self {
            RepoType::Model => Some(""),
            RepoType::Prompt => None,
            RepoType::McpServer => Some("/mcps"),
            other => Some(match other {
                RepoType::Dataset => "/datasets",
                RepoType::Space => "/spaces",
                RepoType::Code => "/codes",
                _ => "/skills",
            }),
        }
    }

    /// Segment of `/hf/api/{segment}/...` info routes; `None` for prompts.
    pub fn hf_api_segment(self) -> Option<&'static str> {
        match self {
            RepoType::Prompt => None,
            other => Some(other.rest_segment()),
        }
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.singular())
    }
}

impl FromStr for RepoType {
    type Err = Error;
    /// Accepts singular and plural names (`model`, `models`, `mcp`, `mcps`, `mcpserver`, ...).
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "model" | "models" => RepoType::Model,
            "dataset" | "datasets" => RepoType::Dataset,
            "space" | "spaces" => RepoType::Space,
            "code" | "codes" => RepoType::Code,
            "mcp" | "mcps" | "mcpserver" | "mcpservers" => RepoType::McpServer,
            "skill" | "skills" => RepoType::Skill,
            "prompt" | "prompts" => RepoType::Prompt,
            _ => {
                return Err(Error::InvalidInput {
                    what: "repo type",
                    value: s.to_owned(),
                    reason: "expected model, dataset, space, code, mcp, skill or prompt",
                });
            }
        })
    }
}

/// `namespace/name`, validated so it can be placed in a URL path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoId {
    namespace: String,
    name: String,
}

impl RepoId {
    /// Builds an id from its parts.
    pub fn new(namespace: &str, name: &str) -> Result<Self, Error> {
        for (what, part) in [("namespace", namespace), ("repo name", name)] {
            check_segment(what, part)?;
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The namespace (user or organisation).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `{ns}/{name}`, each part percent-encoded.
    pub fn encoded(&self) -> String {
        format!(
            "{}/{}",
            encode_segment(&self.namespace),
            encode_segment(&self.name)
        )
    }
}

impl FromStr for RepoId {
    type Err = Error;
    /// Parses `namespace/name`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.split_once('/') {
            Some((ns, name)) if !name.contains('/') => RepoId::new(ns, name),
            _ => Err(Error::InvalidInput {
                what: "repo id",
                value: s.to_owned(),
                reason: "expected `namespace/name`",
            }),
        }
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

fn check_segment(what: &'static str, part: &str) -> Result<(), Error> {
    let reason = if part.is_empty() {
        "must not be empty"
    } else if part == "." || part == ".." {
        "must not be `.` or `..`"
    } else if part.contains('/') {
        "must not contain `/`"
    } else if part.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidInput {
        what,
        value: part.to_owned(),
        reason,
    })
}

/// Percent-encodes one path segment (everything except `A-Z a-z 0-9 - . _ ~`).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Encodes a revision for a path segment. `/` becomes `%2F`, but the server decodes it before
/// routing (SERVER.md §1.3), so such refs (`refs/pr/1`, `feature/x`) only work on routes that
/// take the revision as `?ref=`; see [`revision_fits_path`].
pub fn encode_revision(revision: &str) -> Result<String, Error> {
    check_revision(revision)?;
    Ok(encode_segment(revision))
}

/// Whether `revision` can be placed in a path segment (it has no `/`).
pub fn revision_fits_path(revision: &str) -> bool {
    !revision.contains('/')
}

pub(crate) fn check_revision(revision: &str) -> Result<(), Error> {
    let reason = if revision.is_empty() {
        "must not be empty: always send an explicit revision (SERVER.md §5)"
    } else if revision.chars().any(|c| c.is_control() || c == ' ') {
        "must not contain spaces or control characters"
    } else if revision == "." || revision == ".." {
        "must not be `.` or `..`"
    } else {
        return Ok(());
    };
    Err(Error::InvalidInput {
        what: "revision",
        value: revision.to_owned(),
        reason,
    })
}

/// Encodes a file path inside a repository: `/` kept, each segment percent-encoded. Leading and
/// trailing `/` are dropped; empty, `.` and `..` segments and control characters are refused
/// (a URL parser would fold `..` and hit another route). An empty path is allowed (root).
pub fn encode_repo_path(path: &str) -> Result<String, Error> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let mut out = Vec::new();
    for segment in trimmed.split('/') {
        let reason = if segment.is_empty() {
            "must not contain `//`"
        } else if segment == "." || segment == ".." {
            "must not contain `.` or `..` segments"
        } else if segment.chars().any(char::is_control) {
            "must not contain control characters"
        } else {
            out.push(encode_segment(segment));
            continue;
        };
        return Err(Error::InvalidInput {
            what: "file path",
            value: path.to_owned(),
            reason,
        });
    }
    Ok(out.join("/"))
}

/// Query keys whose values are secrets (signatures, credentials, tokens).
const SECRET_QUERY_KEYS: [&str; 8] = [
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "token",
    "jwt",
    "access_token",
    "authorization",
];

/// The URL as it may appear in errors and logs: no userinfo, secret query values as `***`.
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_QUERY_KEYS.contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if secret {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}
