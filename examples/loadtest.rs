//! The load test behind BENCHMARKS.md: one command runs every scenario against the real
//! release `llms` binary on 127.0.0.1 and prints the figures beside their targets.
//!
//! ```sh
//! apt-get install wrk                       # the load generator (Debian)
//! cargo build --release                     # the server under test
//! cargo run --release --example loadtest    # about 5 minutes; add --quick for a short run
//! cargo run --release --example loadtest -- --no-pin          # server and wrk share the CPUs
//! cargo run --release --example loadtest -- --binary OTHER    # measure another build
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

#[path = "support/stores.rs"]
mod stores;

use llms_auth::password::{hash_password, HashScheme};
use llms_auth::users::{serialize_users, User, Users};
use stores::{generate, token, Result};

/// Where the server and the load generator run: on a machine with at least two CPUs the
/// server is pinned to CPU 0 and wrk to CPU 1 (with `taskset`), so the two never take each
/// other's core and a figure measures the server, not the scheduler.
#[derive(Clone, Copy)]
struct Pinning {
    enabled: bool,
}

impl Pinning {
    fn detect(wanted: bool) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset").arg("--version").output().is_ok();
        Self {
            enabled: wanted && cpus >= 2 && taskset,
        }
    }

    /// A command that runs `program` on `cpu` when pinning is on.
    fn command(self, cpu: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
        if self.enabled {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &cpu.to_string()]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn server(self, program: &Path) -> Command {
        self.command(0, program)
    }

    fn client(self) -> Command {
        self.command(1, "wrk")
    }
}

/// A running `llms` server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(binary: &Path, home: &Path, auth: &str) -> Result<Self> {
        Self::start_pinned(binary, home, auth, Pinning { enabled: false })
    }

    fn start_pinned(binary: &Path, home: &Path, auth: &str, pinning: Pinning) -> Result<Self> {
        // `taskset` execs the server, so the child's pid is the server's.
        let mut child = pinning
            .server(binary)
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

    /// CPU time used so far by all the server's threads (user + system), in seconds.
    fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
        let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
            + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
        Ok(ticks as f64 / clock_ticks_per_second()?)
    }
}

/// The kernel's clock tick (`getconf CLK_TCK`), the unit of the times in /proc.
fn clock_ticks_per_second() -> Result<f64> {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    if let Some(ticks) = TICKS.get() {
        return Ok(*ticks);
    }
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    let ticks: f64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
    Ok(*TICKS.get_or_init(|| ticks))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a wrk Lua script that sends each request with one of `tokens`, either at random
/// or in order (to touch every session once). Every request is built once, when wrk
/// starts, so that sending one costs wrk the same whether there are 10 tokens or 100,000
/// (building them per request made wrk, not the server, the limit with 100,000).
fn wrk_script(
    dir: &Path,
    name: &str,
    tokens: &[String],
    in_order: Option<usize>,
) -> Result<PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(file, "local tokens = {{")?;
    for t in tokens {
        writeln!(file, "  \"{t}\",")?;
    }
    writeln!(file, "}}")?;
    writeln!(file, "local requests, count = {{}}, #tokens")?;
    writeln!(file, "local n = {}", in_order.unwrap_or(0))?;
    writeln!(file, "function init(args)")?;
    writeln!(file, "  for i = 1, count do")?;
    writeln!(
        file,
        "    requests[i] = wrk.format(\"GET\", \"/auth\", {{[\"Cookie\"] = \"llms-token=\" .. tokens[i]}})"
    )?;
    writeln!(file, "  end")?;
    writeln!(file, "  math.randomseed(42)")?;
    writeln!(file, "end")?;
    writeln!(file, "function request()")?;
    if in_order.is_some() {
        writeln!(file, "  n = n + 1")?;
        writeln!(file, "  return requests[((n - 1) % count) + 1]")?;
    } else {
        writeln!(file, "  return requests[math.random(count)]")?;
    }
    writeln!(file, "end")?;
    file.flush()?;
    Ok(path)
}

/// What one wrk run measured.
struct WrkRun {
    rps: f64,
    requests: u64,
}

