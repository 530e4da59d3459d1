//! The `llms` command line: flags, and one function per command.
//!
//! Messages are llms.py's, word for word. Exit status: 0 success, 1 error, 2 usage error.

use std::io::{BufRead, Write};
use std::net::IpAddr;

use clap::{ArgGroup, Parser};

use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::config::{Config, SESSION_MAX_AGE};
use crate::error::{Error, Result};
use crate::password::{check_password_rules, hash_password};
use crate::session::SessionStore;
use crate::text::printable;
use crate::time::local_time;
use crate::users::{
    default_roles, held_name, lock_reason, same_username, validate_new_username, User, UserStore,
    Users,
};

/// The port `llms` serves on when no command is given.
pub const DEFAULT_PORT: u16 = 8000;

/// `llms`: an LLM gateway's server with username/password authentication and user management.
#[derive(Debug, Parser)]
#[command(
    name = "llms",
    version,
    about = "LLM gateway server with username/password authentication and user management",
    after_help = "With no command, starts the server on port 8000. Files live under LLMS_HOME (default ~/.llms).",
    group(ArgGroup::new("command").args(["adduser", "removeuser", "listusers", "lockuser", "unlockuser", "serve", "audit"]).multiple(false))
)]
pub struct Cli {
    /// Add a user, or set a new password for an existing one (prompts for the password)
    #[arg(long, value_name = "USERNAME")]
    pub adduser: Option<String>,

    /// Remove a user and end all their sessions
    #[arg(long, value_name = "USERNAME")]
    pub removeuser: Option<String>,

    /// List users with their creation date and lock status
    #[arg(long)]
    pub listusers: bool,

    /// Lock a user and end their sessions (prompts for a reason); without a name, list users
    #[arg(long, value_name = "USERNAME", num_args = 0..=1, default_missing_value = "")]
    pub lockuser: Option<String>,

    /// Unlock a locked user
    #[arg(long, value_name = "USERNAME")]
    pub unlockuser: Option<String>,

    /// Print the last N audit-log events (default 20)
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "20")]
    pub audit: Option<usize>,

    /// Start the server on PORT
    #[arg(long, value_name = "PORT")]
    pub serve: Option<u16>,

    /// Address the server listens on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Auth provider: credentials (default), github_auth or none [env: LLMS_AUTH]
    #[arg(long, value_name = "NAME")]
    pub auth: Option<String>,

    /// Read the password from one line of standard input instead of the terminal (for scripts)
    #[arg(long)]
    pub password_stdin: bool,

    /// Lock reason for --lockuser, instead of prompting
    #[arg(long, value_name = "TEXT", requires = "lockuser")]
    pub reason: Option<String>,
}

/// How passwords and reasons are read.
#[derive(Debug, Clone, Copy)]
struct Input {
    password_stdin: bool,
}

impl Input {
    fn password(&self, prompt: &str) -> Result<String> {
        if self.password_stdin {
            return read_stdin_line();
        }
        rpassword::prompt_password(prompt).map_err(|e| {
            Error::Config(format!(
                "cannot read a password from the terminal ({e}); use --password-stdin to read it from standard input"
            ))
        })
    }
}

fn read_stdin_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Config(format!("cannot read standard input: {e}")))?;
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(line)
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `--adduser NAME`
    AddUser(String),
    /// `--removeuser NAME`
    RemoveUser(String),
    /// `--listusers`
    ListUsers,
    /// `--lockuser` without a name
    ListLockable,
    /// `--lockuser NAME`
    LockUser(String),
    /// `--unlockuser NAME`
    UnlockUser(String),
    /// `--audit [N]`
    Audit(usize),
    /// `--serve PORT`, or no command at all
    Serve(u16),
}

impl Cli {
    /// The one command these flags ask for.
    pub fn command(&self) -> Command {
        if let Some(name) = &self.adduser {
            Command::AddUser(name.clone())
        } else if let Some(name) = &self.removeuser {
            Command::RemoveUser(name.clone())
        } else if self.listusers {
            Command::ListUsers
        } else if let Some(name) = &self.lockuser {
            if name.is_empty() {
                Command::ListLockable
            } else {
                Command::LockUser(name.clone())
            }
        } else if let Some(name) = &self.unlockuser {
            Command::UnlockUser(name.clone())
        } else if let Some(count) = self.audit {
            Command::Audit(count)
        } else {
            Command::Serve(self.serve.unwrap_or(DEFAULT_PORT))
        }
    }
}

/// How `llms` reports an error: its whole chain on one line, every unprintable character
/// escaped.
pub fn report(err: &Error) -> String {
    printable(&format!("{err:#}"))
}

