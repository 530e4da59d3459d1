//! The load test behind BENCHMARKS.md: one command runs every scenario against the real
//! release `llms` binary on 127.0.0.1 and prints the figures beside their targets.
//!
//! ```sh
//! apt-get install wrk                       # the load generator (Debian)
//! cargo build --release                     # the server under test
//! cargo run --release --example loadtest    # about 5 minutes; add --quick for a short run
//! cargo run --release --example loadtest -- --no-pin          # server and wrk share the CPUs
//! cargo run --release --example loadtest -- --binary OTHER    # measure another build
//! cargo run --release --example loadtest -- --scale-only      # only the session-scale duels
//! cargo run --release --example loadtest -- --database-only   # only files against PostgreSQL
//! cargo build --release --example floor && \
//!   cargo run --release --example loadtest -- --floor-only    # only the stack against bare axum
//! cargo run --release --example loadtest -- generate DIR --users 10000 --sessions 100000
//! ```
//!
//! Every comparison is a ratio measured in the same run (rounds alternate between the
//! scenarios, medians are kept), because the machines are shared and absolute numbers
//! move. All traffic goes to 127.0.0.1 and every step is bounded in time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/bench.rs"]
mod bench;
#[path = "support/stores.rs"]
mod stores;
// The tests' private PostgreSQL (Debian's `postgresql`), for the database store's duel.
#[allow(dead_code)]
#[path = "../tests/common/postgres.rs"]
mod postgres;

use bench::{
    get_status, median, percentile, release_binary, requests_in, run_wrk, take_turns, Figures,
    Pinning, Server, Side, WrkProcess,
};
use llms_auth::password::{hash_password, HashScheme};
use llms_auth::users::{serialize_users, User, Users};
use stores::{generate, token, Result};

/// The script of the ten small sessions, sent at random. Every script holds 100,000
/// requests, so that wrk does the same work per request whatever the server: each of the
/// ten is repeated 10,000 times.
fn ten_sessions_script(dir: &Path) -> Result<PathBuf> {
    let tokens: Vec<String> = (0..100_000).map(|i| token(i % 10)).collect();
    wrk_script(dir, "ten", &tokens, None)
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

/// Runs wrk (on the client CPU) for `seconds` with `connections` connections, each request
/// built by `script`; the requests it made.
fn wrk(pinning: Pinning, url: &str, script: &Path, seconds: u64, connections: u32) -> Result<u64> {
    requests_in(&run_wrk(pinning, url, script, seconds, connections)?)
}

/// One server of the throughput comparison and the requests wrk sends it.
struct Target {
    name: &'static str,
    server: Server,
    script: PathBuf,
}

impl Target {
    /// Established TCP connections to the server's port (from `/proc/net/tcp`): how the
    /// duel sees that wrk has connected, or that the warm-up's clients have gone, whatever
    /// else the server holds open (llms.py, for one, closes a descriptor of its own as
    /// clients come).
    fn connections(&self) -> Result<usize> {
        let port = format!(":{:04X}", self.server.addr.port());
        let mut count = 0;
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            count += text
                .lines()
                .skip(1)
                .filter(|line| {
                    let mut fields = line.split_whitespace().skip(1);
                    let local = fields.next().unwrap_or("");
                    let state = fields.nth(1).unwrap_or("");
                    local.ends_with(&port) && state == "01"
                })
                .count();
        }
        Ok(count)
    }
}

