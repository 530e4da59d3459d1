//! Sessions in PostgreSQL (SPEC 11) against a real server started by the tests: a session
//! made on one instance is valid on every other; one ended anywhere is refused everywhere
//! within a second; the per-account limit holds across instances; expired ones go.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::postgres::fresh_database;
use llms_auth::database::{Database, PgSessions};
use llms_auth::session::{SessionToken, MAX_SESSIONS_PER_ACCOUNT};

/// How long an ending may take to reach another instance (SPEC 11).
const PROPAGATION: Duration = Duration::from_secs(1);

/// A day: long enough for every session the tests make.
const MAX_AGE: Duration = Duration::from_secs(86_400);

async fn instance(url: &str) -> Arc<PgSessions> {
    let database = Database::connect(url).await.expect("the database connects");
    assert!(database.listening(Duration::from_secs(10)).await);
    Arc::new(PgSessions::new(&database, MAX_AGE))
}

/// Waits until `sessions` no longer finds `token`'s session; how long it took.
async fn ended_within(sessions: &Arc<PgSessions>, token: &SessionToken) -> Duration {
    let start = Instant::now();
    while sessions.find(token.key()).await.unwrap().is_some() {
        assert!(
            start.elapsed() < PROPAGATION,
            "the session was still accepted {PROPAGATION:?} after it ended"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_instance_is_valid_on_the_other() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let token = a
        .create(
            "alice",
            "credentials",
            "10.0.0.1",
            "Mozilla/5.0 (X11; Linux)",
            42,
        )
        .await
        .unwrap();
    let found = b.find(token.key()).await.unwrap().expect("B finds it");
    assert_eq!(
        (
            found.username.as_str(),
            found.provider.as_str(),
            found.binding
        ),
        ("alice", "credentials", 42)
    );
    let listed = b.sessions_of("credentials", "alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, token.key());
    assert_eq!(listed[0].1.client_ip, "10.0.0.1");
    assert_eq!(listed[0].1.user_agent, "Mozilla/5.0 (X11; Linux)");
    // Only the digest is stored: the token itself is nowhere in the database.
    let mut connection = db.connect().await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key FROM sessions")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(stored, [token.key().as_bytes().to_vec()]);
    let unknown = SessionToken::generate();
    assert!(b.find(unknown.key()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_anywhere_is_refused_everywhere_within_a_second() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let make = |who: &'static str| {
        let a = a.clone();
        async move { a.create(who, "credentials", "ip", "ua", 1).await.unwrap() }
    };
    let (one, two, kept, other) = (
        make("bob").await,
        make("bob").await,
        make("bob").await,
        make("carol").await,
    );
    for token in [&one, &two, &kept, &other] {
        assert!(b.find(token.key()).await.unwrap().is_some(), "B caches it");
    }
    // Signed out on A.
    a.remove(one.key()).await.unwrap();
    assert!(
        a.find(one.key()).await.unwrap().is_none(),
        "A: the very next request"
    );
    let took = ended_within(&b, &one).await;
    common::figure(&format!(
        "sign-out reached the other instance after {took:?}"
    ));
    // Every session of bob but one ended on B (a password change, a lock).
    assert_eq!(
        b.remove_user("credentials", "bob", Some(kept.key()))
            .await
            .unwrap(),
        1
    );
    ended_within(&a, &two).await;
    assert!(a.find(kept.key()).await.unwrap().is_some());
    assert!(
        a.find(other.key()).await.unwrap().is_some(),
        "carol's is untouched"
    );
    // Rebound on A (a hash upgrade): B sees the new binding.
    a.rebind("credentials", "bob", 1, 7).await.unwrap();
    let start = Instant::now();
    while b.find(kept.key()).await.unwrap().unwrap().binding != 7 {
        assert!(
            start.elapsed() < PROPAGATION,
            "B saw the new binding in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_account_limit_holds_across_instances() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let first = a
        .create("dave", "credentials", "ip", "ua", 1)
        .await
        .unwrap();
    let mut makers = Vec::new();
    for maker in 0..4 {
        let sessions = if maker % 2 == 0 { a.clone() } else { b.clone() };
        makers.push(tokio::spawn(async move {
            for _ in 0..MAX_SESSIONS_PER_ACCOUNT / 2 {
                sessions
                    .create("dave", "credentials", "ip", "ua", 1)
                    .await
                    .unwrap();
            }
        }));
    }
    for maker in makers {
        maker.await.unwrap();
    }
    let held = a.sessions_of("credentials", "dave").await.unwrap();
    assert_eq!(held.len(), MAX_SESSIONS_PER_ACCOUNT);
    ended_within(&b, &first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_refused_and_swept() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let a = instance(db.url()).await;
    let live = a
        .create("erin", "credentials", "ip", "ua", 1)
        .await
        .unwrap();
    let old = a
        .create("erin", "credentials", "ip", "ua", 1)
        .await
        .unwrap();
    let stale = a
        .create("erin", "credentials", "ip", "ua", 1)
        .await
        .unwrap();
    let mut connection = db.connect().await;
    let age = MAX_AGE.as_secs_f64() + 60.0;
    for token in [&old, &stale] {
        sqlx::query(
            "UPDATE sessions SET created = created - $2, expires = expires - $2 WHERE key = $1",
        )
        .bind(&token.key().as_bytes()[..])
        .bind(age)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    // Looked up: refused and removed.
    assert!(a.find(old.key()).await.unwrap().is_none());
    // Never looked up again: the sweep removes it.
    assert_eq!(a.sweep().await.unwrap(), 1);
    let left: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key FROM sessions")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(left, [live.key().as_bytes().to_vec()]);
    assert!(a.find(live.key()).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_that_ends_a_session_refuses_it_on_the_very_next_request() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let a = instance(db.url()).await;
    let oldest = a.create("fay", "credentials", "ip", "ua", 1).await.unwrap();
    assert!(a.find(oldest.key()).await.unwrap().is_some(), "cached");
    for _ in 1..MAX_SESSIONS_PER_ACCOUNT {
        a.create("fay", "credentials", "ip", "ua", 1).await.unwrap();
    }
    assert!(
        a.find(oldest.key()).await.unwrap().is_some(),
        "100: all live"
    );
    // The 101st ends the oldest: no waiting for the announcement to come back.
    a.create("fay", "credentials", "ip", "ua", 1).await.unwrap();
    assert!(a.find(oldest.key()).await.unwrap().is_none());
    // A rebinding, likewise.
    let kept = a.create("gus", "credentials", "ip", "ua", 1).await.unwrap();
    assert_eq!(a.find(kept.key()).await.unwrap().unwrap().binding, 1);
    a.rebind("credentials", "gus", 1, 2).await.unwrap();
    assert_eq!(a.find(kept.key()).await.unwrap().unwrap().binding, 2);
}
