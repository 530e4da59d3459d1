//! The HTML pages of the extension: Sign In, Manage Users, My Account.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;

use crate::error::Result;
use crate::extract::AdminUser;
use crate::provider::CurrentUser;
use crate::state::AuthState;
use crate::views;
use crate::web::extract::Query;
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
    let provider = state.provider();
    let accounts = provider.accounts(&state).await?;
    let context = page_context(&state, Some(&admin)).await?;
    Ok(views::admin_page(
        &context,
        &users,
        views::ProviderAccounts {
            label: provider.label(),
            accounts: &accounts,
        },
        crate::time::now_secs(),
    ))
}

/// `GET /admin/table`: the users table alone (the user store's accounts and the selected
/// provider's own), which the Manage Users page swaps in after each action so that it
/// shows the stores as they are now.
pub async fn show_admin_table(
    State(state): State<AuthState>,
    AdminUser(admin): AdminUser,
) -> Result<Markup> {
    let users = state.users().await?;
    let provider = state.provider();
    let accounts = provider.accounts(&state).await?;
    Ok(views::users_table(
        &users,
        views::ProviderAccounts {
            label: provider.label(),
            accounts: &accounts,
        },
        &admin.user_name,
        crate::time::now_secs(),
    ))
}

/// `GET /account`.
pub async fn show_account(State(state): State<AuthState>, user: CurrentUser) -> Result<Markup> {
    let context = page_context(&state, Some(&user)).await?;
    Ok(views::account_page(&context))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::users::User;
    use crate::{AuthState, Config, ProviderRegistry};

    /// A state with an admin and a plain user, and a session cookie for each.
    async fn state_with_users(home: &std::path::Path) -> (AuthState, String, String) {
        let state = AuthState::new(Config::new(home), &ProviderRegistry::builtin())
            .await
            .expect("state");
        state
            .update_users(|_, users| {
                users.insert("admin".into(), User::new("x".into(), vec!["Admin".into()]));
                users.insert("bob".into(), User::new("x".into(), vec![]));
                Ok(())
            })
            .await
            .expect("users");
        let cookie = |name: &str| {
            let token = state
                .sessions()
                .create(name, "credentials", "127.0.0.1", "test")
                .expect("session");
            format!("llms-token={}", token.expose())
        };
        let (admin, bob) = (cookie("admin"), cookie("bob"));
        (state, admin, bob)
    }

    async fn get(state: &AuthState, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::get(path).header(header::ACCEPT, "text/html");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = crate::server::app(state.clone())
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_users_table_fragment_is_for_admins_only() {
        let home = tempfile::tempdir().expect("temp dir");
        let (state, admin, bob) = state_with_users(home.path()).await;

        let (status, body) = get(&state, "/admin/table", Some(&admin)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("<div class=\"table-wrap\" id=\"users-table\""));
        assert!(body.contains("data-user=\"bob\""));
        assert!(!body.contains("<html"), "a fragment, not a page");

        let (status, body) = get(&state, "/admin/table", Some(&bob)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!body.contains("data-user="));

        let (status, _) = get(&state, "/admin/table", None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }

    #[tokio::test]
    async fn pages_render_for_their_users() {
        let home = tempfile::tempdir().expect("temp dir");
        let (state, admin, bob) = state_with_users(home.path()).await;

        let (status, body) = get(&state, "/admin", Some(&admin)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("id=\"create-user-dialog\""));
        assert!(body.contains("data-testid=\"menu-admin\""));

        let (status, body) = get(&state, "/admin", Some(&bob)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("Access denied"));
        assert!(body.contains("data-testid=\"menu-username\">bob<"));

        let (status, body) = get(&state, "/account", Some(&bob)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("id=\"account-password-dialog\""));
        assert!(body.contains("id=\"avatar-input\""));

        let (status, body) = get(&state, "/login?next=/admin", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("data-next=\"/admin\""));
    }
}
