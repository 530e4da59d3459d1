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
use crate::password::{check_new_password, MAX_PASSWORD_BYTES};
use crate::request::cookies::session_cookie;
use crate::request::extract::JsonBody;
use crate::request::facts::user_agent;
use crate::request::RequestFacts;
use crate::session::SessionToken;
use crate::text::printable;
use crate::time::now_secs;
use crate::two_factor::parse_second_factor;
use crate::users::{User, MAX_SIGN_IN_NAME_BYTES};

use super::check::{check_throttled, or_undecided, throttled_error, Checked};
use super::second_factor::{audit_code, spend_code, CodeUsed};

/// A username and password, as presented at sign-in, and the second factor when one was
/// given. `Debug` never shows the password or the code.
#[derive(Clone)]
pub struct Credentials {
    /// The username, as typed (surrounding blanks are ignored).
    pub username: String,
    /// The password.
    pub password: String,
    /// A code of the authenticator app, or a recovery code: asked for from accounts with
    /// two-factor sign-in on, ignored for others.
    pub code: Option<String>,
}

impl Credentials {
    /// A username and password, without a code.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            code: None,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
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
    /// Whether they must choose a new password before anything else.
    pub must_change_password: bool,
}

/// What a throttled sign-in says.
const SIGN_IN_THROTTLED: [&str; 3] = [
    "Too many failed sign-ins for this account.",
    "Too many failed sign-ins from your address.",
    "Too many sign-ins at once.",
];

/// What a throttled check of the current password, to change it, says.
const PASSWORD_CHECK_THROTTLED: [&str; 3] = [
    "Too many wrong passwords for this account.",
    "Too many wrong passwords from your address.",
    "Too many password checks at once.",
];

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
    // A code is read strictly, before anything is looked up or hashed.
    let factor = match credentials.code.as_deref().map(str::trim) {
        Some(code) if !code.is_empty() => Some(parse_second_factor(code)?),
        _ => None,
    };
    let users = ctx.users().await?;
    let stored = users.get(username).map(|u| u.password_hash.clone());
    // Attempts at unknown names are audited without the name: it may be a mistyped password.
    let audit_target = if stored.is_some() {
        username
    } else {
        "(unknown)"
    };
    let attempt_record = |event, result: &str| {
        AuditRecord::new(event, audit_target, audit_target)
            .ip(client_ip)
            .result(result)
    };
    let (upgrade, attempt) =
        match check_throttled(ctx, username, client_ip, password.clone(), stored.clone()).await? {
            Checked::Throttled(throttled) => {
                // Once per wait: the refusals that follow add nothing but length to the log.
                if throttled.first {
                    ctx.audit(attempt_record(AuditEvent::SignInThrottled, "throttled"))
                        .await;
                }
                return Err(throttled_error(throttled, SIGN_IN_THROTTLED));
            }
            Checked::Wrong => {
                let why = if stored.is_some() {
                    "wrong password"
                } else {
                    "unknown user"
                };
                ctx.audit(attempt_record(AuditEvent::SignInFailed, why))
                    .await;
                return Err(Error::InvalidCredentials);
            }
            Checked::Right {
                needs_upgrade,
                attempt,
            } => (needs_upgrade, attempt),
        };
    let account = users.get(username);
    if let Some(reason) = account.and_then(|u| u.lock_reason()) {
        attempt.record_success().await?;
        ctx.audit(attempt_record(AuditEvent::SignInLocked, "locked"))
            .await;
        return Err(Error::Locked(reason.to_owned()));
    }
    // The second step: a right password is not enough for an account with two-factor
    // sign-in on. Without a code nothing is counted (the page asks for one); a wrong code
    // counts as a wrong password would.
    let needs_code = account.is_some_and(User::has_two_factor);
    if needs_code && factor.is_none() {
        attempt.undecided();
        return Err(Error::TwoFactorRequired);
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
    let factor = factor.filter(|_| needs_code);
    let outcome = ctx
        .update_users(move |ctx, users| {
            // The account may have changed while the password was being checked.
            let user = users.get_mut(&name).ok_or(Error::InvalidCredentials)?;
            if user.password_hash != verified_hash {
                return Err(Error::InvalidCredentials);
            }
            if let Some(reason) = user.lock_reason() {
                return Err(Error::Locked(reason.to_owned()));
            }
            let mut code_used = None;
            if let Some(factor) = &factor {
                let two_factor = user
                    .two_factor
                    .as_mut()
                    .filter(|t| t.is_on())
                    .ok_or(Error::InvalidCredentials)?;
                match spend_code(two_factor, factor, now_secs())? {
                    Some(used) => code_used = Some(used),
                    None => return Ok(Outcome::WrongCode),
                }
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
            Ok(Outcome::SignedIn {
                token,
                roles: user.record.roles.clone(),
                must_change_password: user.must_change_password,
                code_used,
            })
        })
        .await;
    let (outcome, attempt) = or_undecided(attempt, outcome)?;
    let (token, roles, must_change_password, code_used) = match outcome {
        Outcome::WrongCode => {
            attempt.record_failure(now_secs()).await?;
            audit_code(ctx, username, client_ip, None).await;
            return Err(Error::TwoFactorRequired);
        }
        Outcome::SignedIn {
            token,
            roles,
            must_change_password,
            code_used,
        } => (token, roles, must_change_password, code_used),
    };
    attempt.record_success().await?;
    if code_used.is_some() {
        audit_code(ctx, username, client_ip, code_used).await;
    }
    tracing::info!(user = %printable(username), ip = %client_ip, "signed in");
    ctx.audit(attempt_record(AuditEvent::SignIn, "ok")).await;
    Ok(SignedIn {
        token,
        user_name: username.to_owned(),
        roles,
        must_change_password,
    })
}

/// What the locked write of a sign-in found.
enum Outcome {
    /// The second factor was wrong (or already used): nothing changed.
    WrongCode,
    /// Signed in.
    SignedIn {
        token: SessionToken,
        roles: Vec<String>,
        must_change_password: bool,
        code_used: Option<CodeUsed>,
    },
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
    let attempt =
        match check_throttled(ctx, name, client_ip, current.clone(), Some(stored.clone())).await? {
            Checked::Throttled(throttled) => {
                return Err(throttled_error(throttled, PASSWORD_CHECK_THROTTLED))
            }
            Checked::Wrong => {
                // Someone holding this session guessed at the account's password.
                let record = AuditRecord::new(AuditEvent::PasswordChangeFailed, name, name)
                    .ip(client_ip)
                    .result("wrong current password");
                ctx.audit(record).await;
                return Err(Error::bad_request("Current password is incorrect"));
            }
            Checked::Right { attempt, .. } => attempt,
        };
    attempt.record_success().await?;
    if user.must_change_password && new == current {
        return Err(Error::bad_request(
            "Choose a password of your own, not the one you were given",
        ));
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
        record.must_change_password = false;
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
    code: Option<String>,
}

/// Shows the username, never the password.
impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInForm")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
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
        code: form.code,
        ..Credentials::new(
            form.username.unwrap_or_default(),
            form.password.unwrap_or_default(),
        )
    };
    let signed_in =
        authenticate(&ctx, credentials, &facts.client_ip(), user_agent(&headers)).await?;
    let mut body = user_json(&signed_in.user_name, &signed_in.roles);
    if signed_in.must_change_password {
        body["mustChangePassword"] = true.into();
    }
    let mut response = Json(body).into_response();
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
            code: Some("123456".into()),
            ..Credentials::new("alice", "hunter2-secret")
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("hunter2-secret") && !shown.contains("123456"));
    }
}
