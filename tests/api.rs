//! Every HTTP route and error case, in process: the real app (`llms_auth::app`) on
//! a temporary home, driven with `tower::ServiceExt::oneshot`, once per store.

mod common;

use std::net::IpAddr;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{
    assert_error, avatar_upload, forwarded, json_request, login_request, random_token, request,
    sha256_hash, token_of, Home, Reply, Store, TestApp,
};
use llms_auth::password::HashScheme;
use serde_json::{json, Value};

/// The exact cookie attributes the spec asks for.
const COOKIE_ATTRIBUTES: &str = "; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000";

// ---------------------------------------------------------------------------------------
// /config, /auth/login, /auth/logout, /auth

async fn config_says_whether_auth_is_required(store: Store) {
    let app = TestApp::new(store).await;
    let reply = app.get("/config", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({ "requiresAuth": false, "authProvider": "credentials", "authProviders": ["credentials"] })
    );

    let app = TestApp::with_users(store).await;
    let reply = app.get("/config", None).await;
    assert_eq!(
        reply.json(),
        json!({ "requiresAuth": true, "authProvider": "credentials", "authProviders": ["credentials"] })
    );
}

async fn sign_in_sets_the_exact_cookie_and_keeps_the_token_out_of_the_body(store: Store) {
    let app = TestApp::with_users(store).await;
    let reply = app.login("alice", "pw-alice").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let set_cookie = reply.header("set-cookie").unwrap().to_owned();
    let token = set_cookie
        .strip_prefix("llms-token=")
        .and_then(|rest| rest.strip_suffix(COOKIE_ATTRIBUTES))
        .unwrap_or_else(|| panic!("unexpected cookie: {set_cookie}"));
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        reply.json(),
        json!({
            "userId": "alice",
            "userName": "alice",
            "displayName": "alice",
            "profileUrl": "/avatar/user",
            "roles": [],
        })
    );
    assert!(!reply.text().contains(token), "token in the body");

    // The session is kept by the token's hash and holds no roles.
    let record = app.stored_session(token).await.expect("the stored session");
    assert_eq!(record["userName"], "alice");
    assert_eq!(record["clientIp"], "127.0.0.1");
    assert!(record.get("roles").is_none(), "roles are never copied");
    assert!(!app.home.session_files().iter().any(|f| f.contains(token)));

    // Sign-in time and address are recorded in the store.
    let alice = &app.users_json()["alice"];
    assert_eq!(alice["lastIp"], "127.0.0.1");
    assert!(alice["lastLogin"].is_f64());
}

async fn every_sign_in_issues_a_new_token(store: Store) {
    let app = TestApp::with_users(store).await;
    let first = app.sign_in("alice", "pw-alice").await;
    let second = app.sign_in("alice", "pw-alice").await;
    assert_ne!(first, second);
    assert!(app.is_signed_in(&first).await && app.is_signed_in(&second).await);
}

