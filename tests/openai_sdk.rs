//! The real client: the official `openai` Python SDK (`tests/reference/openai_client.py`)
//! talking to the real `llms` binary in front of the fake upstream, with keys made by
//! `llms --addkey`. Needs the reference Python (see `common::python`).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::fake_openai::FakeOpenAi;
use common::python::{reference_python, reference_required};
use common::{Home, Server};
use serde_json::{json, Value};

/// Runs `ops` in one SDK process against `base_url` with `api_key`; `None` when the SDK
/// is not installed and not required.
async fn sdk(python: &Path, base_url: &str, api_key: &str, ops: Value) -> Option<Vec<Value>> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/openai_client.py");
    let request = json!({ "base_url": base_url, "api_key": api_key, "ops": ops });
    let python = python.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&python)
            .arg(script)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // The SDK must talk to the loopback server, never through a proxy.
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env("NO_PROXY", "*")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(3) {
        assert!(
            !reference_required(),
            "LLMS_REQUIRE_REFERENCE=1 but the openai package is missing: {stderr}"
        );
        eprintln!("SKIPPED: the openai package is not installed beside llms-py");
        return None;
    }
    assert!(output.status.success(), "the SDK script failed: {stderr}");
    Some(serde_json::from_slice(&output.stdout).expect("a JSON list of results"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_sdk_lists_chats_and_streams_through_the_gateway() {
    let Some(python) =
        reference_python("the_openai_sdk_lists_chats_and_streams_through_the_gateway")
    else {
        return;
    };
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.add_user("alice", "pw-alice-long");
    let key = home.add_key("alice", "sdk", &[]);
    let server = Server::start(&home, &["--upstream", &fake.base]);
    let base = server.url("/v1");
    let ops = json!([
        ["models"],
        ["chat", "beta"],
        ["stream", "alpha", { "fake_events": 6, "fake_interval_ms": 250 }],
    ]);
    let Some(results) = sdk(&python, &base, &key, ops).await else {
        return;
    };
    assert_eq!(results[0]["ids"], json!(["alpha", "beta", "gamma"]));
    assert_eq!(results[1]["content"], "You said: hello from the sdk");
    let stream = &results[2];
    assert_eq!(
        stream["content"], "You said: hello from the sdk ",
        "{stream}"
    );
    // The first event reached the SDK before the upstream had sent the last.
    let first_at = stream["first_at"].as_f64().expect("a first event");
    let last_sent = *fake.sent_at().last().expect("events sent");
    assert!(
        first_at < last_sent,
        "first event at {first_at}, last sent at {last_sent}: the stream was buffered"
    );
    assert_eq!(fake.last().headers["x-llms-user"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_raise_the_sdks_own_exceptions() {
    let Some(python) = reference_python("refusals_raise_the_sdks_own_exceptions") else {
        return;
    };
    let fake = FakeOpenAi::start().await;
    let home = Home::new();
    home.add_user("alice", "pw-alice-long");
    let restricted = home.add_key("alice", "sdk", &["--models", "alpha"]);
    let limited = home.add_key("alice", "sdk", &["--rpm", "1"]);
    let server = Server::start(&home, &["--upstream", &fake.base]);
    let base = server.url("/v1");
    let last = if restricted.ends_with('A') { 'B' } else { 'A' };
    let wrong = format!("{}{last}", &restricted[..restricted.len() - 1]);
    let ops = json!([
        ["chat_error", "alpha", wrong],
        ["chat_error", "alpha", "not-a-key"],
        ["models"],
        ["chat_error", "gamma", restricted],
        ["chat_error", "alpha", limited],
        ["chat_error", "alpha", limited],
    ]);
    let Some(results) = sdk(&python, &base, &restricted, ops).await else {
        return;
    };
    assert_eq!(results[0]["error"], "AuthenticationError", "{}", results[0]);
    assert_eq!(results[0]["status"], 401);
    assert_eq!(results[1]["error"], "AuthenticationError", "{}", results[1]);
    assert_eq!(results[2]["ids"], json!(["alpha"]), "the list is filtered");
    assert_eq!(
        results[3]["error"], "PermissionDeniedError",
        "{}",
        results[3]
    );
    assert_eq!(results[3]["status"], 403);
    assert!(results[3]["message"].as_str().unwrap().contains("gamma"));
    assert_eq!(results[4]["error"], Value::Null, "{}", results[4]);
    assert_eq!(results[5]["error"], "RateLimitError", "{}", results[5]);
    assert_eq!(results[5]["status"], 429);
    // The refused requests never reached the upstream: only the model list did.
    // Only the list and the one allowed chat reached the upstream.
    let uris: Vec<String> = fake.received().into_iter().map(|r| r.uri).collect();
    assert_eq!(uris, ["/v1/models", "/v1/chat/completions"]);
}
