//! The reliability suite: crash safety, concurrency, bad input, throttling and timing.
//! Each test is bounded in time and writes its figure to standard error (bypassing the
//! test harness's capture, so the figures show in every `cargo test` run).

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::{http, session_cookie, Home, Server};
use http_body_util::BodyExt;
use llms_auth::users::{serialize_users, User, Users};
use llms_auth::{AuthState, Config, ProviderRegistry};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// The tests of this file run one at a time, so that the timing figures are not skewed by
/// the others' processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Prints a figure where `cargo test` shows it.
fn figure(text: &str) {
    let _ = writeln!(std::io::stderr(), "FIGURE {text}");
}

/// A reference-format hash (fast to verify), for users whose hash scheme does not matter.
fn sha256_hash(password: &str) -> String {
    let salt = "00112233445566778899aabbccddeeff";
    format!(
        "{salt}:{}",
        hex::encode(Sha256::digest(format!("{salt}{password}")))
    )
}

fn write_users(path: &std::path::Path, users: &Users) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serialize_users(users).unwrap()).unwrap();
}

/// A small deterministic generator, seeded from the clock and printed, so a failing run can
/// be repeated.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn crash_safety_kill_9_during_store_writes() {
    let _serial = SERIAL.blocking_lock();
    let home = Home::new();
    // A large store makes each write take long enough for kills to land inside it.
    let mut users = Users::new();
    for i in 0..3_000 {
        users.insert(format!("existing{i}"), User::new(sha256_hash("x"), vec![]));
    }
    write_users(&home.users_file(), &users);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut acknowledged: Vec<String> = Vec::new();
    let (mut writes, mut killed_unacknowledged, mut mid_write) = (0, 0, 0);
    // Kills aim at the end of a writer's life, where the write happens: a random moment
    // between 50% and 110% of how long an unkilled writer takes (measured as we go).
    let mut typical_micros: u64 = 20_000;
    while writes < 220 && Instant::now() < deadline {
        let name = format!("crash{writes}");
        let started = Instant::now();
        let mut child = home
            .llms()
            .args(["--adduser", &name, "--password-stdin"])
            .env("LLMS_PASSWORD_HASH", "sha256")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"pw\n").unwrap();
        let kill = writes % 4 != 3; // three in four are killed at a random moment
        if kill {
            let delay = typical_micros / 2 + rng.next() % (typical_micros * 6 / 10 + 1);
            std::thread::sleep(Duration::from_micros(delay));
            let _ = child.kill(); // SIGKILL
        }
        let output = child.wait_with_output().unwrap();
        if !kill {
            let took = started.elapsed().as_micros() as u64;
            typical_micros = (typical_micros * 3 + took) / 4;
        }
        let said_added = String::from_utf8_lossy(&output.stdout).contains("added.");
        if output.status.success() && said_added {
            acknowledged.push(name);
        } else if kill {
            killed_unacknowledged += 1;
            // A temporary file left behind shows the kill landed inside the write itself.
            let orphaned = std::fs::read_dir(home.path().join("credentials"))
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"));
            mid_write += usize::from(orphaned);
        } else {
            panic!("an unkilled write failed: {output:?}");
        }
        writes += 1;
        // After every write, killed or not: the file parses and nothing acknowledged is lost.
        let text = std::fs::read_to_string(home.users_file()).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("users.json does not parse after write {writes} (seed {seed}): {e}")
        });
        for name in &acknowledged {
            assert!(
                parsed.get(name).is_some(),
                "acknowledged user {name} lost (seed {seed})"
            );
        }
        assert_eq!(parsed["existing2999"]["roles"], serde_json::json!([]));
    }
    assert!(writes >= 200, "only {writes} writes in the time limit");
    assert!(
        killed_unacknowledged > 0,
        "no kill landed before acknowledgement"
    );
    figure(&format!(
        "crash safety: {writes} store writes, {killed_unacknowledged} killed before acknowledging \
         ({mid_write} of them inside the file write), users.json parsed after every one, \
         {} acknowledged changes all present (seed {seed})",
        acknowledged.len()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cli_writers_and_sign_ins_lose_nothing() {
    let _serial = SERIAL.lock().await;
    let home = Home::new();
    let mut users = Users::new();
    for i in 0..4 {
        users.insert(format!("signer{i}"), User::new(sha256_hash("pw"), vec![]));
    }
    write_users(&home.users_file(), &users);
    let server = Server::start_with(&home, &[], &[("LLMS_PASSWORD_HASH", "sha256")]);
    let started = Instant::now();

    // Four CLI processes at a time keep adding distinct users...
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let home_path = home.path().to_owned();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let out = std::process::Command::new(common::llms_bin())
                        .args(["--adduser", &format!("w{w}u{i}"), "--password-stdin"])
                        .env("LLMS_HOME", &home_path)
                        .env("LLMS_PASSWORD_HASH", "sha256")
                        .env("LLMS_LOG", "warn")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .and_then(|mut c| {
                            c.stdin.take().unwrap().write_all(b"pw\n")?;
                            c.wait_with_output()
                        })
                        .unwrap();
                    assert!(out.status.success(), "{out:?}");
                }
            })
        })
        .collect();

    // ...while four clients sign in over and over.
    let mut signers = Vec::new();
    for i in 0..4 {
        let url = server.url("/auth/login");
        signers.push(tokio::spawn(async move {
            let client = http();
            let mut last_window = (0.0, 0.0);
            for _ in 0..15 {
                let before = llms_auth::time::now_secs();
                let response = client
                    .post(&url)
                    .json(&serde_json::json!({"username": format!("signer{i}"), "password": "pw"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                last_window = (before, llms_auth::time::now_secs());
            }
            last_window
        }));
    }
    let mut windows = Vec::new();
    for signer in signers {
        windows.push(signer.await.unwrap());
    }
    for writer in writers {
        writer.join().unwrap();
    }
    let stored = home.users_json();
    for w in 0..4 {
        for i in 0..10 {
            assert!(stored.get(format!("w{w}u{i}")).is_some(), "w{w}u{i} lost");
        }
    }
    for (i, (before, after)) in windows.iter().enumerate() {
        let last = stored[format!("signer{i}")]["lastLogin"].as_f64().unwrap();
        assert!(
            last >= *before && last <= *after,
            "signer{i}'s last sign-in update lost: {last} not in [{before}, {after}]"
        );
    }
    figure(&format!(
        "concurrency: 40 users added by 4 concurrent CLI processes while 60 sign-ins ran, in {:.1} s: \
         all 40 users and all 4 final last-login times present",
        started.elapsed().as_secs_f64()
    ));
}

/// An in-process app on a temporary home, with a peer address and a trusted proxy.
async fn app_with_users(users: &Users) -> (tempfile::TempDir, AuthState, Router) {
    let outer = tempfile::tempdir().unwrap();
    let home = outer.path().join("home");
    write_users(&home.join("credentials/users.json"), users);
    let mut config = Config::new(&home);
    config.trusted_proxies = vec!["10.9.9.9".parse().unwrap()];
    let state = AuthState::new(config, &ProviderRegistry::builtin())
        .await
        .unwrap();
    let app = llms_auth::server::app(state.clone())
        .layer(MockConnectInfo(SocketAddr::from(([10, 9, 9, 9], 4000))));
    (outer, state, app)
}

fn login_request(username: &str, password: &str, forwarded_for: &str) -> Request<Body> {
    Request::post("/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", forwarded_for)
        .body(Body::from(
            serde_json::json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap()
}

/// How many attempts the schedule lets through in `elapsed` seconds of hammering.
fn schedule_allows(elapsed: f64) -> usize {
    let (mut t, mut allowed) = (0.0, 0usize);
    loop {
        let wait = llms_auth::throttle::delay_after(allowed as u32);
        if wait.is_infinite() {
            return allowed;
        }
        t += wait;
        if t > elapsed {
            return allowed;
        }
        allowed += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_checks_only_what_the_schedule_allows() {
    let _serial = SERIAL.lock().await;
    let mut users = Users::new();
    users.insert("victim".into(), User::new(sha256_hash("right"), vec![]));
    let (_outer, state, app) = app_with_users(&users).await;
    let started = Instant::now();
    let (mut checked, mut throttled) = (0usize, 0usize);
    for i in 0..1_000 {
        let response = app
            .clone()
            .oneshot(login_request("victim", &format!("wrong{i}"), "203.0.113.7"))
            .await
            .unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key(header::RETRY_AFTER));
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = schedule_allows(elapsed);
    assert!(
        checked <= allowed,
        "{checked} checked, schedule allows {allowed}"
    );
    // The right password while throttled is refused without being checked.
    let response = app
        .clone()
        .oneshot(login_request("victim", "right", "203.0.113.7"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The audit log grows with the schedule, not with the request rate: one line per wait.
    let audit = std::fs::read_to_string(state.context().audit_log().path()).unwrap();
    let throttled_lines = audit
        .lines()
        .filter(|l| l.contains("sign_in_throttled"))
        .count();
    assert!(
        (1..=checked).contains(&throttled_lines),
        "{throttled_lines} audit lines for {throttled} refusals"
    );

    // Fifty parallel attempts: against one account, no more are checked than a username may
    // have in flight; spread over many accounts from a fresh address, no more than a clean
    // address may.
    async fn parallel(app: &Router, user: impl Fn(usize) -> String, ip: &str) -> usize {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let request = login_request(&user(i), "x", ip);
                let app = app.clone();
                tokio::spawn(async move { app.oneshot(request).await.unwrap().status() })
            })
            .collect();
        let mut checked = 0;
        for task in tasks {
            if task.await.unwrap() == StatusCode::UNAUTHORIZED {
                checked += 1;
            }
        }
        checked
    }
    use llms_auth::throttle::{MAX_IN_FLIGHT_PER_CLEAN_ADDRESS, MAX_IN_FLIGHT_PER_USER};
    let one_account = parallel(&app, |_| "victim2".to_owned(), "198.51.100.1").await;
    let many_accounts = parallel(&app, |i| format!("nobody{i}"), "198.51.100.2").await;
    assert!(
        (1..=MAX_IN_FLIGHT_PER_USER as usize).contains(&one_account),
        "{one_account}"
    );
    assert!(
        (1..=MAX_IN_FLIGHT_PER_CLEAN_ADDRESS as usize).contains(&many_accounts),
        "{many_accounts}"
    );
    figure(&format!(
        "throttling: 1000 wrong passwords in {elapsed:.2} s: {checked} checked (schedule allows {allowed}), \
         {throttled} refused with 429 ({throttled_lines} of them audited); 50 parallel attempts on one account: {one_account} checked; \
         50 parallel attempts on 50 accounts from a fresh address: {many_accounts} checked"
    ));
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_cost_the_same_as_wrong_passwords() {
    let _serial = SERIAL.lock().await;
    const SAMPLES: usize = 41;
    // Real Argon2id hashes, and llms.py's reference hashes (which check in microseconds on
    // their own): an unknown name must take as long as either.
    let mut users = Users::new();
    for i in 0..SAMPLES {
        let hash = llms_auth::password::hash_password(
            "the-right-one",
            llms_auth::password::HashScheme::Argon2id,
        )
        .unwrap();
        users.insert(format!("known{i}"), User::new(hash, vec![]));
        users.insert(
            format!("legacy{i}"),
            User::new(sha256_hash("the-right-one"), vec![]),
        );
    }
    let (_outer, state, app) = app_with_users(&users).await;
    // Warm up every path (the dummy hash is made on first use).
    for (user, ip) in [
        ("warm-unknown", "192.0.2.250"),
        ("known0", "192.0.2.251"),
        ("legacy0", "192.0.2.252"),
    ] {
        let _ = app
            .clone()
            .oneshot(login_request(user, "x", ip))
            .await
            .unwrap();
    }
    // Up to five rounds, pooled: a systematic difference shows in every round, while a
    // burst of machine noise is outvoted.
    let mut samples: [Vec<f64>; 3] = Default::default();
    let names = ["ghost", "known", "legacy"];
    let mut medians = [0.0; 3];
    let mut worst = f64::INFINITY;
    for round in 0..5 {
        for i in 0..SAMPLES {
            // Distinct names and addresses, so throttling never steps in; interleaved in
            // rotating order, so machine noise falls on all alike.
            for step in 0..3 {
                let kind = (i + step) % 3;
                let user = if kind == 0 {
                    format!("ghost{round}-{i}")
                } else {
                    format!("{}{i}", names[kind])
                };
                state.context().throttle().clear_user(&user);
                let ip = format!("192.{}.{}.{}", 10 + round, kind, i);
                let started = Instant::now();
                let response = app
                    .clone()
                    .oneshot(login_request(&user, "not-the-password", &ip))
                    .await
                    .unwrap();
                samples[kind].push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert!(String::from_utf8_lossy(&body).contains("Invalid username or password"));
            }
        }
        for kind in 0..3 {
            medians[kind] = median(samples[kind].clone());
        }
        worst = (1..3)
            .map(|kind| (medians[0] - medians[kind]).abs() / medians[kind])
            .fold(0.0, f64::max);
        if worst < 0.10 {
            break;
        }
    }
    figure(&format!(
        "timing: median sign-in {:.1} ms for an unknown user, {:.1} ms for a wrong password \
         (Argon2id), {:.1} ms for a wrong password (llms.py hash); at most {:.1}% apart, {} samples each",
        medians[0],
        medians[1],
        medians[2],
        worst * 100.0,
        samples[0].len()
    ));
    assert!(worst < 0.10, "medians differ by {:.1}%", worst * 100.0);
}

#[tokio::test]
async fn a_signed_out_cookie_and_garbage_cookies_reach_nothing() {
    let _serial = SERIAL.lock().await;
    let mut users = Users::new();
    users.insert(
        "admin".into(),
        User::new(sha256_hash("pw"), vec!["Admin".into()]),
    );
    let (_outer, _state, app) = app_with_users(&users).await;
    let response = app
        .clone()
        .oneshot(login_request("admin", "pw", "192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let get = |cookie: String| {
        Request::get("/admin/users")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        app.clone()
            .oneshot(get(cookie.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    let logout = Request::post("/auth/logout")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(logout).await.unwrap().status(), 200);
    for bad in [
        cookie.clone(),
        "llms-token=../users".to_owned(),
        "llms-token=".to_owned(),
        format!("llms-token={}", "A".repeat(43)),
        format!("llms-token={}", "A".repeat(5000)),
    ] {
        assert_eq!(app.clone().oneshot(get(bad)).await.unwrap().status(), 401);
    }
    let _ = session_cookie; // shared helper, used by other tests
}