async fn sign_in_without_username_or_password_is_400(store: Store) {
    let app = TestApp::with_users(store).await;
    for body in [
        json!({}),
        json!({ "username": "alice" }),
        json!({ "password": "pw-alice" }),
        json!({ "username": "   ", "password": "pw-alice" }),
        json!({ "username": "alice", "password": "" }),
    ] {
        let reply = app
            .json(Method::POST, "/auth/login", None, body.clone())
            .await;
        assert_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "Error",
            "Username and password are required",
        );
    }
    let reply = app
        .send(
            request(Method::POST, "/auth/login", None)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

async fn unknown_user_and_wrong_password_get_the_same_401(store: Store) {
    let app = TestApp::with_users(store).await;
    let unknown = app.login("nobody", "pw-alice").await;
    let wrong = app.login("alice", "not-her-password").await;
    for reply in [&unknown, &wrong] {
        assert_error(
            reply,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Invalid username or password",
        );
        assert!(reply.session_cookie().is_none());
    }
    assert_eq!(unknown.body, wrong.body);
    assert_eq!(app.stored_sessions().await, 0);
}

async fn a_locked_account_hears_its_reason_only_after_the_right_password(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let reply = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "bob", "locked": "On vacation until March" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let wrong = app.login("bob", "guess").await;
    assert_error(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Invalid username or password",
    );
    assert!(!wrong.text().contains("vacation"));
    let right = app.login("bob", "pw-bob").await;
    assert_error(
        &right,
        StatusCode::FORBIDDEN,
        "Forbidden",
        "On vacation until March",
    );
    assert!(right.session_cookie().is_none());
}

async fn sign_out_ends_the_session_and_clears_the_cookie(store: Store) {
    let app = TestApp::with_users(store).await;
    let cookie = app.sign_in("alice", "pw-alice").await;
    assert!(app.stored_session(token_of(&cookie)).await.is_some());

    let reply = app
        .send(
            request(Method::POST, "/auth/logout", Some(&cookie))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({ "success": true }));
    let cleared = reply.header("set-cookie").unwrap();
    assert!(cleared.starts_with("llms-token=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(app.stored_session(token_of(&cookie)).await.is_none());
    assert!(!app.is_signed_in(&cookie).await);

    // Signing out without a session is harmless.
    let reply = app
        .send(
            request(Method::POST, "/auth/logout", None)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn auth_shows_the_signed_in_user_or_401(store: Store) {
    let app = TestApp::with_users(store).await;
    let cookie = app.sign_in("admin", "pw-admin").await;
    let reply = app.get("/auth", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        json!({
            "userId": "admin",
            "userName": "admin",
            "displayName": "admin",
            "profileUrl": "/avatar/user",
            "roles": ["Admin"],
            "authProvider": "credentials",
            "twoFactor": false,
        })
    );

    let reply = app.get("/auth", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({ "responseStatus": { "errorCode": "Unauthorized", "message": "Authentication required" } })
    );
}

async fn malformed_and_forged_tokens_reach_nothing(store: Store) {
    let app = TestApp::with_users(store).await;
    let real = app.sign_in("admin", "pw-admin").await;
    // A stored session for an account that does not exist, and one from another provider.
    let ghost = app.forge_session("mallory", "credentials").await;
    let foreign = app.forge_session("admin", "github_auth").await;
    let mut cookies = vec![
        "llms-token=../users".to_owned(),
        "llms-token=../../credentials/users".to_owned(),
        format!("llms-token={}x", token_of(&real)),
        ghost.clone(),
        foreign.clone(),
    ];
    if store == Store::Files {
        // The session file's own name, and the reference's layout: a file named by the
        // token itself.
        let file_name = app.home.session_files().pop().unwrap();
        cookies.push(format!(
            "llms-token={}",
            file_name.trim_end_matches(".json")
        ));
        let reference_token = random_token();
        std::fs::write(
            app.home
                .sessions_dir()
                .join(format!("{reference_token}.json")),
            json!({ "userId": "admin", "userName": "admin", "roles": ["Admin"], "created": 1.0e10 })
                .to_string(),
        )
        .unwrap();
        cookies.push(format!("llms-token={reference_token}"));
    }

    for cookie in cookies {
        for path in ["/auth", "/admin/users", "/avatar/user", "/"] {
            let reply = app.get(path, Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{cookie} {path}");
        }
    }
    assert!(app.stored_session(token_of(&ghost)).await.is_none());
    assert!(app.is_signed_in(&real).await);
}

// ---------------------------------------------------------------------------------------
// /admin/users

async fn admin_list_shows_accounts_without_hashes(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let reply = app.get("/admin/users", Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let users = body["users"].as_array().unwrap();
    let names: Vec<_> = users
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "admin2", "alice", "bob"]);
    let admin_row = &users[0];
    assert_eq!(admin_row["roles"], json!(["Admin"]));
    assert_eq!(admin_row["locked"], Value::Null);
    assert_eq!(admin_row["lastIp"], "127.0.0.1");
    assert!(admin_row["lastLogin"].is_f64() && admin_row["created"].is_f64());
    assert_eq!(users[3]["lastLogin"], Value::Null);
    let text = reply.text();
    assert!(!text.contains("password") && !text.contains(&sha256_hash("pw-bob")));
}

async fn admin_routes_refuse_non_admins_and_strangers(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let before = app.users_json();
    let attempts = [
        (Method::GET, "/admin/users", Value::Null),
        (
            Method::POST,
            "/admin/users",
            json!({ "userName": "eve", "password": "pw", "roles": ["Admin"] }),
        ),
        (
            Method::PUT,
            "/admin/users",
            json!({ "userName": "alice", "roles": ["Admin"] }),
        ),
        (Method::DELETE, "/admin/users/bob", Value::Null),
    ];
    for (method, path, body) in attempts {
        let reply = app
            .json(method.clone(), path, Some(&alice), body.clone())
            .await;
        assert_error(
            &reply,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Admin role required",
        );
        let reply = app.json(method.clone(), path, None, body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(app.users_json(), before, "nothing changed");

    // The Manage Users page likewise; My Account is for everyone signed in.
    assert_eq!(
        app.page("/admin", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.page("/account", Some(&alice)).await.status,
        StatusCode::OK
    );
    let admin = app.sign_in("admin", "pw-admin").await;
    assert_eq!(
        app.page("/admin", Some(&admin)).await.status,
        StatusCode::OK
    );
}

async fn admin_creates_users_who_can_sign_in(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "carol", "password": "pw-carol", "roles": ["Admin"] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({ "success": true, "userName": "carol", "roles": ["Admin"], "signInRequired": false })
    );
    let carol = &app.users_json()["carol"];
    assert_eq!(carol["roles"], json!(["Admin"]));
    assert!(carol.get("locked").is_none());
    app.sign_in("carol", "pw-carol").await;

    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "dave", "password": "pw-dave-1" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(app.users_json()["dave"]["roles"], json!([]));
}

async fn admin_create_refuses_bad_input(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let before = app.users_json();
    let cases = [
        (
            json!({ "userName": "alice", "password": "pw-long-enough" }),
            "User 'alice' already exists",
        ),
        (
            json!({ "password": "pw-long-enough" }),
            "Username is required",
        ),
        (json!({ "userName": "erin" }), "Password is required"),
        // New passwords have at least 8 characters (LLMS_MIN_PASSWORD_LENGTH).
        (
            json!({ "userName": "erin", "password": "seven77" }),
            "Password is too short: use at least 8 characters.",
        ),
        (
            json!({ "userName": "erin", "password": "pw-long-enough", "roles": "Admin" }),
            "roles must be an array of role names",
        ),
        (
            json!({ "userName": "erin", "password": "pw-long-enough", "roles": [1] }),
            "roles must be an array of role names",
        ),
        (
            json!({ "userName": "erin", "password": "pw-long-enough", "roles": [["Admin"]] }),
            "roles must be an array of role names",
        ),
    ];
    for (body, message) in cases {
        let reply = app
            .json(Method::POST, "/admin/users", Some(&admin), body.clone())
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", message);
    }
    for name in ["../x", "a b", ".hidden", "-x", "a/b", &"a".repeat(65)] {
        let reply = app
            .json(
                Method::POST,
                "/admin/users",
                Some(&admin),
                json!({ "userName": name, "password": "pw-long-enough" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            reply.message().starts_with("Invalid username"),
            "{}",
            reply.text()
        );
    }
    assert_eq!(app.users_json(), before, "nothing changed");
}

async fn admin_resets_a_password_and_the_old_sessions_end(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let reply = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "alice", "password": "new-alice" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({ "success": true, "userName": "alice" })
    );
    assert!(!app.is_signed_in(&alice).await);
    assert!(app.is_signed_in(&bob).await && app.is_signed_in(&admin).await);
    assert_eq!(
        app.login("alice", "pw-alice").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.sign_in("alice", "new-alice").await;
}

async fn admin_locks_and_unlocks(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let put = |body: Value| app.json(Method::PUT, "/admin/users", Some(&admin), body);

    let reply = put(json!({ "userName": "alice", "locked": true })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.users_json()["alice"]["locked"], "Account suspended");
    assert!(
        !app.is_signed_in(&alice).await,
        "ends on the very next request"
    );
    assert!(app.stored_session(token_of(&alice)).await.is_none());

    let reply = put(json!({ "userName": "alice", "locked": false })).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(app.users_json()["alice"].get("locked").is_none());

    put(json!({ "userName": "alice", "locked": "Left the team" })).await;
    assert_eq!(app.users_json()["alice"]["locked"], "Left the team");
    let reply = put(json!({ "userName": "alice", "locked": null })).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(app.users_json()["alice"].get("locked").is_none());
    app.sign_in("alice", "pw-alice").await;

    let reply = put(json!({ "userName": "alice", "locked": 5 })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

/// A lock reason is shown on terminals (`--listusers`) and pages: one with control
/// characters (an escape sequence, a carriage return) is refused, and so is one over 500
/// characters; nothing changes.
async fn lock_reasons_with_control_characters_or_too_long_are_refused(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let too_long = "x".repeat(501);
    for (reason, message) in [
        (
            "\u{1b}]0;owned\u{7}",
            "Lock reason may not contain control characters.",
        ),
        (
            "fine\r  LOCKED: forged",
            "Lock reason may not contain control characters.",
        ),
        (
            "bidi \u{202e}txt.exe",
            "Lock reason may not contain control characters.",
        ),
        (
            too_long.as_str(),
            "Lock reason is too long (at most 500 characters).",
        ),
    ] {
        let reply = app
            .json(
                Method::PUT,
                "/admin/users",
                Some(&admin),
                json!({ "userName": "alice", "locked": reason }),
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", message);
        assert!(app.users_json()["alice"].get("locked").is_none());
    }
    let fine = "x".repeat(500);
    let reply = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "alice", "locked": fine }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

/// `ADMIN` beside `admin` was two accounts, and `default` (the user of an unauthenticated
/// server) could be created: usernames ignore case, and `default` is reserved.
async fn usernames_ignore_case_and_default_is_reserved(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let create = |name: &'static str| {
        app.json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": name, "password": "pw-long-enough" }),
        )
    };
    for (name, message) in [
        (
            "ADMIN",
            "User 'admin' already exists (usernames ignore case)",
        ),
        (
            "Alice",
            "User 'alice' already exists (usernames ignore case)",
        ),
        ("alice", "User 'alice' already exists"),
        ("default", "The username 'default' is reserved"),
        ("Default", "The username 'Default' is reserved"),
    ] {
        let reply = create(name).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", message);
    }
    let users = app.users_json();
    let names: Vec<&String> = users.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["admin", "admin2", "alice", "bob"],
        "nothing created"
    );
    assert_eq!(create("carol").await.status, StatusCode::OK);
}

async fn admin_update_guards(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let before = app.users_json();
    let cases = [
        (
            json!({ "userName": "admin", "locked": true }),
            StatusCode::BAD_REQUEST,
            "Cannot lock your own account",
        ),
        (
            json!({ "userName": "admin2", "locked": "no reason" }),
            StatusCode::BAD_REQUEST,
            "Cannot lock an Admin user",
        ),
        // Removing the role and locking in one request is still locking an Admin.
        (
            json!({ "userName": "admin2", "roles": [], "locked": true }),
            StatusCode::BAD_REQUEST,
            "Cannot lock an Admin user",
        ),
        // So is granting it and locking at once.
        (
            json!({ "userName": "alice", "roles": ["Admin"], "locked": true }),
            StatusCode::BAD_REQUEST,
            "Cannot lock an Admin user",
        ),
        (
            json!({ "userName": "admin", "roles": [] }),
            StatusCode::BAD_REQUEST,
            "Cannot remove your own Admin role",
        ),
        (
            json!({ "userName": "zed", "roles": [] }),
            StatusCode::NOT_FOUND,
            "User 'zed' not found",
        ),
        (
            json!({ "roles": [] }),
            StatusCode::BAD_REQUEST,
            "Username is required",
        ),
        (
            json!({ "userName": "alice", "roles": "Admin" }),
            StatusCode::BAD_REQUEST,
            "roles must be an array of role names",
        ),
        (
            json!({ "userName": "alice", "roles": [{ "name": "Admin" }] }),
            StatusCode::BAD_REQUEST,
            "roles must be an array of role names",
        ),
    ];
    for (body, status, message) in cases {
        let reply = app
            .json(Method::PUT, "/admin/users", Some(&admin), body.clone())
            .await;
        assert_error(&reply, status, "Error", message);
    }
    assert_eq!(app.users_json(), before, "nothing changed");
}

async fn removing_the_admin_role_takes_effect_on_the_next_request(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let admin2 = app.sign_in("admin2", "pw-admin2").await;
    assert_eq!(
        app.get("/admin/users", Some(&admin2)).await.status,
        StatusCode::OK
    );
    let reply = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "admin2", "roles": [] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.users_json()["admin2"]["roles"], json!([]));
    let reply = app.get("/admin/users", Some(&admin2)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/auth", Some(&admin2)).await.json()["roles"],
        json!([])
    );
}

async fn admin_deletes_users_but_not_itself(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let delete = |path: &'static str| {
        app.send(
            request(Method::DELETE, path, Some(&admin))
                .body(Body::empty())
                .unwrap(),
        )
    };

    let reply = delete("/admin/users/admin").await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Cannot delete your own account",
    );
    let reply = delete("/admin/users/zed").await;
    assert_error(
        &reply,
        StatusCode::NOT_FOUND,
        "Error",
        "User 'zed' not found",
    );

    let reply = delete("/admin/users/bob").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "success": true, "userName": "bob" }));
    assert!(app.users_json().get("bob").is_none());
    assert!(!app.is_signed_in(&bob).await);
    assert!(app.stored_session(token_of(&bob)).await.is_none());
    assert!(app.is_signed_in(&admin).await);
}

// ---------------------------------------------------------------------------------------
// /account/change-password

async fn change_password_checks_the_current_one(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let before = app.users_json();
    let change =
        |body: Value| app.json(Method::POST, "/account/change-password", Some(&alice), body);
    let reply = change(json!({ "currentPassword": "wrong", "newPassword": "new-alice-1" })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Current password is incorrect",
    );
    // A new password shorter than 8 characters is refused before anything is checked.
    let reply = change(json!({ "currentPassword": "pw-alice", "newPassword": "n" })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Password is too short: use at least 8 characters.",
    );
    let reply = change(json!({ "currentPassword": "pw-alice" })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Current password and new password are required",
    );
    assert_eq!(app.users_json(), before);

    let reply = app
        .json(
            Method::POST,
            "/account/change-password",
            None,
            json!({ "currentPassword": "pw-alice", "newPassword": "n" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn a_wrong_current_password_is_audited_without_secrets(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let reply = app
        .json(
            Method::POST,
            "/account/change-password",
            Some(&alice),
            json!({ "currentPassword": "guess-7f3a", "newPassword": "next-9c1e" }),
        )
        .await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Current password is incorrect",
    );

    let log = app.audit_text();
    let events: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "password_change_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    let event = failed[0];
    assert_eq!(event["actor"], "alice");
    assert_eq!(event["target"], "alice");
    assert_eq!(event["ip"], "127.0.0.1");
    assert_eq!(event["result"], "wrong current password");
    assert!(event["time"].as_f64().is_some(), "{event}");
    let hash = app.users_json()["alice"]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    for secret in [
        "guess-7f3a",
        "next-9c1e",
        "pw-alice",
        &hash,
        token_of(&alice),
    ] {
        assert!(!log.contains(secret), "{secret} in the audit log:\n{log}");
    }
    // Nothing else was recorded as changed.
    assert!(
        !events.iter().any(|e| e["event"] == "password_changed"),
        "{log}"
    );
}

async fn change_password_keeps_this_session_and_ends_the_others(store: Store) {
    let app = TestApp::with_users(store).await;
    let here = app.sign_in("alice", "pw-alice").await;
    let elsewhere = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let reply = app
        .json(
            Method::POST,
            "/account/change-password",
            Some(&here),
            json!({ "currentPassword": "pw-alice", "newPassword": "new-alice" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "success": true }));
    assert!(app.is_signed_in(&here).await);
    assert!(!app.is_signed_in(&elsewhere).await);
    assert!(app.is_signed_in(&bob).await);
    assert_eq!(
        app.login("alice", "pw-alice").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.sign_in("alice", "new-alice").await;
}

// ---------------------------------------------------------------------------------------
// /user/avatar and /avatar/user

fn encode(format: image::ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
    });
    let image = match format {
        // JPEG has no alpha channel.
        image::ImageFormat::Jpeg => {
            image::DynamicImage::ImageRgb8(image::DynamicImage::ImageRgba8(pixels).to_rgb8())
        }
        _ => image::DynamicImage::ImageRgba8(pixels),
    };
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

async fn avatars_of_every_accepted_format_are_stored_as_bounded_pngs(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let cases = [
        (image::ImageFormat::Png, "a.png", (600, 300), (256, 128)),
        (image::ImageFormat::Jpeg, "a.jpg", (40, 80), (40, 80)),
        (image::ImageFormat::Gif, "a.gif", (300, 300), (256, 256)),
        (image::ImageFormat::WebP, "a.webp", (64, 32), (64, 32)),
    ];
    for (format, name, (w, h), expected) in cases {
        // The declared type is deliberately wrong: only the content counts.
        let reply = app
            .send(avatar_upload(
                Some(&alice),
                name,
                "application/octet-stream",
                &encode(format, w, h),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{format:?}: {}", reply.text());
        let stored = app.stored_avatar("alice").await.unwrap();
        assert_eq!(
            image::guess_format(&stored).unwrap(),
            image::ImageFormat::Png,
            "{format:?}"
        );
        let decoded = image::load_from_memory(&stored).unwrap();
        assert_eq!((decoded.width(), decoded.height()), expected, "{format:?}");
    }
}

async fn svg_text_and_oversized_avatars_are_refused(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#;
    let reply = app
        .send(avatar_upload(
            Some(&alice),
            "evil.svg",
            "image/svg+xml",
            svg,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let reply = app
        .send(avatar_upload(
            Some(&alice),
            "photo.png",
            "image/png",
            b"just some text, not a picture\n",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());

    // One byte over 2 MiB inside the field; and a body far over the limit.
    let mut big = encode(image::ImageFormat::Png, 8, 8);
    big.resize(2 * 1024 * 1024 + 1, 0);
    let reply = app
        .send(avatar_upload(Some(&alice), "big.png", "image/png", &big))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    big.resize(3 * 1024 * 1024, 0);
    let reply = app
        .send(avatar_upload(Some(&alice), "big.png", "image/png", &big))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );

    let reply = app
        .send(avatar_upload(Some(&alice), "none", "text/plain", b""))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(app.stored_avatar("alice").await.is_none(), "nothing stored");

    let reply = app
        .send(avatar_upload(None, "a.png", "image/png", b"x"))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn avatar_is_generated_until_one_is_uploaded(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let reply = app.get("/avatar/user", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("image/svg+xml"));
    assert!(reply.text().starts_with("<svg"), "{}", reply.text());
    assert!(
        reply.text().contains(">A<"),
        "alice's initial: {}",
        reply.text()
    );

    let png = encode(image::ImageFormat::Png, 16, 16);
    let reply = app
        .send(avatar_upload(Some(&alice), "me.png", "image/png", &png))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.get("/avatar/user", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(
        reply.body.as_ref(),
        app.stored_avatar("alice").await.unwrap()
    );

    // Bob still gets his own generated one.
    let bob = app.sign_in("bob", "pw-bob").await;
    let reply = app.get("/avatar/user", Some(&bob)).await;
    assert_eq!(reply.header("content-type"), Some("image/svg+xml"));
    assert_eq!(
        app.get("/avatar/user", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------------------
// The guard: deny by default, cross-site refusal, content types, sizes, headers.

async fn unknown_paths_need_a_session(store: Store) {
    let app = TestApp::with_users(store).await;
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let reply = app
            .send(
                request(method.clone(), "/no/such/route", None)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method}");
    }
    let cookie = app.sign_in("alice", "pw-alice").await;
    let reply = app.get("/no/such/route", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn a_page_without_a_session_redirects_to_sign_in(store: Store) {
    let app = TestApp::with_users(store).await;
    for (path, location) in [
        ("/", "/login"),
        ("/admin", "/login?next=/admin"),
        (
            "/account?tab=a&b=c",
            "/login?next=/account%3Ftab%3Da%26b%3Dc",
        ),
        ("/no/such/page", "/login?next=/no/such/page"),
    ] {
        let reply = app
            .send(
                request(Method::GET, path, None)
                    .header(header::ACCEPT, "text/html,application/xhtml+xml")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(reply.status.is_redirection(), "{path}: {}", reply.status);
        assert_eq!(reply.location(), location, "{path}");
    }
    // The sign-in page itself is public.
    let reply = app.page("/login", None).await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn next_cannot_send_a_signed_in_user_elsewhere(store: Store) {
    let app = TestApp::with_users(store).await;
    let cookie = app.sign_in("alice", "pw-alice").await;
    for (next, location) in [
        ("/account", "/account"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("%2F%2Fevil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ] {
        let encoded = next.replace('\\', "%5C");
        let reply = app
            .get(&format!("/login?next={encoded}"), Some(&cookie))
            .await;
        assert!(reply.status.is_redirection(), "{next}: {}", reply.status);
        assert_eq!(reply.location(), location, "{next}");
    }
}

async fn cross_site_state_changes_are_refused(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let create = json!({ "userName": "eve", "password": "pw-eve-long", "roles": ["Admin"] });
    let foreign = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://evil.example"),
        ("origin", "null"),
        // The review's finding: the scheme was ignored. This server is http:// on port
        // 8000; the same host over https://, or on another port, is another site.
        ("origin", "https://127.0.0.1:8000"),
        ("origin", "http://127.0.0.1"),
        ("origin", "http://127.0.0.1:8001"),
    ];
    for (name, value) in foreign {
        let mut req = json_request(Method::POST, "/admin/users", Some(&admin), &create);
        req.headers_mut()
            .insert(header::HOST, "127.0.0.1:8000".parse().unwrap());
        req.headers_mut().insert(name, value.parse().unwrap());
        let reply = app.send(req).await;
        assert_error(
            &reply,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Cross-site request refused",
        );

        let mut req = json_request(
            Method::POST,
            "/auth/login",
            None,
            &json!({ "username": "alice", "password": "pw-alice" }),
        );
        req.headers_mut()
            .insert(header::HOST, "127.0.0.1:8000".parse().unwrap());
        req.headers_mut().insert(name, value.parse().unwrap());
        let reply = app.send(req).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(reply.session_cookie().is_none());
    }
    assert!(app.users_json().get("eve").is_none());

    // Changes and deletions too.
    let mut req = json_request(
        Method::PUT,
        "/admin/users",
        Some(&admin),
        &json!({ "userName": "alice", "locked": true }),
    );
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);
    let mut req = request(Method::DELETE, "/admin/users/bob", Some(&admin))
        .body(Body::empty())
        .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);
    let users = app.users_json();
    assert!(users["alice"].get("locked").is_none() && users.get("bob").is_some());

    // The server's own origin and same-origin fetches pass.
    let mut req = json_request(Method::POST, "/admin/users", Some(&admin), &create);
    req.headers_mut()
        .insert(header::HOST, "127.0.0.1:8000".parse().unwrap());
    req.headers_mut()
        .insert("origin", "http://127.0.0.1:8000".parse().unwrap());
    req.headers_mut()
        .insert("sec-fetch-site", "same-origin".parse().unwrap());
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn json_routes_require_the_json_content_type(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let cases = [
        (
            "/auth/login",
            None,
            json!({ "username": "alice", "password": "pw-alice" }),
        ),
        (
            "/admin/users",
            Some(admin.as_str()),
            json!({ "userName": "eve", "password": "pw" }),
        ),
        (
            "/account/change-password",
            Some(admin.as_str()),
            json!({ "currentPassword": "pw-admin", "newPassword": "x" }),
        ),
    ];
    for (path, cookie, body) in cases {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut builder = request(Method::POST, path, cookie);
            if let Some(content_type) = content_type {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            let reply = app
                .send(builder.body(Body::from(body.to_string())).unwrap())
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}"
            );
            assert_eq!(reply.error().0, "Error");
        }
    }
    assert!(app.users_json().get("eve").is_none());

    // A charset parameter is still JSON.
    let reply = app
        .send(
            request(Method::POST, "/auth/login", None)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Body::from(
                    json!({ "username": "alice", "password": "pw-alice" }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn oversized_json_is_413(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let padding = "x".repeat(70 * 1024);
    let reply = app
        .json(
            Method::POST,
            "/auth/login",
            None,
            json!({ "username": "alice", "password": "pw-alice", "pad": padding }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.session_cookie().is_none());
    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "eve", "password": padding }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.users_json().get("eve").is_none());
}

async fn auth_responses_are_not_sniffed_or_cached(store: Store) {
    let app = TestApp::with_users(store).await;
    let ok = app.login("alice", "pw-alice").await;
    let cookie = ok.session_cookie().unwrap();
    let replies = [
        ok,
        app.login("alice", "wrong").await,
        app.get("/auth", Some(&cookie)).await,
        app.get("/auth", None).await,
        app.get("/config", None).await,
        app.get("/avatar/user", Some(&cookie)).await,
    ];
    for reply in &replies {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
}

// ---------------------------------------------------------------------------------------
// Proxies: X-Forwarded-For and X-Forwarded-Proto are believed only from trusted peers.

async fn sign_in_via(app: &TestApp, headers: &[(&str, &str)]) -> Reply {
    let mut req = json_request(
        Method::POST,
        "/auth/login",
        None,
        &json!({ "username": "alice", "password": "pw-alice" }),
    );
    for (name, value) in headers {
        req.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    app.send(req).await
}

fn proxied_home() -> Home {
    let home = Home::new();
    home.write_users(&[("alice", "pw-alice", &[])]);
    home
}

async fn forwarded_headers_from_an_untrusted_peer_are_ignored(store: Store) {
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    let app = TestApp::builder(store)
        .home(proxied_home())
        .peer(peer)
        .build()
        .await;
    let reply = sign_in_via(
        &app,
        &[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.ends_with(COOKIE_ATTRIBUTES), "no Secure: {cookie}");
    assert_eq!(app.users_json()["alice"]["lastIp"], "10.0.0.9");
    let token = token_of(reply.session_cookie().as_deref().unwrap()).to_owned();
    let record = app
        .stored_session(&token)
        .await
        .expect("the stored session");
    assert_eq!(record["clientIp"], "10.0.0.9");
}

async fn forwarded_headers_from_a_trusted_proxy_are_believed(store: Store) {
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    let app = TestApp::builder(store)
        .home(proxied_home())
        .peer(peer)
        .config(|config| config.trusted_proxies = vec!["10.0.0.9".parse().unwrap()])
        .build()
        .await;
    let reply = sign_in_via(
        &app,
        &[
            ("x-forwarded-for", "203.0.113.7, 10.0.0.9"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let cookie = reply.header("set-cookie").unwrap();
    assert!(
        cookie.split("; ").any(|attribute| attribute == "Secure"),
        "{cookie}"
    );
    assert_eq!(app.users_json()["alice"]["lastIp"], "203.0.113.7");

    // Plain HTTP through the same proxy: no Secure.
    let reply = sign_in_via(&app, &[("x-forwarded-proto", "http")]).await;
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.ends_with(COOKIE_ATTRIBUTES), "{cookie}");
    assert_eq!(app.users_json()["alice"]["lastIp"], "10.0.0.9");
}

/// An app behind the trusted proxies `proxies`, the first of which is the socket peer.
async fn behind_proxies(store: Store, proxies: &[&str]) -> TestApp {
    let proxies: Vec<IpAddr> = proxies.iter().map(|p| p.parse().unwrap()).collect();
    TestApp::builder(store)
        .home(proxied_home())
        .peer(proxies[0])
        .config(move |config| config.trusted_proxies = proxies)
        .build()
        .await
}

/// Signs alice in through the proxy with this `X-Forwarded-For` and returns her `lastIp`.
async fn last_ip_via(app: &TestApp, forwarded_for: &str) -> Value {
    let reply = sign_in_via(app, &[("x-forwarded-for", forwarded_for)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    app.users_json()["alice"]["lastIp"].clone()
}

async fn the_client_is_read_from_the_right_end_of_x_forwarded_for(store: Store) {
    let app = behind_proxies(store, &["10.0.0.9"]).await;
    // The proxy appended the address it saw; what the client wrote before it is ignored.
    assert_eq!(
        last_ip_via(&app, "6.6.6.6, 203.0.113.7").await,
        "203.0.113.7"
    );
    assert_eq!(
        last_ip_via(&app, "6.6.6.6,203.0.113.8").await,
        "203.0.113.8"
    );
    // Two trusted proxies in a row: the first entry from the right that is neither.
    let app = behind_proxies(store, &["10.0.0.9", "10.0.0.8"]).await;
    assert_eq!(
        last_ip_via(&app, "6.6.6.6, 203.0.113.7, 10.0.0.8").await,
        "203.0.113.7"
    );
    // An untrusted hop in the middle is as far as belief goes.
    assert_eq!(
        last_ip_via(&app, "203.0.113.7, 198.51.100.1, 10.0.0.8").await,
        "198.51.100.1"
    );
}

async fn a_client_claiming_a_victims_address_cannot_get_it_blocked(store: Store) {
    let app = behind_proxies(store, &["10.0.0.9"]).await;
    // The attacker (really 198.51.100.66) names the victim's address as the first entry.
    for i in 0..3 {
        let reply = app
            .send(forwarded_login(
                &format!("nobody{i}"),
                "203.0.113.7, 198.51.100.66",
            ))
            .await;
        assert!(
            matches!(
                reply.status,
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            reply.text()
        );
    }
    assert_eq!(
        app.send(forwarded_login("nobody9", "198.51.100.66"))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's own address is the one counted"
    );
    // The victim is not held up.
    assert_eq!(last_ip_via(&app, "203.0.113.7").await, "203.0.113.7");
}

/// A wrong sign-in for `user` through the proxy with this `X-Forwarded-For`.
fn forwarded_login(user: &str, forwarded_for: &str) -> Request<Body> {
    forwarded(login_request(user, "wrong"), forwarded_for)
}

async fn an_unparsable_forwarded_address_is_not_the_proxys_own(store: Store) {
    let app = behind_proxies(store, &["10.0.0.9"]).await;
    // Failures whose client cannot be told are counted together, and throttled...
    let mut statuses = Vec::new();
    for i in 0..3 {
        statuses.push(
            app.send(forwarded_login(&format!("nobody{i}"), "not-an-address"))
                .await
                .status,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(
        app.send(forwarded_login("nobody9", "6.6.6.6, garbage"))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...but not against the proxy's own address, nor anyone else behind it.
    let reply = sign_in_via(&app, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.users_json()["alice"]["lastIp"], "10.0.0.9");
    assert_eq!(last_ip_via(&app, "203.0.113.7").await, "203.0.113.7");
    // Nor is a guess recorded for the client: the record names the proxy that passed it.
    let app = behind_proxies(store, &["10.0.0.9"]).await;
    assert_eq!(
        last_ip_via(&app, "203.0.113.7, garbage").await,
        "unknown (via 10.0.0.9)"
    );
}

async fn the_public_host_named_by_a_trusted_proxy_is_same_site(store: Store) {
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    // The proxy terminates TLS and says so: the browser's origin is https://, the
    // forwarded host, the default port.
    let headers = [
        ("host", "127.0.0.1:8000"),
        ("origin", "https://llms.example.org"),
        ("x-forwarded-host", "llms.example.org"),
        ("x-forwarded-proto", "https"),
    ];
    // From a trusted proxy: the browser's origin is the forwarded host.
    let trusted = TestApp::builder(store)
        .home(proxied_home())
        .peer(peer)
        .config(|config| config.trusted_proxies = vec!["10.0.0.9".parse().unwrap()])
        .build()
        .await;
    assert_eq!(sign_in_via(&trusted, &headers).await.status, StatusCode::OK);
    // Another origin through the same proxy is still cross-site.
    let other = [
        ("host", "127.0.0.1:8000"),
        ("origin", "https://evil.example"),
        ("x-forwarded-host", "llms.example.org"),
        ("x-forwarded-proto", "https"),
    ];
    assert_eq!(
        sign_in_via(&trusted, &other).await.status,
        StatusCode::FORBIDDEN
    );
    // The right host over the other scheme, or on another port, is another site too.
    for (origin, proto) in [
        ("http://llms.example.org", "https"),
        ("https://llms.example.org", "http"),
        ("https://llms.example.org:8443", "https"),
    ] {
        let headers = [
            ("host", "127.0.0.1:8000"),
            ("origin", origin),
            ("x-forwarded-host", "llms.example.org"),
            ("x-forwarded-proto", proto),
        ];
        assert_eq!(
            sign_in_via(&trusted, &headers).await.status,
            StatusCode::FORBIDDEN,
            "{origin} through {proto}"
        );
    }
    // From anyone else, X-Forwarded-Host is not believed.
    let untrusted = TestApp::builder(store)
        .home(proxied_home())
        .peer(peer)
        .build()
        .await;
    assert_eq!(
        sign_in_via(&untrusted, &headers).await.status,
        StatusCode::FORBIDDEN
    );
}

// ---------------------------------------------------------------------------------------
// Authentication off: the `none` provider, and `credentials` with no users.

async fn the_none_provider_lets_everyone_in_as_default(store: Store) {
    let home = Home::new();
    home.write_users(&[("alice", "pw-alice", &[])]);
    let app = TestApp::builder(store)
        .home(home)
        .config(|config| config.auth = "none".into())
        .build()
        .await;
    assert_eq!(
        app.get("/config", None).await.json(),
        json!({ "requiresAuth": false, "authProvider": "none", "authProviders": ["none"] })
    );
    let reply = app.get("/auth", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let me = reply.json();
    assert_eq!(me["userName"], "default");
    assert_eq!(me["roles"], json!(["Admin"]));
    assert_eq!(me["authProvider"], "none");
    assert_eq!(app.get("/admin/users", None).await.status, StatusCode::OK);
    // Even with users in the store, nothing asks for a password.
    assert_eq!(
        app.get("/no/such/route", None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn credentials_without_users_runs_as_default_until_one_exists(store: Store) {
    let app = TestApp::new(store).await;
    assert_eq!(app.get("/config", None).await.json()["requiresAuth"], false);
    let me = app.get("/auth", None).await.json();
    assert_eq!(me["userName"], "default");
    assert_eq!(me["authProvider"], "credentials");
    let reply = app
        .json(
            Method::POST,
            "/account/change-password",
            None,
            json!({ "currentPassword": "a", "newPassword": "b" }),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "no password to change"
    );

    // The first user switches authentication on for the very next request.
    app.write_users_elsewhere(&json!({
        "admin": { "password_hash": sha256_hash("pw-admin"), "created": 1742034600.25, "roles": ["Admin"] }
    }))
    .await;
    assert_eq!(app.get("/config", None).await.json()["requiresAuth"], true);
    assert_eq!(
        app.get("/auth", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_broken_store_stops_the_state_from_starting(store: Store) {
    let home = Home::new();
    // How a store is broken, and what the refusal must point at, depend on the store.
    let (where_, line) = match store {
        // On the database, the app's home is copied in first: the broken file stops that.
        Store::Files | Store::Postgres => {
            std::fs::create_dir_all(home.users_file().parent().unwrap()).unwrap();
            std::fs::write(home.users_file(), "{\n  \"admin\": nope\n}\n").unwrap();
            ("users.json", "line 2")
        }
    };
    let Err(err) = TestApp::builder(store).home(home).try_build().await else {
        panic!("the app started on a broken store");
    };
    let err = err.to_string();
    assert!(err.contains(where_) && err.contains(line), "{err}");
}

async fn a_legacy_hash_is_upgraded_at_sign_in_unless_sha256_is_asked_for(store: Store) {
    let legacy = sha256_hash("pw-alice");

    let home = Home::new();
    home.write_users(&[("alice", "pw-alice", &[])]);
    let app = TestApp::builder(store)
        .home(home)
        .config(|config| config.hash_scheme = HashScheme::Sha256)
        .build()
        .await;
    app.sign_in("alice", "pw-alice").await;
    assert_eq!(app.users_json()["alice"]["password_hash"], legacy.as_str());

    let home = Home::new();
    home.write_users(&[("alice", "pw-alice", &[])]);
    let app = TestApp::builder(store)
        .home(home)
        .config(|config| config.hash_scheme = HashScheme::Argon2id)
        .build()
        .await;
    app.sign_in("alice", "pw-alice").await;
    let upgraded = app.users_json()["alice"]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(upgraded.starts_with("$argon2id$v=19$"), "{upgraded}");
    assert!(app.login("alice", "wrong").await.status == StatusCode::UNAUTHORIZED);
    app.sign_in("alice", "pw-alice").await;
    assert_eq!(
        app.users_json()["alice"]["password_hash"],
        upgraded.as_str(),
        "upgraded once"
    );
}

async fn public_prefixes_do_not_open_other_routes(store: Store) {
    let app = TestApp::with_users(store).await;
    for path in [
        "/assets/../admin/users",
        "/assets/..%2Fadmin%2Fusers",
        "/assets/%2E%2E/admin/users",
        "/config/",
        "/login/../admin/users",
        "//admin/users",
    ] {
        let reply = app.get(path, None).await;
        assert!(
            reply.status == StatusCode::UNAUTHORIZED || reply.status == StatusCode::NOT_FOUND,
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(!reply.text().contains("alice"), "{path}");
    }
    let reply = app.get("/assets/app.css", None).await;
    assert_eq!(reply.status, StatusCode::OK, "assets are public");
}

async fn an_avatar_just_under_2_mib_is_accepted(store: Store) {
    // Far over the 64 KiB JSON limit: the avatar route has its own.
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let mut seed = 0x9e37_79b9_u32;
    let noise = image::RgbaImage::from_fn(700, 700, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        image::Rgba(seed.to_le_bytes())
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(noise)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let png = png.into_inner();
    assert!(
        png.len() > 1024 * 1024 && png.len() <= 2 * 1024 * 1024,
        "{}",
        png.len()
    );
    let reply = app
        .send(avatar_upload(Some(&alice), "noise.png", "image/png", &png))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let stored = image::load_from_memory(&app.stored_avatar("alice").await.unwrap()).unwrap();
    assert_eq!((stored.width(), stored.height()), (256, 256));
}

store_suite!(
    config_says_whether_auth_is_required,
    the_first_user_made_while_authentication_is_off_is_an_admin,
    admins_make_and_unmake_admins_but_not_themselves,
    a_password_changed_or_account_remade_by_another_program_ends_its_sessions,
    a_hash_upgrade_at_sign_in_keeps_the_other_sessions,
    an_account_keeps_at_most_100_sessions,
    usernames_ignore_case_and_default_is_reserved,
    lock_reasons_with_control_characters_or_too_long_are_refused,
    sign_in_sets_the_exact_cookie_and_keeps_the_token_out_of_the_body,
    every_sign_in_issues_a_new_token,
    sign_in_without_username_or_password_is_400,
    unknown_user_and_wrong_password_get_the_same_401,
    a_locked_account_hears_its_reason_only_after_the_right_password,
    sign_out_ends_the_session_and_clears_the_cookie,
    auth_shows_the_signed_in_user_or_401,
    malformed_and_forged_tokens_reach_nothing,
    admin_list_shows_accounts_without_hashes,
    admin_routes_refuse_non_admins_and_strangers,
    admin_creates_users_who_can_sign_in,
    admin_create_refuses_bad_input,
    admin_resets_a_password_and_the_old_sessions_end,
    admin_locks_and_unlocks,
    admin_update_guards,
    removing_the_admin_role_takes_effect_on_the_next_request,
    admin_deletes_users_but_not_itself,
    change_password_checks_the_current_one,
    a_wrong_current_password_is_audited_without_secrets,
    change_password_keeps_this_session_and_ends_the_others,
    avatars_of_every_accepted_format_are_stored_as_bounded_pngs,
    svg_text_and_oversized_avatars_are_refused,
    avatar_is_generated_until_one_is_uploaded,
    unknown_paths_need_a_session,
    a_page_without_a_session_redirects_to_sign_in,
    next_cannot_send_a_signed_in_user_elsewhere,
    cross_site_state_changes_are_refused,
    json_routes_require_the_json_content_type,
    oversized_json_is_413,
    auth_responses_are_not_sniffed_or_cached,
    forwarded_headers_from_an_untrusted_peer_are_ignored,
    forwarded_headers_from_a_trusted_proxy_are_believed,
    the_client_is_read_from_the_right_end_of_x_forwarded_for,
    a_client_claiming_a_victims_address_cannot_get_it_blocked,
    an_unparsable_forwarded_address_is_not_the_proxys_own,
    the_public_host_named_by_a_trusted_proxy_is_same_site,
    the_none_provider_lets_everyone_in_as_default,
    credentials_without_users_runs_as_default_until_one_exists,
    a_broken_store_stops_the_state_from_starting,
    a_legacy_hash_is_upgraded_at_sign_in_unless_sha256_is_asked_for,
    public_prefixes_do_not_open_other_routes,
    an_avatar_just_under_2_mib_is_accepted,
    a_deleted_accounts_avatar_goes_with_it,
);

/// The review's finding: sessions survived a password change or re-creation made by
/// another program (llms.py's own CLI shares users.json; an editor). A session is bound to
/// its account's password hash and created time.
async fn a_password_changed_or_account_remade_by_another_program_ends_its_sessions(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    // llms.py sets a new password for alice: only her session ends.
    let mut users = app.users_json();
    users["alice"]["password_hash"] = json!(sha256_hash("pw-alice-2"));
    app.write_users_elsewhere(&users).await;
    assert!(
        !app.is_signed_in(&alice).await,
        "the old password's session"
    );
    assert!(app.is_signed_in(&bob).await);
    // Removed and made again with the very same password: a new account, its own sessions.
    let alice = app.sign_in("alice", "pw-alice-2").await;
    let mut users = app.users_json();
    users["alice"]["created"] = json!(users["alice"]["created"].as_f64().unwrap() + 60.0);
    app.write_users_elsewhere(&users).await;
    assert!(
        !app.is_signed_in(&alice).await,
        "the removed account's session"
    );
    assert!(app.is_signed_in(&bob).await);
    // Nothing else about the account ends them: a sign-in time recorded elsewhere, say.
    let alice = app.sign_in("alice", "pw-alice-2").await;
    let mut users = app.users_json();
    users["alice"]["lastIp"] = json!("192.0.2.9");
    users["alice"]["theme"] = json!("dark");
    app.write_users_elsewhere(&users).await;
    assert!(app.is_signed_in(&alice).await);
}

/// Signing in with a password stored in llms.py's format replaces the hash with an
/// Argon2id one; that must not end the user's other sessions, which were bound to the old
/// hash.
async fn a_hash_upgrade_at_sign_in_keeps_the_other_sessions(store: Store) {
    let home = Home::new();
    home.write_users(&[("alice", "pw-alice", &[])]);
    let laptop = home.write_session("alice", "credentials", 60.0);
    let app = TestApp::builder(store)
        .home(home)
        .config(|c| c.hash_scheme = HashScheme::Argon2id)
        .build()
        .await;
    assert!(app.is_signed_in(&laptop).await);
    let phone = app.sign_in("alice", "pw-alice").await;
    let stored = app.users_json()["alice"]["password_hash"].clone();
    assert!(
        stored.as_str().unwrap().starts_with("$argon2id$"),
        "{stored}"
    );
    assert!(app.is_signed_in(&laptop).await, "kept across the upgrade");
    assert!(app.is_signed_in(&phone).await);
}

/// The review's finding: 400 sign-ins made 400 session files. An account keeps at most
/// 100 live sessions; the 101st sign-in ends the oldest.
async fn an_account_keeps_at_most_100_sessions(store: Store) {
    let app = TestApp::with_users(store).await;
    let first = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let mut cookies = Vec::new();
    for _ in 1..100 {
        cookies.push(app.sign_in("alice", "pw-alice").await);
    }
    assert!(app.is_signed_in(&first).await, "100 sessions: all live");
    let newest = app.sign_in("alice", "pw-alice").await;
    assert!(!app.is_signed_in(&first).await, "the oldest ended");
    assert!(app.stored_session(token_of(&first)).await.is_none());
    assert!(app.is_signed_in(&newest).await);
    assert!(
        app.is_signed_in(&cookies[0]).await,
        "the second oldest stays"
    );
    assert!(
        app.is_signed_in(&bob).await,
        "another account's session stays"
    );
    assert_eq!(app.stored_sessions().await, 101, "alice's 100 and bob's");
}

/// Ending an account's sessions (a lock, a delete, a new password) reads that account's
/// own sessions, not the whole session folder: a file there that cannot even be read (a
/// FIFO, which blocks whoever opens it) does not stand in the way. (The folder's own
/// hazard: the database has no such file.)
#[tokio::test]
async fn ending_an_accounts_sessions_reads_only_its_own() {
    let app = TestApp::with_users(Store::Files).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let fifo = app
        .home
        .sessions_dir()
        .join(format!("{}.json", "ab".repeat(32)));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let lock = app.json(
        Method::PUT,
        "/admin/users",
        Some(&admin),
        json!({ "userName": "alice", "locked": "Away" }),
    );
    let reply = tokio::time::timeout(std::time::Duration::from_secs(10), lock)
        .await
        .expect("the lock did not wait on the rest of the folder");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!app.is_signed_in(&alice).await);
    assert!(app.is_signed_in(&admin).await);
}

/// The first-time user's finding: with an empty store, Create User (Admin unchecked)
/// bounced to Sign In and the new user got "Access denied"; nobody could manage users.
/// The first user is an Admin, and the answer says that signing in is required now.
async fn the_first_user_made_while_authentication_is_off_is_an_admin(store: Store) {
    let app = TestApp::new(store).await;
    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            None,
            json!({ "userName": "owner", "password": "owner-password", "roles": [] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({ "success": true, "userName": "owner", "roles": ["Admin"], "signInRequired": true })
    );
    assert_eq!(app.users_json()["owner"]["roles"], json!(["Admin"]));
    let owner = app.sign_in("owner", "owner-password").await;
    assert_eq!(
        app.get("/admin/users", Some(&owner)).await.status,
        StatusCode::OK
    );
    // The second user is what the form says.
    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&owner),
            json!({ "userName": "bob", "password": "bob-password", "roles": [] }),
        )
        .await;
    assert_eq!(reply.json()["roles"], json!([]));
    assert_eq!(reply.json()["signInRequired"], false);
}

/// Manage Users makes and unmakes Admins: never one's own role.
async fn admins_make_and_unmake_admins_but_not_themselves(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let put = |body: Value| app.json(Method::PUT, "/admin/users", Some(&admin), body);
    let reply = put(json!({ "userName": "bob", "roles": ["Admin"] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        app.get("/admin/users", Some(&bob)).await.status,
        StatusCode::OK
    );
    let reply = put(json!({ "userName": "bob", "roles": [] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        app.get("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN,
        "the role is read live"
    );
    let reply = put(json!({ "userName": "admin", "roles": [] })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Cannot remove your own Admin role",
    );
    // admin2, an Admin too, may take admin's role; then admin2 is the last, and keeps it.
    let admin2 = app.sign_in("admin2", "pw-admin2").await;
    let reply = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin2),
            json!({ "userName": "admin", "roles": [] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.users_json()["admin"]["roles"], json!([]));
    assert_eq!(app.users_json()["admin2"]["roles"], json!(["Admin"]));
}

/// The first-time user's finding: with users.json corrupted while the server runs, every
/// page, /login included, showed `{"responseStatus":...}`. A browser gets a page that says
/// what is wrong and what to do; an API client keeps the JSON.
#[tokio::test]
async fn a_browser_gets_a_page_for_an_error_and_an_api_client_json() {
    let app = TestApp::with_users(Store::Files).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    std::fs::write(app.home.users_file(), "{\n  \"admin\": {,\n}").unwrap();
    std::thread::sleep(common::EDIT_SEEN_WITHIN);
    for (path, cookie) in [
        ("/login", None),
        ("/admin", Some(admin.as_str())),
        ("/", None),
    ] {
        let page = app.page(path, cookie).await;
        assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let html = page.text();
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}: {html}");
        assert!(!html.contains("responseStatus"), "{path}: {html}");
        assert!(html.contains("users.json"), "{path}: {html}");
        assert!(html.contains("line 2, column"), "{path}: {html}");
        assert!(
            html.contains("fix the file or move it away"),
            "{path}: {html}"
        );
        // The file's name, not where it lives.
        assert!(
            !html.contains(app.home.path().to_str().unwrap()),
            "{path}: {html}"
        );
    }
    let api = app.get("/admin/users", Some(&admin)).await;
    assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        api.json()["responseStatus"]["message"],
        "Internal server error"
    );
    // Other refusals of a page request are pages too: a malformed query, say.
    let page = app.page("/login?next=/a&next=/b", None).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.text().contains("data-testid=\"error-page\""),
        "{}",
        page.text()
    );
}

/// A later account of the same name must not inherit the picture: deleting an account
/// removes its avatar, wherever avatars are kept.
async fn a_deleted_accounts_avatar_goes_with_it(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let png = encode(image::ImageFormat::Png, 20, 20);
    let reply = app
        .send(avatar_upload(Some(&bob), "a.png", "image/png", &png))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(app.stored_avatar("bob").await.is_some());
    let reply = app
        .send(
            request(Method::DELETE, "/admin/users/bob", Some(&admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(app.stored_avatar("bob").await.is_none(), "the avatar went");
    // Made again: the generated picture, not the old one.
    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "bob", "password": "pw-bob-again", "roles": [] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let bob = app.sign_in("bob", "pw-bob-again").await;
    // An account an Admin made chooses its own password first.
    let own = json!({ "currentPassword": "pw-bob-again", "newPassword": "bobs-own-pw" });
    let reply = app
        .json(Method::POST, "/account/change-password", Some(&bob), own)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let avatar = app.get("/avatar/user", Some(&bob)).await;
    assert_eq!(avatar.header("content-type"), Some("image/svg+xml"));
}