/// Runs the command the flags ask for, with the built-in providers.
pub fn run(cli: Cli) -> Result<()> {
    run_with(cli, crate::ProviderRegistry::builtin())
}

/// Runs the command the flags ask for, choosing `--auth NAME` from `registry`: how a host
/// program with providers of its own reuses this command line (see `examples/`).
pub fn run_with(cli: Cli, registry: crate::ProviderRegistry) -> Result<()> {
    let config = Config::from_env(cli.auth.as_deref())?;
    let input = Input {
        password_stdin: cli.password_stdin,
    };
    let command = cli.command();
    if let Command::Serve(port) = command {
        return crate::server::run_blocking(config, registry, cli.host, port);
    }
    let users = crate::users::open_store(&config);
    if let Some(notice) = crate::users::location_notice(&users, &config) {
        eprintln!("{notice}");
    }
    let sessions = SessionStore::new(config.sessions_dir(), SESSION_MAX_AGE);
    let audit = AuditLog::new(config.audit_log());
    let out = &mut std::io::stdout().lock();
    let record = match command {
        Command::AddUser(name) => add_user(&config, &users, &sessions, input, &name, out)?,
        Command::RemoveUser(name) => remove_user(&config, &users, &sessions, &name, out)?,
        Command::ListUsers => return list_users(&users.load()?, out),
        Command::ListLockable => return list_lockable(&users.load()?, out),
        Command::LockUser(name) => {
            let reason = cli.reason.clone();
            lock_user(&users, &sessions, &name, reason, out)?
        }
        Command::UnlockUser(name) => unlock_user(&users, &name, out)?,
        Command::Audit(count) => return show_audit(&audit, count, out),
        Command::Serve(_) => unreachable!("handled above"),
    };
    if let Some(record) = record {
        audit.append_or_warn(&record);
    }
    Ok(())
}

/// The actor recorded for changes made from the command line.
const CLI_ACTOR: &str = "cli";

fn show_audit(audit: &AuditLog, count: usize, out: &mut impl Write) -> Result<()> {
    let records = audit.tail(count)?;
    if records.is_empty() {
        return say(out, "No audit events recorded.");
    }
    for record in records {
        say(out, &record.display_line())?;
    }
    Ok(())
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("User '{name}' not found."))
}

/// Prints one line, every unprintable character escaped: names and reasons come from a
/// store that an editor or another program may have written, and must not act on the
/// terminal.
fn say(out: &mut impl Write, line: &str) -> Result<()> {
    writeln!(out, "{}", printable(line))
        .and_then(|()| out.flush())
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing to standard output: {e}")))
}

