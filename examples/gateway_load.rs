//! The gateway's load test behind BENCHMARKS.md: the release `llms --upstream` in front of
//! the fake OpenAI-compatible upstream of the tests (`tests/common/fake_openai.rs`, run by
//! this example itself as a separate process), against that upstream alone, in one run.
//!
//! ```sh
//! apt-get install wrk                                   # the load generator (Debian)
//! cargo build --release                                 # the server under test
//! cargo run --release --example gateway_load            # about 3 minutes; --quick: 1
//! cargo run --release --example gateway_load -- --litellm /path/to/venv/bin/litellm
//! cargo run --release --example gateway_load -- --streams-only 1000   # only the streams
//! cargo run --release --example gateway_load -- --quick --pinned-only  # only the pinned duel
//! ```
//!
//! - Throughput and latency of a small non-streamed `POST /v1/chat/completions` with an API
//!   key, through the gateway, straight to the upstream, and through a proxy made of
//!   hyper's server and client alone (the floor under any proxy on hyper), rounds taking
//!   turns, 32 connections; medians of the rounds. Twice: with the gateway alone on CPU 0 and the
//!   load (wrk and the upstream) on CPU 1, as the other load test gives the server its own
//!   CPU; and with nothing pinned.
//! - 1,000 streams held open at once through the gateway, each an event every 100 ms:
//!   the gateway's resident memory per stream and how late events arrive.
//! - With `--litellm PATH`: LiteLLM's proxy (`pip install 'litellm[proxy]'`) in front of
//!   the same upstream under the same wrk load, at 4 and 32 connections, beside the
//!   gateway and the upstream alone.
//!
//! All traffic goes to 127.0.0.1 and every step is bounded in time.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[allow(dead_code)]
#[path = "support/bench.rs"]
mod bench;
#[allow(dead_code)]
#[path = "../tests/common/fake_openai.rs"]
mod fake_openai;
#[allow(dead_code)]
#[path = "support/stores.rs"]
mod stores;

use bench::{median, percentile, release_binary, take_turns, Figures, Pinning, Server, WrkProcess};
use stores::Result;

/// The request of the throughput scenarios: a small chat completion.
const CHAT: &str =
    r#"{"model":"alpha","messages":[{"role":"user","content":"hello there, how are you?"}]}"#;

/// The API key's name and owner in the generated home.
const USER: &str = "loadtest";

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU time (user + system) per request of the gateway, in µs (0 going direct).
    gateway_cpu_us: f64,
    /// CPU time per request of the upstream, in µs.
    upstream_cpu_us: f64,
}

/// Writes the wrk script that posts [`CHAT`], with `key` as a Bearer key when given.
fn chat_script(dir: &Path, name: &str, key: Option<&str>) -> Result<PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    let mut file = std::fs::File::create(&path)?;
    writeln!(file, "wrk.method = \"POST\"")?;
    writeln!(file, "wrk.body = [[{CHAT}]]")?;
    writeln!(file, "wrk.headers[\"Content-Type\"] = \"application/json\"")?;
    if let Some(key) = key {
        writeln!(file, "wrk.headers[\"Authorization\"] = \"Bearer {key}\"")?;
    }
    Ok(path)
}

/// Runs wrk for `seconds` with `connections` against `url` with `script`.
fn wrk(pinning: Pinning, url: &str, script: &Path, seconds: u64, connections: u32) -> Result<Run> {
    let text = bench::run_wrk(pinning, url, script, seconds, connections)?;
    let requests = bench::requests_in(&text)?;
    let latency = |label: &str| -> Result<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .ok_or_else(|| format!("no {label} latency in wrk output:\n{text}"))?;
        let value = line.split_whitespace().nth(1).ok_or("bad latency line")?;
        duration_ms(value)
    };
    Ok(Run {
        rps: requests as f64 / seconds as f64,
        p50_ms: latency("50%")?,
        p99_ms: latency("99%")?,
        ..Run::default()
    })
}

/// wrk's `208.00us`, `1.23ms`, `2.00s` in milliseconds.
fn duration_ms(text: &str) -> Result<f64> {
    for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] {
        if let Some(number) = text.strip_suffix(unit) {
            return Ok(number.parse::<f64>()? * factor);
        }
    }
    Err(format!("not a wrk duration: {text}").into())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The fake upstream as a process of its own (this example, `upstream` mode), on `cpu`
