//! Allow/ignore patterns with pycsghub/huggingface_hub semantics: `fnmatch` on the whole
//! repo-relative path where `*` also matches `/`, and a trailing `/` means the whole folder.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::TransferError;

/// A compiled allow-list and ignore-list.
#[derive(Debug, Clone)]
pub struct Filter {
    allow: Option<GlobSet>,
    ignore: Option<GlobSet>,
}

fn compile(patterns: &[String]) -> Result<Option<GlobSet>, TransferError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        // `dir/` means everything below `dir`.
        let p = if p.ends_with('/') {
            format!("{p}*")
        } else {
            p.clone()
        };
        let glob = GlobBuilder::new(&p)
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .map_err(|e| TransferError::Pattern {
                pattern: p.clone(),
                reason: e.kind().to_string(),
            })?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| TransferError::Pattern {
        pattern: patterns.join(", "),
        reason: e.to_string(),
    })
}

impl Filter {
    /// Build from allow patterns (empty = everything) and ignore patterns.
    pub fn new(allow: &[String], ignore: &[String]) -> Result<Filter, TransferError> {
        Ok(Filter {
            allow: compile(allow)?,
            ignore: compile(ignore)?,
        })
    }

    /// Everything.
    pub fn all() -> Filter {
        Filter {
            allow: None,
            ignore: None,
        }
    }

    /// Whether `path` is selected: allowed by one allow pattern (if any) and by no ignore pattern.
    pub fn matches(&self, path: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.is_match(path))
            && self.ignore.as_ref().is_none_or(|i| !i.is_match(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(allow: &[&str], ignore: &[&str]) -> Filter {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Filter::new(&v(allow), &v(ignore)).unwrap()
    }

    #[test]
    fn star_matches_slashes_like_fnmatch() {
        let filter = f(&["*.json"], &[]);
        assert!(filter.matches("config.json"));
        assert!(filter.matches("sub/dir/x.json"));
        assert!(!filter.matches("model.safetensors"));
    }

    #[test]
    fn trailing_slash_selects_a_folder() {
        let filter = f(&["data/"], &[]);
        assert!(filter.matches("data/a/b.txt"));
        assert!(!filter.matches("database.txt"));
    }

    #[test]
    fn ignore_applies_after_allow() {
        let filter = f(&["*.json"], &["tokenizer.json"]);
        assert!(filter.matches("config.json"));
        assert!(!filter.matches("tokenizer.json"));
        let all = f(&[], &["*.bin", "*.pt"]);
        assert!(all.matches("model.safetensors"));
        assert!(!all.matches("pytorch_model.bin"));
    }

    #[test]
    fn question_mark_and_classes() {
        let filter = f(&["file-?.txt", "shard-[0-1]*"], &[]);
        assert!(filter.matches("file-1.txt"));
        assert!(!filter.matches("file-10.txt"));
        assert!(filter.matches("shard-1-of-3"));
        assert!(!filter.matches("shard-2-of-3"));
    }

    #[test]
    fn bad_pattern_is_an_error_naming_it() {
        let err = Filter::new(&["[abc".to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("[abc"), "{err}");
    }
}
