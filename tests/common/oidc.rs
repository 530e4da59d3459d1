//! A real OpenID Connect issuer for the `oidc` provider's tests: `tests/oidc/issuer.mjs`
//! (the `oidc-provider` npm package, in memory) run by Node on a free loopback port, and a
//! way through its sign-in pages without a browser.
//!
//! - **Needs** `node` on `PATH` and `tests/oidc/node_modules` (`npm ci --prefix tests/oidc`).
//!   Either missing: [`OidcIssuer::start`] gives `None` after a `SKIPPED` notice on standard
//!   error, unless `LLMS_REQUIRE_OIDC=1` (CI) makes it a failure. An issuer that is there
//!   but does not start is always a failure.
//! - **One client**, confidential (`client_secret_basic` or `client_secret_post`), code flow
//!   only, PKCE S256 required. ID tokens are RS256 (a key made at each start) and carry
//!   `sub`, `preferred_username`, `name`, `email`, `email_verified` and `groups` when the
//!   scope has `profile` (`groups` too with `groups`).
//! - **Accounts** ([`ACCOUNTS`]): the login typed on the sign-in page is the `sub`; the
//!   password is [`password_of`] the login. A wrong password or an unknown login shows the
//!   sign-in page again, with "Invalid login or password.".
//! - **Pages** (oidc-provider's development interactions, also for a browser): sign-in
//!   [`LOGIN_FIELD`], [`PASSWORD_FIELD`], [`SUBMIT_BUTTON`]; then a consent page with the
//!   same [`SUBMIT_BUTTON`] ("Continue"); a refused sign-in shows [`LOGIN_ERROR`].
//! - **Cookies**: the issuer's (`_session`, `_interaction`, `_interaction_resume`, each with
//!   a `.sig`) live on 127.0.0.1 like the app's own, since cookies ignore ports.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use reqwest::{StatusCode, Url};

/// How long the issuer may take to print its `ISSUER` line.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How many requests a sign-in may take before it is called stuck.
const MAX_STEPS: usize = 12;

/// The accounts of the test issuer: login, `preferred_username`, `groups`.
pub const ACCOUNTS: &[(&str, &str, &[&str])] = &[
    ("alice", "alice", &["llms-admins", "staff"]),
    ("bob", "bob", &["staff"]),
    ("carol", "carol", &[]),
    // A name the relying party must refuse as a username.
    ("mallory", "not a valid name!", &["staff"]),
    // A name that another provider's account may already hold.
    ("taken", "admin", &["staff"]),
];

/// CSS selector of the sign-in page's login field.
pub const LOGIN_FIELD: &str = "input[name=login]";
/// CSS selector of the sign-in page's password field.
pub const PASSWORD_FIELD: &str = "input[name=password]";
/// CSS selector of the button of the sign-in page ("Sign-in") and the consent page
/// ("Continue").
pub const SUBMIT_BUTTON: &str = "button[type=submit]";
/// CSS selector of the message of a refused sign-in ("Invalid login or password.").
pub const LOGIN_ERROR: &str = "p.llms-test-error";

/// The password of a test account.
pub fn password_of(login: &str) -> String {
    format!("pw-{login}")
}

/// Whether a missing Node or `node_modules` must fail the tests rather than skip them
/// (`LLMS_REQUIRE_OIDC=1`, set by `.ci/run`).
pub fn oidc_required() -> bool {
    std::env::var("LLMS_REQUIRE_OIDC").as_deref() == Ok("1")
}

/// A client fit for [`OidcIssuer::sign_in_through`]: keeps cookies, follows no redirects.
pub fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The test issuer, `node tests/oidc/issuer.mjs` on 127.0.0.1, killed when dropped.
pub struct OidcIssuer {
    /// `http://127.0.0.1:PORT`, the issuer URL (no trailing slash), as in its discovery
    /// document and its ID tokens' `iss`.
    pub issuer: String,
    child: Child,
    /// The issuer exits when this closes, so it never outlives the tests, even killed.
    _lifeline: ChildStdin,
}

