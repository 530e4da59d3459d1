//! The programs in `examples/` run for real: a third-party provider selected with `--auth`
//! in its own `llms`, and a host app that mounts the auth router. `cargo test` builds the
//! examples; these tests start the built binaries on 127.0.0.1:0.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{http, Home, Server};
use serde_json::Value;

/// `target/debug/examples/NAME`, next to this test's own `target/debug/deps/`.
fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples (or run `cargo build --examples`)",
        path.display()
    );
    path
}

/// The example binary with `home` as its LLMS_HOME and a clean environment.
fn example(name: &str, home: &Home) -> Command {
    let mut cmd = Command::new(example_bin(name));
    cmd.env("LLMS_HOME", home.path())
        .env_remove("LLMS_AUTH")
        .env_remove("LLMS_TRUSTED_PROXIES")
        .env("LLMS_LOG", "warn");
    cmd
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = http().get(url).header("accept", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn proxy_header_provider_is_selected_like_a_built_in_one() {
    let home = Home::new();
    home.add_user("admin", "pw-admin");
    let mut cmd = example("proxy_header", &home);
    cmd.args([
        "--auth",
        "proxy_header",
        "--serve",
        "0",
        "--host",
        "127.0.0.1",
    ])
    .env("LLMS_TRUSTED_PROXIES", "127.0.0.1");
    let server = Server::launch(cmd);

    let config: Value = get(&server.url("/config"), &[]).await.json().await.unwrap();
    assert_eq!(config["authProvider"], "proxy_header");
    assert_eq!(config["requiresAuth"], true);

    // The proxy vouches for alice: she is signed in, with no roles.
    let me = get(&server.url("/auth"), &[("x-forwarded-user", "alice")]).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["userName"], "alice");
    assert_eq!(me["authProvider"], "proxy_header");
    assert_eq!(me["roles"], serde_json::json!([]));
    // An account of users.json keeps its roles.
    let admin = get(
        &server.url("/admin/users"),
        &[("x-forwarded-user", "admin")],
    )
    .await;
    assert_eq!(admin.status(), 200);
    let alice = get(
        &server.url("/admin/users"),
        &[("x-forwarded-user", "alice")],
    )
    .await;
    assert_eq!(alice.status(), 403);
    // Without the header, or with a name that is not a username, nobody is signed in.
    assert_eq!(get(&server.url("/auth"), &[]).await.status(), 401);
    let odd = get(&server.url("/auth"), &[("x-forwarded-user", "../etc")]).await;
    assert_eq!(odd.status(), 401);
    // The Sign In page shows the provider's own section and no password form.
    let page = common::get_text(&server, "/login").await;
    assert!(page.contains("single sign-on"), "{page}");
    assert!(!page.contains(r#"type="password""#), "{page}");
}

#[tokio::test]
async fn proxy_header_is_ignored_from_untrusted_peers() {
    let home = Home::new();
    let mut cmd = example("proxy_header", &home);
    // 127.0.0.1 is not a trusted proxy here.
    cmd.args(["--auth", "proxy_header", "--serve", "0"])
        .env("LLMS_TRUSTED_PROXIES", "10.9.8.7");
    let server = Server::launch(cmd);
    let me = get(&server.url("/auth"), &[("x-forwarded-user", "alice")]).await;
    assert_eq!(me.status(), 401);
    let page = http()
        .get(server.url("/"))
        .header("accept", "text/html")
        .header("x-forwarded-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
}

#[test]
fn unknown_provider_names_list_the_registered_ones() {
    let home = Home::new();
    // The example's registry has the extra provider...
    let out = example("proxy_header", &home)
        .args(["--auth", "nope", "--serve", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("credentials, github_auth, none, oidc, proxy_header"),
        "{stderr}"
    );
    // ... and the stock `llms` does not.
    let out = home
        .llms()
        .args(["--auth", "proxy_header", "--serve", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown auth provider 'proxy_header'"),
        "{stderr}"
    );
}

#[tokio::test]
async fn host_app_mounts_the_auth_router_and_guards_its_own_routes() {
    let home = Home::new();
    // The first user is an Admin; alice, the second, is not.
    home.add_user("admin", "pw-admin");
    home.add_user("alice", "pw-alice");
    let mut cmd = example("host_app", &home);
    cmd.arg("0");
    let server = Server::launch(cmd);

    // Public on purpose (merged outside the guard).
    let health = get(&server.url("/healthz"), &[]).await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let hello = get(&server.url("/hello"), &[]).await.text().await.unwrap();
    assert_eq!(hello, "Hello, stranger!");

    // The app's own routes are denied without a session: 401 for the API, the sign-in
    // page for a browser.
    assert_eq!(get(&server.url("/api/dashboard"), &[]).await.status(), 401);
    let page = http()
        .get(server.url("/api/dashboard?x=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?next=/api/dashboard%3Fx%3D1"
    );
    let sign_in_page = http().get(server.url("/login")).send().await.unwrap();
    assert_eq!(sign_in_page.status(), 200);

    // Signing in through the mounted router opens them, with the app's own state.
    let login = http()
        .post(server.url("/auth/login"))
        .json(&serde_json::json!({"username": "alice", "password": "pw-alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = common::session_cookie(&login).expect("session cookie");
    for expected_visits in [1, 2] {
        let dashboard: Value = get(&server.url("/api/dashboard"), &[("cookie", &cookie)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(dashboard["user"], "alice");
        assert_eq!(dashboard["app"], "notes");
        assert_eq!(dashboard["admin"], false);
        assert_eq!(dashboard["visits"], expected_visits);
    }
    let hello = get(&server.url("/hello"), &[("cookie", &cookie)])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(hello, "Hello, alice!");
    // The extension's pages and API are there too.
    let me: Value = get(&server.url("/auth"), &[("cookie", &cookie)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "alice");
}
