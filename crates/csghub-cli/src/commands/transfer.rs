//! `download`, `upload`, `upload-large-folder`: pycsghub's names, short flags and defaults (see
//! `cli.rs`), on csghub-transfer's verified, resumable engine.

use std::path::PathBuf;

use csghub_transfer::{
    DownloadConfig, Downloader, FileOutcome, LargeFolderRequest, Request, Target, TransferError,
    UploadConfig, UploadOutcome, UploadRequest, Uploader,
};
use serde_json::json;

use crate::cli::{DownloadArgs, UploadArgs, UploadLargeFolderArgs};
use crate::context::Ctx;
use crate::error::{CliError, Subject};
use crate::output::{human_size, plural, sanitize, table};
use crate::progress;

/// Map a transfer error to the CLI's one line (server errors get the endpoint/token advice).
fn transfer_error(ctx: &Ctx, e: TransferError, subject: Subject) -> CliError {
    match e {
        TransferError::Api(api) => ctx.api_error(*api, subject),
        other => CliError::Failed(other.to_string()),
    }
}

/// `download REPO_ID [FILENAMES...]`: one file name downloads that file (its path is printed);
/// several names are allow patterns; none downloads the snapshot (its folder is printed).
pub async fn download(ctx: &Ctx, args: &DownloadArgs) -> Result<(), CliError> {
    let kind = args.repo_type.api();
    let subject = Subject::repo(args.repo_type, &args.repo_id).at(&args.revision);
    let cache = csghub_cache::CacheDir::new(ctx.config.cache_root(args.cache_dir.as_deref())?);
    let config = DownloadConfig {
        max_workers: args.max_workers.max(1),
        offline: ctx.config.offline,
        force: args.force_download,
        ..DownloadConfig::default()
    };
    let downloader = Downloader::new(ctx.client()?.clone(), cache, config);
    let mut req = Request::snapshot(kind, args.repo_id.clone(), &args.revision);
    req.allow = args.allow_patterns.clone();
    req.ignore = args.ignore_patterns.clone();
    let single = match args.filenames.as_slice() {
        [one] => {
            req.files = vec![one.clone()];
            Some(one.clone())
        }
        [] => None,
        many => {
            req.allow.extend(many.iter().cloned());
            None
        }
    };
    if let Some(dir) = &args.local_dir {
        req.target = Target::LocalDir(dir.clone());
    }

    if args.dry_run {
        let plan = downloader
            .plan(&req)
            .await
            .map_err(|e| transfer_error(ctx, e, subject.clone()))?;
        let files: Vec<_> = plan
            .files
            .iter()
            .map(|f| json!({"path": f.file.path.as_str(), "size": f.file.size, "cached": f.cached}))
            .collect();
        let value = json!({"commit": plan.commit, "files": files, "bytes_to_download": plan.bytes_to_fetch()});
        return ctx.out.emit(&value, || {
            let rows: Vec<Vec<String>> = plan
                .files
                .iter()
                .map(|f| {
                    vec![
                        sanitize(f.file.path.as_str()).into_owned(),
                        human_size(f.file.size),
                        if f.cached { "cached" } else { "to download" }.to_string(),
                    ]
                })
                .collect();
            format!(
                "{}\n{} at {}: {} to download ({} of {} files)",
                table(&["file", "size", "status"], &rows),
                args.repo_id,
                plan.commit,
                human_size(plan.bytes_to_fetch()),
                plan.files.iter().filter(|f| !f.cached).count(),
                plan.files.len()
            )
        });
    }

    let reporter = progress::reporter(&ctx.out);
    let result = downloader.download(&req, reporter.clone()).await;
    reporter.finish();
    let got = result.map_err(|e| transfer_error(ctx, e, subject))?;
    let path: PathBuf = match &single {
        Some(_) => got
            .files
            .first()
            .map_or_else(|| got.root.clone(), |(p, _)| got.path_of(p)),
        None => got.root.clone(),
    };
    let fetched = got
        .files
        .iter()
        .filter(|(_, o)| *o == FileOutcome::Transferred)
        .count();
    if got.offline {
        ctx.out
            .info("offline: answered from the cache without contacting the server");
    }
    let files: Vec<_> = got
        .files
        .iter()
        .map(|(p, o)| json!({"path": p.as_str(), "downloaded": *o == FileOutcome::Transferred}))
        .collect();
    let value = json!({
        "repo": args.repo_id.to_string(),
        "commit": got.commit,
        "path": path,
        "offline": got.offline,
        "files": files,
    });
    ctx.out.info(format_args!(
        "{}: {} downloaded, {} already present (commit {})",
        args.repo_id,
        plural(fetched, "file"),
        got.files.len() - fetched,
        got.commit
    ));
    ctx.out.emit(&value, || path.display().to_string())
}

