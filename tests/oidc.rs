//! The `oidc` provider (SPEC 13). Forged and broken flows against a small fake issuer that
//! mints the tokens a real one never would; each is refused with a page and no session.
//! Then the real thing: sign-ins through oidc-provider (`tests/oidc/issuer.mjs`), several
//! providers at once, and the server refusing to start without its settings or its issuer.

mod common;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use common::fake_oidc::{FakeOidc, Mint, Person, CLIENT_ID, CLIENT_SECRET};
use common::{AppBuilder, Reply, Store, TestApp};
use llms_auth::providers::oidc::{OidcConfig, OidcProvider};
use serde_json::{json, Value};

store_suite!(
    a_good_token_signs_in_with_roles_from_the_groups,
    a_callback_without_this_browsers_state_is_refused,
    a_replayed_code_is_refused,
    an_issuer_out_of_reach_at_sign_in_is_a_page_that_says_so,
    tokens_that_are_not_the_issuers_for_this_sign_in_are_refused,
    a_key_published_later_is_fetched_once_and_accepted,
    names_that_are_no_username_or_held_by_another_account_are_refused,
    groups_decide_who_enters_and_locks_and_deletes_end_sessions,
    password_and_single_sign_on_side_by_side,
    one_namespace_across_github_single_sign_on_and_passwords,
);

/// Where the fake sends the browser back to: the in-process app's callback (the host is
/// never reached; the test carries the answer over).
const REDIRECT_URI: &str = "http://llms.test/auth/oidc/callback";

struct Setup {
    app: TestApp,
    fake: FakeOidc,
}

fn settings(fake: &FakeOidc) -> OidcConfig {
    let mut settings = OidcConfig::new(&fake.issuer, CLIENT_ID, CLIENT_SECRET);
    settings.redirect_uri = Some(REDIRECT_URI.into());
    settings.admin_groups = vec!["llms-admins".into()];
    settings.name = "Test IdP".into();
    settings
}

async fn setup_on(builder: AppBuilder, auth: &str, tweak: impl FnOnce(&mut OidcConfig)) -> Setup {
    let fake = FakeOidc::start().await;
    let mut settings = settings(&fake);
    tweak(&mut settings);
    let auth = auth.to_owned();
    let app = builder
        .config(move |c| c.auth = auth)
        .provider(Arc::new(OidcProvider::new(settings)))
        .build()
        .await;
    Setup { app, fake }
}

async fn setup(store: Store) -> Setup {
    setup_on(TestApp::builder(store), "oidc", |_| {}).await
}

/// `GET /auth/oidc`: the state cookie pair and where the browser is sent.
async fn begin(app: &TestApp) -> (String, String) {
    let reply = app.get("/auth/oidc?next=/account", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let cookie = reply.cookie("llms-oidc-state").expect("a state cookie");
    (cookie, reply.location().to_owned())
}

/// The fake's authorize page: the path and query of the callback it sends the browser to.
async fn authorize(url: &str) -> String {
    let answer = no_redirects().get(url).send().await.unwrap();
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    let location = answer.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    location
        .strip_prefix("http://llms.test")
        .expect("back to the redirect URI")
        .to_owned()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// The callback, with this cookie pair.
async fn callback(app: &TestApp, path: &str, cookie: Option<&str>) -> Reply {
    app.page(path, cookie).await
}

/// A whole sign-in: begin, authorize, callback with the browser's state cookie.
async fn sign_in(app: &TestApp) -> Reply {
    let (cookie, url) = begin(app).await;
    let back = authorize(&url).await;
    callback(app, &back, Some(&cookie)).await
}

/// A refusal: a page with this status that says `says`, no session.
fn assert_refused(reply: &Reply, status: StatusCode, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply.text().contains(says),
        "{says:?} not in {}",
        reply.text()
    );
    assert!(reply.session_cookie().is_none(), "a session was made");
}

async fn records(setup: &Setup) -> Value {
    setup.app.stored_document("oidc", "oidc/users.json").await
}

async fn a_good_token_signs_in_with_roles_from_the_groups(store: Store) {
    let setup = setup(store).await;
    let reply = sign_in(&setup.app).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.location(), "/account");
    let cookie = reply.session_cookie().expect("a session");
    let me = setup.app.get("/auth", Some(&cookie)).await.json();
    assert_eq!(me["userName"], "alice");
    assert_eq!(me["roles"], json!(["Admin"]));
    assert_eq!(me["authProvider"], "oidc");
    let record = &records(&setup).await["alice"];
    assert_eq!(record["subject"], "sub-alice");
    assert_eq!(record["issuer"], setup.fake.issuer);
    assert_eq!(record["groups"], json!(["staff", "llms-admins"]));
    // The state cookie is spent.
    assert!(reply
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("llms-oidc-state=;") && c.contains("Max-Age=0")));
    // Roles follow the groups at the next sign-in.
    setup
        .fake
        .sign_in_as(Person::new("sub-alice", "alice", &["staff"]));
    let cookie = sign_in(&setup.app).await.session_cookie().unwrap();
    let me = setup.app.get("/auth", Some(&cookie)).await.json();
    assert_eq!(me["roles"], json!([]));
}

