//! A third-party provider, built into its own `llms`: people are signed in by a reverse
//! proxy (an SSO gateway such as oauth2-proxy or Authelia) that puts their name in the
//! `X-Forwarded-User` header.
//!
//! The header is believed only when the request comes from an address listed in
//! `LLMS_TRUSTED_PROXIES`; from any other peer it is text anyone could send, so it is
//! ignored and the visitor is anonymous. Accounts that also exist in `users.json` keep their
//! roles and their lock there; everyone else the proxy vouches for has no roles.
//!
//! The binary is the library's own command line and server with one more provider in the
//! registry, so `--auth proxy_header` selects it exactly like a built-in one (and every
//! other flag works as in `llms`):
//!
//! ```sh
//! LLMS_TRUSTED_PROXIES=127.0.0.1 cargo run --example proxy_header -- --auth proxy_header --serve 8000
//! curl -H 'X-Forwarded-User: alice' http://127.0.0.1:8000/auth
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::request::Parts;
use clap::Parser;
use llms_auth::request::RequestFacts;
use llms_auth::users::validate_username;
use llms_auth::{AuthContext, AuthProvider, CurrentUser, Identity, ProviderRegistry, Result};
use maud::{html, Markup};
use tracing_subscriber::EnvFilter;

/// The header the proxy sets to the signed-in user's name.
const USER_HEADER: &str = "x-forwarded-user";

/// Trusts the user name a reverse proxy puts in `X-Forwarded-User`.
#[derive(Debug, Default, Clone, Copy)]
struct ProxyHeaderProvider;

#[async_trait]
impl AuthProvider for ProxyHeaderProvider {
    fn name(&self) -> &str {
        "proxy_header"
    }

    async fn requires_auth(&self, _ctx: &AuthContext) -> Result<bool> {
        Ok(true)
    }

    async fn identify(&self, ctx: &AuthContext, request: &Parts) -> Result<Identity> {
        // Only the proxy may say who this is; from anyone else the header means nothing.
        let facts = RequestFacts::of(request, ctx.config());
        if !facts.client.via_trusted_proxy {
            return Ok(Identity::Anonymous);
        }
        let Some(name) = request
            .headers
            .get(USER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        else {
            return Ok(Identity::Anonymous);
        };
        if validate_username(name).is_err() {
            return Ok(Identity::Anonymous);
        }
        // Roles and locks are read live from users.json on every request.
        let users = ctx.users().await?;
        let roles = match users.get(name) {
            Some(user) if user.lock_reason().is_some() => return Ok(Identity::Anonymous),
            Some(user) => user.record.roles.clone(),
            None => Vec::new(),
        };
        Ok(Identity::User(CurrentUser {
            user_name: name.to_owned(),
            roles,
            provider: self.name().to_owned(),
            session: None,
            is_default: false,
            must_change_password: false,
            two_factor: false,
        }))
    }

    fn sign_in_section(&self, _next: &str) -> Option<Markup> {
        Some(html! {
            p data-testid="proxy-sign-in" {
                "This server is signed in to through your organisation's single sign-on. "
                "Open it through the sign-on proxy's address."
            }
        })
    }
}

fn main() -> ExitCode {
    let cli = llms_auth::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LLMS_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut registry = ProviderRegistry::builtin();
    registry.register(Arc::new(ProxyHeaderProvider));
    match llms_auth::cli::run_with(cli, registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", llms_auth::cli::report(&err));
            ExitCode::from(1)
        }
    }
}
