//! Your sessions (SPEC 12): `GET /account/sessions`, `DELETE /account/sessions/{id}`,
//! `POST /account/sessions/revoke-others`, and an Admin's view of anyone's
//! (`GET`/`DELETE /admin/users/{name}/sessions[/{id}]`). A session is named by the first 16
//! hex characters of its SHA-256, which cannot be used as a token.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::CurrentUser;
use crate::request::RequestFacts;
use crate::session::{SessionKey, SessionRecord};
use crate::state::AuthState;
use crate::views::ListedSession;
use crate::web::extract::AdminUser;

/// Characters of a session's public id.
const ID_LEN: usize = 16;

/// A session's public id: the first [`ID_LEN`] hex characters of its key.
fn public_id(key: &SessionKey) -> String {
    key.hex()[..ID_LEN].to_owned()
}

/// The live sessions of `user_name` (signed in by `provider`), newest first, by public id;
/// `current` marks the one the request carries. What My Account and the API both show.
async fn listed_sessions(
    ctx: &AuthContext,
    provider: &str,
    user_name: &str,
    current: Option<SessionKey>,
) -> Result<Vec<ListedSession>> {
    let mut sessions = sessions_of(ctx, provider, user_name).await?;
    sessions.reverse();
    Ok(sessions
        .into_iter()
        .map(|(key, record)| ListedSession {
            id: public_id(&key),
            current: Some(key) == current,
            record,
        })
        .collect())
}

/// [`listed_sessions`] as the API answers them.
async fn listed(
    ctx: &AuthContext,
    provider: &str,
    user_name: &str,
    current: Option<SessionKey>,
) -> Result<Value> {
    let rows: Vec<Value> = listed_sessions(ctx, provider, user_name, current)
        .await?
        .into_iter()
        .map(|session| {
            let record = session.record;
            json!({
                "id": session.id,
                "current": session.current,
                "created": record.created,
                "lastSeen": record.last_seen,
                "ip": record.client_ip,
                "device": crate::views::device(&record.user_agent),
                "userAgent": record.user_agent,
            })
        })
        .collect();
    Ok(json!({ "sessions": rows }))
}

async fn sessions_of(
    ctx: &AuthContext,
    provider: &str,
    user_name: &str,
) -> Result<Vec<(SessionKey, SessionRecord)>> {
    let sessions = ctx.sessions().clone();
    let (provider, user_name) = (provider.to_owned(), user_name.to_owned());
    let mut found =
        tokio::task::spawn_blocking(move || sessions.sessions_of(&provider, &user_name)).await??;
    found.sort_by(|a, b| a.1.created.total_cmp(&b.1.created));
    Ok(found)
}

/// The signed-in `user`'s live sessions, newest first, for My Account.
pub async fn own_sessions(ctx: &AuthContext, user: &CurrentUser) -> Result<Vec<ListedSession>> {
    listed_sessions(ctx, &user.provider, &user.user_name, user.session).await
}

/// Ends the session of `user_name` whose public id is `id`; 404 when it has none such.
async fn end_by_id(ctx: &AuthContext, provider: &str, user_name: &str, id: &str) -> Result<()> {
    if id.len() != ID_LEN
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::bad_request(
            "A session id is 16 lowercase hexadecimal characters.",
        ));
    }
    let sessions = sessions_of(ctx, provider, user_name).await?;
    let key = sessions
        .iter()
        .map(|(key, _)| *key)
        .find(|key| public_id(key) == id)
        .ok_or_else(|| Error::NotFound("No such session".into()))?;
    ctx.end_session(key).await
}

fn revoked(actor: &str, target: &str, facts: &RequestFacts, detail: String) -> AuditRecord {
    AuditRecord::new(AuditEvent::SessionRevoked, actor, target)
        .ip(&facts.client_ip())
        .detail(detail)
}

/// Refuses the default user, who has no sessions to manage.
fn signed_in(user: &CurrentUser) -> Result<()> {
    if user.is_default {
        return Err(Error::bad_request(
            "Authentication is off: there are no sessions to manage",
        ));
    }
    Ok(())
}

/// `GET /account/sessions`: the signed-in user's live sessions.
pub async fn list_own_sessions(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
) -> Result<Json<Value>> {
    signed_in(&user)?;
    Ok(Json(
        listed(&ctx, &user.provider, &user.user_name, user.session).await?,
    ))
}

/// `DELETE /account/sessions/{id}`: ends one of the signed-in user's sessions (this one
/// too: that is signing out).
pub async fn remove_own_session(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    signed_in(&user)?;
    end_by_id(&ctx, &user.provider, &user.user_name, &id).await?;
    let record = revoked(
        &user.user_name,
        &user.user_name,
        &facts,
        format!("session {id}"),
    );
    ctx.audit(record).await;
    Ok(Json(json!({ "success": true })))
}

/// `POST /account/sessions/revoke-others`: ends every session of the signed-in user but
/// this one.
pub async fn revoke_other_sessions(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
) -> Result<Json<Value>> {
    signed_in(&user)?;
    let ended = ctx
        .end_sessions_of(&user.provider, &user.user_name, user.session)
        .await?;
    let record = revoked(
        &user.user_name,
        &user.user_name,
        &facts,
        format!("every other session ({ended})"),
    );
    ctx.audit(record).await;
    Ok(Json(json!({ "success": true, "ended": ended })))
}

/// The provider of the account `name`, whatever provider holds it; 404 when none does.
async fn provider_of(state: &AuthState, name: &str) -> Result<(String, String)> {
    let (provider, account) = state
        .account_named(name)
        .await?
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    Ok((provider, account.user_name))
}

/// `GET /admin/users/{name}/sessions`: any account's live sessions, for an Admin.
pub async fn list_user_sessions(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let (provider, name) = provider_of(&state, &name).await?;
    let current = admin.session.filter(|_| admin.user_name == name);
    Ok(Json(
        listed(state.context(), &provider, &name, current).await?,
    ))
}

/// `DELETE /admin/users/{name}/sessions/{id}`: ends one session of any account.
pub async fn remove_user_session(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let (provider, name) = provider_of(&state, &name).await?;
    end_by_id(state.context(), &provider, &name, &id).await?;
    let record = revoked(&admin.user_name, &name, &facts, format!("session {id}"));
    state.context().audit(record).await;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /admin/users/{name}/sessions`: ends every session of any account.
pub async fn remove_user_sessions(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let (provider, name) = provider_of(&state, &name).await?;
    let ended = state
        .context()
        .end_sessions_of(&provider, &name, None)
        .await?;
    let record = revoked(
        &admin.user_name,
        &name,
        &facts,
        format!("every session ({ended})"),
    );
    state.context().audit(record).await;
    Ok(Json(json!({ "success": true, "ended": ended })))
}
