//! `none`: authentication off; every request runs as the default user.

use async_trait::async_trait;
use axum::http::request::Parts;

use crate::context::AuthContext;
use crate::error::Result;
use crate::identity::Identity;
use crate::provider::AuthProvider;

/// The provider that signs nobody in: while it is the only one selected, everyone is the
/// default user.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoneProvider;

#[async_trait]
impl AuthProvider for NoneProvider {
    fn name(&self) -> &str {
        "none"
    }

    async fn requires_auth(&self, _ctx: &AuthContext) -> Result<bool> {
        Ok(false)
    }

    fn requires_auth_now(&self, _ctx: &AuthContext) -> Option<bool> {
        Some(false)
    }

    async fn identify(&self, _ctx: &AuthContext, _request: &Parts) -> Result<Identity> {
        Ok(Identity::Anonymous)
    }
}
