//! Accounts, wherever they are kept: the [`AccountDirectory`] seam that Manage Users and
//! `/admin/users` ask, and the rules every kind of account follows when an admin changes it.
//!
//! The password store (`users.json`) is one directory; each provider that records the
//! accounts it admits (the GitHub records, for example) offers another. The admin handlers
//! never ask which kind of store an account lives in.

use async_trait::async_trait;

use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::session::SessionKey;
use crate::users::{AccountRecord, User, ADMIN_ROLE};

/// One account as Manage Users lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The username sessions carry.
    pub user_name: String,
    /// Unix seconds when the account was created (or first seen).
    pub created: f64,
    /// Roles in effect.
    pub roles: Vec<String>,
    /// The lock reason, if locked.
    pub locked: Option<String>,
    /// Client address of the last sign-in.
    pub last_ip: Option<String>,
    /// Unix seconds of the last sign-in.
    pub last_login: Option<f64>,
    /// Whether the user must choose a new password before anything else.
    pub must_change_password: bool,
    /// Whether signing in asks for a second factor.
    pub two_factor: bool,
}

impl Account {
    /// The account `name` as `record` has it, with these `roles` in effect.
    pub fn of(name: &str, record: &AccountRecord, roles: Vec<String>) -> Self {
        Self {
            user_name: name.to_owned(),
            created: record.created,
            roles,
            locked: record.lock_reason().map(str::to_owned),
            last_ip: record.last_ip.clone(),
            last_login: record.last_login,
            must_change_password: false,
            two_factor: false,
        }
    }

    /// The account `name` of the password store.
    pub fn of_user(name: &str, user: &User) -> Self {
        Self {
            must_change_password: user.must_change_password,
            two_factor: user.has_two_factor(),
            ..Self::of(name, &user.record, user.record.roles.clone())
        }
    }

    /// Whether the account holds the Admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// What `locked` asks for in an account change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LockChange {
    /// Leave the lock as it is.
    #[default]
    Keep,
    /// Lock with this reason (and end the account's sessions).
    Lock(String),
    /// Unlock (nothing to do when not locked).
    Unlock,
}

impl LockChange {
    /// Applies the change to an account's `locked` field and says what it did, if anything.
    pub fn apply(self, locked: &mut Option<String>) -> Option<AccountChanged> {
        match self {
            Self::Keep => None,
            Self::Lock(reason) => {
                *locked = Some(reason.clone());
                Some(AccountChanged::Locked(reason))
            }
            Self::Unlock => locked.take().map(|_| AccountChanged::Unlocked),
        }
    }
}

/// A change an admin asks for on one account (`PUT /admin/users`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// A new password, when one was given (never shown in `Debug`).
    pub password: Option<String>,
    /// The complete new list of roles, when given.
    pub roles: Option<Vec<String>>,
    /// Lock, unlock, or neither.
    pub lock: LockChange,
    /// A session that a new password does not end: the admin's own, when they change
    /// their own password.
    pub keep_session: Option<SessionKey>,
    /// Whether a new password is one the user did not choose (an Admin's for someone
    /// else): they must choose their own at their next sign-in.
    pub temporary_password: bool,
}

impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountChange")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("roles", &self.roles)
            .field("lock", &self.lock)
            .field("keep_session", &self.keep_session)
            .field("temporary_password", &self.temporary_password)
            .finish()
    }
}

/// One thing an [`AccountChange`] actually changed, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChanged {
    /// The password was set.
    Password,
    /// The roles are now these.
    Roles(Vec<String>),
    /// The account was locked with this reason.
    Locked(String),
    /// The account was unlocked.
    Unlocked,
}

/// The fields of a stored account that an admin may change.
#[derive(Debug)]
pub struct AccountFields<'a> {
    /// The roles the record lists.
    pub roles: &'a mut Vec<String>,
    /// The lock reason.
    pub locked: &'a mut Option<String>,
    /// The password hash; `None` for accounts that have no password here.
    pub password_hash: Option<&'a mut String>,
    /// The setting that makes this account an Admin whatever its record says, if one does
    /// (for example "the github_auth admins setting").
    pub admin_by_config: Option<&'a str>,
}

