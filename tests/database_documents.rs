//! The PostgreSQL store's foundation (SPEC 11) against a real PostgreSQL server started by
//! the tests (`tests/common/postgres.rs`): the schema and its version, and the keyed
//! documents (`users.json`, `keys.json`, accounts) shared by several instances: what one
//! writes the others see within a second, writers on two instances lose nothing, only
//! what changed is written, and a database out of reach is 503, then recovers.

mod common;

use std::time::{Duration, Instant};

use common::postgres::{fresh_database, PgCluster};
use llms_auth::database::{known_schema_version, Database, PgDocuments};
use llms_auth::users::{User, Users};
use llms_auth::Error;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

/// How long a change may take to reach another instance (SPEC 11).
const PROPAGATION: Duration = Duration::from_secs(1);

/// A `users.json` as llms.py writes it, with a legacy hash and fields this crate does not
/// know, which must come back as they were.
fn users() -> Users {
    serde_json::from_value(json!({
        "admin": { "passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
                   "created": 1700000000.5, "roles": ["Admin"], "lastIp": "10.0.0.1" },
        "zed": { "password": "c2FsdA==:0123abcd", "created": 1700000001.0, "roles": [],
                 "theme": "dark", "prefs": { "lang": "fr" } },
        "alice": { "passwordHash": "x", "created": 1700000002.0, "roles": [],
                   "locked": "Account suspended" }
    }))
    .unwrap()
}

async fn instance(url: &str) -> Database {
    let database = Database::connect(url).await.expect("the database connects");
    assert!(
        database.listening(Duration::from_secs(10)).await,
        "the listener for changes connects"
    );
    database
}

/// The users' document on two instances of the database at `url`, the users of [`users`]
/// written on the first.
async fn two_instances_with_users(url: &str) -> (PgDocuments<User>, PgDocuments<User>) {
    let (a, b) = (instance(url).await, instance(url).await);
    let (on_a, on_b) = (
        PgDocuments::<User>::new(&a, "users"),
        PgDocuments::<User>::new(&b, "users"),
    );
    on_a.update(|all| {
        all.extend(users());
        Ok(())
    })
    .await
    .unwrap();
    (on_a, on_b)
}

