//! Account security over the API (SPEC 12), on every store: reset links, the password an
//! Admin chose that its owner must change, and two-factor sign-in with its codes, its
//! recovery codes, its throttle and the ways to turn it off.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::fake_github::{settings, FakeGithub};
use common::totp::{current_totp, next_totp, totp_at, turn_on};
use common::{assert_error, now_secs, request, Reply, Store, TestApp};
use llms_auth::providers::github_auth::GithubAuthProvider;
use serde_json::{json, Value};

store_suite!(
    a_reset_link_sets_the_password_ends_sessions_and_works_once,
    only_the_newest_reset_link_works,
    unknown_expired_and_malformed_tokens_get_one_answer,
    reset_links_are_for_admins_and_unlocked_password_accounts,
    wrong_reset_tokens_are_throttled,
    an_account_an_admin_made_must_choose_its_own_password,
    a_password_an_admin_gives_must_be_changed_but_not_their_own,
    two_factor_turns_on_with_a_code_and_then_asks_for_one,
    a_code_signs_in_once_even_when_sent_many_times_at_once,
    recovery_codes_sign_in_once_each,
    codes_of_the_wrong_shape_are_refused_before_any_check,
    wrong_codes_are_throttled_like_wrong_passwords,
    two_factor_turns_off_with_the_password_and_a_code,
    an_admin_turns_two_factor_off,
    confirming_two_factor_needs_a_setup_under_way_and_the_apps_code,
    two_factor_is_only_for_password_accounts,
    a_wrong_code_leaves_two_factor_on,
);

/// The one answer for a reset token that does not work.
const LINK_REFUSED: &str = "This reset link does not work: it was used, replaced by a newer one, or has expired. Ask for a new one.";

/// The users of [`TestApp::with_users`], behind a proxy it trusts: a request says which
/// client it is for with [`common::forwarded`].
async fn behind_proxy(store: Store) -> TestApp {
    TestApp::builder(store)
        .home(common::home_with_users())
        .peer(PROXY)
        .config(|config| config.trusted_proxies = vec![PROXY.into()])
        .build()
        .await
}

const PROXY: [u8; 4] = [10, 0, 0, 1];

async fn delete_json(app: &TestApp, path: &str, cookie: &str, body: Value) -> Reply {
    app.json(Method::DELETE, path, Some(cookie), body).await
}

