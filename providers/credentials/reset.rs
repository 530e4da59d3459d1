//! Reset links (SPEC 12): an Admin or the command line makes a one-time link for a user,
//! and whoever holds it chooses the account's new password, ending its sessions.
//!
//! A link is `BASE/reset#TOKEN`: the token rides in the fragment, so no request line or log
//! ever carries it; the page posts it to `POST /auth/reset`. Tokens are made as session
//! tokens are (32 bytes from the operating system, 43 characters of URL-safe base64: 256
//! bits, nothing to guess) and only their SHA-256 is kept, in the user's record, with the
//! time they stop working. A new link replaces the old; using one spends it.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::check::{or_undecided, throttled_error};
use super::NAME;
use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::password::check_new_password;
use crate::request::extract::JsonBody;
use crate::request::RequestFacts;
use crate::session::SessionToken;
use crate::text::printable;
use crate::time::now_secs;
use crate::users::ResetLink;

/// How long a reset link works, in seconds.
pub const RESET_LINK_LIFETIME: f64 = 30.0 * 60.0;

/// The one answer for a token that is malformed, unknown, used, replaced or expired: none
/// of them tells a guesser anything.
const LINK_REFUSED: &str = "This reset link does not work: it was used, replaced by a newer one, or has expired. Ask for a new one.";

/// What a throttled use of a reset link says (its counters are the address's: the token
/// names nobody).
const RESET_THROTTLED: [&str; 3] = [
    "Too many reset links that did not work from your address.",
    "Too many reset links that did not work from your address.",
    "Too many reset attempts at once.",
];

/// A new reset link's token. `Debug` never shows it.
pub struct ResetToken(SessionToken);

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetToken(<redacted>)")
    }
}

impl ResetToken {
    /// The token, for the one place it is shown.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The link to the reset page of the server at `base_url` (no trailing slash).
    pub fn link(&self, base_url: &str) -> String {
        format!("{}/reset#{}", base_url.trim_end_matches('/'), self.expose())
    }
}

/// What is kept of `token`: the hex SHA-256 of its text.
fn token_hash(token: &str) -> Option<String> {
    SessionToken::key_of(token).map(|key| key.hex())
}

/// Makes a reset link for the password account `name`, replacing any older one, and
/// records who made it (`actor`, from `client_ip` when over HTTP). Refused for an unknown
/// or locked account: a locked account is unlocked first, by someone who decided to.
pub async fn create_reset_link(
    ctx: &AuthContext,
    name: &str,
    actor: &str,
    client_ip: Option<&str>,
) -> Result<ResetToken> {
    let token = SessionToken::generate();
    let hash = token.key().hex();
    let target = name.to_owned();
    ctx.update_users(move |_, users| {
        let user = users
            .get_mut(&target)
            .ok_or_else(|| Error::NotFound(format!("User '{target}' not found")))?;
        if user.lock_reason().is_some() {
            return Err(Error::bad_request(format!(
                "User '{target}' is locked: unlock the account before making a reset link"
            )));
        }
        user.reset_link = Some(ResetLink {
            hash,
            expires: now_secs() + RESET_LINK_LIFETIME,
        });
        Ok(())
    })
    .await?;
    tracing::info!(user = %printable(name), by = %printable(actor), "reset link made");
    let mut record = AuditRecord::new(AuditEvent::ResetLinkCreated, actor, name);
    if let Some(ip) = client_ip {
        record = record.ip(ip);
    }
    ctx.audit(record).await;
    Ok(ResetToken(token))
}

