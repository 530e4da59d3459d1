//! The `llms` user-management commands, run as the built binary on a temporary
//! `LLMS_HOME`. Password prompts are driven through a pseudo-terminal whose echo is on, so
//! a password the program forgot to hide would show in the output.

mod common;

use std::process::{Output, Stdio};

use common::{pty_finish, type_secret, Home};
use serde_json::{json, Value};

/// A stored `created` time: 2025-03-15 10:30:00 UTC, the seed's example.
const CREATED: f64 = 1742034600.0;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `llms args...` with standard input closed, in UTC (for the dates in listings).
fn run(home: &Home, args: &[&str]) -> Output {
    let mut cmd = home.llms();
    cmd.args(args).env("TZ", "UTC");
    bounded(cmd)
}

/// Runs `cmd` with standard input closed; a command that should fail at once but starts
/// serving instead is killed after 20 s and fails the test.
fn bounded(mut cmd: std::process::Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run llms");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait llms").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("llms {:?} did not exit within 20 s", cmd.get_args());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().expect("llms output")
}

/// A store with `admin` (Admin), `alice` and `bob` (locked), in the reference's layout.
fn seed_store(home: &Home) {
    home.write_users_json(&json!({
        "admin": {
            "password_hash": common::sha256_hash("pw-admin"),
            "created": CREATED,
            "roles": ["Admin"],
        },
        "alice": {
            "password_hash": common::sha256_hash("pw-alice"),
            "created": CREATED + 1800.0,
            "roles": [],
        },
        "bob": {
            "password_hash": common::sha256_hash("pw-bob"),
            "created": 1742116500.0,
            "roles": [],
            "locked": "Account suspended",
        },
    }));
}

#[test]
fn adduser_prompts_twice_without_echo_and_stores_an_argon2id_hash() {
    let home = Home::new();
    let mut pty = home.pty(&["--adduser", "alice"]);
    pty.exp_string("Enter password for 'alice': ").unwrap();
    type_secret(&mut pty, "Tr0ub4dor&3");
    pty.exp_string("Confirm password: ").unwrap();
    type_secret(&mut pty, "Tr0ub4dor&3");
    pty.exp_string("User 'alice' added.").unwrap();
    // The first user of an empty store manages the others.
    pty.exp_string("'alice' is an Admin: the first user manages the others.")
        .unwrap();
    let (rest, code) = pty_finish(pty);
    assert_eq!(code, 0, "{rest}");
    assert!(!rest.contains("Tr0ub4dor"), "password shown: {rest}");

    let users = home.users_json();
    let alice = &users["alice"];
    let hash = alice["password_hash"].as_str().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("Tr0ub4dor"));
    assert_eq!(
        alice["roles"],
        json!(["Admin"]),
        "the first user is an Admin"
    );
    assert!(alice["created"].is_f64(), "created is float seconds");
    assert!(alice.get("locked").is_none(), "no locked key when active");
}

#[test]
fn the_whole_session_never_shows_the_password() {
    // Everything the terminal received, prompts included, is free of the password.
    let home = Home::new();
    let mut pty = home.pty_with(&["--adduser", "carol"], &[("LLMS_PASSWORD_HASH", "sha256")]);
    let mut seen = pty.exp_string("Enter password for 'carol': ").unwrap();
    type_secret(&mut pty, "correct-horse");
    seen += &pty.exp_string("Confirm password: ").unwrap();
    type_secret(&mut pty, "correct-horse");
    let (rest, code) = pty_finish(pty);
    seen += &rest;
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("User 'carol' added."), "{seen}");
    assert!(!seen.contains("correct-horse"), "password shown: {seen}");
}

#[test]
fn mismatched_confirmation_fails_and_writes_nothing() {
    let home = Home::new();
    let mut pty = home.pty(&["--adduser", "alice"]);
    pty.exp_string("Enter password for 'alice': ").unwrap();
    type_secret(&mut pty, "first-pw");
    pty.exp_string("Confirm password: ").unwrap();
    type_secret(&mut pty, "second-pw");
    pty.exp_string("Passwords do not match.").unwrap();
    let (rest, code) = pty_finish(pty);
    assert_eq!(code, 1, "{rest}");
    assert!(!home.users_file().exists(), "nothing written");
}