impl<'a> AccountFields<'a> {
    /// The fields of `record`, with its password hash when it has one here, and the setting
    /// that makes it an Admin, if any.
    pub fn of(
        record: &'a mut AccountRecord,
        password_hash: Option<&'a mut String>,
        admin_by_config: Option<&'a str>,
    ) -> Self {
        Self {
            roles: &mut record.roles,
            locked: &mut record.locked,
            password_hash,
            admin_by_config,
        }
    }
}

/// What [`apply_change`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// What changed, for the audit log.
    pub changes: Vec<AccountChanged>,
    /// Whether the account's sessions must end (a new password, a lock).
    pub ends_sessions: bool,
}

/// Applies an admin's change to one stored account, by the rules every kind of account
/// follows: no password for an account that has none here; an Admin by configuration keeps
/// the role; an Admin (now, or after this very change) cannot be locked. `password_hash`
/// is the new password, already hashed. Nothing changes when a rule refuses. (Locking
/// yourself and dropping your own Admin role are refused by the caller, who knows who asks.)
pub fn apply_change(
    name: &str,
    fields: AccountFields<'_>,
    password_hash: Option<String>,
    roles: Option<Vec<String>>,
    lock: LockChange,
) -> Result<Applied> {
    let has_admin = |roles: &[String]| roles.iter().any(|r| r == ADMIN_ROLE);
    if password_hash.is_some() && fields.password_hash.is_none() {
        return Err(Error::bad_request(format!(
            "'{name}' has no password here: they sign in elsewhere"
        )));
    }
    if let (Some(roles), Some(setting)) = (&roles, fields.admin_by_config) {
        if !has_admin(roles) {
            return Err(Error::bad_request(format!(
                "The Admin role of '{name}' comes from {setting}"
            )));
        }
    }
    if let LockChange::Lock(_) = lock {
        let admin_now = fields.admin_by_config.is_some() || has_admin(fields.roles);
        let admin_after = roles.as_deref().is_some_and(has_admin);
        if admin_now || admin_after {
            return Err(Error::bad_request("Cannot lock an Admin user"));
        }
    }
    let mut applied = Applied::default();
    if let (Some(hash), Some(stored)) = (password_hash, fields.password_hash) {
        *stored = hash;
        applied.changes.push(AccountChanged::Password);
        applied.ends_sessions = true;
    }
    if let Some(roles) = roles {
        if roles != *fields.roles {
            applied.changes.push(AccountChanged::Roles(roles.clone()));
        }
        *fields.roles = roles;
    }
    if let LockChange::Lock(_) = lock {
        applied.ends_sessions = true;
    }
    applied.changes.extend(lock.apply(fields.locked));
    Ok(applied)
}

/// A store of accounts that Manage Users can list and change: the password store, or a
/// provider's record of the accounts it admitted.
///
/// Every change happens inside the store's own locked read-modify-write, goes through
/// [`apply_change`], and ends the account's sessions when it must (a lock, a new password,
/// a removal), before it returns.
#[async_trait]
pub trait AccountDirectory: Send + Sync {
    /// The name of the provider whose accounts these are (sessions carry it).
    fn provider(&self) -> &str;

    /// How the pages name these accounts: a badge in Manage Users ("GitHub"); `None` for
    /// the password store's own.
    fn badge(&self) -> Option<&str> {
        None
    }

    /// Whether these accounts have a password here (Manage Users offers Change Password).
    fn has_passwords(&self) -> bool {
        false
    }

    /// Every account, in the store's order.
    async fn list(&self, ctx: &AuthContext) -> Result<Vec<Account>>;

    /// The account `name`, if this directory holds it.
    async fn get(&self, ctx: &AuthContext, name: &str) -> Result<Option<Account>> {
        Ok(self
            .list(ctx)
            .await?
            .into_iter()
            .find(|account| account.user_name == name))
    }