/// when pinning.
fn start_upstream(pinning: Pinning, cpu: u32, home: &Path) -> Result<Server> {
    let exe = std::env::current_exe()?;
    let mut cmd = pinning.command(cpu, &exe);
    cmd.arg("upstream");
    Server::launch(cmd, home, &[], &[])
}

/// `upstream` mode: serve the fake on one worker thread until killed.
fn serve_upstream() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let fake = fake_openai::FakeOpenAi::serve(listener, false);
        println!("Listening on {}", fake.base);
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// `bare-proxy BASE` mode: a proxy made of hyper's server and hyper-util's client and
/// nothing else (no routing, no checks), forwarding everything to `BASE` (the upstream's
/// address without `/v1`): the floor under what any proxy on hyper costs here.
fn serve_bare_proxy(base: String) -> Result<()> {
    use http_body_util::combinators::UnsyncBoxBody;
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::{connect::HttpConnector, Client};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    type Outgoing = UnsyncBoxBody<axum::body::Bytes, hyper::Error>;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<HttpConnector, Outgoing> =
            Client::builder(TokioExecutor::new()).build(connector);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("Listening on http://{}", listener.local_addr()?);
        let base: Arc<str> = base.into();
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let (client, base) = (client.clone(), base.clone());
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let (client, base) = (client.clone(), base.clone());
                    async move {
                        let (mut parts, body) = request.into_parts();
                        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                        parts.uri = format!("{base}{path}")
                            .parse()
                            .map_err(std::io::Error::other)?;
                        parts.headers.remove(hyper::header::HOST);
                        let outgoing = hyper::Request::from_parts(parts, body.boxed_unsync());
                        client
                            .request(outgoing)
                            .await
                            .map_err(std::io::Error::other)
                    }
                },
            );
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// The bare proxy before `upstream`, on the gateway's CPU when pinning.
fn start_bare_proxy(pinning: Pinning, home: &Path, upstream: &Server) -> Result<Server> {
    let mut cmd = pinning.command(0, std::env::current_exe()?);
    cmd.args(["bare-proxy", &format!("http://{}", upstream.addr)]);
    Server::launch(cmd, home, &[], &[])
}

/// A home with one user and one API key for them; the key.
fn home_with_key(binary: &Path, home: &Path) -> Result<String> {
    let run = |args: &[&str], input: &str| -> Result<String> {
        let mut child = Command::new(binary)
            .args(args)
            .env("LLMS_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("llms {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(String::from_utf8(out.stdout)?)
    };
    run(
        &["--adduser", USER, "--password-stdin"],
        "load-test-password\n",
    )?;
    let made = run(&["--addkey", USER, "--name", "load"], "")?;
    Ok(made.lines().nth(1).ok_or("no key printed")?.to_owned())
}

/// The gateway before `upstream`: `llms --upstream`, on CPU 0 when pinning.
fn start_gateway(
    binary: &Path,
    home: &Path,
    upstream: &Server,
    pinning: Pinning,
) -> Result<Server> {
    let base = format!("http://{}/v1", upstream.addr);
    Server::launch(
        pinning.server(binary),
        home,
        &["--upstream", &base],
        // The streams scenario opens 1,000 connections from one address.
        &[("LLMS_MAX_CONNECTIONS_PER_IP", "4000")],
    )
}

/// Rounds of wrk alternating between the upstream alone and the gateway; the median of
/// each side and of the per-round ratios.
/// One wrk run, with the CPU time the proxy in front (if any) and the upstream spent per
/// request.
fn measured(
    pinning: Pinning,
    side: &Side,
    seconds: u64,
    connections: u32,
    upstream: &Server,
) -> Result<Run> {
    let cpu = |server: Option<&Server>| server.map_or(Ok(0.0), Server::cpu_seconds);
    let before = [cpu(side.proxy)?, upstream.cpu_seconds()?];
    let mut run = wrk(pinning, &side.url, &side.script, seconds, connections)?;
    let requests = run.rps * seconds as f64;
    run.gateway_cpu_us = (cpu(side.proxy)? - before[0]) * 1e6 / requests;
    run.upstream_cpu_us = (upstream.cpu_seconds()? - before[1]) * 1e6 / requests;
    Ok(run)
}

/// One contender of a throughput contest: where wrk sends what, and the proxy it goes
/// through (none going direct).
struct Side<'a> {
    name: &'static str,
    url: String,
    script: PathBuf,
    proxy: Option<&'a Server>,
}

/// Rounds of wrk taking the sides in turn, each run whole (the order rotating, so no side
/// always gets the warmer machine): the median run of each side, for latency and CPU.
fn contest(
    pinning: Pinning,
    sides: &[Side],
    upstream: &Server,
    rounds: usize,
    seconds: u64,
    connections: u32,
) -> Result<Vec<Run>> {
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); sides.len()];
    // A warm-up for each, not counted.
    for side in sides {
        wrk(pinning, &side.url, &side.script, 1, connections)?;
    }
    for round in 0..rounds {
        let mut this = vec![Run::default(); sides.len()];
        for turn in 0..sides.len() {
            let index = (round + turn) % sides.len();
            this[index] = measured(pinning, &sides[index], seconds, connections, upstream)?;
        }
        let line: Vec<String> = sides
            .iter()
            .zip(&this)
            .map(|(side, run)| {
                format!(
                    "{} {:.0} req/s (p50 {:.3} ms, p99 {:.3} ms; {:.1} + {:.1} µs CPU/req, {:.1}%)",
                    side.name,
                    run.rps,
                    run.p50_ms,
                    run.p99_ms,
                    run.gateway_cpu_us,
                    run.upstream_cpu_us,
                    100.0 * run.rps / this[0].rps
                )
            })
            .collect();
        println!("  round {}: {}", round + 1, line.join("; "));
        for (index, run) in this.iter().enumerate() {
            runs[index].push(*run);
        }
    }
    let summary = |runs: &[Run]| {
        let of = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        Run {
            rps: of(|r| r.rps),
            p50_ms: of(|r| r.p50_ms),
            p99_ms: of(|r| r.p99_ms),
            gateway_cpu_us: of(|r| r.gateway_cpu_us),
            upstream_cpu_us: of(|r| r.upstream_cpu_us),
        }
    };
    Ok(runs.iter().map(|runs| summary(runs)).collect())
}

