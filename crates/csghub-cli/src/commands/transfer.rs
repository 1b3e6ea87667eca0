//! `download`, `upload`, `upload-large-folder`: the arguments are final (pycsghub's names,
//! short flags and defaults, see `cli.rs`), the work is not in this build yet. csghub-transfer
//! is being finished; until it is wired in, these commands fail with a clear message and exit
//! code 1 instead of pretending to work.
//!
//! To wire them in, replace the bodies below; everything a body needs is on [`Ctx`]:
//! `ctx.client()?` (endpoint + token), `ctx.config.cache_root(args.cache_dir.as_deref())?`,
//! `ctx.config.offline`, `ctx.out` (`progress_enabled()`, `info`, `emit` for the result and
//! `--json`), and errors via `ctx.api_error(e, Subject::repo(kind, &id).at(rev).path(p))`.

use crate::cli::{DownloadArgs, UploadArgs, UploadLargeFolderArgs};
use crate::context::Ctx;
use crate::error::CliError;

/// `download REPO_ID [FILENAMES...]`.
pub async fn download(ctx: &Ctx, args: &DownloadArgs) -> Result<(), CliError> {
    ctx.out.debug(format_args!("download {args:?}"));
    Err(CliError::NotAvailable {
        command: "download",
    })
}

/// `upload REPO_ID LOCAL_PATH [PATH_IN_REPO]`.
pub async fn upload(ctx: &Ctx, args: &UploadArgs) -> Result<(), CliError> {
    ctx.out.debug(format_args!("upload {args:?}"));
    Err(CliError::NotAvailable { command: "upload" })
}

/// `upload-large-folder REPO_ID LOCAL_PATH`.
pub async fn upload_large_folder(ctx: &Ctx, args: &UploadLargeFolderArgs) -> Result<(), CliError> {
    ctx.out.debug(format_args!("upload-large-folder {args:?}"));
    Err(CliError::NotAvailable {
        command: "upload-large-folder",
    })
}
