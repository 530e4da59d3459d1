//! What the load tests share: where the server and the load run (CPU pinning), the
//! server process and what /proc says of it, wrk's summary, medians and percentiles, the
//! table of figures.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::stores::Result;

/// Where the server and the load generator run: on a machine with at least two CPUs the
/// server is pinned to CPU 0 and wrk to CPU 1 (with `taskset`), so the two never take each
/// other's core and a figure measures the server, not the scheduler.
#[derive(Clone, Copy)]
pub struct Pinning {
    pub enabled: bool,
}

impl Pinning {
    pub fn detect(wanted: bool) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset").arg("--version").output().is_ok();
        Self {
            enabled: wanted && cpus >= 2 && taskset,
        }
    }

    /// A command that runs `program` on `cpu` when pinning is on.
    pub fn command(self, cpu: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
        if self.enabled {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &cpu.to_string()]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    pub fn server(self, program: &Path) -> Command {
        self.command(0, program)
    }

    pub fn client(self) -> Command {
        self.command(1, "wrk")
    }
}

/// A running `llms` server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// `llms --serve 0 --auth AUTH` on `home`, unpinned.
    pub fn start(binary: &Path, home: &Path, auth: &str) -> Result<Self> {
        Self::start_pinned(binary, home, auth, Pinning { enabled: false })
    }

    /// `llms --serve 0 --auth AUTH` on `home`, on the server CPU when pinning.
    pub fn start_pinned(binary: &Path, home: &Path, auth: &str, pinning: Pinning) -> Result<Self> {
        Self::launch(pinning.server(binary), home, &["--auth", auth], &[])
    }

    /// `cmd --serve 0 --host 127.0.0.1 ARGS` (an `llms`, or anything that prints
    /// `Listening on http://ADDR`) on `home` with `envs`; waits for it to listen.
    pub fn launch(
        mut cmd: Command,
        home: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<Self> {
        // `taskset` execs the server, so the child's pid is the server's.
        let mut child = cmd
            .args(["--serve", "0", "--host", "127.0.0.1"])
            .args(args)
            .env("LLMS_HOME", home)
            .env("LLMS_LOG", "warn")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if let Some(url) = line.strip_prefix("Listening on http://") {
                    let _ = tx.send(url.trim().trim_end_matches("/v1").to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30))?.parse()?;
        Ok(Self { child, addr })
    }

    /// llms.py's `llms --serve PORT --auth credentials` (`cmd`) on `home`: it takes no
    /// `--host` and says nothing when it listens, so a free port is chosen for it and
    /// watched until it answers (it takes several seconds to start).
    pub fn launch_reference(mut cmd: Command, home: &Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = cmd
            .args(["--serve", &port.to_string(), "--auth", "credentials"])
            .env("LLMS_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(server.addr) {
            if let Some(status) = server.child.try_wait()? {
                return Err(format!("llms.py exited at start: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("llms.py did not answer within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .ok_or("no VmRSS")?;
        Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
    }

    /// CPU time used so far by all the server's threads (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
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

/// Whether a server at `addr` answers `GET /config` with 200.
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).is_ok() && status.starts_with("HTTP/1.1 200")
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

/// Runs wrk (one thread, on the client CPU) for `seconds` with `connections` connections
/// against `url`, each request built by `script`; its summary, latency distribution
/// included.
pub fn run_wrk(
    pinning: Pinning,
    url: &str,
    script: &Path,
    seconds: u64,
    connections: u32,
) -> Result<String> {
    let out = pinning
        .client()
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "5s",
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The number of requests wrk's summary reports; an error when any failed.
pub fn requests_in(text: &str) -> Result<u64> {
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("wrk saw errors:\n{text}").into());
    }
    Ok(text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .ok_or_else(|| format!("no request count in wrk output:\n{text}"))?
        .parse()?)
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// One blocking HTTP/1.1 request on a fresh connection; returns the status code.
pub fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
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

pub struct Figures {
    pub rows: Vec<(String, String, String, bool)>,
}

impl Figures {
    pub fn add(&mut self, what: &str, figure: String, target: &str, met: bool) {
        println!(
            "{what}: {figure} (target {target}) {}",
            if met { "MET" } else { "MISSED" }
        );
        self.rows
            .push((what.to_owned(), figure, target.to_owned(), met));
    }
}

/// The release `llms` beside this example's folder (`target/release/llms`).
pub fn release_binary() -> Result<PathBuf> {
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

/// How long each wrk runs before the other takes its turn.
pub const SLICE: Duration = Duration::from_millis(100);

/// What one duel measured of one of its two servers.
pub struct Side {
    /// Requests wrk completed.
    pub requests: u64,
    /// Time its wrk was allowed to run.
    pub active: Duration,
    /// Server CPU time over the whole duel.
    pub cpu: f64,
}

impl Side {
    /// Requests per second while its wrk ran.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.active.as_secs_f64()
    }

    /// Server CPU time per request, in µs.
    pub fn cpu_us(&self) -> f64 {
        self.cpu / self.requests.max(1) as f64 * 1e6
    }

    /// Server CPU time over the time its wrk ran (1.0: one core, all the time).
    pub fn busy(&self) -> f64 {
        self.cpu / self.active.as_secs_f64()
    }
}

/// A running wrk process (on the client CPU) that can be paused and resumed.
pub struct WrkProcess {
    child: Child,
    pid: rustix::process::Pid,
}

impl WrkProcess {
    /// wrk with one thread and `connections` connections against `url`, each request built
    /// by `script`, running (for at most 600 s) until told to stop.
    pub fn spawn(pinning: Pinning, script: &Path, url: &str, connections: u32) -> Result<Self> {
        let child = pinning
            .client()
            .args([
                "-t1",
                &format!("-c{connections}"),
                "-d600s",
                "--timeout",
                "5s",
                "-s",
            ])
            .arg(script)
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let pid =
            rustix::process::Pid::from_raw(i32::try_from(child.id())?).ok_or("wrk has no pid")?;
        Ok(Self { child, pid })
    }

    /// Sends `signal` to wrk.
    pub fn signal(&self, signal: rustix::process::Signal) -> Result<()> {
        Ok(rustix::process::kill_process(self.pid, signal)?)
    }

    /// Stops the run and reads the request count wrk prints. wrk prints when its main
    /// thread takes a SIGINT; should a worker thread take it instead (it then stops, but
    /// nothing is printed), the next one reaches the main thread.
    fn finish(mut self) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.signal(rustix::process::Signal::INT)?;
            let asked = Instant::now();
            while asked.elapsed() < Duration::from_millis(300) {
                if self.child.try_wait()?.is_some() {
                    return self.count();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if Instant::now() > deadline {
                return Err("wrk did not stop within 10 s of SIGINT".into());
            }
        }
    }

    fn count(&mut self) -> Result<u64> {
        let mut text = String::new();
        std::io::Read::read_to_string(
            self.child.stdout.as_mut().ok_or("no wrk output")?,
            &mut text,
        )?;
        requests_in(&text)
    }
}

impl Drop for WrkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lets two paused wrk processes take turns for `seconds`, every [`SLICE`]: one is stopped
/// (SIGSTOP) while the other runs, so each server in turn has the client CPU and its own
/// CPU to itself, and whatever the machine does over seconds (another guest, a frequency
/// change) falls on both alike. `servers[i]` is the process whose CPU time counts for
/// `clients[i]`; `first_is_a` picks who starts.
pub fn take_turns(
    clients: [WrkProcess; 2],
    servers: [&Server; 2],
    seconds: u64,
    first_is_a: bool,
) -> Result<[Side; 2]> {
    use rustix::process::Signal;
    let cpu = [servers[0].cpu_seconds()?, servers[1].cpu_seconds()?];
    let mut turn = usize::from(!first_is_a);
    clients[turn].signal(Signal::CONT)?;
    let mut active = [Duration::ZERO; 2];
    let end = Instant::now() + Duration::from_secs(seconds);
    loop {
        let started = Instant::now();
        std::thread::sleep(SLICE);
        clients[turn].signal(Signal::STOP)?;
        active[turn] += started.elapsed();
        if Instant::now() >= end {
            break;
        }
        turn = 1 - turn;
        clients[turn].signal(Signal::CONT)?;
    }
    let cpu = [
        servers[0].cpu_seconds()? - cpu[0],
        servers[1].cpu_seconds()? - cpu[1],
    ];
    // Each in turn resumes and is told to stop, alone: the moment that takes is the same
    // for both, whereas one left running while the other stops would gain requests.
    let mut requests = [0; 2];
    for (i, client) in clients.into_iter().enumerate() {
        client.signal(Signal::CONT)?;
        requests[i] = client.finish()?;
    }
    Ok([0, 1].map(|i| Side {
        requests: requests[i],
        active: active[i],
        cpu: cpu[i],
    }))
}
