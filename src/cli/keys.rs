//! The API key commands: `--addkey`, `--listkeys`, `--removekey` (SPEC 9).

use std::io::Write;

use super::{say, write_all, Command, Commands, CLI_ACTOR};
use crate::audit::{AuditEvent, AuditRecord};
use crate::error::{Error, Result};
use crate::keys::{add_key, NewKey};
use crate::providers::{credentials, github_auth};
use crate::text::printable;
use crate::time::local_time;

impl Commands<'_> {
    /// Runs a key command; what it changed, for the audit log.
    pub(super) fn key_command(
        &mut self,
        command: Command,
        out: &mut impl Write,
    ) -> Result<Option<AuditRecord>> {
        match command {
            Command::AddKey { user, key } => self.add_key(&user, &key, out),
            Command::ListKeys(user) => self.list_keys(user.as_deref(), out).map(|()| None),
            Command::RemoveKey(id) => self.remove_key(&id, out),
            _ => Ok(None),
        }
    }

    /// The provider of `user`'s account: the password store's, else GitHub's records.
    fn provider_of(&self, user: &str) -> Result<Option<&'static str>> {
        if self.users.snapshot()?.contains_key(user) {
            return Ok(Some(credentials::NAME));
        }
        if self.github().snapshot()?.contains_key(user) {
            return Ok(Some(github_auth::NAME));
        }
        Ok(None)
    }

    /// `--addkey USER --name NAME [--expires DAYS] [--models a,b] [--rpm N]`: makes a key
    /// and prints it, this once, alone on its line.
    fn add_key(
        &mut self,
        user: &str,
        request: &NewKey,
        out: &mut impl Write,
    ) -> Result<Option<AuditRecord>> {
        request.validate()?;
        let Some(provider) = self.provider_of(user)? else {
            return Err(Error::NotFound(format!("User '{user}' not found.")));
        };
        let made = self
            .keys()
            .update(|keys| Ok(add_key(keys, user, provider, request)))?;
        say(
            out,
            &format!(
                "API key '{}' for '{user}' (id {}):",
                made.record.name, made.id
            ),
        )?;
        say(out, made.secret.expose())?;
        say(out, "Store it now: it is not shown again.")?;
        Ok(Some(
            AuditRecord::new(AuditEvent::KeyCreated, CLI_ACTOR, user)
                .detail(format!("id {}", made.id)),
        ))
    }

    /// `--listkeys [USER]`: one line per key, never the key itself.
    fn list_keys(&mut self, user: Option<&str>, out: &mut impl Write) -> Result<()> {
        let keys = self.keys().snapshot()?;
        let listed: Vec<_> = keys
            .iter()
            .filter(|(_, key)| user.is_none_or(|u| key.user_name == u))
            .collect();
        if listed.is_empty() {
            return say(out, "No API keys.");
        }
        let mut text = String::new();
        for (id, key) in listed {
            let expires = key.expires.map_or("never".to_owned(), local_time);
            let used = key.last_used.map_or("never".to_owned(), local_time);
            text.push_str(&format!(
                "  {id}  {}  {}  {}  (created: {}, expires: {expires}, last used: {used})\n",
                printable(&key.user_name),
                printable(&key.name),
                key.hint,
                local_time(key.created),
            ));
        }
        write_all(out, &text)
    }

    /// `--removekey ID`.
    fn remove_key(&mut self, id: &str, out: &mut impl Write) -> Result<Option<AuditRecord>> {
        let removed = self.keys().update(|keys| Ok(keys.shift_remove(id)))?;
        let Some(key) = removed else {
            return Err(Error::NotFound(format!("API key '{id}' not found.")));
        };
        say(out, &format!("API key '{id}' removed."))?;
        Ok(Some(
            AuditRecord::new(AuditEvent::KeyRemoved, CLI_ACTOR, &key.user_name)
                .detail(format!("id {id}")),
        ))
    }
}
