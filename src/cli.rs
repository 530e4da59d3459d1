//! The `llms` command line: flags, and one function per command (the user commands in
//! `cli/users.rs`).
//!
//! Messages are llms.py's, word for word, where it has them. Exit status: 0 success, 1
//! error, 2 usage error.

use std::io::{BufRead, IsTerminal, Write};
use std::net::IpAddr;

use clap::{ArgGroup, Parser};

use crate::audit::AuditRecord;
use crate::config::Config;
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::keys::KeyStore;
use crate::providers::github_auth::{self, GithubUserStore};
use crate::stores::Sessions;
use crate::text::printable;
use crate::users::UserStore;

pub mod import;
mod keys;
mod security;
mod users;

/// The port `llms` serves on when no command is given.
pub const DEFAULT_PORT: u16 = 8000;

/// `llms`: an LLM gateway's server with username/password authentication and user management.
#[derive(Debug, Parser)]
#[command(
    name = "llms",
    version,
    about = "LLM gateway server with username/password authentication and user management",
    after_help = "With no command, starts the server on port 8000. Files live under LLMS_HOME (default ~/.llms).",
    group(ArgGroup::new("command").args(["adduser", "removeuser", "listusers", "lockuser", "unlockuser", "serve", "audit", "addkey", "listkeys", "removekey", "import_files", "reset_link", "reset_2fa"]).multiple(false))
)]
pub struct Cli {
    /// Add a user, or set a new password for an existing one (prompts for the password)
    #[arg(long, value_name = "USERNAME")]
    pub adduser: Option<String>,

    /// With --adduser: the new user is an Admin (the first user always is)
    #[arg(long, requires = "adduser")]
    pub admin: bool,

    /// Remove a user and end all their sessions
    #[arg(long, value_name = "USERNAME")]
    pub removeuser: Option<String>,

    /// List users with their creation date and lock status
    #[arg(long)]
    pub listusers: bool,

    /// With --listusers: also roles and the last sign-in
    #[arg(long, requires = "listusers")]
    pub long: bool,

    /// Lock a user and end their sessions (prompts for a reason); without a name, list users
    #[arg(long, value_name = "USERNAME", num_args = 0..=1, default_missing_value = "")]
    pub lockuser: Option<String>,

    /// Unlock a locked user
    #[arg(long, value_name = "USERNAME")]
    pub unlockuser: Option<String>,

    /// Make an API key for USERNAME (with --name; shown once)
    #[arg(long, value_name = "USERNAME", requires = "name")]
    pub addkey: Option<String>,

    /// With --addkey: the key's name
    #[arg(long, value_name = "NAME", requires = "addkey")]
    pub name: Option<String>,

    /// With --addkey: the key stops working after DAYS days
    #[arg(long, value_name = "DAYS", requires = "addkey")]
    pub expires: Option<u32>,

    /// With --addkey: the only models the key may use, comma-separated
    #[arg(long, value_name = "MODEL[,MODEL...]", requires = "addkey")]
    pub models: Option<String>,

    /// With --addkey: requests per minute the key may make
    #[arg(long, value_name = "N", requires = "addkey")]
    pub rpm: Option<u32>,

    /// List API keys (all, or USERNAME's)
    #[arg(long, value_name = "USERNAME", num_args = 0..=1, default_missing_value = "")]
    pub listkeys: Option<String>,

    /// Revoke the API key with this id
    #[arg(long, value_name = "ID")]
    pub removekey: Option<String>,

    /// Print a one-time link (valid 30 minutes) with which USERNAME chooses a new password
    #[arg(long, value_name = "USERNAME")]
    pub reset_link: Option<String>,

    /// With --reset-link: the address people open the server at [default: http://127.0.0.1:8000]
    #[arg(long, value_name = "URL", requires = "reset_link")]
    pub base_url: Option<String>,

    /// Turn two-factor sign-in off for USERNAME (who lost their authenticator app)
    #[arg(long = "reset-2fa", value_name = "USERNAME")]
    pub reset_2fa: Option<String>,

    /// Print the last N audit-log events (default 20)
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "20",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub audit: Option<u32>,

    /// Start the server on PORT
    #[arg(long, value_name = "PORT")]
    pub serve: Option<u16>,

