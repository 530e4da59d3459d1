//! A real, private PostgreSQL server for the tests that need a database: one cluster per
//! test process, started on first use with the machine's own server binaries (Debian's
//! `postgresql` package), and a new, uniquely named database in it for each caller.
//!
//! - **Where the binaries are**: `LLMS_PG_BINDIR` if set, else `pg_config --bindir`, else the
//!   newest `/usr/lib/postgresql/*/bin`, else the folder of the `initdb` on `PATH`; a folder
//!   counts only if it has `initdb`, `pg_ctl` and `postgres`. None found: the callers get
//!   `None` and say they were skipped, unless `LLMS_REQUIRE_DATABASE=1` (CI) makes it a
//!   failure. Binaries that are there but fail to start are always a failure.
//! - **The cluster**: `initdb --auth=trust -U postgres` in a folder `llms-pg-XXXXXX` under
//!   `/tmp` (the system temp folder when not root), served by `pg_ctl start` on a free
//!   loopback port with its socket and log (`run/server.log`) in the same folder. `fsync`
//!   stays on: the chaos tests kill processes and check that nothing acknowledged is lost.
//!   As root (CI), `initdb` and the server refuse to run, so they run as the system user
//!   `llms-pg`, which owns the folder (made with `useradd` if missing, one test process at
//!   a time; `nobody` if that fails).
//! - **Clean-up**: with the cluster comes a watcher, `sh` reading from a pipe whose only
//!   writer is this process. When the process ends, however it ends (even `kill -9`), the
//!   pipe closes, and the watcher stops the server (`pg_ctl stop -m immediate`) and removes
//!   the folder. It runs in its own process group, so a Ctrl-C to the test run does not
//!   reach it. A cluster of [`PgCluster::launch`] does the same when dropped.
//! - **Databases**: `CREATE DATABASE` over a `sqlx` connection to the `postgres` database;
//!   each [`TestDatabase`] has its own URL, `postgres://postgres@127.0.0.1:PORT/NAME`.
//!   Nothing is dropped: the whole cluster goes when the process does.

use std::fs::{self, Permissions};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::{Connection, PgConnection};

/// The cluster's superuser (`initdb -U`), whatever system user runs the server.
const SUPERUSER: &str = "postgres";

/// The system user that runs the server when the tests run as root.
const SERVICE_USER: &str = "llms-pg";

/// Held while the service user is looked up and made, by every test process.
const USERADD_LOCK: &str = "/tmp/.llms-pg-useradd.lock";

/// How long `pg_ctl` may wait for the server to start or stop.
const PG_CTL_TIMEOUT_SECS: &str = "60";

/// How many free ports the first start tries, in case another process takes one first.
const PORT_ATTEMPTS: usize = 5;

/// Whether a missing PostgreSQL must fail the tests rather than skip them
/// (`LLMS_REQUIRE_DATABASE=1`, set by `.ci/run`).
pub fn database_required() -> bool {
    std::env::var("LLMS_REQUIRE_DATABASE").as_deref() == Ok("1")
}

/// A new, empty database of its own in this process's cluster (started on first use), or
/// `None`, after a `SKIPPED` notice on standard error, when the machine has no PostgreSQL
/// and it is not required. Panics when `LLMS_REQUIRE_DATABASE=1` and PostgreSQL is
/// missing, or when the server fails to start (with the tail of its log).
///
/// The cluster's start (about a second, once) runs on tokio's blocking pool, so this may be
/// awaited from any runtime, `#[tokio::test]`'s current-thread one included.
pub async fn fresh_database() -> Option<TestDatabase> {
    let found = tokio::task::spawn_blocking(shared_cluster)
        .await
        .unwrap_or_else(|failure| std::panic::resume_unwind(failure.into_panic()));
    let Some(cluster) = found else {
        // On the test's own thread, whose name is the test's.
        missing_notice();
        return None;
    };
    Some(cluster.create_database().await)
}

