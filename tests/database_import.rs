//! `--import-files` (SPEC 11): the file store of a home, as llms.py 4.0.26 and `llms` wrote
//! it, copied into PostgreSQL (a real server started by the tests): every user with the
//! very hash it had (so the same password signs in), the sessions by their digest, the
//! API keys, the GitHub accounts and the avatars; run again, nothing is copied twice.

mod common;

use std::time::Duration;

use common::postgres::fresh_database;
use common::python::{cli_op, reference};
use common::Home;
use llms_auth::cli::import::{import_files, Counts, KEYS, USERS};
use llms_auth::database::{Database, PgAvatars, PgDocuments, PgSessions};
use llms_auth::keys::ApiKey;
use llms_auth::password::{verify_password, HashScheme};
use llms_auth::providers::github_auth::{self, GithubUser, GithubUsers};
use llms_auth::session::SessionStore;
use llms_auth::users::{User, Users};
use llms_auth::Config;

const MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_made_by_llms_py_and_llms_is_copied_once() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let Some(reference) = reference("a_file_store_made_by_llms_py_and_llms_is_copied_once") else {
        return;
    };
    let home = Home::new();
    // llms.py's own CLI makes two users (the first an Admin, with its salted SHA-256).
    reference.batch(&[
        cli_op(
            home.path(),
            &["--adduser", "alice"],
            "alice-pw-1\nalice-pw-1\n",
        ),
        cli_op(home.path(), &["--adduser", "bob"], "bob-pw-22\nbob-pw-22\n"),
    ]);
    // Ours adds a third, a key for alice, a session and an avatar.
    home.add_user("carol", "carol-password");
    home.add_key("alice", "laptop", &[]);
    let sessions = SessionStore::new(home.sessions_dir(), MAX_AGE);
    let token = sessions
        .create("bob", "credentials", "10.1.1.1", "curl/8", 5)
        .unwrap();
    // An expired one is not copied.
    home.write_session("carol", "credentials", 40.0 * 86_400.0);
    std::fs::create_dir_all(home.avatar_file("alice").parent().unwrap()).unwrap();
    std::fs::write(home.avatar_file("alice"), b"\x89PNG alice").unwrap();
    let mut github = GithubUsers::new();
    github.insert("octo".into(), GithubUser::new(7, "octo"));
    std::fs::create_dir_all(home.path().join("github_auth")).unwrap();
    std::fs::write(
        home.path().join("github_auth/users.json"),
        serde_json::to_vec_pretty(&github).unwrap(),
    )
    .unwrap();

    let config = Config::new(home.path());
    let database = Database::connect(db.url()).await.unwrap();
    let report = import_files(&config, &database).await.unwrap();
    let copied = |copied| Counts { copied, skipped: 0 };
    assert_eq!(report.users, copied(3));
    assert_eq!(report.keys, copied(1));
    assert_eq!(
        report.sessions,
        Counts {
            copied: 1,
            skipped: 1
        }
    );
    assert_eq!(report.github_accounts, copied(1));
    assert_eq!(report.avatars, copied(1));
    let printed = report.to_string();
    assert!(
        printed.contains("users: 3 copied, 0 already there"),
        "{printed}"
    );

    // What the files hold, the database holds, field for field and in order.
    let files: Users = serde_json::from_slice(&std::fs::read(home.users_file()).unwrap()).unwrap();
    let stored = PgDocuments::<User>::new(&database, USERS)
        .snapshot()
        .await
        .unwrap();
    assert_eq!(*stored, files);
    assert!(
        verify_password(
            "alice-pw-1",
            &stored["alice"].password_hash,
            HashScheme::Sha256
        )
        .is_match(),
        "llms.py's hash still takes alice's password"
    );
    assert!(!verify_password(
        "alice-pw-2",
        &stored["alice"].password_hash,
        HashScheme::Sha256
    )
    .is_match());
    let keys = PgDocuments::<ApiKey>::new(&database, KEYS)
        .snapshot()
        .await
        .unwrap();
    assert_eq!(keys.values().next().unwrap().user_name, "alice");
    let accounts = PgDocuments::<GithubUser>::new(&database, github_auth::NAME)
        .snapshot()
        .await
        .unwrap();
    assert_eq!(*accounts, github);
    let found = std::sync::Arc::new(PgSessions::new(&database, MAX_AGE))
        .find(token.key())
        .await
        .unwrap()
        .expect("bob's session is valid from the database");
    assert_eq!((found.username.as_str(), found.binding), ("bob", 5));
    assert_eq!(
        PgAvatars::new(&database)
            .get("alice")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"\x89PNG alice"[..])
    );

    // Again: nothing is copied twice, and what the database changed meanwhile stays.
    PgDocuments::<User>::new(&database, USERS)
        .update(|all| {
            all["bob"].record.locked = Some("left the team".into());
            Ok(())
        })
        .await
        .unwrap();
    let again = import_files(&config, &database).await.unwrap();
    let skipped = |skipped| Counts { copied: 0, skipped };
    assert_eq!(again.users, skipped(3));
    assert_eq!(again.keys, skipped(1));
    assert_eq!(again.sessions, skipped(2));
    assert_eq!(again.github_accounts, skipped(1));
    assert_eq!(again.avatars, skipped(1));
    let stored = PgDocuments::<User>::new(&database, USERS)
        .snapshot()
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored["bob"].lock_reason(), Some("left the team"));
}