/// Duels of `b` against `a` with wrk taking turns every 100 ms (see
/// [`bench::take_turns`]), so that both see the same machine: the median of `b`'s
/// throughput over `a`'s, and each duel's.
fn sliced_ratio(
    pinning: Pinning,
    a: &Side,
    b: &Side,
    upstream: &Server,
    duels: usize,
    seconds: u64,
) -> Result<(f64, Vec<f64>)> {
    use rustix::process::Signal;
    let mut ratios = Vec::new();
    for duel in 0..duels {
        let spawn = |side: &Side| -> Result<WrkProcess> {
            let wrk = WrkProcess::spawn(pinning, &side.script, &side.url, 32)?;
            wrk.signal(Signal::STOP)?;
            Ok(wrk)
        };
        let clients = [spawn(a)?, spawn(b)?];
        let servers = [a.proxy.unwrap_or(upstream), b.proxy.unwrap_or(upstream)];
        let [first, second] = take_turns(clients, servers, seconds, duel % 2 == 0)?;
        ratios.push(second.rps() / first.rps());
        println!(
            "  duel {}: {} {:.0} req/s, {} {:.0} req/s: {:.1}%",
            duel + 1,
            a.name,
            first.rps(),
            b.name,
            second.rps(),
            100.0 * second.rps() / first.rps()
        );
    }
    Ok((median(ratios.clone()), ratios))
}

/// "61.2-88.0%": the spread of `ratios`.
fn spread(ratios: &[f64]) -> String {
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(0.0, f64::max);
    format!("{:.1}-{:.1}%", 100.0 * low, 100.0 * high)
}