#[test]
fn empty_password_is_refused_before_the_confirmation() {
    let home = Home::new();
    let mut pty = home.pty(&["--adduser", "alice"]);
    pty.exp_string("Enter password for 'alice': ").unwrap();
    type_secret(&mut pty, "");
    let before = pty.exp_string("Password cannot be empty.").unwrap();
    let (rest, code) = pty_finish(pty);
    assert_eq!(code, 1, "{before}{rest}");
    assert!(
        !before.contains("Confirm") && !rest.contains("Confirm"),
        "no confirmation prompt: {before}{rest}"
    );
    assert!(!home.users_file().exists(), "nothing written");
}

#[test]
fn adduser_on_an_existing_user_changes_only_the_password_and_ends_its_sessions() {
    let home = Home::new();
    home.write_users_json(&json!({
        "bob": {
            "password_hash": common::sha256_hash("old-pw"),
            "created": CREATED,
            "roles": ["Editor"],
            "locked": "On vacation",
            "lastIp": "10.1.2.3",
            "lastLogin": CREATED + 60.0,
            "theme": "dark",
        },
        "carol": {
            "password_hash": common::sha256_hash("pw-carol"),
            "created": CREATED,
            "roles": [],
        },
    }));
    let before = home.users_json();
    let bob_session = home.write_session("bob", "credentials", 60.0);
    let carol_session = home.write_session("carol", "credentials", 60.0);

    let mut pty = home.pty_with(&["--adduser", "bob"], &[("LLMS_PASSWORD_HASH", "sha256")]);
    let announced = pty.exp_string("Enter password for 'bob': ").unwrap();
    assert!(
        announced.contains("User 'bob' already exists. Updating password."),
        "{announced}"
    );
    type_secret(&mut pty, "new-password-1");
    pty.exp_string("Confirm password: ").unwrap();
    type_secret(&mut pty, "new-password-1");
    pty.exp_string("Password for 'bob' updated.").unwrap();
    let (rest, code) = pty_finish(pty);
    assert_eq!(code, 0, "{rest}");

    let after = home.users_json();
    assert_ne!(
        after["bob"]["password_hash"],
        before["bob"]["password_hash"]
    );
    let mut bob_after = after["bob"].clone();
    let mut bob_before = before["bob"].clone();
    bob_after.as_object_mut().unwrap().remove("password_hash");
    bob_before.as_object_mut().unwrap().remove("password_hash");
    assert_eq!(
        bob_after, bob_before,
        "roles, lock, created and the rest stay"
    );
    assert_eq!(after["carol"], before["carol"]);

    assert!(!home.session_file(common::token_of(&bob_session)).exists());
    assert!(home.session_file(common::token_of(&carol_session)).exists());
}

#[test]
fn the_name_admin_gets_the_admin_role_and_others_none() {
    let home = Home::new();
    home.add_user("admin", "pw-admin");
    home.add_user("alice", "pw-alice");
    let users = home.users_json();
    assert_eq!(users["admin"]["roles"], json!(["Admin"]));
    assert_eq!(users["alice"]["roles"], json!([]));
}

#[test]
fn password_stdin_reads_one_line_and_the_sha256_scheme_writes_reference_hashes() {
    let home = Home::new();
    let out = home
        .llms()
        .args(["--adduser", "dave", "--password-stdin"])
        .env("LLMS_PASSWORD_HASH", "sha256")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"s3cret-pass\r\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "User 'dave' added.\n'dave' is an Admin: the first user manages the others.\n"
    );
    let hash = home.users_json()["dave"]["password_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (salt, digest) = hash.split_once(':').unwrap();
    assert_eq!(salt.len(), 32);
    use sha2::{Digest, Sha256};
    assert_eq!(
        digest,
        hex::encode(Sha256::digest(format!("{salt}s3cret-pass"))),
        "line ending stripped, reference recipe"
    );
}

#[test]
fn lockuser_prompts_for_a_reason_and_ends_sessions() {
    let home = Home::new();
    seed_store(&home);
    let alice_session = home.write_session("alice", "credentials", 60.0);
    let admin_session = home.write_session("admin", "credentials", 60.0);

    let mut pty = home.pty(&["--lockuser", "alice"]);
    pty.exp_string("Reason for locking 'alice': ").unwrap();
    pty.send_line("On vacation until March").unwrap();
    pty.exp_string("User 'alice' locked: On vacation until March")
        .unwrap();
    let (rest, code) = pty_finish(pty);
    assert_eq!(code, 0, "{rest}");
    assert_eq!(
        home.users_json()["alice"]["locked"],
        "On vacation until March"
    );
    assert!(!home.session_file(common::token_of(&alice_session)).exists());
    assert!(home.session_file(common::token_of(&admin_session)).exists());
}

