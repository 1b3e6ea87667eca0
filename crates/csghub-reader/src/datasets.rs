//! Dataset snapshots: which files make up which split, following the HuggingFace `datasets`
//! conventions.
//!
//! Resolution order (as `datasets.load_dataset` does it):
//! 1. `configs:` in the README.md YAML front matter, with `data_files` given as a pattern, a
//!    list of patterns, or a list of `{split, path}` entries (`data_dir` also honoured);
//! 2. else the `push_to_hub` layout `data/{split}-NNNNN-of-NNNNN.*`;
//! 3. else split keywords in directory names (`train/`, `data/test-0/`, …);
//! 4. else split keywords in file names (`train.csv`, `my_validation-01.jsonl`, …), with
//!    `valid`/`val`/`dev` meaning validation and `eval`/`testing` meaning test;
//! 5. else every data file is the `train` split.
//!
//! Only parquet, jsonl, json, csv and arrow files count as data files; hidden files and
//! directories (`.git`, `.cache`) and `__`-prefixed ones are ignored.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result, io_err};

/// File format of a data file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// `.parquet`
    Parquet,
    /// `.jsonl`
    JsonLines,
    /// `.json`
    Json,
    /// `.csv`
    Csv,
    /// `.arrow`
    Arrow,
}

impl DataFormat {
    /// The format of a file name, `None` if it is not a data file.
    pub fn from_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "parquet" => Self::Parquet,
            "jsonl" => Self::JsonLines,
            "json" => Self::Json,
            "csv" => Self::Csv,
            "arrow" => Self::Arrow,
            _ => return None,
        })
    }
}

/// One data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Path relative to the dataset root, `/`-separated.
    pub relative: String,
    /// Full path on disk.
    pub path: PathBuf,
    /// Its format.
    pub format: DataFormat,
}

/// The files of one split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitFiles {
    /// Split name (`train`, `validation`, `test`, or a custom name from the card).
    pub split: String,
    /// Files, sorted by relative path.
    pub files: Vec<DataFile>,
}

/// Split → files of one dataset config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFiles {
    /// Config name (`default` when inferred).
    pub config_name: String,
    /// Splits in order: train, validation, test, then others as listed.
    pub splits: Vec<SplitFiles>,
}

impl DataFiles {
    /// The files of one split.
    pub fn get(&self, split: &str) -> Option<&[DataFile]> {
        self.splits
            .iter()
            .find(|s| s.split == split)
            .map(|s| s.files.as_slice())
    }

    /// Split names in order.
    pub fn split_names(&self) -> Vec<&str> {
        self.splits.iter().map(|s| s.split.as_str()).collect()
    }
}

/// Patterns of one split in a card's `data_files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPatterns {
    /// Split name.
    pub split: String,
    /// Glob patterns relative to the dataset root.
    pub patterns: Vec<String>,
}

/// One entry of the card's `configs:` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetConfig {
    /// `config_name` (`default` if absent).
    pub name: String,
    /// `default: true`.
    pub default: bool,
    /// `data_files`, normalised to split → patterns (empty if only `data_dir` is given).
    pub data_files: Vec<SplitPatterns>,
    /// `data_dir`, if given.
    pub data_dir: Option<String>,
}

/// A dataset snapshot on disk.
#[derive(Debug, Clone)]
pub struct DatasetRepo {
    root: PathBuf,
}

