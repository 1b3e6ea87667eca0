//! `login`, `logout`, `whoami`.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use csghub_api::{Token, endpoints};
use serde_json::json;

use crate::cli::LoginArgs;
use crate::config::{ENV_TOKEN, TokenSource};
use crate::context::Ctx;
use crate::error::{CliError, Subject};

/// Longest token input read from stdin.
const MAX_TOKEN_INPUT: u64 = 64 * 1024;

/// `login`: read a token, check it with the server, save it with mode 0600.
pub async fn login(ctx: &Ctx, args: &LoginArgs) -> Result<(), CliError> {
    let path = ctx.config.require_token_path()?.to_path_buf();
    let (token, source) = match (&ctx.config.token, &ctx.config.token_source) {
        (Some(t), Some(TokenSource::Flag)) => (t.clone(), TokenSource::Flag),
        _ => (read_token_input(ctx, args.token_stdin)?, TokenSource::Input),
    };
    let client = ctx.client_with(Some(token.clone()))?;
    let ep = endpoints::whoami();
    ctx.log_request(&ep);
    let who = client.execute(ep).await.map_err(|e| {
        CliError::api(
            e,
            &ctx.config.endpoint,
            Some(&source),
            Subject::other("the token check"),
        )
    })?;
    save_token(&path, &token)?;
    if ctx.config.env_token_set {
        ctx.out.warn(format_args!(
            "{ENV_TOKEN} is set in your environment and takes precedence over the saved token"
        ));
    }
    let value = json!({
        "user": who.name,
        "endpoint": ctx.config.endpoint,
        "token_path": path,
    });
    ctx.out.emit(&value, || {
        format!(
            "Logged in to {} as {}; token saved to {} (mode 0600).",
            ctx.config.endpoint,
            crate::output::sanitize(&who.name),
            path.display()
        )
    })
}

fn read_token_input(ctx: &Ctx, force_stdin: bool) -> Result<Token, CliError> {
    let stdin = std::io::stdin();
    let raw = if force_stdin || !stdin.is_terminal() {
        let mut buf = String::new();
        stdin
            .lock()
            .take(MAX_TOKEN_INPUT)
            .read_to_string(&mut buf)
            .map_err(|e| CliError::io("read the token from", "standard input", e))?;
        buf.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                CliError::Usage(
                    "no token on standard input; pipe one in (`echo \"$TOKEN\" | csghub-cli \
                     login`), pass -k, or run `csghub-cli login` in a terminal"
                        .into(),
                )
            })?
    } else {
        let term = console::Term::stderr();
        let prompt = format!(
            "Access token for {} (create one under your account's access tokens; input is \
             hidden): ",
            ctx.config.endpoint
        );
        term.write_str(&prompt)
            .map_err(|e| CliError::io("write the prompt to", "the terminal", e))?;
        let line = term
            .read_secure_line()
            .map_err(|e| CliError::io("read the token from", "the terminal", e))?;
        let line = line.trim().to_owned();
        if line.is_empty() {
            return Err(CliError::Usage("no token entered; nothing saved".into()));
        }
        line
    };
    Token::new(raw).map_err(|_| CliError::BadTokenValue {
        origin: TokenSource::Input.describe(),
        hint: TokenSource::Input.fix_hint(),
    })
}

/// Writes the token atomically (temp file in the same folder + rename), readable by the
/// owner only; folders created on the way get mode 0700.
fn save_token(path: &Path, token: &Token) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| CliError::io("create the token folder", &dir, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let write = || -> std::io::Result<()> {
        let mut f = opts.open(&tmp)?;
        f.write_all(token.expose().as_bytes())?;
        f.sync_all()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io("write the token file", path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::io("save the token file", path, e)
    })
}

/// `logout`: delete the saved token.
pub fn logout(ctx: &Ctx) -> Result<(), CliError> {
    let path = ctx.config.require_token_path()?.to_path_buf();
    let removed = match std::fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(CliError::io("remove the token file", &path, e)),
    };
    if ctx.config.env_token_set {
        ctx.out.warn(format_args!(
            "{ENV_TOKEN} is still set in your environment; unset it to log out completely"
        ));
    }
    let value = json!({ "removed": removed, "token_path": path });
    ctx.out.emit(&value, || {
        if removed {
            format!("Logged out: removed the token saved at {}.", path.display())
        } else {
            format!("Not logged in: no token saved at {}.", path.display())
        }
    })
}

/// `whoami`: the user the configured token belongs to.
pub async fn whoami(ctx: &Ctx) -> Result<(), CliError> {
    let name = current_user(ctx).await?;
    let source = ctx
        .config
        .token_source
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    ctx.out.info(format_args!(
        "logged in to {} with the token from {source}",
        ctx.config.endpoint
    ));
    let value = json!({
        "user": name,
        "endpoint": ctx.config.endpoint,
        "token_source": source,
    });
    ctx.out
        .emit(&value, || crate::output::sanitize(&name).into_owned())
}

/// The user name of the configured token (`NotLoggedIn` without one).
pub async fn current_user(ctx: &Ctx) -> Result<String, CliError> {
    ctx.require_token()?;
    let who = ctx
        .call(endpoints::whoami(), &Subject::other("the current user"))
        .await?;
    Ok(who.name)
}
