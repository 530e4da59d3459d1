//! Criterion benches for the functions on every authenticated request, and for the slow
//! ones that are slow on purpose. `cargo bench --bench hot_paths`.
#![allow(missing_docs)] // criterion's macros generate undocumented functions

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use criterion::{criterion_group, criterion_main, Criterion};
use llms_auth::internals::SessionStore;
use llms_auth::internals::Throttle;
use llms_auth::internals::{DocumentStore, JsonStore};
use llms_auth::password::{hash_password, verify_password, HashScheme};
use llms_auth::request::cookies::session_key;
use llms_auth::session::{SessionKey, SessionToken};
use llms_auth::users::{parse_users, serialize_users, User, Users};

#[path = "../examples/support/stores.rs"]
#[allow(dead_code)]
mod stores;

fn request_path(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    let cookie = format!(
        "theme=dark; llms-token={}",
        SessionToken::generate().expose()
    );
    headers.insert(header::COOKIE, cookie.parse().unwrap());
    c.bench_function("cookie: find and hash the session token", |b| {
        b.iter(|| session_key(black_box(&headers)))
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The same lookup with 10 and with 100,000 sessions in the cache, the token drawn at
    // random each time: constant time, but a large cache no longer fits the CPU's caches.
    for count in [10, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        stores::generate(dir.path(), 1, count).unwrap();
        let sessions = Arc::new(SessionStore::new(
            dir.path().join("credentials/sessions"),
            Duration::from_secs(30 * 86400),
        ));
        let keys: Vec<SessionKey> = (0..count)
            .map(|i| SessionToken::parse(&stores::token(i)).unwrap().key())
            .collect();
        for key in &keys {
            runtime.block_on(sessions.find(*key, 0)).unwrap().unwrap();
        }
        let mut next = 0usize;
        c.bench_function(&format!("sessions: cached lookup among {count}"), |b| {
            b.iter(|| {
                // A cheap pseudo-random walk over all the keys.
                next = (next + 7919) % count;
                runtime
                    .block_on(sessions.find(black_box(keys[next]), 0))
                    .unwrap()
            })
        });
    }

    let dir = tempfile::tempdir().unwrap();
    let store = JsonStore::<Users>::at(dir.path().join("users.json"), "bench");
    store
        .update(|users| {
            users.insert("bench".into(), User::new("x:y".into(), vec![]));
            Ok(())
        })
        .unwrap();
    store.snapshot().unwrap();
    c.bench_function("users: unchanged-store check (one stat)", |b| {
        b.iter(|| store.cached_if_current().unwrap())
    });

    let throttle = Throttle::new();
    c.bench_function("throttle: admit and clear a good sign-in", |b| {
        b.iter(|| {
            throttle
                .begin(black_box("alice"), "192.0.2.1", 1.8e9)
                .unwrap()
                .succeeded()
        })
    });
}

/// An API key checked among 1,000: the owner's key, a well-formed key nobody has, one
/// character off the owner's, and text that is no key at all. Each is hashed, then its
/// digest looked up; the time depends on the length of what was sent, not on how close it
/// is to a stored key.
fn api_keys(c: &mut Criterion) {
    use llms_auth::keys::{add_key, KeyRing, NewKey};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ring = Arc::new(KeyRing::new(DocumentStore::Files(JsonStore::at(
        dir.path().join("keys.json"),
        "keys",
    ))));
    let mut secrets = Vec::new();
    ring.store()
        .update(|keys| {
            for i in 0..1000 {
                let request = NewKey {
                    name: format!("key {i}"),
                    ..NewKey::default()
                };
                secrets.push(add_key(keys, "bench", "credentials", &request).secret);
            }
            Ok(())
        })
        .unwrap();
    let known = secrets[500].expose().to_owned();
    let unknown = llms_auth::keys::ApiKeySecret::generate()
        .expose()
        .to_owned();
    let mut near = known.clone();
    let last = near.pop().unwrap();
    near.push(if last == 'A' { 'B' } else { 'A' });
    let mut group = c.benchmark_group("api key check among 1,000");
    for (what, text) in [
        ("known", known.as_str()),
        ("unknown", unknown.as_str()),
        ("one character off", near.as_str()),
        ("not a key", "Bearer-garbage"),
    ] {
        group.bench_function(what, |b| {
            b.iter(|| runtime.block_on(ring.check(black_box(text))).unwrap())
        });
    }
    group.finish();
}

fn slow_on_purpose(c: &mut Criterion) {
    let mut group = c.benchmark_group("passwords");
    group.sample_size(10);
    let argon = hash_password("correct horse", HashScheme::Argon2id).unwrap();
    group.bench_function("verify Argon2id (m=19456, t=2)", |b| {
        b.iter(|| verify_password(black_box("wrong horse"), &argon, HashScheme::Argon2id))
    });
    let legacy = hash_password("correct horse", HashScheme::Sha256).unwrap();
    group.bench_function("verify llms.py salt:sha256", |b| {
        b.iter(|| verify_password(black_box("wrong horse"), &legacy, HashScheme::Sha256))
    });
    group.finish();

    let mut users = Users::new();
    for i in 0..10_000 {
        users.insert(format!("user{i:05}"), User::new(legacy.clone(), vec![]));
    }
    let bytes = serialize_users(&users).unwrap();
    let path = std::path::Path::new("users.json");
    let mut group = c.benchmark_group("users.json");
    group.sample_size(20);
    group.bench_function("parse 10,000 users", |b| {
        b.iter(|| parse_users(path, black_box(&bytes)).unwrap())
    });
    group.bench_function("serialize 10,000 users", |b| {
        b.iter(|| serialize_users(black_box(&users)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, request_path, api_keys, slow_on_purpose);
criterion_main!(benches);
