//! Throttling over HTTP: what a client can and cannot buy with many requests. Over-long
//! usernames, rotating through an IPv6 /64, guessing through the password change, and
//! growing the audit log with throttled attempts. In process, behind a trusted proxy
//! whose `X-Forwarded-For` names the client.

mod common;

use axum::http::{Method, StatusCode};
use common::{forwarded, json_request, Home, Reply, Store, TestApp};
use llms_auth::audit::AuditEvent;
use serde_json::{json, Value};

/// The trusted proxy every request comes through.
const PROXY: [u8; 4] = [10, 0, 0, 9];

/// The app behind [`PROXY`], on a home holding these users (password `pw-<name>`).
async fn app_with_users(store: Store, names: &[&str]) -> TestApp {
    let home = Home::new();
    let passwords: Vec<String> = names.iter().map(|n| format!("pw-{n}")).collect();
    let users: Vec<(&str, &str, &[&str])> = names
        .iter()
        .zip(&passwords)
        .map(|(n, p)| (*n, p.as_str(), &[][..]))
        .collect();
    home.write_users(&users);
    TestApp::builder(store)
        .home(home)
        .peer(PROXY)
        .config(|config| config.trusted_proxies = vec![PROXY.into()])
        .build()
        .await
}

/// `POST path` with a JSON body, through the proxy for `client` (its `X-Forwarded-For`).
async fn post(app: &TestApp, path: &str, client: &str, cookie: Option<&str>, body: Value) -> Reply {
    app.send(forwarded(
        json_request(Method::POST, path, cookie, &body),
        client,
    ))
    .await
}

/// `POST /auth/login` from `client`.
async fn login(app: &TestApp, user: &str, password: &str, client: &str) -> Reply {
    let body = json!({ "username": user, "password": password });
    post(app, "/auth/login", client, None, body).await
}

/// How many audit records of `event` there are.
fn audited(app: &TestApp, event: AuditEvent) -> usize {
    app.audit().iter().filter(|r| r.event == event).count()
}

async fn accounts_with_long_names_sign_in_and_overlong_names_are_refused_unchecked(store: Store) {
    // Hand-written (or llms.py) accounts may have longer names than new ones may.
    let at_limit = "a".repeat(64);
    let over = "b".repeat(65);
    let longest = "c".repeat(256);
    let too_long = "d".repeat(257);
    let app = app_with_users(store, &[&at_limit, &over, &longest, &too_long]).await;
    for (i, name) in [&at_limit, &over, &longest].into_iter().enumerate() {
        let reply = login(
            &app,
            name,
            &format!("pw-{name}"),
            &format!("198.51.100.{}", i + 1),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{} characters", name.len());
        assert_eq!(reply.json()["userName"], name.as_str());
        assert!(reply.session_cookie().is_some());
    }
    // The wrong password of a long-named account is an ordinary failure, audited by name.
    let reply = login(&app, &over, "guess", "198.51.100.9").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.message(), "Invalid username or password");

    // Over 256 bytes: refused at once with a clear message, even the right password of a
    // (hand-written) 257-character account; nothing is checked, counted or audited.
    let client = "198.51.100.20";
    let audited_before = app.audit().len();
    for (name, password) in [
        (too_long.clone(), format!("pw-{too_long}")),
        ("e".repeat(60 * 1024), "x".to_owned()),
        ("é".repeat(129), "x".to_owned()),
    ] {
        let reply = login(&app, &name, &password, client).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{} bytes",
            name.len()
        );
        assert_eq!(reply.message(), "Username is too long (at most 256 bytes).");
    }
    assert_eq!(app.audit().len(), audited_before);

    // Long unknown names are unknown users: the dummy hash, a failure for the address.
    for name in ["f".repeat(65), "g".repeat(256)] {
        let reply = login(&app, &name, "x", client).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.message(), "Invalid username or password");
    }
    let reply = login(&app, "somebody", "x", client).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let failed: Vec<(String, String)> = app
        .audit()
        .into_iter()
        .filter(|r| r.event == AuditEvent::SignInFailed)
        .map(|r| (r.target, r.result))
        .collect();
    let unknown = ("(unknown)".to_owned(), "unknown user".to_owned());
    assert_eq!(
        failed,
        [
            (over.clone(), "wrong password".to_owned()),
            unknown.clone(),
            unknown
        ]
    );
}

async fn rotating_through_one_ipv6_64_buys_no_fresh_attempts(store: Store) {
    let app = app_with_users(store, &["alice"]).await;
    let in_one_64 = [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:ab:cd:ef:1",
    ];
    let statuses: Vec<StatusCode> = wrong_sign_ins_from(&app, &in_one_64).await;
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Another /64 is another client.
    let reply = login(&app, "alice", "pw-alice", "2001:db8:1:3::1").await;
    assert_eq!(reply.status, StatusCode::OK);
    // The recorded address is the client's own, not its prefix.
    assert_eq!(app.users_json()["alice"]["lastIp"], "2001:db8:1:3::1");
}

/// One wrong sign-in for a fresh name from each address, in order.
async fn wrong_sign_ins_from(app: &TestApp, addresses: &[&str]) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for (i, address) in addresses.iter().enumerate() {
        statuses.push(login(app, &format!("nobody{i}"), "x", address).await.status);
    }
    statuses
}

