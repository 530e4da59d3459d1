//! A fake OpenAI-compatible server served by the test itself on 127.0.0.1:0, the upstream
//! of the gateway under test: `GET /v1/models`, `POST /v1/chat/completions` with and
//! without `"stream": true`, and anything else under `/v1/` answered with what it was sent.
//! It records every request (method, path and query, headers, body) and every stream's
//! fate, and does what the request asks of it through extra body fields:
//!
//! - `"fake_events": N` chunks in a stream (default 3), `"fake_interval_ms": M` between them;
//! - `"fake_cut_after": K`: the connection is closed after K chunks, without the end;
//! - `"model": "fake-stall"`: no answer, ever (until the caller goes away).
//!
//! Every stream chunk carries `"sent_at"` (unix seconds), for the load test's delays.
//!
//! [`garbage_upstream`] answers every connection with bytes that are not HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Value};

/// The models the fake serves.
pub const MODELS: [&str; 3] = ["alpha", "beta", "gamma"];

/// The model whose requests are never answered.
pub const STALL_MODEL: &str = "fake-stall";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    /// Path and query, e.g. `/v1/models?x=1`.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Recorder {
    /// Whether requests are kept (not under load: the list would only grow).
    keep: bool,
    received: Mutex<Vec<Received>>,
    /// Handlers or streams dropped before they finished: the gateway went away.
    cancelled: AtomicUsize,
    /// Streams sent to their end.
    completed: AtomicUsize,
    /// Wall-clock send time (unix seconds) of every stream chunk, in order.
    sent_at: Mutex<Vec<f64>>,
}

/// Counts a cancellation when dropped before [`Finished::done`].
struct Finished {
    recorder: Arc<Recorder>,
    done: bool,
}

impl Finished {
    fn new(recorder: &Arc<Recorder>) -> Self {
        Self {
            recorder: recorder.clone(),
            done: false,
        }
    }
}

