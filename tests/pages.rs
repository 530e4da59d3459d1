//! The pages and the users-table fragment, in process, for the users they are meant for.

mod common;

use axum::http::StatusCode;
use common::{Home, Store, TestApp};

/// The app with an admin and a plain user, and a session cookie for each.
async fn app_with_users(store: Store) -> (TestApp, String, String) {
    let home = Home::new();
    home.write_users(&[("admin", "pw-admin", &["Admin"]), ("bob", "pw-bob", &[])]);
    let admin = home.write_session("admin", "credentials", 0.0);
    let bob = home.write_session("bob", "credentials", 0.0);
    let app = TestApp::builder(store).home(home).build().await;
    (app, admin, bob)
}

async fn the_users_table_fragment_is_for_admins_only(store: Store) {
    let (app, admin, bob) = app_with_users(store).await;

    let reply = app.page("/admin/table", Some(&admin)).await;
    let body = reply.text();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(body.starts_with("<div class=\"table-wrap\" id=\"users-table\""));
    assert!(body.contains("data-user=\"bob\""));
    assert!(!body.contains("<html"), "a fragment, not a page");

    let reply = app.page("/admin/table", Some(&bob)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!reply.text().contains("data-user="));

    let reply = app.page("/admin/table", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
}

async fn pages_render_for_their_users(store: Store) {
    let (app, admin, bob) = app_with_users(store).await;

    let reply = app.page("/admin", Some(&admin)).await;
    let body = reply.text();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(body.contains("id=\"create-user-dialog\""));
    assert!(body.contains("data-testid=\"menu-admin\""));

    let reply = app.page("/admin", Some(&bob)).await;
    let body = reply.text();
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(body.contains("Access denied"));
    assert!(body.contains("data-testid=\"menu-username\">bob<"));

    let reply = app.page("/account", Some(&bob)).await;
    let body = reply.text();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(body.contains("id=\"account-password-dialog\""));
    assert!(body.contains("id=\"avatar-input\""));

    let reply = app.page("/login?next=/admin", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("data-next=\"/admin\""));
}

store_suite!(
    the_users_table_fragment_is_for_admins_only,
    pages_render_for_their_users,
);
