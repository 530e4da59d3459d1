//! The load test behind BENCHMARKS.md: one command runs every scenario against the real
//! release `llms` binary on 127.0.0.1 and prints the figures beside their targets.
//!
//! ```sh
//! apt-get install wrk                       # the load generator (Debian)
//! cargo build --release                     # the server under test
//! cargo run --release --example loadtest    # about 3 minutes; add --quick for a short run
//! cargo run --release --example loadtest -- generate DIR --users 10000 --sessions 100000
//! ```
//!
//! Every comparison is a ratio measured in the same run (rounds alternate between the
//! scenarios, medians are kept), because the machines are shared and absolute numbers
//! move. All traffic goes to 127.0.0.1 and every step is bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use llms_auth::password::{hash_password, HashScheme};
use llms_auth::session::SessionRecord;
use llms_auth::users::{now_secs, serialize_users, User, Users};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The deterministic token of session `i` (43 URL-safe base64 characters).
fn token(i: usize) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("loadtest-session-{i}")))
}

/// Writes `users` users (reference sha256 hashes of "pw"; user 0 is `bench`, an Admin) and
/// `sessions` session files for `bench` under `home`.
fn generate(home: &Path, users: usize, sessions: usize) -> Result<()> {
    let credentials = home.join("credentials");
    let session_dir = credentials.join("sessions");
    std::fs::create_dir_all(&session_dir)?;
    let mut store = Users::new();
    for i in 0..users {
        let name = if i == 0 {
            "bench".to_owned()
        } else {
            format!("user{i:05}")
        };
        let roles = if i == 0 {
            vec!["Admin".to_owned()]
        } else {
            vec![]
        };
        store.insert(
            name,
            User::new(hash_password("pw", HashScheme::Sha256)?, roles),
        );
    }
    std::fs::write(credentials.join("users.json"), serialize_users(&store)?)?;
    let now = now_secs();
    for i in 0..sessions {
        let record = SessionRecord {
            username: "bench".to_owned(),
            provider: "credentials".to_owned(),
            created: now,
            last_seen: now,
            client_ip: "127.0.0.1".to_owned(),
            user_agent: "loadtest".to_owned(),
        };
        let key = hex::encode(Sha256::digest(token(i).as_bytes()));
        std::fs::write(
            session_dir.join(format!("{key}.json")),
            serde_json::to_vec_pretty(&record)?,
        )?;
    }
    Ok(())
}

/// A running `llms` server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(binary: &Path, home: &Path, auth: &str) -> Result<Self> {
        let mut child = Command::new(binary)
            .args(["--serve", "0", "--host", "127.0.0.1", "--auth", auth])
            .env("LLMS_HOME", home)
            .env("LLMS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if let Some(url) = line.strip_prefix("Listening on http://") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30))?.parse()?;
        Ok(Self { child, addr })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Resident memory in KiB, from /proc.
    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .ok_or("no VmRSS")?;
        Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a wrk Lua script that sends each request with one of `tokens`, either at random
/// or in order (to touch every session once).
fn wrk_script(
    dir: &Path,
    name: &str,
    tokens: &[String],
    in_order: Option<usize>,
) -> Result<PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    let mut file = std::fs::File::create(&path)?;
    writeln!(file, "local tokens = {{")?;
    for t in tokens {
        writeln!(file, "  \"{t}\",")?;
    }
    writeln!(file, "}}")?;
    writeln!(file, "local n = {}", in_order.unwrap_or(0))?;
    writeln!(file, "math.randomseed(42)")?;
    writeln!(file, "request = function()")?;
    if in_order.is_some() {
        writeln!(file, "  n = n + 1")?;
        writeln!(file, "  local t = tokens[((n - 1) % #tokens) + 1]")?;
    } else {
        writeln!(file, "  local t = tokens[math.random(#tokens)]")?;
    }
    writeln!(
        file,
        "  return wrk.format(\"GET\", \"/auth\", {{[\"Cookie\"] = \"llms-token=\" .. t}})"
    )?;
    writeln!(file, "end")?;
    Ok(path)
}

/// What one wrk run measured.
struct WrkRun {
    rps: f64,
    requests: u64,
}

