//! Two-factor sign-in for password accounts (SPEC 12): turning it on (a pending secret,
//! confirmed by a first code, then ten recovery codes shown once), the check of a code at
//! sign-in, and turning it off (by its owner with their password and a code, or by an
//! Admin or the command line). The codes themselves are `crate::two_factor`'s.
//!
//! Every check that accepts a code writes the account in the same locked read-modify-write:
//! the step of a TOTP code, or the recovery code struck off. Two requests with one code
//! cannot both pass.

use super::check::{check_throttled, or_undecided, throttled_error, Checked, CHECK_THROTTLED};
use super::NAME;
use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::CurrentUser;
use crate::text::printable;
use crate::time::now_secs;
use crate::two_factor::{self, SecondFactor};
use crate::users::{TwoFactor, User};

/// The issuer authenticator apps show next to the account name.
const ISSUER: &str = "llms";

/// What turning two-factor sign-in on starts with: shown once, never again.
#[derive(Clone)]
pub struct Enrolment {
    /// The secret, base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` URL the QR code holds.
    pub otpauth_url: String,
    /// The QR code, an SVG document.
    pub qr_svg: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(<redacted>)")
    }
}

/// Which kind of code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeUsed {
    /// A code of the authenticator app.
    Totp,
    /// A recovery code; this many are left.
    Recovery(usize),
}

/// Checks `factor` against `user`'s second factor at `now`, and spends it when it is
/// right: the step of a TOTP code is recorded (no code of it, or of an older step, passes
/// again), a recovery code is struck off. `Ok(None)`: wrong (or already used). Works on a
/// pending factor too (the first code confirms it); recovery codes only once it is on.
pub(super) fn spend_code(
    two_factor: &mut TwoFactor,
    factor: &SecondFactor,
    now: f64,
) -> Result<Option<CodeUsed>> {
    match factor {
        SecondFactor::Totp(code) => {
            match two_factor::verify(&two_factor.secret, code, now, two_factor.last_step)? {
                Some(step) => {
                    two_factor.last_step = step;
                    Ok(Some(CodeUsed::Totp))
                }
                None => Ok(None),
            }
        }
        SecondFactor::Recovery(code) if two_factor.is_on() => {
            match two_factor::find_recovery_code(&two_factor.recovery_codes, code) {
                Some(index) => {
                    two_factor.recovery_codes.remove(index);
                    Ok(Some(CodeUsed::Recovery(two_factor.recovery_codes.len())))
                }
                None => Ok(None),
            }
        }
        SecondFactor::Recovery(_) => Ok(None),
    }
}

/// Audits the use of a code: a wrong one as `2fa_failed`, a recovery code as
/// `recovery_code_used` with how many are left.
pub(super) async fn audit_code(
    ctx: &AuthContext,
    name: &str,
    client_ip: &str,
    used: Option<CodeUsed>,
) {
    let record = match used {
        None => AuditRecord::new(AuditEvent::TwoFactorFailed, name, name).result("wrong code"),
        Some(CodeUsed::Recovery(left)) => {
            AuditRecord::new(AuditEvent::RecoveryCodeUsed, name, name)
                .detail(format!("recovery codes left: {left}"))
        }
        Some(CodeUsed::Totp) => return,
    };
    ctx.audit(record.ip(client_ip)).await;
}

/// The password account behind `user`, or why there is none.
fn password_account<'a>(users: &'a mut crate::users::Users, user: &str) -> Result<&'a mut User> {
    users
        .get_mut(user)
        .ok_or_else(|| Error::NotFound("User not found".into()))
}

/// Refuses users who have no password account here (the default user, other providers'
/// accounts): two-factor sign-in is a second step after a password.
fn refuse_without_password(ctx: &AuthContext, user: &CurrentUser) -> Result<()> {
    if user.is_default {
        return Err(Error::bad_request(
            "Authentication is off: there is no sign-in to protect",
        ));
    }
    if user.provider != NAME {
        return Err(Error::bad_request(format!(
            "Your account signs in with {}: its second factor is set there",
            ctx.provider_label(&user.provider)
        )));
    }
    Ok(())
}

/// Starts turning two-factor sign-in on for `user`: a new pending secret (replacing any
/// pending one), its otpauth URL and QR code. Refused while it is on.
pub async fn begin_two_factor(ctx: &AuthContext, user: &CurrentUser) -> Result<Enrolment> {
    refuse_without_password(ctx, user)?;
    let secret = two_factor::new_secret();
    let otpauth_url = two_factor::otpauth_url(ISSUER, &user.user_name, &secret);
    let qr_svg = two_factor::qr_svg(&otpauth_url)?;
    let (name, pending) = (user.user_name.clone(), secret.clone());
    ctx.update_users(move |_, users| {
        let account = password_account(users, &name)?;
        if account.has_two_factor() {
            return Err(Error::bad_request(
                "Two-factor sign-in is already on: turn it off first to set up a new app",
            ));
        }
        account.two_factor = Some(TwoFactor {
            secret: pending,
            confirmed: None,
            last_step: 0,
            recovery_codes: Vec::new(),
        });
        Ok(())
    })
    .await?;
    Ok(Enrolment {
        secret,
        otpauth_url,
        qr_svg,
    })
}

