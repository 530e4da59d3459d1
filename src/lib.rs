//! # llms-auth
//!
//! Username/password authentication and user management for an LLM gateway: a re-making of
//! llms.py's Credentials auth extension, compatible with its `users.json`.
//!
//! The extension is an axum [`router`] plus a deny-by-default guard ([`protect`]) around a
//! shared [`AuthState`]. Who a request belongs to is decided by the selected
//! [`AuthProvider`]; the built-in ones are in [`providers`], and a host program can
//! register its own in a [`ProviderRegistry`].
//!
//! ```no_run
//! use llms_auth::{AuthState, Config, ProviderRegistry};
//!
//! # async fn run() -> llms_auth::Result<()> {
//! let state = AuthState::new(Config::from_env(None)?, &ProviderRegistry::builtin()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await.unwrap();
//! llms_auth::server::serve(state, listener).await
//! # }
//! ```

pub mod accounts;
pub mod audit;
pub mod avatar;
pub mod cli;
pub mod config;
pub mod context;
pub mod error;
pub mod fsutil;
pub mod identity;
pub mod json_store;
pub mod password;
pub mod provider;
pub mod request;
pub mod server;
pub mod session;
pub mod state;
pub mod throttle;
pub mod time;
pub mod users;
pub mod views;
pub mod web;

/// Built-in authentication providers (sources in the top-level `providers/` folder).
#[path = "../providers"]
pub mod providers {
    mod builtin;
    pub mod credentials;
    pub mod github_auth;
    pub mod none;
}

pub use accounts::{Account, AccountChange, AccountChanged, AccountDirectory, LockChange};
pub use config::Config;
pub use context::AuthContext;
pub use error::{Error, Result};
pub use identity::{CurrentUser, Identity};
pub use provider::{AuthProvider, ProviderRegistry};
pub use state::AuthState;
pub use web::extract::AdminUser;
pub use web::{protect, router};
