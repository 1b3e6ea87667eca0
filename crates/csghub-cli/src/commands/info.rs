//! `env` and `version`.

use serde_json::json;

use crate::config::ENV_DISABLE_XNET;
use crate::context::Ctx;
use crate::error::CliError;

/// The version line, as `--version` prints it.
pub const VERSION_LINE: &str = concat!("csghub-cli ", env!("CARGO_PKG_VERSION"));

/// `version`.
pub fn version(ctx: &Ctx) -> Result<(), CliError> {
    let value = json!({ "name": "csghub-cli", "version": env!("CARGO_PKG_VERSION") });
    ctx.out.emit(&value, || VERSION_LINE.to_owned())
}

/// `env`: the effective configuration, for bug reports. Never prints the token.
pub fn env(ctx: &Ctx) -> Result<(), CliError> {
    let c = &ctx.config;
    let cache = c
        .cache_root(None)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("unavailable ({e})"));
    let token = match &c.token_source {
        Some(src) => format!("set (from {src}; not shown)"),
        None => "not set".to_owned(),
    };
    let token_path = c
        .token_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "unavailable (no home directory; set CSGHUB_TOKEN_PATH)".into());
    let xnet = c
        .disable_xnet
        .as_ref()
        .map(|v| format!("{v:?} (ignored: csghub-cli has a single transfer stack)"));
    let platform = format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH);
    let value = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "platform": platform,
        "endpoint": c.endpoint,
        "endpoint_source": c.endpoint_source.to_string(),
        "token": c.token.is_some(),
        "token_source": c.token_source.as_ref().map(ToString::to_string),
        "token_path": c.token_path,
        "cache_dir": cache,
        "cache_source": c.cache_source(),
        "offline": c.offline,
        "disable_xnet": c.disable_xnet,
    });
    ctx.out.emit(&value, || {
        let mut s = String::from("Copy-and-paste the text below in your GitHub issue.\n\n");
        let mut line = |k: &str, v: &str| s.push_str(&format!("- {k}: {v}\n"));
        line("csghub-cli version", env!("CARGO_PKG_VERSION"));
        line("Platform", &platform);
        line(
            "ENDPOINT",
            &format!("{} (from {})", c.endpoint, c.endpoint_source),
        );
        line("TOKEN", &token);
        line("TOKEN_PATH", &token_path);
        line(
            "CSGHUB_CACHE",
            &format!("{cache} (from {})", c.cache_source()),
        );
        line("OFFLINE", if c.offline { "true" } else { "false" });
        if let Some(x) = &xnet {
            line(ENV_DISABLE_XNET, x);
        }
        s
    })
}
