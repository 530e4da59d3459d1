//! `credentials`: username and password accounts from `credentials/users.json`.
//!
//! Enabled while the store holds at least one user; a server that starts with none runs
//! every request as the default user. Re-evaluated on every request, so adding the first
//! user with the CLI turns authentication on without a restart. The other way round fails
//! closed: a store emptied while the server runs keeps authentication on (see
//! [`AuthState::password_auth_required`]).

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::routing::post;
use axum::Router;

use crate::error::Result;
use crate::provider::{AuthProvider, CurrentUser, Identity};
use crate::state::AuthState;

/// This provider's name.
pub const NAME: &str = "credentials";

/// Username/password sign-in against the user store.
#[derive(Debug, Default, Clone, Copy)]
pub struct CredentialsProvider;

#[async_trait]
impl AuthProvider for CredentialsProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn requires_auth(&self, auth: &AuthState) -> Result<bool> {
        let users = auth.users().await?;
        Ok(auth.password_auth_required(&users))
    }

    async fn identify(&self, auth: &AuthState, request: &Parts) -> Result<Identity> {
        let users = auth.users().await?;
        if !auth.password_auth_required(&users) {
            return Ok(Identity::User(CurrentUser::default_user(NAME)));
        }
        let Some(found) = auth.find_session(request).await? else {
            return Ok(Identity::Anonymous);
        };
        // Authority is live: the account must still exist and be unlocked, and its roles
        // are read from the store, never from the session.
        match users.get(&found.username) {
            Some(user) if user.lock_reason().is_none() && found.provider == NAME => Ok(
                Identity::User(CurrentUser::from_session(found, user.roles.clone())),
            ),
            _ => {
                auth.end_session(found.key).await?;
                Ok(Identity::Anonymous)
            }
        }
    }

    fn routes(&self) -> Router<AuthState> {
        Router::new().route("/auth/login", post(crate::web::auth::submit_sign_in))
    }

    fn uses_password_form(&self) -> bool {
        true
    }
}
