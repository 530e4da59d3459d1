//! The record of admitted GitHub users: `LLMS_HOME/github_auth/users.json`, keyed by
//! login, with GitHub's numeric id, so a renamed account keeps its record (and its lock)
//! and a login that changed hands does not inherit one.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::client::Profile;
use super::NAME;
use crate::config::Config;
use crate::error::Result;
use crate::json_store::JsonStore;
use crate::session::SessionToken;
use crate::stores::{DocumentStore, Sessions};
use crate::users::AccountRecord;

/// A GitHub account this server admitted, as recorded in `github_auth/users.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GithubUser {
    /// GitHub's numeric user id: it stays when the login is renamed.
    pub id: u64,
    /// The login as GitHub last reported it.
    pub login: String,
    /// Everything else the account records (its roles are besides the Admin role the
    /// `admins` setting gives).
    #[serde(flatten)]
    pub record: AccountRecord,
}

impl GithubUser {
    /// A record for a first sign-in, now.
    pub fn new(id: u64, login: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            record: AccountRecord::new(Vec::new()),
        }
    }

    /// The lock reason, if the account is locked.
    pub fn lock_reason(&self) -> Option<&str> {
        self.record.lock_reason()
    }

    /// What this account's sessions are bound to: GitHub's id and the record's created
    /// time ([`crate::session::binding`]), so a record removed and made again ends them.
    pub fn binding(&self) -> u64 {
        crate::session::binding(&format!("github:{}", self.id), self.record.created)
    }
}

/// Admitted GitHub users keyed by username (their login; `#ID` for an account whose login
/// now belongs to someone else).
pub type GithubUsers = IndexMap<String, GithubUser>;

/// The GitHub records: `github_auth/users.json` (a [`JsonStore`]: locked read-modify-write,
/// atomic writes, re-read when changed, never overwritten when it does not parse), or the
/// database's `github_auth` document.
pub type GithubUserStore = DocumentStore<GithubUser>;

/// The record file of `config`: `LLMS_HOME/github_auth/users.json`.
pub fn records_file(config: &Config) -> JsonStore<GithubUsers> {
    JsonStore::at(
        config.home.join("github_auth").join("users.json"),
        "GitHub user records",
    )
}

/// The record file of `config` as a store (the command line, `--import-files`).
pub fn open_store(config: &Config) -> GithubUserStore {
    DocumentStore::Files(records_file(config))
}

/// Records the sign-in of `profile` and starts its session, or returns the lock reason.
/// Runs inside the store's locked read-modify-write.
pub(super) fn admit(
    users: &mut GithubUsers,
    sessions: &Sessions,
    profile: &Profile,
    ip: &str,
    agent: &str,
) -> Result<std::result::Result<SessionToken, String>> {
    let login = profile.login.as_str();
    // A record under this login (in any case) that belongs to another GitHub account: the
    // login changed hands. That record (and its lock) moves aside to `#ID`, where its owner
    // finds it again by id, and its sessions end.
    let taken: Vec<String> = users
        .iter()
        .filter(|(key, user)| user.id != profile.id && key.eq_ignore_ascii_case(login))
        .map(|(key, _)| key.clone())
        .collect();
    for key in taken {
        if let Some(user) = users.shift_remove(&key) {
            sessions.remove_user(NAME, &key, None)?;
            users.insert(format!("#{}", user.id), user);
        }
    }
    // This account's own record, wherever it is: renamed accounts keep their record.
    let own = users
        .iter()
        .find(|(_, user)| user.id == profile.id)
        .map(|(key, _)| key.clone());
    if let Some(old) = own.filter(|key| key != login) {
        if let Some(user) = users.shift_remove(&old) {
            sessions.remove_user(NAME, &old, None)?;
            users.insert(login.to_owned(), user);
        }
    }
    let user = users
        .entry(login.to_owned())
        .or_insert_with(|| GithubUser::new(profile.id, login));
    if let Some(reason) = user.lock_reason() {
        return Ok(Err(reason.to_owned()));
    }
    user.login = login.to_owned();
    user.record.signed_in(ip);
    Ok(Ok(sessions.create(
        login,
        NAME,
        ip,
        agent,
        user.binding(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_renames_and_logins_that_change_hands() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = Sessions::Files(std::sync::Arc::new(crate::session::SessionStore::new(
            dir.path().join("sessions"),
            crate::config::SESSION_MAX_AGE,
        )));
        let mut users = GithubUsers::new();
        let alice = Profile {
            login: "alice".into(),
            id: 1,
        };
        assert!(admit(&mut users, &sessions, &alice, "10.0.0.1", "ua")
            .unwrap()
            .is_ok());
        users.get_mut("alice").unwrap().record.locked = Some("spam".into());
        // Renamed: the record (and its lock) follows the id.
        let renamed = Profile {
            login: "alice2".into(),
            id: 1,
        };
        assert_eq!(
            admit(&mut users, &sessions, &renamed, "ip", "ua")
                .unwrap()
                .err(),
            Some("spam".to_owned())
        );
        assert!(users.get("alice").is_none());
        assert_eq!(users["alice2"].id, 1);
        // Someone else now holds "alice2" (in another case): a fresh record for them, and
        // the old one waits under its id.
        let newcomer = Profile {
            login: "Alice2".into(),
            id: 2,
        };
        assert!(admit(&mut users, &sessions, &newcomer, "ip", "ua")
            .unwrap()
            .is_ok());
        assert_eq!(users["Alice2"].id, 2);
        assert_eq!(users["#1"].lock_reason(), Some("spam"));
        // The first account, under yet another login, is still locked.
        let back = Profile {
            login: "alice3".into(),
            id: 1,
        };
        assert!(admit(&mut users, &sessions, &back, "ip", "ua")
            .unwrap()
            .is_err());
        assert!(users.get("#1").is_none());
    }
}
