//! Driving Debian's Chromium through chromedriver: start-up on a free loopback port, a
//! fresh profile per test, bounded polling helpers, and a screenshot when a test fails.

use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// Where Debian installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long any single wait in a browser test may take.
pub const WAIT: Duration = Duration::from_secs(15);

fn chromedriver() -> Option<PathBuf> {
    let default = PathBuf::from("/usr/bin/chromedriver");
    if default.is_file() {
        return Some(default);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|p| p.is_file())
    })
}

/// A free loopback port: bind port 0 and release it.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running chromedriver, killed when dropped.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    async fn start(binary: &Path, log: &Path) -> Self {
        let port = free_port();
        let log_file = std::fs::File::create(log).expect("chromedriver log file");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("spawn chromedriver");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(response) = http.get(&status).send().await {
                if response.status().is_success() {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {} (log: {})",
                driver.url,
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser, or `None` when it is not installed (a skip, unless
/// `LLMS_REQUIRE_BROWSER=1`, which makes it a failure).
fn browser_binaries() -> Option<PathBuf> {
    let driver = chromedriver().filter(|_| Path::new(CHROMIUM).is_file());
    if driver.is_none() {
        if std::env::var("LLMS_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("LLMS_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed (apt-get install chromium chromium-driver)");
        }
        // Straight to stderr, past the test harness's capture, so a skip is always seen.
        let _ = writeln!(
            std::io::stderr(),
            "browser tests SKIPPED: chromium/chromedriver not installed"
        );
    }
    driver
}

/// Folder for screenshots of failed tests (inside `target/`, never in the sources).
fn failure_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Runs `body` with a fresh headless Chromium. Skips (or fails, see
/// [`browser_binaries`]) when the browser is missing; saves a screenshot when `body` fails.
pub async fn with_browser<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(driver_binary) = browser_binaries() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let profile = scratch.path().join("profile");
    let log = scratch.path().join("chromedriver.log");
    let driver = ChromeDriver::start(&driver_binary, &log).await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1280,900",
            ],
        }),
    );
    // Keep the console, so that a failure can show what the page saw (network errors).
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    // chromedriver listens on loopback over plain HTTP: no TLS connector is needed.
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("starting Chromium through chromedriver failed: {e}\n{log}")
        });
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(WAIT),
            Some(Duration::from_secs(30)),
            Some(Duration::ZERO),
        ))
        .await
        .expect("timeouts");

    let outcome = tokio::spawn(body(client.clone())).await;
    if let Err(failure) = outcome {
        let path = failure_dir().join(format!("{test}.png"));
        match client.screenshot().await {
            Ok(png) if std::fs::write(&path, &png).is_ok() => {
                eprintln!("browser test {test} failed; screenshot: {}", path.display());
            }
            _ => eprintln!("browser test {test} failed; no screenshot could be taken"),
        }
        if let Ok(url) = client.current_url().await {
            eprintln!("page at failure: {url}");
        }
        for line in console_log(&client, &driver.url).await {
            eprintln!("browser console: {line}");
        }
        let _ = client.close().await;
        drop(driver);
        if failure.is_panic() {
            std::panic::resume_unwind(failure.into_panic());
        }
        panic!("browser test {test} did not finish: {failure}");
    }
    let _ = client.close().await;
    drop(driver);
}

/// The browser console's messages so far (chromedriver's log endpoint).
async fn console_log(client: &Client, driver: &str) -> Vec<String> {
    let Ok(Some(session)) = client.session_id().await else {
        return Vec::new();
    };
    let response = reqwest::Client::new()
        .post(format!("{driver}/session/{session}/se/log"))
        .json(&json!({ "type": "browser" }))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let Ok(body) = response else {
        return Vec::new();
    };
    let body: Value = body.json().await.unwrap_or_default();
    body["value"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| format!("{} {}", e["level"], e["message"]))
                .collect()
        })
        .unwrap_or_default()
}

