//! Shared helpers for the integration tests: a temporary `LLMS_HOME`, the real `llms`
//! binary, and a real server on a free loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `llms` binary.
pub fn llms_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llms"))
}

/// A temporary `LLMS_HOME`, removed when dropped.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn users_file(&self) -> PathBuf {
        self.path().join("credentials/users.json")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.path().join("credentials/sessions")
    }

    /// `llms` with this home and a clean environment for the variables it reads.
    pub fn llms(&self) -> Command {
        let mut cmd = Command::new(llms_bin());
        cmd.env("LLMS_HOME", self.path())
            .env_remove("LLMS_AUTH")
            .env_remove("LLMS_PASSWORD_HASH")
            .env_remove("LLMS_TRUSTED_PROXIES")
            .env_remove("LLMS_ALLOWED_HOSTS")
            .env_remove("LLMS_HEADER_TIMEOUT_SECS")
            .env_remove("LLMS_BODY_TIMEOUT_SECS")
            .env("LLMS_LOG", "warn");
        cmd
    }

    /// Runs `llms args...` with `stdin` as its standard input.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .llms()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn llms");
        // A program that exits without reading its input (a refused name, say) closes the
        // pipe early; that is not the test's failure.
        match child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
        {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => {}
        }
        child.wait_with_output().expect("wait llms")
    }

    /// Adds (or re-keys) a user with `--password-stdin`, asserting success.
    pub fn add_user(&self, name: &str, password: &str) {
        let out = self.run(
            &["--adduser", name, "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "adduser {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The parsed users.json.
    pub fn users_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.users_file()).expect("users.json");
        serde_json::from_str(&text).expect("users.json parses")
    }
}

/// A real `llms` server process on a free loopback port, stopped when dropped.
pub struct Server {
    pub base: String,
    child: Child,
}

impl Server {
    /// `llms --serve 0 --host 127.0.0.1 extra...` on `home`.
    pub fn start(home: &Home, extra: &[&str]) -> Self {
        Self::start_with(home, extra, &[])
    }

    /// Like [`Server::start`], with extra environment variables.
    pub fn start_with(home: &Home, extra: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = home.llms();
        cmd.args(["--serve", "0", "--host", "127.0.0.1"])
            .args(extra)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn llms --serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(url) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("server did not start (exit: {status:?})");
            }
        };
        Self { base, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `host:port`, for raw TCP clients.
    pub fn addr(&self) -> String {
        self.base
            .strip_prefix("http://")
            .expect("an http:// base")
            .to_owned()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the server with SIGTERM and waits (bounded) for it to exit.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.is_running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client that never follows redirects and keeps no cookies of its own.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The `llms-token=...` pair from a response's `Set-Cookie`, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("llms-token=") && !v.starts_with("llms-token=;"))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// `GET path` with an optional `llms-token=...` cookie, as JSON.
pub async fn get_json(server: &Server, path: &str, cookie: Option<&str>) -> serde_json::Value {
    let mut request = http().get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("a JSON answer")
}

/// Signs in over HTTP and returns the `llms-token=...` cookie pair.
pub async fn sign_in(server: &Server, user: &str, password: &str) -> String {
    let response = http()
        .post(server.url("/auth/login"))
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("sign in request");
    assert_eq!(response.status(), 200, "sign in as {user}");
    session_cookie(&response).expect("session cookie")
}

// ---------------------------------------------------------------------------------------
// Pseudo-terminal sessions for the CLI's prompts.

/// How long any one expectation on a pseudo-terminal may take.
pub const PTY_TIMEOUT_MS: u64 = 15_000;

impl Home {
    /// `llms args...` on a pseudo-terminal, with the terminal's echo switched back on
    /// (rexpect turns it off), so a password typed while the program forgets to hide it
    /// would show up in the output.
    pub fn pty(&self, args: &[&str]) -> rexpect::session::PtySession {
        self.pty_with(args, &[])
    }

    /// Like [`Home::pty`], with extra environment variables.
    pub fn pty_with(&self, args: &[&str], envs: &[(&str, &str)]) -> rexpect::session::PtySession {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"stty echo && exec "$0" "$@""#)
            .arg(llms_bin())
            .args(args)
            .env("LLMS_HOME", self.path())
            .env_remove("LLMS_AUTH")
            .env_remove("LLMS_PASSWORD_HASH")
            .env_remove("LLMS_TRUSTED_PROXIES")
            .env_remove("LLMS_ALLOWED_HOSTS")
            .env_remove("LLMS_HEADER_TIMEOUT_SECS")
            .env_remove("LLMS_BODY_TIMEOUT_SECS")
            .env("LLMS_LOG", "warn")
            .envs(envs.iter().copied());
        rexpect::session::spawn_command(cmd, Some(PTY_TIMEOUT_MS)).expect("spawn llms on a pty")
    }
}

/// Whether the terminal of `session` echoes typed characters right now.
pub fn pty_echoes(session: &rexpect::session::PtySession) -> bool {
    let termios = nix::sys::termios::tcgetattr(&session.process().pty).expect("tcgetattr");
    termios
        .local_flags
        .contains(nix::sys::termios::LocalFlags::ECHO)
}

/// Waits (bounded) until the program has switched the terminal's echo off, then types
/// `secret` and Enter. Panics when echo stays on: the secret would be shown.
pub fn type_secret(session: &mut rexpect::session::PtySession, secret: &str) {
    let deadline = Instant::now() + Duration::from_millis(PTY_TIMEOUT_MS);
    while pty_echoes(session) {
        assert!(
            Instant::now() < deadline,
            "the terminal still echoes input at the password prompt"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    session.send_line(secret).expect("type on the pty");
}

/// Reads the rest of the output and the exit code of a pty session.
pub fn pty_finish(mut session: rexpect::session::PtySession) -> (String, i32) {
    let rest = session.exp_eof().expect("program ends");
    match session.process().wait().expect("wait") {
        rexpect::process::wait::WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("llms did not exit normally: {other:?}; output: {rest}"),
    }
}

// ---------------------------------------------------------------------------------------
// Store and session fixtures written by hand, in the on-disk formats.

/// A reference-format (`salt:sha256hex`) hash of `password`, computed here.
pub fn sha256_hash(password: &str) -> String {
    use sha2::{Digest, Sha256};
    let salt = "00112233445566778899aabbccddeeff";
    let digest = Sha256::digest(format!("{salt}{password}").as_bytes());
    format!("{salt}:{}", hex::encode(digest))
}

impl Home {
    /// Writes users.json from `(name, password, roles)` with reference-format hashes.
    pub fn write_users(&self, users: &[(&str, &str, &[&str])]) {
        let mut map = serde_json::Map::new();
        for (name, password, roles) in users {
            map.insert(
                (*name).to_owned(),
                serde_json::json!({
                    "password_hash": sha256_hash(password),
                    "created": 1742034600.25,
                    "roles": roles,
                }),
            );
        }
        self.write_users_json(&serde_json::Value::Object(map));
    }

    /// Writes `value` as users.json, 2-space indented like the reference.
    pub fn write_users_json(&self, value: &serde_json::Value) {
        let path = self.users_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        // A running server sees another program's edit within its freshness window.
        std::thread::sleep(llms_auth::json_store::COMMIT_WAIT);
    }

    /// Writes a session file for a fresh token by hand (file name: lowercase hex SHA-256
    /// of the token) and returns the `llms-token=...` cookie pair.
    pub fn write_session(&self, user: &str, provider: &str, age_secs: f64) -> String {
        let token = random_token();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let created = now - age_secs;
        let record = serde_json::json!({
            "userName": user,
            "provider": provider,
            "created": created,
            "lastSeen": created,
            "clientIp": "127.0.0.1",
            "userAgent": "test",
        });
        std::fs::create_dir_all(self.sessions_dir()).unwrap();
        std::fs::write(self.session_file(&token), record.to_string()).unwrap();
        format!("llms-token={token}")
    }

    /// The session file of `token` (its name is the SHA-256 of the token).
    pub fn session_file(&self, token: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let name = hex::encode(Sha256::digest(token.as_bytes()));
        self.sessions_dir().join(format!("{name}.json"))
    }

    /// The names of the files in the sessions folder.
    pub fn session_files(&self) -> Vec<String> {
        match std::fs::read_dir(self.sessions_dir()) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".json"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// 43 characters of URL-safe base64 from 32 random bytes: the shape of a real token.
pub fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The token of an `llms-token=...` cookie pair.
pub fn token_of(cookie: &str) -> &str {
    cookie
        .strip_prefix("llms-token=")
        .expect("a session cookie pair")
}

// ---------------------------------------------------------------------------------------
// Real servers with their log captured.

impl Server {
    /// Like [`Server::start_with`], with the server's standard error written to `log`.
    pub fn start_logged(home: &Home, extra: &[&str], envs: &[(&str, &str)], log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("create log file");
        let mut cmd = home.llms();
        cmd.args(["--serve", "0", "--host", "127.0.0.1"])
            .args(extra)
            .envs(envs.iter().copied())
            .stderr(Stdio::from(file));
        Self::launch(cmd)
    }

    /// Spawns `cmd` (an `llms --serve` command) and waits for its "Listening on" line.
    pub fn launch(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn llms --serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(url) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(base) => Self { base, child },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("server did not start (exit: {status:?})");
            }
        }
    }

    /// Sends SIGTERM and returns the exit status (panics if it does not exit in 10 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
