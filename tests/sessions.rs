//! Your sessions (SPEC 12): the signed-in user's live sessions listed by a public id (never
//! the token), ended one by one or all but this one, and any account's for an Admin; on
//! every store.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{assert_error, request, token_of, Reply, Store, TestApp};
use llms_auth::audit::AuditEvent;
use serde_json::{json, Value};

store_suite!(
    your_sessions_are_listed_by_an_id_that_is_no_token,
    your_sessions_end_one_by_one,
    signing_out_everywhere_else_keeps_this_session,
    an_admin_sees_and_ends_anyones_sessions,
    sessions_are_not_managed_while_authentication_is_off,
    only_an_admin_ends_sessions_and_only_of_what_exists,
);

/// What a malformed session id is told.
const BAD_ID: &str = "A session id is 16 lowercase hexadecimal characters.";

/// `method path` without a body, with the session cookie pair when given.
async fn send(app: &TestApp, method: Method, path: &str, cookie: Option<&str>) -> Reply {
    app.send(request(method, path, cookie).body(Body::empty()).unwrap())
        .await
}

async fn delete(app: &TestApp, path: &str, cookie: &str) -> Reply {
    send(app, Method::DELETE, path, Some(cookie)).await
}

/// The `session_revoked` records of the audit log, oldest first: `(actor, target, detail)`.
fn revocations(app: &TestApp) -> Vec<(String, String, String)> {
    app.audit()
        .into_iter()
        .filter(|r| r.event == AuditEvent::SessionRevoked)
        .map(|r| (r.actor, r.target, r.detail.unwrap_or_default()))
        .collect()
}

/// `(actor, target, detail)` of a `session_revoked` record.
fn revoked(actor: &str, target: &str, detail: &str) -> (String, String, String) {
    (actor.to_owned(), target.to_owned(), detail.to_owned())
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
    assert_error(&reply, StatusCode::NOT_FOUND, "Error", "No such session");
    assert!(app.is_signed_in(&bob).await);
    for bad in [
        "xyz",
        "0123456789abcdeF",
        "0123456789abcdef0",
        "0123456789abcde",
    ] {
        let reply = delete(&app, &format!("/account/sessions/{bad}"), &laptop).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", BAD_ID);
    }
    // A path of more than one segment is no session's route at all.
    let reply = delete(&app, "/account/sessions/../users", &laptop).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    let reply = delete(&app, "/account/sessions/0000000000000000", &laptop).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "Error", "No such session");
    // Ended from the laptop: the phone is signed out on its next request.
    let reply = delete(&app, &format!("/account/sessions/{phone_id}"), &laptop).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!app.is_signed_in(&phone).await);
    assert!(app.is_signed_in(&laptop).await);
    assert_eq!(listed(&app, &laptop).await.len(), 1);
    // The one that ended is audited; the refusals wrote nothing.
    assert_eq!(
        revocations(&app),
        [revoked("alice", "alice", &format!("session {phone_id}"))]
    );
}

async fn signing_out_everywhere_else_keeps_this_session(store: Store) {
    let app = TestApp::with_users(store).await;
    let others = [
        app.sign_in("alice", "pw-alice").await,
        app.sign_in("alice", "pw-alice").await,
    ];
    let here = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    // Nobody signed in: nothing to keep, nothing ended.
    let reply = send(&app, Method::POST, "/account/sessions/revoke-others", None).await;
    assert_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Authentication required",
    );
    assert!(app.is_signed_in(&others[0]).await);
    let reply = send(
        &app,
        Method::POST,
        "/account/sessions/revoke-others",
        Some(&here),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "success": true, "ended": 2 }));
    assert_eq!(
        revocations(&app),
        [revoked("alice", "alice", "every other session (2)")]
    );
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
    // Both are audited as the Admin's doing, on alice.
    assert_eq!(
        revocations(&app),
        [
            revoked("admin", "alice", &format!("session {newest}")),
            revoked("admin", "alice", "every session (1)"),
        ]
    );
}

async fn sessions_are_not_managed_while_authentication_is_off(store: Store) {
    // No users: every request is the default user's, who has no sessions.
    let app = TestApp::new(store).await;
    let off = "Authentication is off: there are no sessions to manage";
    for (method, path) in [
        (Method::GET, "/account/sessions"),
        (Method::DELETE, "/account/sessions/0000000000000000"),
        (Method::POST, "/account/sessions/revoke-others"),
    ] {
        let reply = send(&app, method, path, None).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", off);
    }
    assert!(revocations(&app).is_empty());
}

async fn only_an_admin_ends_sessions_and_only_of_what_exists(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let alice_id = id_of(&app, &alice).await;
    let bob_id = id_of(&app, &bob).await;
    // Not for a non-Admin, not even of their own account.
    for path in [
        "/admin/users/bob/sessions".to_owned(),
        format!("/admin/users/bob/sessions/{bob_id}"),
        "/admin/users/alice/sessions".to_owned(),
        format!("/admin/users/alice/sessions/{alice_id}"),
    ] {
        let reply = delete(&app, &path, &alice).await;
        assert_error(
            &reply,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Admin role required",
        );
    }
    // An account nobody holds.
    for path in [
        "/admin/users/nobody/sessions",
        "/admin/users/nobody/sessions/0000000000000000",
    ] {
        let reply = delete(&app, path, &admin).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "Error", "User not found");
    }
    // An id none of bob's sessions has: made up, or another account's.
    for id in ["0000000000000000", alice_id.as_str()] {
        let reply = delete(&app, &format!("/admin/users/bob/sessions/{id}"), &admin).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "Error", "No such session");
    }
    for bad in ["xyz", "0123456789ABCDEF", "0123456789abcdef0"] {
        let reply = delete(&app, &format!("/admin/users/bob/sessions/{bad}"), &admin).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", BAD_ID);
    }
    // Nothing ended, nothing audited.
    for cookie in [&admin, &alice, &bob] {
        assert!(app.is_signed_in(cookie).await);
    }
    assert!(revocations(&app).is_empty(), "{:?}", app.audit());
}
