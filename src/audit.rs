//! The audit log: `credentials/audit.log`, one JSON object per line.
//!
//! Sign-ins, failures, throttled attempts, sign-outs and every change to users are
//! recorded by the server and the CLI alike. Each line is written with one `write` on a file
//! opened for appending, under an advisory lock, so concurrent processes never interleave.
//! No password, hash or token is ever written.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::open_append_private;
use crate::text::printable;
use crate::time::{local_time, now_secs};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// A successful sign-in.
    SignIn,
    /// A sign-in with a wrong password or unknown username.
    SignInFailed,
    /// A correct password for a locked account.
    SignInLocked,
    /// A sign-in refused by throttling before the password was checked: only the first
    /// refusal of each wait is recorded ([`crate::throttle::Throttled::first`]).
    SignInThrottled,
    /// A sign-out.
    SignOut,
    /// An account was created.
    UserCreated,
    /// An account was deleted.
    UserDeleted,
    /// An account was locked.
    UserLocked,
    /// An account was unlocked.
    UserUnlocked,
    /// A password was set (by its owner, an admin or the CLI).
    PasswordChanged,
    /// A signed-in user's password change was refused: the current password was wrong.
    PasswordChangeFailed,
    /// An account's roles changed.
    RolesChanged,
    /// An avatar was uploaded.
    AvatarChanged,
    /// An API key was made (the detail names its id, never the key).
    KeyCreated,
    /// An API key was revoked (its id in the detail).
    KeyRemoved,
    /// A session was ended by its owner or an Admin (its public id in the detail).
    SessionRevoked,
    /// A reset link was made for the target (by an Admin or the command line).
    ResetLinkCreated,
    /// A reset link was used: the target chose a new password and their sessions ended.
    PasswordReset,
    /// Two-factor sign-in was turned on.
    #[serde(rename = "2fa_enabled")]
    TwoFactorEnabled,
    /// Two-factor sign-in was turned off (by its owner, an Admin or the command line).
    #[serde(rename = "2fa_disabled")]
    TwoFactorDisabled,
    /// A wrong second-factor code was given.
    #[serde(rename = "2fa_failed")]
    TwoFactorFailed,
    /// A recovery code was spent (how many are left in the detail).
    RecoveryCodeUsed,
}

impl AuditEvent {
    /// The name written to the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInLocked => "sign_in_locked",
            Self::SignInThrottled => "sign_in_throttled",
            Self::SignOut => "sign_out",
            Self::UserCreated => "user_created",
            Self::UserDeleted => "user_deleted",
            Self::UserLocked => "user_locked",
            Self::UserUnlocked => "user_unlocked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordChangeFailed => "password_change_failed",
            Self::RolesChanged => "roles_changed",
            Self::AvatarChanged => "avatar_changed",
            Self::KeyCreated => "key_created",
            Self::KeyRemoved => "key_removed",
            Self::SessionRevoked => "session_revoked",
            Self::ResetLinkCreated => "reset_link_created",
            Self::PasswordReset => "password_reset",
            Self::TwoFactorEnabled => "2fa_enabled",
            Self::TwoFactorDisabled => "2fa_disabled",
            Self::TwoFactorFailed => "2fa_failed",
            Self::RecoveryCodeUsed => "recovery_code_used",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub time: f64,
    /// What happened.
    pub event: AuditEvent,
    /// Who did it (`cli` for the command line; the username for the API).
    #[serde(default)]
    pub actor: String,
    /// Whom it concerns.
    #[serde(default)]
    pub target: String,
    /// The client address, when it came over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `ok`, or why it was refused.
    pub result: String,
    /// A non-secret detail (lock reason, new roles, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditRecord {
    /// A record of `event` by `actor` on `target`, now, with result `ok`.
    pub fn new(event: AuditEvent, actor: &str, target: &str) -> Self {
        Self {
            time: now_secs(),
            event,
            actor: actor.to_owned(),
            target: target.to_owned(),
            ip: None,
            result: "ok".to_owned(),
            detail: None,
        }
    }

