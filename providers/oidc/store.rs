//! The record of accounts the OpenID Connect provider signed in: `LLMS_HOME/oidc/users.json`
//! (or the database's `oidc` document), keyed by username, with the issuer's subject, so
//! a name that passes to another person at the provider does not inherit the record.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::NAME;
use crate::config::Config;
use crate::error::Result;
use crate::json_store::JsonStore;
use crate::session::SessionToken;
use crate::stores::{DocumentStore, Sessions};
use crate::users::{AccountRecord, ADMIN_ROLE};

/// An account the provider signed in, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OidcUser {
    /// The issuer's subject identifier (`sub`): the person, whatever their name.
    pub subject: String,
    /// The issuer that vouched for them.
    pub issuer: String,
    /// Their groups at the last sign-in.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Everything else the account records (roles follow the groups at every sign-in).
    #[serde(flatten)]
    pub record: AccountRecord,
}

impl OidcUser {
    /// The lock reason, if the account is locked.
    pub fn lock_reason(&self) -> Option<&str> {
        self.record.lock_reason()
    }

    /// What this account's sessions are bound to: the issuer, the subject and the record's
    /// created time, so a record removed and made again ends them.
    pub fn binding(&self) -> u64 {
        crate::session::binding(
            &format!("oidc:{}:{}", self.issuer, self.subject),
            self.record.created,
        )
    }
}

/// Recorded accounts, keyed by username.
pub type OidcUsers = IndexMap<String, OidcUser>;

/// The records, in their file or the database.
pub type OidcUserStore = DocumentStore<OidcUser>;

/// The record file of `config`: `LLMS_HOME/oidc/users.json`.
pub fn records_file(config: &Config) -> JsonStore<OidcUsers> {
    JsonStore::at(
        config.home.join("oidc").join("users.json"),
        "OpenID Connect account records",
    )
}

/// Who the ID token says signs in.
#[derive(Debug, Clone)]
pub(super) struct Person {
    pub(super) username: String,
    pub(super) subject: String,
    pub(super) issuer: String,
    pub(super) groups: Vec<String>,
    pub(super) admin: bool,
}

/// Why [`admit`] turned someone away.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Turned {
    /// Their record is locked, for this reason.
    Locked(String),
    /// Another person of the provider holds the name here.
    NameTaken,
}

/// Records the sign-in of `person` (their groups, their Admin role following the admin
/// groups, the address and time) and starts their session. Runs inside the store's locked
/// read-modify-write.
pub(super) fn admit(
    users: &mut OidcUsers,
    sessions: &Sessions,
    person: &Person,
    ip: &str,
    agent: &str,
) -> Result<std::result::Result<SessionToken, Turned>> {
    let name = person.username.as_str();
    if let Some(held) = users.iter().find(|(key, user)| {
        key.eq_ignore_ascii_case(name)
            && (user.subject != person.subject || user.issuer != person.issuer)
    }) {
        tracing::info!(user = %held.0, "an OpenID Connect name held by another subject");
        return Ok(Err(Turned::NameTaken));
    }
    let user = users.entry(name.to_owned()).or_insert_with(|| OidcUser {
        subject: person.subject.clone(),
        issuer: person.issuer.clone(),
        groups: Vec::new(),
        record: AccountRecord::new(Vec::new()),
    });
    if let Some(reason) = user.lock_reason() {
        return Ok(Err(Turned::Locked(reason.to_owned())));
    }
    user.groups = person.groups.clone();
    user.record.roles.retain(|role| role != ADMIN_ROLE);
    if person.admin {
        user.record.roles.push(ADMIN_ROLE.to_owned());
    }
    user.record.signed_in(ip);
    Ok(Ok(sessions.create(
        name,
        NAME,
        ip,
        agent,
        user.binding(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(dir: &std::path::Path) -> Sessions {
        Sessions::Files(std::sync::Arc::new(crate::session::SessionStore::new(
            dir.join("sessions"),
            crate::config::SESSION_MAX_AGE,
        )))
    }

    fn person(name: &str, subject: &str, admin: bool) -> Person {
        Person {
            username: name.into(),
            subject: subject.into(),
            issuer: "https://idm.example.org".into(),
            groups: vec!["staff".into()],
            admin,
        }
    }

    #[test]
    fn roles_follow_the_groups_and_names_stay_with_their_subject() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = sessions(dir.path());
        let mut users = OidcUsers::new();
        admit(
            &mut users,
            &sessions,
            &person("alice", "sub-1", true),
            "ip",
            "ua",
        )
        .unwrap()
        .unwrap();
        assert_eq!(users["alice"].record.roles, [ADMIN_ROLE]);
        users
            .get_mut("alice")
            .unwrap()
            .record
            .roles
            .push("Editor".into());
        admit(
            &mut users,
            &sessions,
            &person("alice", "sub-1", false),
            "ip",
            "ua",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            users["alice"].record.roles,
            ["Editor"],
            "Admin follows the groups"
        );
        // Another person with the same name, in any case: turned away.
        assert_eq!(
            admit(
                &mut users,
                &sessions,
                &person("Alice", "sub-2", false),
                "ip",
                "ua"
            )
            .unwrap()
            .unwrap_err(),
            Turned::NameTaken
        );
        users.get_mut("alice").unwrap().record.locked = Some("gone".into());
        assert_eq!(
            admit(
                &mut users,
                &sessions,
                &person("alice", "sub-1", true),
                "ip",
                "ua"
            )
            .unwrap()
            .unwrap_err(),
            Turned::Locked("gone".into())
        );
    }
}