/// The throughput and latency duel in one CPU layout.
fn throughput(
    binary: &Path,
    home: &Path,
    key: &str,
    pinning: Pinning,
    quick: bool,
    figures: &mut Figures,
) -> Result<()> {
    let layout = if pinning.enabled {
        "gateway on CPU 0, wrk and upstream on CPU 1"
    } else {
        "nothing pinned"
    };
    println!("\nthroughput, 32 connections, {layout}:");
    let upstream = start_upstream(pinning, 1, home)?;
    let gateway = start_gateway(binary, home, &upstream, pinning)?;
    let bare = start_bare_proxy(pinning, home, &upstream)?;
    let dir = home.join("scripts");
    std::fs::create_dir_all(&dir)?;
    let direct_script = chat_script(&dir, "direct", None)?;
    let gateway_script = chat_script(&dir, "gateway", Some(key))?;
    let path = "/v1/chat/completions";
    let (rounds, seconds) = if quick { (3, 3) } else { (7, 5) };
    let sides = [
        Side {
            name: "direct",
            url: upstream.url(path),
            script: direct_script.clone(),
            proxy: None,
        },
        Side {
            name: "hyper alone",
            url: bare.url(path),
            script: direct_script,
            proxy: Some(&bare),
        },
        Side {
            name: "gateway",
            url: gateway.url(path),
            script: gateway_script,
            proxy: Some(&gateway),
        },
    ];
    let (duels, duel_seconds) = if quick { (2, 4) } else { (5, 10) };
    println!("  gateway against direct, taking turns:");
    let (ratio, ratios) = sliced_ratio(
        pinning,
        &sides[0],
        &sides[2],
        &upstream,
        duels,
        duel_seconds,
    )?;
    println!("  hyper alone against direct, taking turns:");
    let (alone_ratio, alone_ratios) = sliced_ratio(
        pinning,
        &sides[0],
        &sides[1],
        &upstream,
        duels,
        duel_seconds,
    )?;
    println!("  latency and CPU, each in turn without pauses:");
    let results = contest(pinning, &sides, &upstream, rounds, seconds, 32)?;
    let [direct, alone, through] = results[..] else {
        unreachable!("three sides")
    };
    let name = if pinning.enabled {
        "pinned"
    } else {
        "unpinned"
    };
    figures.add(
        &format!("gateway / direct throughput, {name}"),
        format!("{:.1}% (duels {})", 100.0 * ratio, spread(&ratios)),
        ">= 80%",
        ratio >= 0.8,
    );
    figures.add(
        &format!(
            "hyper alone (a proxy of hyper's server and client, nothing else) / direct, {name}"
        ),
        format!(
            "{:.1}% (duels {})",
            100.0 * alone_ratio,
            spread(&alone_ratios)
        ),
        "(the floor)",
        true,
    );
    figures.add(
        &format!("throughput without pauses, {name}"),
        format!(
            "direct {:.0}, hyper alone {:.0}, gateway {:.0} req/s",
            direct.rps, alone.rps, through.rps
        ),
        "(medians of the rounds)",
        true,
    );
    figures.add(
        &format!("CPU per request, {name}"),
        format!(
            "gateway {:.1} µs, hyper alone {:.1} µs; upstream {:.1} µs behind the gateway, {:.1} µs alone",
            through.gateway_cpu_us, alone.gateway_cpu_us, through.upstream_cpu_us, direct.upstream_cpu_us
        ),
        "(explains the ratio)",
        true,
    );
    let added_p50 = through.p50_ms - direct.p50_ms;
    let added_p99 = through.p99_ms - direct.p99_ms;
    figures.add(
        &format!("added latency p50, {name}"),
        format!(
            "{added_p50:.3} ms ({:.3} vs {:.3})",
            through.p50_ms, direct.p50_ms
        ),
        "< 0.5 ms",
        added_p50 < 0.5,
    );
    figures.add(
        &format!("added latency p99, {name}"),
        format!(
            "{added_p99:.3} ms ({:.3} vs {:.3})",
            through.p99_ms, direct.p99_ms
        ),
        "< 5 ms",
        added_p99 < 5.0,
    );
    Ok(())
}

/// What the streams saw.
#[derive(Default)]
struct StreamStats {
    /// Each event's delay: arrival minus the upstream's `sent_at`, in ms.
    delays: Mutex<Vec<f64>>,
    open: AtomicUsize,
    failed: AtomicUsize,
}

/// Opens one stream and reads it until `stop`, recording each event's delay.
async fn one_stream(
    client: reqwest::Client,
    url: String,
    key: String,
    stats: Arc<StreamStats>,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
) {
    let body = serde_json::json!({
        "model": "alpha",
        "stream": true,
        "messages": [{ "role": "user", "content": "stream please" }],
        "fake_events": 100_000,
        "fake_interval_ms": 100,
    });
    let response = client.post(&url).bearer_auth(&key).json(&body).send().await;
    let Ok(mut response) = response.and_then(|r| r.error_for_status()) else {
        stats.failed.fetch_add(1, Ordering::SeqCst);
        return;
    };
    stats.open.fetch_add(1, Ordering::SeqCst);
    let mut pending = Vec::new();
    let mut delays = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let chunk = match tokio::time::timeout(Duration::from_secs(5), response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => {
                stats.failed.fetch_add(1, Ordering::SeqCst);
                break;
            }
        };
        let now = unix_now();
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            if !measuring.load(Ordering::Relaxed) {
                continue;
            }
            let text = String::from_utf8_lossy(&event);
            if let Some(sent) = text
                .split("\"sent_at\":")
                .nth(1)
                .and_then(|rest| rest.split(['}', ',']).next())
                .and_then(|n| n.trim().parse::<f64>().ok())
            {
                delays.push((now - sent) * 1000.0);
            }
        }
    }
    stats.delays.lock().unwrap().extend(delays);
}

