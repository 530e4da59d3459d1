//! Bad input, generated: usernames, passwords up to 1 MiB, session tokens, JSON and
//! multipart bodies, and users.json contents. No panic, no 5xx for a client's mistake, no
//! file written outside `LLMS_HOME`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{figure, request, Home, Store, TestApp};
use llms_auth::users::validate_username;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

/// The app on a home inside a folder of its own (so that a file written beside the home
/// shows), with an admin signed in, driven synchronously for proptest.
struct Fixture {
    app: TestApp,
    admin_cookie: String,
    outer: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn new(store: Store) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let outer = tempfile::tempdir().unwrap();
        let home = Home {
            dir: tempfile::tempdir_in(outer.path()).unwrap(),
        };
        home.write_users(&[("admin", "pw", &["Admin"])]);
        let admin_cookie = home.write_session("admin", "credentials", 0.0);
        let app = runtime.block_on(TestApp::builder(store).home(home).build());
        Self {
            app,
            admin_cookie,
            outer,
            runtime,
        }
    }

    fn home(&self) -> &Path {
        self.app.home.path()
    }

    fn send(&self, request: Request<Body>) -> StatusCode {
        self.runtime.block_on(self.app.send(request)).status
    }

    fn json(&self, method: Method, path: &str, body: Vec<u8>) -> Request<Body> {
        request(method, path, Some(&self.admin_cookie))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    /// Every file under the temporary folder is inside the home, in a known place.
    fn assert_nothing_outside_home(&self) {
        let entries: Vec<_> = std::fs::read_dir(self.outer.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries, [self.home()], "files appeared beside LLMS_HOME");
        let mut stack = vec![self.home().to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(self.home()).unwrap().to_owned();
                let top = relative.components().next().unwrap().as_os_str().to_owned();
                assert!(
                    top == "credentials" || top == "user",
                    "unexpected file {relative:?}"
                );
                if path.is_dir() {
                    stack.push(path);
                }
            }
        }
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Counts statuses per property for the figure.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<u16, usize>>);

impl Tally {
    fn add(&self, status: StatusCode) {
        *self.0.lock().unwrap().entry(status.as_u16()).or_default() += 1;
    }
    fn summary(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(status, n)| format!("{n}x{status}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        ".{0,40}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("userName".to_owned()),
                    Just("username".to_owned()),
                    Just("password".to_owned()),
                    Just("roles".to_owned()),
                    Just("locked".to_owned()),
                    Just("currentPassword".to_owned()),
                    Just("newPassword".to_owned()),
                    "[a-z]{1,8}".prop_map(|s| s),
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Proptest drives the app synchronously, so the property runs on a blocking thread with a
/// runtime of its own (see [`Fixture`]); a failure there fails this test with its message.
async fn generated_bad_input_never_breaks_the_server(store: Store) {
    let property = tokio::task::spawn_blocking(move || bad_input_over_http(store));
    if let Err(failure) = property.await {
        std::panic::resume_unwind(failure.into_panic());
    }
}

fn bad_input_over_http(store: Store) {
    let fixture = Fixture::new(store);
    let mut summary = Vec::new();

    // Usernames: created only when valid; never a 5xx.
    let tally = Tally::default();
    runner(96)
        .run(
            &prop_oneof![
                ".{0,80}",
                "[ -~]{0,70}",
                "\\PC{0,66}",
                "[a-zA-Z0-9._@-]{0,70}"
            ],
            |name| {
                // A password long enough, so that the name alone decides.
                let body = serde_json::json!({"userName": name, "password": "pw2-long-enough"})
                    .to_string();
                let status = fixture.send(fixture.json(Method::POST, "/admin/users", body.into()));
                tally.add(status);
                prop_assert!(status == 200 || status == 400, "{status} for {name:?}");
                if status == 200 {
                    prop_assert!(validate_username(name.trim()).is_ok(), "accepted {name:?}");
                }
                Ok(())
            },
        )
        .unwrap();
    summary.push(format!("usernames [{}]", tally.summary()));

    // Passwords up to 1 MiB: refused by size without being hashed (never a 401, which
    // would mean it was checked), and never a 5xx.
    let tally = Tally::default();
    runner(48)
        .run(
            &(prop_oneof![0usize..2048, 0usize..=1 << 20], any::<char>()),
            |(len, c)| {
                let password: String = std::iter::repeat_n(c, len / c.len_utf8().max(1)).collect();
                let body =
                    serde_json::json!({"username": "admin", "password": password}).to_string();
                let status = fixture.send(fixture.json(Method::POST, "/auth/login", body.into()));
                tally.add(status);
                prop_assert!(status.is_client_error() || status == 200, "{status}");
                if password.len() > llms_auth::password::MAX_PASSWORD_BYTES {
                    prop_assert!(
                        status == 400 || status == 413,
                        "{status} for a {} byte password",
                        password.len()
                    );
                }
                Ok(())
            },
        )
        .unwrap();
    summary.push(format!("passwords [{}]", tally.summary()));

    // Session tokens: anything but a live token is nobody.
    let tally = Tally::default();
    runner(128)
        .run(&"[!#-+--:<-~]{0,120}", |token| {
            let request = Request::get("/admin/users")
                .header(header::COOKIE, format!("llms-token={token}"))
                .body(Body::empty())
                .unwrap();
            let status = fixture.send(request);
            tally.add(status);
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
            Ok(())
        })
        .unwrap();
    summary.push(format!("tokens [{}]", tally.summary()));

    // JSON bodies, raw bytes and well-formed but wrong values, on every JSON route.
    let tally = Tally::default();
    let routes = [
        (Method::POST, "/auth/login"),
        (Method::POST, "/admin/users"),
        (Method::PUT, "/admin/users"),
        (Method::POST, "/account/change-password"),
        (Method::POST, "/auth/reset"),
        (Method::POST, "/account/2fa/confirm"),
        (Method::DELETE, "/account/2fa"),
    ];
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ];
    runner(160)
        .run(&(0..routes.len(), bodies), |(route, body)| {
            let (method, path) = routes[route].clone();
            let status = fixture.send(fixture.json(method, path, body));
            tally.add(status);
            prop_assert!(status.as_u16() < 500, "{status} on {path}");
            Ok(())
        })
        .unwrap();
    summary.push(format!("JSON bodies [{}]", tally.summary()));

    // Multipart bodies: raw bytes, and well-formed parts that are not images.
    let tally = Tally::default();
    let uploads = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600).prop_map(|b| (b, false)),
        prop::collection::vec(any::<u8>(), 0..600).prop_map(|b| (b, true)),
    ];
    runner(96)
        .run(&uploads, |(bytes, framed)| {
            let body = if framed {
                let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
                body.extend_from_slice(&bytes);
                body.extend_from_slice(b"\r\n--XyZ--\r\n");
                body
            } else {
                bytes
            };
            let request = Request::post("/user/avatar")
                .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
                .header(header::COOKIE, &fixture.admin_cookie)
                .body(Body::from(body))
                .unwrap();
            let status = fixture.send(request);
            tally.add(status);
            prop_assert!(status.is_client_error(), "{status}");
            Ok(())
        })
        .unwrap();
    summary.push(format!("multipart [{}]", tally.summary()));