async fn a_callback_without_this_browsers_state_is_refused(store: Store) {
    let setup = setup(store).await;
    let app = &setup.app;
    let (cookie, url) = begin(app).await;
    let back = authorize(&url).await;
    // No cookie: the sign-in was started in another browser (or a forged link).
    let reply = callback(app, &back, None).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "not started in this browser");
    // Another browser's state.
    let (other_cookie, _) = begin(app).await;
    let reply = callback(app, &back, Some(&other_cookie)).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "not started in this browser");
    // The state in the callback changed.
    let tampered = back.replace("state=", "state=x");
    let reply = callback(app, &tampered, Some(&cookie)).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "not started in this browser");
    // Missing parameters, and the issuer's own error.
    let reply = callback(app, "/auth/oidc/callback?state=abc", Some(&cookie)).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "lacks the code or the state",
    );
    let reply = callback(
        app,
        "/auth/oidc/callback?error=access_denied%3Cb%3E",
        Some(&cookie),
    )
    .await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "access_denied");
    assert!(!reply.text().contains("<b>"));
    assert!(records(&setup)
        .await
        .as_object()
        .is_none_or(|r| r.is_empty()));
}

async fn a_replayed_code_is_refused(store: Store) {
    let setup = setup(store).await;
    let app = &setup.app;
    let (cookie, url) = begin(app).await;
    let back = authorize(&url).await;
    let first = callback(app, &back, Some(&cookie)).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text());
    // The same callback again, cookie and all (someone who copied both): the issuer
    // refuses the code a second time.
    let again = callback(app, &back, Some(&cookie)).await;
    assert_refused(
        &again,
        StatusCode::BAD_GATEWAY,
        "did not accept the sign-in code",
    );
    assert_eq!(setup.fake.refusals(), ["code already used"]);
}

async fn an_issuer_out_of_reach_at_sign_in_is_a_page_that_says_so(store: Store) {
    let fake = FakeOidc::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    fake.name_token_endpoint(&nowhere);
    let app = TestApp::builder(store)
        .config(|c| c.auth = "oidc".into())
        .provider(Arc::new(OidcProvider::new(settings(&fake))))
        .build()
        .await;
    let reply = sign_in(&app).await;
    assert_refused(
        &reply,
        StatusCode::BAD_GATEWAY,
        "could not confirm who you are: the provider could not be reached",
    );
    // No answer is not a refusal of the code (that page is `a_replayed_code_is_refused`'s).
    assert!(!reply.text().contains("did not accept the sign-in code"));
    assert!(!reply.text().contains(&nowhere), "no address in the page");
}

