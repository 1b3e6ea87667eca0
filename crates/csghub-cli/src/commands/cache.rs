//! `cache ls|rm|prune|verify` over csghub-cache (offline; no server needed).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use csghub_cache::{CacheDir, PruneOptions, RepoCache, RepoRef, VerifyProblem};
use serde_json::{Value, json};

use crate::cli::{CacheCommand, RepoArg, RepoKind};
use crate::context::Ctx;
use crate::error::CliError;
use crate::output::{human_size, plural, sanitize, table};

/// Runs one `cache` subcommand.
pub fn run(ctx: &Ctx, cmd: CacheCommand) -> Result<(), CliError> {
    match cmd {
        CacheCommand::Ls {
            revisions,
            cache_dir,
        } => ls(ctx, &open(ctx, cache_dir.as_deref())?, revisions),
        CacheCommand::Rm {
            repo,
            revisions,
            dry_run,
            cache_dir,
        } => rm(
            ctx,
            &open(ctx, cache_dir.as_deref())?,
            &repo,
            &revisions,
            dry_run,
        ),
        CacheCommand::Prune {
            dry_run,
            detached,
            cache_dir,
        } => prune(ctx, &open(ctx, cache_dir.as_deref())?, dry_run, detached),
        CacheCommand::Verify {
            repo_id,
            repo_type,
            revision,
            cache_dir,
        } => {
            let cache = open(ctx, cache_dir.as_deref())?;
            let one = repo_id.map(|id| RepoArg {
                repo_id: id,
                repo_type,
            });
            verify(ctx, &cache, one.as_ref(), revision.as_deref())
        }
    }
}

/// The cache at `--cache-dir`, `CSGHUB_CACHE` or the default.
pub fn open(ctx: &Ctx, explicit: Option<&Path>) -> Result<CacheDir, CliError> {
    let root = ctx.config.cache_root(explicit)?;
    ctx.out.debug(format_args!("cache root {}", root.display()));
    Ok(CacheDir::new(root))
}

/// One repo folder of the cache.
pub fn repo_cache(
    cache: &CacheDir,
    kind: RepoKind,
    id: &csghub_api::RepoId,
) -> Result<RepoCache, CliError> {
    let cid = csghub_cache::RepoId::parse(&id.to_string()).map_err(|source| CliError::Cache {
        action: format!("cannot use {id} in the cache"),
        source: Box::new(source),
    })?;
    Ok(cache.repo(RepoRef::new(kind.cache(), cid)))
}