    /// Address the server listens on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// The OpenAI-compatible server /v1/* is forwarded to, with its /v1 (e.g.
    /// http://127.0.0.1:11434/v1) [env: LLMS_UPSTREAM]
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,

    /// Keep users, sessions, API keys, accounts, throttle counters, avatars and the audit
    /// log in this PostgreSQL database (postgres://user:password@host:port/db), shared by
    /// every instance, instead of files under LLMS_HOME [env: LLMS_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Copy the file store of LLMS_HOME into the database (--database-url); run it again
    /// and nothing is copied twice
    #[arg(long)]
    pub import_files: bool,

    /// Auth providers, comma-separated: credentials (default), github_auth, oidc, none [env: LLMS_AUTH]
    #[arg(long, value_name = "NAME[,NAME...]")]
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

/// Whether standard input is a terminal (a person can answer a prompt there).
fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
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
    /// `--adduser NAME [--admin]`
    AddUser {
        /// The user.
        name: String,
        /// Whether a new user is an Admin.
        admin: bool,
    },
    /// `--removeuser NAME`
    RemoveUser(String),
    /// `--listusers [--long]`
    ListUsers {
        /// Whether roles and the last sign-in are listed too.
        long: bool,
    },
    /// `--lockuser` without a name
    ListLockable,
    /// `--lockuser NAME [--reason TEXT]`
    LockUser {
        /// The user.
        name: String,
        /// The reason, when given on the command line.
        reason: Option<String>,
    },
    /// `--unlockuser NAME`
    UnlockUser(String),
    /// `--audit [N]`
    Audit(usize),
    /// `--addkey USER --name NAME ...`
    AddKey {
        /// The owner.
        user: String,
        /// What the key is asked to be.
        key: crate::keys::NewKey,
    },
    /// `--listkeys [USER]`
    ListKeys(Option<String>),
    /// `--removekey ID`
    RemoveKey(String),
    /// `--import-files`
    ImportFiles,
    /// `--reset-link NAME [--base-url URL]`
    ResetLink {
        /// The user.
        name: String,
        /// The address the link starts with, checked.
        base_url: String,
    },
    /// `--reset-2fa NAME`
    ResetTwoFactor(String),
    /// `--serve PORT`, or no command at all
    Serve(u16),
}

