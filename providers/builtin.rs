//! The registry of the built-in providers.

use std::sync::Arc;

use crate::provider::ProviderRegistry;

impl ProviderRegistry {
    /// The built-in providers: `credentials`, `github_auth`, `oidc` and `none`.
    pub fn builtin() -> Self {
        let mut registry = Self::new();
        registry.register(Arc::new(super::credentials::CredentialsProvider::new()));
        registry.register(Arc::new(super::github_auth::GithubAuthProvider::default()));
        registry.register(Arc::new(super::oidc::OidcProvider::default()));
        registry.register(Arc::new(super::none::NoneProvider));
        registry
    }
}
