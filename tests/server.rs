//! The real `llms --serve` process over real HTTP on a free loopback port: sessions across
//! restarts and expiry, the CLI changing users under a running server, forged tokens,
//! request defences, shutdown, and what the log may never contain.

mod common;

use common::{http, sign_in, token_of, Home, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Reference-format hashes keep the server fast where the scheme does not matter.
const FAST_HASH: &[(&str, &str)] = &[("LLMS_PASSWORD_HASH", "sha256")];

const DAY: f64 = 24.0 * 60.0 * 60.0;

async fn status_of(server: &Server, path: &str, cookie: &str) -> StatusCode {
    http()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request")
        .status()
}

fn users(home: &Home) {
    home.write_users(&[
        ("admin", "pw-admin", &["Admin"]),
        ("alice", "pw-alice", &[]),
        ("bob", "pw-bob", &[]),
        ("carol", "pw-carol", &[]),
    ]);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let home = Home::new();
    users(&home);
    let mut server = Server::start_with(&home, &[], FAST_HASH);
    let cookie = sign_in(&server, "alice", "pw-alice").await;
    server.stop();

    let server = Server::start_with(&home, &[], FAST_HASH);
    let me = common::get_json(&server, "/auth", Some(&cookie)).await;
    assert_eq!(me["userName"], "alice");
}

#[tokio::test]
async fn the_real_server_records_the_socket_peer_as_the_client() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(&home, &[], FAST_HASH);
    let cookie = sign_in(&server, "alice", "pw-alice").await;
    // The server reads the peer as the connection is accepted, not from a header the
    // client could write.
    let response = common::http()
        .get(server.url("/account/sessions"))
        .header("Cookie", &cookie)
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listed: serde_json::Value = response.json().await.unwrap();
    let sessions = listed["sessions"].as_array().expect("sessions listed");
    assert_eq!(sessions.len(), 1, "{listed}");
    assert_eq!(sessions[0]["ip"], "127.0.0.1", "{listed}");
    assert_eq!(sessions[0]["current"], true, "{listed}");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.users_file()).unwrap()).unwrap();
    assert_eq!(stored["alice"]["lastIp"], "127.0.0.1");
}

#[tokio::test]
async fn a_session_older_than_30_days_is_refused_and_removed() {
    let home = Home::new();
    users(&home);
    let old = home.write_session("alice", "credentials", 31.0 * DAY);
    let recent = home.write_session("alice", "credentials", 29.0 * DAY);
    let future = home.write_session("alice", "credentials", -DAY);
    let server = Server::start_with(&home, &[], FAST_HASH);
    assert_eq!(
        status_of(&server, "/auth", &old).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_of(&server, "/auth", &future).await,
        StatusCode::UNAUTHORIZED,
        "a session from the future is forged"
    );
    assert!(!home.session_file(token_of(&old)).exists());
    assert_eq!(status_of(&server, "/auth", &recent).await, StatusCode::OK);
}

#[tokio::test]
async fn cli_changes_end_the_victims_session_on_its_next_request() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(&home, &[], FAST_HASH);
    let admin = sign_in(&server, "admin", "pw-admin").await;
    let alice = sign_in(&server, "alice", "pw-alice").await;
    let bob = sign_in(&server, "bob", "pw-bob").await;
    let carol = sign_in(&server, "carol", "pw-carol").await;
    for cookie in [&admin, &alice, &bob, &carol] {
        assert_eq!(status_of(&server, "/auth", cookie).await, StatusCode::OK);
    }

    let out = home.run(&["--lockuser", "alice", "--reason", "Left"], "");
    assert!(out.status.success());
    assert_eq!(
        status_of(&server, "/auth", &alice).await,
        StatusCode::UNAUTHORIZED
    );

    let out = home.run(&["--removeuser", "bob"], "");
    assert!(out.status.success());
    assert_eq!(
        status_of(&server, "/auth", &bob).await,
        StatusCode::UNAUTHORIZED
    );

    let out = home.run(&["--adduser", "carol", "--password-stdin"], "new-carol\n");
    assert!(out.status.success());
    assert_eq!(
        status_of(&server, "/auth", &carol).await,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(status_of(&server, "/auth", &admin).await, StatusCode::OK);
    let login = |user: &'static str, password: &'static str| {
        http()
            .post(server.url("/auth/login"))
            .json(&json!({ "username": user, "password": password }))
            .send()
    };
    assert_eq!(
        login("alice", "pw-alice").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        login("bob", "pw-bob").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("carol", "pw-carol").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Two failures from this address: the throttle asks for a short wait first.
    let throttled = login("carol", "new-carol").await.unwrap();
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait <= 1, "{wait}");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    sign_in(&server, "carol", "new-carol").await;
}

