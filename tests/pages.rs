//! The pages and the users-table fragment, in process, for the users they are meant for.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use llms_auth::users::User;
use llms_auth::{AuthState, Config, ProviderRegistry};

/// A state with an admin and a plain user, and a session cookie for each.
async fn state_with_users(home: &std::path::Path) -> (AuthState, String, String) {
    let state = AuthState::new(Config::new(home), &ProviderRegistry::builtin())
        .await
        .expect("state");
    state
        .context()
        .update_users(|_, users| {
            users.insert("admin".into(), User::new("x".into(), vec!["Admin".into()]));
            users.insert("bob".into(), User::new("x".into(), vec![]));
            Ok(())
        })
        .await
        .expect("users");
    let cookie = |name: &str| {
        let token = state
            .context()
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
    let response = llms_auth::server::app(state.clone())
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
