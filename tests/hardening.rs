//! Review findings, in process: rejections in the `responseStatus` shape, the lock signal of
//! the sign-in refusal, the `Host` check against DNS rebinding, the avatar decoder's bounds,
//! the permissions of an existing store and session folder, and the deadline for request
//! bodies.

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, Method, Request, StatusCode};
use common::fake_oidc::{FakeOidc, CLIENT_ID, CLIENT_SECRET};
use common::{
    assert_error, avatar_upload, home_with_users, json_request, request, sha256_hash, Home, Reply,
    Store, TestApp,
};
use llms_auth::providers::github_auth::{GithubAuthProvider, GithubConfig};
use llms_auth::Config;
use serde_json::json;

/// Asserts a 400 in the `responseStatus` shape with exactly `message`; `what` names the
/// case in a loop.
fn assert_bad_request(reply: &Reply, message: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{what}: {}",
        reply.text()
    );
    assert_eq!(
        reply.error(),
        ("Error".to_owned(), message.to_owned()),
        "{what}: {}",
        reply.text()
    );
}

// ---------------------------------------------------------------------------------------
// Rejections of Path, Query and Multipart are `responseStatus` JSON.

async fn a_repeated_next_on_the_sign_in_page_is_a_json_400(store: Store) {
    let app = TestApp::with_users(store).await;
    let reply = app.get("/login?next=/a&next=/b", None).await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "Invalid query string",
    );
}

async fn an_undecodable_user_name_in_the_path_is_a_json_400(store: Store) {
    let app = TestApp::with_users(store).await;
    let admin = app.forge_session("admin", "credentials").await;
    let delete = request(Method::DELETE, "/admin/users/%FF", Some(&admin))
        .body(Body::empty())
        .unwrap();
    let reply = app.send(delete).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", "Invalid path");
    assert!(app.users_json().get("bob").is_some());

    let reply = app.get("/assets/%FF", None).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Error", "Invalid path");
}

async fn an_avatar_upload_that_is_not_multipart_is_a_json_400(store: Store) {
    let app = TestApp::with_users(store).await;
    let bob = app.forge_session("bob", "credentials").await;
    for content_type in [None, Some("text/plain"), Some("multipart/form-data")] {
        let mut builder = request(Method::POST, "/user/avatar", Some(&bob));
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        let reply = app
            .send(builder.body(Body::from("not an upload")).unwrap())
            .await;
        assert_bad_request(
            &reply,
            "Invalid upload: expected a multipart/form-data body",
            &format!("{content_type:?}"),
        );
    }
}

async fn malformed_github_start_and_callback_queries_are_json_400s(store: Store) {
    let app = TestApp::builder(store)
        .config(|config| config.auth = "github_auth".to_owned())
        .provider(Arc::new(GithubAuthProvider::new(GithubConfig::new(
            "client-id",
            "client-secret",
        ))))
        .build()
        .await;
    for path in [
        "/auth/github?next=/a&next=/b",
        "/auth/github/callback?code=a&code=b&state=s",
    ] {
        let reply = app.get(path, None).await;
        assert_bad_request(&reply, "Invalid query string", path);
    }
}

// ---------------------------------------------------------------------------------------
// A locked account's refusal is recognisable; other 403s are not called locks.

async fn only_the_refusal_of_a_locked_account_says_locked(store: Store) {
    let home = Home::new();
    home.write_users_json(&json!({
        "alice": { "password_hash": sha256_hash("pw-alice"), "created": 1742034600.25, "roles": [] },
        "bob": {
            "password_hash": sha256_hash("pw-bob"), "created": 1742034600.25, "roles": [],
            "locked": "On leave until March",
        },
    }));
    let app = TestApp::builder(store).home(home).build().await;

    let locked = app.login("bob", "pw-bob").await;
    assert_eq!(locked.status, StatusCode::FORBIDDEN);
    assert_eq!(
        locked.json(),
        json!({ "responseStatus": {
            "errorCode": "Forbidden", "message": "On leave until March", "locked": true,
        }})
    );

    // The wrong password for the locked account: no word of the lock.
    let wrong = app.login("bob", "guess").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.json()["responseStatus"].get("locked").is_none());

    // A refused cross-site sign-in is a 403 too, but not a lock.
    let cross_site = request(Method::POST, "/auth/login", None)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "127.0.0.1:8000")
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::from(
            json!({ "username": "alice", "password": "pw-alice" }).to_string(),
        ))
        .unwrap();
    let cross_site = app.send(cross_site).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let status = &cross_site.json()["responseStatus"];
    assert_eq!(status["errorCode"], "Forbidden");
    assert!(status.get("locked").is_none(), "{status}");

    // Nor is a missing Admin role.
    let alice = app.forge_session("alice", "credentials").await;
    let not_admin = app.get("/admin/users", Some(&alice)).await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    assert!(not_admin.json()["responseStatus"].get("locked").is_none());
}

