//! `llms --import-files`: the file store of `LLMS_HOME` copied into the database (users
//! with their hashes, sessions, API keys, GitHub accounts, avatars). What the database
//! already holds is left as it is, so running it again copies nothing twice.

use std::fmt;

use crate::config::{Config, SESSION_MAX_AGE};
use crate::database::{Database, PgAvatars, PgDocuments, PgSessions};
use crate::error::{Error, Result};
use crate::providers::github_auth;
use crate::session::SessionStore;
use crate::users::User;

pub use crate::stores::{KEYS_DOCUMENT as KEYS, USERS_DOCUMENT as USERS};

/// What one kind of record came to: copied, or already in the database.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Copied into the database.
    pub copied: usize,
    /// Left as they were: the database had them already (or, for sessions, they expired).
    pub skipped: usize,
}

impl From<(usize, usize)> for Counts {
    fn from((copied, skipped): (usize, usize)) -> Self {
        Self { copied, skipped }
    }
}

/// What `--import-files` copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Password accounts (`credentials/users.json`).
    pub users: Counts,
    /// Sessions (the session files).
    pub sessions: Counts,
    /// API keys (`credentials/keys.json`).
    pub keys: Counts,
    /// GitHub accounts (`github_auth/users.json`).
    pub github_accounts: Counts,
    /// Avatars of the password accounts.
    pub avatars: Counts,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("users", self.users),
            ("sessions", self.sessions),
            ("API keys", self.keys),
            ("GitHub accounts", self.github_accounts),
            ("avatars", self.avatars),
        ];
        for (what, counts) in rows {
            writeln!(
                f,
                "{what}: {} copied, {} already there or expired",
                counts.copied, counts.skipped
            )?;
        }
        Ok(())
    }
}

/// Copies the file store of `config`'s home into `database`.
pub async fn import_files(config: &Config, database: &Database) -> Result<ImportReport> {
    let files = config.clone();
    let (users, keys, github, sessions) = tokio::task::spawn_blocking(move || {
        let users = crate::users::open_store(&files).load()?;
        let keys = crate::keys::open_store(&files).load()?;
        let github = github_auth::open_store(&files).load()?;
        let sessions = SessionStore::new(files.sessions_dir(), SESSION_MAX_AGE).all()?;
        Ok::<_, Error>((users, keys, github, sessions))
    })
    .await??;
    let avatars = PgAvatars::new(database);
    let mut report = ImportReport::default();
    for name in users.keys() {
        let Some(path) = crate::avatar::avatar_path(config, name) else {
            continue;
        };
        let png = match tokio::fs::read(&path).await {
            Ok(png) => png,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        if avatars.get(name).await?.is_some() {
            report.avatars.skipped += 1;
        } else {
            avatars.put(name, &png).await?;
            report.avatars.copied += 1;
        }
    }
    report.users = PgDocuments::<User>::new(database, USERS)
        .insert_missing(users)
        .await?
        .into();
    report.keys = PgDocuments::new(database, KEYS)
        .insert_missing(keys)
        .await?
        .into();
    report.github_accounts = PgDocuments::new(database, github_auth::NAME)
        .insert_missing(github)
        .await?
        .into();
    let copied = PgSessions::new(database, SESSION_MAX_AGE)
        .import(&sessions)
        .await?;
    report.sessions = Counts {
        copied,
        skipped: sessions.len() - copied,
    };
    Ok(report)
}
