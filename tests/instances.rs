//! Several `llms` servers on one PostgreSQL (SPEC 11), as a team runs them behind a load
//! balancer: real processes, each with a home of its own (so nothing they share can come
//! from files), on a database of the tests' own PostgreSQL, managed with the command line
//! pointed at the same database.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::postgres::fresh_database;
use common::{http, Home, Server};
use serde_json::json;

/// How long a change may take to reach every instance (SPEC 11).
const PROPAGATION: Duration = Duration::from_secs(1);

/// `llms ARGS` on the database at `url` (from a home of its own), `stdin` typed in.
fn cli(url: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let home = Home::new();
    let mut child = home
        .llms()
        .args(args)
        .env("LLMS_DATABASE_URL", url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "llms {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn status_of(server: &Server, path: &str, cookie: Option<&str>, key: Option<&str>) -> u16 {
    let mut request = http().get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_act_as_one() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let url = db.url();
    cli(
        url,
        &["--adduser", "alice", "--password-stdin"],
        "pw-alice-long\n",
    );
    cli(
        url,
        &["--adduser", "bob", "--password-stdin"],
        "pw-bob-longer\n",
    );
    let (home_a, home_b) = (Home::new(), Home::new());
    let env = [("LLMS_DATABASE_URL", url)];
    let a = Server::start_with(&home_a, &[], &env);
    let b = Server::start_with(&home_b, &[], &env);

    // A session made on A is valid on B.
    let alice = common::sign_in(&a, "alice", "pw-alice-long").await;
    assert_eq!(status_of(&b, "/auth", Some(&alice), None).await, 200);

    // Locked with the command line: refused on both within a second.
    let start = Instant::now();
    cli(url, &["--lockuser", "alice", "--reason", "Away"], "");
    let locked_out = start.elapsed();
    loop {
        let on_a = status_of(&a, "/auth", Some(&alice), None).await;
        let on_b = status_of(&b, "/auth", Some(&alice), None).await;
        if on_a == 401 && on_b == 401 {
            break;
        }
        assert!(
            start.elapsed() < locked_out + PROPAGATION,
            "the lock was not honoured everywhere within a second ({on_a}, {on_b})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    common::figure(&format!(
        "a lock made with the command line was honoured by both instances {:?} after it returned",
        start.elapsed() - locked_out
    ));
    let refused = http()
        .post(b.url("/auth/login"))
        .json(&json!({ "username": "alice", "password": "pw-alice-long" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "locked on B too");

    // A key revoked on B stops on A.
    let key = String::from_utf8(cli(url, &["--addkey", "bob", "--name", "ci"], "").stdout)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(status_of(&a, "/auth", None, Some(&key)).await, 200);
    let bob = common::sign_in(&b, "bob", "pw-bob-longer").await;
    let keys = common::get_json(&b, "/account/keys", Some(&bob)).await;
    let id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    let revoked = http()
        .delete(b.url(&format!("/account/keys/{id}")))
        .header("cookie", &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let start = Instant::now();
    while status_of(&a, "/auth", None, Some(&key)).await != 401 {
        assert!(
            start.elapsed() < PROPAGATION,
            "the revoked key still works on A"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Failed sign-ins split across the two count as one throttle: two failures, and the
    // third attempt waits, on either instance.
    for server in [&a, &b] {
        let reply = http()
            .post(server.url("/auth/login"))
            .json(&json!({ "username": "bob", "password": "wrong" }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
    }
    for server in [&a, &b] {
        let reply = http()
            .post(server.url("/auth/login"))
            .json(&json!({ "username": "bob", "password": "pw-bob-longer" }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 429);
    }

    // Audit rows from both instances and the command line, in one log.
    let audit = String::from_utf8(cli(url, &["--audit", "100"], "").stdout).unwrap();
    for event in [
        "user_locked",
        "key_created",
        "key_removed",
        "sign_in_throttled",
    ] {
        assert!(audit.contains(event), "{event} in:\n{audit}");
    }
}

/// The database stopped under two running instances: answers that need it are 503, never
/// "no users" (authentication off) and never a crash; when it is back, both recover by
/// themselves and honour a change made then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopped_and_started_under_two_instances() {
    let Some(cluster) = common::postgres::PgCluster::launch() else {
        return;
    };
    let db = cluster.create_database().await;
    let url = db.url();
    cli(
        url,
        &["--adduser", "alice", "--password-stdin"],
        "pw-alice-long\n",
    );
    let (home_a, home_b) = (Home::new(), Home::new());
    let env = [("LLMS_DATABASE_URL", url)];
    let mut a = Server::start_with(&home_a, &[], &env);
    let mut b = Server::start_with(&home_b, &[], &env);
    let alice = common::sign_in(&a, "alice", "pw-alice-long").await;
    assert_eq!(status_of(&b, "/auth", Some(&alice), None).await, 200);

    cluster.stop();
    let start = Instant::now();
    for server in [&a, &b] {
        loop {
            let status = status_of(server, "/auth", Some(&alice), None).await;
            if status == 503 {
                break;
            }
            assert_eq!(
                status, 200,
                "only the cached answer before the outage is noticed"
            );
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the outage was never noticed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Never "authentication off": without a session, no default user either.
        assert_eq!(status_of(server, "/auth", None, None).await, 503);
        let login = http()
            .post(server.url("/auth/login"))
            .json(&json!({ "username": "alice", "password": "pw-alice-long" }))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 503);
        let body = login.text().await.unwrap();
        assert!(
            !body.contains("postgres") && !body.contains("sqlx"),
            "{body}"
        );
    }
    assert!(a.is_running() && b.is_running(), "both still serve");

    cluster.start();
    let start = Instant::now();
    for server in [&a, &b] {
        while status_of(server, "/auth", Some(&alice), None).await != 200 {
            assert!(start.elapsed() < Duration::from_secs(20), "did not recover");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    common::figure(&format!(
        "both instances recovered {:?} after the database came back",
        start.elapsed()
    ));
    // A change made with the database back reaches both.
    let start = Instant::now();
    cli(url, &["--lockuser", "alice", "--reason", "Away"], "");
    let returned = start.elapsed();
    for server in [&a, &b] {
        while status_of(server, "/auth", Some(&alice), None).await != 401 {
            assert!(
                start.elapsed() < returned + PROPAGATION,
                "the lock was missed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// An instance killed (`kill -9`) in the middle of writes: everything it acknowledged is in
/// the database, and the other instance serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_write_loses_nothing_it_acknowledged() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let url = db.url().to_owned();
    cli(
        &url,
        &["--adduser", "alice", "--password-stdin"],
        "pw-alice-long\n",
    );
    let (home_a, home_b) = (Home::new(), Home::new());
    let mut a = Server::start_with(&home_a, &[], &[("LLMS_DATABASE_URL", &url)]);
    let b = Server::start_with(&home_b, &[], &[("LLMS_DATABASE_URL", &url)]);
    let alice = common::sign_in(&a, "alice", "pw-alice-long").await;
    // Keys made as fast as A answers, on four connections at once, until A is killed.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (url, cookie, acknowledged) =
            (a.url("/account/keys"), alice.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let made = http()
                    .post(&url)
                    .header("cookie", &cookie)
                    .json(&json!({ "name": format!("w{writer}-{i}") }))
                    .send()
                    .await;
                let Ok(made) = made else { break };
                if made.status() != 200 {
                    break;
                }
                let Ok(body) = made.json::<serde_json::Value>().await else {
                    break;
                };
                acknowledged
                    .lock()
                    .unwrap()
                    .push(body["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 4,
        "keys were made before the kill: {}",
        acknowledged.len()
    );
    // B, and the command line, see every acknowledged key.
    let listed = String::from_utf8(cli(&url, &["--listkeys", "alice"], "").stdout).unwrap();
    for id in &acknowledged {
        assert!(
            listed.contains(id.as_str()),
            "acknowledged key {id} lost:\n{listed}"
        );
    }
    let on_b = common::sign_in(&b, "alice", "pw-alice-long").await;
    let keys = common::get_json(&b, "/account/keys", Some(&on_b)).await;
    let ids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(ids.contains(&id.as_str()), "B does not list {id}");
    }
    common::figure(&format!(
        "{} keys acknowledged before kill -9, all kept",
        acknowledged.len()
    ));
}