/// Turns two-factor sign-in on for `user` with a first `code` of the pending secret;
/// answers the ten recovery codes, shown this once (only their hashes are kept). Wrong
/// codes are throttled like wrong passwords.
pub async fn confirm_two_factor(
    ctx: &AuthContext,
    user: &CurrentUser,
    code: &str,
    client_ip: &str,
) -> Result<Vec<String>> {
    refuse_without_password(ctx, user)?;
    let factor = match two_factor::parse_second_factor(code)? {
        SecondFactor::Recovery(_) => {
            return Err(Error::bad_request(
                "Enter the 6-digit code your authenticator app shows",
            ))
        }
        totp => totp,
    };
    let name = user.user_name.as_str();
    let attempt = match ctx.throttle().attempt(name, client_ip, now_secs()).await? {
        Ok(attempt) => attempt,
        Err(throttled) => return Err(throttled_error(throttled, CHECK_THROTTLED)),
    };
    let (shown, hashes) = two_factor::new_recovery_codes();
    let target = name.to_owned();
    let confirmed = ctx
        .update_users(move |_, users| {
            let account = password_account(users, &target)?;
            let pending = match account.two_factor.as_mut() {
                Some(pending) if !pending.is_on() => pending,
                Some(_) => return Err(Error::bad_request("Two-factor sign-in is already on")),
                None => {
                    return Err(Error::bad_request(
                        "Start setting up two-factor sign-in first",
                    ))
                }
            };
            if spend_code(pending, &factor, now_secs())?.is_none() {
                return Ok(false);
            }
            pending.confirmed = Some(now_secs());
            pending.recovery_codes = hashes;
            Ok(true)
        })
        .await;
    let (confirmed, attempt) = or_undecided(attempt, confirmed)?;
    if !confirmed {
        attempt.record_failure(now_secs()).await?;
        audit_code(ctx, name, client_ip, None).await;
        return Err(Error::bad_request(
            "That code is not right: enter the one your app shows now",
        ));
    }
    attempt.record_success().await?;
    tracing::info!(user = %printable(name), "two-factor sign-in turned on");
    let record = AuditRecord::new(AuditEvent::TwoFactorEnabled, name, name).ip(client_ip);
    ctx.audit(record).await;
    Ok(shown)
}

/// Turns `user`'s own two-factor sign-in off: needs their password and a current code (or
/// a recovery code), both checked through the sign-in throttle.
pub async fn disable_own_two_factor(
    ctx: &AuthContext,
    user: &CurrentUser,
    password: String,
    code: &str,
    client_ip: &str,
) -> Result<()> {
    refuse_without_password(ctx, user)?;
    if password.is_empty() || code.trim().is_empty() {
        return Err(Error::bad_request("Your password and a code are required"));
    }
    let factor = two_factor::parse_second_factor(code)?;
    let name = user.user_name.as_str();
    let users = ctx.users().await?;
    let account = users
        .get(name)
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    if !account.has_two_factor() {
        return Err(Error::bad_request("Two-factor sign-in is not on"));
    }
    let stored = account.password_hash.clone();
    let attempt = match check_throttled(ctx, name, client_ip, password, Some(stored)).await? {
        Checked::Throttled(throttled) => return Err(throttled_error(throttled, CHECK_THROTTLED)),
        Checked::Wrong => {
            let record = AuditRecord::new(AuditEvent::PasswordChangeFailed, name, name)
                .ip(client_ip)
                .result("wrong password to turn off two-factor sign-in");
            ctx.audit(record).await;
            return Err(Error::bad_request("Your password is incorrect"));
        }
        Checked::Right { attempt, .. } => attempt,
    };
    let target = name.to_owned();
    let used = ctx
        .update_users(move |_, users| {
            let account = password_account(users, &target)?;
            let Some(two_factor) = account.two_factor.as_mut().filter(|t| t.is_on()) else {
                return Err(Error::bad_request("Two-factor sign-in is not on"));
            };
            let used = spend_code(two_factor, &factor, now_secs())?;
            if used.is_some() {
                account.two_factor = None;
            }
            Ok(used)
        })
        .await;
    let (used, attempt) = or_undecided(attempt, used)?;
    audit_code(ctx, name, client_ip, used).await;
    if used.is_none() {
        attempt.record_failure(now_secs()).await?;
        return Err(Error::bad_request("That code is not right"));
    }
    attempt.record_success().await?;
    tracing::info!(user = %printable(name), "two-factor sign-in turned off");
    let record = AuditRecord::new(AuditEvent::TwoFactorDisabled, name, name).ip(client_ip);
    ctx.audit(record).await;
    Ok(())
}

/// Turns two-factor sign-in off for the password account `name` (an Admin in Manage
/// Users, or `llms --reset-2fa`): for someone who lost their app and their recovery codes.
/// Answers whether it was on (or pending).
pub async fn reset_two_factor(
    ctx: &AuthContext,
    name: &str,
    actor: &str,
    client_ip: Option<&str>,
) -> Result<bool> {
    let target = name.to_owned();
    let was_on = ctx
        .update_users(move |_, users| {
            let account = users
                .get_mut(&target)
                .ok_or_else(|| Error::NotFound(format!("User '{target}' not found")))?;
            Ok(account.two_factor.take().is_some_and(|t| t.is_on()))
        })
        .await?;
    if was_on {
        tracing::info!(user = %printable(name), by = %printable(actor), "two-factor sign-in turned off");
        let mut record = AuditRecord::new(AuditEvent::TwoFactorDisabled, actor, name);
        if let Some(ip) = client_ip {
            record = record.ip(ip);
        }
        ctx.audit(record).await;
    }
    Ok(was_on)
}