fn add_user(
    config: &Config,
    store: &UserStore,
    sessions: &SessionStore,
    input: Input,
    name: &str,
    out: &mut impl Write,
) -> Result<Option<AuditRecord>> {
    let exists = store.load()?.contains_key(name);
    if exists {
        say(
            out,
            &format!("User '{name}' already exists. Updating password."),
        )?;
    } else {
        validate_new_username(name)?;
        refuse_taken_name(config, store, name)?;
    }
    let password = input.password(&format!("Enter password for '{}': ", printable(name)))?;
    check_password_rules(&password)?;
    if !input.password_stdin {
        let confirm = input.password("Confirm password: ")?;
        if password != confirm {
            return Err(Error::bad_request("Passwords do not match."));
        }
    }
    let hash = hash_password(&password, config.hash_scheme)?;
    let event = store.update(|users| {
        Ok(match users.get_mut(name) {
            Some(user) => {
                // Only the password changes; the old password's sessions end first, so a
                // server that sees the new file never finds them again.
                sessions.remove_user(crate::providers::credentials::NAME, name, None)?;
                user.password_hash = hash;
                AuditEvent::PasswordChanged
            }
            None => {
                if let Some(held) = held_name(users, name) {
                    return Err(name_taken(held, None));
                }
                users.insert(name.to_owned(), User::new(hash, default_roles(name)));
                AuditEvent::UserCreated
            }
        })
    })?;
    say(out, &format!("User '{name}' added."))?;
    Ok(Some(AuditRecord::new(event, CLI_ACTOR, name)))
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
fn refuse_taken_name(config: &Config, store: &UserStore, name: &str) -> Result<()> {
    if let Some(held) = held_name(&store.load()?, name) {
        return Err(name_taken(held, None));
    }
    let github = crate::providers::github_auth::open_store(config).load()?;
    if let Some(held) = github.keys().find(|held| same_username(held, name)) {
        return Err(name_taken(held, Some(crate::providers::github_auth::NAME)));
    }
    Ok(())
}

fn remove_user(
    config: &Config,
    store: &UserStore,
    sessions: &SessionStore,
    name: &str,
    out: &mut impl Write,
) -> Result<Option<AuditRecord>> {
    store.update(|users| {
        if !users.contains_key(name) {
            return Err(not_found(name));
        }
        sessions.remove_user(crate::providers::credentials::NAME, name, None)?;
        users.shift_remove(name);
        Ok(())
    })?;
    // As the API does: a later account of the same name must not inherit the picture.
    crate::avatar::remove_avatar(config, name);
    say(out, &format!("User '{name}' removed."))?;
    Ok(Some(AuditRecord::new(
        AuditEvent::UserDeleted,
        CLI_ACTOR,
        name,
    )))
}

fn list_users(users: &Users, out: &mut impl Write) -> Result<()> {
    if users.is_empty() {
        return say(out, "No users configured.");
    }
    let names: Vec<String> = users.keys().map(|n| printable(n)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut text = String::with_capacity(users.len() * 64);
    for (name, user) in names.iter().zip(users.values()) {
        let created = local_time(user.record.created);
        text.push_str(&format!("  {name:<width$}  (created: {created})"));
        if let Some(reason) = user.lock_reason() {
            text.push_str(&format!("  LOCKED: {}", printable(reason)));
        }
        text.push('\n');
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing to standard output: {e}")))
}

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

fn lock_user(
    store: &UserStore,
    sessions: &SessionStore,
    name: &str,
    reason: Option<String>,
    out: &mut impl Write,
) -> Result<Option<AuditRecord>> {
    if !store.load()?.contains_key(name) {
        return Err(not_found(name));
    }
    let reason = match reason {
        Some(reason) => reason,
        None => {
            write!(out, "Reason for locking '{}': ", printable(name))
                .and_then(|()| out.flush())
                .map_err(|e| Error::Internal(anyhow::anyhow!("writing to standard output: {e}")))?;
            read_stdin_line()?
        }
    };
    let reason = lock_reason(&reason)?;
    store.update(|users| {
        let user = users.get_mut(name).ok_or_else(|| not_found(name))?;
        sessions.remove_user(crate::providers::credentials::NAME, name, None)?;
        user.record.locked = Some(reason.clone());
        Ok(())
    })?;
    say(out, &format!("User '{name}' locked: {reason}"))?;
    Ok(Some(
        AuditRecord::new(AuditEvent::UserLocked, CLI_ACTOR, name).detail(reason),
    ))
}

fn unlock_user(store: &UserStore, name: &str, out: &mut impl Write) -> Result<Option<AuditRecord>> {
    let was_locked = store.update(|users| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("llms").chain(args.iter().copied()))
    }

    #[test]
    fn commands_are_parsed() {
        assert_eq!(parse(&[]).unwrap().command(), Command::Serve(8000));
        assert_eq!(
            parse(&["--auth", "none"]).unwrap().command(),
            Command::Serve(8000)
        );
        assert_eq!(
            parse(&["--serve", "9000"]).unwrap().command(),
            Command::Serve(9000)
        );
        assert_eq!(
            parse(&["--lockuser"]).unwrap().command(),
            Command::ListLockable
        );
        assert_eq!(
            parse(&["--lockuser", "bob"]).unwrap().command(),
            Command::LockUser("bob".into())
        );
        assert!(parse(&["--adduser", "a", "--removeuser", "b"]).is_err());
        assert!(
            parse(&["--reason", "x"]).is_err(),
            "--reason needs --lockuser"
        );
        assert_eq!(parse(&["--audit"]).unwrap().command(), Command::Audit(20));
        assert_eq!(
            parse(&["--audit", "5"]).unwrap().command(),
            Command::Audit(5)
        );
    }

    #[test]
    fn listing_pads_names_like_the_seed() {
        let mut users = Users::new();
        for (name, locked) in [
            ("admin", None),
            ("alice", None),
            ("bob", Some("Account suspended")),
        ] {
            let mut user = User::new("x:y".into(), vec![]);
            user.record.locked = locked.map(str::to_owned);
            users.insert(name.into(), user);
        }
        let mut out = Vec::new();
        list_users(&users, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert!(lines[0].starts_with("  admin  (created: "), "{text}");
        assert!(lines[2].starts_with("  bob    (created: "), "{text}");
        assert!(lines[2].ends_with(")  LOCKED: Account suspended"), "{text}");
    }
}