/// Uses the reset link of `token`: sets `new_password` on its account, spends the link,
/// ends the account's sessions and forgives its failed sign-ins. Answers the account's
/// name. Throttled like signing in (by the client's address: the token names nobody);
/// every token that does not work gets one and the same refusal.
pub async fn use_reset_link(
    ctx: &AuthContext,
    token: &str,
    new_password: String,
    client_ip: &str,
) -> Result<String> {
    if new_password.is_empty() {
        return Err(Error::bad_request("New password is required"));
    }
    check_new_password(&new_password, ctx.config().min_password_length)?;
    let attempt = match ctx
        .throttle()
        .attempt(
            &format!("reset link from {client_ip}"),
            client_ip,
            now_secs(),
        )
        .await?
    {
        Ok(attempt) => attempt,
        Err(throttled) => return Err(throttled_error(throttled, RESET_THROTTLED)),
    };
    // Nothing about the token is looked up before the throttle has let the attempt in.
    let Some(hash) = token_hash(token) else {
        attempt.record_failure(now_secs()).await?;
        return Err(Error::bad_request(LINK_REFUSED));
    };
    // A token no account holds is refused before the new password is hashed: guesses cost
    // a lookup, not a hash. (The write below looks again, under the store's lock.)
    let held = ctx.users().await?.values().any(|user| {
        user.reset_link
            .as_ref()
            .is_some_and(|link| link.hash == hash)
    });
    if !held {
        attempt.record_failure(now_secs()).await?;
        tracing::info!(ip = %client_ip, "a reset link that does not work was used");
        return Err(Error::bad_request(LINK_REFUSED));
    }
    let (new_hash, attempt) = or_undecided(attempt, ctx.hasher().hash(new_password).await)?;
    let used = ctx
        .update_users(move |ctx, users| {
            let now = now_secs();
            // Digests are compared, not tokens: how long a comparison takes tells nothing
            // about any token.
            let found = users.iter_mut().find(|(_, user)| {
                user.reset_link
                    .as_ref()
                    .is_some_and(|link| link.hash == hash)
            });
            let Some((name, user)) = found else {
                return Ok(None);
            };
            let link = user.reset_link.take();
            if link.is_none_or(|link| link.expires < now) {
                // Expired: spent all the same.
                return Ok(None);
            }
            if let Some(reason) = user.lock_reason() {
                return Err(Error::Locked(reason.to_owned()));
            }
            ctx.sessions().remove_user(NAME, name, None)?;
            user.password_hash = new_hash;
            user.must_change_password = false;
            Ok(Some(name.clone()))
        })
        .await;
    // A locked account, or a store that cannot be written: no guess, nothing to count.
    let (used, attempt) = or_undecided(attempt, used)?;
    let Some(name) = used else {
        attempt.record_failure(now_secs()).await?;
        tracing::info!(ip = %client_ip, "a reset link that does not work was used");
        return Err(Error::bad_request(LINK_REFUSED));
    };
    attempt.record_success().await?;
    ctx.throttle().clear_user_everywhere(&name).await?;
    tracing::info!(user = %printable(&name), ip = %client_ip, "password reset with a link");
    let record = AuditRecord::new(AuditEvent::PasswordReset, &name, &name).ip(client_ip);
    ctx.audit(record).await;
    Ok(name)
}

/// The `POST /auth/reset` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResetForm {
    token: Option<String>,
    new_password: Option<String>,
}

/// Shows which fields were sent, never their values.
impl std::fmt::Debug for ResetForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("ResetForm")
            .field("token", &redacted(&self.token))
            .field("new_password", &redacted(&self.new_password))
            .finish()
    }
}

/// `POST /auth/reset`: [`use_reset_link`]; answers the account's name, to sign in with.
pub(super) async fn submit_reset(
    State(ctx): State<AuthContext>,
    facts: RequestFacts,
    JsonBody(form): JsonBody<ResetForm>,
) -> Result<Json<Value>> {
    let token = form.token.unwrap_or_default();
    let password = form.new_password.unwrap_or_default();
    let name = use_reset_link(&ctx, token.trim(), password, &facts.client_ip()).await?;
    Ok(Json(json!({ "success": true, "userName": name })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_token_in_the_fragment_and_debug_hides_it() {
        let token = ResetToken(SessionToken::generate());
        let link = token.link("http://127.0.0.1:8000/");
        assert_eq!(
            link,
            format!("http://127.0.0.1:8000/reset#{}", token.expose())
        );
        assert_eq!(token.expose().len(), 43);
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn only_token_shaped_text_has_a_hash() {
        let token = SessionToken::generate();
        assert_eq!(token_hash(token.expose()), Some(token.key().hex()));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", &"a".repeat(42)),
        ] {
            assert_eq!(token_hash(bad), None, "{bad:?}");
        }
    }
}
