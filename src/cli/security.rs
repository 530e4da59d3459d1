//! The account-security commands (SPEC 12): `--reset-link NAME [--base-url URL]` prints a
//! one-time link to choose a new password; `--reset-2fa NAME` turns two-factor sign-in off
//! for someone who lost their app. Both are audited by the provider's functions they call.

use std::io::Write;

use super::{say, Command, Commands, CLI_ACTOR};
use crate::audit::AuditRecord;
use crate::error::{Error, Result};
use crate::providers::credentials;

/// Where a reset link points when `--base-url` is not given: the server's default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";

/// Checks `--base-url`: an `http://` or `https://` address with a host, and no query or
/// fragment (the link adds its own); a trailing `/` is dropped.
pub fn parse_base_url(value: &str) -> Result<String> {
    let value = value.trim();
    let refused = || {
        Error::Config(format!(
            "--base-url must be the address people open the server at, such as {DEFAULT_BASE_URL} or https://llms.example.org (got '{}')",
            crate::text::printable(value)
        ))
    };
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(refused)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || rest.contains(['?', '#'])
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(refused());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

impl Commands<'_> {
    /// Runs an account-security command.
    pub(super) fn security_command(
        &mut self,
        command: Command,
        out: &mut impl Write,
    ) -> Result<Option<AuditRecord>> {
        match command {
            Command::ResetLink { name, base_url } => {
                let base_url = parse_base_url(&base_url)?;
                self.require_password_account(&name)?;
                let token = self.runtime.block_on(credentials::create_reset_link(
                    self.ctx, &name, CLI_ACTOR, None,
                ))?;
                say(out, &token.link(&base_url))?;
                eprintln!(
                    "The link works once, for {} minutes; a newer link for '{name}' replaces it.",
                    credentials::RESET_LINK_LIFETIME as u64 / 60
                );
            }
            Command::ResetTwoFactor(name) => {
                self.require_password_account(&name)?;
                let was_on = self.runtime.block_on(credentials::reset_two_factor(
                    self.ctx, &name, CLI_ACTOR, None,
                ))?;
                if was_on {
                    say(
                        out,
                        &format!("Two-factor sign-in turned off for '{name}'; they sign in with their password alone until they turn it on again."),
                    )?;
                } else {
                    say(
                        out,
                        &format!("'{name}' does not have two-factor sign-in on."),
                    )?;
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// Refuses a name that is no password account, with the command line's message.
    fn require_password_account(&self, name: &str) -> Result<()> {
        if self.users.snapshot()?.contains_key(name) {
            Ok(())
        } else {
            Err(super::users::not_found(name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            parse_base_url("https://llms.example.org/").unwrap(),
            "https://llms.example.org"
        );
        assert_eq!(
            parse_base_url("http://10.0.0.5:8000/llms").unwrap(),
            "http://10.0.0.5:8000/llms"
        );
        for bad in [
            "",
            "llms.example.org",
            "ftp://x",
            "http://",
            "http:///x",
            "https://x/?a=1",
            "https://x/#frag",
            "https://x y",
            "javascript:alert(1)",
        ] {
            let err = parse_base_url(bad).unwrap_err().to_string();
            assert!(err.starts_with("--base-url must be"), "{bad:?}: {err}");
        }
    }
}