/// Polls `instance`'s view of the users until `seen` holds, for at most `within`; the
/// time it took.
async fn seen_within(
    store: &PgDocuments<User>,
    within: Duration,
    seen: impl Fn(&Users) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if seen(&store.snapshot().await.unwrap()) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_is_made_once_and_a_newer_one_is_refused() {
    let Some(db) = fresh_database().await else {
        return;
    };
    instance(db.url()).await;
    // A second instance starting on the same database migrates nothing again.
    instance(db.url()).await;
    let mut connection = db.connect().await;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    assert_eq!(versions.last(), Some(&known_schema_version()));
    // Another instance, upgraded first, moved the schema on: this binary refuses it.
    let newer = known_schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer llms', true, '\\x00', 0)",
    )
    .bind(newer)
    .execute(&mut connection)
    .await
    .unwrap();
    let refused = Database::connect(db.url()).await.unwrap_err();
    let message = refused.to_string();
    assert!(matches!(refused, Error::Config(_)), "{message}");
    assert!(
        message.contains(&format!("schema version {newer}")),
        "{message}"
    );
    assert!(message.contains("upgrade llms"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_an_unreachable_database_is_a_clear_error_without_the_password() {
    let refused = Database::connect("mysql://x@y/z").await.unwrap_err();
    assert!(
        refused.to_string().contains("not a PostgreSQL URL"),
        "{refused}"
    );
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://llms:s3cret-pw@127.0.0.1:{port}/auth");
    let refused = Database::connect(&url).await.unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("cannot reach the database"), "{message}");
    assert!(
        message.contains(&format!("postgres://llms@127.0.0.1:{port}/auth")),
        "{message}"
    );
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_comes_back_field_for_field_and_in_order() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let a = instance(db.url()).await;
    let store = PgDocuments::<User>::new(&a, "users");
    assert!(store.snapshot().await.unwrap().is_empty(), "no users yet");
    store
        .update(|all| {
            all.extend(users());
            Ok(())
        })
        .await
        .unwrap();
    // Another instance reads it from the database, not from a cache.
    let b = instance(db.url()).await;
    let read = PgDocuments::<User>::new(&b, "users")
        .snapshot()
        .await
        .unwrap();
    assert_eq!(*read, users());
    let names: Vec<&str> = read.keys().map(String::as_str).collect();
    assert_eq!(names, ["admin", "zed", "alice"], "the file's order");
    let zed = serde_json::to_value(&read["zed"]).unwrap();
    assert_eq!(zed["theme"], "dark", "unknown fields are kept: {zed}");
    assert_eq!(zed["prefs"], json!({ "lang": "fr" }));
    assert_eq!(
        zed["password"], "c2FsdA==:0123abcd",
        "the legacy hash is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_additions_and_a_new_order_reach_the_database() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let a = instance(db.url()).await;
    let store = PgDocuments::<Value>::new(&a, "accounts");
    let fresh_read = || async {
        let other = Database::connect(db.url()).await.unwrap();
        (*PgDocuments::<Value>::new(&other, "accounts")
            .snapshot()
            .await
            .unwrap())
        .clone()
    };
    store
        .update(|all| {
            for name in ["a", "b", "c", "d"] {
                all.insert(name.into(), json!({ "name": name }));
            }
            Ok(())
        })
        .await
        .unwrap();
    store
        .update(|all| {
            all.shift_remove("b");
            all.insert("e".into(), json!({ "name": "e" }));
            all["c"] = json!({ "name": "c", "changed": true });
            Ok(())
        })
        .await
        .unwrap();
    let read = fresh_read().await;
    assert_eq!(read.keys().collect::<Vec<_>>(), ["a", "c", "d", "e"]);
    assert_eq!(read["c"]["changed"], true);
    // An entry put first: every position is renumbered.
    store
        .update(|all| {
            all.shift_insert(0, "z".into(), json!({ "name": "z" }));
            Ok(())
        })
        .await
        .unwrap();
    let read = fresh_read().await;
    assert_eq!(read.keys().collect::<Vec<_>>(), ["z", "a", "c", "d", "e"]);
    assert_eq!(read, *store.snapshot().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_entries_that_changed_are_written() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let a = instance(db.url()).await;
    let store = PgDocuments::<Value>::new(&a, "users");
    store
        .update(|all| {
            for i in 0..500 {
                all.insert(format!("user{i:03}"), json!({ "created": i }));
            }
            Ok(())
        })
        .await
        .unwrap();
    let mut connection = db.connect().await;
    let before = row_versions(&mut connection).await;
    store
        .update(|all| {
            all["user250"]["lastLogin"] = json!(1.5);
            Ok(())
        })
        .await
        .unwrap();
    // A change that changes nothing writes nothing.
    store.update(|_| Ok(())).await.unwrap();
    let after = row_versions(&mut connection).await;
    let rewritten: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(old, new)| old != new)
        .map(|(old, _)| old.0.as_str())
        .collect();
    assert_eq!(rewritten, ["user250"]);
    connection.close().await.unwrap();
}

/// Each entry of the `users` document with the transaction that wrote its row.
async fn row_versions(connection: &mut PgConnection) -> Vec<(String, String)> {
    sqlx::query_as("SELECT key, xmin::text FROM documents WHERE store = 'users' ORDER BY key")
        .fetch_all(connection)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_reaches_the_other_within_a_second() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (on_a, on_b) = two_instances_with_users(db.url()).await;
    seen_within(&on_b, PROPAGATION, |all| all.len() == 3)
        .await
        .expect("B sees the users");
    assert!(
        on_b.cached_if_current().is_some(),
        "B answers from its cache"
    );
    for round in 0..5 {
        let reason = format!("locked in round {round}");
        let written = reason.clone();
        on_a.update(move |all| {
            all["alice"].record.locked = Some(written);
            Ok(())
        })
        .await
        .unwrap();
        // The instance that made the change: the very next look.
        assert_eq!(
            on_a.cached_if_current().expect("A's cache is current")["alice"].lock_reason(),
            Some(reason.as_str())
        );
        let took = seen_within(&on_b, PROPAGATION, |all| {
            all["alice"].lock_reason() == Some(reason.as_str())
        })
        .await
        .unwrap_or_else(|| panic!("B did not see round {round}'s lock within {PROPAGATION:?}"));
        common::figure(&format!("lock seen by the other instance after {took:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_two_instances_lose_nothing() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let stores = std::sync::Arc::new([
        PgDocuments::<Value>::new(&a, "keys"),
        PgDocuments::<Value>::new(&b, "keys"),
    ]);
    let mut writers = Vec::new();
    for writer in 0..20 {
        let stores = stores.clone();
        writers.push(tokio::spawn(async move {
            let store = &stores[writer % 2];
            for step in 0..5 {
                store
                    .update(|all| {
                        all.insert(format!("key-{writer}-{step}"), json!({ "by": writer }));
                        let count = all.entry("count".into()).or_insert(json!(0));
                        *count = json!(count.as_i64().unwrap() + 1);
                        Ok(())
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for store in stores.iter() {
        let all = seen_within_value(store, |all| all["count"] == 100).await;
        assert_eq!(all.len(), 101, "every key of every writer");
    }
}

async fn seen_within_value(
    store: &PgDocuments<Value>,
    seen: impl Fn(&indexmap::IndexMap<String, Value>) -> bool,
) -> indexmap::IndexMap<String, Value> {
    let start = Instant::now();
    loop {
        let all = store.snapshot().await.unwrap();
        if seen(&all) {
            return (*all).clone();
        }
        assert!(start.elapsed() < PROPAGATION, "not seen in time: {all:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_change_writes_nothing() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let a = instance(db.url()).await;
    let store = PgDocuments::<Value>::new(&a, "users");
    store
        .update(|all| {
            all.insert("kept".into(), json!(1));
            Ok(())
        })
        .await
        .unwrap();
    let refused = store
        .update(|all| -> llms_auth::Result<()> {
            all.insert("half".into(), json!(2));
            Err(Error::bad_request("refused"))
        })
        .await;
    assert!(refused.is_err());
    let other = instance(db.url()).await;
    let read = PgDocuments::<Value>::new(&other, "users")
        .snapshot()
        .await
        .unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["kept"]);
    assert_eq!(
        store.snapshot().await.unwrap().keys().collect::<Vec<_>>(),
        ["kept"]
    );
}

/// Stops and starts the server itself, so it runs on a cluster of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_down_is_503_and_nothing_missed_when_it_is_back() {
    let Some(own) = PgCluster::launch() else {
        return;
    };
    let db = own.create_database().await;
    let (on_a, on_b) = two_instances_with_users(db.url()).await;
    seen_within(&on_b, PROPAGATION, |all| all.len() == 3)
        .await
        .unwrap();

    own.stop();
    // Once the listener has lost its connection, the cache vouches for nothing: the
    // users are not "none", the answer is 503.
    let start = Instant::now();
    while on_b.cached_if_current().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "B noticed the database gone"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = on_b.snapshot().await.unwrap_err();
    assert!(matches!(refused, Error::StoreUnavailable), "{refused:?}");
    let change = on_a.update(|all| {
        all.shift_remove("zed");
        Ok(())
    });
    assert!(matches!(change.await.unwrap_err(), Error::StoreUnavailable));

    own.start();
    // A change made before B's listener is back must not be missed by B.
    on_a.update(|all| {
        all["alice"].record.locked = None;
        Ok(())
    })
    .await
    .unwrap();
    let took = seen_within(&on_b, Duration::from_secs(10), |all| {
        all["alice"].lock_reason().is_none() && all.len() == 3
    })
    .await
    .expect("B sees the change made while it was away");
    common::figure(&format!(
        "change seen {took:?} after the database came back"
    ));
    assert!(
        on_b.database().listening(Duration::from_secs(10)).await,
        "B listens again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_off_the_runtime_holds_the_document_until_it_commits() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let on_a = PgDocuments::<Value>::new(&a, "users");
    let on_b = std::sync::Arc::new(PgDocuments::<Value>::new(&b, "users"));
    let pending = on_a.begin().await.unwrap();
    let current = pending.current().clone();
    let writer = on_b.clone();
    let waiting = tokio::spawn(async move {
        writer
            .update(|all| {
                all.insert("b".into(), json!(all.len()));
                Ok(())
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "B's writer waits for A's change");
    // The change itself runs on the blocking pool, as the file store's closures do.
    let next = tokio::task::spawn_blocking(move || {
        let mut next = (*current).clone();
        next.insert("a".into(), json!(0));
        next
    })
    .await
    .unwrap();
    pending.commit(next).await.unwrap();
    waiting.await.unwrap().unwrap();
    let both = seen_within_value(&on_a, |all| all.contains_key("b")).await;
    assert_eq!(both["a"], 0);
    assert_eq!(both["b"], 1, "B's change saw A's");
    // A change given up writes nothing and lets the next writer in.
    let given_up = on_a.begin().await.unwrap();
    drop(given_up);
    tokio::time::timeout(
        Duration::from_secs(5),
        on_b.update(|all| {
            all.insert("c".into(), json!(2));
            Ok(())
        }),
    )
    .await
    .expect("the row was released")
    .unwrap();
    let all = seen_within_value(&on_a, |all| all.contains_key("c")).await;
    assert_eq!(all.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
}