/// `streams` streams through the gateway at once: memory per stream and event delays.
fn streams(
    binary: &Path,
    home: &Path,
    key: &str,
    quick: bool,
    streams: usize,
    figures: &mut Figures,
) -> Result<()> {
    println!("\n{streams} streams, an event every 100 ms each:");
    let unpinned = Pinning { enabled: false };
    let upstream = start_upstream(unpinned, 1, home)?;
    let gateway = start_gateway(binary, home, &upstream, unpinned)?;
    let url = gateway.url("/v1/chat/completions");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let hold = Duration::from_secs(if quick { 5 } else { 15 });
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        // One request first, so that what every server allocates once is in the baseline.
        let warm = client
            .get(gateway.url("/v1/models"))
            .bearer_auth(key)
            .send()
            .await?;
        warm.bytes().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = gateway.rss_kib()?;
        let stats = Arc::new(StreamStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let measuring = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..streams {
            tasks.push(tokio::spawn(one_stream(
                client.clone(),
                url.clone(),
                key.to_owned(),
                stats.clone(),
                stop.clone(),
                measuring.clone(),
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while stats.open.load(Ordering::SeqCst) + stats.failed.load(Ordering::SeqCst) < streams {
            if Instant::now() > deadline {
                return Err::<(), Box<dyn std::error::Error>>(
                    "the streams did not open in 60 s".into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Settle, then measure while all are open.
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Ordering::SeqCst);
        let mut peak = gateway.rss_kib()?;
        let started = Instant::now();
        while started.elapsed() < hold {
            tokio::time::sleep(Duration::from_millis(250)).await;
            peak = peak.max(gateway.rss_kib()?);
        }
        measuring.store(false, Ordering::SeqCst);
        let open = stats.open.load(Ordering::SeqCst);
        let failed = stats.failed.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let mut delays = std::mem::take(&mut *stats.delays.lock().unwrap());
        delays.sort_by(f64::total_cmp);
        if delays.is_empty() {
            return Err("no event arrived".into());
        }
        let per_stream = (peak.saturating_sub(before)) as f64 / streams as f64;
        println!(
            "  {open} open, {failed} failed; RSS {before} KiB -> {peak} KiB; {} events measured",
            delays.len()
        );
        figures.add(
            "streams held at once",
            format!("{open} of {streams} ({failed} failed)"),
            "all",
            open == streams && failed == 0,
        );
        figures.add(
            "gateway memory per open stream",
            format!("{per_stream:.1} KiB ({before} -> {peak} KiB)"),
            "< 64 KiB",
            per_stream < 64.0,
        );
        let max = *delays.last().unwrap_or(&0.0);
        figures.add(
            "event delay, upstream send to client arrival",
            format!(
                "max {max:.1} ms, p99 {:.1} ms, p50 {:.1} ms over {} events",
                percentile(&delays, 0.99),
                percentile(&delays, 0.50),
                delays.len()
            ),
            "none over 50 ms",
            max <= 50.0,
        );
        Ok(())
    })?;
    Ok(())
}

/// LiteLLM's proxy before the same upstream, beside the gateway and the upstream alone.
fn litellm(
    litellm: &Path,
    binary: &Path,
    home: &Path,
    key: &str,
    quick: bool,
    figures: &mut Figures,
) -> Result<()> {
    println!("\nLiteLLM comparison (nothing pinned):");
    let unpinned = Pinning { enabled: false };
    let upstream = start_upstream(unpinned, 1, home)?;
    let gateway = start_gateway(binary, home, &upstream, unpinned)?;
    let port = free_port()?;
    let config = home.join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: alpha\n    litellm_params:\n      model: openai/alpha\n      api_base: http://{}/v1\n      api_key: none\ngeneral_settings:\n  master_key: sk-litellm-load-master\n",
            upstream.addr
        ),
    )?;
    let mut proxy = Command::new(litellm)
        .args(["--config"])
        .arg(&config)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--num_workers",
            "2",
        ])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let deadline = Instant::now() + Duration::from_secs(180);
    while bench::get_status(addr, "/health/liveliness") != Some(200) {
        if Instant::now() > deadline {
            let _ = proxy.kill();
            return Err("LiteLLM did not start within 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let dir = home.join("scripts");
    std::fs::create_dir_all(&dir)?;
    let direct_script = chat_script(&dir, "direct", None)?;
    let gateway_script = chat_script(&dir, "gateway", Some(key))?;
    let litellm_script = chat_script(&dir, "litellm", Some("sk-litellm-load-master"))?;
    let path = "/v1/chat/completions";
    let litellm_url = format!("http://{addr}{path}");
    let seconds = if quick { 5 } else { 10 };
    let result = (|| -> Result<()> {
        // LiteLLM's own warm-up (its first requests load code).
        wrk(unpinned, &litellm_url, &litellm_script, 3, 4)?;
        for connections in [4, 32] {
            let lite = wrk(
                unpinned,
                &litellm_url,
                &litellm_script,
                seconds,
                connections,
            )?;
            let ours = wrk(
                unpinned,
                &gateway.url(path),
                &gateway_script,
                seconds,
                connections,
            )?;
            let alone = wrk(
                unpinned,
                &upstream.url(path),
                &direct_script,
                seconds,
                connections,
            )?;
            figures.add(
                &format!("LiteLLM / gateway / upstream alone, {connections} connections"),
                format!(
                    "{:.0} / {:.0} / {:.0} req/s; p50 {:.2} / {:.3} / {:.3} ms; gateway = {:.0}x LiteLLM",
                    lite.rps,
                    ours.rps,
                    alone.rps,
                    lite.p50_ms,
                    ours.p50_ms,
                    alone.p50_ms,
                    ours.rps / lite.rps
                ),
                "(comparison)",
                true,
            );
        }
        Ok(())
    })();
    let _ = proxy.kill();
    let _ = proxy.wait();
    // LiteLLM's workers are its children: end the whole group of them too.
    let _ = Command::new("pkill")
        .args(["-f", &config.display().to_string()])
        .status();
    result
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("upstream") => return serve_upstream(),
        Some("bare-proxy") => {
            return serve_bare_proxy(args.get(1).ok_or("bare-proxy BASE")?.clone());
        }
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed: apt-get install wrk".into());
    }
    let binary = match args.iter().position(|a| a == "--binary") {
        Some(i) => PathBuf::from(args.get(i + 1).ok_or("--binary needs a path")?),
        None => release_binary()?,
    };
    let litellm_path = match args.iter().position(|a| a == "--litellm") {
        Some(i) => Some(PathBuf::from(
            args.get(i + 1).ok_or("--litellm needs a path")?,
        )),
        None => None,
    };
    let work = tempfile::tempdir()?;
    let home = work.path();
    let key = home_with_key(&binary, home)?;
    let mut figures = Figures { rows: Vec::new() };
    println!(
        "machine: {} cores; binary {}",
        std::thread::available_parallelism()?.get(),
        binary.display()
    );
    // `--streams-only [N]`: only the streams scenario, with N streams (default 1,000).
    let streams_only = args.iter().position(|a| a == "--streams-only");
    let count = streams_only
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    if streams_only.is_none() {
        let pinned = Pinning::detect(!args.iter().any(|a| a == "--no-pin"));
        if pinned.enabled {
            throughput(&binary, home, &key, pinned, quick, &mut figures)?;
        }
        if args.iter().any(|a| a == "--pinned-only") {
            return print_figures(&figures);
        }
        let unpinned = Pinning { enabled: false };
        throughput(&binary, home, &key, unpinned, quick, &mut figures)?;
    }
    streams(&binary, home, &key, quick, count, &mut figures)?;
    if let (Some(path), None) = (litellm_path, streams_only) {
        litellm(&path, &binary, home, &key, quick, &mut figures)?;
    }
    print_figures(&figures)
}

/// The table of every figure, for BENCHMARKS.md.
fn print_figures(figures: &Figures) -> Result<()> {
    println!("\n| measure | figure | target | |\n| --- | --- | --- | --- |");
    for (what, figure, target, met) in &figures.rows {
        println!(
            "| {what} | {figure} | {target} | {} |",
            if *met { "met" } else { "missed" }
        );
    }
    Ok(())
}
