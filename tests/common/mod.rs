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
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
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