    fixture.assert_nothing_outside_home();
    figure(&format!(
        "bad input over HTTP, no 5xx and nothing outside LLMS_HOME: {}",
        summary.join(", ")
    ));
}

fn users_json_contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        // Almost right: a real record with one field of the wrong type.
        (
            json_value(),
            prop_oneof![
                Just("password_hash"),
                Just("created"),
                Just("roles"),
                Just("locked"),
                Just("lastLogin")
            ]
        )
            .prop_map(|(value, field)| {
                let mut record =
                    serde_json::json!({"password_hash": "a:b", "created": 1.5, "roles": []});
                record[field] = value;
                serde_json::json!({"bob": record}).to_string().into_bytes()
            }),
    ]
}

/// `llms --listusers` on `home`, with none of the machine's `LLMS_*` settings.
fn listusers(home: &Home) -> std::process::Command {
    let mut command = home.llms();
    command.arg("--listusers").env("LLMS_LOG", "off");
    command
}

/// Loading is the JSON files store's own: users.json as another program left it, read by
/// the app at start and by the command line.
#[test]
fn generated_users_json_is_loaded_or_reported_never_overwritten() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (loaded, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner(64)
        .run(&users_json_contents(), |contents| {
            let outer = tempfile::tempdir().unwrap();
            // The home outlives an app that fails to start (`outer` removes it).
            let mut dir = tempfile::tempdir_in(outer.path()).unwrap();
            dir.disable_cleanup(true);
            let home = Home { dir };
            let file = home.users_file();
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &contents).unwrap();
            let mut cli = listusers(&home);
            let result = runtime.block_on(TestApp::builder(Store::Files).home(home).try_build());
            let cli = cli.output().unwrap();
            // 101 would be a panic.
            prop_assert!(matches!(cli.status.code(), Some(0) | Some(1)), "{cli:?}");
            match result {
                Ok(_) => {
                    loaded.set(loaded.get() + 1);
                    prop_assert_eq!(cli.status.code(), Some(0));
                }
                Err(err) => {
                    refused.set(refused.get() + 1);
                    let message = err.to_string();
                    prop_assert!(message.contains("users.json"), "{message}");
                    prop_assert!(message.contains("line"), "{message}");
                    prop_assert_eq!(cli.status.code(), Some(1));
                }
            }
            prop_assert_eq!(
                std::fs::read(&file).unwrap(),
                contents,
                "the file was changed"
            );
            Ok(())
        })
        .unwrap();
    figure(&format!(
        "users.json contents: {} loaded, {} refused with file and line named, none changed, no panic",
        loaded.get(),
        refused.get()
    ));
}

store_suite!(generated_bad_input_never_breaks_the_server);
