//! The password accounts: `credentials/users.json` in the reference's format, kept in a
//! [`JsonStore`] (re-read when it changes, locked and atomic writes), and the rules for
//! usernames.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::json_store::{parse_json, to_pretty_json, JsonStore};
use crate::session::BindingMemo;
use crate::stores::DocumentStore;
use crate::text::printable;
use crate::time::now_secs;

/// The user every request runs as while authentication is off.
pub const DEFAULT_USERNAME: &str = "default";

/// The only role with a meaning.
pub const ADMIN_ROLE: &str = "Admin";

/// The lock reason recorded when an admin gives none.
pub const DEFAULT_LOCK_REASON: &str = "Account suspended";

/// The longest lock reason accepted, in characters.
pub const MAX_LOCK_REASON_CHARS: usize = 500;

/// The lock reason `input` gives: trimmed, the default when blank; refused when longer
/// than [`MAX_LOCK_REASON_CHARS`] or when it holds control characters (shown on terminals
/// and pages, a reason must not be able to act on them).
pub fn lock_reason(input: &str) -> Result<String> {
    let reason = input.trim();
    if reason.is_empty() {
        return Ok(DEFAULT_LOCK_REASON.to_owned());
    }
    if reason.chars().count() > MAX_LOCK_REASON_CHARS {
        return Err(Error::bad_request(format!(
            "Lock reason is too long (at most {MAX_LOCK_REASON_CHARS} characters)."
        )));
    }
    if reason.chars().any(crate::text::is_unprintable) {
        return Err(Error::bad_request(
            "Lock reason may not contain control characters.",
        ));
    }
    Ok(reason.to_owned())
}

/// The longest username accepted for a new account.
pub const MAX_USERNAME_CHARS: usize = 64;

/// The longest username the sign-in form accepts, in bytes: more than
/// [`MAX_USERNAME_CHARS`], because an account written by hand or by llms.py may have a
/// longer name, and it can still sign in. Longer names are refused before any lookup or
/// hashing.
pub const MAX_SIGN_IN_NAME_BYTES: usize = 256;

/// What every stored account records, whichever provider signs it in: when it was
/// created, its roles, its lock, its last sign-in, and the fields this crate does not know
/// (kept as they were). The fields and their names are llms.py's `users.json`'s.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AccountRecord {
    /// Unix seconds when the account was created (or first seen).
    #[serde(default)]
    pub created: f64,
    /// Role names; `"Admin"` is the only one with a meaning.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The lock reason; absent when the account is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<String>,
    /// Client address of the last sign-in.
    #[serde(rename = "lastIp", default, skip_serializing_if = "Option::is_none")]
    pub last_ip: Option<String>,
    /// Unix seconds of the last sign-in.
    #[serde(rename = "lastLogin", default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<f64>,
    /// Fields this crate does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccountRecord {
    /// A record of an account created now, with these roles.
    pub fn new(roles: Vec<String>) -> Self {
        Self {
            created: now_secs(),
            roles,
            ..Self::default()
        }
    }

    /// Whether the account has the Admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }

    /// The lock reason, if the account is locked.
    pub fn lock_reason(&self) -> Option<&str> {
        self.locked.as_deref().filter(|r| !r.is_empty())
    }

    /// Records a sign-in from `client_ip`, now.
    pub fn signed_in(&mut self, client_ip: &str) {
        self.last_ip = Some(client_ip.to_owned());
        self.last_login = Some(now_secs());
    }
}

/// One password account, as stored in users.json.
///
/// The fields of account security (SPEC 12) are this crate's own; llms.py keeps fields it
/// does not know, so the file stays shared.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Argon2id PHC string or the reference's `salt:sha256hex`.
    #[serde(default)]
    pub password_hash: String,
    /// Set when an Admin chose this password: the user must choose their own before
    /// anything but signing out and changing it.
    #[serde(
        rename = "mustChangePassword",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub must_change_password: bool,
    /// Two-factor sign-in: on once confirmed, pending while being set up.
    #[serde(rename = "twoFactor", default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactor>,
    /// The one reset link that works, if any (only its hash).
    #[serde(rename = "resetLink", default, skip_serializing_if = "Option::is_none")]
    pub reset_link: Option<ResetLink>,
    /// Everything else the account records.
    #[serde(flatten)]
    pub record: AccountRecord,
    /// [`User::binding`], remembered for the password hash and created time it was
    /// computed from.
    #[serde(skip)]
    binding: BindingMemo,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("password_hash", &"<redacted>")
            .field("must_change_password", &self.must_change_password)
            .field("two_factor", &self.two_factor)
            .field("reset_link", &self.reset_link)
            .field("record", &self.record)
            .finish()
    }
}