async fn tokens_that_are_not_the_issuers_for_this_sign_in_are_refused(store: Store) {
    let setup = setup(store).await;
    for (mint, says) in [
        (Mint::ForgedSignature, "signature is not the provider"),
        (Mint::OtherIssuer, "from another issuer"),
        (Mint::OtherAudience, "for another client"),
        (Mint::OtherNonce, "not made for this sign-in"),
        (Mint::Expired, "has expired"),
    ] {
        setup.fake.mint(mint.clone());
        let reply = sign_in(&setup.app).await;
        assert_refused(&reply, StatusCode::FORBIDDEN, says);
        assert!(
            records(&setup)
                .await
                .as_object()
                .is_none_or(|r| r.is_empty()),
            "{mint:?} recorded someone"
        );
    }
    // A token whose key is neither published now nor after fetching the keys again.
    setup.fake.mint(Mint::SecondKey);
    let reply = sign_in(&setup.app).await;
    assert_refused(
        &reply,
        StatusCode::FORBIDDEN,
        "signature is not the provider",
    );
}

async fn a_key_published_later_is_fetched_once_and_accepted(store: Store) {
    let setup = setup(store).await;
    assert_eq!(setup.fake.jwks_fetches(), 1, "fetched at discovery");
    setup.fake.publish_second_key();
    setup.fake.mint(Mint::SecondKey);
    let reply = sign_in(&setup.app).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(
        setup.fake.jwks_fetches(),
        2,
        "fetched again for the new key"
    );
    // Known now: no more fetching.
    sign_in(&setup.app).await;
    assert_eq!(setup.fake.jwks_fetches(), 2);
}

async fn names_that_are_no_username_or_held_by_another_account_are_refused(store: Store) {
    let setup = setup_on(
        TestApp::builder(store).home(common::home_with_users()),
        "oidc",
        |_| {},
    )
    .await;
    let fake = &setup.fake;
    for bad in ["not a valid name!", "", "default", "-dash", &"x".repeat(65)] {
        fake.sign_in_as(Person::new("sub-x", bad, &["staff"]));
        let reply = sign_in(&setup.app).await;
        assert_refused(
            &reply,
            StatusCode::FORBIDDEN,
            "cannot be used as a username",
        );
    }
    // A password account's name, in any case.
    fake.sign_in_as(Person::new("sub-bob", "BOB", &["staff"]));
    let reply = sign_in(&setup.app).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "belongs to another account");
    // Another person of the issuer who takes a recorded name.
    fake.sign_in_as(Person::new("sub-carol", "carol", &["staff"]));
    assert_eq!(sign_in(&setup.app).await.status, StatusCode::SEE_OTHER);
    fake.sign_in_as(Person::new("sub-impostor", "Carol", &["staff"]));
    let reply = sign_in(&setup.app).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "belongs to another account");
    assert_eq!(records(&setup).await["carol"]["subject"], "sub-carol");
}

async fn groups_decide_who_enters_and_locks_and_deletes_end_sessions(store: Store) {
    let setup = setup_on(
        TestApp::builder(store).home(common::home_with_users()),
        "credentials,oidc",
        |s| s.allowed_groups = vec!["staff".into()],
    )
    .await;
    let (app, fake) = (&setup.app, &setup.fake);
    fake.sign_in_as(Person::new("sub-dan", "dan", &["contractors"]));
    let reply = sign_in(app).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "not in a group allowed");
    fake.sign_in_as(Person::new("sub-erin", "erin", &["staff"]));
    let erin = sign_in(app).await.session_cookie().unwrap();
    assert!(app.is_signed_in(&erin).await);
    // Manage Users lists her with the provider's badge and locks her: her session ends.
    let admin = app.sign_in("admin", "pw-admin").await;
    let listed = app.get("/admin/users", Some(&admin)).await.json();
    let row = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userName"] == "erin")
        .unwrap()
        .clone();
    assert_eq!(row["provider"], "oidc");
    let page = app.page("/admin", Some(&admin)).await.text();
    assert!(page.contains("Test IdP"), "the badge");
    let lock = json!({ "userName": "erin", "provider": "oidc", "locked": "Left" });
    let reply = app
        .json(axum::http::Method::PUT, "/admin/users", Some(&admin), lock)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!app.is_signed_in(&erin).await);
    let reply = sign_in(app).await;
    assert_refused(
        &reply,
        StatusCode::FORBIDDEN,
        "Your account is locked: Left",
    );
    let unlock = json!({ "userName": "erin", "provider": "oidc", "locked": false });
    app.json(
        axum::http::Method::PUT,
        "/admin/users",
        Some(&admin),
        unlock,
    )
    .await;
    let erin = sign_in(app).await.session_cookie().unwrap();
    let reply = app
        .send(
            common::request(
                axum::http::Method::DELETE,
                "/admin/users/erin?provider=oidc",
                Some(&admin),
            )
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!app.is_signed_in(&erin).await);
}

