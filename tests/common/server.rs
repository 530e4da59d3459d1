//! A real `llms` server process on a free loopback port, and HTTP clients for it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::home::Home;

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
            .stderr(Stdio::inherit());
        Self::launch(cmd)
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

    /// Kills the server at once (SIGKILL: no shutdown, no flushing) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    cookie_pair(response, "llms-token")
}

/// The `name=value` pair of a cookie a response sets (not one it clears).
pub fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.starts_with(&format!("{name}=;")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// `GET path` of `server`, its body as text.
pub async fn get_text(server: &Server, path: &str) -> String {
    http()
        .get(server.url(path))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("a text body")
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