impl Drop for Finished {
    fn drop(&mut self) {
        if !self.done {
            self.recorder.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The fake, serving until dropped (its task ends with the test's runtime).
pub struct FakeOpenAi {
    /// `http://127.0.0.1:PORT/v1`: what `--upstream` is given.
    pub base: String,
    recorder: Arc<Recorder>,
}

impl FakeOpenAi {
    /// Starts the fake on the current runtime, on a free loopback port, recording.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, true)
    }

    /// Serves the fake on `listener` (on the current runtime); `keep`: whether requests
    /// are recorded (the load test's upstream keeps none).
    pub fn serve(listener: tokio::net::TcpListener, keep: bool) -> Self {
        let recorder = Arc::new(Recorder {
            keep,
            ..Recorder::default()
        });
        let app = Router::new()
            .route("/v1/{*rest}", any(answer))
            .with_state(recorder.clone());
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}/v1"),
            recorder,
        }
    }

    /// Starts the fake on a runtime of its own thread: for tests without one (the CLI and
    /// Python ones) and servers that must outlive a test's runtime.
    pub fn start_detached() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let fake = FakeOpenAi::start().await;
                tx.send((fake.base.clone(), fake.recorder.clone())).unwrap();
                std::future::pending::<()>().await;
            });
        });
        let (base, recorder) = rx.recv().unwrap();
        Self { base, recorder }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.recorder.received.lock().unwrap().clone()
    }

    /// The last request received (panics when none was).
    pub fn last(&self) -> Received {
        self.received()
            .pop()
            .expect("the upstream received a request")
    }

    /// How many requests or streams were abandoned by the gateway before their end.
    pub fn cancelled(&self) -> usize {
        self.recorder.cancelled.load(Ordering::SeqCst)
    }

    /// How many streams were sent to their end.
    pub fn completed(&self) -> usize {
        self.recorder.completed.load(Ordering::SeqCst)
    }

    /// When each stream chunk was sent (unix seconds).
    pub fn sent_at(&self) -> Vec<f64> {
        self.recorder.sent_at.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `check` holds of the fake; panics with `what` otherwise.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&Self) -> bool) {
        for _ in 0..1000 {
            if check(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the upstream never saw: {what}");
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn answer(State(recorder): State<Arc<Recorder>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut guard = Finished::new(&recorder);
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let uri = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    if recorder.keep {
        recorder.received.lock().unwrap().push(Received {
            method: parts.method.clone(),
            uri: uri.clone(),
            headers: parts.headers.clone(),
            body: body.clone(),
        });
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = parts.uri.path();
    let response = match (&parts.method, path) {
        (&Method::GET, "/v1/models") => Json(json!({
            "object": "list",
            "data": MODELS.iter().map(|id| json!({
                "id": id, "object": "model", "created": 1_700_000_000, "owned_by": "fake"
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        (&Method::POST, "/v1/chat/completions") => {
            if request["model"] == STALL_MODEL {
                // Never answers; the guard counts the gateway giving up.
                std::future::pending::<()>().await;
            }
            if request["stream"] == true {
                guard.done = true;
                return stream(&recorder, &request);
            }
            Json(completion(&request)).into_response()
        }
        _ => Json(json!({
            "method": parts.method.as_str(),
            "uri": uri,
            "length": body.len(),
        }))
        .into_response(),
    };
    guard.done = true;
    response
}

/// What the fake says: `You said:` and the words of the last message.
fn reply_words(request: &Value) -> Vec<String> {
    let last = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    let mut words = vec!["You".to_owned(), "said:".to_owned()];
    words.extend(last.split_whitespace().map(str::to_owned));
    words
}

fn completion(request: &Value) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": reply_words(request).join(" ") },
            "finish_reason": "stop",
        }],
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 },
    })
}

fn chunk(model: &Value, content: Option<&str>) -> Bytes {
    let delta = match content {
        Some(text) => json!({ "content": text }),
        None => json!({}),
    };
    let finish = if content.is_none() {
        json!("stop")
    } else {
        Value::Null
    };
    let event = json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        "sent_at": unix_now(),
    });
    Bytes::from(format!("data: {event}\n\n"))
}

/// A server-sent-event stream of `fake_events` chunks, `fake_interval_ms` apart, then the
/// end (`[DONE]`), unless `fake_cut_after` cuts it short with an error.
fn stream(recorder: &Arc<Recorder>, request: &Value) -> Response {
    let events = request["fake_events"].as_u64().unwrap_or(3) as usize;
    let interval = Duration::from_millis(request["fake_interval_ms"].as_u64().unwrap_or(0));
    let cut_after = request["fake_cut_after"].as_u64().map(|k| k as usize);
    let model = request["model"].clone();
    let words = reply_words(request);
    let state = (0usize, Finished::new(recorder));
    let recorder = recorder.clone();
    let body = futures_util::stream::unfold(state, move |(sent, mut guard)| {
        let (model, words, recorder) = (model.clone(), words.clone(), recorder.clone());
        async move {
            if guard.done {
                return None;
            }
            if sent > 0 && !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            if cut_after == Some(sent) {
                guard.done = true;
                return Some((Err(std::io::Error::other("cut off")), (sent, guard)));
            }
            let data = if sent < events {
                let word = &words[sent % words.len()];
                chunk(&model, Some(&format!("{word} ")))
            } else {
                guard.done = true;
                recorder.completed.fetch_add(1, Ordering::SeqCst);
                let mut end = chunk(&model, None).to_vec();
                end.extend_from_slice(b"data: [DONE]\n\n");
                Bytes::from(end)
            };
            if recorder.keep {
                recorder.sent_at.lock().unwrap().push(unix_now());
            }
            Some((Ok::<_, std::io::Error>(data), (sent + 1, guard)))
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-fake-upstream", "1")
        .body(Body::from_stream(body))
        .unwrap()
}

/// A server that answers every connection with bytes that are not HTTP, then closes it:
/// `http://127.0.0.1:PORT/v1`.
pub async fn garbage_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(b"\x00\x01 this is not HTTP\r\n\r\n").await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// An address where nothing listens: `http://127.0.0.1:PORT/v1` of a port just freed.
pub fn closed_upstream() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}