async fn the_password_change_is_throttled_like_sign_in(store: Store) {
    let app = app_with_users(store, &["alice"]).await;
    let client = "198.51.100.7";
    let cookie = login(&app, "alice", "pw-alice", client)
        .await
        .session_cookie()
        .expect("signed in");
    let change = |current: &str| {
        let body = json!({ "currentPassword": current, "newPassword": "new-alice" });
        post(
            &app,
            "/account/change-password",
            client,
            Some(&cookie),
            body,
        )
    };
    for _ in 0..2 {
        let reply = change("guess").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.message(), "Current password is incorrect");
    }
    let reply = change("guess").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        reply.json()["responseStatus"]["errorCode"],
        "TooManyRequests"
    );
    // It says what it is about: wrong passwords, this account's (not "sign-in attempts").
    assert_eq!(
        reply.json()["responseStatus"]["reason"],
        "Too many wrong passwords for this account."
    );
    assert!(
        reply
            .message()
            .starts_with("Too many wrong passwords for this account. Try again in "),
        "{}",
        reply.message()
    );
    let wait: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // The right password is refused too while throttled, without being checked.
    let before = app.users_json();
    let reply = change("pw-alice").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.header("retry-after").is_some());
    assert_eq!(app.users_json(), before);
    // The guesses count for signing in as well: one budget, not two.
    assert_eq!(
        login(&app, "alice", "pw-alice", "192.0.2.1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn throttled_attempts_do_not_grow_the_audit_log_one_line_each(store: Store) {
    let app = app_with_users(store, &["alice"]).await;
    let (mut checked, mut refused) = (0, 0);
    // One account from one address, then many names from another: 1,000 attempts.
    for i in 0..1_000 {
        let (user, client) = if i < 500 {
            ("alice".to_owned(), "198.51.100.1")
        } else {
            (format!("user{i}"), "198.51.100.2")
        };
        match login(&app, &user, "wrong", client).await.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused >= 900, "{refused} refused");
    assert_eq!(audited(&app, AuditEvent::SignInFailed), checked);
    let throttled = audited(&app, AuditEvent::SignInThrottled);
    assert!(
        (1..=checked).contains(&throttled),
        "{throttled} throttled lines for {refused} refusals and {checked} failures"
    );
}

store_suite!(
    accounts_with_long_names_sign_in_and_overlong_names_are_refused_unchecked,
    rotating_through_one_ipv6_64_buys_no_fresh_attempts,
    the_password_change_is_throttled_like_sign_in,
    throttled_attempts_do_not_grow_the_audit_log_one_line_each,
    a_refusal_says_whether_the_account_or_the_address_must_wait,
);

/// A user who never failed, signing in from an address others failed from, was told
/// "Too many failed sign-in attempts" as if it were their account: the refusal says which
/// limit it is, and the wait.
async fn a_refusal_says_whether_the_account_or_the_address_must_wait(store: Store) {
    let app = app_with_users(store, &["alice", "bob"]).await;
    let shared = "203.0.113.50";
    // Someone at the shared address fails for names of their own.
    for status in wrong_sign_ins_from(&app, &[shared, shared, shared]).await {
        assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS);
    }
    let reply = login(&app, "bob", "pw-bob", shared).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        reply.json()["responseStatus"]["reason"],
        "Too many failed sign-ins from your address."
    );
    let wait = reply.json()["responseStatus"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert_eq!(reply.header("retry-after"), Some(wait.to_string().as_str()));
    assert_eq!(
        reply.message(),
        format!(
            "Too many failed sign-ins from your address. Try again in {wait} second{}.",
            if wait == 1 { "" } else { "s" }
        )
    );
    // An account's own failures, from addresses that each failed once: the account's limit.
    for (i, address) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
        let reply = login(&app, "alice", &format!("guess{i}"), address).await;
        assert!(
            reply.status == StatusCode::UNAUTHORIZED
                || reply.status == StatusCode::TOO_MANY_REQUESTS
        );
    }
    let reply = login(&app, "alice", "pw-alice", "192.0.2.9").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        reply.json()["responseStatus"]["reason"],
        "Too many failed sign-ins for this account."
    );
}

/// SPEC 11: failed sign-ins count toward one throttle whichever instance receives them.
/// Two apps on one database (two instances): two failures, one on each, and the third
/// attempt waits on both; a per-instance throttle would let it through on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_on_two_instances_count_toward_one_throttle() {
    let Some(db) = common::postgres::fresh_database().await else {
        return;
    };
    let instance = |home: Home| {
        TestApp::builder(Store::Postgres)
            .home(home)
            .database(db.url())
            .peer(PROXY)
            .config(|config| config.trusted_proxies = vec![PROXY.into()])
            .build()
    };
    let home = Home::new();
    home.write_users(&[("alice", "pw-alice", &[])]);
    let a = instance(home).await;
    let b = instance(Home::new()).await;
    assert_eq!(
        login(&a, "alice", "wrong-1", "203.0.113.7").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&b, "alice", "wrong-2", "203.0.113.7").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Two failures: a second's wait, on either instance, from any address for the name.
    for (app, address) in [
        (&a, "203.0.113.7"),
        (&b, "198.51.100.1"),
        (&a, "198.51.100.2"),
    ] {
        let reply = login(app, "alice", "pw-alice", address).await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.text()
        );
    }
    // The wait over, the right password on B clears the name's counter for A too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        login(&b, "alice", "pw-alice", "198.51.100.1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&a, "alice", "wrong-3", "198.51.100.2").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&a, "alice", "pw-alice", "198.51.100.2").await.status,
        StatusCode::OK
    );
}
