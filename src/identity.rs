//! Who makes a request: the [`CurrentUser`] a provider vouches for, or nobody.

use serde_json::{json, Value};

use crate::session::{FoundSession, SessionKey};
use crate::users::ADMIN_ROLE;

pub use crate::users::DEFAULT_USERNAME;

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// The username.
    pub user_name: String,
    /// Roles, read live from the provider's store.
    pub roles: Vec<String>,
    /// The provider that vouches for this user.
    pub provider: String,
    /// The session the request carries (`None` for the default user).
    pub session: Option<SessionKey>,
    /// Whether this is the default user of an unauthenticated server.
    pub is_default: bool,
    /// Whether an Admin chose the account's password and the user must choose their own
    /// before anything but signing out and changing it (SPEC 12).
    pub must_change_password: bool,
    /// Whether signing in to the account asks for a second factor (a `credentials`
    /// account with two-factor sign-in on), as read with the account for this request.
    pub two_factor: bool,
}

impl CurrentUser {
    /// The default user: treated as an admin, cannot sign out.
    pub fn default_user(provider: &str) -> Self {
        Self {
            user_name: DEFAULT_USERNAME.to_owned(),
            roles: vec![ADMIN_ROLE.to_owned()],
            provider: provider.to_owned(),
            session: None,
            is_default: true,
            must_change_password: false,
            two_factor: false,
        }
    }

    /// The user a live session vouches for, with roles read live from the provider's store.
    pub fn from_session(found: FoundSession, roles: Vec<String>) -> Self {
        Self {
            user_name: found.username,
            roles,
            provider: found.provider,
            session: Some(found.key),
            is_default: false,
            must_change_password: false,
            two_factor: false,
        }
    }

    /// This user, who must (or need not) change their password first.
    pub fn must_change_password(mut self, must: bool) -> Self {
        self.must_change_password = must;
        self
    }

    /// This user, whose sign-in does (or does not) ask for a second factor.
    pub fn two_factor(mut self, on: bool) -> Self {
        self.two_factor = on;
        self
    }

    /// Whether the user holds the Admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }

    /// The public description of this user, as the reference returns it.
    pub fn to_json(&self) -> Value {
        user_json(&self.user_name, &self.roles)
    }
}

/// The public description of a user, as the reference returns it from `POST /auth/login`
/// and `GET /auth`.
pub fn user_json(user_name: &str, roles: &[String]) -> Value {
    json!({
        "userId": user_name,
        "userName": user_name,
        "displayName": user_name,
        "profileUrl": "/avatar/user",
        "roles": roles,
    })
}

/// What a provider concludes about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// This provider vouches for nobody: no session of its own, or one that has ended.
    Anonymous,
    /// This user.
    User(CurrentUser),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_user_is_admin() {
        let user = CurrentUser::default_user("none");
        assert!(user.is_admin() && user.is_default);
        assert_eq!(user.user_name, "default");
        assert_eq!(user.to_json()["roles"], json!(["Admin"]));
    }
}
