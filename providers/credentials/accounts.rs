//! The password store's accounts as a directory for Manage Users.

use async_trait::async_trait;

use super::NAME;
use crate::accounts::AccountFields;
use crate::accounts::{apply_change, Account, AccountChange, AccountChanged, AccountDirectory};
use crate::context::AuthContext;
use crate::error::Result;

/// The accounts of `users.json`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PasswordAccounts;

/// The one directory of the password store.
pub static PASSWORD_ACCOUNTS: PasswordAccounts = PasswordAccounts;

#[async_trait]
impl AccountDirectory for PasswordAccounts {
    fn provider(&self) -> &str {
        NAME
    }

    fn has_passwords(&self) -> bool {
        true
    }

    async fn list(&self, ctx: &AuthContext) -> Result<Vec<Account>> {
        let users = ctx.users().await?;
        Ok(users
            .iter()
            .map(|(name, user)| Account::of_user(name, user))
            .collect())
    }

    async fn get(&self, ctx: &AuthContext, name: &str) -> Result<Option<Account>> {
        let users = ctx.users().await?;
        Ok(users.get(name).map(|user| Account::of_user(name, user)))
    }

    /// A new password or a lock ends the user's sessions (but the one `change` keeps)
    /// before the store is written, so a server that sees the new file never finds them.
    async fn update(
        &self,
        ctx: &AuthContext,
        name: &str,
        change: AccountChange,
    ) -> Result<Option<Vec<AccountChanged>>> {
        // No hashing for a name that is not here.
        if !ctx.users().await?.contains_key(name) {
            return Ok(None);
        }
        let AccountChange {
            password,
            roles,
            lock,
            keep_session,
            temporary_password,
        } = change;
        let hash = match password {
            Some(password) => Some(ctx.hasher().hash(password).await?),
            None => None,
        };
        let target = name.to_owned();
        ctx.update_users(move |ctx, users| {
            let Some(user) = users.get_mut(&target) else {
                return Ok(None);
            };
            let bound = user.binding();
            let fields = AccountFields::of(&mut user.record, Some(&mut user.password_hash), None);
            let applied = apply_change(&target, fields, hash, roles, lock)?;
            if applied.changes.contains(&AccountChanged::Password) {
                user.must_change_password = temporary_password;
                // A password chosen for them spends any reset link they had.
                user.reset_link = None;
            }
            if applied.ends_sessions {
                let sessions = ctx.sessions();
                sessions.remove_user(NAME, &target, keep_session)?;
                // The session kept (an admin's own, with a new password) moves to the new
                // binding; every other one has ended.
                sessions.rebind(NAME, &target, bound, user.binding())?;
            }
            Ok(Some(applied.changes))
        })
        .await
    }

    async fn remove(&self, ctx: &AuthContext, name: &str) -> Result<bool> {
        let target = name.to_owned();
        ctx.update_users(move |ctx, users| {
            if !users.contains_key(&target) {
                return Ok(false);
            }
            ctx.sessions().remove_user(NAME, &target, None)?;
            users.shift_remove(&target);
            Ok(true)
        })
        .await
    }
}