/// An account's TOTP second factor (RFC 6238), as users.json keeps it.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactor {
    /// The shared secret, base32. Shown once, while it is set up.
    pub secret: String,
    /// Unix seconds when a first code confirmed it; `None` while it is pending (signing in
    /// does not ask for a code yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<f64>,
    /// The 30-second step of the last code accepted: no code of this step or an older one
    /// is accepted again.
    #[serde(default)]
    pub last_step: u64,
    /// The SHA-256 of each recovery code not used yet.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
}

impl TwoFactor {
    /// Whether it is on (confirmed), not only pending.
    pub fn is_on(&self) -> bool {
        self.confirmed.is_some()
    }
}

impl fmt::Debug for TwoFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactor")
            .field("secret", &"<redacted>")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .field("recovery_codes", &self.recovery_codes.len())
            .finish()
    }
}

/// The newest reset link of an account: the SHA-256 of its token and when it stops working.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct ResetLink {
    /// SHA-256 (hex) of the token.
    pub hash: String,
    /// Unix seconds after which it no longer works.
    pub expires: f64,
}

impl fmt::Debug for ResetLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetLink")
            .field("hash", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

impl User {
    /// A new account with this password hash, created now.
    pub fn new(password_hash: String, roles: Vec<String>) -> Self {
        Self {
            password_hash,
            must_change_password: false,
            two_factor: None,
            reset_link: None,
            record: AccountRecord::new(roles),
            binding: BindingMemo::default(),
        }
    }

    /// Whether the account has the Admin role.
    pub fn is_admin(&self) -> bool {
        self.record.is_admin()
    }

    /// The lock reason, if the account is locked.
    pub fn lock_reason(&self) -> Option<&str> {
        self.record.lock_reason()
    }

    /// Whether signing in asks for a second factor.
    pub fn has_two_factor(&self) -> bool {
        self.two_factor.as_ref().is_some_and(TwoFactor::is_on)
    }

    /// What this account's sessions are bound to: its password hash and created time
    /// ([`crate::session::binding`]). A new password, or the account removed and made
    /// again, by any program, ends the sessions made before.
    pub fn binding(&self) -> u64 {
        self.binding
            .binding(&self.password_hash, self.record.created)
    }
}

/// All accounts, keyed by username, in file order.
pub type Users = IndexMap<String, User>;

/// Checks the name of a new account: 1 to 64 characters from letters, digits and
/// `. _ @ -`, not starting with `.` or `-`. (Accounts already in the store are found by
/// their name as it is.)
pub fn validate_username(name: &str) -> Result<()> {
    let count = name.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    if name.is_empty() {
        return Err(Error::bad_request("Username is required"));
    }
    if count > MAX_USERNAME_CHARS || !name.chars().all(allowed) || name.starts_with(['.', '-']) {
        // The name as typed (escaped where it would act on a terminal); a long one cut,
        // saying so.
        let quoted = if count > MAX_USERNAME_CHARS {
            let start: String = name.chars().take(MAX_USERNAME_CHARS).collect();
            format!("'{}…' ({count} characters)", printable(&start))
        } else {
            format!("'{}'", printable(name))
        };
        return Err(Error::bad_request(format!(
            "Invalid username {quoted}: use 1 to {MAX_USERNAME_CHARS} characters, ASCII letters, digits and . _ @ -, not starting with . or -"
        )));
    }
    Ok(())
}

/// Usernames no new account may have, in any case: `default` is the user every request
/// runs as while authentication is off.
pub const RESERVED_USERNAMES: &[&str] = &[DEFAULT_USERNAME];

/// Checks the name of an account about to be created (by an admin, the command line, or a
/// first sign-in through another provider): [`validate_username`], and not reserved.
pub fn validate_new_username(name: &str) -> Result<()> {
    validate_username(name)?;
    if RESERVED_USERNAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(Error::bad_request(format!(
            "The username '{name}' is reserved"
        )));
    }
    Ok(())
}

/// Whether two usernames are the same account's: usernames ignore case.
pub fn same_username(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// The name under which `users` holds `name`, in whatever case, if it does.
pub fn held_name<'a>(users: &'a Users, name: &str) -> Option<&'a str> {
    if let Some((held, _)) = users.get_key_value(name) {
        return Some(held);
    }
    users
        .keys()
        .find(|held| same_username(held, name))
        .map(String::as_str)
}

/// The default roles of a new account: `admin` is an Admin.
pub fn default_roles(username: &str) -> Vec<String> {
    if username == "admin" {
        vec![ADMIN_ROLE.to_owned()]
    } else {
        Vec::new()
    }
}

/// The user store: `users.json` (a [`JsonStore`]), or the database's `users`.
pub type UserStore = DocumentStore<User>;

/// The user store of `config`: `credentials/users.json`, or llms.py's own
/// `user/default/credentials/users.json` when only that one exists.
pub fn open_store(config: &Config) -> UserStore {
    DocumentStore::Files(JsonStore::at(store_path(config), "user store"))
}