    /// Applies `change` to the account `name`. `Ok(None)`: no such account here.
    async fn update(
        &self,
        ctx: &AuthContext,
        name: &str,
        change: AccountChange,
    ) -> Result<Option<Vec<AccountChanged>>>;

    /// Removes the account `name` and ends its sessions. `Ok(false)`: no such account here.
    async fn remove(&self, ctx: &AuthContext, name: &str) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record {
        roles: Vec<String>,
        locked: Option<String>,
        hash: Option<String>,
        admin_by_config: Option<&'static str>,
    }

    impl Record {
        fn new(roles: &[&str], hash: Option<&str>) -> Self {
            Self {
                roles: roles.iter().map(|r| r.to_string()).collect(),
                locked: None,
                hash: hash.map(str::to_owned),
                admin_by_config: None,
            }
        }

        fn apply(
            &mut self,
            hash: Option<&str>,
            roles: Option<&[&str]>,
            lock: LockChange,
        ) -> Result<Applied> {
            let fields = AccountFields {
                roles: &mut self.roles,
                locked: &mut self.locked,
                password_hash: self.hash.as_mut(),
                admin_by_config: self.admin_by_config,
            };
            apply_change(
                "x",
                fields,
                hash.map(str::to_owned),
                roles.map(|r| r.iter().map(|s| s.to_string()).collect()),
                lock,
            )
        }
    }

    #[test]
    fn a_password_lock_and_roles_apply_and_say_what_changed() {
        let mut record = Record::new(&[], Some("old"));
        let applied = record
            .apply(
                Some("new"),
                Some(&["Editor"]),
                LockChange::Lock("spam".into()),
            )
            .unwrap();
        assert_eq!(
            applied.changes,
            [
                AccountChanged::Password,
                AccountChanged::Roles(vec!["Editor".into()]),
                AccountChanged::Locked("spam".into())
            ]
        );
        assert!(applied.ends_sessions);
        assert_eq!(record.hash.as_deref(), Some("new"));
        let applied = record.apply(None, None, LockChange::Unlock).unwrap();
        assert_eq!(applied.changes, [AccountChanged::Unlocked]);
        assert!(!applied.ends_sessions);
        // Unlocking an unlocked account, or setting the same roles, changes nothing.
        let applied = record
            .apply(None, Some(&["Editor"]), LockChange::Unlock)
            .unwrap();
        assert_eq!(applied, Applied::default());
    }

    #[test]
    fn admins_are_not_locked_now_or_after_the_change() {
        let mut admin = Record::new(&["Admin"], Some("h"));
        let lock = || LockChange::Lock("r".into());
        assert!(admin.apply(None, None, lock()).is_err());
        let mut user = Record::new(&[], Some("h"));
        assert!(user.apply(None, Some(&["Admin"]), lock()).is_err());
        assert!(
            user.locked.is_none() && user.roles.is_empty(),
            "refused whole"
        );
        let mut configured = Record::new(&[], None);
        configured.admin_by_config = Some("the admins setting");
        assert!(configured.apply(None, None, lock()).is_err());
        assert!(configured.apply(None, Some(&[]), LockChange::Keep).is_err());
        // Dropping the role first and locking after is allowed for a plain Admin.
        assert!(admin.apply(None, Some(&[]), LockChange::Keep).is_ok());
        assert!(admin.apply(None, None, lock()).is_ok());
    }

    #[test]
    fn no_password_for_accounts_without_one() {
        let mut record = Record::new(&[], None);
        let err = record.apply(Some("h"), None, LockChange::Keep).unwrap_err();
        assert!(err.to_string().contains("no password here"), "{err}");
    }

    #[test]
    fn debug_hides_the_password() {
        let change = AccountChange {
            password: Some("hunter2-secret".into()),
            ..AccountChange::default()
        };
        assert!(!format!("{change:?}").contains("hunter2-secret"));
    }
}
