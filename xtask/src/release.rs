//! `cargo xtask release <version> [--dry-run]`: prepare a lockstep release of every crate.
//!
//! 1. Refuses a dirty git tree (what gets published must be what is committed).
//! 2. Sets `<version>` on every crate: `[workspace.package] version` (all members inherit it) and
//!    the `version = ` of our crates in `[workspace.dependencies]`, then refreshes `Cargo.lock`.
//! 3. Moves `CHANGELOG.md`'s `## [Unreleased]` notes under `## [<version>] - <date>`.
//! 4. Runs `cargo publish --workspace --dry-run` over the publishable crates: cargo packages each
//!    one and builds it from its tarball in dependency order, resolving our not-yet-published
//!    crates from the packages it just made.
//!
//! Without `--dry-run` the edits stay in the tree for review; committing, tagging and the real
//! `cargo publish --workspace` are left to a person. With `--dry-run` everything happens in a
//! temporary clone of HEAD and the tree is never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::dist::Metadata;

/// The changelog heading that collects notes until the next release.
const UNRELEASED: &str = "## [Unreleased]";

/// `cargo xtask release`.
pub fn run(root: &Path, version: &str, dry_run: bool) -> Result<(), String> {
    let new = semver::Version::parse(version.trim_start_matches('v'))
        .map_err(|e| format!("{version:?} is not a semantic version (like 0.2.0): {e}"))?;
    let version = new.to_string();
    require_clean_tree(root)?;

    let meta = Metadata::load(root)?;
    let members = meta.members();
    let current = meta.package_version("csghub-cli")?;
    if let Ok(cur) = semver::Version::parse(&current)
        && new < cur
    {
        return Err(format!(
            "{version} is older than the current version {current}"
        ));
    }
    let excluded: Vec<String> = members
        .iter()
        .filter(|(_, _, publishable)| !publishable)
        .map(|(name, _, _)| name.clone())
        .collect();

    // A dry run works on a throwaway clone of HEAD (identical to the clean tree).
    let clone_dir;
    let work: PathBuf = if dry_run {
        clone_dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let dest = clone_dir.path().join("csghub-rs");
        crate::run(
            Command::new("git")
                .args(["clone", "--quiet", "--no-hardlinks"])
                .arg(root)
                .arg(&dest),
        )?;
        dest
    } else {
        root.to_path_buf()
    };

    bump_manifests(&work, &members, &version)?;
    // Refresh our crates' entries in Cargo.lock only; third-party versions stay as locked.
    crate::run(
        crate::cargo()
            .current_dir(&work)
            .args(["update", "--workspace"]),
    )?;
    let bumped = Metadata::load(&work)?;
    let stale: Vec<String> = bumped
        .members()
        .into_iter()
        .filter(|(_, v, _)| *v != version)
        .map(|(n, v, _)| format!("{n} {v}"))
        .collect();
    if !stale.is_empty() {
        return Err(format!(
            "after the bump these crates are not at {version}: {} (give them `version.workspace = true`)",
            stale.join(", ")
        ));
    }
    update_changelog(&work.join("CHANGELOG.md"), &version, &today(), dry_run)?;

    // The bump itself makes the tree dirty, hence --allow-dirty; the clean check ran above.
    let mut publish = crate::cargo();
    publish
        .current_dir(&work)
        .args([
            "publish",
            "--workspace",
            "--dry-run",
            "--allow-dirty",
            "--locked",
        ])
        // Reuse the main target dir's registry builds in a dry-run clone.
        .env("CARGO_TARGET_DIR", &meta.target_dir);
    for name in &excluded {
        publish.args(["--exclude", name]);
    }
    crate::run(&mut publish)?;

    if dry_run {
        eprintln!(
            "xtask: release {version} dry run passed (in a temporary clone; this tree is unchanged)"
        );
    } else {
        let publish_cmd = excluded
            .iter()
            .fold("cargo publish --workspace".to_string(), |s, n| {
                s + " --exclude " + n
            });
        println!(
            "Every crate is at {version} and CHANGELOG.md has its section; the publish dry run passed.\n\
             Next: review `git diff`, then\n  \
             git commit -am \"Release {version}\" && git tag v{version}\n  \
             {publish_cmd}\n  \
             git push && git push --tags"
        );
    }
    Ok(())
}