    /// Sets the client address.
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = Some(ip.to_owned());
        self
    }

    /// Sets the result.
    pub fn result(mut self, result: &str) -> Self {
        self.result = result.to_owned();
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// A readable one-line form, for `llms --audit`.
    pub fn display_line(&self) -> String {
        let mut line = format!(
            "{}  {:<17}  actor={}  target={}",
            local_time(self.time),
            self.event.as_str(),
            printable(&self.actor),
            printable(&self.target)
        );
        if let Some(ip) = &self.ip {
            line.push_str(&format!("  ip={}", printable(ip)));
        }
        line.push_str(&format!("  {}", printable(&self.result)));
        if let Some(detail) = &self.detail {
            line.push_str(&format!("  ({})", printable(detail)));
        }
        line
    }
}

/// The append-only audit file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line. Blocking.
    pub fn append(&self, record: &AuditRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| Error::Internal(anyhow::anyhow!("serializing an audit record: {e}")))?;
        line.push(b'\n');
        let mut file = open_append_private(&self.path)?;
        file.lock().map_err(|e| Error::io(&self.path, e))?;
        let written = file.write_all(&line);
        let _ = file.unlock();
        written.map_err(|e| Error::io(&self.path, e))
    }

    /// Appends, logging (not failing) on error: auditing never blocks the action itself.
    pub fn append_or_warn(&self, record: &AuditRecord) {
        if let Err(e) = self.append(record) {
            tracing::warn!(error = %e, "could not write the audit log");
        }
    }

    /// The last `count` records (unparsable lines are skipped). Reads from the end.
    pub fn tail(&self, count: usize) -> Result<Vec<AuditRecord>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&self.path, e))?;
        const CHUNK: u64 = 64 * 1024;
        let mut start = len;
        let mut buffer: Vec<u8> = Vec::new();
        // Read backwards until the buffer holds more than `count` line breaks.
        while start > 0 && buffer.iter().filter(|&&b| b == b'\n').count() <= count {
            let step = CHUNK.min(start);
            start -= step;
            let mut chunk = vec![0u8; step as usize];
            file.seek(SeekFrom::Start(start))
                .and_then(|_| file.read_exact(&mut chunk))
                .map_err(|e| Error::io(&self.path, e))?;
            chunk.extend_from_slice(&buffer);
            buffer = chunk;
        }
        let text = String::from_utf8_lossy(&buffer);
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if start > 0 && !lines.is_empty() {
            lines.remove(0); // possibly cut in the middle
        }
        let skip = lines.len().saturating_sub(count);
        Ok(lines[skip..]
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_and_reads_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("credentials/audit.log"));
        for i in 0..2000 {
            log.append(
                &AuditRecord::new(AuditEvent::SignIn, "a", &format!("user{i}")).ip("127.0.0.1"),
            )
            .unwrap();
        }
        let tail = log.tail(3).unwrap();
        assert_eq!(
            tail.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(),
            ["user1997", "user1998", "user1999"]
        );
        assert_eq!(log.tail(5000).unwrap().len(), 2000);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = AuditLog::new(path.clone());
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let record =
                            AuditRecord::new(AuditEvent::UserCreated, "cli", &format!("t{t}-{i}"))
                                .detail("x".repeat(3000));
                        log.append(&record).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Vec<AuditRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 1600);
    }

    #[test]
    fn display_escapes_control_characters() {
        let record =
            AuditRecord::new(AuditEvent::SignInFailed, "x\u{1b}[31m", "t").result("wrong password");
        let line = record.display_line();
        assert!(!line.contains('\u{1b}'), "{line}");
        assert!(line.contains("sign_in_failed"));
    }

    #[test]
    fn events_are_written_under_the_names_they_show() {
        for event in [
            AuditEvent::SignIn,
            AuditEvent::SessionRevoked,
            AuditEvent::ResetLinkCreated,
            AuditEvent::PasswordReset,
            AuditEvent::TwoFactorEnabled,
            AuditEvent::TwoFactorDisabled,
            AuditEvent::TwoFactorFailed,
            AuditEvent::RecoveryCodeUsed,
        ] {
            let written = serde_json::to_value(event).unwrap();
            assert_eq!(written, event.as_str(), "{event:?}");
            assert_eq!(
                serde_json::from_value::<AuditEvent>(written).unwrap(),
                event
            );
        }
    }
}
