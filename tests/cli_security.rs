//! The account-security commands (SPEC 12): `--reset-link NAME [--base-url URL]` and
//! `--reset-2fa NAME`, run as the built binary on a temporary `LLMS_HOME`, messages and
//! exit statuses exact, and the link used on a real server.

mod common;

use std::process::Output;

use common::{http, Home, Server};
use serde_json::{json, Value};

fn run(home: &Home, args: &[&str]) -> Output {
    let mut cmd = home.llms();
    cmd.args(args).env("TZ", "UTC");
    cmd.stdin(std::process::Stdio::null());
    cmd.output().expect("run llms")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `admin` (Admin), `alice`, and `bob` (locked); passwords `pw-<name>`.
fn home_with_users() -> Home {
    let home = Home::new();
    home.write_users(&[
        ("admin", "pw-admin", &["Admin"]),
        ("alice", "pw-alice", &[]),
        ("bob", "pw-bob", &[]),
    ]);
    let mut users = home.users_json();
    users["bob"]["locked"] = json!("Left the team");
    home.write_users_json(&users);
    home
}

/// The token of the one line `--reset-link` printed, which starts with `base`.
fn printed_token(out: &Output, base: &str) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "the link alone on a line: {text:?}");
    let token = lines[0]
        .strip_prefix(&format!("{base}/reset#"))
        .unwrap_or_else(|| panic!("{text:?}"));
    assert_eq!(token.len(), 43, "{token}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    token.to_owned()
}

#[tokio::test]
async fn reset_link_prints_a_link_the_server_honours_once() {
    let home = home_with_users();
    let out = run(&home, &["--reset-link", "alice"]);
    let token = printed_token(&out, "http://127.0.0.1:8000");
    assert_eq!(
        stderr(&out).trim(),
        "The link works once, for 30 minutes; a newer link for 'alice' replaces it."
    );
    let stored = home.users_json()["alice"]["resetLink"].clone();
    assert_eq!(stored["hash"].as_str().unwrap().len(), 64);
    assert!(
        !home.users_json().to_string().contains(&token),
        "only its digest"
    );

    let server = Server::start(&home, &[]);
    let client = http();
    let reset = |token: String| {
        client
            .post(server.url("/auth/reset"))
            .json(&json!({ "token": token, "newPassword": "chosen-by-alice" }))
            .send()
    };
    let reply = reset(token.clone()).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<Value>().await.unwrap()["userName"], "alice");
    common::sign_in(&server, "alice", "chosen-by-alice").await;
    assert_eq!(reset(token).await.unwrap().status(), 400, "once only");

    let audit = stdout(&run(&home, &["--audit"]));
    assert!(
        audit
            .lines()
            .any(|l| l.contains("reset_link_created") && l.contains("cli")),
        "{audit}"
    );
    assert!(audit.contains("password_reset"), "{audit}");
}

#[test]
fn base_url_starts_the_link_and_a_newer_link_replaces_the_older() {
    let home = home_with_users();
    let first = run(
        &home,
        &[
            "--reset-link",
            "alice",
            "--base-url",
            "https://llms.example.org/",
        ],
    );
    let first = printed_token(&first, "https://llms.example.org");
    let hash = home.users_json()["alice"]["resetLink"]["hash"].clone();
    let second = run(
        &home,
        &[
            "--reset-link",
            "alice",
            "--base-url",
            "http://10.0.0.5:8000/llms",
        ],
    );
    let second = printed_token(&second, "http://10.0.0.5:8000/llms");
    assert_ne!(first, second);
    assert_ne!(home.users_json()["alice"]["resetLink"]["hash"], hash);
}

#[test]
fn reset_link_refusals_are_exact_and_change_nothing() {
    let home = home_with_users();
    let before = std::fs::read(home.users_file()).unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["--reset-link", "zed"],
            1,
            "User 'zed' not found. llms --listusers shows the users there are.",
        ),
        (
            &["--reset-link", "bob"],
            1,
            "User 'bob' is locked: unlock the account before making a reset link",
        ),
        (
            &["--reset-link", "alice", "--base-url", "llms.example.org"],
            1,
            "--base-url must be the address people open the server at, such as http://127.0.0.1:8000 or https://llms.example.org (got 'llms.example.org')",
        ),
        (
            &["--reset-link", "alice", "--base-url", "https://x/#frag"],
            1,
            "--base-url must be the address people open the server at, such as http://127.0.0.1:8000 or https://llms.example.org (got 'https://x/#frag')",
        ),
        (
            &["--reset-2fa", "zed"],
            1,
            "User 'zed' not found. llms --listusers shows the users there are.",
        ),
    ];
    for (args, code, message) in cases {
        let out = run(&home, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        assert_eq!(stderr(&out).trim(), message, "{args:?}");
        assert_eq!(
            std::fs::read(home.users_file()).unwrap(),
            before,
            "{args:?}"
        );
    }
    // --base-url belongs to --reset-link; the two commands go alone.
    for args in [
        &["--base-url", "https://x"][..],
        &["--reset-link", "alice", "--reset-2fa", "alice"],
        &["--reset-link"],
    ] {
        let out = run(&home, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn reset_2fa_turns_it_off_and_says_when_it_was_not_on() {
    let home = home_with_users();
    let out = run(&home, &["--reset-2fa", "alice"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "'alice' does not have two-factor sign-in on."
    );
    let mut users = home.users_json();
    users["alice"]["twoFactor"] = json!({
        "secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "confirmed": 1796000000.0,
        "lastStep": 0,
        "recoveryCodes": [],
    });
    home.write_users_json(&users);
    let out = run(&home, &["--reset-2fa", "alice"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "Two-factor sign-in turned off for 'alice'; they sign in with their password alone until they turn it on again."
    );
    assert!(home.users_json()["alice"].get("twoFactor").is_none());
    let audit = stdout(&run(&home, &["--audit"]));
    assert!(
        audit
            .lines()
            .any(|l| l.contains("2fa_disabled") && l.contains("cli") && l.contains("alice")),
        "{audit}"
    );
}
