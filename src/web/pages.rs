//! The HTML pages of the extension: Sign In (and Choose your password), the reset page,
//! Manage Users, My Account.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;

use crate::error::Result;
use crate::identity::CurrentUser;
use crate::keys::{ApiKey, Keys};
use crate::providers::credentials;
use crate::request::extract::Query;
use crate::request::paths::safe_next;
use crate::state::AuthState;
use crate::time::now_secs;
use crate::users::User;
use crate::views::{self, AccountSection, FirstUser};
use crate::web::extract::AdminUser;

/// The `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Facts every page's header needs.
pub async fn page_context(
    state: &AuthState,
    user: Option<&CurrentUser>,
) -> Result<views::PageContext> {
    let auth_off = !state.requires_auth().await?;
    Ok(views::PageContext {
        user: user.cloned(),
        exposed_without_auth: auth_off && !state.config().loopback_only,
        min_password_length: state.config().min_password_length,
        upstream: state.context().upstream().is_some(),
    })
}

/// `GET /login`. A signed-in user whose password an Admin chose is shown "Choose your
/// password" (every other page leads here until they have); anyone else signed in (or
/// the default user) goes on to `next`.
pub async fn show_sign_in(
    State(state): State<AuthState>,
    Query(query): Query<NextQuery>,
    user: Option<CurrentUser>,
) -> Result<Response> {
    let next = safe_next(query.next.as_deref());
    if let Some(user) = user {
        if user.must_change_password {
            let context = page_context(&state, Some(&user)).await?;
            return Ok(
                views::choose_password_page(&context, &user.user_name, &next).into_response(),
            );
        }
        return Ok(Redirect::to(&next).into_response());
    }
    let providers = state.providers();
    let context = page_context(&state, None).await?;
    let sections: Vec<Markup> = providers
        .iter()
        .filter_map(|p| p.sign_in_section(&next))
        .collect();
    Ok(views::sign_in_page(
        &context,
        &next,
        providers.iter().any(|p| p.uses_password_form()),
        &sections,
    )
    .into_response())
}

/// `GET /reset`: the page of a reset link (`/reset#TOKEN`). Public; the token is in the
/// fragment, which reaches only the page's script, never this handler.
pub async fn show_reset(State(state): State<AuthState>) -> Result<Markup> {
    let context = page_context(&state, None).await?;
    Ok(views::reset_page(&context))
}

/// How many keys each user of `provider` has, by username.
fn key_counts(keys: &Keys, provider: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for key in keys.values().filter(|key| key.provider == provider) {
        *counts.entry(key.user_name.clone()).or_insert(0) += 1;
    }
    counts
}

/// Every directory's accounts, in the order Manage Users shows them, with their key counts.
async fn account_sections(state: &AuthState) -> Result<Vec<AccountSection>> {
    let keys = state.context().keys().keys().await?;
    let mut sections = Vec::new();
    for directory in state.directories() {
        let provider = directory.provider();
        sections.push(AccountSection {
            provider: provider.to_owned(),
            badge: directory.badge().map(str::to_owned),
            has_passwords: directory.has_passwords(),
            accounts: directory.list(state.context()).await?,
            key_counts: key_counts(&keys, provider),
        });
    }
    Ok(sections)
}

/// `GET /admin`.
pub async fn show_admin(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
) -> Result<Markup> {
    let sections = account_sections(&state).await?;
    let context = page_context(&state, Some(&admin)).await?;
    Ok(views::admin_page(
        &context,
        &sections,
        now_secs(),
        first_user(&state, &admin).await?,
    ))
}

/// Whether the user created next is the first (made by the default user while the password
/// store is empty, as `POST /admin/users` decides): an Admin, who switches sign-in on when
/// password sign-in is selected.
async fn first_user(state: &AuthState, admin: &CurrentUser) -> Result<Option<FirstUser>> {
    if !admin.is_default || !state.context().users().await?.is_empty() {
        return Ok(None);
    }
    let turns_sign_in_on = state
        .providers()
        .iter()
        .any(|p| p.name() == credentials::NAME);
    Ok(Some(FirstUser { turns_sign_in_on }))
}

/// `GET /admin/table`: the users table alone (every directory's accounts), which the
/// Manage Users page swaps in after each action so that it shows the stores as they are
/// now.
pub async fn show_admin_table(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
) -> Result<Markup> {
    let sections = account_sections(&state).await?;
    Ok(views::users_table(&sections, &admin.user_name, now_secs()))
}

/// The keys of `user` (id and record), in the store's order: the oldest first.
async fn own_keys(state: &AuthState, user: &CurrentUser) -> Result<Vec<(String, ApiKey)>> {
    if user.is_default {
        return Ok(Vec::new());
    }
    let keys = state.context().keys().keys().await?;
    Ok(keys
        .iter()
        .filter(|(_, key)| key.belongs_to(&user.user_name, &user.provider))
        .map(|(id, key)| (id.clone(), key.clone()))
        .collect())
}

/// `GET /account` (which the page also fetches again to swap in its fresh list of keys).
pub async fn show_account(State(state): State<AuthState>, user: CurrentUser) -> Result<Markup> {
    let context = page_context(&state, Some(&user)).await?;
    let keys = own_keys(&state, &user).await?;
    let sessions = if user.is_default {
        Vec::new()
    } else {
        super::sessions::own_sessions(state.context(), &user).await?
    };
    let two_factor = two_factor_of(&state, &user).await?;
    Ok(views::account_page(
        &context,
        &keys,
        &sessions,
        two_factor,
        now_secs(),
    ))
}

/// Whether signing in asks `user` for a second factor; `None` for an account that has no
/// password here (the default user, a provider's own accounts), which has none.
async fn two_factor_of(state: &AuthState, user: &CurrentUser) -> Result<Option<bool>> {
    if user.is_default || user.provider != credentials::NAME {
        return Ok(None);
    }
    let users = state.context().users().await?;
    Ok(Some(
        users.get(&user.user_name).is_some_and(User::has_two_factor),
    ))
}
