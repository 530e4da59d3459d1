//! `none`: authentication off; every request runs as the default user.

use async_trait::async_trait;
use axum::http::request::Parts;

use crate::error::Result;
use crate::provider::{AuthProvider, CurrentUser, Identity};
use crate::state::AuthState;

/// The provider that signs nobody in and lets everyone through as the default user.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoneProvider;

#[async_trait]
impl AuthProvider for NoneProvider {
    fn name(&self) -> &str {
        "none"
    }

    async fn requires_auth(&self, _auth: &AuthState) -> Result<bool> {
        Ok(false)
    }

    async fn identify(&self, _auth: &AuthState, _request: &Parts) -> Result<Identity> {
        Ok(Identity::User(CurrentUser::default_user(self.name())))
    }
}
