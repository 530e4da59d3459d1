//! The user commands: `--adduser`, `--removeuser`, `--listusers`, `--lockuser`,
//! `--unlockuser`. Messages are llms.py's where it has them (SPEC 4, 14).

use std::io::Write;

use super::{say, stdin_is_terminal, write_all, Command, Commands, CLI_ACTOR};
use crate::audit::{AuditEvent, AuditRecord};
use crate::error::{Error, Result};
use crate::password::{check_new_password, hash_password};
use crate::providers::credentials;
use crate::providers::github_auth::{self, GithubUserStore};
use crate::text::printable;
use crate::time::local_time;
use crate::users::{
    default_roles, held_name, lock_reason, same_username, validate_new_username, User, UserStore,
    Users, ADMIN_ROLE,
};

pub(super) fn not_found(name: &str) -> Error {
    Error::NotFound(format!(
        "User '{name}' not found. llms --listusers shows the users there are."
    ))
}

impl Commands<'_> {
    /// Runs a user command; what it changed, for the audit log.
    pub(super) fn user_command(
        &mut self,
        command: Command,
        out: &mut impl Write,
    ) -> Result<Option<AuditRecord>> {
        match command {
            Command::AddUser { name, admin } => self.add_user(&name, admin, out),
            Command::RemoveUser(name) => self.remove_user(&name, out),
            Command::ListUsers { long } => {
                list_users(&*self.users.snapshot()?, long, out).map(|()| None)
            }
            Command::ListLockable => list_lockable(&*self.users.snapshot()?, out).map(|()| None),
            Command::LockUser { name, reason } => self.lock_user(&name, reason, out),
            Command::UnlockUser(name) => self.unlock_user(&name, out),
            _ => Ok(None),
        }
    }

    /// `--adduser NAME [--admin]`: a new user (an Admin when asked, when named `admin`, or
    /// when the store is empty: the first user manages the others), or a new password for
    /// an existing one (only the password changes, and the user's sessions end).
    fn add_user(
        &mut self,
        name: &str,
        admin: bool,
        out: &mut impl Write,
    ) -> Result<Option<AuditRecord>> {
        let users = self.users.snapshot()?;
        let exists = users.contains_key(name);
        let announce_update = |out: &mut dyn Write| {
            say(
                out,
                &format!("User '{name}' already exists. Updating password."),
            )
        };
        if exists {
            if admin && !users[name].is_admin() {
                return Err(Error::bad_request(format!(
                    "User '{name}' already exists; --admin applies to new users (Manage Users makes Admins)."
                )));
            }
            // At a terminal the prompts that follow are for the new password; from a
            // script, the line is said once the password is known to be acceptable.
            if !self.input.password_stdin {
                announce_update(out)?;
            }
        } else {
            validate_new_username(name)?;
            refuse_taken_name(self.users, &self.github(), name)?;
        }
        let password = self
            .input
            .password(&format!("Enter password for '{}': ", printable(name)))?;
        check_new_password(&password, self.config.min_password_length)?;
        if !self.input.password_stdin {
            let confirm = self.input.password("Confirm password: ")?;
            if password != confirm {
                return Err(Error::bad_request("Passwords do not match."));
            }
        }
        let hash = hash_password(&password, self.config.hash_scheme)?;
        let sessions = self.sessions;
        let first = users.is_empty();
        let event = self.users.update(|users| {
            Ok(match users.get_mut(name) {
                Some(user) => {
                    // Only the password changes; the old password's sessions end first, so
                    // a server that sees the new file never finds them again.
                    sessions.remove_user(credentials::NAME, name, None)?;
                    user.password_hash = hash;
                    AuditEvent::PasswordChanged
                }
                None => {
                    if let Some(held) = held_name(users, name) {
                        return Err(name_taken(held, None));
                    }
                    let mut roles = default_roles(name);
                    if (admin || users.is_empty()) && roles.is_empty() {
                        roles.push(ADMIN_ROLE.to_owned());
                    }
                    users.insert(name.to_owned(), User::new(hash, roles));
                    AuditEvent::UserCreated
                }
            })
        })?;
        if event == AuditEvent::PasswordChanged {
            if self.input.password_stdin {
                announce_update(out)?;
            }
            say(out, &format!("Password for '{name}' updated."))?;
        } else {
            say(out, &format!("User '{name}' added."))?;
            if first {
                say(
                    out,
                    &format!("'{name}' is an Admin: the first user manages the others."),
                )?;
            } else if admin {
                say(out, &format!("'{name}' is an Admin."))?;
            }
        }
        Ok(Some(AuditRecord::new(event, CLI_ACTOR, name)))
    }

    /// `--removeuser NAME`: removes the user, their sessions and their avatar.
    fn remove_user(&mut self, name: &str, out: &mut impl Write) -> Result<Option<AuditRecord>> {
        let sessions = self.sessions;
        let left = self.users.update(|users| {
            if !users.contains_key(name) {
                return Err(not_found(name));
            }
            sessions.remove_user(credentials::NAME, name, None)?;
            users.shift_remove(name);
            Ok(users.len())
        })?;
        // As the API does: a later account of the same name must not inherit the picture,
        // nor the keys (which stopped working the moment the account went).
        self.runtime.block_on(self.ctx.avatar_store().remove(name));
        let removed_keys = self
            .keys()
            .update(|keys| Ok(crate::keys::remove_keys_of(keys, name, credentials::NAME)))?;
        say(out, &format!("User '{name}' removed."))?;
        if left == 0 {
            eprintln!(
                "No users are left: a server that is running keeps authentication on, and nobody can sign in to it until a user is added (llms --adduser NAME); a server started now runs with authentication off."
            );
        }
        let mut record = AuditRecord::new(AuditEvent::UserDeleted, CLI_ACTOR, name);
        if !removed_keys.is_empty() {
            record = record.detail(format!("API keys removed: {}", removed_keys.join(", ")));
        }
        Ok(Some(record))
    }

    /// `--lockuser NAME`: locks the user with a reason (from `--reason`, or asked for;
    /// blank means the default) and ends their sessions.
    fn lock_user(
        &mut self,
        name: &str,
        reason: Option<String>,
        out: &mut impl Write,
    ) -> Result<Option<AuditRecord>> {
        if !self.users.snapshot()?.contains_key(name) {
            return Err(not_found(name));
        }
        let reason = match reason {
            Some(reason) => reason,
            None => {
                // Asked only at a terminal: from a script or a closed input, the reason is
                // read without a prompt running into the result's line.
                if stdin_is_terminal() {
                    write!(out, "Reason for locking '{}': ", printable(name))
                        .and_then(|()| out.flush())
                        .map_err(|e| {
                            Error::Internal(anyhow::anyhow!("writing to standard output: {e}"))
                        })?;
                }
                super::read_stdin_line()?
            }
        };
        let reason = lock_reason(&reason)?;
        let sessions = self.sessions;
        self.users.update(|users| {
            let user = users.get_mut(name).ok_or_else(|| not_found(name))?;
            sessions.remove_user(credentials::NAME, name, None)?;
            user.record.locked = Some(reason.clone());
            Ok(())
        })?;
        say(out, &format!("User '{name}' locked: {reason}"))?;
        Ok(Some(
            AuditRecord::new(AuditEvent::UserLocked, CLI_ACTOR, name).detail(reason),
        ))
    }

    /// `--unlockuser NAME`.
    fn unlock_user(&mut self, name: &str, out: &mut impl Write) -> Result<Option<AuditRecord>> {
        let was_locked = self.users.update(|users| {
            let user = users.get_mut(name).ok_or_else(|| not_found(name))?;
            Ok(user.record.locked.take().is_some())
        })?;
        if was_locked {
            say(out, &format!("User '{name}' unlocked."))?;
            Ok(Some(AuditRecord::new(
                AuditEvent::UserUnlocked,
                CLI_ACTOR,
                name,
            )))
        } else {
            say(out, &format!("User '{name}' is not locked."))?;
            Ok(None)
        }
    }
}