/// This process's cluster, started on the first call (which blocks while it starts), or
/// `None` as for [`fresh_database`]. Tests share it: a test that stops it stops it for the
/// tests running beside it, so such tests take their own with [`PgCluster::launch`].
pub fn cluster() -> Option<&'static PgCluster> {
    let found = shared_cluster();
    if found.is_none() {
        missing_notice();
    }
    found
}

/// The shared cluster, started on first use, or `None` without a word.
fn shared_cluster() -> Option<&'static PgCluster> {
    static CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| find_bindir().map(PgCluster::start_new))
        .as_ref()
}

/// A database of the test cluster: its own name and URL, nothing shared with another.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// `postgres://postgres@127.0.0.1:PORT/NAME`, for `LLMS_DATABASE_URL` or `sqlx`.
    pub url: String,
    /// The database's name, unique in the cluster.
    pub name: String,
}

impl TestDatabase {
    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to it (panics if the server does not answer).
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connect to {}: {error}", self.url))
    }
}

/// A private PostgreSQL cluster: its folder, its port and its server, which tests may
/// stop and start again (same folder, same port, same URLs).
pub struct PgCluster {
    bindir: PathBuf,
    /// `llms-pg-XXXXXX`: `data/` (the cluster) and `run/` (socket, `server.log`).
    folder: PathBuf,
    port: u16,
    run_as: Option<RunAs>,
    /// Held while the server is being started or stopped, so calls from parallel tests
    /// take turns.
    control: Mutex<()>,
    /// The watcher and the write end of its pipe; closing it stops the server and removes
    /// the folder.
    watcher: Mutex<Option<(Child, ChildStdin)>>,
}