impl DatasetRepo {
    /// Use a local directory (a checkout or a resolved snapshot) as a dataset.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::MissingFile {
                path: root,
                hint: "expected a dataset directory",
            });
        }
        Ok(Self { root })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The `configs:` of the README.md front matter (empty if there is no card or no configs).
    pub fn configs(&self) -> Result<Vec<DatasetConfig>> {
        let readme = self.root.join("README.md");
        if !readme.is_file() {
            return Ok(Vec::new());
        }
        let text = std::fs::read_to_string(&readme).map_err(io_err(&readme))?;
        parse_card_configs(&text, &readme)
    }

    /// Split → files of the default config: the card's config marked `default: true`, else
    /// the one named `default`, else the first; with no configs, inferred from file names.
    pub fn data_files(&self) -> Result<DataFiles> {
        let configs = self.configs()?;
        let chosen = configs
            .iter()
            .find(|c| c.default)
            .or_else(|| configs.iter().find(|c| c.name == "default"))
            .or_else(|| configs.first());
        match chosen {
            Some(c) => self.resolve_config(c),
            None => self.infer("default", ""),
        }
    }

    /// Split → files of a named config from the card.
    pub fn data_files_for(&self, config_name: &str) -> Result<DataFiles> {
        let configs = self.configs()?;
        match configs.iter().find(|c| c.name == config_name) {
            Some(c) => self.resolve_config(c),
            None if configs.is_empty() && config_name == "default" => self.infer("default", ""),
            None => Err(Error::UnknownDatasetConfig {
                name: config_name.to_owned(),
                available: if configs.is_empty() {
                    "default".to_owned()
                } else {
                    configs
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    }

    fn resolve_config(&self, config: &DatasetConfig) -> Result<DataFiles> {
        let readme = self.root.join("README.md");
        let prefix = match &config.data_dir {
            Some(d) => {
                let d = d.trim_end_matches('/');
                check_pattern(d, &readme)?;
                format!("{d}/")
            }
            None => String::new(),
        };
        if config.data_files.is_empty() {
            return self.infer(&config.name, &prefix);
        }
        let files = self.list_files()?;
        let mut splits = Vec::new();
        for sp in &config.data_files {
            let mut matched = Vec::new();
            for pattern in &sp.patterns {
                check_pattern(pattern, &readme)?;
                let full = format!("{prefix}{}", pattern.trim_start_matches("./"));
                let m = matcher(&full).map_err(|reason| Error::InvalidPattern {
                    path: readme.clone(),
                    pattern: pattern.clone(),
                    reason,
                })?;
                let before = matched.len();
                matched.extend(files.iter().filter(|f| m.is_match(&f.relative)).cloned());
                if matched.len() == before {
                    return Err(Error::InvalidPattern {
                        path: readme.clone(),
                        pattern: pattern.clone(),
                        reason: format!("matches no data files for split {:?}", sp.split),
                    });
                }
            }
            splits.push(finish_split(&sp.split, matched));
        }
        Ok(DataFiles {
            config_name: config.name.clone(),
            splits,
        })
    }

    /// Infer splits from file and directory names under `prefix` (`""` or `dir/`).
    fn infer(&self, config_name: &str, prefix: &str) -> Result<DataFiles> {
        let files: Vec<DataFile> = self
            .list_files()?
            .into_iter()
            .filter(|f| f.relative.starts_with(prefix))
            .collect();
        if files.is_empty() {
            return Err(Error::NoDataFiles {
                dir: self.root.join(prefix),
            });
        }
        let rel = |f: &DataFile| f.relative[prefix.len()..].to_owned();

        // 2. data/{split}-NNNNN-of-NNNNN.*
        let mut sharded: Vec<(String, DataFile)> = files
            .iter()
            .filter_map(|f| Some((sharded_split(&rel(f))?, f.clone())))
            .collect();
        if !sharded.is_empty() {
            sharded.sort_by(|a, b| a.0.cmp(&b.0));
            let mut names: Vec<String> = sharded.iter().map(|(s, _)| s.clone()).collect();
            names.dedup();
            order_splits(&mut names);
            let splits = names
                .into_iter()
                .map(|name| {
                    let fs = sharded
                        .iter()
                        .filter(|(s, _)| *s == name)
                        .map(|(_, f)| f.clone());
                    finish_split(&name, fs.collect())
                })
                .collect();
            return Ok(DataFiles {
                config_name: config_name.to_owned(),
                splits,
            });
        }

        // 3. and 4. keywords in directory names, then in file names.
        for bases in [DIR_PATTERNS, FILE_PATTERNS] {
            let mut splits = Vec::new();
            for (split, keywords) in SPLIT_KEYWORDS {
                let mut matchers = Vec::new();
                for kw in *keywords {
                    for base in bases {
                        let p = base.replace("{kw}", kw).replace("{sep}", SEP);
                        matchers.push(matcher(&p).map_err(|reason| Error::InvalidPattern {
                            path: self.root.clone(),
                            pattern: p.clone(),
                            reason,
                        })?);
                    }
                }
                let matched: Vec<DataFile> = files
                    .iter()
                    .filter(|f| {
                        let r = rel(f);
                        matchers.iter().any(|m| m.is_match(&r))
                    })
                    .cloned()
                    .collect();
                if !matched.is_empty() {
                    splits.push(finish_split(split, matched));
                }
            }
            if !splits.is_empty() {
                return Ok(DataFiles {
                    config_name: config_name.to_owned(),
                    splits,
                });
            }
        }

        // 5. everything is train.
        Ok(DataFiles {
            config_name: config_name.to_owned(),
            splits: vec![finish_split("train", files)],
        })
    }

    /// Every data file under the root, relative `/`-separated paths, sorted. Hidden and
    /// `__`-prefixed entries are skipped; directory symlinks are not followed (no cycles).
    fn list_files(&self) -> Result<Vec<DataFile>> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new(), 0usize)];
        while let Some((dir, rel, depth)) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(io_err(&dir))?;
            for entry in entries {
                let entry = entry.map_err(io_err(&dir))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') || name.starts_with("__") {
                    continue;
                }
                let path = entry.path();
                let relative = format!("{rel}{name}");
                let ft = entry.file_type().map_err(io_err(&path))?;
                if ft.is_dir() {
                    if depth < 32 {
                        stack.push((path, format!("{relative}/"), depth + 1));
                    }
                    continue;
                }
                // Snapshot files are often symlinks into a blob store: follow file links only.
                let is_file = ft.is_file() || (ft.is_symlink() && path.is_file());
                if let (true, Some(format)) = (is_file, DataFormat::from_name(&name)) {
                    out.push(DataFile {
                        relative,
                        path,
                        format,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(out)
    }
}

const SEP: &str = "-._ 0-9";
const SPLIT_KEYWORDS: &[(&str, &[&str])] = &[
    ("train", &["train", "training"]),
    ("validation", &["validation", "valid", "dev", "val"]),
    ("test", &["test", "testing", "eval", "evaluation"]),
];
const DIR_PATTERNS: &[&str] = &[
    "**/{kw}/**",
    "**/{kw}[{sep}]*/**",
    "**/*[{sep}]{kw}/**",
    "**/*[{sep}]{kw}[{sep}]*/**",
];
const FILE_PATTERNS: &[&str] = &["**/{kw}[{sep}]*", "**/*[{sep}]{kw}[{sep}]*"];

fn matcher(pattern: &str) -> std::result::Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| e.to_string())
}

/// `data/{split}-NNNNN-of-NNNNN*.*` → split.
fn sharded_split(rel: &str) -> Option<String> {
    let name = rel.strip_prefix("data/")?;
    if name.contains('/') || !name.contains('.') {
        return None;
    }
    // Find "-DDDDD-of-DDDDD" (the split name itself may contain '-').
    let bytes = name.as_bytes();
    (1..bytes.len()).find_map(|i| {
        let tail = bytes.get(i..i + 15)?;
        let digits = |r: std::ops::Range<usize>| tail[r].iter().all(u8::is_ascii_digit);
        let ok = tail[0] == b'-' && digits(1..6) && &tail[6..10] == b"-of-" && digits(10..15);
        ok.then(|| name[..i].to_owned())
    })
}

fn order_splits(names: &mut [String]) {
    let rank = |s: &str| match s {
        "train" => 0,
        "validation" => 1,
        "test" => 2,
        _ => 3,
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
}

fn finish_split(split: &str, mut files: Vec<DataFile>) -> SplitFiles {
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    files.dedup_by(|a, b| a.relative == b.relative);
    SplitFiles {
        split: split.to_owned(),
        files,
    }
}

/// Card patterns stay inside the dataset: relative, no `..`, no URLs or backslashes.
fn check_pattern(pattern: &str, readme: &Path) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidPattern {
            path: readme.to_path_buf(),
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if pattern.is_empty() {
        return bad("empty pattern");
    }
    if pattern.contains("://") {
        return bad("remote URLs are not supported, only paths inside the dataset");
    }
    if pattern.starts_with('/') || pattern.contains('\\') || pattern.contains('\0') {
        return bad("must be a relative '/'-separated path inside the dataset");
    }
    if pattern.split('/').any(|c| c == "..") {
        return bad("must not contain '..'");
    }
    Ok(())
}

/// Parse the `configs:` list from a dataset card's YAML front matter.
pub fn parse_card_configs(readme: &str, path: &Path) -> Result<Vec<DatasetConfig>> {
    let invalid = |reason: String| Error::InvalidDatasetCard {
        path: path.to_path_buf(),
        reason,
    };
    let Some(yaml) = front_matter(readme) else {
        return Ok(Vec::new());
    };
    let docs = YamlLoader::load_from_str(yaml).map_err(|e| invalid(e.to_string()))?;
    let Some(doc) = docs.first() else {
        return Ok(Vec::new());
    };
    let configs = match &doc["configs"] {
        Yaml::BadValue | Yaml::Null => return Ok(Vec::new()),
        Yaml::Array(items) => items,
        _ => return Err(invalid("`configs` must be a list".into())),
    };
    let mut out = Vec::new();
    for item in configs {
        if !matches!(item, Yaml::Hash(_)) {
            return Err(invalid("each `configs` entry must be a mapping".into()));
        }
        let name = match &item["config_name"] {
            Yaml::BadValue | Yaml::Null => "default".to_owned(),
            Yaml::String(s) => s.clone(),
            _ => return Err(invalid("`config_name` must be a string".into())),
        };
        let default = matches!(item["default"], Yaml::Boolean(true));
        let data_dir = match &item["data_dir"] {
            Yaml::BadValue | Yaml::Null => None,
            Yaml::String(s) => Some(s.clone()),
            _ => {
                return Err(invalid(format!(
                    "config {name:?}: `data_dir` must be a string"
                )));
            }
        };
        let data_files = parse_data_files(&item["data_files"])
            .map_err(|r| invalid(format!("config {name:?}: {r}")))?;
        if data_files.is_empty() && data_dir.is_none() {
            return Err(invalid(format!(
                "config {name:?} has neither data_files nor data_dir"
            )));
        }
        out.push(DatasetConfig {
            name,
            default,
            data_files,
            data_dir,
        });
    }
    Ok(out)
}

/// `data_files` forms: `"pat"`, `["pat", …]`, `[{split, path: "pat" | ["pat", …]}, …]`, or a
/// mapping `{split: "pat" | […]}`.
fn parse_data_files(v: &Yaml) -> std::result::Result<Vec<SplitPatterns>, String> {
    let patterns = |v: &Yaml| -> std::result::Result<Vec<String>, String> {
        match v {
            Yaml::String(s) => Ok(vec![s.clone()]),
            Yaml::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| "patterns must be strings".to_owned()),
            _ => Err("`path` must be a string or a list of strings".to_owned()),
        }
    };
    let train = |p| SplitPatterns {
        split: "train".into(),
        patterns: p,
    };
    match v {
        Yaml::BadValue | Yaml::Null => Ok(Vec::new()),
        Yaml::String(s) => Ok(vec![train(vec![s.clone()])]),
        Yaml::Array(items) if items.iter().all(|i| i.as_str().is_some()) => {
            Ok(vec![train(patterns(v)?)])
        }
        Yaml::Array(items) => {
            let mut out: Vec<SplitPatterns> = Vec::new();
            for i in items {
                let split = i["split"].as_str().unwrap_or("train").to_owned();
                let ps = patterns(&i["path"])?;
                match out.iter_mut().find(|s| s.split == split) {
                    Some(existing) => existing.patterns.extend(ps),
                    None => out.push(SplitPatterns {
                        split,
                        patterns: ps,
                    }),
                }
            }
            Ok(out)
        }
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| {
                let split = k.as_str().ok_or("split names must be strings")?.to_owned();
                Ok(SplitPatterns {
                    split,
                    patterns: patterns(v)?,
                })
            })
            .collect(),
        _ => Err("`data_files` must be a string, a list or a mapping".to_owned()),
    }
}

/// The YAML between a leading `---` line and the next `---` line.
fn front_matter(text: &str) -> Option<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return rest.get(..offset);
        }
        offset += line.len();
    }
    None
}
