//! User management for admins: `/admin/users`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::audit::{AuditEvent, AuditRecord};
use crate::avatar::remove_avatar;
use crate::error::{Error, Result};
use crate::extract::{AdminUser, ClientIp};
use crate::provider::{AccountChange, AccountChanged, LockChange};
use crate::session::SessionKey;
use crate::state::AuthState;
use crate::users::{default_roles, validate_username, User, ADMIN_ROLE, DEFAULT_LOCK_REASON};
use crate::web::extract::Path;
use crate::web::json::JsonBody;

/// `GET /admin/users`: every account, without password hashes: the user store's
/// (`"provider": "credentials"`), then those the selected provider records itself (GitHub
/// users, for example).
pub async fn list_users(State(state): State<AuthState>, _admin: AdminUser) -> Result<Json<Value>> {
    let users = state.users().await?;
    let mut list: Vec<Value> = users
        .iter()
        .map(|(name, user)| {
            json!({
                "userName": name,
                "created": user.created,
                "roles": user.roles,
                "locked": user.lock_reason(),
                "lastIp": user.last_ip,
                "lastLogin": user.last_login,
                "provider": crate::providers::credentials::NAME,
            })
        })
        .collect();
    let provider = state.provider();
    list.extend(provider.accounts(&state).await?.into_iter().map(|account| {
        json!({
            "userName": account.user_name,
            "created": account.created,
            "roles": account.roles,
            "locked": account.locked,
            "lastIp": account.last_ip,
            "lastLogin": account.last_login,
            "provider": provider.name(),
        })
    }));
    Ok(Json(json!({ "users": list })))
}

/// Reads an optional `roles` value: absent, or an array of strings.
fn parse_roles(value: Option<&Value>) -> Result<Option<Vec<String>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(role) if !role.is_empty() && role.len() <= 64 => Ok(role.clone()),
                _ => Err(Error::bad_request("roles must be an array of role names")),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(Error::bad_request("roles must be an array of role names")),
    }
}

fn optional_string(body: &Value, field: &str) -> Result<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_request(format!("{field} must be a string"))),
    }
}

fn required_user_name(body: &Value) -> Result<String> {
    let name = optional_string(body, "userName")?.unwrap_or_default();
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::bad_request("Username is required"));
    }
    Ok(name.to_owned())
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("User '{name}' not found"))
}

/// `POST /admin/users`: creates an account.
pub async fn create_user(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let name = required_user_name(&body)?;
    validate_username(&name)?;
    let password = optional_string(&body, "password")?.unwrap_or_default();
    if password.is_empty() {
        return Err(Error::bad_request("Password is required"));
    }
    let mut roles = parse_roles(body.get("roles"))?.unwrap_or_default();
    for role in default_roles(&name) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if state.users().await?.contains_key(&name) {
        return Err(Error::bad_request(format!("User '{name}' already exists")));
    }
    let hash = state.hasher().hash(password).await?;
    let created = name.clone();
    let detail = format!("roles: {}", roles.join(", "));
    state
        .update_users(move |_, users| {
            if users.contains_key(&created) {
                return Err(Error::bad_request(format!(
                    "User '{created}' already exists"
                )));
            }
            users.insert(created, User::new(hash, roles));
            Ok(())
        })
        .await?;
    tracing::info!(user = %name, by = %admin.user_name, "user created");
    let record = AuditRecord::new(AuditEvent::UserCreated, &admin.user_name, &name)
        .ip(&ip)
        .detail(detail);
    state.audit(record).await;
    Ok(Json(json!({ "success": true, "userName": name })))
}

fn parse_lock(body: &Value) -> Result<LockChange> {
    match body.get("locked") {
        None => Ok(LockChange::Keep),
        Some(Value::Null) | Some(Value::Bool(false)) => Ok(LockChange::Unlock),
        Some(Value::Bool(true)) => Ok(LockChange::Lock(DEFAULT_LOCK_REASON.to_owned())),
        Some(Value::String(reason)) if reason.trim().is_empty() => Ok(LockChange::Unlock),
        Some(Value::String(reason)) if reason.chars().count() <= 500 => {
            Ok(LockChange::Lock(reason.trim().to_owned()))
        }
        Some(Value::String(_)) => Err(Error::bad_request(
            "Lock reason is too long (at most 500 characters)",
        )),
        Some(_) => Err(Error::bad_request("locked must be a reason, true or false")),
    }
}

