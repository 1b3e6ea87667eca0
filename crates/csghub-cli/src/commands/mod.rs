//! One module per command group; [`run`] dispatches.

pub mod account;
pub mod cache;
pub mod deploy;
pub mod info;
pub mod model;
pub mod repo;
pub mod transfer;

use crate::cli::Command;
use crate::context::Ctx;
use crate::error::CliError;

/// Runs the parsed command.
pub async fn run(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Download(a) => transfer::download(ctx, &a).await,
        Command::Upload(a) => transfer::upload(ctx, &a).await,
        Command::UploadLargeFolder(a) => transfer::upload_large_folder(ctx, &a).await,
        Command::Inference(c) => deploy::run(ctx, deploy::DeployKind::Inference, c).await,
        Command::Finetune(c) => deploy::run(ctx, deploy::DeployKind::Finetune, c).await,
        Command::Env => info::env(ctx),
        Command::Version => info::version(ctx),
        Command::Login(a) => account::login(ctx, &a).await,
        Command::Logout => account::logout(ctx),
        Command::Whoami => account::whoami(ctx).await,
        Command::Repo(c) => repo::run(ctx, c).await,
        Command::Cache(c) => cache::run(ctx, c),
        Command::Model(c) => model::run(ctx, c),
    }
}