#[test]
fn an_empty_lock_reason_means_account_suspended() {
    let home = Home::new();
    seed_store(&home);
    let mut pty = home.pty(&["--lockuser", "alice"]);
    pty.exp_string("Reason for locking 'alice': ").unwrap();
    pty.send_line("   ").unwrap();
    pty.exp_string("User 'alice' locked: Account suspended")
        .unwrap();
    let (rest, code) = pty_finish(pty);
    assert_eq!(code, 0, "{rest}");
    assert_eq!(home.users_json()["alice"]["locked"], "Account suspended");
}

#[test]
fn lockuser_reason_flag_needs_no_terminal() {
    let home = Home::new();
    seed_store(&home);
    let out = run(&home, &["--lockuser", "alice", "--reason", "Left the team"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'alice' locked: Left the team\n");
    assert_eq!(home.users_json()["alice"]["locked"], "Left the team");
}

#[test]
fn lockuser_without_a_name_lists_users_with_their_lock() {
    let home = Home::new();
    let out = run(&home, &["--lockuser"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "No users configured.\n");

    seed_store(&home);
    let out = run(&home, &["--lockuser"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Users:\n  admin\n  alice\n  bob  (LOCKED: Account suspended)\n"
    );
}

#[test]
fn unlockuser_unlocks_reports_not_locked_and_not_found() {
    let home = Home::new();
    seed_store(&home);
    let out = run(&home, &["--unlockuser", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'bob' unlocked.\n");
    assert!(home.users_json()["bob"].get("locked").is_none());

    let out = run(&home, &["--unlockuser", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'bob' is not locked.\n");

    let before = std::fs::read(home.users_file()).unwrap();
    let out = run(&home, &["--unlockuser", "zed"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("User 'zed' not found."),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(home.users_file()).unwrap(), before);
}

#[test]
fn removeuser_removes_the_user_and_its_sessions() {
    let home = Home::new();
    seed_store(&home);
    let alice_session = home.write_session("alice", "credentials", 60.0);
    let admin_session = home.write_session("admin", "credentials", 60.0);
    let out = run(&home, &["--removeuser", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'alice' removed.\n");
    let users = home.users_json();
    assert!(users.get("alice").is_none());
    assert!(users.get("admin").is_some() && users.get("bob").is_some());
    assert!(!home.session_file(common::token_of(&alice_session)).exists());
    assert!(home.session_file(common::token_of(&admin_session)).exists());
}

#[test]
fn listusers_pads_names_like_the_seed() {
    let home = Home::new();
    let out = run(&home, &["--listusers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "No users configured.\n");

    seed_store(&home);
    let out = run(&home, &["--listusers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The seed's example, character for character.
    assert_eq!(
        stdout(&out),
        "  admin  (created: 2025-03-15 10:30:00)\n\
         \x20 alice  (created: 2025-03-15 11:00:00)\n\
         \x20 bob    (created: 2025-03-16 09:15:00)  LOCKED: Account suspended\n"
    );
}

#[test]
fn commands_on_a_missing_user_fail_with_not_found() {
    let home = Home::new();
    seed_store(&home);
    let before = std::fs::read(home.users_file()).unwrap();
    for args in [
        &["--removeuser", "zed"][..],
        &["--lockuser", "zed", "--reason", "x"],
        &["--lockuser", "zed"],
        &["--unlockuser", "zed"],
    ] {
        let out = run(&home, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("User 'zed' not found."),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(home.users_file()).unwrap(),
            before,
            "{args:?}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::new();
    for args in [
        &["--adduser"][..],
        &["--no-such-flag"],
        &["--adduser", "a", "--removeuser", "b"],
        &["--listusers", "--serve", "0"],
        &["--serve", "not-a-port"],
        &["--host", "not-an-address"],
        &["--reason", "x"],
        &["stray"],
    ] {
        let out = run(&home, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}: explained");
    }
    assert!(!home.users_file().exists());
}

#[test]
fn invalid_usernames_are_refused_with_a_clear_message() {
    let home = Home::new();
    let long = "a".repeat(65);
    for name in [
        "../evil",
        "a b",
        ".hidden",
        "-dash",
        "a/b",
        "tab\tname",
        "émile",
        &long,
    ] {
        let flag = format!("--adduser={name}");
        let out = home.run(&[&flag, "--password-stdin"], "pw-long-enough\n");
        assert_eq!(out.status.code(), Some(1), "{name:?}");
        let err = stderr(&out);
        assert!(err.contains("Invalid username"), "{name:?}: {err}");
        assert!(
            err.contains("letters, digits and . _ @ -"),
            "{name:?}: says what is allowed: {err}"
        );
    }
    assert!(!home.users_file().exists(), "nothing written");
    assert!(
        !home.path().join("evil").exists() && !home.path().join("user").exists(),
        "no stray files"
    );

    for name in ["a", "alice.smith", "bob_2", "x@example.com", "A-b"] {
        home.add_user(name, "pw-long-enough");
    }
    assert_eq!(home.users_json().as_object().unwrap().len(), 5);
}

#[test]
fn existing_accounts_with_names_new_ones_may_not_have_are_managed_by_name() {
    // users.json written by hand or by llms.py: names over 64 characters, or with a space.
    let home = Home::new();
    let long = format!("{}@example.org", "l".repeat(100));
    home.write_users(&[(&long, "pw-long", &[]), ("Jane Doe", "pw-jane", &[])]);
    for name in [long.as_str(), "Jane Doe"] {
        let out = run(&home, &["--listusers"]);
        assert!(
            stdout(&out).contains(&format!("  {name}  ")),
            "{}",
            stdout(&out)
        );

        let session = home.write_session(name, "credentials", 60.0);
        let out = run(&home, &["--lockuser", name, "--reason", "On leave"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("User '{name}' locked: On leave\n"));
        assert_eq!(home.users_json()[name]["locked"], "On leave");
        assert!(!home.session_file(common::token_of(&session)).exists());

        let out = run(&home, &["--unlockuser", name]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("User '{name}' unlocked.\n"));

        let before = home.users_json()[name]["password_hash"].clone();
        let out = home.run(&["--adduser", name, "--password-stdin"], "new-pw-1\n");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "User '{name}' already exists. Updating password.\nPassword for '{name}' updated.\n"
            )
        );
        assert_ne!(home.users_json()[name]["password_hash"], before);

        let out = run(&home, &["--removeuser", name]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("User '{name}' removed.\n"));
        assert!(home.users_json().get(name).is_none());
    }
    // A new account still keeps to the rules.
    let out = home.run(
        &["--adduser", &long, "--password-stdin"],
        "pw-long-enough\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Invalid username"),
        "{}",
        stderr(&out)
    );
    assert_eq!(home.users_json(), json!({}));
}

#[test]
fn help_lists_every_flag_on_its_own_line() {
    let home = Home::new();
    let out = run(&home, &["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in [
        "--adduser",
        "--removeuser",
        "--listusers",
        "--lockuser",
        "--unlockuser",
        "--serve",
        "--host",
        "--auth",
        "--password-stdin",
        "--reason",
        "--help",
        "--version",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag) || l.contains(&format!(", {flag}")))
            .unwrap_or_else(|| panic!("{flag} missing from --help:\n{help}"));
        let description = line.trim_start().split_once("  ").map(|(_, d)| d.trim());
        assert!(
            description.is_some_and(|d| !d.is_empty()),
            "{flag} has a one-line description: {line:?}"
        );
    }
}

#[test]
fn a_corrupt_store_is_reported_with_file_and_line_and_left_untouched() {
    let home = Home::new();
    let broken = "{\n  \"admin\": {\n    \"password_hash\": \"x\",,\n  }\n}\n";
    std::fs::create_dir_all(home.users_file().parent().unwrap()).unwrap();
    std::fs::write(home.users_file(), broken).unwrap();
    let path = home.users_file().display().to_string();
    for args in [
        &["--listusers"][..],
        &["--lockuser"],
        &["--lockuser", "admin", "--reason", "x"],
        &["--unlockuser", "admin"],
        &["--removeuser", "admin"],
        &["--serve", "0"],
    ] {
        let out = run(&home, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(&path), "{args:?} names the file: {err}");
        assert!(err.contains("line 3"), "{args:?} names the line: {err}");
        assert_eq!(std::fs::read_to_string(home.users_file()).unwrap(), broken);
    }
    let out = home.run(
        &["--adduser", "admin", "--password-stdin"],
        "pw-long-enough\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&path), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(home.users_file()).unwrap(), broken);
}

#[test]
fn llms_py_own_store_location_is_used_with_a_notice() {
    let home = Home::new();
    let legacy = home.path().join("user/default/credentials/users.json");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    let store = json!({ "admin": { "password_hash": common::sha256_hash("pw"), "created": CREATED, "roles": ["Admin"] } });
    std::fs::write(&legacy, serde_json::to_string_pretty(&store).unwrap()).unwrap();
    let out = run(&home, &["--listusers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "  admin  (created: 2025-03-15 10:30:00)\n");
    assert!(
        stderr(&out).contains(&legacy.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert!(!home.users_file().exists(), "no second store is created");
}

#[test]
fn unknown_or_unconfigured_providers_are_errors() {
    let home = Home::new();
    let out = run(&home, &["--auth", "nope", "--serve", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("nope") && err.contains("credentials, github_auth, none, oidc"),
        "{err}"
    );

    let mut cmd = home.llms();
    cmd.args(["--serve", "0"]).env("LLMS_AUTH", "nope");
    let out = bounded(cmd);
    assert_eq!(out.status.code(), Some(1), "LLMS_AUTH is checked too");

    let mut cmd = home.llms();
    cmd.args(["--auth", "github_auth", "--serve", "0"])
        .env_remove("GITHUB_CLIENT_ID")
        .env_remove("GITHUB_CLIENT_SECRET");
    let out = bounded(cmd);
    assert_eq!(
        out.status.code(),
        Some(1),
        "github_auth without a client id"
    );
    assert!(!stderr(&out).is_empty());
}

#[test]
fn created_times_are_written_as_float_seconds() {
    let home = Home::new();
    home.add_user("erin", "pw-long-enough");
    let created = home.users_json()["erin"]["created"].clone();
    let text = std::fs::read_to_string(home.users_file()).unwrap();
    assert!(created.is_f64(), "{created}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - created.as_f64().unwrap()).abs() < 600.0);
    assert!(
        text.starts_with("{\n  \"erin\": {\n    \"password_hash\": "),
        "{text}"
    );
    let _: Value = serde_json::from_str(&text).unwrap();
}

#[test]
fn removeuser_also_removes_the_avatar() {
    // Otherwise the next account created under that name would wear the old picture.
    let home = Home::new();
    seed_store(&home);
    let avatar = home.path().join("user/alice/avatar.png");
    std::fs::create_dir_all(avatar.parent().unwrap()).unwrap();
    std::fs::write(&avatar, b"\x89PNG...").unwrap();
    let keep = home.path().join("user/admin/avatar.png");
    std::fs::create_dir_all(keep.parent().unwrap()).unwrap();
    std::fs::write(&keep, b"\x89PNG...").unwrap();
    let out = run(&home, &["--removeuser", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!avatar.exists());
    assert!(keep.exists());
}

#[test]
fn bad_settings_in_the_environment_are_errors() {
    let home = Home::new();
    for (name, value, expected) in [
        ("LLMS_PASSWORD_HASH", "md5", "LLMS_PASSWORD_HASH"),
        ("LLMS_TRUSTED_PROXIES", "10.0.0.0/8", "LLMS_TRUSTED_PROXIES"),
        ("LLMS_HEADER_TIMEOUT_SECS", "0", "LLMS_HEADER_TIMEOUT_SECS"),
        ("LLMS_BODY_TIMEOUT_SECS", "soon", "LLMS_BODY_TIMEOUT_SECS"),
    ] {
        let mut cmd = home.llms();
        cmd.args(["--adduser", "alice", "--password-stdin"])
            .env(name, value);
        let out = bounded(cmd);
        assert_eq!(out.status.code(), Some(1), "{name}={value}");
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
    assert!(!home.users_file().exists());
}

#[test]
fn a_rewrite_keeps_timestamps_digit_for_digit() {
    // Python writes the shortest repr of a float; reading it back must give the same
    // number, or every rewrite of the store would nudge times nobody changed.
    let home = Home::new();
    std::fs::create_dir_all(home.users_file().parent().unwrap()).unwrap();
    let text = r#"{
  "alice": {
    "password_hash": "00112233445566778899aabbccddeeff:00",
    "created": 1742034600.0137913,
    "roles": []
  },
  "bob": {
    "password_hash": "00112233445566778899aabbccddeeff:00",
    "created": 1742034600.1930783,
    "roles": [],
    "lastLogin": 1742034600.2482433
  }
}"#;
    std::fs::write(home.users_file(), text).unwrap();
    let out = run(&home, &["--lockuser", "alice", "--reason", "x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read_to_string(home.users_file()).unwrap();
    for number in [
        "1742034600.0137913",
        "1742034600.1930783",
        "1742034600.2482433",
    ] {
        assert!(after.contains(number), "{number} changed:\n{after}");
    }
}

/// The review's finding: a lock reason set through the API with `ESC ]0;...` or `\r`
/// printed raw in `--listusers` and `--lockuser`, retitling the terminal and forging lines.
/// Stored text is printed escaped, whoever wrote it; a new reason may not hold controls.
#[test]
fn terminal_controls_in_stored_names_and_reasons_are_printed_escaped() {
    let home = Home::new();
    home.write_users_json(&json!({
        "eve\u{1b}]0;pwned\u{7}": {
            "password_hash": common::sha256_hash("pw-eve"),
            "created": CREATED,
            "roles": [],
            "locked": "spam\r  admin  (created: 2025-01-01 00:00:00)\u{202e}",
        },
        "bob": {
            "password_hash": common::sha256_hash("pw-bob"),
            "created": CREATED,
            "roles": [],
        },
    }));
    for args in [&["--listusers"][..], &["--lockuser"][..]] {
        let out = run(&home, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            !text
                .chars()
                .any(|c| c == '\u{1b}' || c == '\r' || c == '\u{7}' || c == '\u{202e}'),
            "{args:?} printed a raw control character: {text:?}"
        );
        assert!(
            text.contains("eve\\u{1b}]0;pwned\\u{7}"),
            "{args:?}: {text}"
        );
        assert!(text.contains("spam\\r  admin"), "{args:?}: {text}");
        assert_eq!(
            text.lines().count(),
            if args[0] == "--lockuser" { 3 } else { 2 }
        );
    }
    // Messages naming such an account are escaped too.
    let out = run(&home, &["--unlockuser", "eve\u{1b}]0;pwned\u{7}"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'eve\\u{1b}]0;pwned\\u{7}' unlocked.\n");
    // A new reason with a control character is refused, and nothing changes.
    for reason in ["x\u{1b}[2J", "ok\rLOCKED: forged", "tab\there"] {
        let out = run(&home, &["--lockuser", "bob", "--reason", reason]);
        assert_eq!(out.status.code(), Some(1), "{reason:?}");
        assert_eq!(
            stderr(&out),
            "Lock reason may not contain control characters.\n",
            "{reason:?}"
        );
        assert!(home.users_json()["bob"].get("locked").is_none());
    }
}

/// Usernames ignore case and are one namespace across providers; `default` is reserved.
#[test]
fn adduser_refuses_names_taken_in_any_case_or_reserved() {
    let home = Home::new();
    seed_store(&home);
    std::fs::create_dir_all(home.path().join("github_auth")).unwrap();
    std::fs::write(
        home.path().join("github_auth/users.json"),
        r#"{"octo": {"id": 7, "login": "octo", "created": 1.0, "roles": []}}"#,
    )
    .unwrap();
    for (name, message) in [
        (
            "ADMIN",
            "User 'admin' already exists; usernames ignore case.\n",
        ),
        (
            "Octo",
            "User 'octo' already exists as an account of github_auth; usernames ignore case.\n",
        ),
        ("default", "The username 'default' is reserved\n"),
    ] {
        let out = home.run(&["--adduser", name, "--password-stdin"], "pw-long-enough\n");
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(stderr(&out), message, "{name}");
    }
    let users = home.users_json();
    assert_eq!(users.as_object().unwrap().len(), 3, "nothing written");
    // The same name, exactly, is still an update of that user's password.
    let out = home.run(&["--adduser", "admin", "--password-stdin"], "pw-new-long\n");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Only a user named exactly `admin` could become an Admin from the command line, and the
/// first user of an empty store had no role at all, so nobody could manage users.
#[test]
fn the_first_user_and_admin_flag_make_admins() {
    let home = Home::new();
    let out = home.run(&["--adduser", "root", "--password-stdin"], "pw-root-long\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "User 'root' added.\n'root' is an Admin: the first user manages the others.\n"
    );
    let out = home.run(
        &["--adduser", "ops", "--admin", "--password-stdin"],
        "pw-ops-long\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'ops' added.\n'ops' is an Admin.\n");
    let out = home.run(&["--adduser", "bob", "--password-stdin"], "pw-bob-long\n");
    assert_eq!(stdout(&out), "User 'bob' added.\n");
    let users = home.users_json();
    assert_eq!(users["root"]["roles"], json!(["Admin"]));
    assert_eq!(users["ops"]["roles"], json!(["Admin"]));
    assert_eq!(users["bob"]["roles"], json!([]));
    // --admin is for new users; an existing one is made an Admin in Manage Users.
    let out = home.run(
        &["--adduser", "bob", "--admin", "--password-stdin"],
        "pw-bob-new1\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--admin applies to new users"),
        "{}",
        stderr(&out)
    );
    assert_eq!(home.users_json()["bob"]["roles"], json!([]));
    // New passwords have at least 8 characters; said before anything is written.
    let out = home.run(&["--adduser", "carol", "--password-stdin"], "short\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Password is too short: use at least 8 characters.\n"
    );
    let out = home
        .llms()
        .args(["--adduser", "carol", "--password-stdin"])
        .env("LLMS_MIN_PASSWORD_LENGTH", "5")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"short\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "LLMS_MIN_PASSWORD_LENGTH=5: {}",
        stderr(&out)
    );
}

/// `--listusers` stays llms.py's; `--long` adds roles and the last sign-in.
#[test]
fn listusers_long_adds_roles_and_the_last_sign_in() {
    let home = Home::new();
    seed_store(&home);
    let mut users = home.users_json();
    users["alice"]["lastLogin"] = json!(CREATED + 3600.0);
    users["alice"]["lastIp"] = json!("192.0.2.7");
    home.write_users_json(&users);
    let plain = stdout(&run(&home, &["--listusers"]));
    assert!(!plain.contains("roles:"), "{plain}");
    let out = run(&home, &["--listusers", "--long"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "  admin  (created: 2025-03-15 10:30:00)  roles: Admin  last sign-in: never\n\
         \x20 alice  (created: 2025-03-15 11:00:00)  roles: -  last sign-in: 2025-03-15 11:30:00 from 192.0.2.7\n\
         \x20 bob    (created: 2025-03-16 09:15:00)  roles: -  last sign-in: never  LOCKED: Account suspended\n"
    );
}

/// The first-time user's findings about messages.
#[test]
fn messages_say_what_happened_once_and_what_to_do() {
    let home = Home::new();
    seed_store(&home);
    // An existing user's password from a script: said after it was accepted, and the
    // result says what changed.
    let out = home.run(
        &["--adduser", "alice", "--password-stdin"],
        "new-alice-pw\n",
    );
    assert_eq!(
        stdout(&out),
        "User 'alice' already exists. Updating password.\nPassword for 'alice' updated.\n"
    );
    let out = home.run(&["--adduser", "alice", "--password-stdin"], "\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "no 'Updating password.' before a refusal");
    assert_eq!(stderr(&out), "Password cannot be empty.\n");
    // --audit 0 is a usage error, not "no events".
    let out = run(&home, &["--audit", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A lock reason from a closed input: no prompt running into the result's line.
    let out = run(&home, &["--lockuser", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User 'alice' locked: Account suspended\n");
    // Not found says where to look.
    let out = run(&home, &["--unlockuser", "zed"]);
    assert_eq!(
        stderr(&out),
        "User 'zed' not found. llms --listusers shows the users there are.\n"
    );
    // Removing the last user says what that means.
    for name in ["admin", "alice"] {
        let out = run(&home, &["--removeuser", name]);
        assert!(out.status.success());
        assert_eq!(stderr(&out), "", "{name}: users are left");
    }
    let out = run(&home, &["--removeuser", "bob"]);
    assert_eq!(stdout(&out), "User 'bob' removed.\n");
    assert!(
        stderr(&out)
            .starts_with("No users are left: a server that is running keeps authentication on"),
        "{}",
        stderr(&out)
    );
    // A store that does not parse names its line and column once.
    std::fs::write(home.users_file(), "{\n  \"a\": {,\n}").unwrap();
    let err = stderr(&run(&home, &["--listusers"]));
    assert_eq!(err.matches("line 2").count(), 1, "{err}");
    assert!(!err.contains(" at line "), "{err}");
}
