//! # llms-auth
//!
//! Username/password authentication and user management for an LLM gateway: a re-making of
//! llms.py's Credentials auth extension, compatible with its `users.json`.
//!
//! The extension is an axum [`router`] plus a deny-by-default guard ([`protect`]) around a
//! shared [`AuthState`]. Who a request belongs to is decided by the selected
//! [`AuthProvider`]s (one, or several: `--auth credentials,github_auth`), which work with
//! the stores of an [`AuthContext`]; the built-in ones are in [`providers`], and a host
//! program can register its own in a [`ProviderRegistry`]. [`app`] is the `llms` server's
//! whole app (the extension, its home page, the guard), and [`serve`] runs it.
//!
//! The public API is what this page lists; how the code is laid out is in ARCHITECTURE.md.
//!
//! ```no_run
//! use llms_auth::{AuthState, Config, ProviderRegistry};
//!
//! # async fn run() -> llms_auth::Result<()> {
//! let state = AuthState::new(Config::from_env(None)?, &ProviderRegistry::builtin()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await.unwrap();
//! llms_auth::serve(state, listener).await
//! # }
//! ```

pub mod accounts;
pub mod audit;
mod avatar;
pub mod cli;
mod config;
mod context;
pub mod database;
mod error;
mod fsutil;
mod identity;
mod json_store;
pub mod keys;
pub mod password;
mod provider;
pub mod request;
mod server;
pub mod session;
mod state;
mod stores;
mod text;
mod throttle;
mod time;
pub(crate) mod two_factor;
mod upstream;
pub mod users;
mod views;
mod web;

/// Built-in authentication providers (sources in the top-level `providers/` folder).
#[path = "../providers"]
pub mod providers {
    mod builtin;
    pub mod credentials;
    pub(crate) mod external;
    pub mod github_auth;
    pub mod none;
    pub mod oidc;
    pub(crate) mod settings;
}

pub use accounts::{Account, AccountChange, AccountChanged, AccountDirectory, LockChange};
pub use config::{Config, Secret};
pub use context::AuthContext;
pub use error::{Error, Result};
pub use identity::{CurrentUser, Identity, DEFAULT_USERNAME};
pub use provider::{AuthProvider, ProviderRegistry};
pub use server::{app, serve};
pub use state::AuthState;
pub use web::extract::AdminUser;
pub use web::{protect, router};

/// Parts the benches and the load test measure directly. Not part of the API: they may
/// change with any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::json_store::JsonStore;
    pub use crate::session::SessionStore;
    pub use crate::stores::DocumentStore;
    pub use crate::throttle::Throttle;
    pub use crate::time::now_secs;
}
