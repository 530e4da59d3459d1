//! The API key commands (SPEC 9): `--addkey`, `--listkeys`, `--removekey`, run as the built
//! binary on a temporary `LLMS_HOME`, messages and exit statuses exact.

mod common;

use std::process::Output;

use common::Home;
use serde_json::Value;

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

fn keys_json(home: &Home) -> Value {
    let text = std::fs::read_to_string(home.path().join("credentials/keys.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Runs `--addkey` and returns (id, key) from its three lines, checking them.
fn add_key(home: &Home, user: &str, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["--addkey", user, "--name", name];
    args.extend_from_slice(extra);
    let out = run(home, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let prefix = format!("API key '{name}' for '{user}' (id ");
    let id = lines[0]
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("):"))
        .unwrap_or_else(|| panic!("first line: {}", lines[0]));
    assert_eq!(id.len(), 12);
    let key = lines[1];
    assert!(key.starts_with("sk-llms-") && key.len() == 8 + 43, "{key}");
    assert_eq!(lines[2], "Store it now: it is not shown again.");
    (id.to_owned(), key.to_owned())
}

#[test]
fn keys_are_made_listed_and_removed_with_exact_messages() {
    let home = Home::new();
    home.add_user("alice", "pw-alice-long");
    home.add_user("bob", "pw-bob-long");

    let out = run(&home, &["--listkeys"]);
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(0), "No API keys.\n".into())
    );

    let (id, key) = add_key(
        &home,
        "alice",
        "my laptop",
        &["--expires", "30", "--models", "alpha, beta", "--rpm", "10"],
    );
    let stored = &keys_json(&home)[&id];
    assert_eq!(stored["userName"], "alice");
    assert_eq!(stored["name"], "my laptop");
    assert_eq!(stored["models"], serde_json::json!(["alpha", "beta"]));
    assert_eq!(stored["rpm"], 10);
    let file = std::fs::read_to_string(home.path().join("credentials/keys.json")).unwrap();
    assert!(
        !file.contains(&key["sk-llms-".len()..]),
        "the key is stored"
    );
    let (bob_id, _) = add_key(&home, "bob", "ci", &[]);

    let listing = stdout(&run(&home, &["--listkeys"]));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    let secret = &key["sk-llms-".len()..];
    let hint = format!("sk-llms-{}…{}", &secret[..4], &secret[39..]);
    let expected_start = format!("  {id}  alice  my laptop  {hint}  (created: ");
    assert!(lines[0].starts_with(&expected_start), "{}", lines[0]);
    assert!(lines[0].contains(", expires: 20"), "{}", lines[0]);
    assert!(lines[0].ends_with(", last used: never)"), "{}", lines[0]);
    assert!(
        lines[1].contains("expires: never, last used: never)"),
        "{}",
        lines[1]
    );
    assert!(!listing.contains(secret));
    let only_bob = stdout(&run(&home, &["--listkeys", "bob"]));
    assert_eq!(only_bob.lines().count(), 1);
    assert!(only_bob.starts_with(&format!("  {bob_id}  bob  ci  ")));

    let out = run(&home, &["--removekey", &id]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("API key '{id}' removed.\n"));
    let out = run(&home, &["--removekey", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), format!("API key '{id}' not found.\n"));
    assert_eq!(stdout(&out), "");

    // Audited by id, never the key.
    let audit = std::fs::read_to_string(home.path().join("credentials/audit.log")).unwrap();
    assert!(audit.contains("\"key_created\"") && audit.contains("\"key_removed\""));
    assert!(audit.contains(&id) && !audit.contains(secret));
}

#[test]
fn bad_key_commands_say_why_and_change_nothing() {
    let home = Home::new();
    home.add_user("alice", "pw-alice-long");
    let out = run(&home, &["--addkey", "carol", "--name", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "User 'carol' not found.\n");
    assert_eq!(stdout(&out), "");
    for (args, message) in [
        (&["--expires", "0"][..], "A key lasts 1 to 3650 days."),
        (&["--expires", "3651"][..], "A key lasts 1 to 3650 days."),
        (
            &["--models", " , "][..],
            "List the models the key may use, or leave the list out for all.",
        ),
        (
            &["--rpm", "0"][..],
            "A key's requests per minute are 1 to 100000.",
        ),
    ] {
        let mut all = vec!["--addkey", "alice", "--name", "x"];
        all.extend_from_slice(args);
        let out = run(&home, &all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), format!("{message}\n"), "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    // Usage errors: exit 2.
    for args in [
        &["--addkey", "alice"][..],
        &["--addkey", "alice", "--name", "x", "--rpm", "many"][..],
        &["--name", "x"][..],
        &["--addkey", "alice", "--name", "x", "--listkeys"][..],
    ] {
        let out = run(&home, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert!(!home.path().join("credentials/keys.json").exists());
}

#[test]
fn removing_a_user_removes_their_keys() {
    let home = Home::new();
    home.add_user("alice", "pw-alice-long");
    home.add_user("bob", "pw-bob-long");
    add_key(&home, "alice", "a1", &[]);
    add_key(&home, "alice", "a2", &[]);
    let (bob_id, _) = add_key(&home, "bob", "b", &[]);
    let out = run(&home, &["--removeuser", "alice"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let left: Vec<String> = keys_json(&home)
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(left, [bob_id]);
    let audit = std::fs::read_to_string(home.path().join("credentials/audit.log")).unwrap();
    assert!(audit.contains("API keys removed"), "{audit}");
}
