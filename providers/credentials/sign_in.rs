//! Password sign-in and password change: the throttle, the check against the stored hash
//! (a dummy one for unknown names), the lock, the hash upgrade and the audit trail, with
//! no HTTP in sight but the thin `POST /auth/login` handler at the end.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::NAME;
use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::{user_json, CurrentUser};
use crate::password::{check_new_password, Verification, MAX_PASSWORD_BYTES};
use crate::request::cookies::session_cookie;
use crate::request::extract::JsonBody;
use crate::request::facts::user_agent;
use crate::request::RequestFacts;
use crate::session::SessionToken;
use crate::text::printable;
use crate::throttle::{Limit, Throttled};
use crate::time::now_secs;
use crate::users::MAX_SIGN_IN_NAME_BYTES;

/// A username and password, as presented at sign-in. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    /// The username, as typed (surrounding blanks are ignored).
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A completed sign-in: the new session's token and the user it vouches for.
#[derive(Debug)]
pub struct SignedIn {
    /// The session token, for the cookie only.
    pub token: SessionToken,
    /// The user now signed in.
    pub user_name: String,
    /// Their roles.
    pub roles: Vec<String>,
}

/// How a throttled check of a password ended.
enum Checked {
    /// Refused before the password was looked at.
    Throttled(Throttled),
    /// Wrong password, or no such account.
    Wrong,
    /// The password is right.
    Right {
        /// The stored hash is in an older format and should be replaced.
        needs_upgrade: bool,
    },
}

/// Checks `password` against `stored` (the account's hash; `None`: no such account, and a
/// dummy hash costs the same time) through the throttle's counters for `username` and
/// `client_ip`: a throttled attempt is refused without looking at the password, a wrong
/// one counts, a right one clears the username's count.
async fn check_throttled(
    ctx: &AuthContext,
    username: &str,
    client_ip: &str,
    password: String,
    stored: Option<String>,
) -> Result<Checked> {
    let attempt = match ctx
        .throttle()
        .attempt(username, client_ip, now_secs())
        .await?
    {
        Ok(attempt) => attempt,
        Err(throttled) => return Ok(Checked::Throttled(throttled)),
    };
    match ctx.hasher().verify(password, stored).await? {
        Verification::Match { needs_upgrade } => {
            attempt.record_success().await?;
            Ok(Checked::Right { needs_upgrade })
        }
        Verification::Mismatch => {
            attempt.record_failure(now_secs()).await?;
            Ok(Checked::Wrong)
        }
    }
}