/// Where the user store of `config` lives (see [`open_store`]).
pub fn store_path(config: &Config) -> PathBuf {
    let own = config.credentials_dir().join("users.json");
    let legacy = config
        .home
        .join("user")
        .join("default")
        .join("credentials")
        .join("users.json");
    if !own.exists() && legacy.exists() {
        legacy
    } else {
        own
    }
}

/// A one-line notice when `store` is llms.py's own file, for start-up output.
pub fn location_notice(store: &UserStore, config: &Config) -> Option<String> {
    let path = store.file_path()?;
    (path != config.credentials_dir().join("users.json"))
        .then(|| format!("Using llms.py's user store at {}", path.display()))
}

/// Parses users.json, reporting the first problem with its line and column.
pub fn parse_users(path: &Path, bytes: &[u8]) -> Result<Users> {
    parse_json(path, bytes)
}

/// Writes users the way the reference does: 2-space indented JSON.
pub fn serialize_users(users: &Users) -> Result<Vec<u8>> {
    to_pretty_json(users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const REFERENCE: &str = r#"{
  "admin": {
    "password_hash": "0123456789abcdef0123456789abcdef:00",
    "created": 1742034600.123456,
    "roles": [
      "Admin"
    ],
    "lastIp": "127.0.0.1",
    "lastLogin": 1742034700.5
  },
  "bob": {
    "password_hash": "fedcba9876543210fedcba9876543210:00",
    "created": 1742116500.0,
    "roles": [],
    "locked": "Account suspended",
    "theme": "dark"
  }
}"#;

    /// The file itself: these tests are about its format.
    fn store() -> (tempfile::TempDir, JsonStore<Users>) {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonStore::at(store_path(&Config::new(dir.path())), "user store");
        (dir, store)
    }

    #[test]
    fn a_remembered_binding_follows_the_password_and_created_time() {
        let mut user = User::new("$argon2id$first".into(), vec![]);
        let first = user.binding();
        assert_eq!(
            first,
            crate::session::binding("$argon2id$first", user.record.created)
        );
        assert_eq!(user.binding(), first);
        // Changed in place after it was remembered: the new password's binding, never the
        // old one (signing in upgrades a hash and rebinds from one to the other).
        user.password_hash = "$argon2id$second".into();
        let second = user.binding();
        assert_ne!(second, first);
        assert_eq!(
            second,
            crate::session::binding("$argon2id$second", user.record.created)
        );
        user.record.created += 1.0;
        assert_eq!(
            user.binding(),
            crate::session::binding("$argon2id$second", user.record.created)
        );
        // A clone remembers nothing, and remembering is no part of equality.
        let copy = user.clone();
        assert_eq!(copy.binding(), user.binding());
        assert!(copy == user);
    }

    #[test]
    fn username_rules() {
        for ok in [
            "admin",
            "a",
            "alice.smith",
            "bob_2",
            "x@y.z",
            "A-b",
            &"a".repeat(64),
        ] {
            validate_username(ok).unwrap();
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "a b",
            "../x",
            "a/b",
            "é",
            &"a".repeat(65),
            "a\n",
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn reference_file_round_trips_with_unknown_fields() {
        let (_dir, store) = store();
        fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        fs::write(store.path(), REFERENCE).unwrap();
        let users = store.load().unwrap();
        assert_eq!(users.keys().collect::<Vec<_>>(), ["admin", "bob"]);
        assert!(users["admin"].is_admin());
        assert_eq!(users["bob"].lock_reason(), Some("Account suspended"));
        assert_eq!(users["bob"].record.extra["theme"], "dark");

        store
            .update(|users| {
                users["admin"].record.last_ip = Some("10.0.0.1".into());
                Ok(())
            })
            .unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["bob"]["theme"], "dark");
        assert_eq!(value["admin"]["lastIp"], "10.0.0.1");
        assert_eq!(value["admin"]["created"], 1742034600.123456);
        assert!(
            value["admin"].get("locked").is_none(),
            "locked absent when active"
        );
        assert!(
            text.contains("\n  \"admin\": {\n    \"password_hash\""),
            "{text}"
        );
    }

    #[test]
    fn legacy_location_is_used_when_only_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let legacy = dir.path().join("user/default/credentials/users.json");
        fs::create_dir_all(legacy.parent().unwrap()).unwrap();
        fs::write(&legacy, "{}").unwrap();
        let store = open_store(&config);
        assert_eq!(store.file_path(), Some(legacy.as_path()));
        assert!(location_notice(&store, &config)
            .unwrap()
            .contains("llms.py"));
    }

    #[test]
    fn debug_hides_the_hash() {
        let user = User::new("secret-hash".into(), vec![]);
        assert!(!format!("{user:?}").contains("secret-hash"));
    }
}