async fn password_and_single_sign_on_side_by_side(store: Store) {
    let setup = setup_on(
        TestApp::builder(store).home(common::home_with_users()),
        "credentials,oidc",
        |_| {},
    )
    .await;
    let app = &setup.app;
    let config = app.get("/config", None).await.json();
    assert_eq!(config["authProvider"], "credentials");
    assert_eq!(config["authProviders"], json!(["credentials", "oidc"]));
    let page = app.page("/login", None).await.text();
    assert!(page.contains("id=\"sign-in-form\""), "the password form");
    assert!(page.contains("data-testid=\"oidc-sign-in\""), "the button");
    assert!(page.contains("Sign in with Test IdP"));
    // Both kinds sign in, each vouched for by its own provider.
    let bob = app.sign_in("bob", "pw-bob").await;
    assert_eq!(app.get("/auth", Some(&bob)).await.json()["userName"], "bob");
    setup
        .fake
        .sign_in_as(Person::new("sub-olivia", "olivia", &["staff"]));
    let olivia = sign_in(app).await.session_cookie().unwrap();
    let me = app.get("/auth", Some(&olivia)).await.json();
    assert_eq!(me["userName"], "olivia");
    // A password account's session is not the single sign-on's, and the other way round.
    assert_eq!(app.get("/auth", Some(&bob)).await.json()["userName"], "bob");
}

/// `llms --auth credentials,oidc --serve 0` with these settings: its exit status and error.
fn start_refused(envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let home = common::Home::new();
    let mut cmd = home.llms();
    cmd.args(["--auth", "credentials,oidc", "--serve", "0"]);
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let out = common::run_bounded(cmd);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_server_does_not_start_without_its_settings_or_its_issuer() {
    let (code, err) = start_refused(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
        "{err}"
    );
    // An issuer where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (code, err) = start_refused(&[
        ("OIDC_ISSUER", &issuer),
        ("OIDC_CLIENT_ID", "llms"),
        ("OIDC_CLIENT_SECRET", "secret"),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot read the OpenID Connect discovery document") && err.contains(&issuer),
        "{err}"
    );
    assert!(
        !err.contains("secret\n") && !err.contains("=secret"),
        "{err}"
    );
}

/// The real issuer's sign-ins: `login` through its pages, then back to the app.
async fn real_sign_in(app: &TestApp, issuer: &common::oidc::OidcIssuer, login: &str) -> Reply {
    let (cookie, url) = begin(app).await;
    let client = common::oidc::cookie_client();
    let back = issuer.sign_in_through(&client, &url, login).await;
    let path = back
        .strip_prefix("http://llms.test")
        .expect("back to the redirect URI");
    callback(app, path, Some(&cookie)).await
}