/// Signs `credentials` in from `client_ip` (with the browser's `user_agent`, which the
/// session records): checks both bounds before any lookup or hashing, then the throttle,
/// the password (unknown names cost the same), the lock (told only after a right
/// password); upgrades a legacy hash; records the sign-in and starts a session.
///
/// Answers [`Error::BadRequest`] for missing or over-long input,
/// [`Error::TooManyRequests`], [`Error::InvalidCredentials`] (unknown user and wrong
/// password alike), or [`Error::Locked`] with the reason.
pub async fn authenticate(
    ctx: &AuthContext,
    credentials: Credentials,
    client_ip: &str,
    user_agent: &str,
) -> Result<SignedIn> {
    let username = credentials.username.trim();
    let password = credentials.password;
    if username.is_empty() || password.is_empty() {
        return Err(Error::bad_request("Username and password are required"));
    }
    // Names are not held to the rules for new accounts: an account in the store signs in
    // with its name as it is.
    if username.len() > MAX_SIGN_IN_NAME_BYTES {
        return Err(Error::bad_request(format!(
            "Username is too long (at most {MAX_SIGN_IN_NAME_BYTES} bytes)."
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::bad_request(format!(
            "Password is too long (at most {MAX_PASSWORD_BYTES} bytes)."
        )));
    }
    let users = ctx.users().await?;
    let stored = users.get(username).map(|u| u.password_hash.clone());
    // Attempts at unknown names are audited without the name: it may be a mistyped password.
    let audit_target = if stored.is_some() {
        username
    } else {
        "(unknown)"
    };
    let attempt = |event, result: &str| {
        AuditRecord::new(event, audit_target, audit_target)
            .ip(client_ip)
            .result(result)
    };
    let upgrade =
        match check_throttled(ctx, username, client_ip, password.clone(), stored.clone()).await? {
            Checked::Throttled(Throttled {
                retry_after,
                first,
                limit,
            }) => {
                // Once per wait: the refusals that follow add nothing but length to the log.
                if first {
                    ctx.audit(attempt(AuditEvent::SignInThrottled, "throttled"))
                        .await;
                }
                let reason = match limit {
                    Limit::Account => "Too many failed sign-ins for this account.",
                    Limit::Address => "Too many failed sign-ins from your address.",
                    Limit::InFlight => "Too many sign-ins at once.",
                };
                return Err(Error::TooManyRequests {
                    reason,
                    retry_after,
                });
            }
            Checked::Wrong => {
                let why = if stored.is_some() {
                    "wrong password"
                } else {
                    "unknown user"
                };
                ctx.audit(attempt(AuditEvent::SignInFailed, why)).await;
                return Err(Error::InvalidCredentials);
            }
            Checked::Right { needs_upgrade } => needs_upgrade,
        };
    if let Some(reason) = users.get(username).and_then(|u| u.lock_reason()) {
        ctx.audit(attempt(AuditEvent::SignInLocked, "locked")).await;
        return Err(Error::Locked(reason.to_owned()));
    }
    let upgraded = if upgrade {
        Some(ctx.hasher().hash(password).await?)
    } else {
        None
    };
    let name = username.to_owned();
    let ip = client_ip.to_owned();
    let agent = user_agent.to_owned();
    let verified_hash = stored.unwrap_or_default();
    let (token, roles) = ctx
        .update_users(move |ctx, users| {
            // The account may have changed while the password was being checked.
            let user = users.get_mut(&name).ok_or(Error::InvalidCredentials)?;
            if user.password_hash != verified_hash {
                return Err(Error::InvalidCredentials);
            }
            if let Some(reason) = user.lock_reason() {
                return Err(Error::Locked(reason.to_owned()));
            }
            if let Some(hash) = upgraded {
                // The hash changes, the password does not: the user's other sessions move
                // to the new binding rather than end.
                let before = user.binding();
                user.password_hash = hash;
                ctx.sessions().rebind(NAME, &name, before, user.binding())?;
            }
            user.record.signed_in(&ip);
            let token = ctx.start_session(&name, NAME, &ip, &agent, user.binding())?;
            Ok((token, user.record.roles.clone()))
        })
        .await?;
    tracing::info!(user = %printable(username), ip = %client_ip, "signed in");
    ctx.audit(attempt(AuditEvent::SignIn, "ok")).await;
    Ok(SignedIn {
        token,
        user_name: username.to_owned(),
        roles,
    })
}

/// Changes `user`'s own password from `current` to `new`, keeps `user`'s session and ends
/// their others.
///
/// Checking the current password goes through the sign-in throttle (the same counters, by
/// username and client address): a stolen cookie must not buy an unthrottled way to guess
/// the real password, nor a way to keep the hashing pool busy. A throttled attempt is
/// [`Error::TooManyRequests`] without the password being checked.
pub async fn change_password(
    ctx: &AuthContext,
    user: &CurrentUser,
    current: String,
    new: String,
    client_ip: &str,
) -> Result<()> {
    if current.is_empty() || new.is_empty() {
        return Err(Error::bad_request(
            "Current password and new password are required",
        ));
    }
    check_new_password(&new, ctx.config().min_password_length)?;
    if user.is_default {
        return Err(Error::bad_request(
            "Authentication is off: there is no password to change",
        ));
    }
    let users = ctx.users().await?;
    let stored = users
        .get(&user.user_name)
        .map(|u| u.password_hash.clone())
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    let name = user.user_name.as_str();
    match check_throttled(ctx, name, client_ip, current, Some(stored.clone())).await? {
        Checked::Throttled(Throttled {
            retry_after, limit, ..
        }) => {
            let reason = match limit {
                Limit::Account => "Too many wrong passwords for this account.",
                Limit::Address => "Too many wrong passwords from your address.",
                Limit::InFlight => "Too many password checks at once.",
            };
            return Err(Error::TooManyRequests {
                reason,
                retry_after,
            });
        }
        Checked::Wrong => {
            // Someone holding this session guessed at the account's password.
            let record = AuditRecord::new(AuditEvent::PasswordChangeFailed, name, name)
                .ip(client_ip)
                .result("wrong current password");
            ctx.audit(record).await;
            return Err(Error::bad_request("Current password is incorrect"));
        }
        Checked::Right { .. } => {}
    }
    let hash = ctx.hasher().hash(new).await?;
    let target = user.user_name.clone();
    let keep = user.session;
    ctx.update_users(move |ctx, users| {
        let record = users
            .get_mut(&target)
            .ok_or_else(|| Error::NotFound("User not found".into()))?;
        if record.password_hash != stored {
            return Err(Error::bad_request(
                "The password was changed meanwhile; try again",
            ));
        }
        let before = record.binding();
        let sessions = ctx.sessions();
        sessions.remove_user(NAME, &target, keep)?;
        record.password_hash = hash;
        // This session stays, bound to the new password.
        sessions.rebind(NAME, &target, before, record.binding())?;
        Ok(())
    })
    .await?;
    tracing::info!(user = %printable(name), "password changed");
    let record = AuditRecord::new(AuditEvent::PasswordChanged, name, name).ip(client_ip);
    ctx.audit(record).await;
    Ok(())
}

/// The `POST /auth/login` body.
#[derive(Deserialize)]
pub(super) struct SignInForm {
    username: Option<String>,
    password: Option<String>,
}

/// Shows the username, never the password.
impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInForm")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `POST /auth/login`: [`authenticate`], then the user as JSON and the session cookie.
pub(super) async fn submit_sign_in(
    State(ctx): State<AuthContext>,
    facts: RequestFacts,
    headers: HeaderMap,
    JsonBody(form): JsonBody<SignInForm>,
) -> Result<Response> {
    let credentials = Credentials {
        username: form.username.unwrap_or_default(),
        password: form.password.unwrap_or_default(),
    };
    let signed_in =
        authenticate(&ctx, credentials, &facts.client_ip(), user_agent(&headers)).await?;
    let mut response = Json(user_json(&signed_in.user_name, &signed_in.roles)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&signed_in.token, facts.https()),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let form: SignInForm =
            serde_json::from_str(r#"{"username":"alice","password":"hunter2-secret"}"#).unwrap();
        let shown = format!("{form:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("<redacted>"),
            "{shown}"
        );
        let credentials = Credentials {
            username: "alice".into(),
            password: "hunter2-secret".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2-secret"));
    }
}