/// Runs wrk for `seconds` with `connections` connections.
fn wrk(url: &str, script: Option<&Path>, seconds: u64, connections: u32) -> Result<WrkRun> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--timeout",
        "5s",
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd.arg(url).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("wrk saw errors:\n{text}").into());
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .ok_or_else(|| format!("no request count in wrk output:\n{text}"))?;
    Ok(WrkRun {
        rps: rps.trim().parse()?,
        requests: requests.parse()?,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// One blocking HTTP/1.1 request on a fresh connection; returns the status code.
fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Figures {
    rows: Vec<(String, String, String, bool)>,
}

impl Figures {
    fn add(&mut self, what: &str, figure: String, target: &str, met: bool) {
        println!(
            "{what}: {figure} (target {target}) {}",
            if met { "MET" } else { "MISSED" }
        );
        self.rows
            .push((what.to_owned(), figure, target.to_owned(), met));
    }
}

fn release_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(Path::parent).ok_or("no target dir")?;
    let binary = dir.join("llms");
    if !binary.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release` first",
            binary.display()
        )
        .into());
    }
    Ok(binary)
}

fn rps_scenarios(binary: &Path, work: &Path, figures: &mut Figures, quick: bool) -> Result<()> {
    let (rounds, seconds) = if quick { (1, 3) } else { (3, 5) };
    let none_home = work.join("none");
    std::fs::create_dir_all(&none_home)?;
    let small_home = work.join("small");
    generate(&small_home, 1, 10)?;
    let large_home = work.join("large");
    println!("generating 10,000 users and 100,000 sessions...");
    generate(&large_home, 10_000, 100_000)?;
    let small_tokens: Vec<String> = (0..10).map(token).collect();
    // A thousand sessions spread over the 100,000, warmed up first: the steady state.
    let large_tokens: Vec<String> = (0..1000).map(|i| token(i * 97 % 100_000)).collect();
    let small_script = wrk_script(work, "small", &small_tokens, None)?;
    let large_script = wrk_script(work, "large", &large_tokens, None)?;
    let (mut none, mut small, mut large) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        for (name, home, auth, script, sink) in [
            ("none", &none_home, "none", None, &mut none),
            (
                "10 sessions",
                &small_home,
                "credentials",
                Some(&small_script),
                &mut small,
            ),
            (
                "100,000 sessions",
                &large_home,
                "credentials",
                Some(&large_script),
                &mut large,
            ),
        ] {
            let server = Server::start(binary, home, auth)?;
            let url = server.url("/auth");
            wrk(&url, script.map(PathBuf::as_path), 2, 32)?; // warm-up
            let rps = wrk(&url, script.map(PathBuf::as_path), seconds, 32)?.rps;
            println!("  round {round}: GET /auth with {name}: {rps:.0} req/s");
            sink.push(rps);
        }
    }
    let (none, small, large) = (median(none), median(small), median(large));
    figures.add(
        "Auth overhead (GET /auth, credentials vs --auth none)",
        format!(
            "{small:.0} vs {none:.0} req/s = {:.1}%",
            small / none * 100.0
        ),
        ">= 90%",
        small / none >= 0.90,
    );
    figures.add(
        "Session scale (100,000 sessions on disk vs 10)",
        format!(
            "{large:.0} vs {small:.0} req/s = {:.1}%",
            large / small * 100.0
        ),
        ">= 95%",
        large / small >= 0.95,
    );

    // Start-up with 100,000 sessions and 10,000 users.
    let mut startups = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let server = Server::start(binary, &large_home, "credentials")?;
        let deadline = started + Duration::from_secs(10);
        while get_status(server.addr, "/config") != Some(200) {
            if Instant::now() > deadline {
                return Err("server did not answer within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        startups.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let startup = median(startups);
    figures.add(
        "Start-up to first answer (100,000 session files, 10,000 users)",
        format!("{startup:.0} ms"),
        "< 1000 ms",
        startup < 1000.0,
    );

    // The CLI on 10,000 users.
    let mut runs = Vec::new();
    for _ in 0..11 {
        let started = Instant::now();
        let status = Command::new(binary)
            .arg("--listusers")
            .env("LLMS_HOME", &large_home)
            .stdout(Stdio::null())
            .status()?;
        runs.push(started.elapsed().as_secs_f64() * 1000.0);
        if !status.success() {
            return Err("llms --listusers failed".into());
        }
    }
    let listusers = median(runs);
    figures.add(
        "llms --listusers on 10,000 users",
        format!("{listusers:.1} ms"),
        "< 50 ms",
        listusers < 50.0,
    );

    // Memory: idle, then after every one of the 100,000 sessions has been used.
    let idle = Server::start(binary, &small_home, "credentials")?;
    std::thread::sleep(Duration::from_millis(500));
    let idle_mib = idle.rss_kib()? as f64 / 1024.0;
    drop(idle);
    figures.add(
        "Resident memory, idle",
        format!("{idle_mib:.1} MiB"),
        "< 20 MiB",
        idle_mib < 20.0,
    );
    let server = Server::start(binary, &large_home, "credentials")?;
    let all: Vec<String> = (0..100_000).map(token).collect();
    // One connection walks the tokens in order until every session has been used once.
    let url = server.url("/auth");
    let (started, mut sent) = (Instant::now(), 0u64);
    while sent < 100_000 {
        if started.elapsed() > Duration::from_secs(180) {
            return Err("could not use every session within 3 minutes".into());
        }
        let every = wrk_script(work, "every", &all, Some(sent as usize))?;
        sent += wrk(&url, Some(&every), 10, 1)?.requests;
    }
    let loaded_mib = server.rss_kib()? as f64 / 1024.0;
    figures.add(
        "Resident memory, 100,000 sessions in use",
        format!("{loaded_mib:.1} MiB"),
        "< 100 MiB",
        loaded_mib < 100.0,
    );
    Ok(())
}

fn storm(binary: &Path, work: &Path, figures: &mut Figures, quick: bool) -> Result<()> {
    let home = work.join("storm");
    generate(&home, 1, 1)?;
    // 32 users with real Argon2id hashes.
    let file = home.join("credentials/users.json");
    let mut users: Users = serde_json::from_slice(&std::fs::read(&file)?)?;
    let hash = hash_password("storm-pw", HashScheme::Argon2id)?;
    for i in 0..32 {
        users.insert(format!("storm{i}"), User::new(hash.clone(), vec![]));
    }
    std::fs::write(&file, serialize_users(&users)?)?;
    let server = Server::start(binary, &home, "credentials")?;
    let seconds = if quick { 4 } else { 10 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let base = server.url("");
    let (latencies, sign_ins) = runtime.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut stormers = Vec::new();
        for i in 0..32 {
            let url = format!("{base}/auth/login");
            stormers.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut count = 0u64;
                while Instant::now() < deadline {
                    let response = client
                        .post(&url)
                        .json(&serde_json::json!({"username": format!("storm{i}"), "password": "storm-pw"}))
                        .send()
                        .await;
                    if response.is_ok_and(|r| r.status() == 200) {
                        count += 1;
                    }
                }
                count
            }));
        }
        let measurer = tokio::spawn({
            let url = format!("{base}/auth");
            let cookie = format!("llms-token={}", token(0));
            async move {
                let client = reqwest::Client::new();
                let mut latencies = Vec::new();
                tokio::time::sleep(Duration::from_millis(500)).await;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let response = client.get(&url).header("cookie", &cookie).send().await;
                    let ok = response.is_ok_and(|r| r.status() == 200);
                    latencies.push((started.elapsed().as_secs_f64() * 1000.0, ok));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                latencies
            }
        });
        let mut sign_ins = 0;
        for s in stormers {
            sign_ins += s.await.unwrap_or(0);
        }
        (measurer.await.unwrap_or_default(), sign_ins)
    });
    if latencies.iter().any(|(_, ok)| !ok) {
        return Err("GET /auth failed during the storm".into());
    }
    let mut sorted: Vec<f64> = latencies.iter().map(|(ms, _)| *ms).collect();
    sorted.sort_by(f64::total_cmp);
    let p50 = percentile(&sorted, 0.50);
    let p99 = percentile(&sorted, 0.99);
    figures.add(
        "Sign-in storm (32 clients signing in): GET /auth latency",
        format!(
            "p50 {p50:.1} ms, p99 {p99:.1} ms over {} requests; {} sign-ins ({:.0}/s)",
            sorted.len(),
            sign_ins,
            sign_ins as f64 / seconds as f64
        ),
        "p99 < 20 ms",
        p99 < 20.0,
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("generate") {
        let dir = PathBuf::from(
            args.get(1)
                .ok_or("usage: generate DIR [--users N] [--sessions N]")?,
        );
        let value = |flag: &str, default: usize| -> Result<usize> {
            match args.iter().position(|a| a == flag) {
                Some(i) => Ok(args.get(i + 1).ok_or("missing number")?.parse()?),
                None => Ok(default),
            }
        };
        generate(
            &dir,
            value("--users", 10_000)?,
            value("--sessions", 100_000)?,
        )?;
        println!(
            "generated under {} (session tokens: token(i) in examples/loadtest.rs)",
            dir.display()
        );
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed: apt-get install wrk".into());
    }
    let binary = release_binary()?;
    let work = tempfile::tempdir()?;
    let mut figures = Figures { rows: Vec::new() };
    println!(
        "machine: {} cores; binary {}",
        std::thread::available_parallelism()?.get(),
        binary.display()
    );
    rps_scenarios(&binary, work.path(), &mut figures, quick)?;
    storm(&binary, work.path(), &mut figures, quick)?;
    println!("\n| measure | figure | target | |\n| --- | --- | --- | --- |");
    for (what, figure, target, met) in &figures.rows {
        println!(
            "| {what} | {figure} | {target} | {} |",
            if *met { "met" } else { "missed" }
        );
    }
    Ok(())
}
