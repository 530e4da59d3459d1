//! API keys on the web: `GET/POST /account/keys`, `DELETE /account/keys/{id}` (your own,
//! or any as an Admin), `GET /admin/keys`. Session only: a key cannot manage keys.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::CurrentUser;
use crate::keys::{add_key, NewKey};
use crate::request::extract::{JsonBody, Path};
use crate::request::RequestFacts;
use crate::web::extract::AdminUser;

/// The `POST /account/keys` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewKeyForm {
    name: Option<String>,
    expires_days: Option<u32>,
    models: Option<Vec<String>>,
    rpm: Option<u32>,
}

/// Refuses the default user: authentication is off, there is nobody to own a key.
fn owner(user: &CurrentUser) -> Result<()> {
    if user.is_default {
        return Err(Error::bad_request(
            "Authentication is off: keys belong to users, and there are none yet",
        ));
    }
    Ok(())
}

/// `GET /account/keys`: the signed-in user's keys (never a key itself).
pub async fn list_own_keys(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
) -> Result<Json<Value>> {
    let keys = ctx.keys().keys().await?;
    let own: Vec<Value> = keys
        .iter()
        .filter(|(_, key)| key.belongs_to(&user.user_name, &user.provider))
        .map(|(id, key)| key.to_json(id))
        .collect();
    Ok(Json(json!({ "keys": own })))
}

/// `POST /account/keys`: makes a key for the signed-in user; the answer is the only time
/// the key is shown.
pub async fn create_key(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    JsonBody(form): JsonBody<NewKeyForm>,
) -> Result<Json<Value>> {
    owner(&user)?;
    let request = NewKey {
        name: form.name.unwrap_or_default(),
        expires_days: form.expires_days,
        models: form.models,
        rpm: form.rpm,
    };
    request.validate()?;
    let ring = ctx.keys().clone();
    let (name, provider) = (user.user_name.clone(), user.provider.clone());
    let made = tokio::task::spawn_blocking(move || {
        ring.store()
            .update(|keys| Ok(add_key(keys, &name, &provider, &request)))
    })
    .await??;
    let record = AuditRecord::new(AuditEvent::KeyCreated, &user.user_name, &user.user_name)
        .ip(&facts.client_ip())
        .detail(format!("id {}", made.id));
    ctx.audit(record).await;
    Ok(Json(made.to_json()))
}

/// `DELETE /account/keys/{id}`: revokes a key of the signed-in user's, or any key for an
/// Admin; 404 otherwise (whether or not the key exists).
pub async fn remove_key(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let ring = ctx.keys().clone();
    let asker = user.clone();
    let target = id.clone();
    let owner = tokio::task::spawn_blocking(move || {
        ring.store().update(|keys| {
            let mine = keys.get(&target).is_some_and(|key| {
                asker.is_admin() || key.belongs_to(&asker.user_name, &asker.provider)
            });
            if !mine {
                return Ok(None);
            }
            Ok(keys.shift_remove(&target).map(|key| key.user_name))
        })
    })
    .await??;
    let Some(owner) = owner else {
        return Err(Error::NotFound(format!("API key '{id}' not found")));
    };
    let record = AuditRecord::new(AuditEvent::KeyRemoved, &user.user_name, &owner)
        .ip(&facts.client_ip())
        .detail(format!("id {id}"));
    ctx.audit(record).await;
    Ok(Json(json!({ "success": true })))
}

/// `GET /admin/keys`: every user's keys, with their owner.
pub async fn list_all_keys(
    State(ctx): State<AuthContext>,
    _admin: AdminUser,
) -> Result<Json<Value>> {
    let keys = ctx.keys().keys().await?;
    let all: Vec<Value> = keys
        .iter()
        .map(|(id, key)| {
            let mut json = key.to_json(id);
            json["userName"] = Value::from(key.user_name.as_str());
            json["provider"] = Value::from(key.provider.as_str());
            json
        })
        .collect();
    Ok(Json(json!({ "keys": all })))
}
