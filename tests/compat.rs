//! Compatibility with llms.py itself: its own code (llms-py 4.0.26, driven by
//! `tests/reference/compat.py`) writes stores we must read and reads stores we write.
//!
//! `LLMS_REFERENCE_PYTHON` names a Python interpreter with llms-py==4.0.26 installed. Unset,
//! these tests say they were skipped; with `LLMS_REQUIRE_REFERENCE=1` a missing interpreter
//! is a failure.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::python::{cli_op, hash_op, load_op, reference, verify_op};
use common::{http, sign_in, Home, Server};
use llms_auth::password::{verify_password, HashScheme};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The text a `cli` operation printed.
fn printed(result: &Value) -> &str {
    result.as_str().expect("printed text")
}

/// Our CLI on `home` with `envs`; asserts success and returns standard output. Passwords
/// of any length are taken, as the reference takes them: these tests compare what is
/// stored, not the length policy.
fn ours(home: &Home, args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> String {
    let mut child = home
        .llms()
        .args(args)
        .env("TZ", "UTC")
        .env("LLMS_MIN_PASSWORD_LENGTH", "1")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "llms {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn login(server: &Server, user: &str, password: &str) -> (StatusCode, Value) {
    let response = http()
        .post(server.url("/auth/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// The raw store: the reference's layout is 2-space indented JSON.
fn assert_reference_layout(text: &str, first_user: &str) {
    assert!(
        text.starts_with(&format!(
            "{{\n  \"{first_user}\": {{\n    \"password_hash\": \""
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_store_written_by_llms_py_loads_and_its_users_sign_in() {
    let Some(reference) = reference("a_store_written_by_llms_py_loads_and_its_users_sign_in")
    else {
        return;
    };
    let home = Home::new();
    let users = [
        ("admin", "pw-admin"),
        ("alice", "pässwörd ✓"),
        ("bob", "pw-bob"),
    ];
    let mut operations: Vec<Value> = users
        .iter()
        .map(|(name, password)| {
            cli_op(
                home.path(),
                &["--adduser", name],
                &format!("{password}\n{password}\n"),
            )
        })
        .collect();
    operations.push(cli_op(
        home.path(),
        &["--lockuser", "bob"],
        "On vacation until March\n",
    ));
    let results = reference.batch(&operations);
    for ((name, _), result) in users.iter().zip(&results) {
        assert!(
            printed(result).contains(&format!("User '{name}' added.")),
            "{result}"
        );
    }
    assert!(
        printed(&results[3]).contains("User 'bob' locked: On vacation until March"),
        "{}",
        results[3]
    );

    // The file is in the reference's exact layout.
    let text = std::fs::read_to_string(home.users_file()).unwrap();
    assert_reference_layout(&text, "admin");
    let written: Value = serde_json::from_str(&text).unwrap();
    assert!(written["admin"]["created"].is_f64());
    assert!(written["admin"].get("locked").is_none());
    assert_eq!(written["admin"]["roles"], json!(["Admin"]));

    // Our CLI reads it.
    let listing = ours(&home, &["--listusers"], "", &[]);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(lines[0].starts_with("  admin  (created: "), "{listing}");
    assert!(lines[2].starts_with("  bob    (created: "), "{listing}");
    assert!(
        lines[2].ends_with("  LOCKED: On vacation until March"),
        "{listing}"
    );

    // Its users sign in; the locked one hears why.
    let server = Server::start(&home, &[]);
    let (status, body) = login(&server, "admin", "pw-admin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["roles"], json!(["Admin"]));
    sign_in(&server, "alice", "pässwörd ✓").await;
    let (status, body) = login(&server, "bob", "pw-bob").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["responseStatus"]["message"], "On vacation until March");
    assert_eq!(
        login(&server, "alice", "wrong").await.0,
        StatusCode::UNAUTHORIZED
    );

    // After our rewrite (upgraded hashes, sign-in times) llms.py still loads the file.
    let text = std::fs::read_to_string(home.users_file()).unwrap();
    assert_reference_layout(&text, "admin");
    let results = reference.batch(&[
        load_op(&home.users_file()),
        cli_op(home.path(), &["--listusers"], ""),
    ]);
    let loaded = &results[0];
    assert_eq!(loaded, &serde_json::from_str::<Value>(&text).unwrap());
    assert!(loaded["admin"].get("locked").is_none());
    assert_eq!(loaded["bob"]["locked"], "On vacation until March");
    assert_eq!(loaded["bob"]["created"], written["bob"]["created"]);
    assert!(
        printed(&results[1]).contains("  alice  (created: "),
        "{}",
        results[1]
    );
}

#[tokio::test]
async fn a_reference_user_is_upgraded_to_argon2id_at_sign_in() {
    let Some(reference) = reference("a_reference_user_is_upgraded_to_argon2id_at_sign_in") else {
        return;
    };
    // Where llms.py itself keeps the store: LLMS_HOME/user/default/credentials/users.json.
    let home = Home::new();
    let llms_py = home.path().join("user/default");
    let store = llms_py.join("credentials/users.json");
    reference.batch(&[
        cli_op(&llms_py, &["--adduser", "dave"], "pw-dave\npw-dave\n"),
        cli_op(&llms_py, &["--adduser", "erin"], "pw-erin\npw-erin\n"),
    ]);
    let read = |path: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let before = read(&store);

    // Default scheme: the legacy hash is replaced at the first successful sign-in.
    let mut server = Server::start(&home, &[]);
    assert_eq!(
        login(&server, "dave", "wrong").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        read(&store)["dave"],
        before["dave"],
        "no upgrade on failure"
    );
    sign_in(&server, "dave", "pw-dave").await;
    let upgraded = read(&store)["dave"]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    sign_in(&server, "dave", "pw-dave").await;
    server.stop();

    // LLMS_PASSWORD_HASH=sha256 keeps the shared format, and llms.py still verifies it.
    let server = Server::start_with(&home, &[], &[("LLMS_PASSWORD_HASH", "sha256")]);
    sign_in(&server, "erin", "pw-erin").await;
    let kept = read(&store)["erin"]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(kept, before["erin"]["password_hash"].as_str().unwrap());
    assert_eq!(reference.one(verify_op("pw-erin", &kept)), true);
    assert!(
        !home.users_file().exists(),
        "llms.py's store stays the only one"
    );
}

#[tokio::test]
async fn a_store_written_here_stays_loadable_by_llms_py() {
    let Some(reference) = reference("a_store_written_here_stays_loadable_by_llms_py") else {
        return;
    };
    let home = Home::new();
    let shared = [("LLMS_PASSWORD_HASH", "sha256")];
    for (name, password) in [
        ("admin", "pw-admin"),
        ("alice", "pw-alice"),
        ("bob", "pw-bob"),
    ] {
        ours(
            &home,
            &["--adduser", name, "--password-stdin"],
            &format!("{password}\n"),
            &shared,
        );
    }
    ours(
        &home,
        &["--lockuser", "bob", "--reason", "Left the team"],
        "",
        &[],
    );
    {
        let server = Server::start_with(&home, &[], &shared);
        let admin = sign_in(&server, "admin", "pw-admin").await;
        let created = http()
            .post(server.url("/admin/users"))
            .header("cookie", &admin)
            .json(&json!({ "userName": "carol", "password": "pw-carol" }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::OK);
    }

    let text = std::fs::read_to_string(home.users_file()).unwrap();
    assert_reference_layout(&text, "admin");
    let stored: Value = serde_json::from_str(&text).unwrap();
    let passwords = [
        ("admin", "pw-admin"),
        ("alice", "pw-alice"),
        ("bob", "pw-bob"),
        ("carol", "pw-carol"),
    ];
    let mut operations = vec![load_op(&home.users_file())];
    for (name, password) in passwords {
        let hash = stored[name]["password_hash"].as_str().unwrap();
        operations.push(verify_op(password, hash));
        operations.push(verify_op("wrong", hash));
    }
    // llms.py's own CLI on our file: list, unlock, lock.
    operations.push(cli_op(home.path(), &["--listusers"], ""));
    operations.push(cli_op(home.path(), &["--unlockuser", "bob"], ""));
    operations.push(cli_op(
        home.path(),
        &["--lockuser", "alice"],
        "Sabbatical\n",
    ));
    let results = reference.batch(&operations);

    let loaded = &results[0];
    assert_eq!(loaded, &stored);
    assert_eq!(loaded["admin"]["lastIp"], "127.0.0.1");
    assert!(loaded["admin"]["lastLogin"].is_f64() && loaded["carol"]["created"].is_f64());
    assert!(
        loaded["alice"].get("locked").is_none(),
        "no locked key when active"
    );
    for (i, (name, _)) in passwords.iter().enumerate() {
        assert_eq!(results[1 + 2 * i], true, "llms.py verifies {name}");
        assert_eq!(results[2 + 2 * i], false, "{name} with a wrong password");
    }
    let listing = printed(&results[9]);
    assert!(
        listing.contains("  bob  (created: ") && listing.contains("LOCKED: Left the team"),
        "{listing}"
    );
    assert!(printed(&results[10]).contains("User 'bob' unlocked."));
    assert!(printed(&results[11]).contains("User 'alice' locked: Sabbatical"));

    // ... and kept the fields it does not know: carol, made by an Admin, must still
    // choose her own password (SPEC 12).
    assert_eq!(home.users_json()["carol"]["mustChangePassword"], true);
    // ... and we read what it wrote.
    assert_eq!(
        ours(&home, &["--lockuser"], "", &[]),
        "Users:\n  admin\n  alice  (LOCKED: Sabbatical)\n  bob\n  carol\n"
    );

    // Argon2id hashes (our default) still leave the file loadable.
    ours(
        &home,
        &["--adduser", "dave", "--password-stdin"],
        "pw-dave\n",
        &[],
    );
    let results = reference.batch(&[
        load_op(&home.users_file()),
        cli_op(home.path(), &["--listusers"], ""),
    ]);
    assert!(results[0]["dave"]["password_hash"]
        .as_str()
        .unwrap()
        .starts_with("$argon2id$"));
    assert!(
        printed(&results[1]).contains("  dave  (created: "),
        "{}",
        results[1]
    );
}

#[test]
fn sha256_hashes_agree_both_ways() {
    let Some(reference) = reference("sha256_hashes_agree_both_ways") else {
        return;
    };
    let passwords = [
        "hunter2",
        "pässwörd ✓ 密码",
        "with spaces and :colons:",
        "x",
    ];

    // Written by our CLI with LLMS_PASSWORD_HASH=sha256, verified by llms.py; and written
    // by llms.py, verified here.
    let home = Home::new();
    let mut operations = Vec::new();
    for (i, password) in passwords.iter().enumerate() {
        let name = format!("user{i}");
        ours(
            &home,
            &["--adduser", &name, "--password-stdin"],
            &format!("{password}\n"),
            &[("LLMS_PASSWORD_HASH", "sha256")],
        );
        let hash = home.users_json()[&name]["password_hash"]
            .as_str()
            .unwrap()
            .to_owned();
        operations.push(verify_op(password, &hash));
        operations.push(verify_op(&format!("{password} "), &hash));
        operations.push(hash_op(password));
    }
    let results = reference.batch(&operations);
    for (i, password) in passwords.iter().enumerate() {
        assert_eq!(results[3 * i], true, "{password:?}");
        assert_eq!(results[3 * i + 1], false, "{password:?} plus a space");
        let theirs = results[3 * i + 2].as_str().unwrap();
        assert!(
            verify_password(password, theirs, HashScheme::Sha256).is_match(),
            "{password:?}"
        );
        assert!(!verify_password("wrong", theirs, HashScheme::Sha256).is_match());
    }
}
