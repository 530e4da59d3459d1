//! The PostgreSQL harness itself (`tests/common/postgres.rs`): each fresh database is a
//! database of its own, and a cluster keeps its data and its URLs across a stop and a
//! crash. Without PostgreSQL these tests say they were skipped and pass, unless
//! `LLMS_REQUIRE_DATABASE=1` (CI) makes that a failure.

mod common;

use common::postgres::{fresh_database, PgCluster, TestDatabase};
use sqlx::{Connection, PgConnection};

/// `SELECT count(*)` of `table`.
async fn count(connection: &mut PgConnection, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(connection)
        .await
        .unwrap_or_else(|error| panic!("count {table}: {error}"))
}

/// Whether `table` exists in the database `connection` is on.
async fn has_table(connection: &mut PgConnection, table: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(connection)
        .await
        .expect("to_regclass")
}

#[tokio::test]
async fn two_fresh_databases_are_distinct_and_both_answer() {
    let Some(first) = fresh_database().await else {
        return;
    };
    let second = fresh_database().await.expect("a second database");
    assert_ne!(first.name, second.name);
    assert_ne!(first.url(), second.url());

    for database in [&first, &second] {
        let mut connection = database.connect().await;
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut connection)
            .await
            .expect("SELECT 1");
        assert_eq!(one, 1);
        let name: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut connection)
            .await
            .expect("current_database()");
        assert_eq!(
            name, database.name,
            "{} is on its own database",
            database.url
        );
    }
}

#[tokio::test]
async fn a_table_made_in_one_database_is_absent_from_another() {
    let Some(first) = fresh_database().await else {
        return;
    };
    let second = fresh_database().await.expect("a second database");
    let mut one = first.connect().await;
    let mut other = second.connect().await;

    sqlx::raw_sql("CREATE TABLE notes (body text NOT NULL); INSERT INTO notes VALUES ('hi')")
        .execute(&mut one)
        .await
        .expect("create and fill a table");
    assert!(has_table(&mut one, "notes").await);
    assert_eq!(count(&mut one, "notes").await, 1);
    assert!(!has_table(&mut other, "notes").await, "{}", second.url);
}

/// A row in a new `notes` table of a new database of `cluster`.
async fn database_with_a_row(cluster: &PgCluster, body: &str) -> TestDatabase {
    let database = cluster.create_database().await;
    let mut connection = database.connect().await;
    sqlx::query("CREATE TABLE notes (body text NOT NULL)")
        .execute(&mut connection)
        .await
        .expect("create table");
    sqlx::query("INSERT INTO notes VALUES ($1)")
        .bind(body)
        .execute(&mut connection)
        .await
        .expect("insert");
    connection.close().await.expect("close");
    database
}

/// The bodies of `notes` in `database`, in order.
async fn notes(database: &TestDatabase) -> Vec<String> {
    let mut connection = database.connect().await;
    sqlx::query_scalar("SELECT body FROM notes ORDER BY body")
        .fetch_all(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("read notes of {}: {error}", database.url))
}

#[tokio::test]
async fn a_cluster_keeps_its_data_and_urls_across_a_stop_and_a_crash() {
    // Its own cluster: stopping the shared one would cut the tests running beside this.
    let Some(cluster) = PgCluster::launch() else {
        return;
    };
    let database = database_with_a_row(&cluster, "before the stop").await;
    let mut open = database.connect().await;

    cluster.stop();
    assert!(!cluster.is_running());
    assert!(
        sqlx::query("SELECT 1").execute(&mut open).await.is_err(),
        "a connection of before the stop still answers"
    );
    assert!(PgConnection::connect(database.url()).await.is_err());
    cluster.stop(); // Already stopped: nothing to do.

    cluster.start();
    assert!(cluster.is_running());
    cluster.start(); // Already running: nothing to do.
    assert_eq!(notes(&database).await, ["before the stop"]);

    // A crash loses nothing that was committed: the start replays the write-ahead log.
    let mut connection = database.connect().await;
    sqlx::query("INSERT INTO notes VALUES ('before the crash')")
        .execute(&mut connection)
        .await
        .expect("insert");
    cluster.crash();
    assert!(!cluster.is_running());
    cluster.start();
    assert_eq!(
        notes(&database).await,
        ["before the crash", "before the stop"]
    );
}

#[tokio::test]
async fn a_launched_cluster_is_stopped_and_removed_when_dropped() {
    let Some(cluster) = PgCluster::launch() else {
        return;
    };
    let database = database_with_a_row(&cluster, "gone soon").await;
    let folder = cluster
        .log_path()
        .ancestors()
        .nth(2)
        .expect("the cluster's folder")
        .to_path_buf();
    assert!(folder.join("data").is_dir());

    drop(cluster);
    assert!(!folder.exists(), "{} is left behind", folder.display());
    assert!(PgConnection::connect(database.url()).await.is_err());
}