/// `PUT /admin/users`: resets a password, changes roles, locks or unlocks. The name is
/// looked up in the user store first, then among the selected provider's own accounts
/// ([`AuthProvider::update_account`](crate::AuthProvider::update_account)).
pub async fn update_user(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let name = required_user_name(&body)?;
    let change = AccountChange {
        password: optional_string(&body, "password")?.filter(|p| !p.is_empty()),
        roles: parse_roles(body.get("roles"))?,
        lock: parse_lock(&body)?,
    };
    let is_self = name == admin.user_name;
    if let LockChange::Lock(_) = change.lock {
        if is_self {
            return Err(Error::bad_request("Cannot lock your own account"));
        }
    }
    if is_self
        && change
            .roles
            .as_ref()
            .is_some_and(|r| !r.iter().any(|x| x == ADMIN_ROLE))
    {
        return Err(Error::bad_request("Cannot remove your own Admin role"));
    }
    let unlocking = change.lock == LockChange::Unlock;
    let changes = if state.users().await?.contains_key(&name) {
        let keep = if is_self { admin.session } else { None };
        update_store_user(&state, &name, change, keep).await?
    } else {
        state
            .provider()
            .update_account(&state, &name, change)
            .await?
            .ok_or_else(|| not_found(&name))?
    };
    if unlocking {
        // An admin unlocking an account also forgives its failed sign-ins.
        state.throttle().clear_user(&name);
    }
    tracing::info!(user = %name, by = %admin.user_name, "user updated");
    for change in changes {
        let (event, detail) = match change {
            AccountChanged::Password => (AuditEvent::PasswordChanged, None),
            AccountChanged::Roles(roles) => (
                AuditEvent::RolesChanged,
                Some(format!("roles: {}", roles.join(", "))),
            ),
            AccountChanged::Locked(reason) => (AuditEvent::UserLocked, Some(reason)),
            AccountChanged::Unlocked => (AuditEvent::UserUnlocked, None),
        };
        let mut record = AuditRecord::new(event, &admin.user_name, &name).ip(&ip);
        record.detail = detail;
        state.audit(record).await;
    }
    Ok(Json(json!({ "success": true, "userName": name })))
}

/// Applies `change` to `name` in the user store; a new password or a lock ends the user's
/// sessions except `keep` (the admin's own, when changing their own password).
async fn update_store_user(
    state: &AuthState,
    name: &str,
    change: AccountChange,
    keep: Option<SessionKey>,
) -> Result<Vec<AccountChanged>> {
    let AccountChange {
        password,
        roles,
        lock,
    } = change;
    let hash = match password {
        Some(password) => Some(state.hasher().hash(password).await?),
        None => None,
    };
    let target = name.to_owned();
    state
        .update_users(move |state, users| {
            let user = users.get_mut(&target).ok_or_else(|| not_found(&target))?;
            let mut changes = Vec::new();
            let will_be_admin = roles
                .as_ref()
                .map_or(user.is_admin(), |r| r.iter().any(|x| x == ADMIN_ROLE));
            if let LockChange::Lock(_) = lock {
                // Refused when an Admin now or after this very request.
                if user.is_admin() || will_be_admin {
                    return Err(Error::bad_request("Cannot lock an Admin user"));
                }
            }
            let ends_sessions = hash.is_some() || matches!(lock, LockChange::Lock(_));
            if ends_sessions {
                state.sessions().remove_user(&target, keep)?;
            }
            if let Some(hash) = hash {
                user.password_hash = hash;
                changes.push(AccountChanged::Password);
            }
            if let Some(roles) = roles {
                if roles != user.roles {
                    changes.push(AccountChanged::Roles(roles.clone()));
                }
                user.roles = roles;
            }
            changes.extend(lock.apply(&mut user.locked));
            Ok(changes)
        })
        .await
}

/// `DELETE /admin/users/{name}`: removes an account (from the user store, or else from the
/// selected provider's own accounts), ends its sessions and removes its avatar.
pub async fn delete_user(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(Error::bad_request("Username is required"));
    }
    if name == admin.user_name {
        return Err(Error::bad_request("Cannot delete your own account"));
    }
    let target = name.clone();
    let removed = state
        .update_users(move |state, users| {
            if !users.contains_key(&target) {
                return Ok(false);
            }
            state.sessions().remove_user(&target, None)?;
            users.shift_remove(&target);
            remove_avatar(state.config(), &target);
            Ok(true)
        })
        .await?;
    if !removed {
        if !state.provider().remove_account(&state, &name).await? {
            return Err(not_found(&name));
        }
        let (state, target) = (state.clone(), name.clone());
        tokio::task::spawn_blocking(move || remove_avatar(state.config(), &target)).await?;
    }
    tracing::info!(user = %name, by = %admin.user_name, "user deleted");
    let record = AuditRecord::new(AuditEvent::UserDeleted, &admin.user_name, &name).ip(&ip);
    state.audit(record).await;
    Ok(Json(json!({ "success": true, "userName": name })))
}
