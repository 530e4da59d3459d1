//! The reliability suite: crash safety, concurrency, bad input, throttling and timing.
//! Each test is bounded in time and writes its figure to standard error (bypassing the
//! test harness's capture, so the figures show in every `cargo test` run).

mod common;

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{
    figure, forwarded, http, login_request, now_secs, request, sha256_hash, Home, Server, Store,
    TestApp,
};
use llms_auth::audit::AuditEvent;
use llms_auth::users::{User, Users};
use llms_auth::Config;
use serde_json::json;

/// The tests of this file run one at a time, so that the timing figures are not skewed by
/// the others' processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Prints a figure where `cargo test` shows it.
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
    let names: Vec<String> = (0..3_000).map(|i| format!("existing{i}")).collect();
    let users: Vec<(&str, &str, &[&str])> = names
        .iter()
        .map(|name| (name.as_str(), "x", &[][..]))
        .collect();
    home.write_users(&users);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
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
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"pw-long-enough\n")
            .unwrap();
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
    home.write_users(&[
        ("signer0", "pw", &[]),
        ("signer1", "pw", &[]),
        ("signer2", "pw", &[]),
        ("signer3", "pw", &[]),
    ]);
    let server = Server::start_with(&home, &[], &[("LLMS_PASSWORD_HASH", "sha256")]);
    let started = Instant::now();

    // Four CLI processes at a time keep adding distinct users...
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let adds: Vec<_> = (0..10)
                .map(|i| {
                    let mut add = home.llms();
                    add.args(["--adduser", &format!("w{w}u{i}"), "--password-stdin"])
                        .env("LLMS_PASSWORD_HASH", "sha256");
                    add
                })
                .collect();
            std::thread::spawn(move || {
                for mut add in adds {
                    let out = add
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .and_then(|mut c| {
                            c.stdin.take().unwrap().write_all(b"pw-long-enough\n")?;
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
                let before = now_secs();
                let response = client
                    .post(&url)
                    .json(&serde_json::json!({"username": format!("signer{i}"), "password": "pw"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                last_window = (before, now_secs());
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

/// The trusted proxy every in-process request comes through; `X-Forwarded-For` names the
/// client.
const PROXY: [u8; 4] = [10, 9, 9, 9];

/// The app in process on `home`, configured as a real server is (Argon2id hashes for new
/// passwords and for the unknown-user check, as many hashes at once as there are cores),
/// behind [`PROXY`].
async fn app_on(home: Home) -> TestApp {
    TestApp::builder(Store::Files)
        .home(home)
        .peer(PROXY)
        .config(|config| {
            let defaults = Config::new(&config.home);
            config.hash_scheme = defaults.hash_scheme;
            config.hash_concurrency = defaults.hash_concurrency;
            config.trusted_proxies = vec![PROXY.into()];
        })
        .build()
        .await
}

/// The throttle schedule as documented (README.md, "Throttling", and the module doc of
/// `src/throttle.rs`): "after 2 failures a wait of 1 s, then 3 s (3-8), 5 s (9-24), 10 s
/// (25-99); an address is refused for the rest of the UTC day after 100". Each row: from
/// this many failures on (up to the next row), the wait in seconds before the next attempt
/// is checked; infinite for the rest of the day.
const DOCUMENTED_SCHEDULE: [(u32, f64); 6] = [
    (0, 0.0),
    (2, 1.0),
    (3, 3.0),
    (9, 5.0),
    (25, 10.0),
    (100, f64::INFINITY),
];

/// The documented wait after `failures` failed attempts.
fn documented_wait(failures: usize) -> f64 {
    DOCUMENTED_SCHEDULE
        .iter()
        .rev()
        .find(|(from, _)| failures >= *from as usize)
        .map(|(_, wait)| *wait)
        .expect("the schedule starts at 0 failures")
}

/// Attempts one username may have being checked at once, as documented in the module doc
/// of `src/throttle.rs` ("2 per username").
const DOCUMENTED_IN_FLIGHT_PER_USER: usize = 2;

/// Attempts an address without failures may have being checked at once, as documented in
/// the module doc of `src/throttle.rs` ("per address 32").
const DOCUMENTED_IN_FLIGHT_PER_CLEAN_ADDRESS: usize = 32;

/// How many attempts the schedule lets through in `elapsed` seconds of hammering.
fn schedule_allows(elapsed: f64) -> usize {
    let (mut t, mut allowed) = (0.0, 0usize);
    loop {
        let wait = documented_wait(allowed);
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
    let home = Home::new();
    home.write_users(&[("victim", "right", &[])]);
    let app = Arc::new(app_on(home).await);
    let started = Instant::now();
    let (mut checked, mut throttled) = (0usize, 0usize);
    for i in 0..1_000 {
        let reply = app
            .send(forwarded(
                login_request("victim", &format!("wrong{i}")),
                "203.0.113.7",
            ))
            .await;
        match reply.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                // The wait it names is at most what the schedule imposes after this many
                // failures (less when part of it has passed).
                let retry_after: u64 = reply
                    .header("retry-after")
                    .expect("a Retry-After header")
                    .parse()
                    .expect("Retry-After in whole seconds");
                let wait = documented_wait(checked);
                assert!(
                    retry_after >= 1 && retry_after as f64 <= wait.ceil(),
                    "Retry-After {retry_after} after {checked} failures (documented wait {wait} s)"
                );
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
    // The attempts the schedule lets through without any wait were all checked.
    assert!(
        checked >= schedule_allows(0.0),
        "{checked} checked, the schedule lets {} through at once",
        schedule_allows(0.0)
    );
    // The right password while throttled is refused without being checked.
    let reply = app
        .send(forwarded(login_request("victim", "right"), "203.0.113.7"))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    // The audit log grows with the schedule, not with the request rate: one line per wait.
    let throttled_lines = app
        .audit()
        .iter()
        .filter(|record| record.event == AuditEvent::SignInThrottled)
        .count();
    assert!(
        (1..=checked).contains(&throttled_lines),
        "{throttled_lines} audit lines for {throttled} refusals"
    );

    // Fifty parallel attempts: against one account, no more are checked than a username may
    // have in flight; spread over many accounts from a fresh address, no more than a clean
    // address may.
    async fn parallel(app: &Arc<TestApp>, user: impl Fn(usize) -> String, ip: &str) -> usize {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let request = forwarded(login_request(&user(i), "x"), ip);
                let app = Arc::clone(app);
                tokio::spawn(async move { app.send(request).await.status })
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
    let one_account = parallel(&app, |_| "victim2".to_owned(), "198.51.100.1").await;
    let many_accounts = parallel(&app, |i| format!("nobody{i}"), "198.51.100.2").await;
    assert!(
        (1..=DOCUMENTED_IN_FLIGHT_PER_USER).contains(&one_account),
        "{one_account}"
    );
    assert!(
        (1..=DOCUMENTED_IN_FLIGHT_PER_CLEAN_ADDRESS).contains(&many_accounts),
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
    // their own): an unknown name must take as long as either. And an admin, whose unlock
    // forgives the others' failures between rounds.
    let mut users = Users::new();
    users.insert(
        "admin".into(),
        User::new(sha256_hash("pw-admin"), vec!["Admin".into()]),
    );
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
    let home = Home::new();
    home.write_users_json(&serde_json::to_value(&users).unwrap());
    let app = app_on(home).await;
    let admin = app.sign_in("admin", "pw-admin").await;
    // Warm up every path (the dummy hash is made on first use).
    for (user, ip) in [
        ("warm-unknown", "192.0.2.250"),
        ("known0", "192.0.2.251"),
        ("legacy0", "192.0.2.252"),
    ] {
        let _ = app.send(forwarded(login_request(user, "x"), ip)).await;
    }
    // Up to five rounds, pooled: a systematic difference shows in every round, while a
    // burst of machine noise is outvoted.
    let mut samples: [Vec<f64>; 3] = Default::default();
    let names = ["ghost", "known", "legacy"];
    let mut medians = [0.0; 3];
    let mut worst = f64::INFINITY;
    for round in 0..5 {
        // Each known name fails once a round: an admin's unlock forgives its failures first,
        // so throttling never steps in (ghosts have fresh names every round).
        for i in 0..SAMPLES {
            for name in &names[1..] {
                let user = format!("{name}{i}");
                let unlock = json!({"userName": user, "locked": false});
                let reply = app
                    .json(Method::PUT, "/admin/users", Some(&admin), unlock)
                    .await;
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "unlock {user}: {}",
                    reply.text()
                );
            }
        }
        // The store changed: this untimed request is the one that reads it again.
        assert!(app.is_signed_in(&admin).await);
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
                let ip = format!("192.{}.{}.{}", 10 + round, kind, i);
                let started = Instant::now();
                let reply = app
                    .send(forwarded(login_request(&user, "not-the-password"), &ip))
                    .await;
                samples[kind].push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
                assert!(reply.text().contains("Invalid username or password"));
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
    let home = Home::new();
    home.write_users(&[("admin", "pw", &["Admin"])]);
    let app = app_on(home).await;
    let reply = app
        .send(forwarded(login_request("admin", "pw"), "192.0.2.1"))
        .await;
    assert_eq!(reply.status, 200);
    let cookie = reply.session_cookie().expect("a session cookie");
    assert_eq!(app.get("/admin/users", Some(&cookie)).await.status, 200);
    let logout = request(Method::POST, "/auth/logout", Some(&cookie))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(logout).await.status, 200);
    for bad in [
        cookie.clone(),
        "llms-token=../users".to_owned(),
        "llms-token=".to_owned(),
        format!("llms-token={}", "A".repeat(43)),
        format!("llms-token={}", "A".repeat(5000)),
    ] {
        assert_eq!(app.get("/admin/users", Some(&bad)).await.status, 401);
    }
}

/// Signs `name` in and turns two-factor sign-in on; the secret and the recovery codes.
async fn with_two_factor(app: &TestApp, name: &str, password: &str) -> (String, Vec<String>) {
    let cookie = app.sign_in(name, password).await;
    common::totp::turn_on(app, &cookie).await
}

/// `POST /auth/login` with a second factor, from `client`.
fn login_with_code(
    name: &str,
    password: &str,
    code: &str,
    client: &str,
) -> axum::http::Request<Body> {
    let body = json!({ "username": name, "password": password, "code": code });
    forwarded(
        common::json_request(Method::POST, "/auth/login", None, &body),
        client,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factors_and_reset_links_cannot_be_guessed_or_replayed() {
    let _serial = SERIAL.lock().await;
    let home = Home::new();
    home.write_users(&[
        ("admin", "pw-admin", &["Admin"]),
        ("guessed", "pw-guessed", &[]),
        ("replayed", "pw-replayed", &[]),
    ]);
    let app = app_on(home).await;

    // Wrong codes after the right password, in a tight loop: checked as the schedule of
    // wrong passwords allows, no more.
    let (secret, _) = with_two_factor(&app, "guessed", "pw-guessed").await;
    let right = common::totp::next_totp(&secret);
    let started = Instant::now();
    let (mut checked, mut throttled) = (0usize, 0usize);
    for i in 0..500u32 {
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        let reply = app
            .send(login_with_code(
                "guessed",
                "pw-guessed",
                &wrong,
                "203.0.113.20",
            ))
            .await;
        match reply.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = schedule_allows(elapsed);
    assert!(
        checked <= allowed,
        "{checked} codes checked, schedule allows {allowed}"
    );
    assert!(checked >= schedule_allows(0.0), "{checked} checked");
    let reply = app
        .send(login_with_code(
            "guessed",
            "pw-guessed",
            &right,
            "203.0.113.20",
        ))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right code waits too"
    );

    // Replays: each code accepted once, then sent again (from another address each time,
    // so that every replay is checked rather than throttled).
    let (secret, recovery) = with_two_factor(&app, "replayed", "pw-replayed").await;
    let mut client = 0;
    let mut next_client = || {
        client += 1;
        format!("198.51.100.{client}")
    };
    let (mut accepted, mut replays, mut replays_accepted) = (0, 0, 0);
    let code = common::totp::next_totp(&secret);
    let older = common::totp::current_totp(&secret);
    for (code, replay) in std::iter::once((code.clone(), code))
        .chain(std::iter::once((String::new(), older)))
        .chain(recovery.iter().map(|c| (c.clone(), c.to_uppercase())))
    {
        if !code.is_empty() {
            let reply = app
                .send(login_with_code(
                    "replayed",
                    "pw-replayed",
                    &code,
                    &next_client(),
                ))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            accepted += 1;
        }
        let reply = app
            .send(login_with_code(
                "replayed",
                "pw-replayed",
                &replay,
                &next_client(),
            ))
            .await;
        replays += 1;
        match reply.status {
            StatusCode::OK => replays_accepted += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("a replay was not checked ({other}): {}", reply.text()),
        }
        if code.is_empty() {
            // Two failures in a row for the account (the replay and the older code): the
            // schedule's wait of a second before the next attempt.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
    assert_eq!(replays_accepted, 0);

    // Reset tokens: a link exists; guessed tokens of the right shape, each from its own
    // address (so none is throttled), find nothing.
    let admin = app.sign_in("admin", "pw-admin").await;
    let link = app
        .send(
            request(
                Method::POST,
                "/admin/users/guessed/reset-link",
                Some(&admin),
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await
        .json()["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let guesses = 1_000;
    let mut guessed = 0;
    for i in 0..guesses {
        let body = json!({ "token": common::random_token(), "newPassword": "a-guessed-reset" });
        let client = format!("10.{}.{}.1", 1 + i / 250, i % 250);
        let reply = app
            .send(forwarded(
                common::json_request(Method::POST, "/auth/reset", None, &body),
                &client,
            ))
            .await;
        match reply.status {
            StatusCode::BAD_REQUEST => {}
            StatusCode::OK => guessed += 1,
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    assert_eq!(guessed, 0);
    // The real link still works.
    let token = link.strip_prefix("/reset#").unwrap();
    let body = json!({ "token": token, "newPassword": "the-real-reset" });
    let reply = app
        .send(forwarded(
            common::json_request(Method::POST, "/auth/reset", None, &body),
            "192.0.2.50",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    figure(&format!(
        "two-factor: 500 wrong codes after the right password in {elapsed:.2} s: {checked} checked (schedule allows {allowed}), {throttled} refused with 429; \
         replays: {accepted} codes accepted once, {replays} replays checked, {replays_accepted} accepted; \
         reset links: {guesses} guessed tokens (256 random bits each) from {guesses} addresses, {guessed} accepted"
    ));
}