impl Cli {
    /// The one command these flags ask for.
    pub fn command(&self) -> Command {
        if let Some(name) = &self.adduser {
            Command::AddUser {
                name: name.clone(),
                admin: self.admin,
            }
        } else if let Some(name) = &self.removeuser {
            Command::RemoveUser(name.clone())
        } else if self.listusers {
            Command::ListUsers { long: self.long }
        } else if let Some(name) = &self.lockuser {
            if name.is_empty() {
                Command::ListLockable
            } else {
                Command::LockUser {
                    name: name.clone(),
                    reason: self.reason.clone(),
                }
            }
        } else if let Some(name) = &self.unlockuser {
            Command::UnlockUser(name.clone())
        } else if let Some(count) = self.audit {
            Command::Audit(count as usize)
        } else if let Some(user) = &self.addkey {
            Command::AddKey {
                user: user.clone(),
                key: crate::keys::NewKey {
                    name: self.name.clone().unwrap_or_default(),
                    expires_days: self.expires,
                    models: self.models.as_ref().map(|list| {
                        list.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .map(str::to_owned)
                            .collect()
                    }),
                    rpm: self.rpm,
                },
            }
        } else if let Some(user) = &self.listkeys {
            Command::ListKeys((!user.is_empty()).then(|| user.clone()))
        } else if let Some(id) = &self.removekey {
            Command::RemoveKey(id.clone())
        } else if self.import_files {
            Command::ImportFiles
        } else if let Some(name) = &self.reset_link {
            Command::ResetLink {
                name: name.clone(),
                base_url: self
                    .base_url
                    .clone()
                    .unwrap_or_else(|| security::DEFAULT_BASE_URL.to_owned()),
            }
        } else if let Some(name) = &self.reset_2fa {
            Command::ResetTwoFactor(name.clone())
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

/// What the commands work on: the stores of the home (its files, or the database), and
/// the runtime the database's are waited for on.
struct Commands<'a> {
    config: &'a Config,
    ctx: &'a AuthContext,
    runtime: &'a tokio::runtime::Runtime,
    users: &'a UserStore,
    sessions: &'a Sessions,
    input: Input,
}

impl Commands<'_> {
    /// The API keys.
    fn keys(&self) -> &KeyStore {
        self.ctx.keys().store()
    }

    /// The GitHub records.
    fn github(&self) -> GithubUserStore {
        self.ctx
            .documents(github_auth::NAME, || github_auth::records_file(self.config))
    }
}

/// Runs the command the flags ask for, choosing `--auth NAME` from `registry`: how a host
/// program with providers of its own reuses this command line (see `examples/`).
pub fn run_with(cli: Cli, registry: crate::ProviderRegistry) -> Result<()> {
    let mut config = Config::from_env(cli.auth.as_deref())?;
    if let Some(upstream) = &cli.upstream {
        config.upstream = Some(crate::config::parse_upstream("--upstream", upstream)?);
    }
    if let Some(url) = &cli.database_url {
        config.database_url = Some(crate::config::Secret(url.clone()));
    }
    let command = cli.command();
    // A wrong address is told before anything is opened.
    if let Command::ResetLink { base_url, .. } = &command {
        security::parse_base_url(base_url)?;
    }
    if let Command::Serve(port) = command {
        return crate::server::run_blocking(config, registry, cli.host, port);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("starting the runtime: {e}")))?;
    let out = &mut std::io::stdout().lock();
    if let Command::Audit(count) = command {
        let audit = runtime.block_on(crate::stores::Audit::open(&config))?;
        return show_audit(&runtime.block_on(audit.tail(count))?, out);
    }
    if let Command::ImportFiles = command {
        let Some(url) = &config.database_url else {
            return Err(Error::Config(
                "--import-files copies LLMS_HOME into the database: set LLMS_DATABASE_URL (or --database-url)".into(),
            ));
        };
        let report = runtime.block_on(async {
            let database = crate::database::Database::connect(&url.0).await?;
            import::import_files(&config, &database).await
        })?;
        return say(out, report.to_string().trim_end());
    }
    let ctx = runtime.block_on(AuthContext::open(config.clone()))?;
    if let Some(notice) = crate::users::location_notice(ctx.user_store(), &config) {
        eprintln!("{notice}");
    }
    let mut commands = Commands {
        config: &config,
        ctx: &ctx,
        runtime: &runtime,
        users: ctx.user_store(),
        sessions: ctx.sessions(),
        input: Input {
            password_stdin: cli.password_stdin,
        },
    };
    let record = match command {
        Command::AddKey { .. } | Command::ListKeys(_) | Command::RemoveKey(_) => {
            commands.key_command(command, out)?
        }
        Command::ResetLink { .. } | Command::ResetTwoFactor(_) => {
            commands.security_command(command, out)?
        }
        command => commands.user_command(command, out)?,
    };
    if let Some(record) = record {
        runtime.block_on(ctx.audit(record));
    }
    Ok(())
}

/// The actor recorded for changes made from the command line.
const CLI_ACTOR: &str = "cli";

fn show_audit(records: &[AuditRecord], out: &mut impl Write) -> Result<()> {
    if records.is_empty() {
        return say(out, "No audit events recorded.");
    }
    for record in records {
        say(out, &record.display_line())?;
    }
    Ok(())
}

/// Prints one line, every unprintable character escaped: names and reasons come from a
/// store that an editor or another program may have written, and must not act on the
/// terminal.
fn say(out: &mut (impl Write + ?Sized), line: &str) -> Result<()> {
    writeln!(out, "{}", printable(line))
        .and_then(|()| out.flush())
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing to standard output: {e}")))
}

/// Writes `text` as it is (already escaped by the caller).
fn write_all(out: &mut impl Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing to standard output: {e}")))
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
            Command::LockUser {
                name: "bob".into(),
                reason: None
            }
        );
        assert_eq!(
            parse(&["--adduser", "bob", "--admin"]).unwrap().command(),
            Command::AddUser {
                name: "bob".into(),
                admin: true
            }
        );
        assert_eq!(
            parse(&["--listusers", "--long"]).unwrap().command(),
            Command::ListUsers { long: true }
        );
        assert!(parse(&["--admin"]).is_err(), "--admin needs --adduser");
        assert!(parse(&["--long"]).is_err(), "--long needs --listusers");
        assert!(parse(&["--audit", "0"]).is_err(), "at least one event");
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
}