fn unix(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

fn cache_err(action: impl Into<String>) -> impl FnOnce(csghub_cache::CacheError) -> CliError {
    let action = action.into();
    move |source| CliError::Cache {
        action,
        source: Box::new(source),
    }
}

fn ls(ctx: &Ctx, cache: &CacheDir, with_revisions: bool) -> Result<(), CliError> {
    let info = cache.scan().map_err(cache_err(format!(
        "cannot scan the cache {}",
        cache.root().display()
    )))?;
    for w in &info.warnings {
        ctx.out.warn(sanitize(&w.to_string()));
    }
    if !info.incomplete_files.is_empty() {
        ctx.out.info(format_args!(
            "{} ({}); `csghub-cli cache prune` removes them",
            plural(info.incomplete_files.len(), "interrupted download"),
            human_size(info.incomplete_files.iter().map(|f| f.size).sum())
        ));
    }
    if !info.repos.is_empty() {
        ctx.out.info(format_args!(
            "cache {}: {}, {}",
            info.root.display(),
            plural(info.repos.len(), "repo"),
            human_size(info.size_on_disk)
        ));
    }
    let repos: Vec<Value> = info
        .repos
        .iter()
        .map(|r| {
            json!({
                "repo_type": r.repo.repo_type.as_str(),
                "repo_id": r.repo.id.to_string(),
                "path": r.path,
                "size_on_disk": r.size_on_disk,
                "nb_files": r.nb_files,
                "refs": r.refs,
                "last_modified": unix(r.last_modified),
                "last_accessed": unix(r.last_accessed),
                "revisions": r.revisions.iter().map(|v| json!({
                    "commit": v.commit,
                    "size_on_disk": v.size_on_disk,
                    "nb_files": v.files.len(),
                    "refs": v.refs,
                    "path": v.path,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let value = json!({
        "root": info.root,
        "size_on_disk": info.size_on_disk,
        "repos": repos,
        "incomplete_files": info.incomplete_files.iter()
            .map(|f| json!({"path": f.path, "size": f.size})).collect::<Vec<_>>(),
        "warnings": info.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    ctx.out.emit(&value, || {
        if info.repos.is_empty() {
            return format!("The cache at {} is empty.", info.root.display());
        }
        if with_revisions {
            let mut cells = Vec::new();
            for r in &info.repos {
                for v in &r.revisions {
                    cells.push(vec![
                        r.repo.id.to_string(),
                        r.repo.repo_type.as_str().into(),
                        v.commit.clone(),
                        human_size(v.size_on_disk),
                        v.files.len().to_string(),
                        v.refs.join(", "),
                    ]);
                }
            }
            table(
                &["REPO ID", "TYPE", "REVISION", "SIZE", "FILES", "REFS"],
                &cells,
            )
        } else {
            let cells: Vec<Vec<String>> = info
                .repos
                .iter()
                .map(|r| {
                    vec![
                        r.repo.id.to_string(),
                        r.repo.repo_type.as_str().into(),
                        human_size(r.size_on_disk),
                        r.nb_files.to_string(),
                        r.revisions.len().to_string(),
                        r.refs.keys().cloned().collect::<Vec<_>>().join(", "),
                    ]
                })
                .collect();
            table(
                &["REPO ID", "TYPE", "SIZE", "FILES", "REVISIONS", "REFS"],
                &cells,
            )
        }
    })
}

fn not_cached(cache: &CacheDir, kind: RepoKind, id: &csghub_api::RepoId) -> CliError {
    CliError::Failed(format!(
        "{} {id} is not in the cache at {}; see `csghub-cli cache ls`",
        kind.as_str(),
        cache.root().display()
    ))
}

fn rm(
    ctx: &Ctx,
    cache: &CacheDir,
    repo: &RepoArg,
    revisions: &[String],
    dry_run: bool,
) -> Result<(), CliError> {
    let (kind, id) = (repo.repo_type, &repo.repo_id);
    let rc = repo_cache(cache, kind, id)?;
    if !rc.path().is_dir() {
        return Err(not_cached(cache, kind, id));
    }
    let plan = if revisions.is_empty() {
        rc.plan_delete_repo()
            .map_err(cache_err(format!("cannot plan deleting {id}")))?
    } else {
        let mut commits = Vec::new();
        for r in revisions {
            commits.push(rc.resolve_revision(r).map_err(|e| match e {
                csghub_cache::CacheError::RevisionNotCached { .. } => CliError::Failed(format!(
                    "revision {r:?} of {} {id} is not in the cache; `csghub-cli cache ls \
                     --revisions` lists the cached ones",
                    kind.as_str()
                )),
                source => CliError::Cache {
                    action: format!("cannot delete revision {r:?} of {id}"),
                    source: Box::new(source),
                },
            })?);
        }
        let refs: Vec<&str> = commits.iter().map(String::as_str).collect();
        rc.plan_delete_revisions(&refs)
            .map_err(cache_err(format!("cannot plan deleting revisions of {id}")))?
    };
    let mut planned: Vec<PathBuf> = plan
        .repos
        .iter()
        .chain(&plan.snapshots)
        .chain(&plan.refs)
        .cloned()
        .collect();
    planned.extend(plan.blobs.iter().map(|(b, _)| b.clone()));
    let (removed, skipped, freed) = if dry_run {
        (planned, Vec::new(), plan.expected_freed)
    } else {
        let report = plan
            .execute()
            .map_err(cache_err(format!("cannot delete {id} from the cache")))?;
        for s in &report.skipped_locked {
            ctx.out.warn(format_args!(
                "kept {} (a download is using it)",
                s.display()
            ));
        }
        (report.removed, report.skipped_locked, report.freed)
    };
    let what = if revisions.is_empty() {
        format!("{} {id}", kind.as_str())
    } else {
        format!(
            "{} of {} {id}",
            plural(revisions.len(), "revision"),
            kind.as_str()
        )
    };
    let value = json!({
        "dry_run": dry_run,
        "repo_type": kind.as_str(),
        "repo_id": id.to_string(),
        "removed": removed,
        "skipped_locked": skipped,
        "freed": freed,
    });
    ctx.out.emit(&value, || {
        if dry_run {
            let mut s = format!("Would delete {what}, freeing {}:\n", human_size(freed));
            for p in &removed {
                s.push_str(&format!("  {}\n", p.display()));
            }
            s
        } else {
            format!("Deleted {what}, freed {}.", human_size(freed))
        }
    })
}

fn prune(ctx: &Ctx, cache: &CacheDir, dry_run: bool, detached: bool) -> Result<(), CliError> {
    let opts = PruneOptions {
        dry_run,
        detached_revisions: detached,
        ..PruneOptions::default()
    };
    let r = cache.prune(&opts).map_err(cache_err(format!(
        "cannot prune the cache {}",
        cache.root().display()
    )))?;
    for s in &r.skipped_locked {
        ctx.out.warn(format_args!(
            "kept {} (a download is using it)",
            s.display()
        ));
    }
    let value = json!({
        "dry_run": dry_run,
        "incomplete": r.incomplete,
        "unreferenced_blobs": r.unreferenced_blobs,
        "dangling_refs": r.dangling_refs,
        "temp_files": r.temp_files,
        "detached_revisions": r.detached_revisions,
        "skipped_locked": r.skipped_locked,
        "skipped_young": r.skipped_young,
        "freed": r.freed,
    });
    ctx.out.emit(&value, || {
        let verb = if dry_run { "Would remove" } else { "Removed" };
        let mut s = format!(
            "{verb} {}, {}, {}, {} and {}; {} {}.\n",
            plural(r.incomplete.len(), "interrupted download"),
            plural(r.unreferenced_blobs.len(), "unreferenced blob"),
            plural(r.dangling_refs.len(), "dangling ref"),
            plural(r.temp_files.len(), "temp file"),
            plural(r.detached_revisions.len(), "detached revision"),
            if dry_run { "would free" } else { "freed" },
            human_size(r.freed)
        );
        for p in r
            .incomplete
            .iter()
            .chain(&r.unreferenced_blobs)
            .chain(&r.dangling_refs)
            .chain(&r.temp_files)
            .chain(&r.detached_revisions)
        {
            s.push_str(&format!("  {}\n", p.display()));
        }
        s
    })
}

fn problem_text(p: &VerifyProblem) -> String {
    match p {
        VerifyProblem::BlobMismatch { path, etag, .. } => format!(
            "{}: content does not match its name {etag} (corrupt blob)",
            path.display()
        ),
        VerifyProblem::TreeMismatch {
            path,
            what,
            expected,
            actual,
        } => format!(
            "{}: {what} is {actual}, the repository says {expected}",
            path.display()
        ),
        VerifyProblem::BrokenSymlink { path } => {
            format!("{}: its blob is missing (broken link)", path.display())
        }
        VerifyProblem::Unreadable { path, error } => {
            format!("{}: cannot read: {error}", path.display())
        }
        other => format!("{other:?}"),
    }
}

fn verify(
    ctx: &Ctx,
    cache: &CacheDir,
    one: Option<&RepoArg>,
    revision: Option<&str>,
) -> Result<(), CliError> {
    let targets: Vec<RepoCache> = match one {
        Some(r) => {
            let rc = repo_cache(cache, r.repo_type, &r.repo_id)?;
            if !rc.path().is_dir() {
                return Err(not_cached(cache, r.repo_type, &r.repo_id));
            }
            vec![rc]
        }
        None => cache
            .scan()
            .map_err(cache_err(format!(
                "cannot scan the cache {}",
                cache.root().display()
            )))?
            .repos
            .into_iter()
            .map(|r| cache.repo(r.repo))
            .collect(),
    };
    let mut results = Vec::new();
    let mut problems = 0usize;
    for rc in &targets {
        let id = rc.repo().id.to_string();
        let commit = match revision {
            Some(r) => Some(
                rc.resolve_revision(r)
                    .map_err(cache_err(format!("cannot verify revision {r:?} of {id}")))?,
            ),
            None => None,
        };
        let report = rc
            .verify(commit.as_deref())
            .map_err(cache_err(format!("cannot verify {id}")))?;
        problems += report.problems.len();
        results.push((rc.repo().clone(), report));
    }
    let value: Vec<Value> = results
        .iter()
        .map(|(r, rep)| {
            json!({
                "repo_type": r.repo_type.as_str(),
                "repo_id": r.id.to_string(),
                "ok": rep.is_ok(),
                "blobs_checked": rep.blobs_checked,
                "files_checked": rep.files_checked,
                "missing_files": rep.missing_files.len(),
                "problems": rep.problems.iter().map(problem_text).collect::<Vec<_>>(),
            })
        })
        .collect();
    ctx.out.emit(&value, || {
        if results.is_empty() {
            return format!("The cache at {} is empty.", cache.root().display());
        }
        let mut s = String::new();
        for (r, rep) in &results {
            s.push_str(&format!(
                "{} {} {}: {} and {} checked\n",
                if rep.is_ok() { "ok    " } else { "FAILED" },
                r.repo_type.as_str(),
                r.id,
                plural(rep.blobs_checked, "blob"),
                plural(rep.files_checked, "file")
            ));
            for p in &rep.problems {
                s.push_str(&format!("  {}\n", sanitize(&problem_text(p))));
            }
        }
        s
    })?;
    if problems > 0 {
        return Err(CliError::Failed(format!(
            "{} found in the cache; delete the damaged repos with `csghub-cli cache rm \
             REPO_ID` and download them again",
            plural(problems, "problem")
        )));
    }
    Ok(())
}
