//! User management for admins: `/admin/users`, asking the account directories
//! ([`AuthState::directories`]) without caring which kind of store holds an account. A
//! request names the account's provider (default `credentials`), so an action reaches the
//! account the admin saw and no other of the same name.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::accounts::{AccountChange, AccountChanged, LockChange};
use crate::audit::{AuditEvent, AuditRecord};
use crate::error::{Error, Result};
use crate::keys::remove_keys_of;
use crate::password::check_new_password;
use crate::providers::credentials;
use crate::request::extract::{JsonBody, Path, Query};
use crate::request::RequestFacts;
use crate::state::AuthState;
use crate::text::printable;
use crate::users::{
    default_roles, held_name, lock_reason, validate_new_username, User, ADMIN_ROLE,
    DEFAULT_LOCK_REASON,
};
use crate::web::extract::AdminUser;

/// `GET /admin/users`: every account of every directory (the password store's first),
/// without password hashes, each with the `"provider"` that holds it.
pub async fn list_users(State(state): State<AuthState>, _admin: AdminUser) -> Result<Json<Value>> {
    let ctx = state.context();
    let mut list = Vec::new();
    for directory in state.directories() {
        for account in directory.list(ctx).await? {
            list.push(json!({
                "userName": account.user_name,
                "created": account.created,
                "roles": account.roles,
                "locked": account.locked,
                "lastIp": account.last_ip,
                "lastLogin": account.last_login,
                "mustChangePassword": account.must_change_password,
                "twoFactor": account.two_factor,
                "provider": directory.provider(),
            }));
        }
    }
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

/// The provider whose account a request means: `"provider"` (default `credentials`, the
/// password accounts), so that an admin's action can only ever reach the account shown.
fn requested_provider(provider: Option<String>) -> String {
    provider.unwrap_or_else(|| credentials::NAME.to_owned())
}

/// The refusal of a new account whose name `held` (in `provider`'s store) already has,
/// in whatever case.
fn name_taken(name: &str, provider: &str, held: &str) -> Error {
    let case = if held == name {
        ""
    } else {
        " (usernames ignore case)"
    };
    let kind = if provider == credentials::NAME {
        String::new()
    } else {
        format!(" as an account of {provider}")
    };
    Error::bad_request(format!("User '{held}' already exists{kind}{case}"))
}

/// `POST /admin/users`: creates a password account. Usernames are one namespace across
/// providers and ignore case: a name any account holds is refused. The first user, made
/// while authentication is off (by the default user), is an Admin: someone must be able
/// to manage users once it is on; the answer says `"signInRequired": true` then.
pub async fn create_user(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let ctx = state.context();
    let name = required_user_name(&body)?;
    let provider = requested_provider(optional_string(&body, "provider")?);
    if provider != credentials::NAME {
        return Err(Error::bad_request(format!(
            "Accounts of {provider} are made when they first sign in; only password accounts are created here"
        )));
    }
    validate_new_username(&name)?;
    let password = optional_string(&body, "password")?.unwrap_or_default();
    if password.is_empty() {
        return Err(Error::bad_request("Password is required"));
    }
    check_new_password(&password, ctx.config().min_password_length)?;
    let mut roles = parse_roles(body.get("roles"))?.unwrap_or_default();
    let first = admin.is_default && ctx.users().await?.is_empty();
    let mut implied = default_roles(&name);
    if first {
        implied.push(ADMIN_ROLE.to_owned());
    }
    for role in implied {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if let Some((provider, account)) = state.account_named(&name).await? {
        return Err(name_taken(&name, &provider, &account.user_name));
    }
    let hash = ctx.hasher().hash(password).await?;
    let created = name.clone();
    let detail = format!("roles: {}", roles.join(", "));
    let roles_given = roles.clone();
    ctx.update_users(move |_, users| {
        if let Some(held) = held_name(users, &created) {
            return Err(name_taken(&created, credentials::NAME, held));
        }
        // The first user is the owner's own account; anyone else must choose their own
        // password at their first sign-in.
        let mut user = User::new(hash, roles);
        user.must_change_password = !first;
        users.insert(created, user);
        Ok(())
    })
    .await?;
    tracing::info!(user = %printable(&name), by = %printable(&admin.user_name), "user created");
    let record = AuditRecord::new(AuditEvent::UserCreated, &admin.user_name, &name)
        .ip(&facts.client_ip())
        .detail(detail);
    ctx.audit(record).await;
    // The first user switches authentication on: the default user is nobody now.
    let sign_in_required = admin.is_default && state.requires_auth().await?;
    Ok(Json(json!({
        "success": true,
        "userName": name,
        "roles": roles_given,
        "signInRequired": sign_in_required,
    })))
}

fn parse_lock(body: &Value) -> Result<LockChange> {
    match body.get("locked") {
        None => Ok(LockChange::Keep),
        Some(Value::Null) | Some(Value::Bool(false)) => Ok(LockChange::Unlock),
        Some(Value::Bool(true)) => Ok(LockChange::Lock(DEFAULT_LOCK_REASON.to_owned())),
        Some(Value::String(reason)) if reason.trim().is_empty() => Ok(LockChange::Unlock),
        Some(Value::String(reason)) => Ok(LockChange::Lock(lock_reason(reason)?)),
        Some(_) => Err(Error::bad_request("locked must be a reason, true or false")),
    }
}

/// `PUT /admin/users`: resets a password, changes roles, locks or unlocks the account
/// `userName` of `provider` (default `credentials`).
pub async fn update_user(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>> {
    let name = required_user_name(&body)?;
    let provider = requested_provider(optional_string(&body, "provider")?);
    let directory = state.directory(&provider)?;
    let is_self = name == admin.user_name && provider == admin.provider;
    let change = AccountChange {
        password: optional_string(&body, "password")?.filter(|p| !p.is_empty()),
        roles: parse_roles(body.get("roles"))?,
        lock: parse_lock(&body)?,
        keep_session: if is_self { admin.session } else { None },
        temporary_password: !is_self,
    };
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
    let ctx = state.context();
    if let Some(password) = &change.password {
        check_new_password(password, ctx.config().min_password_length)?;
    }
    if change
        .roles
        .as_ref()
        .is_some_and(|r| !r.iter().any(|x| x == ADMIN_ROLE))
    {
        refuse_removing_the_last_admin(&state, &provider, &name).await?;
    }
    let unlocking = change.lock == LockChange::Unlock;
    let changes = directory
        .update(ctx, &name, change)
        .await?
        .ok_or_else(|| not_found(&name))?;
    if unlocking {
        // An admin unlocking an account also forgives its failed sign-ins.
        ctx.throttle().clear_user_everywhere(&name).await?;
    }
    tracing::info!(user = %printable(&name), by = %printable(&admin.user_name), "user updated");
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
        let mut record = AuditRecord::new(event, &admin.user_name, &name).ip(&facts.client_ip());
        record.detail = detail;
        ctx.audit(record).await;
    }
    Ok(Json(json!({ "success": true, "userName": name })))
}

/// Refuses taking the Admin role from `name` (of `provider`) when no other account would
/// keep it: someone must always be able to manage users.
async fn refuse_removing_the_last_admin(
    state: &AuthState,
    provider: &str,
    name: &str,
) -> Result<()> {
    let mut others = 0;
    let mut is_admin = false;
    for directory in state.directories() {
        for account in directory.list(state.context()).await? {
            if !account.is_admin() {
                continue;
            }
            if directory.provider() == provider && account.user_name == name {
                is_admin = true;
            } else {
                others += 1;
            }
        }
    }
    if is_admin && others == 0 {
        return Err(Error::bad_request(
            "Cannot remove the Admin role of the last Admin",
        ));
    }
    Ok(())
}

/// The query of `DELETE /admin/users/{name}`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    provider: Option<String>,
}

/// `DELETE /admin/users/{name}?provider=...`: removes the account `name` of `provider`
/// (default `credentials`), ends its sessions and removes its avatar.
pub async fn delete_user(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    Path(name): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<Json<Value>> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(Error::bad_request("Username is required"));
    }
    let provider = requested_provider(query.provider);
    let directory = state.directory(&provider)?;
    if name == admin.user_name && provider == admin.provider {
        return Err(Error::bad_request("Cannot delete your own account"));
    }
    let ctx = state.context();
    if !directory.remove(ctx, &name).await? {
        return Err(not_found(&name));
    }
    // The account's keys go with it (they stopped working the moment it went).
    let (ring, owner, provider_name) = (ctx.keys().clone(), name.clone(), provider.clone());
    let removed_keys = tokio::task::spawn_blocking(move || {
        ring.store()
            .update(|keys| Ok(remove_keys_of(keys, &owner, &provider_name)))
    })
    .await??;
    // The avatar goes with the name, unless another account still holds that name (two
    // providers' accounts of one name, from before names were one namespace).
    if state.account_named(&name).await?.is_none() {
        ctx.avatar_store().remove(&name).await;
    }
    tracing::info!(user = %printable(&name), by = %printable(&admin.user_name), "user deleted");
    let mut record =
        AuditRecord::new(AuditEvent::UserDeleted, &admin.user_name, &name).ip(&facts.client_ip());
    if !removed_keys.is_empty() {
        record = record.detail(format!("API keys removed: {}", removed_keys.join(", ")));
    }
    ctx.audit(record).await;
    Ok(Json(json!({ "success": true, "userName": name })))
}

/// `POST /admin/users/{name}/reset-link`: a one-time link for the password account
/// `name` to choose a new password with ([`credentials::create_reset_link`]). The answer
/// carries the link's path (`/reset#TOKEN`, the page makes it whole with its own origin)
/// and is the only place the token is ever shown.
pub async fn create_reset_link(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let ctx = state.context();
    let token =
        credentials::create_reset_link(ctx, &name, &admin.user_name, Some(&facts.client_ip()))
            .await?;
    Ok(Json(json!({
        "success": true,
        "userName": name,
        "link": token.link(""),
        "expiresIn": credentials::RESET_LINK_LIFETIME as u64,
    })))
}