/// The refusal of a new account whose name `held` already has, in whatever case, as an
/// account of `provider` (the password store's when `None`).
fn name_taken(held: &str, provider: Option<&str>) -> Error {
    let kind = provider.map_or(String::new(), |p| format!(" as an account of {p}"));
    Error::bad_request(format!(
        "User '{held}' already exists{kind}; usernames ignore case."
    ))
}

/// Refuses `name` for a new password account when any account holds it, in any case:
/// usernames are one namespace across providers.
fn refuse_taken_name(store: &UserStore, github: &GithubUserStore, name: &str) -> Result<()> {
    if let Some(held) = held_name(&*store.snapshot()?, name) {
        return Err(name_taken(held, None));
    }
    let github = github.snapshot()?;
    if let Some(held) = github.keys().find(|held| same_username(held, name)) {
        return Err(name_taken(held, Some(github_auth::NAME)));
    }
    Ok(())
}

/// `--listusers`: llms.py's listing, word for word; `long` adds roles and the last
/// sign-in.
fn list_users(users: &Users, long: bool, out: &mut impl Write) -> Result<()> {
    if users.is_empty() {
        return say(out, "No users configured.");
    }
    let names: Vec<String> = users.keys().map(|n| printable(n)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut text = String::with_capacity(users.len() * 64);
    for (name, user) in names.iter().zip(users.values()) {
        let created = local_time(user.record.created);
        text.push_str(&format!("  {name:<width$}  (created: {created})"));
        if long {
            let roles = match user.record.roles.as_slice() {
                [] => "-".to_owned(),
                roles => printable(&roles.join(",")),
            };
            text.push_str(&format!("  roles: {roles}"));
            match user.record.last_login {
                Some(at) => {
                    let from = user.record.last_ip.as_deref().unwrap_or("unknown");
                    text.push_str(&format!(
                        "  last sign-in: {} from {}",
                        local_time(at),
                        printable(from)
                    ));
                }
                None => text.push_str("  last sign-in: never"),
            }
        }
        if let Some(reason) = user.lock_reason() {
            text.push_str(&format!("  LOCKED: {}", printable(reason)));
        }
        text.push('\n');
    }
    write_all(out, &text)
}

/// `--lockuser` without a name: the users and their locks.
fn list_lockable(users: &Users, out: &mut impl Write) -> Result<()> {
    if users.is_empty() {
        return say(out, "No users configured.");
    }
    say(out, "Users:")?;
    for (name, user) in users {
        match user.lock_reason() {
            Some(reason) => say(out, &format!("  {name}  (LOCKED: {reason})"))?,
            None => say(out, &format!("  {name}"))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        let mut users = Users::new();
        for (name, locked, roles) in [
            ("admin", None, vec!["Admin".to_owned()]),
            ("alice", None, vec![]),
            ("bob", Some("Account suspended"), vec![]),
        ] {
            let mut user = User::new("x:y".into(), roles);
            user.record.locked = locked.map(str::to_owned);
            users.insert(name.into(), user);
        }
        users
    }

    #[test]
    fn listing_pads_names_like_the_seed() {
        let mut out = Vec::new();
        list_users(&users(), false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert!(lines[0].starts_with("  admin  (created: "), "{text}");
        assert!(lines[0].ends_with(')'), "{text}");
        assert!(lines[2].starts_with("  bob    (created: "), "{text}");
        assert!(lines[2].ends_with(")  LOCKED: Account suspended"), "{text}");
    }

    #[test]
    fn the_long_listing_adds_roles_and_the_last_sign_in() {
        let mut users = users();
        users["alice"].record.last_login = Some(1_742_034_600.0);
        users["alice"].record.last_ip = Some("192.0.2.7".into());
        let mut out = Vec::new();
        list_users(&users, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert!(
            lines[0].contains(")  roles: Admin  last sign-in: never"),
            "{text}"
        );
        assert!(lines[1].contains(")  roles: -  last sign-in: 20"), "{text}");
        assert!(lines[1].ends_with(" from 192.0.2.7"), "{text}");
        assert!(
            lines[2].ends_with("last sign-in: never  LOCKED: Account suspended"),
            "{text}"
        );
    }
}