// ---------------------------------------------------------------------------------------
// A store that others can read (written by llms.py) is made private.

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The modes llms.py leaves: 0755 for the folder, 0644 for users.json.
fn loosen(file: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let folder = file.parent().unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn assert_private(file: &std::path::Path) {
    let folder = file.parent().unwrap();
    assert_eq!(
        (mode(folder), mode(file)),
        (0o700, 0o600),
        "{}",
        file.display()
    );
}

async fn the_store_is_made_private_at_start_and_after_every_write(store: Store) {
    let home = home_with_users();
    let file = home.users_file();
    loosen(&file);
    let app = TestApp::builder(store).home(home).build().await;
    assert_private(&file);

    // Opened up again behind the server's back: the next write through the API closes it.
    loosen(&file);
    let admin = app.forge_session("admin", "credentials").await;
    let reply = app
        .json(
            Method::POST,
            "/admin/users",
            Some(&admin),
            json!({ "userName": "carol", "password": "carol-password-1" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_private(&file);

    // And so does a write from the command line.
    loosen(&file);
    app.home.add_user("dave", "dave-password-1");
    assert_private(&file);
}

/// The review's finding: `github_auth/config.json`, holding the client secret, stayed
/// 0644 as llms.py leaves it. It is made 0600 when the provider starts.
async fn the_github_settings_holding_a_secret_are_made_private(store: Store) {
    let home = Home::new();
    let file = home.path().join("user/default/github_auth/config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        r#"{"client_id": "cid", "client_secret": "s3cret-not-for-others"}"#,
    )
    .unwrap();
    loosen(&file);
    let _app = TestApp::builder(store)
        .home(home)
        .config(|config| config.auth = "github_auth".into())
        .build()
        .await;
    assert_private(&file);
}

/// The same for `oidc/config.json`, which holds the OpenID Connect client secret (SPEC 14):
/// the provider reads its settings from it at start and makes it and its folder private.
async fn the_oidc_settings_holding_a_secret_are_made_private(store: Store) {
    let issuer = FakeOidc::start().await;
    let home = Home::new();
    let file = home.path().join("user/default/oidc/config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let settings = json!({
        "issuer": issuer.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    });
    std::fs::write(&file, settings.to_string()).unwrap();
    loosen(&file);
    let app = TestApp::builder(store)
        .home(home)
        .config(|config| config.auth = "oidc".into())
        .build()
        .await;
    assert_private(&file);
    // The settings came from that file: sign-in goes to its issuer.
    let start = app.get("/auth/oidc", None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text());
    assert!(start
        .location()
        .starts_with(&format!("{}/authorize?", issuer.issuer)));
}

async fn llms_py_own_store_location_is_made_private_too(store: Store) {
    let home = Home::new();
    let file = home.path().join("user/default/credentials/users.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let users = json!({ "alice": {
        "password_hash": sha256_hash("pw-alice"), "created": 1742034600.25, "roles": [],
    }});
    std::fs::write(&file, users.to_string()).unwrap();
    loosen(&file);
    let _app = TestApp::builder(store).home(home).build().await;
    assert_private(&file);
}

async fn a_session_folder_open_to_others_is_made_private_at_start(store: Store) {
    use std::os::unix::fs::PermissionsExt;
    let home = home_with_users();
    let bob = home.write_session("bob", "credentials", 0.0);
    let folder = home.sessions_dir();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = TestApp::builder(store).home(home).build().await;
    assert_eq!(mode(&folder), 0o700);
    // The sessions in it are untouched and still live.
    let reply = app.get("/auth", Some(&bob)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn a_session_folder_that_cannot_be_made_private_does_not_stop_the_start(store: Store) {
    let home = home_with_users();
    // A symbolic link to itself: its mode can be neither read nor changed.
    let folder = home.sessions_dir();
    std::os::unix::fs::symlink("sessions", &folder).unwrap();
    let app = TestApp::builder(store).home(home).build().await;
    let reply = app.get("/config", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(std::fs::symlink_metadata(&folder).unwrap().is_symlink());
}

// ---------------------------------------------------------------------------------------
// Avatars: a small file claiming a huge picture is refused from its header.

/// CRC-32 (ISO-HDLC), as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A well-formed PNG of a few hundred bytes whose header claims `width` x `height` RGBA
/// pixels; its (stored, uncompressed) image data holds at most 256 bytes of rows, all of
/// them for a picture that small.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    let rows = (1 + 4 * width as usize).saturating_mul(height as usize);
    let raw = vec![0u8; rows.min(256)];
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    zlib.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    zlib.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

async fn a_png_claiming_20000_by_20000_pixels_is_refused_at_once(store: Store) {
    let app = TestApp::with_users(store).await;
    let bob = app.forge_session("bob", "credentials").await;
    let bomb = png_claiming(20_000, 20_000);
    assert!(bomb.len() < 1024, "{} bytes", bomb.len());

    let started = std::time::Instant::now();
    let reply = app
        .send(avatar_upload(Some(&bob), "a.png", "image/png", &bomb))
        .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "Error",
        "The image could not be read (damaged or too large)",
    );
    assert!(app.stored_avatar("bob").await.is_none());

    // The same construction within bounds is a real picture (the test file is sound).
    let small = png_claiming(4, 4);
    let reply = app
        .send(avatar_upload(Some(&bob), "a.png", "image/png", &small))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(app.stored_avatar("bob").await.is_some());
}

// ---------------------------------------------------------------------------------------
// DNS rebinding: a loopback server answers only to loopback names, addresses and the list.

/// A request to `path` carrying `Host: host` (and an `Origin` of the same site).
fn addressed_to(method: Method, path: &str, host: &str) -> Request<Body> {
    let body = json!({ "userName": "mallory", "password": "mallory-password-1" });
    let mut request = if method == Method::POST {
        json_request(method, path, None, &body)
    } else {
        request(method, path, None).body(Body::empty()).unwrap()
    };
    let headers = request.headers_mut();
    headers.insert(header::HOST, host.parse().unwrap());
    headers.insert(header::ORIGIN, format!("http://{host}").parse().unwrap());
    request
}

fn assert_misdirected(reply: &Reply, what: &str) {
    assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST, "{what}");
    let status = &reply.json()["responseStatus"];
    assert_eq!(status["errorCode"], "Forbidden", "{what}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("LLMS_ALLOWED_HOSTS"),
        "{what}: {status}"
    );
}

async fn a_rebound_page_cannot_act_as_the_default_admin_of_a_first_run(store: Store) {
    // The documented first run: no users, so authentication is off, on 127.0.0.1.
    let app = TestApp::new(store).await;

    // attacker.example now resolves to 127.0.0.1: its page's requests are "same-origin".
    let reply = app
        .send(addressed_to(
            Method::POST,
            "/admin/users",
            "attacker.example:8000",
        ))
        .await;
    assert_misdirected(&reply, "POST /admin/users");
    assert!(!app.home.users_file().exists(), "a user was created");
    for (method, path) in [
        (Method::GET, "/admin/users"),
        (Method::GET, "/"),
        (Method::GET, "/config"),
        (Method::GET, "/login"),
        (Method::GET, "/assets/app.js"),
        (Method::DELETE, "/admin/users/admin"),
        (Method::PUT, "/admin/users"),
        (Method::HEAD, "/"),
        (Method::OPTIONS, "/config"),
    ] {
        let what = format!("{method} {path}");
        let reply = app
            .send(addressed_to(method, path, "attacker.example"))
            .await;
        assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST, "{what}");
    }
    // The absolute form names the host in the request line itself.
    let reply = app.get("http://attacker.example/admin/users", None).await;
    assert_misdirected(&reply, "absolute form");
    // Two Host headers, or one that is not a host name, are refused too.
    for hosts in [
        &["127.0.0.1", "attacker.example"][..],
        &["a b"],
        &["x:port"],
    ] {
        let mut builder = request(Method::GET, "/config", None);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        let reply = app.send(builder.body(Body::empty()).unwrap()).await;
        assert_misdirected(&reply, &format!("{hosts:?}"));
    }

    // The server's own names still work, and so does a request without any Host.
    for host in [
        "127.0.0.1:8000",
        "localhost:8000",
        "LOCALHOST",
        "[::1]:8000",
        "127.0.0.2",
    ] {
        let reply = app
            .send(addressed_to(Method::GET, "/admin/users", host))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{host}");
    }
    let reply = app.get("/admin/users", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app
        .send(addressed_to(Method::POST, "/admin/users", "127.0.0.1:8000"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(app.users_json().get("mallory").is_some());
}

async fn llms_allowed_hosts_names_more_hosts_and_restricts_a_public_server(store: Store) {
    fn listed(config: &mut Config) {
        config.allowed_hosts = vec!["llms.example.com".to_owned()];
    }
    // Three apps, each on its own home with the same users.
    let app = |configure: fn(&mut Config)| {
        TestApp::builder(store)
            .home(home_with_users())
            .config(configure)
            .build()
    };
    let loopback = app(listed).await;
    let reply = loopback
        .send(addressed_to(Method::GET, "/config", "LLMS.example.com:443"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = loopback
        .send(addressed_to(Method::GET, "/config", "other.example"))
        .await;
    assert_misdirected(&reply, "unlisted name on loopback");

    // Listening beyond loopback: every name, unless the list says otherwise.
    let public = app(|config| config.loopback_only = false).await;
    let reply = public
        .send(addressed_to(Method::GET, "/config", "other.example"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let public_listed = app(|config| {
        config.loopback_only = false;
        listed(config);
    })
    .await;
    let reply = public_listed
        .send(addressed_to(Method::GET, "/config", "other.example"))
        .await;
    assert_misdirected(&reply, "unlisted name on a public server");
    let reply = public_listed
        .send(addressed_to(Method::GET, "/config", "llms.example.com"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// A request body must arrive in time (over real TCP: tests/server.rs).

/// A request body that sends `prefix` and then nothing more, as a stalled client's would.
struct Stalled(Option<Bytes>);

impl Stalled {
    fn after(prefix: &'static [u8]) -> Body {
        Body::new(Self(Some(Bytes::from_static(prefix))))
    }
}

impl HttpBody for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(prefix) => Poll::Ready(Some(Ok(http_body::Frame::data(prefix)))),
            None => Poll::Pending,
        }
    }
}

async fn a_body_that_stops_arriving_is_refused_with_408(store: Store) {
    let timeout = Duration::from_millis(300);
    let app = TestApp::builder(store)
        .home(home_with_users())
        .config(move |config| config.body_timeout = timeout)
        .build()
        .await;
    let bob = app.forge_session("bob", "credentials").await;
    let json_post = |path: &str, prefix: &'static [u8]| {
        request(Method::POST, path, Some(&bob))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Stalled::after(prefix))
            .unwrap()
    };
    let upload = request(Method::POST, "/user/avatar", Some(&bob))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=b")
        .body(Stalled::after(
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n\x89PNG",
        ))
        .unwrap();
    for (what, request) in [
        (
            "sign-in",
            json_post("/auth/login", br#"{"username":"bob","#),
        ),
        (
            "password change",
            json_post("/account/change-password", br#"{"currentPass"#),
        ),
        ("avatar", upload),
    ] {
        let started = Instant::now();
        // Without the deadline the handler would wait for the rest of the body forever.
        let reply = tokio::time::timeout(Duration::from_secs(5), app.send(request))
            .await
            .unwrap_or_else(|_| panic!("{what}: still waiting for the body after 5 s"));
        let took = started.elapsed();
        assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{what}");
        assert_eq!(
            reply.json(),
            json!({ "responseStatus": {
                "errorCode": "Error", "message": "The request body took too long to arrive",
            }}),
            "{what}"
        );
        assert_eq!(reply.headers[header::CONNECTION], "close", "{what}");
        assert!(
            took >= timeout && took < Duration::from_secs(5),
            "{what}: {took:?}"
        );
    }
    assert!(app.stored_avatar("bob").await.is_none());
    assert_eq!(
        app.users_json()["bob"]["password_hash"],
        sha256_hash("pw-bob")
    );

    // Bodies that arrive in time are served as ever under the same deadline.
    let reply = app.login("bob", "pw-bob").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = app
        .send(avatar_upload(
            Some(&bob),
            "a.png",
            "image/png",
            &png_claiming(4, 4),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

store_suite!(
    a_repeated_next_on_the_sign_in_page_is_a_json_400,
    an_undecodable_user_name_in_the_path_is_a_json_400,
    an_avatar_upload_that_is_not_multipart_is_a_json_400,
    malformed_github_start_and_callback_queries_are_json_400s,
    only_the_refusal_of_a_locked_account_says_locked,
    a_png_claiming_20000_by_20000_pixels_is_refused_at_once,
    a_rebound_page_cannot_act_as_the_default_admin_of_a_first_run,
    llms_allowed_hosts_names_more_hosts_and_restricts_a_public_server,
    a_body_that_stops_arriving_is_refused_with_408,
    the_github_settings_holding_a_secret_are_made_private,
    the_oidc_settings_holding_a_secret_are_made_private,
);

// The permissions of the files and folders of LLMS_HOME: the file store's own.
files_only!(
    the_store_is_made_private_at_start_and_after_every_write,
    llms_py_own_store_location_is_made_private_too,
    a_session_folder_open_to_others_is_made_private_at_start,
    a_session_folder_that_cannot_be_made_private_does_not_stop_the_start,
);
