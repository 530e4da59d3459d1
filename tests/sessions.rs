//! Your sessions (SPEC 12): the signed-in user's live sessions listed by a public id (never
//! the token), ended one by one or all but this one, and any account's for an Admin; on
//! every store.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{request, token_of, Reply, Store, TestApp};
use serde_json::{json, Value};

store_suite!(
    your_sessions_are_listed_by_an_id_that_is_no_token,
    your_sessions_end_one_by_one,
    signing_out_everywhere_else_keeps_this_session,
    an_admin_sees_and_ends_anyones_sessions,
);

async fn delete(app: &TestApp, path: &str, cookie: &str) -> Reply {
    app.send(
        request(Method::DELETE, path, Some(cookie))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// The ids of the sessions `cookie` lists, newest first, with which one is current.
async fn listed(app: &TestApp, cookie: &str) -> Vec<(String, bool)> {
    let reply = app.get("/account/sessions", Some(cookie)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["current"] == true))
        .collect()
}

/// The public id of the session `cookie` carries, as listed to its owner.
async fn id_of(app: &TestApp, cookie: &str) -> String {
    listed(app, cookie)
        .await
        .into_iter()
        .find(|(_, current)| *current)
        .expect("the current session is listed")
        .0
}

async fn your_sessions_are_listed_by_an_id_that_is_no_token(store: Store) {
    let app = TestApp::with_users(store).await;
    let first = app.sign_in("alice", "pw-alice").await;
    let second = app.sign_in("alice", "pw-alice").await;
    app.sign_in("bob", "pw-bob").await;
    let reply = app.get("/account/sessions", Some(&second)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sessions = reply.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "alice's own, not bob's: {sessions:?}");
    let newest = &sessions[0];
    assert_eq!(newest["current"], true);
    assert_eq!(sessions[1]["current"], false);
    assert_eq!(newest["ip"], "127.0.0.1");
    assert!(newest["created"].is_f64() && newest["lastSeen"].is_f64());
    assert!(newest.get("userAgent").is_some());
    for session in &sessions {
        let id = session["id"].as_str().unwrap();
        assert_eq!(id.len(), 16);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // The id is no token: it signs nobody in.
        let forged = format!("llms-token={id}");
        assert_eq!(
            app.get("/auth", Some(&forged)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let text = reply.text();
    for cookie in [&first, &second] {
        assert!(!text.contains(token_of(cookie)), "a token in the listing");
    }
    // Nobody signed in: 401.
    assert_eq!(
        app.get("/account/sessions", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn your_sessions_end_one_by_one(store: Store) {
    let app = TestApp::with_users(store).await;
    let laptop = app.sign_in("alice", "pw-alice").await;
    let phone = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let phone_id = id_of(&app, &phone).await;
    let bob_id = id_of(&app, &bob).await;
    // Another account's session is not yours to end, whatever its id.
    let reply = delete(&app, &format!("/account/sessions/{bob_id}"), &laptop).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    assert!(app.is_signed_in(&bob).await);
    for bad in ["xyz", "0123456789abcdeF", "0123456789abcdef0", "../users"] {
        let reply = delete(&app, &format!("/account/sessions/{bad}"), &laptop).await;
        assert!(
            reply.status == StatusCode::BAD_REQUEST || reply.status == StatusCode::NOT_FOUND,
            "{bad}: {}",
            reply.status
        );
    }
    let reply = delete(&app, "/account/sessions/0000000000000000", &laptop).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // Ended from the laptop: the phone is signed out on its next request.
    let reply = delete(&app, &format!("/account/sessions/{phone_id}"), &laptop).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!app.is_signed_in(&phone).await);
    assert!(app.is_signed_in(&laptop).await);
    assert_eq!(listed(&app, &laptop).await.len(), 1);
    let audited = app.audit().into_iter().any(|r| {
        r.event == llms_auth::audit::AuditEvent::SessionRevoked
            && r.detail.as_deref() == Some(&format!("session {phone_id}"))
    });
    assert!(audited, "session_revoked in the audit log");
}

async fn signing_out_everywhere_else_keeps_this_session(store: Store) {
    let app = TestApp::with_users(store).await;
    let others = [
        app.sign_in("alice", "pw-alice").await,
        app.sign_in("alice", "pw-alice").await,
    ];
    let here = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let reply = app
        .send(
            request(Method::POST, "/account/sessions/revoke-others", Some(&here))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "success": true, "ended": 2 }));
    for other in &others {
        assert!(!app.is_signed_in(other).await);
    }
    assert!(app.is_signed_in(&here).await);
    assert!(app.is_signed_in(&bob).await, "another account's stay");
    assert_eq!(listed(&app, &here).await.len(), 1);
}

async fn an_admin_sees_and_ends_anyones_sessions(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = [
        app.sign_in("alice", "pw-alice").await,
        app.sign_in("alice", "pw-alice").await,
    ];
    let reply = app.get("/admin/users/alice/sessions", Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sessions: Vec<Value> = reply.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s["current"] == false));
    // Not for a non-admin, nor for an account nobody holds.
    let refused = app
        .get("/admin/users/admin/sessions", Some(&alice[0]))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let unknown = app.get("/admin/users/nobody/sessions", Some(&admin)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // One ended, then the rest.
    let newest = sessions[0]["id"].as_str().unwrap();
    let reply = delete(
        &app,
        &format!("/admin/users/alice/sessions/{newest}"),
        &admin,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!app.is_signed_in(&alice[1]).await);
    assert!(app.is_signed_in(&alice[0]).await);
    let reply = delete(&app, "/admin/users/alice/sessions", &admin).await;
    assert_eq!(reply.json(), json!({ "success": true, "ended": 1 }));
    assert!(!app.is_signed_in(&alice[0]).await);
    assert!(app.is_signed_in(&admin).await);
}
