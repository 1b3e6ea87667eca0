//! `csghub-cli`: the command-line client. It owns the environment, the terminal and exit codes;
//! the work lives in the library crates.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error. Results go to stdout (`--json` for
//! scripts), logs and errors to stderr; errors are one line saying what failed and what to do.
// The clap structs' doc comments are the terminal help text: URLs stay bare there.
#![allow(rustdoc::bare_urls)]

mod cli;
mod commands;
mod config;
mod context;
mod error;
mod output;
mod progress;

use std::panic::AssertUnwindSafe;

use clap::Parser;

use crate::cli::Cli;
use crate::config::{Config, EnvVars};
use crate::context::Ctx;
use crate::error::{CliError, EXIT_FAILURE};
use crate::output::Output;

fn main() {
    // A bug must not dump a backtrace on a user: one line, exit 1.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error in csghub-cli: {msg}{at}; this is a bug, please report it"
        );
    }));
    let code = std::panic::catch_unwind(AssertUnwindSafe(run)).unwrap_or(EXIT_FAILURE);
    std::process::exit(code);
}

fn run() -> i32 {
    let args = cli::normalize_args(std::env::args_os());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // Help and --version go to stdout with 0, usage errors to stderr with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let env = EnvVars::from_process();
    let out = Output::new(&cli.global, env.no_color);
    match execute(cli, &env, &out) {
        Ok(()) => 0,
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}

fn execute(cli: Cli, env: &EnvVars, out: &Output) -> Result<(), CliError> {
    let config = Config::resolve(&cli.global, env)?;
    out.debug(format_args!("{config:?}"));
    if let Some(w) = &config.token_warning {
        out.warn(w);
    }
    let ctx = Ctx::new(config, out.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(commands::run(&ctx, cli.command))
}
