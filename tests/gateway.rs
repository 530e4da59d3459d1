//! The gateway (SPEC 10): `/v1/*` forwarded to an OpenAI-compatible upstream (the fake of
//! `tests/common/fake_openai.rs`), in process for what is said and sent, and through the
//! real `llms` binary for streams, disconnects and logs.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::fake_openai::{closed_upstream, garbage_upstream, FakeOpenAi, STALL_MODEL};
use common::{request, Home, Reply, Server, Store, TestApp};
use serde_json::{json, Value};

store_suite!(
    requests_are_forwarded_without_the_callers_credentials,
    sessions_and_the_default_user_use_the_gateway_too,
    a_keys_models_are_enforced_before_the_upstream,
    a_keys_requests_per_minute_are_enforced,
    bodies_up_to_32_mib_pass_and_larger_ones_are_refused,
    an_unreachable_or_garbled_upstream_is_a_502,
);

/// An app with the usual users whose upstream is `upstream`, with `upstream_key` as the
/// upstream's own key when given.
async fn app_before(store: Store, upstream: &str, upstream_key: Option<&str>) -> TestApp {
    let (upstream, key) = (upstream.to_owned(), upstream_key.map(str::to_owned));
    TestApp::builder(store)
        .home(common::home_with_users())
        .config(move |config| {
            config.upstream = Some(upstream);
            config.upstream_api_key = key.map(llms_auth::Secret);
        })
        .build()
        .await
}

/// A key for `user` (signed in with `pw-<user>`) made with `body`.
async fn key_of(app: &TestApp, user: &str, body: Value) -> String {
    let cookie = app.sign_in(user, &format!("pw-{user}")).await;
    let reply = app
        .json(Method::POST, "/account/keys", Some(&cookie), body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["key"].as_str().unwrap().to_owned()
}

/// `method path` with `Authorization: Bearer key` and `body` as JSON (none when null).
async fn call(app: &TestApp, method: Method, path: &str, key: &str, body: &Value) -> Reply {
    let builder =
        request(method, path, None).header(header::AUTHORIZATION, format!("Bearer {key}"));
    let request = if body.is_null() {
        builder.body(Body::empty()).unwrap()
    } else {
        builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    app.send(request).await
}

fn chat(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "hello there" }] })
}

/// Asserts an OpenAI-shaped refusal: status, `type`, `code`.
fn assert_openai_error(reply: &Reply, status: StatusCode, kind: &str, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let error = &reply.json()["error"];
    assert_eq!(error["type"], kind, "{}", reply.text());
    assert_eq!(error["code"], code, "{}", reply.text());
    assert!(
        !error["message"].as_str().unwrap_or_default().is_empty(),
        "{}",
        reply.text()
    );
}

async fn requests_are_forwarded_without_the_callers_credentials(store: Store) {
    let fake = FakeOpenAi::start().await;
    let app = app_before(store, &fake.base, Some("sk-upstream-0123")).await;
    let key = key_of(&app, "alice", json!({ "name": "sdk" })).await;
    let cookie = app.sign_in("bob", "pw-bob").await;
    let body = chat("alpha");
    let reply = app
        .send(
            request(
                Method::POST,
                "/v1/chat/completions?trace=1&x=%20y",
                Some(&cookie),
            )
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONNECTION, "x-private")
            .header("x-private", "hop")
            .header("x-llms-user", "forged")
            .header("openai-organization", "org-1")
            .body(Body::from(body.to_string()))
            .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "You said: hello there"
    );
    let sent = fake.last();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.uri, "/v1/chat/completions?trace=1&x=%20y");
    assert_eq!(sent.json(), body);
    assert_eq!(sent.headers["authorization"], "Bearer sk-upstream-0123");
    assert_eq!(
        sent.headers["x-llms-user"], "alice",
        "the key's owner, not the cookie's"
    );
    assert_eq!(sent.headers.get_all("x-llms-user").iter().count(), 1);
    assert_eq!(sent.headers["openai-organization"], "org-1");
    assert_eq!(sent.headers["content-type"], "application/json");
    for gone in ["cookie", "x-private"] {
        assert!(sent.headers.get(gone).is_none(), "{gone} was forwarded");
    }
    let text = format!("{:?}", sent.headers);
    assert!(
        !text.contains(&key) && !text.contains("llms-token"),
        "{text}"
    );

    // Any method, any path under /v1, the query kept; no body stays no body.
    for method in [Method::GET, Method::DELETE, Method::PUT, Method::PATCH] {
        let reply = call(
            &app,
            method.clone(),
            "/v1/files/file-1?purpose=x",
            &key,
            &Value::Null,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {}", reply.text());
        assert_eq!(
            reply.json(),
            json!({ "method": method.as_str(), "uri": "/v1/files/file-1?purpose=x", "length": 0 })
        );
    }

    // Without an upstream key, no Authorization at all.
    let fake = FakeOpenAi::start().await;
    let app = app_before(store, &fake.base, None).await;
    let key = key_of(&app, "alice", json!({ "name": "sdk" })).await;
    let reply = call(&app, Method::GET, "/v1/models", &key, &Value::Null).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["data"].as_array().unwrap().len(), 3);
    assert!(fake.last().headers.get("authorization").is_none());
}

