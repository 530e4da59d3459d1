//! API keys (SPEC 9) over HTTP, in process: made once and kept as their hash, listed,
//! revoked, refused where they do not belong, stopped with their owner.

mod common;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::{now_secs, request, Store, TestApp};
use llms_auth::audit::AuditEvent;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

store_suite!(
    a_key_is_shown_once_and_kept_as_its_hash,
    a_key_signs_in_to_the_gateway_and_auth_and_nowhere_else,
    owners_and_admins_revoke_keys_and_nobody_else,
    admins_list_every_key,
    a_key_stops_with_its_owner,
    an_expired_key_is_refused,
    key_requests_are_checked,
    keys_need_a_user,
    the_last_use_is_recorded,
);

fn keys_json(app: &TestApp) -> Value {
    app.keys_json()
}

fn is_key(text: &str) -> bool {
    text.strip_prefix("sk-llms-").is_some_and(|secret| {
        secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

async fn a_key_is_shown_once_and_kept_as_its_hash(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let before = now_secs();
    let made = app
        .make_key(
            &alice,
            json!({ "name": " laptop ", "expiresDays": 30, "models": ["alpha"], "rpm": 60 }),
        )
        .await;
    let key = made["key"].as_str().unwrap();
    assert!(is_key(key), "{key}");
    let id = made["id"].as_str().unwrap();
    assert!(
        id.len() == 12 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    assert!(!key.contains(id), "the id is not derived from the key");
    let secret = &key["sk-llms-".len()..];
    assert_eq!(
        made["hint"],
        format!("sk-llms-{}…{}", &secret[..4], &secret[39..])
    );
    assert_eq!(made["name"], "laptop");
    assert_eq!(made["models"], json!(["alpha"]));
    assert_eq!(made["rpm"], 60);
    let created = made["created"].as_f64().unwrap();
    assert!(created >= before && created <= now_secs());
    let expires = made["expires"].as_f64().unwrap();
    assert!((expires - created - 30.0 * 86_400.0).abs() < 1.0);

    // At rest: the SHA-256 only (in a private file, on the file store).
    let text = keys_json(&app).to_string();
    assert!(!text.contains(secret), "the key is stored");
    let stored = &keys_json(&app)[id];
    assert_eq!(stored["hash"], hex::encode(Sha256::digest(key.as_bytes())));
    assert_eq!(stored["userName"], "alice");
    if store == Store::Files {
        use std::os::unix::fs::PermissionsExt;
        let file = app.home.path().join("credentials/keys.json");
        assert!(!std::fs::read_to_string(&file).unwrap().contains(secret));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Listed without it, to its owner only.
    let list = app.get("/account/keys", Some(&alice)).await;
    assert_eq!(list.status, StatusCode::OK);
    list.assert_hides(secret);
    let keys = list.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    let listed = &keys[0];
    for field in [
        "id", "name", "hint", "created", "expires", "lastUsed", "models", "rpm",
    ] {
        assert!(listed.get(field).is_some(), "{field} missing: {listed}");
    }
    assert!(listed.get("key").is_none() && listed.get("hash").is_none());
    assert_eq!(listed["lastUsed"], Value::Null);
    let bob = app.sign_in("bob", "pw-bob").await;
    assert_eq!(
        app.get("/account/keys", Some(&bob)).await.json()["keys"],
        json!([])
    );

    // Audited by id, never the key.
    let record = app
        .audit()
        .into_iter()
        .find(|r| r.event == AuditEvent::KeyCreated)
        .expect("key_created audited");
    let line = serde_json::to_string(&record).unwrap();
    assert!(line.contains(id), "{line}");
    assert!(!line.contains(secret), "{line}");
    let audit_log = app.audit_text();
    assert!(!audit_log.contains(secret));
}

async fn a_key_signs_in_to_the_gateway_and_auth_and_nowhere_else(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let made = app.make_key(&admin, json!({ "name": "ci" })).await;
    let key = made["key"].as_str().unwrap();

    let auth = app.with_key(Method::GET, "/auth", key).await;
    assert_eq!(auth.status, StatusCode::OK, "{}", auth.text());
    assert_eq!(auth.json()["userName"], "admin");
    assert!(auth.set_cookies().is_empty(), "a key makes no session");

    // Everything else ignores it: an Admin's key manages neither users nor keys.
    for (method, path) in [
        (Method::GET, "/account/keys"),
        (Method::POST, "/account/keys"),
        (Method::GET, "/admin/keys"),
        (Method::GET, "/admin/users"),
        (Method::DELETE, "/admin/users/alice"),
        (
            Method::DELETE,
            &*format!("/account/keys/{}", made["id"].as_str().unwrap()),
        ),
        (Method::GET, "/auth/sessions"),
    ] {
        let reply = app.with_key(method.clone(), path, key).await;
        assert!(
            matches!(
                reply.status,
                StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{method} {path} with a key: {} {}",
            reply.status,
            reply.text()
        );
        assert_ne!(
            reply.status,
            StatusCode::OK,
            "{method} {path} accepted a key"
        );
    }
    assert!(app.users_json().get("alice").is_some());
    assert_eq!(keys_json(&app).as_object().unwrap().len(), 1);

    // The gateway takes it (and says there is no model server here).
    let models = app.with_key(Method::GET, "/v1/models", key).await;
    assert_eq!(models.status, StatusCode::NOT_FOUND);
    assert_eq!(models.json()["error"]["code"], "not_found");

    // Bad keys, in OpenAI's shape on /v1 and in ours on /auth.
    let wrong = format!("{}x", &key[..key.len() - 1]);
    for bad in [
        wrong.as_str(),
        "sk-llms-short",
        "sk-llms-!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "",
        "ключ",
        made["hint"].as_str().unwrap(),
        &format!("{key}{key}"),
    ] {
        let reply = app.with_key(Method::GET, "/v1/models", bad).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
        let error = &reply.json()["error"];
        assert_eq!(error["type"], "invalid_request_error", "{bad}");
        assert_eq!(error["code"], "invalid_api_key", "{bad}");
        let auth = app.with_key(Method::GET, "/auth", bad).await;
        assert_eq!(auth.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    for header_value in [
        "Basic YWRtaW46cHctYWRtaW4=",
        "Bearer",
        "Bearer  ",
        "sk-llms-x",
    ] {
        let reply = app
            .send(
                request(Method::GET, "/v1/models", None)
                    .header(header::AUTHORIZATION, header_value)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header_value}");
        assert_eq!(reply.json()["error"]["code"], "invalid_api_key");
    }
}

async fn owners_and_admins_revoke_keys_and_nobody_else(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let first = app.make_key(&alice, json!({ "name": "one" })).await;
    let second = app.make_key(&alice, json!({ "name": "two" })).await;
    let path = |made: &Value| format!("/account/keys/{}", made["id"].as_str().unwrap());

    // Someone else's key and no key at all look the same.
    let theirs = app
        .json(Method::DELETE, &path(&first), Some(&bob), json!({}))
        .await;
    let none = app
        .json(
            Method::DELETE,
            "/account/keys/000000000000",
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(
        theirs
            .message()
            .replace(first["id"].as_str().unwrap(), "ID"),
        none.message().replace("000000000000", "ID")
    );
    let key = first["key"].as_str().unwrap();
    assert_eq!(
        app.with_key(Method::GET, "/auth", key).await.status,
        StatusCode::OK
    );

    let own = app
        .json(Method::DELETE, &path(&first), Some(&alice), json!({}))
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
    assert_eq!(own.json(), json!({ "success": true }));
    assert_eq!(
        app.with_key(Method::GET, "/auth", key).await.status,
        StatusCode::UNAUTHORIZED,
        "a revoked key stops at once"
    );
    let by_admin = app
        .json(Method::DELETE, &path(&second), Some(&admin), json!({}))
        .await;
    assert_eq!(by_admin.status, StatusCode::OK);
    assert_eq!(keys_json(&app), json!({}));
    let again = app
        .json(Method::DELETE, &path(&second), Some(&admin), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let removed: Vec<_> = app
        .audit()
        .into_iter()
        .filter(|r| r.event == AuditEvent::KeyRemoved)
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[0]["actor"], "alice");
    assert_eq!(removed[1]["actor"], "admin");
    assert_eq!(removed[1]["target"], "alice");
    let line = removed[0].to_string();
    assert!(line.contains(first["id"].as_str().unwrap()) && !line.contains(key));
}

async fn admins_list_every_key(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let bob = app.sign_in("bob", "pw-bob").await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let made = app.make_key(&alice, json!({ "name": "a" })).await;
    app.make_key(&bob, json!({ "name": "b", "rpm": 5 })).await;

    let refused = app.get("/admin/keys", Some(&alice)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let all = app.get("/admin/keys", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK);
    all.assert_hides(&made["key"].as_str().unwrap()["sk-llms-".len()..]);
    let keys = all.json()["keys"].as_array().unwrap().clone();
    let owners: Vec<_> = keys
        .iter()
        .map(|k| k["userName"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["alice", "bob"]);
    assert_eq!(keys[1]["rpm"], 5);
    assert!(keys
        .iter()
        .all(|k| k.get("key").is_none() && k.get("hash").is_none()));
}

async fn a_key_stops_with_its_owner(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let admin = app.sign_in("admin", "pw-admin").await;
    let key = app.make_key(&alice, json!({ "name": "k" })).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    app.make_key(&alice, json!({ "name": "k2" })).await;
    let bobs = app
        .make_key(&app.sign_in("bob", "pw-bob").await, json!({ "name": "b" }))
        .await;

    let lock = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "alice", "locked": "Unpaid invoice" }),
        )
        .await;
    assert_eq!(lock.status, StatusCode::OK, "{}", lock.text());
    let auth = app.with_key(Method::GET, "/auth", &key).await;
    assert_eq!(auth.status, StatusCode::FORBIDDEN);
    assert!(auth.text().contains("Unpaid invoice"), "{}", auth.text());
    let v1 = app.with_key(Method::GET, "/v1/models", &key).await;
    assert_eq!(v1.status, StatusCode::FORBIDDEN);
    let error = &v1.json()["error"];
    assert_eq!(error["type"], "permission_error");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("Unpaid invoice"));

    let unlock = app
        .json(
            Method::PUT,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "alice", "locked": false }),
        )
        .await;
    assert_eq!(unlock.status, StatusCode::OK);
    assert_eq!(
        app.with_key(Method::GET, "/auth", &key).await.status,
        StatusCode::OK
    );

    let delete = app
        .json(
            Method::DELETE,
            "/admin/users/alice",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(delete.status, StatusCode::OK, "{}", delete.text());
    let auth = app.with_key(Method::GET, "/auth", &key).await;
    assert_eq!(auth.status, StatusCode::UNAUTHORIZED);
    // Deleted with her: only bob's key is left.
    let left: Vec<_> = keys_json(&app)
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(left, [bobs["id"].as_str().unwrap()]);
    let deleted = app
        .audit()
        .into_iter()
        .rev()
        .find(|r| r.event == AuditEvent::UserDeleted)
        .unwrap();
    assert!(serde_json::to_string(&deleted)
        .unwrap()
        .contains("API keys removed"));

    // A new alice does not inherit the key.
    let add = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "alice", "password": "pw-alice-2" }),
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.text());
    assert_eq!(
        app.with_key(Method::GET, "/auth", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn an_expired_key_is_refused(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let made = app
        .make_key(&alice, json!({ "name": "k", "expiresDays": 1 }))
        .await;
    let key = made["key"].as_str().unwrap();
    assert_eq!(
        app.with_key(Method::GET, "/auth", key).await.status,
        StatusCode::OK
    );
    // The server records that use in the file: let it finish before editing the file by
    // hand, as an editor racing the server's own write could lose either change.
    wait_for_last_use(&app, &alice).await;
    let mut keys = keys_json(&app);
    keys[made["id"].as_str().unwrap()]["expires"] = json!(now_secs() - 1.0);
    // Another program edits the file (or another instance the database): seen in time.
    app.write_keys_elsewhere(&keys).await;
    let v1 = app.with_key(Method::GET, "/v1/models", key).await;
    assert_eq!(v1.status, StatusCode::UNAUTHORIZED);
    assert_eq!(v1.json()["error"]["message"], "This API key has expired.");
    assert_eq!(
        app.with_key(Method::GET, "/auth", key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn key_requests_are_checked(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    for (body, message) in [
        (json!({}), "A key needs a name."),
        (json!({ "name": "  " }), "A key needs a name."),
        (
            json!({ "name": "x".repeat(101) }),
            "A key's name has at most 100 characters.",
        ),
        (
            json!({ "name": "a\u{1b}[2Jb" }),
            "A key's name may not contain control characters.",
        ),
        (
            json!({ "name": "k", "expiresDays": 0 }),
            "A key lasts 1 to 3650 days.",
        ),
        (
            json!({ "name": "k", "expiresDays": 3651 }),
            "A key lasts 1 to 3650 days.",
        ),
        (
            json!({ "name": "k", "models": [] }),
            "List the models the key may use, or leave the list out for all.",
        ),
        (
            json!({ "name": "k", "models": ["alpha", " "] }),
            "A model id is blank or not text.",
        ),
        (
            json!({ "name": "k", "rpm": 0 }),
            "A key's requests per minute are 1 to 100000.",
        ),
    ] {
        let reply = app
            .json(Method::POST, "/account/keys", Some(&alice), body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.message(), message, "{body}");
    }
    for body in [
        json!({ "name": "k", "expiresDays": -1 }),
        json!({ "name": "k", "rpm": "many" }),
        json!({ "name": "k", "key": "sk-llms-mine" }),
        json!(["k"]),
    ] {
        let reply = app
            .json(Method::POST, "/account/keys", Some(&alice), body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text()
        );
        assert!(!reply.message().is_empty());
    }
    assert_eq!(keys_json(&app), json!({}), "no key was made");
    // Cross-site: refused like every other change.
    let cross = app
        .send(
            request(Method::POST, "/account/keys", Some(&alice))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::from(json!({ "name": "k" }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(keys_json(&app), json!({}), "no key was made");
}

async fn keys_need_a_user(store: Store) {
    // Authentication off: the default user owns nothing.
    let app = TestApp::new(store).await;
    let reply = app
        .json(Method::POST, "/account/keys", None, json!({ "name": "k" }))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.message(),
        "Authentication is off: keys belong to users, and there are none yet"
    );
    // And without a session: 401.
    let app = TestApp::with_users(store).await;
    let reply = app
        .json(Method::POST, "/account/keys", None, json!({ "name": "k" }))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/account/keys", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn the_last_use_is_recorded(store: Store) {
    let app = TestApp::with_users(store).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let made = app.make_key(&alice, json!({ "name": "k" })).await;
    let before = now_secs();
    assert_eq!(
        app.with_key(Method::GET, "/auth", made["key"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    let at = wait_for_last_use(&app, &alice).await;
    assert!(at >= before && at <= now_secs());
}

/// Waits (at most 5 s) until the first key of the user of `cookie` shows a last use; its
/// time.
async fn wait_for_last_use(app: &TestApp, cookie: &str) -> f64 {
    for _ in 0..200 {
        let listed = app.get("/account/keys", Some(cookie)).await.json();
        if let Some(at) = listed["keys"][0]["lastUsed"].as_f64() {
            return at;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("lastUsed was never written");
}