#[tokio::test]
async fn a_real_issuer_signs_people_in_by_their_groups() {
    let Some(issuer) = common::oidc::OidcIssuer::start(CLIENT_ID, CLIENT_SECRET, &[REDIRECT_URI])
    else {
        return;
    };
    let mut settings = OidcConfig::new(&issuer.issuer, CLIENT_ID, CLIENT_SECRET);
    settings.redirect_uri = Some(REDIRECT_URI.into());
    settings.allowed_groups = vec!["staff".into()];
    settings.admin_groups = vec!["llms-admins".into()];
    let home = common::Home::new();
    home.write_users(&[("admin", "pw-admin", &["Admin"])]);
    let app = TestApp::builder(Store::Files)
        .home(home)
        .config(|c| c.auth = "credentials,oidc".into())
        .provider(Arc::new(OidcProvider::new(settings)))
        .build()
        .await;

    let reply = real_sign_in(&app, &issuer, "alice").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let alice = reply.session_cookie().unwrap();
    let me = app.get("/auth", Some(&alice)).await.json();
    assert_eq!(
        (me["userName"].clone(), me["roles"].clone()),
        (json!("alice"), json!(["Admin"]))
    );
    let reply = real_sign_in(&app, &issuer, "bob").await;
    let bob = reply.session_cookie().expect("bob signs in");
    assert_eq!(
        app.get("/auth", Some(&bob)).await.json()["roles"],
        json!([])
    );
    // Refused, each with a page and no session: in no allowed group; a name that is no
    // username; a name a password account holds.
    let reply = real_sign_in(&app, &issuer, "carol").await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "not in a group allowed");
    let reply = real_sign_in(&app, &issuer, "mallory").await;
    assert_refused(
        &reply,
        StatusCode::FORBIDDEN,
        "cannot be used as a username",
    );
    let reply = real_sign_in(&app, &issuer, "taken").await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "belongs to another account");
    let recorded = app.stored_document("oidc", "oidc/users.json").await;
    let names: Vec<&String> = recorded.as_object().unwrap().keys().collect();
    assert_eq!(names, ["alice", "bob"]);
}

async fn one_namespace_across_github_single_sign_on_and_passwords(store: Store) {
    use common::fake_github::{self, FakeGithub};
    use llms_auth::providers::github_auth::GithubAuthProvider;
    let github = FakeGithub::start().await;
    let builder = TestApp::builder(store)
        .home(common::home_with_users())
        .provider(Arc::new(GithubAuthProvider::new(fake_github::settings(
            &github,
        ))));
    let setup = setup_on(builder, "credentials,github_auth,oidc", |_| {}).await;
    let app = &setup.app;
    // Olivia signs in through the single sign-on first.
    setup
        .fake
        .sign_in_as(Person::new("sub-olivia", "olivia", &["staff"]));
    assert_eq!(sign_in(app).await.status, StatusCode::SEE_OTHER);
    // A GitHub account of the same name (in another case) is refused, never merged.
    github.sign_in_next_as("Olivia", 4242);
    let start = app.page("/auth/github", None).await;
    let state = start.cookie("llms-github-state").unwrap();
    let back = github.authorize(start.location()).await;
    let path = back.strip_prefix("http://llms.test").unwrap();
    let reply = app.page(path, Some(&state)).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "belongs to another account");
    // And the other way: a GitHub account first, then the single sign-on of that name.
    github.sign_in_next_as("gina", 4343);
    let start = app.page("/auth/github", None).await;
    let state = start.cookie("llms-github-state").unwrap();
    let back = github.authorize(start.location()).await;
    let path = back.strip_prefix("http://llms.test").unwrap();
    assert_eq!(
        app.page(path, Some(&state)).await.status,
        StatusCode::SEE_OTHER
    );
    setup
        .fake
        .sign_in_as(Person::new("sub-gina", "gina", &["staff"]));
    let reply = sign_in(app).await;
    assert_refused(&reply, StatusCode::FORBIDDEN, "belongs to another account");
    // An Admin cannot make a password account of a name the single sign-on holds.
    let admin = app.sign_in("admin", "pw-admin").await;
    let carol = json!({ "userName": "OLIVIA", "password": "long-enough-pw" });
    let reply = app
        .json(
            axum::http::Method::POST,
            "/admin/users",
            Some(&admin),
            carol,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(
        reply.message().contains("already exists"),
        "{}",
        reply.text()
    );
}
