//! The audit log and the avatars in PostgreSQL (SPEC 11), against a real server started by
//! the tests: rows from every instance, read back in order; avatars shared by all.

mod common;

use std::time::Duration;

use common::postgres::fresh_database;
use llms_auth::audit::{AuditEvent, AuditRecord};
use llms_auth::database::{Database, PgAuditLog, PgAvatars};

async fn instance(url: &str) -> Database {
    let database = Database::connect(url).await.expect("the database connects");
    assert!(database.listening(Duration::from_secs(10)).await);
    database
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_from_every_instance_come_back_in_order() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let (on_a, on_b) = (PgAuditLog::new(&a), PgAuditLog::new(&b));
    for i in 0..6 {
        let log = if i % 2 == 0 { &on_a } else { &on_b };
        let record = AuditRecord::new(AuditEvent::SignInFailed, &format!("user{i}"), "target")
            .ip("10.0.0.1")
            .result("wrong password");
        log.append(&record).await.unwrap();
    }
    let last = on_a.tail(4).await.unwrap();
    let actors: Vec<&str> = last.iter().map(|r| r.actor.as_str()).collect();
    assert_eq!(actors, ["user2", "user3", "user4", "user5"]);
    assert_eq!(last[0].event, AuditEvent::SignInFailed);
    assert_eq!(last[0].ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(on_b.tail(100).await.unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_set_on_one_instance_is_shown_by_the_other() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let (a, b) = (instance(db.url()).await, instance(db.url()).await);
    let (on_a, on_b) = (PgAvatars::new(&a), PgAvatars::new(&b));
    assert_eq!(on_b.get("alice").await.unwrap(), None);
    on_a.put("alice", b"\x89PNG first").await.unwrap();
    on_a.put("alice", b"\x89PNG second").await.unwrap();
    assert_eq!(
        on_b.get("alice").await.unwrap().as_deref(),
        Some(&b"\x89PNG second"[..])
    );
    assert!(on_b.remove("alice").await.unwrap());
    assert!(!on_b.remove("alice").await.unwrap());
    assert_eq!(on_a.get("alice").await.unwrap(), None);
}