/// Runs wrk (on the client CPU) for `seconds` with `connections` connections, each request
/// built by `script`.
fn wrk(
    pinning: Pinning,
    url: &str,
    script: &Path,
    seconds: u64,
    connections: u32,
) -> Result<WrkRun> {
    let out = pinning
        .client()
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "5s",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") || text.contains("Socket errors") {
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

/// What the server did during one timed wrk run.
struct Segment {
    rps: f64,
    /// Server CPU time per request, in microseconds.
    cpu_us: f64,
    /// Server CPU time over wall time (1.0 = one core busy all the time).
    cpu_busy: f64,
}

/// One server of the throughput comparison and the cookies wrk sends it.
struct Scenario {
    name: &'static str,
    server: Server,
    script: PathBuf,
    segments: Vec<Segment>,
}

impl Scenario {
    fn measure(&mut self, pinning: Pinning, seconds: u64) -> Result<&Segment> {
        let url = self.server.url("/auth");
        let cpu_before = self.server.cpu_seconds()?;
        let run = wrk(pinning, &url, &self.script, seconds, 32)?;
        let cpu = self.server.cpu_seconds()? - cpu_before;
        self.segments.push(Segment {
            rps: run.rps,
            cpu_us: cpu / run.requests.max(1) as f64 * 1e6,
            cpu_busy: cpu / seconds as f64,
        });
        Ok(self.segments.last().expect("just pushed"))
    }

    fn median_of(&self, figure: impl Fn(&Segment) -> f64) -> f64 {
        median(self.segments.iter().map(figure).collect())
    }
}

/// The ratio of `a` to `b` in every round (the two ran seconds apart), as percentages.
fn round_ratios(a: &Scenario, b: &Scenario) -> Vec<f64> {
    a.segments
        .iter()
        .zip(&b.segments)
        .map(|(a, b)| a.rps / b.rps * 100.0)
        .collect()
}

/// "92.1% (rounds 88.0-95.3%, 7 of 9 at or above 90%)" and whether the median meets `target`.
fn ratio_figure(ratios: &[f64], target: f64) -> (String, bool) {
    let mid = median(ratios.to_vec());
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let meeting = ratios.iter().filter(|r| **r >= target).count();
    (
        format!(
            "{mid:.1}% (rounds {low:.1}-{high:.1}%, {meeting} of {} at or above {target:.0}%)",
            ratios.len()
        ),
        mid >= target,
    )
}

/// The two throughput ratios, and the memory of a server whose 100,000 sessions are all in
/// use. All four servers run at once (each idle but for its own turn); every round gives
/// each one the same wrk run, in an order that rotates from round to round, so that slow
/// drifts of the machine fall on every scenario alike.
fn throughput(
    binary: &Path,
    homes: &Homes,
    work: &Path,
    pinning: Pinning,
    figures: &mut Figures,
    quick: bool,
) -> Result<()> {
    let (rounds, seconds) = if quick { (3, 2) } else { (9, 4) };
    let small_tokens: Vec<String> = (0..10).map(token).collect();
    let all_tokens: Vec<String> = (0..100_000).map(token).collect();
    let small_script = wrk_script(work, "small", &small_tokens, None)?;
    let all_script = wrk_script(work, "all", &all_tokens, None)?;
    let start = |name, home: &Path, auth, script: &PathBuf| -> Result<Scenario> {
        Ok(Scenario {
            name,
            server: Server::start_pinned(binary, home, auth, pinning)?,
            script: script.clone(),
            segments: Vec::new(),
        })
    };
    // `--auth none` gets the same requests, cookie and all; it just ignores the cookie.
    let mut scenarios = [
        start("--auth none", &homes.none, "none", &small_script)?,
        start(
            "1 user, 10 sessions",
            &homes.small,
            "credentials",
            &small_script,
        )?,
        start(
            "10,000 users, 10 sessions",
            &homes.many_users,
            "credentials",
            &small_script,
        )?,
        start(
            "10,000 users, 100,000 sessions",
            &homes.large,
            "credentials",
            &all_script,
        )?,
    ];

    // Every one of the 100,000 sessions is used once (loaded from its file into the
    // cache): the steady state of a server with that many live sessions, and the memory
    // figure. One wrk thread's 32 connections share the script's counter, so the tokens go
    // out in order.
    let large = &scenarios[3].server;
    let url = large.url("/auth");
    let (started, mut sent) = (Instant::now(), 0u64);
    while sent < 100_000 {
        if started.elapsed() > Duration::from_secs(180) {
            return Err("could not use every session within 3 minutes".into());
        }
        let every = wrk_script(work, "every", &all_tokens, Some(sent as usize))?;
        sent += wrk(pinning, &url, &every, 10, 32)?.requests;
    }
    for scenario in &mut scenarios {
        // Warm-up, not counted.
        wrk(
            pinning,
            &scenario.server.url("/auth"),
            &scenario.script,
            2,
            32,
        )?;
    }
    for round in 0..rounds {
        for i in 0..scenarios.len() {
            let scenario = &mut scenarios[(i + round) % 4];
            let name = scenario.name;
            let segment = scenario.measure(pinning, seconds)?;
            println!(
                "  round {round}: {name:32} {:>8.0} req/s, server CPU {:.1} µs/request, {:.0}% busy",
                segment.rps,
                segment.cpu_us,
                segment.cpu_busy * 100.0
            );
        }
    }
    println!("\n  medians over {rounds} rounds of {seconds} s:");
    for scenario in &scenarios {
        println!(
            "  {:32} {:>8.0} req/s, server CPU {:.1} µs/request, {:.0}% busy",
            scenario.name,
            scenario.median_of(|s| s.rps),
            scenario.median_of(|s| s.cpu_us),
            scenario.median_of(|s| s.cpu_busy) * 100.0
        );
    }
    if homes.large_generated.elapsed() > Duration::from_secs(300) {
        println!(
            "  note: the rounds ended more than five minutes after the 100,000 sessions were \
             last seen, so some of them rewrote a session file's last-seen time"
        );
    }
    let [none, small, many_users, large] = &scenarios;
    let rps = |s: &Scenario| s.median_of(|s| s.rps);
    let (figure, met) = ratio_figure(&round_ratios(small, none), 90.0);
    figures.add(
        "Auth overhead (GET /auth, credentials vs --auth none)",
        format!(
            "{figure}; medians {:.0} vs {:.0} req/s",
            rps(small),
            rps(none)
        ),
        ">= 90%",
        met,
    );
    let (figure, met) = ratio_figure(&round_ratios(large, small), 95.0);
    figures.add(
        "Session scale (10,000 users and 100,000 sessions vs 1 user and 10 sessions)",
        format!(
            "{figure}; medians {:.0} vs {:.0} req/s",
            rps(large),
            rps(small)
        ),
        ">= 95%",
        met,
    );
    // The same, with the users held equal: what the number of sessions alone costs.
    let (figure, _) = ratio_figure(&round_ratios(large, many_users), 95.0);
    println!("  sessions alone (100,000 vs 10, both with 10,000 users): {figure}");

    let loaded_mib = scenarios[3].server.rss_kib()? as f64 / 1024.0;
    figures.add(
        "Resident memory, 100,000 sessions in use",
        format!("{loaded_mib:.1} MiB"),
        "< 100 MiB",
        loaded_mib < 100.0,
    );
    Ok(())
}

/// The generated homes.
struct Homes {
    none: PathBuf,
    small: PathBuf,
    many_users: PathBuf,
    large: PathBuf,
    /// When the large home's sessions were last seen.
    large_generated: Instant,
}

impl Homes {
    fn generate(work: &Path) -> Result<Self> {
        let homes = Self {
            none: work.join("none"),
            small: work.join("small"),
            many_users: work.join("many-users"),
            large: work.join("large"),
            large_generated: Instant::now(),
        };
        std::fs::create_dir_all(&homes.none)?;
        generate(&homes.small, 1, 10)?;
        generate(&homes.many_users, 10_000, 10)?;
        println!("generating 10,000 users and 100,000 sessions...");
        generate(&homes.large, 10_000, 100_000)?;
        Ok(Self {
            large_generated: Instant::now(),
            ..homes
        })
    }
}

/// Start-up with 100,000 sessions and 10,000 users.
fn startup(binary: &Path, homes: &Homes, figures: &mut Figures) -> Result<()> {
    let mut startups = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let server = Server::start(binary, &homes.large, "credentials")?;
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
    Ok(())
}

/// The CLI on 10,000 users.
fn listusers(binary: &Path, homes: &Homes, figures: &mut Figures) -> Result<()> {
    let mut runs = Vec::new();
    for _ in 0..11 {
        let started = Instant::now();
        let status = Command::new(binary)
            .arg("--listusers")
            .env("LLMS_HOME", &homes.large)
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
    Ok(())
}

/// Resident memory of a server that has started and answered nothing.
fn idle_memory(binary: &Path, homes: &Homes, figures: &mut Figures) -> Result<()> {
    let idle = Server::start(binary, &homes.small, "credentials")?;
    std::thread::sleep(Duration::from_millis(500));
    let idle_mib = idle.rss_kib()? as f64 / 1024.0;
    figures.add(
        "Resident memory, idle",
        format!("{idle_mib:.1} MiB"),
        "< 20 MiB",
        idle_mib < 20.0,
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
    let pinning = Pinning::detect(!args.iter().any(|a| a == "--no-pin"));
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed: apt-get install wrk".into());
    }
    // `--binary PATH` measures another build (an older commit, say) with the same harness.
    let binary = match args.iter().position(|a| a == "--binary") {
        Some(i) => PathBuf::from(args.get(i + 1).ok_or("--binary needs a path")?),
        None => release_binary()?,
    };
    let work = tempfile::tempdir()?;
    let mut figures = Figures { rows: Vec::new() };
    println!(
        "machine: {} cores; binary {}; {}",
        std::thread::available_parallelism()?.get(),
        binary.display(),
        if pinning.enabled {
            "server pinned to CPU 0, wrk to CPU 1"
        } else {
            "not pinned"
        }
    );
    let homes = Homes::generate(work.path())?;
    throughput(&binary, &homes, work.path(), pinning, &mut figures, quick)?;
    startup(&binary, &homes, &mut figures)?;
    listusers(&binary, &homes, &mut figures)?;
    idle_memory(&binary, &homes, &mut figures)?;
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