/// `upload REPO_ID LOCAL_PATH [PATH_IN_REPO]`: a file or a folder as one commit.
pub async fn upload(ctx: &Ctx, args: &UploadArgs) -> Result<(), CliError> {
    ctx.require_token()?;
    let subject = Subject::repo(args.repo_type, &args.repo_id).at(&args.revision);
    let mut req = UploadRequest::new(args.repo_type.api(), args.repo_id.clone(), &args.local_path);
    req.revision = args.revision.clone();
    req.path_in_repo = args.path_in_repo.clone().unwrap_or_default();
    req.allow = args.include.clone();
    req.ignore = args.exclude.clone();
    req.delete = args.delete.clone();
    req.message = args.commit_message.clone();
    req.description = args.commit_description.clone();
    let config = UploadConfig {
        // pycsghub creates missing repos private; `--private` is kept for compatibility.
        private: true,
        ..UploadConfig::default()
    };
    let uploader = Uploader::new(ctx.client()?.clone(), config);
    let reporter = progress::reporter(&ctx.out);
    let result = uploader.upload(&req, reporter.clone()).await;
    reporter.finish();
    let up = result.map_err(|e| transfer_error(ctx, e, subject))?;
    report_upload(ctx, &args.repo_id.to_string(), &up)
}

/// `upload-large-folder REPO_ID LOCAL_PATH`: resumable, in batches of commits.
pub async fn upload_large_folder(ctx: &Ctx, args: &UploadLargeFolderArgs) -> Result<(), CliError> {
    ctx.require_token()?;
    let subject = Subject::repo(args.repo_type, &args.repo_id).at(&args.revision);
    let mut req =
        LargeFolderRequest::new(args.repo_type.api(), args.repo_id.clone(), &args.local_path);
    req.revision = args.revision.clone();
    req.allow = args.allow_patterns.clone();
    req.ignore = args.ignore_patterns.clone();
    req.num_workers = args.num_workers;
    let uploader = Uploader::new(ctx.client()?.clone(), UploadConfig::default());
    let reporter = progress::reporter(&ctx.out);
    let result = uploader.upload_large_folder(&req, reporter.clone()).await;
    reporter.finish();
    let up = result.map_err(|e| transfer_error(ctx, e, subject))?;
    report_upload(ctx, &args.repo_id.to_string(), &up)
}

fn report_upload(ctx: &Ctx, repo: &str, up: &csghub_transfer::Uploaded) -> Result<(), CliError> {
    let count = |o: UploadOutcome| up.files.iter().filter(|(_, x)| *x == o).count();
    let committed = count(UploadOutcome::Committed);
    let unchanged = count(UploadOutcome::Unchanged);
    let ignored = count(UploadOutcome::Ignored);
    let files: Vec<_> = up
        .files
        .iter()
        .map(|(p, o)| {
            let status = match o {
                UploadOutcome::Committed => "committed",
                UploadOutcome::Unchanged => "unchanged",
                UploadOutcome::Ignored => "ignored",
            };
            json!({"path": p, "status": status})
        })
        .collect();
    let value = json!({
        "repo": repo,
        "commit": up.commit,
        "files": files,
        "deleted": up.deleted,
        "lfs_bytes_uploaded": up.bytes_uploaded,
    });
    ctx.out.emit(&value, || {
        let mut text = format!(
            "{repo}: {} committed, {} unchanged",
            plural(committed, "file"),
            unchanged
        );
        if ignored > 0 {
            text.push_str(&format!(", {ignored} ignored by .gitignore"));
        }
        if !up.deleted.is_empty() {
            text.push_str(&format!(", {} deleted", up.deleted.len()));
        }
        match &up.commit {
            Some(c) => text.push_str(&format!(" (commit {c})")),
            None => text.push_str(" (nothing to commit)"),
        }
        text
    })
}