/// A page of the server under test, driven through `client`.
#[derive(Clone)]
pub struct Page {
    /// The WebDriver session.
    pub client: Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Page {
    pub fn new(client: Client, base: &str) -> Self {
        Self {
            client,
            base: base.to_owned(),
        }
    }

    /// Opens `path` on the server.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{}", self.base, path))
            .await
            .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Evaluates `script` (a function body; use `return`) with `args`.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns a truthy value; panics with `what` after [`WAIT`].
    pub async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.eval(script, args.clone()).await;
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the current path is `path`.
    pub async fn wait_path(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let current = self.path().await;
            if current == path {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {path}; at {current}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a visible element matching `css`.
    pub async fn visible(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for {css}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether an element matching `css` exists right now.
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// Waits until the visible text of `css` contains `text`, and returns the text.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let found = self
            .wait_until(
                &format!("{css} to show {text:?}"),
                "const el = document.querySelector(arguments[0]);
                 return el && !el.hidden && el.innerText.includes(arguments[1]) ? el.innerText : null;",
                vec![json!(css), json!(text)],
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }

    /// Replaces the value of the field `css` with `text`, typed with the keyboard.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.visible(css).await;
        field.clear().await.expect("clear field");
        field.send_keys(text).await.expect("type into field");
    }

    /// Clicks the visible element `css`.
    pub async fn click(&self, css: &str) {
        self.visible(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// The `value` of the form field `css`.
    pub async fn value(&self, css: &str) -> String {
        self.eval(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.eval(
            "return document.activeElement && document.activeElement.id;",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Whether the dialog `id` is open.
    pub async fn dialog_open(&self, id: &str) -> bool {
        self.eval(
            "const d = document.getElementById(arguments[0]); return !!(d && d.open);",
            vec![json!(id)],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Waits until the dialog `id` is open (some open only once the server has answered).
    pub async fn wait_dialog_open(&self, id: &str) {
        self.wait_until(
            &format!("the dialog {id} open"),
            "const d = document.getElementById(arguments[0]); return !!(d && d.open);",
            vec![json!(id)],
        )
        .await;
    }

    /// Waits until the dialog `id` has closed.
    pub async fn wait_dialog_closed(&self, id: &str) {
        self.wait_until(
            &format!("dialog {id} to close"),
            "return !document.getElementById(arguments[0]).open;",
            vec![json!(id)],
        )
        .await;
    }

    /// Signs in on `/login` (optionally `/login?next=...`) and waits for `landing`.
    pub async fn sign_in(&self, login_path: &str, user: &str, password: &str, landing: &str) {
        self.goto(login_path).await;
        self.fill("#username", user).await;
        self.fill("#password", password).await;
        self.click("[data-testid=sign-in-submit]").await;
        self.wait_path(landing).await;
    }

    /// Opens the user menu in the header.
    pub async fn open_menu(&self) {
        self.click("[data-testid=user-menu] summary").await;
        self.visible("[data-testid=menu-username]").await;
    }

    /// Signs out through the user menu and waits for the sign-in page.
    pub async fn sign_out(&self) {
        self.open_menu().await;
        self.click("[data-testid=sign-out]").await;
        self.wait_path("/login").await;
    }

    /// The attribute `name` of the first element matching `css` (`None` when it has none).
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.eval(
            "const el = document.querySelector(arguments[0]);
             if (!el) throw new Error('no element ' + arguments[0]);
             return el.getAttribute(arguments[1]);",
            vec![json!(css), json!(name)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Resizes the window to `width` x `height` and waits until the page has the width.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resizing to {width}x{height}: {e}"));
        self.wait_until(
            &format!("a window {width} pixels wide"),
            "return window.innerWidth === arguments[0];",
            vec![json!(width)],
        )
        .await;
    }

    /// A phone-sized window (390 x 844, an iPhone's), where the pages use their narrow
    /// layout.
    pub async fn phone_window(&self) {
        self.resize(390, 844).await;
        self.wait_until(
            "the narrow layout",
            "return window.matchMedia('(max-width: 720px)').matches;",
            vec![],
        )
        .await;
    }

    /// Saves a screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
