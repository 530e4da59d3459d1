//! `credentials`: username and password accounts from `credentials/users.json`.
//!
//! Enabled while the store holds at least one user; a server that starts with none runs
//! every request as the default user. Re-evaluated on every request, so adding the first
//! user with the CLI turns authentication on without a restart. The other way round fails
//! closed: a store emptied while the server runs keeps authentication on.
//!
//! Signing in ([`authenticate`]) and changing one's password ([`change_password`]) live
//! here and know nothing of HTTP; `POST /auth/login` is a thin handler around the first.
//! The store's accounts are the [`PASSWORD_ACCOUNTS`] directory of Manage Users.

mod accounts;
mod check;
mod reset;
mod second_factor;
mod sign_in;

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::routing::post;
use axum::Router;

pub use accounts::{PasswordAccounts, PASSWORD_ACCOUNTS};
pub use reset::{create_reset_link, use_reset_link, ResetToken, RESET_LINK_LIFETIME};
pub use second_factor::{
    begin_two_factor, confirm_two_factor, disable_own_two_factor, reset_two_factor, Enrolment,
};
pub use sign_in::{authenticate, change_password, Credentials, SignedIn};

use crate::accounts::AccountDirectory;
use crate::context::AuthContext;
use crate::error::Result;
use crate::identity::{CurrentUser, Identity};
use crate::provider::AuthProvider;
use crate::request::RequestFacts;
use crate::users::Users;

/// This provider's name.
pub const NAME: &str = "credentials";

/// Username/password sign-in against the user store.
#[derive(Debug, Default)]
pub struct CredentialsProvider {
    /// Set once the user store has held a user during this run.
    users_seen: AtomicBool,
    /// Set once the "store became empty" warning was logged.
    emptied_warned: AtomicBool,
}

impl CredentialsProvider {
    /// A provider that has seen no users yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether signing in with a password is required, given the current `users`: while
    /// the store holds users, and also after it became empty during this run. Emptying the
    /// store of a running server (say `llms --removeuser` of the last user) must not switch
    /// authentication off behind the operator's back: it stays on, and nobody can sign in,
    /// until a user is added or the server is restarted.
    fn password_auth_required(&self, ctx: &AuthContext, users: &Users) -> bool {
        if !users.is_empty() {
            // Read before writing: a store on every request would bounce the cache line
            // between the cores.
            if !self.users_seen.load(Ordering::Relaxed) {
                self.users_seen.store(true, Ordering::Relaxed);
            }
            return true;
        }
        let seen = self.users_seen.load(Ordering::Relaxed);
        if seen && !self.emptied_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                store = %ctx.user_store().describe(),
                "the user store became empty; authentication stays on until a user is added or the server restarts"
            );
        }
        seen
    }
}

#[async_trait]
impl AuthProvider for CredentialsProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn requires_auth(&self, ctx: &AuthContext) -> Result<bool> {
        let users = ctx.users().await?;
        Ok(self.password_auth_required(ctx, &users))
    }

    fn requires_auth_now(&self, ctx: &AuthContext) -> Option<bool> {
        let users = ctx.users_if_current()?;
        Some(self.password_auth_required(ctx, &users))
    }

    async fn identify(&self, ctx: &AuthContext, request: &Parts) -> Result<Identity> {
        // The users first: a changed store moves the generation that tells the session
        // cache to look at the disk again.
        let users = ctx.users().await?;
        let facts = RequestFacts::of(request, ctx.config());
        let Some(found) = ctx.find_session(facts.session()).await? else {
            return Ok(Identity::Anonymous);
        };
        if found.provider != NAME {
            return Ok(Identity::Anonymous);
        }
        // Authority is live: the account must still exist and be unlocked, and its roles
        // are read from the store, never from the session.
        // The session is bound to the account's password and created time: a password
        // changed, or the account made again, by any program ends it.
        match users.get(&found.username) {
            Some(user) if user.lock_reason().is_none() && found.binding == user.binding() => {
                Ok(Identity::User(
                    CurrentUser::from_session(found, user.record.roles.clone())
                        .must_change_password(user.must_change_password)
                        .two_factor(user.has_two_factor()),
                ))
            }
            _ => {
                ctx.end_session(found.key).await?;
                Ok(Identity::Anonymous)
            }
        }
    }

    fn routes(&self) -> Router<AuthContext> {
        Router::new()
            .route("/auth/login", post(sign_in::submit_sign_in))
            .route("/auth/reset", post(reset::submit_reset))
    }

    fn uses_password_form(&self) -> bool {
        true
    }

    fn accounts(&self) -> Option<&dyn AccountDirectory> {
        Some(&PASSWORD_ACCOUNTS)
    }
}