async fn sessions_and_the_default_user_use_the_gateway_too(store: Store) {
    let fake = FakeOpenAi::start().await;
    let app = app_before(store, &fake.base, None).await;
    let alice = app.sign_in("alice", "pw-alice").await;
    let reply = app.get("/v1/models", Some(&alice)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(fake.last().headers["x-llms-user"], "alice");

    // Nobody: refused in OpenAI's shape, nothing sent.
    let before = fake.received().len();
    let reply = app.get("/v1/models", None).await;
    assert_openai_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
    );
    let reply = app
        .json(Method::POST, "/v1/chat/completions", None, chat("alpha"))
        .await;
    assert_openai_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
    );
    // A cookie whose session has ended hears so.
    let gone = app.sign_in("bob", "pw-bob").await;
    let out = app
        .json(Method::POST, "/auth/logout", Some(&gone), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    let reply = app.get("/v1/models", Some(&gone)).await;
    assert_openai_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
    );
    assert_eq!(
        reply.json()["error"]["message"],
        "Your session has ended: sign in again, or send an API key."
    );
    // A browser asking for a page under /v1 gets the same, not a sign-in redirect.
    let reply = app.page("/v1/models", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fake.received().len(), before);

    // Cross-site posts with a session are refused like everywhere else.
    let cross = app
        .send(
            request(Method::POST, "/v1/chat/completions", Some(&alice))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::from(chat("alpha").to_string()))
                .unwrap(),
        )
        .await;
    assert_openai_error(
        &cross,
        StatusCode::FORBIDDEN,
        "permission_error",
        "forbidden",
    );
    assert_eq!(fake.received().len(), before);

    // Authentication off: the default user.
    let fake = FakeOpenAi::start().await;
    let base = fake.base.clone();
    let app = TestApp::builder(store)
        .config(move |config| config.upstream = Some(base))
        .build()
        .await;
    let reply = app
        .json(Method::POST, "/v1/chat/completions", None, chat("beta"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(fake.last().headers["x-llms-user"], "default");
}

async fn a_keys_models_are_enforced_before_the_upstream(store: Store) {
    let fake = FakeOpenAi::start().await;
    let app = app_before(store, &fake.base, None).await;
    let key = key_of(
        &app,
        "alice",
        json!({ "name": "k", "models": ["alpha", "beta"] }),
    )
    .await;

    let models = call(&app, Method::GET, "/v1/models", &key, &Value::Null).await;
    assert_eq!(models.status, StatusCode::OK, "{}", models.text());
    let ids: Vec<_> = models.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["alpha", "beta"]);
    assert_eq!(models.json()["object"], "list");

    let allowed = call(
        &app,
        Method::POST,
        "/v1/chat/completions",
        &key,
        &chat("beta"),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text());
    let sent = fake.received().len();

    let refused = call(
        &app,
        Method::POST,
        "/v1/chat/completions",
        &key,
        &chat("gamma"),
    )
    .await;
    assert_openai_error(
        &refused,
        StatusCode::FORBIDDEN,
        "permission_error",
        "model_not_allowed",
    );
    assert!(refused.text().contains("gamma"));
    let path = call(&app, Method::GET, "/v1/models/gamma", &key, &Value::Null).await;
    assert_openai_error(
        &path,
        StatusCode::FORBIDDEN,
        "permission_error",
        "model_not_allowed",
    );

    // What cannot be checked is refused, never passed on.
    for body in [
        Body::from("this is not JSON"),
        Body::from(json!({ "messages": [] }).to_string()),
        Body::from(json!({ "model": ["alpha"] }).to_string()),
        Body::from(vec![0xffu8, 0xfe, 0x00]),
    ] {
        let reply = app
            .send(
                request(Method::POST, "/v1/chat/completions", None)
                    .header(header::AUTHORIZATION, format!("Bearer {key}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .unwrap(),
            )
            .await;
        assert_openai_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "model_required",
        );
    }
    assert_eq!(
        fake.received().len(),
        sent,
        "a refused request reached the upstream"
    );

    // A key for every model lists every model.
    let open = key_of(&app, "bob", json!({ "name": "all" })).await;
    let models = call(&app, Method::GET, "/v1/models", &open, &Value::Null).await;
    assert_eq!(models.json()["data"].as_array().unwrap().len(), 3);
}

async fn a_keys_requests_per_minute_are_enforced(store: Store) {
    let fake = FakeOpenAi::start().await;
    let app = app_before(store, &fake.base, None).await;
    let key = key_of(&app, "alice", json!({ "name": "k", "rpm": 2 })).await;
    for _ in 0..2 {
        let reply = call(
            &app,
            Method::POST,
            "/v1/chat/completions",
            &key,
            &chat("alpha"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let limited = call(
        &app,
        Method::POST,
        "/v1/chat/completions",
        &key,
        &chat("alpha"),
    )
    .await;
    assert_openai_error(
        &limited,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "rate_limit_exceeded",
    );
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(fake.received().len(), 2);
    // Another key of the same user has its own count.
    let other = key_of(&app, "alice", json!({ "name": "k2", "rpm": 1 })).await;
    let reply = call(
        &app,
        Method::POST,
        "/v1/chat/completions",
        &other,
        &chat("alpha"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn bodies_up_to_32_mib_pass_and_larger_ones_are_refused(store: Store) {
    let fake = FakeOpenAi::start().await;
    let app = app_before(store, &fake.base, None).await;
    let key = key_of(&app, "alice", json!({ "name": "k" })).await;
    let limit = 32 * 1024 * 1024;
    let send = |bytes: Vec<u8>, declared: bool| {
        let mut builder = request(Method::POST, "/v1/embeddings", None)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/octet-stream");
        if declared {
            builder = builder.header(header::CONTENT_LENGTH, bytes.len());
        }
        app.send(builder.body(Body::from(bytes)).unwrap())
    };
    let reply = send(vec![b'a'; limit], true).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["length"], limit);
    let sent = fake.received().len();
    let reply = send(vec![b'a'; limit + 1], true).await;
    assert_openai_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "request_too_large",
    );
    assert_eq!(
        fake.received().len(),
        sent,
        "a declared oversize body was sent on"
    );
    // Undeclared (as chunked bodies are): cut off at the limit, refused the same way.
    let reply = send(vec![b'a'; limit + 1], false).await;
    assert_openai_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "request_too_large",
    );
    // A model-restricted key reads the body whole: the limit holds there too.
    let restricted = key_of(&app, "bob", json!({ "name": "k", "models": ["alpha"] })).await;
    let mut big = br#"{"model":"alpha","input":""#.to_vec();
    big.resize(limit + 10, b'a');
    let reply = app
        .send(
            request(Method::POST, "/v1/embeddings", None)
                .header(header::AUTHORIZATION, format!("Bearer {restricted}"))
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_openai_error(
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "request_too_large",
    );
}

async fn an_unreachable_or_garbled_upstream_is_a_502(store: Store) {
    // Where nothing listens; bytes that are not HTTP; TLS spoken to a plain HTTP server
    // (an https:// upstream goes through TLS, and a failed handshake is no answer).
    let plain = FakeOpenAi::start().await;
    let tls_to_plain = plain.base.replace("http://", "https://");
    for upstream in [closed_upstream(), garbage_upstream().await, tls_to_plain] {
        let app = app_before(store, &upstream, Some("sk-upstream-secret")).await;
        let key = key_of(&app, "alice", json!({ "name": "k" })).await;
        for (method, body) in [(Method::GET, Value::Null), (Method::POST, chat("alpha"))] {
            let path = if method == Method::GET {
                "/v1/models"
            } else {
                "/v1/chat/completions"
            };
            let reply = call(&app, method, path, &key, &body).await;
            assert_openai_error(
                &reply,
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "upstream_unavailable",
            );
            assert_eq!(
                reply.json()["error"]["message"],
                "The model server is unavailable."
            );
            let text = reply.text();
            assert!(
                !text.contains("127.0.0.1") && !text.contains("sk-upstream"),
                "{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Through the real binary: streams, disconnects, logs.

/// A home with `alice` and a key for her made by the CLI; the key.
fn home_with_key(home: &Home, extra: &[&str]) -> String {
    home.add_user("alice", "pw-alice-long");
    home.add_key("alice", "stream", extra)
}

fn stream_body(events: u64, interval_ms: u64) -> Value {
    json!({
        "model": "alpha",
        "stream": true,
        "messages": [{ "role": "user", "content": "one two three four five" }],
        "fake_events": events,
        "fake_interval_ms": interval_ms,
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_completion_arrives_event_by_event() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let key = home_with_key(&home, &[]);
    let server = Server::start(&home, &["--upstream", &fake.base]);
    let mut response = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&stream_body(5, 300))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["x-fake-upstream"], "1");
    let first = response.chunk().await.unwrap().expect("a first event");
    assert!(first.starts_with(b"data: "), "{first:?}");
    assert_eq!(
        fake.completed(),
        0,
        "the first event arrived only after the upstream had sent the last"
    );
    let mut text = String::from_utf8(first.to_vec()).unwrap();
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(text.matches("chat.completion.chunk").count(), 6);
    assert_eq!(fake.completed(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_cut_mid_stream_cuts_the_answer_and_nothing_else() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let key = home_with_key(&home, &[]);
    let server = Server::start(&home, &["--upstream", &fake.base]);
    let mut body = stream_body(10, 20);
    body["fake_cut_after"] = json!(2);
    let mut response = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = 0;
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => events += String::from_utf8_lossy(&chunk).matches("data: ").count(),
            Ok(None) => break "cleanly",
            Err(_) => break "with an error",
        }
    };
    assert_eq!(events, 2);
    assert_eq!(
        ended, "with an error",
        "a cut stream must not look complete"
    );
    // The server goes on.
    let next = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&chat("alpha"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_the_upstream_request() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let key = home_with_key(&home, &[]);
    let server = Server::start(&home, &["--upstream", &fake.base]);

    // Mid-stream.
    let mut response = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&stream_body(1000, 50))
        .send()
        .await
        .unwrap();
    response.chunk().await.unwrap().expect("a first event");
    drop(response);
    fake.wait_for("the stream cancelled", |f| f.cancelled() == 1)
        .await;
    assert_eq!(fake.completed(), 0);

    // Before any answer: an upstream that never answers holds nothing once the client
    // gives up.
    let gave_up = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .timeout(Duration::from_millis(500))
        .json(&chat(STALL_MODEL))
        .send()
        .await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    fake.wait_for("the stalled request cancelled", |f| f.cancelled() == 2)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_reaches_a_log_line_or_the_audit_log() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let key = home_with_key(&home, &["--models", "alpha"]);
    let log = home.path().join("server.log");
    let server = Server::start_logged(
        &home,
        &["--upstream", &fake.base],
        &[
            ("LLMS_LOG", "debug"),
            ("LLMS_UPSTREAM_API_KEY", "sk-upstream-hidden-77"),
        ],
        &log,
    );
    let http = client();
    let wrong = format!("{}Q", &key[..key.len() - 1]);
    let attempts = [
        (key.as_str(), chat("alpha")),
        (key.as_str(), chat("gamma")),
        (wrong.as_str(), chat("alpha")),
        ("sk-llms-tooshort-secret-part", chat("alpha")),
    ];
    for (presented, body) in &attempts {
        let reply = http
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(presented)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_ne!(reply.status(), 500);
        let _ = reply.text().await;
        let auth = http
            .get(server.url("/auth"))
            .bearer_auth(presented)
            .send()
            .await
            .unwrap();
        assert_ne!(auth.status(), 500);
    }
    // A refused cookie-less page visit with a key, and a stream.
    let mut stream = http
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&stream_body(3, 0))
        .send()
        .await
        .unwrap();
    while stream.chunk().await.unwrap().is_some() {}
    let removed = home.run(&["--listkeys"], "");
    assert!(removed.status.success());
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("DEBUG") || logged.contains("debug"),
        "debug logging was on"
    );
    let audit = std::fs::read_to_string(home.path().join("credentials/audit.log")).unwrap();
    let listing = String::from_utf8(removed.stdout).unwrap();
    for secret in [
        &key["sk-llms-".len()..],
        &wrong["sk-llms-".len()..],
        "tooshort-secret",
        "sk-upstream-hidden-77",
    ] {
        assert!(!logged.contains(secret), "the server log holds {secret}");
        assert!(!audit.contains(secret), "the audit log holds {secret}");
        assert!(!listing.contains(secret), "--listkeys shows {secret}");
    }
}

/// The server sends `/v1/*` past the router, through the guard straight to the gateway
/// (`llms_auth::web::serve_gateway`); the router still serves it in process. Both must
/// answer every request alike: refusals, their shape, the headers every answer carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_the_gateway_as_the_router_does() {
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    let key = home_with_key(&home, &["--models", "alpha"]);
    let server = Server::start(&home, &["--upstream", &fake.base]);
    let cookie = common::server::sign_in(&server, "alice", "pw-alice-long").await;
    let base = fake.base.clone();
    let app = TestApp::builder(Store::Files)
        .home(home)
        .config(move |config| {
            config.upstream = Some(base);
            config.loopback_only = true;
        })
        .build()
        .await;
    let bearer = format!("Bearer {key}");
    let wrong = format!("Bearer sk-llms-{}", "A".repeat(43));
    let chat_alpha = chat("alpha").to_string();
    let chat_beta = chat("beta").to_string();
    // What, method, path, headers, body.
    type Case<'a> = (&'a str, Method, &'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("no credentials", Method::GET, "/v1/models", vec![], ""),
        (
            "a wrong key",
            Method::GET,
            "/v1/models",
            vec![("authorization", &wrong)],
            "",
        ),
        (
            "not a bearer",
            Method::GET,
            "/v1/models",
            vec![("authorization", "Basic eDp5")],
            "",
        ),
        (
            "the key's models",
            Method::GET,
            "/v1/models",
            vec![("authorization", &bearer)],
            "",
        ),
        (
            "a model it may not use",
            Method::POST,
            "/v1/chat/completions",
            vec![
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            &chat_beta,
        ),
        (
            "a body that is no JSON",
            Method::POST,
            "/v1/chat/completions",
            vec![
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            "{not json",
        ),
        (
            "a model in the path",
            Method::GET,
            "/v1/models/beta",
            vec![("authorization", &bearer)],
            "",
        ),
        (
            "another site's form with the session",
            Method::POST,
            "/v1/chat/completions",
            vec![
                ("cookie", &cookie),
                ("origin", "http://evil.example"),
                ("content-type", "text/plain"),
            ],
            &chat_alpha,
        ),
        (
            "a host it does not answer to",
            Method::GET,
            "/v1/models",
            vec![("authorization", &bearer), ("host", "evil.example")],
            "",
        ),
        (
            "a browser asking for a page",
            Method::GET,
            "/v1/models",
            vec![("accept", "text/html")],
            "",
        ),
        (
            "the session",
            Method::GET,
            "/v1/models",
            vec![("cookie", &cookie)],
            "",
        ),
    ];
    for (what, method, path, headers, body) in cases {
        let mut direct = common::server::http().request(method.clone(), server.url(path));
        let mut routed = request(method, path, None);
        for (name, value) in &headers {
            direct = direct.header(*name, *value);
            routed = routed.header(*name, *value);
        }
        let direct = direct.body(body.to_owned()).send().await.unwrap();
        let routed = app
            .send(routed.body(Body::from(body.to_owned())).unwrap())
            .await;
        assert_eq!(direct.status(), routed.status, "{what}: status");
        for name in [
            "content-type",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "cache-control",
            "retry-after",
        ] {
            let value = direct.headers().get(name).map(|v| v.to_str().unwrap());
            assert_eq!(value, routed.header(name), "{what}: {name}");
        }
        assert_eq!(
            direct.headers()["x-content-type-options"],
            "nosniff",
            "{what}"
        );
        let text = direct.text().await.unwrap();
        if routed.status.is_success() {
            let (direct, routed) = (serde_json::from_str::<Value>(&text).unwrap(), routed.json());
            assert_eq!(direct["data"], routed["data"], "{what}: the models listed");
        } else {
            assert_eq!(text, routed.text(), "{what}: the refusal");
        }
    }
}