/// Refuse uncommitted changes or untracked files.
fn require_clean_tree(root: &Path) -> Result<(), String> {
    let out = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run git status in {}: {e}", root.display()))?;
    if !out.status.success() {
        return Err(format!(
            "git status failed in {} ({}): a release needs a git checkout",
            root.display(),
            out.status
        ));
    }
    let dirty = String::from_utf8_lossy(&out.stdout);
    if dirty.trim().is_empty() {
        return Ok(());
    }
    let lines: Vec<&str> = dirty.lines().take(10).collect();
    Err(format!(
        "the tree has uncommitted changes; commit or stash them first:\n  {}{}",
        lines.join("\n  "),
        if dirty.lines().count() > 10 {
            "\n  ..."
        } else {
            ""
        }
    ))
}

/// Set `version` in the root manifest (workspace package version and our crates' entries in
/// `[workspace.dependencies]`) and in any member manifest that spells its own version.
fn bump_manifests(
    work: &Path,
    members: &[(String, String, bool)],
    version: &str,
) -> Result<(), String> {
    let root_manifest = work.join("Cargo.toml");
    let text = read(&root_manifest)?;
    let names: Vec<&str> = members.iter().map(|(n, _, _)| n.as_str()).collect();
    let (text, changed) = bump_root_manifest(&text, &names, version)?;
    if changed == 0 {
        return Err(format!(
            "{} has no [workspace.package] version to bump",
            root_manifest.display()
        ));
    }
    write(&root_manifest, &text)?;

    // Members normally inherit (`version.workspace = true`); one that does not gets bumped too.
    for dir in member_dirs(work)? {
        let manifest = dir.join("Cargo.toml");
        let text = read(&manifest)?;
        let (text, n) = bump_section_version(&text, "[package]", version);
        if n > 0 {
            write(&manifest, &text)?;
        }
    }
    Ok(())
}

/// The root manifest with the new version; also returns how many lines changed.
pub fn bump_root_manifest(
    text: &str,
    our_crates: &[&str],
    version: &str,
) -> Result<(String, usize), String> {
    let (text, mut changed) = bump_section_version(text, "[workspace.package]", version);
    let mut out = String::with_capacity(text.len());
    let mut section = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        if section == "[workspace.dependencies]"
            && our_crates.contains(&key)
            && line.contains("path =")
            && line.contains("version =")
        {
            out.push_str(&replace_version_value(line, version));
            changed += 1;
        } else {
            out.push_str(line);
        }
    }
    Ok((out, changed))
}

/// Replace `version = "..."` (a whole line) inside `[section]`.
fn bump_section_version(text: &str, section: &str, version: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut current = String::new();
    let mut changed = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            current = trimmed.to_string();
        }
        if current == section && trimmed.starts_with("version") && trimmed.contains('"') {
            let key = trimmed.split('=').next().unwrap_or("").trim();
            if key == "version" {
                out.push_str(&replace_version_value(line, version));
                changed += 1;
                continue;
            }
        }
        out.push_str(line);
    }
    (out, changed)
}

/// `... version = "old" ...` → `... version = "new" ...` in one line.
fn replace_version_value(line: &str, version: &str) -> String {
    let Some(at) = line.find("version") else {
        return line.to_string();
    };
    let rest = &line[at..];
    let (Some(open), Some(close)) = (
        rest.find('"'),
        rest.find('"')
            .and_then(|o| rest[o + 1..].find('"').map(|c| o + 1 + c)),
    ) else {
        return line.to_string();
    };
    format!(
        "{}{}\"{version}\"{}",
        &line[..at],
        &rest[..open],
        &rest[close + 1..]
    )
}