/// Drives `a` and `b` for `seconds` with one wrk each, taking turns (see
/// [`bench::take_turns`]). `a_first` picks who starts.
fn duel(
    pinning: Pinning,
    a: &Target,
    b: &Target,
    seconds: u64,
    a_first: bool,
) -> Result<[Side; 2]> {
    use rustix::process::Signal;
    let targets = [a, b];
    let clients = [
        WrkProcess::spawn(pinning, &a.script, &a.server.url("/auth"), 32)?,
        WrkProcess::spawn(pinning, &b.script, &b.server.url("/auth"), 32)?,
    ];
    // Both build their requests (the same 100,000 of them) side by side; each is paused as
    // soon as it has connected, and the turns start once both have.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ready = [false; 2];
    while ready != [true; 2] {
        for i in 0..2 {
            if !ready[i] && targets[i].connections()? >= 32 {
                clients[i].signal(Signal::STOP)?;
                ready[i] = true;
            }
        }
        if Instant::now() > deadline {
            return Err("wrk did not connect within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    take_turns(clients, [&a.server, &b.server], seconds, a_first)
}

/// Every duel of `b` against `a`: the ratio of their throughputs, as percentages, and the
/// sides.
struct Comparison {
    ratios: Vec<f64>,
    sides: Vec<[Side; 2]>,
}

/// A server to start for a duel: its home, its provider, the requests it gets, and
/// whether all 100,000 sessions are to be put in use first.
struct Spec<'a> {
    name: &'static str,
    home: &'a Path,
    auth: &'static str,
    script: &'a Path,
    /// The tokens of all the home's sessions, when they are to be put in use first.
    walk: Option<&'a [String]>,
    /// The PostgreSQL database the server keeps its stores in (`LLMS_DATABASE_URL`), if
    /// not the home's files.
    database: Option<&'a str>,
    /// Another server program than `llms`.
    program: Option<Program<'a>>,
}

/// A server program other than `llms`.
#[derive(Clone, Copy)]
enum Program<'a> {
    /// One that takes `--serve` and `--host` as `llms` does (the bare axum floor).
    Like(&'a Path),
    /// llms.py's `llms`, on a home laid out for it ([`stores::generate_reference`]).
    LlmsPy(&'a Path),
}

impl Spec<'_> {
    fn start(&self, binary: &Path, pinning: Pinning, work: &Path) -> Result<Target> {
        let server = match (self.program, self.database) {
            (Some(Program::Like(program)), _) => {
                Server::launch(pinning.server(program), self.home, &[], &[])?
            }
            (Some(Program::LlmsPy(program)), _) => {
                Server::launch_reference(pinning.server(program), self.home)?
            }
            (None, Some(url)) => Server::launch(
                pinning.server(binary),
                self.home,
                &["--auth", self.auth],
                &[("LLMS_DATABASE_URL", url)],
            )?,
            (None, None) => Server::start_pinned(binary, self.home, self.auth, pinning)?,
        };
        let target = Target {
            name: self.name,
            server,
            script: self.script.to_owned(),
        };
        if let Some(tokens) = self.walk {
            target.walk(pinning, work, tokens)?;
        }
        // Warm-up, not counted.
        wrk(pinning, &target.server.url("/auth"), &target.script, 1, 32)?;
        // The duel sees wrk connect by the connections to the server's port: wait until
        // the warm-up's are closed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while target.connections()? > 0 {
            if Instant::now() > deadline {
                return Err("the warm-up's connections were not closed within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(target)
    }
}

impl Target {
    /// Uses every one of the sessions of `tokens` once (each loaded from its file into the
    /// cache): the steady state of a server with that many live sessions. The script
    /// sends the tokens in order: one wrk thread's connections share its counter.
    fn walk(&self, pinning: Pinning, work: &Path, tokens: &[String]) -> Result<()> {
        let started = Instant::now();
        let mut sent = 0;
        while sent < tokens.len() {
            if started.elapsed() > Duration::from_secs(180) {
                return Err("could not use every session within 3 minutes".into());
            }
            let script = wrk_script(work, "walk", tokens, Some(sent))?;
            sent += usize::try_from(wrk(pinning, &self.server.url("/auth"), &script, 4, 32)?)?;
        }
        Ok(())
    }
}

/// Duels between fresh servers for `a` and `b`: every duel starts new processes, because
/// two identical servers can differ by several per cent for as long as they run (where
/// the kernel happened to put their memory), and that must not be taken for a difference
/// between `a` and `b`.
fn compare(
    binary: &Path,
    pinning: Pinning,
    work: &Path,
    a: &Spec,
    b: &Spec,
    duels: usize,
    seconds: u64,
) -> Result<Comparison> {
    let mut comparison = Comparison {
        ratios: Vec::new(),
        sides: Vec::new(),
    };
    for i in 0..duels {
        let (a, b) = (
            a.start(binary, pinning, work)?,
            b.start(binary, pinning, work)?,
        );
        let sides = duel(pinning, &a, &b, seconds, i % 2 == 0)?;
        let ratio = sides[1].rps() / sides[0].rps() * 100.0;
        println!(
            "  {} vs {}: {:.0} vs {:.0} req/s = {ratio:.1}% (server CPU {:.1} vs {:.1} µs/request, \
             {:.0}% vs {:.0}% busy in its turns)",
            b.name,
            a.name,
            sides[1].rps(),
            sides[0].rps(),
            sides[1].cpu_us(),
            sides[0].cpu_us(),
            sides[1].busy() * 100.0,
            sides[0].busy() * 100.0,
        );
        comparison.ratios.push(ratio);
        comparison.sides.push(sides);
    }
    Ok(comparison)
}

impl Comparison {
    /// "93.2% (duels 92.5-94.0%; 61,234 vs 65,700 req/s)" and whether the median meets
    /// `target`.
    fn figure(&self, target: f64) -> (String, bool) {
        let mid = median(self.ratios.clone());
        let low = self.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = self
            .ratios
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let rps = |i: usize| median(self.sides.iter().map(|s| s[i].rps()).collect());
        (
            format!(
                "{mid:.1}% (duels {low:.1}-{high:.1}%; {:.0} vs {:.0} req/s)",
                rps(1),
                rps(0)
            ),
            mid >= target,
        )
    }
}

/// `llms --import-files` of `home` into the database at `url`; what it printed.
fn import_files(binary: &Path, home: &Path, url: &str) -> Result<String> {
    let imported = Command::new(binary)
        .arg("--import-files")
        .env("LLMS_HOME", home)
        .env("LLMS_DATABASE_URL", url)
        .output()?;
    if !imported.status.success() {
        return Err(format!(
            "llms --import-files failed: {}",
            String::from_utf8_lossy(&imported.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&imported.stdout)
        .trim_end()
        .to_owned())
}

/// GET /auth with the stores in PostgreSQL against the same home's files: the small home
/// copied into the database at `url` (`--import-files`), the same requests and sessions.
fn database_duel(
    binary: &Path,
    homes: &Homes,
    work: &Path,
    pinning: Pinning,
    figures: &mut Figures,
    quick: bool,
    url: &str,
) -> Result<()> {
    let (duels, seconds) = if quick { (2, 4) } else { (5, 10) };
    let ten_script = ten_sessions_script(work)?;
    import_files(binary, &homes.small, url)?;
    let files = Spec {
        name: "1 user, 10 sessions, in files",
        home: &homes.small,
        auth: "credentials",
        script: &ten_script,
        walk: None,
        database: None,
        program: None,
    };
    let in_database = Spec {
        name: "1 user, 10 sessions, in PostgreSQL",
        database: Some(url),
        ..files
    };
    let duel = compare(binary, pinning, work, &files, &in_database, duels, seconds)?;
    let (figure, met) = duel.figure(90.0);
    figures.add(
        "Database store (GET /auth, PostgreSQL vs files)",
        figure,
        ">= 90%",
        met,
    );
    Ok(())
}

/// Start-up with 10,000 users and 100,000 sessions in the database at `url` (the large
/// home copied in with `--import-files`, which is timed too), from an empty home.
fn database_startup(
    binary: &Path,
    homes: &Homes,
    work: &Path,
    figures: &mut Figures,
    url: &str,
) -> Result<()> {
    let started = Instant::now();
    let report = import_files(binary, &homes.large, url)?;
    println!(
        "  --import-files of 10,000 users and 100,000 sessions: {:.1} s\n{report}",
        started.elapsed().as_secs_f64(),
    );
    let empty = work.join("empty-home");
    std::fs::create_dir_all(&empty)?;
    let startup = median_startup(binary, &empty, &[("LLMS_DATABASE_URL", url)])?;
    figures.add(
        "Start-up to first answer (100,000 sessions, 10,000 users in PostgreSQL)",
        format!("{startup:.0} ms"),
        "< 1000 ms",
        startup < 1000.0,
    );
    Ok(())
}

/// The two throughput ratios, and the memory of a server whose 100,000 sessions are all in
/// use.
fn throughput(
    binary: &Path,
    homes: &Homes,
    work: &Path,
    pinning: Pinning,
    figures: &mut Figures,
    quick: bool,
    scale_only: bool,
) -> Result<()> {
    let (duels, seconds) = if quick { (2, 4) } else { (5, 10) };
    let all_tokens: Vec<String> = (0..100_000).map(token).collect();
    let ten_script = ten_sessions_script(work)?;
    let all_script = wrk_script(work, "all", &all_tokens, None)?;
    // `--auth none` gets the same requests, cookie and all; it just ignores the cookie.
    let none = Spec {
        name: "--auth none",
        home: &homes.none,
        auth: "none",
        script: &ten_script,
        walk: None,
        database: None,
        program: None,
    };
    let small = Spec {
        name: "1 user, 10 sessions",
        home: &homes.small,
        auth: "credentials",
        ..none
    };
    let many_users = Spec {
        name: "10,000 users, 10 sessions",
        home: &homes.many_users,
        ..small
    };
    let large = Spec {
        name: "10,000 users, 100,000 sessions",
        home: &homes.large,
        script: &all_script,
        walk: Some(&all_tokens),
        ..small
    };
    // Two identical `--auth none` servers: how far apart the harness puts two servers that
    // do not differ, the noise floor of every other ratio.
    let control = Spec {
        name: "--auth none (control)",
        ..none
    };

    // The large home first: its sessions were last seen when it was generated, and they
    // are all due for a last-seen rewrite five minutes later.
    let scale = compare(binary, pinning, work, &small, &large, duels, seconds)?;
    let sessions_alone = compare(binary, pinning, work, &many_users, &large, duels, seconds)?;
    let server = large.start(binary, pinning, work)?;
    let loaded_mib = server.server.rss_kib()? as f64 / 1024.0;
    drop(server);
    if homes.large_generated.elapsed() > Duration::from_secs(300) {
        println!(
            "  note: the duels ended more than five minutes after the 100,000 sessions were \
             last seen, so some requests rewrote a session file's last-seen time"
        );
    }
    if !scale_only {
        let control_run = compare(binary, pinning, work, &none, &control, duels, seconds)?;
        let auth = compare(binary, pinning, work, &none, &small, duels, seconds)?;
        println!(
            "  control (two identical --auth none servers): {}",
            control_run.figure(100.0).0
        );
        let (figure, met) = auth.figure(90.0);
        figures.add(
            "Auth overhead (GET /auth, credentials vs --auth none)",
            figure,
            ">= 90%",
            met,
        );
    }
    let (figure, met) = scale.figure(95.0);
    figures.add(
        "Session scale (10,000 users and 100,000 sessions vs 1 user and 10 sessions)",
        figure,
        ">= 95%",
        met,
    );
    // The same, with the users held equal: what the number of sessions alone costs.
    println!(
        "  sessions alone (100,000 vs 10, both with 10,000 users): {}",
        sessions_alone.figure(95.0).0
    );
    figures.add(
        "Resident memory, 100,000 sessions in use",
        format!("{loaded_mib:.1} MiB"),
        "< 100 MiB",
        loaded_mib < 100.0,
    );
    Ok(())
}

/// llms.py's `llms` command beside the Python that `LLMS_REFERENCE_PYTHON` names (the
/// virtualenv the compatibility tests use), if it is there.
fn llms_py_program() -> Option<PathBuf> {
    let python = PathBuf::from(std::env::var_os("LLMS_REFERENCE_PYTHON")?);
    Some(python.with_file_name("llms")).filter(|program| program.exists())
}

/// The bare axum floor (`examples/floor.rs`), built beside this load test.
fn floor_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let floor = exe.with_file_name("floor");
    if !floor.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release --example floor` first",
            floor.display()
        )
        .into());
    }
    Ok(floor)
}

/// The whole stack against the floor: `--auth none` and authenticated `credentials`, each
/// against a bare axum handler that answers `GET /auth` with the same JSON (issue 18).
fn stack_overhead(
    binary: &Path,
    homes: &Homes,
    work: &Path,
    pinning: Pinning,
    figures: &mut Figures,
    quick: bool,
) -> Result<()> {
    let (duels, seconds) = if quick { (2, 4) } else { (5, 10) };
    let floor_program = floor_binary()?;
    let ten_script = ten_sessions_script(work)?;
    // The floor gets the same requests, cookie and all; it just ignores the cookie.
    let floor = Spec {
        name: "bare axum",
        home: &homes.none,
        auth: "none",
        script: &ten_script,
        walk: None,
        database: None,
        program: Some(Program::Like(&floor_program)),
    };
    let none = Spec {
        name: "--auth none",
        program: None,
        ..floor
    };
    let credentials = Spec {
        name: "credentials, 1 user, 10 sessions",
        home: &homes.small,
        auth: "credentials",
        ..none
    };
    let none_run = compare(binary, pinning, work, &floor, &none, duels, seconds)?;
    let credentials_run = compare(binary, pinning, work, &floor, &credentials, duels, seconds)?;
    // llms.py's own authenticated `GET /auth`, on the same account and session tokens,
    // when its virtualenv is there (as the compatibility tests find it).
    if let Some(llms_py) = llms_py_program() {
        let home = work.join("llms-py");
        if !home.exists() {
            stores::generate_reference(&home, 1, 10)?;
        }
        let reference = Spec {
            name: "llms.py 4.0.26 credentials, 1 user, 10 sessions",
            home: &home,
            program: Some(Program::LlmsPy(&llms_py)),
            ..credentials
        };
        let run = compare(binary, pinning, work, &floor, &reference, duels, seconds)?;
        println!(
            "  llms.py 4.0.26 (GET /auth, credentials vs bare axum): {}",
            run.figure(0.0).0
        );
    } else {
        println!("  llms.py: LLMS_REFERENCE_PYTHON is not set, so it is not in the duels");
    }
    let (figure, met) = none_run.figure(95.0);
    figures.add(
        "Stack (GET /auth, --auth none vs bare axum)",
        figure,
        ">= 95%",
        met,
    );
    let (figure, met) = credentials_run.figure(90.0);
    figures.add(
        "Stack and auth (GET /auth, credentials vs bare axum)",
        figure,
        ">= 90%",
        met,
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
    let startup = median_startup(binary, &homes.large, &[])?;
    figures.add(
        "Start-up to first answer (100,000 session files, 10,000 users)",
        format!("{startup:.0} ms"),
        "< 1000 ms",
        startup < 1000.0,
    );
    Ok(())
}

/// The median of five starts of `llms` on `home` with `envs`, to its first answer, in ms.
fn median_startup(binary: &Path, home: &Path, envs: &[(&str, &str)]) -> Result<f64> {
    let mut startups = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let server = Server::launch(Command::new(binary), home, &["--auth", "credentials"], envs)?;
        let deadline = started + Duration::from_secs(10);
        while get_status(server.addr, "/config") != Some(200) {
            if Instant::now() > deadline {
                return Err("server did not answer within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        startups.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(startups))
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

/// GET /auth latency while 32 clients sign in as fast as they can: on the home's files, or
/// (`database`) with that home copied into PostgreSQL.
fn storm(
    binary: &Path,
    work: &Path,
    figures: &mut Figures,
    quick: bool,
    database: Option<&str>,
) -> Result<()> {
    let home = work.join(if database.is_some() {
        "storm-db"
    } else {
        "storm"
    });
    generate(&home, 1, 1)?;
    // 32 users with real Argon2id hashes.
    let file = home.join("credentials/users.json");
    let mut users: Users = serde_json::from_slice(&std::fs::read(&file)?)?;
    let hash = hash_password("storm-pw", HashScheme::Argon2id)?;
    for i in 0..32 {
        users.insert(format!("storm{i}"), User::new(hash.clone(), vec![]));
    }
    std::fs::write(&file, serialize_users(&users)?)?;
    let envs: Vec<(&str, &str)> = database
        .map(|url| vec![("LLMS_DATABASE_URL", url)])
        .unwrap_or_default();
    if let Some(url) = database {
        import_files(binary, &home, url)?;
    }
    let server = Server::launch(
        Command::new(binary),
        &home,
        &["--auth", "credentials"],
        &envs,
    )?;
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
        if database.is_some() {
            "Sign-in storm (32 clients signing in), PostgreSQL: GET /auth latency"
        } else {
            "Sign-in storm (32 clients signing in): GET /auth latency"
        },
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
    let floor_only = args.iter().any(|a| a == "--floor-only");
    let scale_only = args.iter().any(|a| a == "--scale-only");
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
    // `--database-only`: the database store against the files, on a private PostgreSQL.
    let database_only = args.iter().any(|a| a == "--database-only");
    let cluster = if database_only {
        Some(
            postgres::PgCluster::launch()
                .ok_or("PostgreSQL is not installed: apt-get install postgresql")?,
        )
    } else {
        None
    };
    let databases = match &cluster {
        Some(cluster) => {
            let runtime = tokio::runtime::Runtime::new()?;
            Some((
                runtime.block_on(cluster.create_database()).url,
                runtime.block_on(cluster.create_database()).url,
                runtime.block_on(cluster.create_database()).url,
            ))
        }
        None => None,
    };
    if floor_only {
        stack_overhead(&binary, &homes, work.path(), pinning, &mut figures, quick)?;
    } else if let Some((small, large, stormed)) = &databases {
        database_duel(
            &binary,
            &homes,
            work.path(),
            pinning,
            &mut figures,
            quick,
            small,
        )?;
        database_startup(&binary, &homes, work.path(), &mut figures, large)?;
        storm(&binary, work.path(), &mut figures, quick, Some(stormed))?;
    } else {
        throughput(
            &binary,
            &homes,
            work.path(),
            pinning,
            &mut figures,
            quick,
            scale_only,
        )?;
    }
    if !scale_only && !database_only && !floor_only {
        stack_overhead(&binary, &homes, work.path(), pinning, &mut figures, quick)?;
        startup(&binary, &homes, &mut figures)?;
        listusers(&binary, &homes, &mut figures)?;
        idle_memory(&binary, &homes, &mut figures)?;
        storm(&binary, work.path(), &mut figures, quick, None)?;
    }
    println!("\n| measure | figure | target | |\n| --- | --- | --- | --- |");
    for (what, figure, target, met) in &figures.rows {
        println!(
            "| {what} | {figure} | {target} | {} |",
            if *met { "met" } else { "missed" }
        );
    }
    Ok(())
}
