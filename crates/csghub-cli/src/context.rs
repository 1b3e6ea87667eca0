//! What every command gets: the effective [`Config`], the [`Output`], and an API client built
//! from them on demand.

use csghub_api::{Client, ClientConfig, Endpoint, Target, Token};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{CliError, Subject};
use crate::output::Output;

/// The User-Agent: `csghub-cli/<version>` (the library crates share the workspace version).
pub const USER_AGENT: &str = concat!("csghub-cli/", env!("CARGO_PKG_VERSION"));

/// Configuration, output and a lazily built client.
pub struct Ctx {
    /// The effective configuration.
    pub config: Config,
    /// Where results and logs go.
    pub out: Output,
    client: std::cell::OnceCell<Client>,
}

impl Ctx {
    /// A context for one run.
    pub fn new(config: Config, out: Output) -> Ctx {
        Ctx {
            config,
            out,
            client: std::cell::OnceCell::new(),
        }
    }

    /// A client for the endpoint with a given token (used by `login` to check a new token).
    pub fn client_with(&self, token: Option<Token>) -> Result<Client, CliError> {
        let cfg = ClientConfig::new(&self.config.endpoint)
            .map_err(|e| self.api_error(e, Subject::default()))?
            .with_token(token)
            .with_user_agent(USER_AGENT);
        Client::new(cfg).map_err(|e| self.api_error(e, Subject::default()))
    }

    /// The client with the configured token (built once).
    pub fn client(&self) -> Result<&Client, CliError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = self.client_with(self.config.token.clone())?;
        Ok(self.client.get_or_init(|| c))
    }

    /// The configured token, or an error telling how to log in.
    pub fn require_token(&self) -> Result<&Token, CliError> {
        self.config
            .token
            .as_ref()
            .ok_or_else(|| CliError::NotLoggedIn {
                endpoint: self.config.endpoint.clone(),
                token_file: self
                    .config
                    .token_path
                    .as_ref()
                    .map_or_else(|| "a token file".into(), |p| p.display().to_string()),
            })
    }

    /// Wraps an API error with this run's endpoint and token source.
    pub fn api_error(&self, e: csghub_api::Error, subject: Subject) -> CliError {
        if self.out.debug_enabled() {
            self.out.debug(format_args!("server error detail: {e}"));
        }
        CliError::api(
            e,
            &self.config.endpoint,
            self.config.token_source.as_ref(),
            subject,
        )
    }

    /// Executes `ep` with the configured client, logging the route with `-v`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        ep: Endpoint<T>,
        subject: &Subject,
    ) -> Result<T, CliError> {
        let client = self.client()?;
        self.log_request(&ep);
        client
            .execute(ep)
            .await
            .map_err(|e| self.api_error(e, subject.clone()))
    }

    /// Logs a request at debug level (the token-check route shows its template only).
    pub fn log_request<T>(&self, ep: &Endpoint<T>) {
        if !self.out.debug_enabled() {
            return;
        }
        let shown = match (&ep.target, ep.secret_path) {
            (Target::Path(p), false) => p.clone(),
            (Target::Url(u), false) => csghub_api::redact_url(u),
            (_, true) => ep.template.to_owned(),
        };
        self.out.debug(format_args!(
            "{} {}{}",
            ep.method, self.config.endpoint, shown
        ));
    }
}