#[tokio::test]
async fn the_first_user_added_with_the_cli_turns_authentication_on() {
    let home = Home::new();
    let server = Server::start_with(&home, &[], FAST_HASH);
    let config = || async {
        http()
            .get(server.url("/config"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(config().await["requiresAuth"], false);
    let me = common::get_json(&server, "/auth", None).await;
    assert_eq!(me["userName"], "default");

    home.add_user("admin", "pw-admin");
    assert_eq!(config().await["requiresAuth"], true);
    let response = http().get(server.url("/auth")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let cookie = sign_in(&server, "admin", "pw-admin").await;
    assert_eq!(
        status_of(&server, "/admin/users", &cookie).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn removing_the_last_user_does_not_switch_authentication_off() {
    let home = Home::new();
    home.add_user("admin", "pw-admin");
    // Whether or not a request came first, an emptied store fails closed.
    for warm in [false, true] {
        let server = Server::start_with(&home, &[], FAST_HASH);
        if warm {
            assert_eq!(
                http()
                    .get(server.url("/auth"))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        let out = home.run(&["--removeuser", "admin"], "");
        assert!(out.status.success());
        let config: Value = http()
            .get(server.url("/config"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(config["requiresAuth"], true);
        for path in ["/auth", "/admin/users"] {
            let response = http().get(server.url(path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        }
        // A user added again signs in as usual.
        home.add_user("admin", "pw-admin");
        sign_in(&server, "admin", "pw-admin").await;
    }
}

#[tokio::test]
async fn forged_tokens_and_session_files_reach_nothing() {
    let home = Home::new();
    users(&home);
    let ghost = home.write_session("mallory", "credentials", 60.0);
    let reference_token = common::random_token();
    std::fs::write(
        home.sessions_dir().join(format!("{reference_token}.json")),
        json!({ "userId": "admin", "userName": "admin", "roles": ["Admin"], "created": 1.0e10 })
            .to_string(),
    )
    .unwrap();
    let server = Server::start_with(&home, &[], FAST_HASH);
    let admin = sign_in(&server, "admin", "pw-admin").await;
    // Someone who can list the folder but not read it learns only the token's hash.
    let admin_file = home.session_file(token_of(&admin));
    let admin_hash = admin_file.file_stem().unwrap().to_str().unwrap();
    assert!(admin_file.exists());
    for cookie in [
        "llms-token=../users".to_owned(),
        "llms-token=../credentials/users.json".to_owned(),
        "llms-token=%2E%2E%2Fusers".to_owned(),
        format!("llms-token={admin_hash}"),
        format!("llms-token={reference_token}"),
        ghost.clone(),
    ] {
        for path in ["/auth", "/admin/users", "/account", "/"] {
            assert_eq!(
                status_of(&server, path, &cookie).await,
                StatusCode::UNAUTHORIZED,
                "{cookie} {path}"
            );
        }
    }
    assert_eq!(
        status_of(&server, "/admin/users", &admin).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cross_site_and_text_plain_posts_to_admin_users_are_refused() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(&home, &[], FAST_HASH);
    let admin = sign_in(&server, "admin", "pw-admin").await;
    let body = json!({ "userName": "eve", "password": "pw-eve-long", "roles": ["Admin"] });

    let response = http()
        .post(server.url("/admin/users"))
        .header("cookie", &admin)
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = http()
        .post(server.url("/admin/users"))
        .header("cookie", &admin)
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // What an HTML form on another site can send without a preflight.
    let response = http()
        .post(server.url("/admin/users"))
        .header("cookie", &admin)
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(home.users_json().get("eve").is_none());

    // The same request from the server's own origin goes through.
    let response = http()
        .post(server.url("/admin/users"))
        .header("cookie", &admin)
        .header("origin", &server.base)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Sends `bytes` to `POST /user/avatar` as the file `name` of type `mime`, signed in with
/// `cookie`.
async fn upload_avatar(
    server: &Server,
    cookie: &str,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)?;
    http()
        .post(server.url("/user/avatar"))
        .header("cookie", cookie)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(&home, &[], FAST_HASH);
    let response = http()
        .post(server.url("/auth/login"))
        .json(&json!({ "username": "alice", "password": "x".repeat(100 * 1024) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let alice = sign_in(&server, "alice", "pw-alice").await;
    let big = vec![0u8; 3 * 1024 * 1024];
    let response = upload_avatar(&server, &alice, "big.png", "image/png", big).await;
    // The server may answer before reading the whole body, or close the connection.
    match response {
        Ok(response) => assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => panic!("no answer to an oversized upload: {e}"),
    }
    assert!(!home.path().join("user/alice/avatar.png").exists());

    // The avatar's own limit still applies on its route: an image larger than any JSON
    // body may be is taken.
    let noisy = image::RgbImage::from_fn(400, 400, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(97);
        image::Rgb([n as u8, (n >> 8) as u8, (n >> 16) as u8])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    noisy.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    assert!(png.len() > 256 * 1024, "{} bytes", png.len()); // four JSON bodies
    let response = upload_avatar(&server, &alice, "me.png", "image/png", png)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(home.path().join("user/alice/avatar.png").exists());
}

#[tokio::test]
async fn svg_and_renamed_text_files_are_refused_as_avatars() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(&home, &[], FAST_HASH);
    let alice = sign_in(&server, "alice", "pw-alice").await;
    let upload = |name: &'static str, mime: &'static str, bytes: &'static [u8]| {
        upload_avatar(&server, &alice, name, mime, bytes.to_vec())
    };
    let svg: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#;
    let response = upload("me.svg", "image/svg+xml", svg).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = upload("me.png", "image/png", b"I am text, honestly.\n")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!home.path().join("user/alice/avatar.png").exists());

    let avatar = http()
        .get(server.url("/avatar/user"))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.headers()["content-type"], "image/svg+xml");
}

#[tokio::test]
async fn the_cli_and_the_server_change_users_at_once_without_losing_updates() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(&home, &[], FAST_HASH);
    let cli = {
        let home_path = home.path().to_owned();
        std::thread::spawn(move || {
            for i in 0..6 {
                let out = std::process::Command::new(common::llms_bin())
                    .args(["--adduser", &format!("cli{i}"), "--password-stdin"])
                    .env("LLMS_HOME", &home_path)
                    .env("LLMS_PASSWORD_HASH", "sha256")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .and_then(|mut child| {
                        use std::io::Write;
                        child.stdin.take().unwrap().write_all(b"pw-long-enough\n")?;
                        child.wait()
                    })
                    .unwrap();
                assert!(out.success());
            }
        })
    };
    for _ in 0..4 {
        for user in ["alice", "bob", "carol"] {
            sign_in(&server, user, &format!("pw-{user}")).await;
        }
    }
    cli.join().unwrap();
    let users = home.users_json();
    for i in 0..6 {
        assert!(users.get(format!("cli{i}")).is_some(), "cli{i} lost");
    }
    for user in ["alice", "bob", "carol"] {
        assert!(users[user]["lastLogin"].is_f64(), "{user}'s sign-in lost");
    }
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let home = Home::new();
    users(&home);
    let mut server = Server::start_with(&home, &[], FAST_HASH);
    sign_in(&server, "alice", "pw-alice").await;
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(http().get(server.url("/config")).send().await.is_err());
}

#[tokio::test]
async fn the_log_never_holds_a_token_or_a_password() {
    let home = Home::new();
    users(&home);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let mut server = Server::start_logged(&home, &[], &[("LLMS_LOG", "debug")], &log);

    let mut tokens = Vec::new();
    let wrong = http()
        .post(server.url("/auth/login"))
        .json(&json!({ "username": "alice", "password": "wrong-guess-42" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let admin = sign_in(&server, "admin", "pw-admin").await;
    let alice = sign_in(&server, "alice", "pw-alice").await;
    tokens.push(token_of(&admin).to_owned());
    tokens.push(token_of(&alice).to_owned());

    let created = http()
        .post(server.url("/admin/users"))
        .header("cookie", &admin)
        .json(&json!({ "userName": "dave", "password": "pw-dave-new" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let reset = http()
        .put(server.url("/admin/users"))
        .header("cookie", &admin)
        .json(&json!({ "userName": "bob", "password": "pw-bob-reset" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let changed = http()
        .post(server.url("/account/change-password"))
        .header("cookie", &alice)
        .json(&json!({ "currentPassword": "pw-alice", "newPassword": "pw-alice-next" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let forged = common::random_token();
    assert_eq!(
        status_of(&server, "/auth", &format!("llms-token={forged}")).await,
        StatusCode::UNAUTHORIZED
    );
    let signed_out = http()
        .post(server.url("/auth/logout"))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::OK);
    assert!(server.terminate().success());

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("signed in") && text.contains("admin"),
        "the log is being written: {text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour codes in a log file");
    let stored = home.users_json();
    let hashes: Vec<String> = stored
        .as_object()
        .unwrap()
        .values()
        .map(|u| u["password_hash"].as_str().unwrap().to_owned())
        .collect();
    let secrets = tokens.iter().cloned().chain([forged]).chain(hashes).chain(
        [
            "wrong-guess-42",
            "pw-admin",
            "pw-alice",
            "pw-dave-new",
            "pw-bob-reset",
            "pw-alice-next",
        ]
        .map(String::from),
    );
    for secret in secrets {
        assert!(!text.contains(&secret), "{secret} in the log:\n{text}");
    }
}

#[tokio::test]
async fn a_session_folder_open_to_others_is_made_private_when_the_server_starts() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    users(&home);
    let folder = home.sessions_dir();
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let mut server = Server::start_logged(&home, &[], &[("LLMS_LOG", "info")], &log);
    let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let shown = folder.display().to_string();
    assert!(
        text.lines()
            .any(|line| line.contains("permissions tightened") && line.ends_with(&shown)),
        "{text}"
    );
}

#[tokio::test]
async fn the_auth_flag_wins_over_llms_auth() {
    let home = Home::new();
    users(&home);
    let provider = |server: &Server| {
        let url = server.url("/config");
        async move {
            http()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let server = Server::start_with(&home, &[], &[("LLMS_AUTH", "none")]);
    assert_eq!(
        provider(&server).await,
        json!({ "requiresAuth": false, "authProvider": "none", "authProviders": ["none"] })
    );
    drop(server);
    let server = Server::start_with(&home, &["--auth", "credentials"], &[("LLMS_AUTH", "none")]);
    assert_eq!(
        provider(&server).await,
        json!({ "requiresAuth": true, "authProvider": "credentials", "authProviders": ["credentials"] })
    );
    drop(server);
    let server = Server::start_with(&home, &[], &[("LLMS_AUTH", " ")]);
    assert_eq!(provider(&server).await["authProvider"], "credentials");
}

#[tokio::test]
async fn sigterm_stops_the_server_even_with_an_idle_connection_open() {
    let home = Home::new();
    users(&home);
    let mut server = Server::start_with(&home, &[], FAST_HASH);
    // One client, kept alive: its pooled keep-alive connection stays open and idle.
    let client = http();
    let response = client.get(server.url("/config")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(server.terminate().success());
    drop(client);
}

/// Reads from `stream` until the server closes it (or resets it), for at most `limit`.
/// Returns what was read and how long it took; panics if the connection is still open.
fn read_until_closed(
    stream: &mut std::net::TcpStream,
    limit: std::time::Duration,
) -> (Vec<u8>, std::time::Duration) {
    use std::io::Read;
    let started = std::time::Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the connection was still open after {:?} ({e}); received {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
        assert!(started.elapsed() < limit, "the connection stayed open");
    }
    (received, started.elapsed())
}

/// A server (fast hashes) whose timeout `variable` is one second.
fn with_one_second_timeout(home: &Home, variable: &str) -> Server {
    Server::start_with(home, &[], &[FAST_HASH[0], (variable, "1")])
}

#[tokio::test]
async fn slow_silent_and_idle_connections_are_closed_after_the_header_timeout() {
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::Duration;
    let home = Home::new();
    users(&home);
    let server = with_one_second_timeout(&home, "LLMS_HEADER_TIMEOUT_SECS");
    let addr = server.addr();
    // A slowloris: half a request's headers, then nothing.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    // A client that connects and says nothing at all.
    let silent = TcpStream::connect(&addr).unwrap();
    // A keep-alive client that made one request and then went idle.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();

    // Meanwhile, ordinary requests are served.
    let response = http().get(server.url("/config")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Each is closed by the server once the timeout has passed, not before.
    let limit = Duration::from_secs(6);
    let readers = [slow, silent, idle]
        .map(|mut stream| std::thread::spawn(move || read_until_closed(&mut stream, limit)));
    let [slow, silent, idle] = readers.map(|reader| reader.join().expect("reader thread"));
    for (what, (received, took)) in [("slow", slow), ("silent", silent)] {
        let text = String::from_utf8_lossy(&received);
        assert!(!text.contains("200 OK"), "{what}: {text}");
        assert!(
            took >= Duration::from_millis(700),
            "{what} closed after {took:?}"
        );
    }
    let text = String::from_utf8_lossy(&idle.0);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "idle: {text}");
}

/// The header timeout starts again with every request of a keep-alive connection: requests
/// that each come within it are all served, however long the connection lives, and once
/// the client stops, the connection is closed a timeout after its last answer.
#[tokio::test]
async fn the_header_timeout_starts_again_with_each_request_of_a_connection() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let home = Home::new();
    users(&home);
    let server = with_one_second_timeout(&home, "LLMS_HEADER_TIMEOUT_SECS");
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    for round in 0..4 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(600));
        }
        stream
            .write_all(b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        // `/config` is a small JSON object: the answer is whole once its closing brace is.
        while !answer.ends_with(b"}") {
            let n = stream.read(&mut buf).unwrap_or_else(|e| {
                panic!(
                    "round {round}: no answer after {:?}: {e}",
                    started.elapsed()
                )
            });
            assert!(n > 0, "round {round}: closed after {:?}", started.elapsed());
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "round {round}: {text}");
    }
    assert!(
        started.elapsed() > Duration::from_millis(1800),
        "the connection outlived the timeout"
    );
    let (received, took) = read_until_closed(&mut stream, Duration::from_secs(6));
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert!(took >= Duration::from_millis(700), "closed after {took:?}");
}

/// Sends `head` (a request line and headers announcing a long body) to `addr`, then body
/// bytes one every 100 ms until the server closes the connection, for at most `limit`.
/// Returns what the server sent, how long that took, and how many body bytes were sent.
fn trickle_body(
    addr: &str,
    head: &str,
    limit: std::time::Duration,
) -> (String, std::time::Duration, usize) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (mut stream, done, sent) = (stream.try_clone().unwrap(), done.clone(), sent.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) && stream.write_all(b"a").is_ok() {
                sent.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let (received, took) = read_until_closed(&mut stream, limit);
    done.store(true, Ordering::SeqCst);
    writer.join().expect("writer thread");
    let text = String::from_utf8_lossy(&received).into_owned();
    (text, took, sent.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off_with_408_at_the_body_timeout() {
    use std::time::Duration;
    let home = Home::new();
    users(&home);
    let bob = home.write_session("bob", "credentials", 0.0);
    let server = with_one_second_timeout(&home, "LLMS_BODY_TIMEOUT_SECS");
    let addr = server.addr();
    let sign_in = "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
        Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n";
    let upload = format!(
        "POST /user/avatar HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {bob}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
         --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
    );
    let readers = [sign_in.to_owned(), upload].map(|head| {
        let addr = addr.clone();
        std::thread::spawn(move || trickle_body(&addr, &head, Duration::from_secs(8)))
    });
    // Meanwhile, ordinary requests are served.
    let response = http().get(server.url("/config")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    for (what, reader) in ["sign-in", "avatar"].into_iter().zip(readers) {
        let (text, took, sent) = reader.join().expect("trickle thread");
        assert!(text.starts_with("HTTP/1.1 408"), "{what}: {text}");
        assert!(text.contains("connection: close"), "{what}: {text}");
        assert!(
            text.contains(
                r#"{"responseStatus":{"errorCode":"Error","message":"The request body took too long to arrive"}}"#
            ),
            "{what}: {text}"
        );
        // Cut off at the deadline although a byte arrived every 100 ms, and closed then.
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{what}: closed after {took:?}"
        );
        assert!(sent >= 5, "{what}: only {sent} bytes were sent");
    }
    assert!(!home.path().join("user/bob/avatar.png").exists());
}

#[tokio::test]
async fn the_real_server_refuses_a_request_for_an_unknown_host() {
    use std::io::Write;
    let home = Home::new();
    let server = Server::start_with(&home, &[], FAST_HASH);
    let addr = server.addr();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            b"GET /admin/users HTTP/1.1\r\nHost: attacker.example:8000\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let (received, _) = read_until_closed(&mut stream, std::time::Duration::from_secs(10));
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 421"), "{text}");
    // The server's own address is served (authentication is off: no users).
    let response = http().get(server.url("/admin/users")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Raw HTTP/1.1 `GET /config` from a socket bound to `source`, answered within `limit`.
async fn get_config_from(
    server: &Server,
    source: [u8; 4],
    limit: std::time::Duration,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .bind((std::net::Ipv4Addr::from(source), 0).into())
            .map_err(|e| e.to_string())?;
        let addr: std::net::SocketAddr = server.addr().parse().unwrap();
        let mut stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

/// The review's finding: 1,030 idle sockets from one address made another client's
/// request wait 7.4 s. One address may hold `LLMS_MAX_CONNECTIONS_PER_IP` connections
/// (64 unless set); a further one is closed at once, and other addresses are served.
#[tokio::test]
async fn one_client_cannot_hold_every_connection() {
    let home = Home::new();
    users(&home);
    let server = Server::start_with(
        &home,
        &[],
        &[
            FAST_HASH[0],
            ("LLMS_MAX_CONNECTIONS_PER_IP", "8"),
            ("LLMS_HEADER_TIMEOUT_SECS", "60"),
        ],
    );
    let addr: std::net::SocketAddr = server.addr().parse().unwrap();
    // The greedy client opens its eight connections and sends nothing on them.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // Give the server a moment to accept them all.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let limit = std::time::Duration::from_secs(2);
    // Its ninth connection is closed without an answer.
    let refused = get_config_from(&server, [127, 0, 0, 1], limit).await;
    assert!(
        refused.as_ref().is_err_and(|e| !e.contains("no answer")) || refused == Ok(String::new()),
        "the ninth connection of one address was served: {refused:?}"
    );
    // Another address is served at once.
    let started = std::time::Instant::now();
    let served = get_config_from(&server, [127, 0, 0, 2], limit)
        .await
        .unwrap();
    assert!(served.starts_with("HTTP/1.1 200 OK"), "{served}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // When the greedy client lets go, it is served again.
    held.clear();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let again = get_config_from(&server, [127, 0, 0, 1], limit)
        .await
        .unwrap();
    assert!(again.starts_with("HTTP/1.1 200 OK"), "{again}");
}

/// The review's finding: a username was logged raw, so a newline in a hand-written store
/// split the log line. Names are logged escaped.
#[tokio::test]
async fn a_username_with_a_newline_cannot_forge_a_log_line() {
    let home = Home::new();
    home.write_users(&[
        ("admin", "pw-admin", &["Admin"]),
        ("eve\nINFO forged: admin signed out", "pw-eve", &[]),
    ]);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let mut server = Server::start_logged(&home, &[], &[FAST_HASH[0], ("LLMS_LOG", "info")], &log);
    let eve = sign_in(&server, "eve\nINFO forged: admin signed out", "pw-eve").await;
    assert_eq!(status_of(&server, "/auth", &eve).await, StatusCode::OK);
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("eve\\nINFO forged"),
        "escaped in its line: {text}"
    );
    assert!(
        !text.lines().any(|line| line.starts_with("INFO forged")),
        "a forged line: {text}"
    );
}