impl OidcIssuer {
    /// Starts an issuer with one client, or `None` (after a `SKIPPED` notice) when Node or
    /// the npm package is missing and not required. Blocks until it listens (at most 15 s).
    pub fn start(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> Option<Self> {
        let folder = issuer_folder();
        if let Err(what) = prerequisites(&folder) {
            assert!(!oidc_required(), "LLMS_REQUIRE_OIDC=1 but {what}");
            // Straight to the stream, past the test harness's capture, so it is seen.
            let _ = writeln!(std::io::stderr(), "oidc tests SKIPPED: {what}");
            return None;
        }
        let mut child = Command::new("node")
            .arg("issuer.mjs")
            .current_dir(&folder)
            .env("OIDC_TEST_CLIENT_ID", client_id)
            .env("OIDC_TEST_CLIENT_SECRET", client_secret)
            .env("OIDC_TEST_REDIRECT_URIS", redirect_uris.join(","))
            .env("OIDC_TEST_EXIT_WITH_STDIN", "1")
            .env("PORT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node tests/oidc/issuer.mjs");
        let lifeline = child.stdin.take().expect("the issuer's stdin");
        let stdout = child.stdout.take().expect("the issuer's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Reads to the end, so the issuer never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("ISSUER ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(issuer) => Some(Self {
                issuer,
                child,
                _lifeline: lifeline,
            }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!(
                    "the test OpenID Connect issuer (tests/oidc/issuer.mjs) did not start \
                     within {START_TIMEOUT:?} (exit: {status:?}; its errors are above)"
                );
            }
        }
    }

    /// `issuer + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Signs `login` in (with its password, [`password_of`]) through the issuer's sign-in
    /// and consent pages, starting from the authorization URL the relying party made, and
    /// returns the issuer's final redirect to the relying party (its redirect URI with
    /// `code`, `state` and `iss`), without requesting it.
    ///
    /// `client` must keep cookies and follow no redirects ([`cookie_client`]), and be new
    /// to the issuer: one whose issuer session is already signed in would skip the sign-in
    /// page, which this refuses. Panics if the issuer refuses or does not redirect back
    /// with a code.
    pub async fn sign_in_through(
        &self,
        client: &reqwest::Client,
        authorize_url: &str,
        login: &str,
    ) -> String {
        let location = self
            .try_sign_in_through(client, authorize_url, login, &password_of(login))
            .await
            .unwrap_or_else(|why| panic!("sign-in of {login} at the test issuer: {why}"));
        let has_code = Url::parse(&location)
            .map(|url| url.query_pairs().any(|(name, _)| name == "code"))
            .unwrap_or(false);
        assert!(
            has_code,
            "the test issuer sent {login} back without a code: {location}"
        );
        location
    }

    /// Like [`sign_in_through`](Self::sign_in_through) with any password, and without the
    /// panics: `Ok` is the redirect to the relying party (with a `code`, or an `error`),
    /// `Err` says where the sign-in stopped at the issuer (a refused login, an error page).
    pub async fn try_sign_in_through(
        &self,
        client: &reqwest::Client,
        authorize_url: &str,
        login: &str,
        password: &str,
    ) -> Result<String, String> {
        let mut next = Step::Get(Url::parse(authorize_url).map_err(|e| e.to_string())?);
        let mut login_page_seen = false;
        let mut login_sent = false;
        for _ in 0..MAX_STEPS {
            let (url, response) = match next {
                Step::Get(url) => {
                    let response = client.get(url.clone()).send().await;
                    (url, response)
                }
                Step::Post(url, form) => {
                    let response = client.post(url.clone()).form(&form).send().await;
                    (url, response)
                }
            };
            let response = response.map_err(|e| format!("request to {url}: {e}"))?;
            let status = response.status();

            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(|| format!("{status} without a Location from {url}"))?;
                let target = url
                    .join(location)
                    .map_err(|e| format!("Location {location:?} from {url}: {e}"))?;
                if !self.owns(&target) {
                    if !login_page_seen {
                        return Err(format!(
                            "the issuer answered without its sign-in page (a client already \
                             signed in there?), redirecting to {target}"
                        ));
                    }
                    return Ok(target.to_string());
                }
                next = Step::Get(target);
                continue;
            }

            let body = response.text().await.unwrap_or_default();
            if status != StatusCode::OK {
                return Err(format!("{status} from {url}: {}", excerpt(&body)));
            }
            if body.contains("llms-test-error") {
                return Err(format!("the issuer refused the login {login:?}"));
            }
            let action = form_action(&body)
                .ok_or_else(|| format!("a page without a form at {url}: {}", excerpt(&body)))?;
            let action = url.join(&action).map_err(|e| e.to_string())?;
            if body.contains(r#"name="prompt" value="login""#) {
                if login_sent {
                    return Err(format!(
                        "the sign-in page came back after {login:?} was sent"
                    ));
                }
                login_page_seen = true;
                login_sent = true;
                next = Step::Post(
                    action,
                    vec![
                        ("prompt", "login".to_owned()),
                        ("login", login.to_owned()),
                        ("password", password.to_owned()),
                    ],
                );
            } else if body.contains(r#"name="prompt" value="consent""#) {
                next = Step::Post(action, vec![("prompt", "consent".to_owned())]);
            } else {
                return Err(format!("an unknown page at {url}: {}", excerpt(&body)));
            }
        }
        Err(format!(
            "no redirect to the relying party after {MAX_STEPS} requests"
        ))
    }

    /// Whether `url` is the issuer's own (same scheme, host and port).
    fn owns(&self, url: &Url) -> bool {
        Url::parse(&self.issuer).is_ok_and(|issuer| issuer.origin() == url.origin())
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next request of a sign-in.
enum Step {
    Get(Url),
    Post(Url, Vec<(&'static str, String)>),
}

/// `tests/oidc`, where `issuer.mjs` and its `node_modules` are.
fn issuer_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// What is missing to run the issuer, if anything.
fn prerequisites(folder: &Path) -> Result<(), String> {
    let node = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|status| status.success()) {
        return Err(
            "Node.js is not installed (apt-get install nodejs npm, then \
                    npm ci --prefix tests/oidc)"
                .to_owned(),
        );
    }
    if !folder.join("node_modules/oidc-provider").is_dir() {
        return Err("tests/oidc/node_modules is missing (npm ci --prefix tests/oidc)".to_owned());
    }
    Ok(())
}

/// The `action` of the first form of a page, HTML entities of URLs undone.
fn form_action(page: &str) -> Option<String> {
    let form = &page[page.find("<form")?..];
    let start = form.find("action=\"")? + "action=\"".len();
    let end = form[start..].find('"')?;
    Some(
        form[start..start + end]
            .replace("&amp;", "&")
            .replace("&#x2F;", "/")
            .replace("&#47;", "/"),
    )
}

/// The start of a body, for error messages.
fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}
