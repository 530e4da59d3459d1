//! The HTML pages of the extension: Sign In, Manage Users, My Account.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;

use crate::error::Result;
use crate::extract::AdminUser;
use crate::provider::CurrentUser;
use crate::state::AuthState;
use crate::views;
use crate::web::safe_next;

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
    })
}

/// `GET /login`.
pub async fn show_sign_in(
    State(state): State<AuthState>,
    Query(query): Query<NextQuery>,
    user: Option<CurrentUser>,
) -> Result<Response> {
    let next = safe_next(query.next.as_deref());
    // Already signed in (or authentication is off): nothing to do here.
    if user.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let provider = state.provider();
    let context = page_context(&state, None).await?;
    Ok(views::sign_in_page(
        &context,
        &next,
        provider.uses_password_form(),
        provider.sign_in_section(&next),
    )
    .into_response())
}

/// `GET /admin`.
pub async fn show_admin(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
) -> Result<Markup> {
    let users = state.users().await?;
    let context = page_context(&state, Some(&admin)).await?;
    Ok(views::admin_page(
        &context,
        &users,
        crate::users::now_secs(),
    ))
}

/// `GET /account`.
pub async fn show_account(State(state): State<AuthState>, user: CurrentUser) -> Result<Markup> {
    let context = page_context(&state, Some(&user)).await?;
    Ok(views::account_page(&context))
}