async fn post_empty(app: &TestApp, path: &str, cookie: &str) -> Reply {
    app.send(
        request(Method::POST, path, Some(cookie))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// An Admin's reset link for `name`: the token of its `/reset#TOKEN`.
async fn reset_token(app: &TestApp, admin: &str, name: &str) -> String {
    let reply = post_empty(app, &format!("/admin/users/{name}/reset-link"), admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["expiresIn"], 1800);
    let link = body["link"].as_str().unwrap();
    let token = link.strip_prefix("/reset#").expect("a link to /reset");
    assert_eq!(token.len(), 43, "{link}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    token.to_owned()
}

async fn use_token(app: &TestApp, token: &str, password: &str) -> Reply {
    let body = json!({ "token": token, "newPassword": password });
    app.json(Method::POST, "/auth/reset", None, body).await
}

fn events(app: &TestApp) -> Vec<(String, String, String)> {
    app.audit()
        .into_iter()
        .map(|r| (r.event.as_str().to_owned(), r.actor, r.target))
        .collect()
}

fn has_event(app: &TestApp, event: &str, actor: &str, target: &str) -> bool {
    events(app).contains(&(event.to_owned(), actor.to_owned(), target.to_owned()))
}

async fn a_reset_link_sets_the_password_ends_sessions_and_works_once(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let token = reset_token(&app, &admin, "alice").await;
    // Only its digest is kept.
    let stored = app.users_json()["alice"]["resetLink"].clone();
    assert!(stored["hash"].as_str().unwrap().len() == 64, "{stored}");
    assert!(!app.users_json().to_string().contains(&token));
    assert!(app.is_signed_in(&alice).await, "making a link ends nothing");

    let reply = use_token(&app, &token, "a-new-secret-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["userName"], "alice");
    assert!(
        reply.session_cookie().is_none(),
        "using a link signs nobody in"
    );
    assert!(!app.is_signed_in(&alice).await, "the user's sessions ended");
    assert!(app.is_signed_in(&admin).await, "others' sessions did not");
    assert_eq!(
        app.login("alice", "pw-alice").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.sign_in("alice", "a-new-secret-1").await;
    assert!(
        app.users_json()["alice"].get("resetLink").is_none(),
        "spent"
    );

    // Once only.
    let again = use_token(&app, &token, "another-secret-2").await;
    assert_error(&again, StatusCode::BAD_REQUEST, "Error", LINK_REFUSED);
    // (Two failures from this address now, the old password and the spent link: a wait.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.sign_in("alice", "a-new-secret-1").await;

    assert!(has_event(&app, "reset_link_created", "admin", "alice"));
    assert!(has_event(&app, "password_reset", "alice", "alice"));
    assert!(
        !app.audit_text().contains(&token),
        "the token is never logged"
    );
}

async fn only_the_newest_reset_link_works(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let first = reset_token(&app, &admin, "bob").await;
    let second = reset_token(&app, &admin, "bob").await;
    assert_ne!(first, second);
    let reply = use_token(&app, &first, "first-link-pw").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", LINK_REFUSED);
    let reply = use_token(&app, &second, "second-link-pw").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    app.sign_in("bob", "second-link-pw").await;
}

async fn unknown_expired_and_malformed_tokens_get_one_answer(store: Store) {
    let app = behind_proxy(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let token = reset_token(&app, &admin, "alice").await;
    // The password is checked first: a refused password spends nothing.
    let reply = use_token(&app, &token, "").await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "New password is required",
    );
    let reply = use_token(&app, &token, "short").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.message().starts_with("Password is too short"),
        "{}",
        reply.text()
    );

    // Expired: the stored link's time is past (as if 31 minutes went by).
    let mut users = app.users_json();
    users["alice"]["resetLink"]["expires"] = json!(now_secs() - 60.0);
    app.write_users_elsewhere(&users).await;
    let unknown = common::random_token();
    let wrong_shapes = [
        String::new(),
        "short".to_owned(),
        format!("{token}x"),
        token[..42].to_owned(),
        format!("{}=", &token[..42]),
        format!("{}!", &token[..42]),
        format!("{}é", &token[..41]),
        "a".repeat(10_000),
        unknown,
    ];
    for (i, bad) in std::iter::once(token.clone())
        .chain(wrong_shapes)
        .enumerate()
    {
        // A fresh address each time: this test is about the answer, not the throttle.
        let body = json!({ "token": bad, "newPassword": "fine-password-9" });
        let request = common::forwarded(
            common::json_request(Method::POST, "/auth/reset", None, &body),
            &format!("203.0.113.{}", i + 1),
        );
        let reply = app.send(request).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", LINK_REFUSED);
    }
    let reply = app
        .json(
            Method::POST,
            "/auth/reset",
            None,
            json!({ "token": 5, "newPassword": "x" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    app.sign_in("alice", "pw-alice").await;
    assert!(
        app.users_json()["alice"].get("resetLink").is_none(),
        "an expired link is spent"
    );
}

async fn reset_links_are_for_admins_and_unlocked_password_accounts(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let reply = post_empty(&app, "/admin/users/bob/reset-link", &alice).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let reply = post_empty(&app, "/admin/users/nobody/reset-link", &admin).await;
    assert_error(
        &reply,
        StatusCode::NOT_FOUND,
        "Error",
        "User 'nobody' not found",
    );

    // A link made before a lock does not let the locked user back in.
    let token = reset_token(&app, &admin, "bob").await;
    let lock = json!({ "userName": "bob", "locked": "Left the team" });
    let reply = app
        .json(Method::PUT, "/admin/users", Some(&admin), lock)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = use_token(&app, &token, "bobs-new-password").await;
    assert_error(&reply, StatusCode::FORBIDDEN, "Forbidden", "Left the team");
    let reply = post_empty(&app, "/admin/users/bob/reset-link", &admin).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "User 'bob' is locked: unlock the account before making a reset link",
    );
    let unlock = json!({ "userName": "bob", "locked": false });
    app.json(Method::PUT, "/admin/users", Some(&admin), unlock)
        .await;
    // The old link was kept through the lock (it was refused, not spent), and works now.
    let reply = use_token(&app, &token, "bobs-new-password").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn wrong_reset_tokens_are_throttled(store: Store) {
    let app = behind_proxy(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let token = reset_token(&app, &admin, "alice").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reply = use_token(&app, &common::random_token(), "fine-password-9").await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [400, 400, 429], "after two failures, a wait");
    // Even the right token waits: the throttle comes before any lookup.
    let reply = use_token(&app, &token, "fine-password-9").await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text()
    );
    assert!(reply.header("retry-after").is_some());
    // Another address is not held up.
    let body = json!({ "token": token, "newPassword": "fine-password-9" });
    let request = common::forwarded(
        common::json_request(Method::POST, "/auth/reset", None, &body),
        "198.51.100.7",
    );
    assert_eq!(app.send(request).await.status, StatusCode::OK);
}

async fn an_account_an_admin_made_must_choose_its_own_password(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let carol = json!({ "userName": "carol", "password": "given-by-admin" });
    let reply = app
        .json(Method::POST, "/admin/users", Some(&admin), carol)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.users_json()["carol"]["mustChangePassword"], true);

    let reply = app.login("carol", "given-by-admin").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["mustChangePassword"], true);
    let carol = reply.session_cookie().unwrap();
    let me = app.get("/auth", Some(&carol)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["mustChangePassword"], true);
    for (method, path) in [
        (Method::GET, "/account/keys"),
        (Method::GET, "/account/sessions"),
        (Method::POST, "/account/keys"),
        (Method::POST, "/account/2fa"),
        (Method::GET, "/avatar/user"),
    ] {
        let reply = app
            .json(method.clone(), path, Some(&carol), json!({"name": "k"}))
            .await;
        assert_error(
            &reply,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Password change required",
        );
        assert_eq!(
            reply.json()["responseStatus"]["passwordChangeRequired"],
            true
        );
    }
    // Pages lead to the sign-in page, which asks for the new password.
    let page = app.page("/account", Some(&carol)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text());
    assert_eq!(page.location(), "/login?next=/account");

    // Their own choice, not the one they were given.
    let same = json!({ "currentPassword": "given-by-admin", "newPassword": "given-by-admin" });
    let reply = app
        .json(Method::POST, "/account/change-password", Some(&carol), same)
        .await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Choose a password of your own, not the one you were given",
    );
    let own = json!({ "currentPassword": "given-by-admin", "newPassword": "carols-own-pw" });
    let reply = app
        .json(Method::POST, "/account/change-password", Some(&carol), own)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(app.users_json()["carol"]
        .get("mustChangePassword")
        .is_none());
    assert_eq!(
        app.get("/account/keys", Some(&carol)).await.status,
        StatusCode::OK
    );
    let me = app.get("/auth", Some(&carol)).await.json();
    assert!(me.get("mustChangePassword").is_none(), "{me}");
}

async fn a_password_an_admin_gives_must_be_changed_but_not_their_own(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let key = app.new_key(&alice, "laptop").await;

    let give = json!({ "userName": "alice", "password": "temporary-pw" });
    let reply = app
        .json(Method::PUT, "/admin/users", Some(&admin), give)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.users_json()["alice"]["mustChangePassword"], true);
    let listed = app.get("/admin/users", Some(&admin)).await.json();
    let row = |name: &str| {
        listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["userName"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("alice")["mustChangePassword"], true);
    assert_eq!(row("bob")["mustChangePassword"], false);
    // An API key of the account waits too: only who it is may be asked.
    assert_eq!(
        app.with_key(Method::GET, "/auth", &key).await.status,
        StatusCode::OK
    );
    let models = app.with_key(Method::GET, "/v1/models", &key).await;
    assert_eq!(models.status, StatusCode::FORBIDDEN, "{}", models.text());

    // An Admin's own new password is their own choice.
    let own = json!({ "userName": "admin", "password": "admins-new-pw" });
    let reply = app
        .json(Method::PUT, "/admin/users", Some(&admin), own)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(app.users_json()["admin"]
        .get("mustChangePassword")
        .is_none());
    assert_eq!(
        app.get("/admin/users", Some(&admin)).await.status,
        StatusCode::OK
    );

    // The first user, made while authentication is off, is the owner's own account.
    let fresh = TestApp::new(store).await;
    let first = json!({ "userName": "owner", "password": "owners-password" });
    let reply = fresh.json(Method::POST, "/admin/users", None, first).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(fresh.users_json()["owner"]
        .get("mustChangePassword")
        .is_none());
}

async fn login_with_code(app: &TestApp, user: &str, password: &str, code: &str) -> Reply {
    let body = json!({ "username": user, "password": password, "code": code });
    app.json(Method::POST, "/auth/login", None, body).await
}

const CODE_NEEDED: &str = "Enter the code from your authenticator app, or a recovery code";

/// What starting to set up two-factor sign-in while it is on says.
const ALREADY_ON: &str = "Two-factor sign-in is already on: turn it off first to set up a new app";

async fn confirm(app: &TestApp, cookie: Option<&str>, body: Value) -> Reply {
    app.json(Method::POST, "/account/2fa/confirm", cookie, body)
        .await
}

/// Whether the store holds `name`'s two-factor sign-in as on (confirmed).
fn two_factor_on(app: &TestApp, name: &str) -> bool {
    app.users_json()[name]["twoFactor"]["confirmed"].is_f64()
}

async fn two_factor_turns_on_with_a_code_and_then_asks_for_one(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    assert_eq!(
        app.get("/auth", Some(&alice)).await.json()["twoFactor"],
        false
    );
    let reply = post_empty(&app, "/account/2fa", &alice).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits of base32: {secret}");
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    let url = body["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/llms:alice?"), "{url}");
    assert!(
        url.contains(&format!("secret={secret}")) && url.contains("issuer=llms"),
        "{url}"
    );
    let svg = body["qrSvg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "an SVG");
    // Pending: signing in asks for nothing yet.
    app.sign_in("alice", "pw-alice").await;
    assert_eq!(
        app.get("/auth", Some(&alice)).await.json()["twoFactor"],
        false
    );

    let wrong = app
        .json(
            Method::POST,
            "/account/2fa/confirm",
            Some(&alice),
            json!({ "code": "000000" }),
        )
        .await;
    let wrong_code = totp_at(secret, now_secs()) == "000000";
    if !wrong_code {
        assert_error(
            &wrong,
            StatusCode::BAD_REQUEST,
            "Error",
            "That code is not right: enter the one your app shows now",
        );
    }
    let reply = app
        .json(
            Method::POST,
            "/account/2fa/confirm",
            Some(&alice),
            json!({ "code": current_totp(secret) }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let codes = reply.json()["recoveryCodes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    let stored = app.users_json()["alice"]["twoFactor"].clone();
    assert!(stored["confirmed"].is_f64(), "{stored}");
    assert_eq!(stored["recoveryCodes"].as_array().unwrap().len(), 10);
    for code in &codes {
        let code = code.as_str().unwrap();
        assert_eq!(code.len(), 11, "xxxxx-xxxxx: {code}");
        assert!(
            !stored.to_string().contains(&code.replace('-', "")),
            "kept hashed"
        );
    }
    assert_eq!(
        app.get("/auth", Some(&alice)).await.json()["twoFactor"],
        true
    );
    // Asked with one of the account's API keys, the answer is the same.
    let key = app.new_key(&alice, "laptop").await;
    assert_eq!(
        app.with_key(Method::GET, "/auth", &key).await.json()["twoFactor"],
        true
    );
    assert!(has_event(&app, "2fa_enabled", "alice", "alice"));
    // Setting up again is refused while it is on.
    let again = post_empty(&app, "/account/2fa", &alice).await;
    assert_error(&again, StatusCode::BAD_REQUEST, "Error", ALREADY_ON);

    // The password alone is not enough now, and makes no session.
    let reply = app.login("alice", "pw-alice").await;
    assert_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "TwoFactorRequired",
        CODE_NEEDED,
    );
    assert!(reply.session_cookie().is_none());
    // A code with a wrong password is a wrong password.
    let reply = login_with_code(&app, "alice", "wrong", &next_totp(secret)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error().0, "Unauthorized");
    // Two failures from this address so far (a wrong code, a wrong password): a wait of
    // a second before the next attempt.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The next step's code (the confirmation used this one's) signs in, once.
    let code = next_totp(secret);
    let reply = login_with_code(&app, "alice", "pw-alice", &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.session_cookie().is_some());
    let replayed = login_with_code(&app, "alice", "pw-alice", &code).await;
    assert_error(
        &replayed,
        StatusCode::UNAUTHORIZED,
        "TwoFactorRequired",
        CODE_NEEDED,
    );
    assert!(replayed.session_cookie().is_none());
    assert!(has_event(&app, "2fa_failed", "alice", "alice"));
    // A code is as typed from an app: spaces are fine.
    assert!(!app.audit_text().contains(&code), "codes are never logged");
}

async fn a_code_signs_in_once_even_when_sent_many_times_at_once(store: Store) {
    let app = behind_proxy(store).await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let (secret, _) = turn_on(&app, &bob).await;
    let code = next_totp(&secret);
    let attempts = (0..6).map(|i| {
        let body = json!({ "username": "bob", "password": "pw-bob", "code": code });
        // From different addresses: the throttle's limit on attempts at once is not what
        // this shows.
        let request = common::forwarded(
            common::json_request(Method::POST, "/auth/login", None, &body),
            &format!("198.51.100.{}", i + 10),
        );
        app.send(request)
    });
    let replies = futures_util::future::join_all(attempts).await;
    let signed_in = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(
        signed_in,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    // The others were refused: the code was spent, or too many were being checked at once.
    assert!(replies.iter().all(|r| r.status == StatusCode::OK
        || ["TwoFactorRequired", "TooManyRequests"].contains(&r.error().0.as_str())));
}

async fn recovery_codes_sign_in_once_each(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let (_, codes) = turn_on(&app, &alice).await;
    // As typed: upper case, without the hyphen, with blanks around.
    let typed = format!("  {}  ", codes[0].to_uppercase().replace('-', ""));
    let reply = login_with_code(&app, "alice", "pw-alice", &typed).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let again = login_with_code(&app, "alice", "pw-alice", &codes[0]).await;
    assert_error(
        &again,
        StatusCode::UNAUTHORIZED,
        "TwoFactorRequired",
        CODE_NEEDED,
    );
    let reply = login_with_code(&app, "alice", "pw-alice", &codes[9]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let left = app.users_json()["alice"]["twoFactor"]["recoveryCodes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(left, 8);
    let used: Vec<_> = app
        .audit()
        .into_iter()
        .filter(|r| r.event.as_str() == "recovery_code_used")
        .map(|r| r.detail.unwrap_or_default())
        .collect();
    assert_eq!(used, ["recovery codes left: 9", "recovery codes left: 8"]);
}

async fn codes_of_the_wrong_shape_are_refused_before_any_check(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    turn_on(&app, &alice).await;
    let message = "The code must be the 6 digits from your authenticator app, or a recovery code";
    for bad in [
        "12345",
        "1234567",
        "12345a",
        "abcdef",
        "１２３４５６",
        "abcde-fghi",
        "abcde-fghijk",
        "0oOl1-abcde",
        &"1".repeat(70),
        "12\u{0}456",
    ] {
        let reply = login_with_code(&app, "alice", "pw-alice", bad).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", message);
        let reply = app
            .json(
                Method::DELETE,
                "/account/2fa",
                Some(&alice),
                json!({ "password": "pw-alice", "code": bad }),
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", message);
    }
    // Nothing was counted: the right code still signs in at once.
    assert!(
        !events(&app).iter().any(|e| e.0 == "2fa_failed"),
        "{:?}",
        app.audit()
    );
    let reply = app
        .json(
            Method::POST,
            "/auth/login",
            None,
            json!({ "username": "alice", "password": "pw-alice", "code": 123456 }),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "a number is not a code: {}",
        reply.text()
    );
}

async fn wrong_codes_are_throttled_like_wrong_passwords(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let (secret, _) = turn_on(&app, &alice).await;
    let right = next_totp(&secret);
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            login_with_code(&app, "alice", "pw-alice", wrong)
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [401, 401, 429],
        "wrong codes count as wrong passwords do"
    );
    // The right code waits too, and a right password does not clear the count.
    let reply = login_with_code(&app, "alice", "pw-alice", &right).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text()
    );
    let failed = events(&app).iter().filter(|e| e.0 == "2fa_failed").count();
    assert_eq!(failed, 2);
    // After the wait, the right code signs in.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let reply = login_with_code(&app, "alice", "pw-alice", &right).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn two_factor_turns_off_with_the_password_and_a_code(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let (secret, codes) = turn_on(&app, &alice).await;
    let reply = delete_json(
        &app,
        "/account/2fa",
        &alice,
        json!({ "password": "pw-alice" }),
    )
    .await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Your password and a code are required",
    );
    let reply = delete_json(
        &app,
        "/account/2fa",
        &alice,
        json!({ "password": "wrong", "code": next_totp(&secret) }),
    )
    .await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Your password is incorrect",
    );
    let reply = delete_json(
        &app,
        "/account/2fa",
        &alice,
        json!({ "password": "pw-alice", "code": codes[3] }),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "a recovery code will do: {}",
        reply.text()
    );
    assert!(app.users_json()["alice"].get("twoFactor").is_none());
    assert!(has_event(&app, "2fa_disabled", "alice", "alice"));
    app.sign_in("alice", "pw-alice").await;
    let reply = delete_json(
        &app,
        "/account/2fa",
        &alice,
        json!({ "password": "pw-alice", "code": "123456" }),
    )
    .await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Two-factor sign-in is not on",
    );
}

async fn an_admin_turns_two_factor_off(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    turn_on(&app, &bob).await;
    let listed = app.get("/admin/users", Some(&admin)).await.json();
    let bob_row = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userName"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob_row["twoFactor"], true);
    let alice = app.sign_in("alice", "pw-alice").await;
    let refused = delete_json(&app, "/admin/users/bob/2fa", &alice, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let reply = app
        .send(
            request(Method::DELETE, "/admin/users/bob/2fa", Some(&admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["wasOn"], true);
    app.sign_in("bob", "pw-bob").await;
    assert!(has_event(&app, "2fa_disabled", "admin", "bob"));
    let reply = app
        .send(
            request(Method::DELETE, "/admin/users/nobody/2fa", Some(&admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // Their own, an Admin turns off as anyone does: with the password and a code.
    turn_on(&app, &admin).await;
    let reply = delete_json(&app, "/admin/users/admin/2fa", &admin, json!({})).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Turn off your own two-factor sign-in on My Account: it asks for your password and a code",
    );
}

async fn confirming_two_factor_needs_a_setup_under_way_and_the_apps_code(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    for body in [json!({}), json!({ "code": "   " })] {
        let reply = confirm(&app, Some(&alice), body).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Error", "Code is required");
    }
    // A code, but no secret it could belong to.
    let reply = confirm(&app, Some(&alice), json!({ "code": "123456" })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Start setting up two-factor sign-in first",
    );
    // Under way: a recovery code (well formed, but there are none yet) does not confirm.
    let reply = post_empty(&app, "/account/2fa", &alice).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = confirm(&app, Some(&alice), json!({ "code": "abcde-fghjk" })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Enter the 6-digit code your authenticator app shows",
    );
    assert!(!two_factor_on(&app, "alice"));
    // On: confirming again is refused, and so is setting up anew.
    let (secret, _) = turn_on(&app, &alice).await;
    let reply = confirm(&app, Some(&alice), json!({ "code": next_totp(&secret) })).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Two-factor sign-in is already on",
    );
    let reply = post_empty(&app, "/account/2fa", &alice).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", ALREADY_ON);
    assert_eq!(
        app.users_json()["alice"]["twoFactor"]["secret"],
        secret.as_str(),
        "the secret in use stays"
    );
    // None of these was a wrong code: nothing was counted.
    assert!(
        !events(&app).iter().any(|e| e.0 == "2fa_failed"),
        "{:?}",
        app.audit()
    );
    let reply = login_with_code(&app, "alice", "pw-alice", &next_totp(&secret)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn two_factor_is_only_for_password_accounts(store: Store) {
    // Authentication off: the default user has no sign-in to protect.
    let app = TestApp::new(store).await;
    let off = "Authentication is off: there is no sign-in to protect";
    let reply = app
        .send(
            request(Method::POST, "/account/2fa", None)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", off);
    let reply = confirm(&app, None, json!({ "code": "123456" })).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", off);
    let body = json!({ "password": "anything", "code": "123456" });
    let reply = app.json(Method::DELETE, "/account/2fa", None, body).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", off);

    // An account of another provider (GitHub's, beside the passwords): its second factor
    // is that provider's business.
    let home = common::home_with_users();
    std::fs::create_dir_all(home.path().join("github_auth")).unwrap();
    std::fs::write(
        home.path().join("github_auth/users.json"),
        json!({ "octo": { "id": 7, "login": "octo", "created": 1742034600.0, "roles": [] } })
            .to_string(),
    )
    .unwrap();
    let fake = FakeGithub::start().await;
    let app = TestApp::builder(store)
        .home(home)
        .config(|c| c.auth = "credentials,github_auth".into())
        .provider(Arc::new(GithubAuthProvider::new(settings(&fake))))
        .build()
        .await;
    let octo = app.forge_session("octo", "github_auth").await;
    let reply = app.get("/auth", Some(&octo)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["userName"], "octo");
    let elsewhere = "Your account signs in with GitHub: its second factor is set there";
    let reply = post_empty(&app, "/account/2fa", &octo).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", elsewhere);
    let reply = confirm(&app, Some(&octo), json!({ "code": "123456" })).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", elsewhere);
    let body = json!({ "password": "anything", "code": "123456" });
    let reply = delete_json(&app, "/account/2fa", &octo, body).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", elsewhere);
}

async fn a_wrong_code_leaves_two_factor_on(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let (secret, _) = turn_on(&app, &alice).await;
    // A code no step within the allowed drift has.
    let near: Vec<String> = [-30.0, 0.0, 30.0]
        .iter()
        .map(|drift| totp_at(&secret, now_secs() + drift))
        .collect();
    let wrong = ["111111", "222222", "333333", "444444"]
        .into_iter()
        .find(|code| !near.iter().any(|n| n == code))
        .unwrap();
    let body = json!({ "password": "pw-alice", "code": wrong });
    let reply = delete_json(&app, "/account/2fa", &alice, body).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "That code is not right",
    );
    assert!(two_factor_on(&app, "alice"));
    assert!(has_event(&app, "2fa_failed", "alice", "alice"));
    assert!(!has_event(&app, "2fa_disabled", "alice", "alice"));
    // The password was right and one failure imposes no wait: the right code turns it off.
    let body = json!({ "password": "pw-alice", "code": next_totp(&secret) });
    let reply = delete_json(&app, "/account/2fa", &alice, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!two_factor_on(&app, "alice"));
}
