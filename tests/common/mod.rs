//! The one harness of the integration tests: a temporary `LLMS_HOME` and fixtures in the
//! on-disk formats ([`home`]), the app in process ([`app`]), the real `llms` binary as a
//! server ([`server`]) and in a pseudo-terminal ([`pty`]), a fake GitHub
//! ([`fake_github`]), a fake OpenAI-compatible upstream ([`fake_openai`]), the reference
//! Python ([`python`]), a real, private PostgreSQL server with a fresh database per test
//! ([`postgres`]) and a real OpenID Connect issuer run by Node ([`oidc`]). Each test file
//! includes it with `mod common;` and uses what it needs.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod fake_github;
pub mod fake_oidc;
pub mod fake_openai;
pub mod home;
pub mod oidc;
pub mod postgres;
pub mod pty;
pub mod python;
pub mod server;
pub mod totp;

pub use app::{
    assert_error, avatar_upload, forwarded, home_with_users, json_request, login_request, request,
    AppBuilder, Reply, Store, TestApp,
};
pub use home::{
    figure, llms_bin, now_secs, random_token, run_bounded, sha256_hash, token_of, Home,
    EDIT_SEEN_WITHIN,
};
pub use oidc::OidcIssuer;
pub use pty::{pty_echoes, pty_finish, type_secret, PTY_TIMEOUT_MS};
pub use server::{cookie_pair, get_json, get_text, http, session_cookie, sign_in, Server};