/// Directories of workspace members from `cargo metadata` would need a second call; the layout
/// is fixed (`crates/*`, `xtask`, `tests/*`), so list those with a Cargo.toml.
fn member_dirs(work: &Path) -> Result<Vec<PathBuf>, String> {
    let mut dirs = vec![work.join("xtask")];
    for parent in ["crates", "tests"] {
        let p = work.join(parent);
        let entries =
            std::fs::read_dir(&p).map_err(|e| format!("cannot list {}: {e}", p.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", p.display()))?;
            if entry.path().join("Cargo.toml").is_file() {
                dirs.push(entry.path());
            }
        }
    }
    Ok(dirs)
}

/// Move the `## [Unreleased]` notes under a new `## [<version>] - <date>` heading and keep an
/// empty `## [Unreleased]` on top; the link references at the bottom follow.
fn update_changelog(path: &Path, version: &str, date: &str, dry_run: bool) -> Result<(), String> {
    let text = read(path)?;
    let new = changelog_with_release(&text, version, date, dry_run)?;
    write(path, &new)
}

/// The changelog text after releasing `version` (pure, so the rules are testable by reading).
pub fn changelog_with_release(
    text: &str,
    version: &str,
    date: &str,
    allow_empty: bool,
) -> Result<String, String> {
    if text
        .lines()
        .any(|l| l.starts_with(&format!("## [{version}]")))
    {
        return Err(format!("CHANGELOG.md already has a section for {version}"));
    }
    let Some(start) = text.find(UNRELEASED) else {
        return Err(format!(
            "CHANGELOG.md has no `{UNRELEASED}` section to release"
        ));
    };
    let body_start = start + UNRELEASED.len();
    let body_end = text[body_start..]
        .find("\n## ")
        .map(|i| body_start + i + 1)
        .or_else(|| text[body_start..].find("\n[").map(|i| body_start + i + 1))
        .unwrap_or(text.len());
    let notes = text[body_start..body_end].trim();
    if notes.is_empty() && !allow_empty {
        return Err(format!(
            "CHANGELOG.md's `{UNRELEASED}` section is empty: write what {version} changes first"
        ));
    }
    let mut out = String::new();
    out.push_str(&text[..start]);
    out.push_str(&format!("{UNRELEASED}\n\n## [{version}] - {date}\n\n"));
    if !notes.is_empty() {
        out.push_str(notes);
        out.push_str("\n\n");
    }
    out.push_str(&text[body_end..]);

    // Link references: `[Unreleased]` compares from the new tag; the new version gets its tag.
    let repo = "https://github.com/OpenCSGs/csghub-rs";
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    let previous = lines.iter().find_map(|l| {
        l.strip_prefix("## [")
            .and_then(|r| r.split(']').next())
            .filter(|v| *v != "Unreleased" && *v != version)
            .map(str::to_string)
    });
    let version_link = match previous {
        Some(prev) => format!("[{version}]: {repo}/compare/v{prev}...v{version}"),
        None => format!("[{version}]: {repo}/releases/tag/v{version}"),
    };
    let unreleased_link = format!("[Unreleased]: {repo}/compare/v{version}...HEAD");
    match lines.iter().position(|l| l.starts_with("[Unreleased]:")) {
        Some(i) => {
            lines[i] = unreleased_link;
            lines.insert(i + 1, version_link);
        }
        None => {
            if lines.last().is_some_and(|l| !l.is_empty()) {
                lines.push(String::new());
            }
            lines.push(unreleased_link);
            lines.push(version_link);
        }
    }
    let mut joined = lines.join("\n");
    joined.push('\n');
    Ok(joined)
}

/// Today's UTC date as `YYYY-MM-DD` (days-from-civil inverse, H. Hinnant's algorithm).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    // Temp file + rename so an interrupted release never leaves half a manifest.
    let tmp = path.with_extension("xtask-tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_manifest_bump_touches_only_our_versions() {
        let text = "[workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                    [workspace.dependencies]\n\
                    csghub-api = { path = \"crates/csghub-api\", version = \"0.1.0\" }\n\
                    csghub-localhub = { path = \"tests/localhub\" }\n\
                    serde = { version = \"1\", features = [\"derive\"] }\n";
        let (out, n) =
            bump_root_manifest(text, &["csghub-api", "csghub-localhub"], "0.2.0").unwrap();
        assert_eq!(n, 2);
        assert!(out.contains("[workspace.package]\nversion = \"0.2.0\"\n"));
        assert!(out.contains("csghub-api = { path = \"crates/csghub-api\", version = \"0.2.0\" }"));
        assert!(out.contains("csghub-localhub = { path = \"tests/localhub\" }"));
        assert!(out.contains("serde = { version = \"1\""));
    }

    #[test]
    fn changelog_release_moves_unreleased_notes() {
        let text = "# Changelog\n\n## [Unreleased]\n\n### Added\n- a thing\n\n\
                    ## [0.1.0] - 2025-01-01\n\n- first\n\n\
                    [Unreleased]: https://github.com/OpenCSGs/csghub-rs/compare/v0.1.0...HEAD\n\
                    [0.1.0]: https://github.com/OpenCSGs/csghub-rs/releases/tag/v0.1.0\n";
        let out = changelog_with_release(text, "0.2.0", "2025-02-03", false).unwrap();
        assert!(out.contains(
            "## [Unreleased]\n\n## [0.2.0] - 2025-02-03\n\n### Added\n- a thing\n\n## [0.1.0]"
        ));
        assert!(out.contains("[Unreleased]: https://github.com/OpenCSGs/csghub-rs/compare/v0.2.0...HEAD\n[0.2.0]: https://github.com/OpenCSGs/csghub-rs/compare/v0.1.0...v0.2.0\n[0.1.0]"));
        // Releasing the same version twice is refused; so is an empty section.
        assert!(changelog_with_release(&out, "0.2.0", "2025-02-03", false).is_err());
        assert!(changelog_with_release(&out, "0.3.0", "2025-02-03", false).is_err());
    }
}