/// The unprivileged user the server runs as when the tests run as root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl PgCluster {
    /// A cluster of the caller's own, apart from the shared [`cluster`] (so it may be
    /// stopped without disturbing other tests), or `None` as for [`fresh_database`].
    /// Blocks while it starts (about a second). Dropping it stops the server and removes
    /// its folder.
    pub fn launch() -> Option<Self> {
        let Some(bindir) = find_bindir() else {
            missing_notice();
            return None;
        };
        Some(Self::start_new(bindir))
    }

    /// The port it listens on (127.0.0.1 only), the same across [`stop`](Self::stop) and
    /// [`start`](Self::start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of its database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Where the server writes its log.
    pub fn log_path(&self) -> PathBuf {
        self.folder.join("run").join("server.log")
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read(self.log_path()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A new, empty database with a unique name.
    pub async fn create_database(&self) -> TestDatabase {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        // The process id too, so no two test processes ever name a database alike.
        let name = format!(
            "llms_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "connect to the test PostgreSQL on port {}: {error}\n{}",
                    self.port,
                    self.log_tail(30)
                )
            });
        // Not a bind parameter: CREATE DATABASE takes an identifier (ours is plain).
        sqlx::raw_sql(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("CREATE DATABASE {name}: {error}"));
        let _ = admin.close().await;
        TestDatabase {
            url: self.url(&name),
            name,
        }
    }

    /// Whether the server is running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.pg_ctl()
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`: connections are cut, a checkpoint
    /// is written) and waits until it has exited. Nothing happens if it is not running.
    /// Blocks: from an async test whose runtime must keep serving, call it through
    /// `tokio::task::spawn_blocking`.
    pub fn stop(&self) {
        self.shut_down("fast");
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: every server process
    /// quits at once, no checkpoint; the next [`start`](Self::start) recovers from the
    /// write-ahead log). Nothing happens if it is not running. Blocks, like [`stop`](Self::stop).
    pub fn crash(&self) {
        self.shut_down("immediate");
    }

    /// Starts the stopped server again, on the same port with the same data, and waits
    /// until it accepts connections. Nothing happens if it is running. Panics, with the
    /// tail of the server's log, if it cannot start (another process took the port, say).
    /// Blocks, like [`stop`](Self::stop).
    pub fn start(&self) {
        let _turn = self.control.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_running() {
            return;
        }
        if let Err(output) = self.try_start() {
            panic!(
                "the test PostgreSQL did not start again on port {}: {}\n--- server log ---\n{}",
                self.port,
                describe(&output),
                self.log_tail(30)
            );
        }
    }

    /// Makes, initialises and starts a new cluster with the binaries of `bindir`.
    fn start_new(bindir: PathBuf) -> Self {
        let run_as = if rustix::process::geteuid().is_root() {
            Some(service_user())
        } else {
            None
        };
        // As root the server's user must reach the folder, so it goes straight under /tmp
        // (which everyone may enter), never under a private TMPDIR.
        let parent = if run_as.is_some() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let folder = tempfile::Builder::new()
            .prefix("llms-pg-")
            .permissions(Permissions::from_mode(0o755))
            .tempdir_in(&parent)
            .unwrap_or_else(|error| panic!("a folder for PostgreSQL in {parent:?}: {error}"))
            .keep();
        let run = folder.join("run");
        fs::create_dir(&run).expect("the cluster's run folder");
        if let Some(user) = run_as {
            for path in [&folder, &run] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                    .unwrap_or_else(|error| panic!("chown {path:?} to {SERVICE_USER}: {error}"));
            }
        }

        let mut cluster = Self {
            bindir,
            folder,
            port: 0,
            run_as,
            control: Mutex::new(()),
            watcher: Mutex::new(None),
        };
        // The watcher first, so that whatever happens next the folder does not outlive us.
        *cluster.watcher.get_mut().unwrap() = Some(cluster.spawn_watcher());

        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args([
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                SUPERUSER,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(initdb.status.success(), "initdb: {}", describe(&initdb));

        let mut attempts = 0;
        loop {
            cluster.port = free_port();
            match cluster.try_start() {
                Ok(()) => return cluster,
                Err(_) if attempts + 1 < PORT_ATTEMPTS && cluster.port_was_taken() => {
                    attempts += 1;
                }
                Err(output) => panic!(
                    "the test PostgreSQL ({}) did not start on port {}: {}\n--- server log ---\n{}",
                    cluster.bindir.display(),
                    cluster.port,
                    describe(&output),
                    cluster.log_tail(30)
                ),
            }
        }
    }

    /// `pg_ctl start` on the cluster's port, waiting until the server is ready.
    fn try_start(&self) -> Result<(), Output> {
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{run}' \
             -c max_connections=200 -c shared_buffers=16MB",
            port = self.port,
            run = self.folder.join("run").display(),
        );
        let output = self
            .pg_ctl()
            .args([
                "start",
                "-w",
                "-t",
                PG_CTL_TIMEOUT_SECS,
                "-o",
                &options,
                "-l",
            ])
            .arg(self.log_path())
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl start");
        if output.status.success() {
            Ok(())
        } else {
            Err(output)
        }
    }

    /// `pg_ctl stop -m mode`, if the server is running.
    fn shut_down(&self, mode: &str) {
        let _turn = self.control.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_running() {
            return;
        }
        let output = self
            .pg_ctl()
            .args(["stop", "-w", "-t", PG_CTL_TIMEOUT_SECS, "-m", mode])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl stop");
        assert!(
            output.status.success(),
            "pg_ctl stop -m {mode}: {}\n--- server log ---\n{}",
            describe(&output),
            self.log_tail(30)
        );
    }

    /// Whether the last start failed because the port was in use.
    fn port_was_taken(&self) -> bool {
        self.log_tail(20).contains("could not bind")
    }

    /// The watcher: waits for its pipe to close (this process ended, or the cluster was
    /// dropped), then stops the server at once and removes the folder.
    fn spawn_watcher(&self) -> (Child, ChildStdin) {
        let script =
            r#"read -r line; "$0" -D "$1" stop -m immediate -w >/dev/null 2>&1; rm -rf "$2""#;
        let mut child = self
            .command_of(Path::new("/bin/sh"))
            .arg("-c")
            .arg(script)
            .arg(self.bindir.join("pg_ctl"))
            .arg(self.data())
            .arg(&self.folder)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C meant for the tests must not stop the clean-up.
            .process_group(0)
            .spawn()
            .expect("spawn the PostgreSQL watcher");
        let pipe = child.stdin.take().expect("the watcher's pipe");
        (child, pipe)
    }

    fn data(&self) -> PathBuf {
        self.folder.join("data")
    }

    /// `pg_ctl -D data`, as the server's user.
    fn pg_ctl(&self) -> Command {
        let mut command = self.command("pg_ctl");
        command.arg("-D").arg(self.data());
        command
    }

    /// One of the server's programs, as the server's user, in the cluster's folder.
    fn command(&self, program: &str) -> Command {
        self.command_of(&self.bindir.join(program))
    }

    fn command_of(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.current_dir(&self.folder);
        if let Some(user) = self.run_as {
            // std drops the supplementary groups too when root sets a uid.
            command.uid(user.uid).gid(user.gid);
        }
        command
    }
}

impl Drop for PgCluster {
    /// Closes the watcher's pipe and waits while it stops the server and removes the
    /// folder. (The shared cluster is a static, never dropped: its watcher acts when the
    /// process ends.)
    fn drop(&mut self) {
        let watcher = self.watcher.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((mut child, pipe)) = watcher.take() {
            drop(pipe);
            let _ = child.wait();
        }
    }
}

/// The folder of the PostgreSQL server binaries, if the machine has them.
fn find_bindir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|program| dir.join(program).is_file())
    };
    if let Some(dir) = std::env::var_os("LLMS_PG_BINDIR").filter(|v| !v.is_empty()) {
        // An explicit choice is the only one tried.
        return Some(PathBuf::from(dir)).filter(|dir| complete(dir));
    }
    // pg_config may come from libpq-dev alone, naming a folder without the server.
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let newest_debian = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .max_by_key(|(version, _)| *version)
        .map(|(_, dir)| dir);
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("initdb"))
            .find(|initdb| initdb.is_file())
            .and_then(|initdb| fs::canonicalize(initdb).ok())
            .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
    });
    [from_pg_config, newest_debian, on_path]
        .into_iter()
        .flatten()
        .find(|dir| complete(dir))
}

/// When PostgreSQL is missing: a failure if it is required, else a notice on standard error.
fn missing_notice() {
    const WHAT: &str = "no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found: \
                        apt-get install postgresql, or set LLMS_PG_BINDIR";
    assert!(!database_required(), "LLMS_REQUIRE_DATABASE=1 but {WHAT}");
    let current = std::thread::current();
    let test = current.name().unwrap_or("a database test");
    // Straight to the stream, past the test harness's capture, so it is seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {WHAT}");
}

/// The `llms-pg` system user, made if missing, else `nobody`; looked up once per process.
fn service_user() -> RunAs {
    static USER: OnceLock<RunAs> = OnceLock::new();
    *USER.get_or_init(|| {
        user_ids(SERVICE_USER)
            .or_else(make_service_user)
            .or_else(|| user_ids("nobody"))
            .unwrap_or_else(|| {
                panic!(
                    "running as root, and neither the user {SERVICE_USER} nor nobody is \
                     available to run PostgreSQL"
                )
            })
    })
}

/// `useradd llms-pg`, one test process at a time: concurrent `useradd`s of one name all
/// report success while overwriting each other's entry (seen with Debian 12's), so a
/// process could run the server as a uid that is gone a moment later.
fn make_service_user() -> Option<RunAs> {
    let lock = fs::File::create(USERADD_LOCK)
        .and_then(|file| file.lock().map(|()| file))
        .unwrap_or_else(|error| panic!("lock {USERADD_LOCK}: {error}"));
    if user_ids(SERVICE_USER).is_none() {
        let _ = Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home"])
            .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
            .arg(SERVICE_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let user = user_ids(SERVICE_USER);
    drop(lock);
    user
}

/// The uid and primary gid of `user`, if it exists (one `getent` lookup, so both come
/// from the same entry).
fn user_ids(user: &str) -> Option<RunAs> {
    let output = Command::new("getent")
        .args(["passwd", user])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let entry = String::from_utf8_lossy(&output.stdout);
    let mut fields = entry.trim().split(':').skip(2);
    Some(RunAs {
        uid: fields.next()?.parse().ok()?,
        gid: fields.next()?.parse().ok()?,
    })
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A finished command's status and output, for failure messages.
fn describe(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
