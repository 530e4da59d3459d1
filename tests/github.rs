//! Sign in with GitHub, end to end against a fake GitHub that the test serves itself on
//! 127.0.0.1:0 (authorize page, token endpoint, `GET /user`). The app runs in-process on
//! the shared harness ([`common::TestApp`]), once per store; one test runs the real `llms`
//! binary.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use common::fake_github::{settings, FakeGithub, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI};
use common::{cookie_pair, request, AppBuilder, Home, Reply, Store, TestApp};
use llms_auth::providers::github_auth::{self, GithubAuthProvider, GithubConfig};
use llms_auth::users::User;
use serde_json::{json, Value};

/// The GitHub records' file under the home.
const RECORDS_FILE: &str = "github_auth/users.json";

store_suite!(
    full_flow_signs_in_with_a_state_bound_to_the_browser,
    sign_in_page_offers_the_github_button_and_no_password_form,
    wrong_or_missing_state_is_refused,
    restrict_to_matches_logins_in_any_case_and_numeric_ids,
    a_login_made_of_digits_is_never_taken_for_an_id,
    github_errors_give_a_clear_page_and_no_session,
    a_redirect_from_the_token_endpoint_is_not_followed,
    next_stays_on_this_site,
    unusable_logins_are_refused,
    record_changes_take_effect_on_the_next_request,
    a_session_of_another_provider_is_not_accepted,
    admins_setting_and_admin_listing_with_providers,
    signing_in_again_replaces_the_previous_session,
    manage_users_lists_github_users_with_a_badge_and_no_change_password,
    locking_unlocking_and_deleting_a_github_user_through_the_api,
    roles_of_a_github_user_are_set_through_the_api,
    github_users_are_guarded_like_store_users,
    store_users_are_managed_as_before_next_to_github_users,
    behind_an_https_proxy_the_cookies_are_secure_and_host_prefixed,
    admin_actions_reach_only_the_account_of_the_provider_named,
    usernames_are_one_namespace_across_providers,
);

// ---------------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------------

/// The app with `github_auth` selected and pointed at its own fake GitHub.
struct Setup {
    app: TestApp,
    fake: FakeGithub,
}

/// Builds `builder` with `github_auth` selected (alone, unless the builder lists it with
/// others), its settings (changed by `tweak`) pointing at a fresh fake GitHub.
async fn setup_on(builder: AppBuilder, tweak: impl FnOnce(&mut GithubConfig)) -> Setup {
    let fake = FakeGithub::start().await;
    let mut settings = settings(&fake);
    tweak(&mut settings);
    let app = builder
        .config(|c| {
            if !c.provider_names().contains(&"github_auth") {
                c.auth = "github_auth".into();
            }
        })
        .provider(Arc::new(GithubAuthProvider::new(settings)))
        .build()
        .await;
    Setup { app, fake }
}

async fn setup_with(store: Store, tweak: impl FnOnce(&mut GithubConfig)) -> Setup {
    setup_on(TestApp::builder(store), tweak).await
}

async fn setup(store: Store) -> Setup {
    setup_with(store, |_| {}).await
}

/// A home whose user store holds the credentials account `carol` (no roles, a placeholder
/// hash), as the store itself writes it.
fn home_with_carol() -> Home {
    let home = Home::new();
    let carol = User::new("x:y".into(), vec![]);
    home.write_users_json(&json!({ "carol": serde_json::to_value(carol).unwrap() }));
    home
}

impl Setup {
    /// `GET /auth/github?next=..`: returns the authorize URL, the state it carries and the
    /// state cookie pair.
    async fn start(&self, next: Option<&str>) -> (String, String, String) {
        let path = match next {
            Some(next) => format!(
                "/auth/github?next={}",
                llms_auth::request::paths::url_encode(next)
            ),
            None => "/auth/github".to_owned(),
        };
        let answer = self.app.page(&path, None).await;
        assert!(answer.status.is_redirection(), "{}", answer.status);
        let location = answer.location().to_owned();
        let url = reqwest::Url::parse(&location).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("state param");
        let cookie = answer.cookie("llms-github-state").expect("state cookie");
        (location, state, cookie)
    }

    /// The whole browser round trip; returns the callback's answer.
    async fn round_trip(&self, next: Option<&str>) -> Reply {
        let (location, _, state_cookie) = self.start(next).await;
        let back = self.fake.authorize(&location).await;
        let callback = back.strip_prefix("http://llms.test").expect("our callback");
        self.app.page(callback, Some(&state_cookie)).await
    }

    /// Signs in as `login` and returns the session cookie pair.
    async fn sign_in_as(&self, login: &str, id: u64) -> String {
        self.fake.sign_in_next_as(login, id);
        let answer = self.round_trip(None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
        answer.cookie("llms-token").expect("session cookie")
    }

    /// The GitHub records as stored (the file, or the database's document).
    async fn records(&self) -> Value {
        self.app
            .stored_document(github_auth::NAME, RECORDS_FILE)
            .await
    }

    /// Changes the records as another program (or another instance) would, and waits as
    /// long as the app is given to see it.
    async fn edit_records(&self, change: impl FnOnce(&mut Value)) {
        let mut records = self.records().await;
        change(&mut records);
        self.app
            .write_document_elsewhere(github_auth::NAME, RECORDS_FILE, &records)
            .await;
    }

    /// Every record of the audit log as `(event, actor, target, detail)`, oldest first.
    fn audit(&self) -> Vec<(String, String, String, Option<String>)> {
        self.app
            .audit()
            .into_iter()
            .map(|r| (r.event.as_str().to_owned(), r.actor, r.target, r.detail))
            .collect()
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn assert_refused(answer: &Reply, status: StatusCode, text: &str) {
    let body = answer.text();
    assert_eq!(answer.status, status, "{body}");
    assert!(body.contains(text), "page should say {text:?}: {body}");
    assert!(body.contains("<html"), "a page, not a bare error: {body}");
    assert!(
        answer.cookie("llms-token").is_none(),
        "no session on refusal"
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

async fn full_flow_signs_in_with_a_state_bound_to_the_browser(store: Store) {
    let s = setup(store).await;
    let config = s.app.get("/config", None).await.json();
    assert_eq!(config["authProvider"], "github_auth");
    assert_eq!(config["requiresAuth"], true);

    // Start: a redirect to the authorize page carrying a fresh state, which the browser
    // also keeps in a short-lived HttpOnly cookie.
    let answer = s.app.page("/auth/github?next=/account", None).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let location = answer.location().to_owned();
    let params = query_of(&location);
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(params["scope"], "read:user");
    let state = &params["state"];
    assert_eq!(state.len(), 43, "32 random bytes");
    answer.assert_hides(CLIENT_SECRET);
    let set = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("llms-github-state="))
        .expect("state cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth/github",
        "Max-Age=600",
    ] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(set.contains(state.as_str()), "the cookie holds the state");
    let state_cookie = answer.cookie("llms-github-state").unwrap();
    // Two starts draw two different states.
    let (_, other_state, _) = s.start(None).await;
    assert_ne!(&other_state, state);

    // GitHub sends the browser back; the callback exchanges the code and starts a session.
    let back = s.fake.authorize(&location).await;
    let callback = back.strip_prefix("http://llms.test").unwrap();
    let answer = s.app.page(callback, Some(&state_cookie)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    assert_eq!(answer.location(), "/account");
    let token = answer.cookie("llms-token").expect("session cookie");
    let set = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("llms-token="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(
        answer
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("llms-github-state=;") && c.contains("Max-Age=0")),
        "the state cookie is cleared: {:?}",
        answer.set_cookies()
    );
    assert!(!answer
        .location()
        .contains(token.trim_start_matches("llms-token=")));
    answer.assert_hides(&format!("gho_faketoken_{}", query_of(&back)["code"]));

    // The token request: POST with Accept: application/json and the app's credentials.
    let requests = s.fake.token_requests();
    assert_eq!(requests.len(), 1);
    let (accept, form) = &requests[0];
    assert_eq!(accept, "application/json");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert!(s.fake.user_requests()[0].starts_with("Bearer gho_faketoken_"));

    // The session is an ordinary one.
    let me = s.app.get("/auth", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["userName"], "alice");
    assert_eq!(me["authProvider"], "github_auth");
    assert_eq!(me["roles"], json!([]), "no roles by default");
    let home = s.app.page("/", Some(&token)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text().contains("alice"));

    // The admitted user is recorded.
    let records = s.records().await;
    let alice = &records["alice"];
    assert_eq!(alice["id"], 1001);
    assert_eq!(alice["login"], "alice");
    assert_eq!(alice["lastIp"], "127.0.0.1");
    assert!(alice["lastLogin"].as_f64().unwrap() > 0.0);
    assert!(alice["created"].as_f64().unwrap() > 0.0);

    // Signing out ends it.
    let logout = request(Method::POST, "/auth/logout", Some(&token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(s.app.send(logout).await.status, StatusCode::OK);
    assert_eq!(
        s.app.get("/auth", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn sign_in_page_offers_the_github_button_and_no_password_form(store: Store) {
    let s = setup(store).await;
    let page = s.app.page("/login?next=/admin", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("Sign in with GitHub"),
        "{}",
        page.text()
    );
    assert!(
        page.text().contains(r#"href="/auth/github?next=/admin""#),
        "{}",
        page.text()
    );
    assert!(
        !page.text().contains(r#"type="password""#),
        "{}",
        page.text()
    );
    // Protected pages send anonymous visitors to that page.
    let admin = s.app.page("/admin", None).await;
    assert!(admin.status.is_redirection());
    assert_eq!(admin.location(), "/login?next=/admin");
    // The password endpoint is not there for this provider.
    let response = s.app.login("alice", "x").await;
    assert_ne!(response.status, StatusCode::OK);
    let sets_session = response
        .set_cookies()
        .iter()
        .any(|v| v.starts_with("llms-token="));
    assert!(!sets_session, "no session from a password");
}

async fn wrong_or_missing_state_is_refused(store: Store) {
    let s = setup(store).await;
    let (location, state, cookie) = s.start(None).await;
    let back = s.fake.authorize(&location).await;
    let code = query_of(&back)["code"].clone();

    // A state from another browser's flow (the attacker's own, say).
    let (_, attackers_state, _) = s.start(None).await;
    let forged = format!("/auth/github/callback?code={code}&state={attackers_state}");
    assert_refused(
        &s.app.page(&forged, Some(&cookie)).await,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    // The right state but no cookie (a link opened in another browser).
    let no_cookie = format!("/auth/github/callback?code={code}&state={state}");
    assert_refused(
        &s.app.page(&no_cookie, None).await,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    // A cookie that was tampered with.
    let value = &cookie["llms-github-state=".len()..];
    let flipped = if value.starts_with('x') { 'y' } else { 'x' };
    let tampered = format!("llms-github-state={flipped}{}", &value[1..]);
    assert_refused(
        &s.app.page(&no_cookie, Some(&tampered)).await,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    // No state or no code at all.
    assert_refused(
        &s.app
            .page(&format!("/auth/github/callback?code={code}"), Some(&cookie))
            .await,
        StatusCode::BAD_REQUEST,
        "lacks the code or the state",
    );
    assert_refused(
        &s.app
            .page(
                &format!("/auth/github/callback?state={state}"),
                Some(&cookie),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "lacks the code or the state",
    );
    // The visitor declined on GitHub.
    let declined = s
        .app
        .page(
            &format!("/auth/github/callback?error=access_denied&state={state}"),
            Some(&cookie),
        )
        .await;
    assert_refused(&declined, StatusCode::FORBIDDEN, "access_denied");
    // None of these reached GitHub's token endpoint.
    assert!(s.fake.token_requests().is_empty());
    assert_eq!(s.records().await, json!({}), "nobody was recorded");
    // The genuine callback still works, once.
    let answer = s.app.page(&no_cookie, Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    assert!(answer.cookie("llms-token").is_some());
}

/// The review's finding: with `"restrict_to": "alice, 583231"` and `"admins": "583231"`
/// meant as an id, the GitHub account whose login is `583231` got in as Admin. Entries are
/// logins; an id is named only as `id:583231`.
async fn a_login_made_of_digits_is_never_taken_for_an_id(store: Store) {
    let s = setup_with(store, |settings| {
        settings.restrict_to = vec!["alice".into(), "id:583231".into()];
        settings.admins = vec!["id:583231".into()];
    })
    .await;
    // The squatter: a login made of the id's digits, with an id of its own.
    s.fake.sign_in_next_as("583231", 999_999);
    let refused = s.round_trip(None).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "not allowed to sign in");
    assert_eq!(s.records().await, json!({}), "nobody recorded");
    // The account the id names gets in, as an Admin, whatever its login.
    let octocat = s.sign_in_as("octocat", 583231).await;
    let me = s.app.get("/auth", Some(&octocat)).await.json();
    assert_eq!(me["userName"], "octocat");
    assert_eq!(me["roles"], json!(["Admin"]));
    // A bare number is a login: it admits (and, in admins, makes an Admin of) the account
    // with that login, never the account with that id.
    let s = setup_with(store, |settings| {
        settings.restrict_to = vec!["583231".into()];
        settings.admins = vec!["583231".into()];
    })
    .await;
    s.fake.sign_in_next_as("octocat", 583231);
    let refused = s.round_trip(None).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "not allowed to sign in");
    let digits = s.sign_in_as("583231", 999_999).await;
    assert_eq!(
        s.app.get("/auth", Some(&digits)).await.json()["roles"],
        json!(["Admin"]),
        "the login the entry names"
    );
}

async fn restrict_to_matches_logins_in_any_case_and_numeric_ids(store: Store) {
    let s = setup_with(store, |settings| {
        settings.restrict_to = vec!["ALICE".into(), "id:4242".into()];
    })
    .await;
    // Case-insensitive login match.
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.json()["userName"],
        "alice"
    );
    // Numeric id match (`id:4242`), whatever the login.
    let bob = s.sign_in_as("bob-renamed", 4242).await;
    assert_eq!(
        s.app.get("/auth", Some(&bob)).await.json()["userName"],
        "bob-renamed"
    );
    // Anyone else is refused with a clear page and not recorded.
    s.fake.sign_in_next_as("mallory", 666);
    let refused = s.round_trip(None).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "not allowed to sign in");
    assert!(refused.text().contains("mallory"));
    assert!(s.records().await.get("mallory").is_none());
    // Both outcomes are in the audit log, without any secret.
    let audit = s.app.audit();
    let events: Vec<(String, String)> = audit[audit.len().saturating_sub(10)..]
        .iter()
        .cloned()
        .map(|r| {
            (
                serde_json::to_value(r.event)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r.target,
            )
        })
        .collect();
    assert!(
        events.contains(&("sign_in".into(), "alice".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&("sign_in_failed".into(), "mallory".into())),
        "{events:?}"
    );
    let log = s.app.audit_text();
    assert!(
        !log.contains(CLIENT_SECRET) && !log.contains("gho_"),
        "{log}"
    );
}

async fn github_errors_give_a_clear_page_and_no_session(store: Store) {
    let s = setup(store).await;
    for (code, says) in [
        ("bad-code", "bad_verification_code"),
        ("server-error", "status 500"),
        ("not-json", "not JSON"),
        ("api-error", "status 401"),
    ] {
        let (_, state, cookie) = s.start(None).await;
        let answer = s
            .app
            .page(
                &format!("/auth/github/callback?code={code}&state={state}"),
                Some(&cookie),
            )
            .await;
        assert_refused(&answer, StatusCode::BAD_GATEWAY, says);
        answer.assert_hides(CLIENT_SECRET);
        answer.assert_hides("gho_faketoken");
    }
    assert_eq!(s.records().await, json!({}));
}

async fn a_redirect_from_the_token_endpoint_is_not_followed(store: Store) {
    let s = setup(store).await;
    let (_, state, cookie) = s.start(None).await;
    let answer = s
        .app
        .page(
            &format!("/auth/github/callback?code=redirect-me&state={state}"),
            Some(&cookie),
        )
        .await;
    assert_refused(&answer, StatusCode::BAD_GATEWAY, "status 307");
    assert_eq!(
        s.fake.stolen(),
        0,
        "the client secret was not re-posted elsewhere"
    );
}

async fn next_stays_on_this_site(store: Store) {
    let s = setup(store).await;
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let answer = s.round_trip(Some(evil)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
        assert_eq!(answer.location(), "/", "next={evil}");
    }
    let answer = s.round_trip(Some("/account?tab=1")).await;
    assert_eq!(answer.location(), "/account?tab=1");
}

async fn unusable_logins_are_refused(store: Store) {
    let s = setup(store).await;
    s.fake.sign_in_next_as("-leading-hyphen", 5);
    assert_refused(
        &s.round_trip(None).await,
        StatusCode::FORBIDDEN,
        "cannot be used as a username",
    );
}

async fn record_changes_take_effect_on_the_next_request(store: Store) {
    let s = setup(store).await;
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.status,
        StatusCode::OK
    );

    // Locked in the record: the session ends at once, and signing in again is refused.
    s.edit_records(|r| r["alice"]["locked"] = json!("Left the team"))
        .await;
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.status,
        StatusCode::UNAUTHORIZED
    );
    s.fake.sign_in_next_as("alice", 1001);
    assert_refused(
        &s.round_trip(None).await,
        StatusCode::FORBIDDEN,
        "Left the team",
    );

    // Unlocked: in again. Removed: out again.
    s.edit_records(|r| {
        r["alice"].as_object_mut().unwrap().remove("locked");
    })
    .await;
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.status,
        StatusCode::OK
    );
    s.edit_records(|r| {
        r.as_object_mut().unwrap().remove("alice");
    })
    .await;
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A role granted in the record applies at once.
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.app.get("/admin/users", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
    s.edit_records(|r| r["alice"]["roles"] = json!(["Admin"]))
        .await;
    assert_eq!(
        s.app.get("/admin/users", Some(&alice)).await.status,
        StatusCode::OK
    );
}

async fn a_session_of_another_provider_is_not_accepted(store: Store) {
    let s = setup(store).await;
    // A session the credentials provider started, in the session store's own format.
    let cookie = s.app.forge_session("alice", "credentials").await;
    assert_eq!(
        s.app.get("/auth", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Not even once alice is a recorded GitHub user; a session of this provider, written
    // the same way, is accepted (so the refusal is the provider's, not the file's).
    s.sign_in_as("alice", 1001).await;
    let cookie = s.app.forge_session("alice", "credentials").await;
    assert_eq!(
        s.app.get("/auth", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let github = s.app.forge_session("alice", "github_auth").await;
    assert_eq!(
        s.app.get("/auth", Some(&github)).await.status,
        StatusCode::OK
    );
}

async fn admins_setting_and_admin_listing_with_providers(store: Store) {
    // A credentials account in the user store, listed next to the GitHub users.
    let builder = TestApp::builder(store).home(home_with_carol());
    let s = setup_on(builder, |settings| settings.admins = vec!["Alice".into()]).await;
    let bob = s.sign_in_as("bob", 2002).await;
    let alice = s.sign_in_as("alice", 1001).await;
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.json()["roles"],
        json!(["Admin"])
    );
    assert_eq!(
        s.app.get("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );

    let listing = s.app.get("/admin/users", Some(&alice)).await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.text());
    let users = listing.json()["users"].as_array().unwrap().clone();
    let find = |name: &str| {
        users
            .iter()
            .find(|u| u["userName"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {users:?}"))
            .clone()
    };
    assert_eq!(find("carol")["provider"], "credentials");
    let listed_alice = find("alice");
    assert_eq!(listed_alice["provider"], "github_auth");
    assert_eq!(listed_alice["roles"], json!(["Admin"]));
    assert_eq!(listed_alice["lastIp"], "127.0.0.1");
    assert_eq!(find("bob")["provider"], "github_auth");
    assert_eq!(find("bob")["roles"], json!([]));
    listing.assert_hides(CLIENT_SECRET);
    listing.assert_hides("gho_faketoken");
    listing.assert_hides(alice.trim_start_matches("llms-token="));
}

async fn signing_in_again_replaces_the_previous_session(store: Store) {
    let s = setup(store).await;
    let first = s.sign_in_as("alice", 1001).await;
    let (location, _, state_cookie) = s.start(None).await;
    let back = s.fake.authorize(&location).await;
    let callback = back.strip_prefix("http://llms.test").unwrap();
    let answer = s
        .app
        .page(callback, Some(&format!("{state_cookie}; {first}")))
        .await;
    let second = answer.cookie("llms-token").expect("new session");
    assert_ne!(first, second);
    assert_eq!(
        s.app.get("/auth", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.app.get("/auth", Some(&second)).await.status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------
// Managing GitHub users from Manage Users
// ---------------------------------------------------------------------------------------

/// A setup where `alice` (1001) is an Admin through the `admins` setting and the user store
/// holds the credentials account `carol`; returns it with alice's and bob's (2002) sessions.
async fn managed(store: Store) -> (Setup, String, String) {
    let builder = TestApp::builder(store).home(home_with_carol());
    let s = setup_on(builder, |settings| settings.admins = vec!["alice".into()]).await;
    let bob = s.sign_in_as("bob", 2002).await;
    let alice = s.sign_in_as("alice", 1001).await;
    (s, alice, bob)
}

/// The `<tr>` of `name` in a users table.
fn table_row<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-user=\"{name}\""))
        .unwrap_or_else(|| panic!("no row for {name}: {html}"));
    let end = start + html[start..].find("</tr>").expect("row end");
    &html[start..end]
}

/// The message of a `responseStatus` error body, after checking the status.
fn refusal(answer: &Reply, status: StatusCode) -> String {
    assert_eq!(answer.status, status, "{}", answer.text());
    answer.json()["responseStatus"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {}", answer.text()))
        .to_owned()
}

impl Setup {
    async fn put_user(&self, cookie: &str, body: Value) -> Reply {
        self.app
            .json(Method::PUT, "/admin/users", Some(cookie), body)
            .await
    }

    /// `PUT /admin/users` on the GitHub account the body names.
    async fn put_github(&self, cookie: &str, mut body: Value) -> Reply {
        body["provider"] = json!("github_auth");
        self.put_user(cookie, body).await
    }

    /// `DELETE /admin/users/{name}?provider=github_auth`.
    async fn delete_github(&self, cookie: &str, name: &str) -> Reply {
        self.delete_user(cookie, &format!("{name}?provider=github_auth"))
            .await
    }

    /// `DELETE /admin/users/{name}` (`name` may carry a query).
    async fn delete_user(&self, cookie: &str, name: &str) -> Reply {
        let (name, query) = name.split_once('?').unwrap_or((name, ""));
        let path = format!(
            "/admin/users/{}{}{query}",
            llms_auth::request::paths::url_encode(name),
            if query.is_empty() { "" } else { "?" }
        );
        let delete = request(Method::DELETE, &path, Some(cookie))
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .unwrap();
        self.app.send(delete).await
    }

    /// Whether the session of this cookie pair is still in the session store, without
    /// making a request as its user: its file (named by the SHA-256 of the token) is on
    /// disk. The store ends a session by removing the file and the cached entry together,
    /// and a lookup checks the disk, so the file is the truth.
    async fn session_alive(&self, cookie: &str) -> bool {
        let token = cookie
            .strip_prefix("llms-token=")
            .expect("a session cookie");
        self.app.stored_session(token).await.is_some()
    }
}

async fn manage_users_lists_github_users_with_a_badge_and_no_change_password(store: Store) {
    let (s, alice, _bob) = managed(store).await;
    s.edit_records(|r| r["bob"]["locked"] = json!("Spam <b>"))
        .await;

    for path in ["/admin", "/admin/table"] {
        let page = s.app.page(path, Some(&alice)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        let bob = table_row(&html, "bob");
        assert!(
            bob.contains("data-testid=\"provider-badge\">GitHub<"),
            "{bob}"
        );
        assert!(bob.contains("data-testid=\"status-locked\""));
        assert!(bob.contains("Spam &lt;b&gt;"));
        assert!(bob.contains("data-action=\"unlock\""));
        assert!(bob.contains("data-action=\"delete\""));
        assert!(!bob.contains("data-action=\"password\""));

        // The signed-in GitHub admin: no change to yourself, only where you are signed in.
        let me = table_row(&html, "alice");
        assert!(me.contains("provider-badge") && me.contains("badge-you"));
        assert!(me.contains("badge-admin"));
        assert_eq!(me.matches("data-action=").count(), 1, "{me}");
        assert!(me.contains("data-action=\"sessions\""), "{me}");

        // The user store's account, as before.
        let carol = table_row(&html, "carol");
        assert!(!carol.contains("provider-badge"));
        assert!(carol.contains("data-action=\"password\""));
        assert!(carol.contains("data-action=\"lock\""));
    }
    let fragment = s.app.page("/admin/table", Some(&alice)).await;
    assert!(!fragment.text().contains("<html"), "a fragment, not a page");
}

async fn locking_unlocking_and_deleting_a_github_user_through_the_api(store: Store) {
    let (s, alice, bob) = managed(store).await;
    assert_eq!(s.app.get("/auth", Some(&bob)).await.status, StatusCode::OK);

    // Lock: recorded, and bob's session ends (it is removed, not merely refused).
    let answer = s
        .put_github(&alice, json!({"userName": "bob", "locked": "Spam"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"success": true, "userName": "bob"}));
    assert_eq!(s.records().await["bob"]["locked"], "Spam");
    assert_eq!(
        s.records().await["bob"]["id"],
        2002,
        "the rest of the record stays"
    );
    assert!(!s.session_alive(&bob).await, "ended by the lock itself");
    assert_eq!(
        s.app.get("/auth", Some(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let table = s.app.page("/admin/table", Some(&alice)).await.text();
    assert!(table_row(&table, "bob").contains("data-testid=\"status-locked\""));
    s.fake.sign_in_next_as("bob", 2002);
    assert_refused(&s.round_trip(None).await, StatusCode::FORBIDDEN, "Spam");

    // Unlock (as the page does): bob can sign in again, but the old session stays ended.
    let answer = s
        .put_github(&alice, json!({"userName": "bob", "locked": false}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(s.records().await["bob"].get("locked").is_none());
    assert_eq!(
        s.app.get("/auth", Some(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let bob = s.sign_in_as("bob", 2002).await;
    assert_eq!(s.app.get("/auth", Some(&bob)).await.status, StatusCode::OK);

    // Delete: the record goes and the session ends on the next request.
    let answer = s.delete_github(&alice, "bob").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(s.records().await.get("bob").is_none());
    assert!(!s.session_alive(&bob).await, "ended by the deletion itself");
    assert_eq!(
        s.app.get("/auth", Some(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let listing = s.app.get("/admin/users", Some(&alice)).await.json();
    assert!(!listing["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["userName"] == "bob"));
    assert!(!s
        .app
        .page("/admin/table", Some(&alice))
        .await
        .text()
        .contains("data-user=\"bob\""));
    let again = s.delete_github(&alice, "bob").await;
    assert_eq!(
        refusal(&again, StatusCode::NOT_FOUND),
        "User 'bob' not found"
    );

    // Every change is in the audit log, by alice on bob.
    let audit = s.audit();
    for (event, detail) in [
        ("user_locked", Some("Spam")),
        ("user_unlocked", None),
        ("user_deleted", None),
    ] {
        assert!(
            audit.iter().any(|(e, actor, target, d)| e == event
                && actor == "alice"
                && target == "bob"
                && d.as_deref() == detail),
            "{event} missing: {audit:?}"
        );
    }
    // The admin's own session was never touched.
    assert!(s.session_alive(&alice).await);
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.status,
        StatusCode::OK
    );
}

async fn roles_of_a_github_user_are_set_through_the_api(store: Store) {
    let (s, alice, bob) = managed(store).await;
    assert_eq!(
        s.app.get("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );
    let answer = s
        .put_github(&alice, json!({"userName": "bob", "roles": ["Admin"]}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(s.records().await["bob"]["roles"], json!(["Admin"]));
    // In effect on bob's next request, and bob is now an Admin nobody can lock.
    assert_eq!(
        s.app.get("/admin/users", Some(&bob)).await.status,
        StatusCode::OK
    );
    let lock = s
        .put_github(&alice, json!({"userName": "bob", "locked": true}))
        .await;
    assert_eq!(
        refusal(&lock, StatusCode::BAD_REQUEST),
        "Cannot lock an Admin user"
    );
    assert!(s.records().await["bob"].get("locked").is_none());
    assert!(s.audit().iter().any(|(e, _, t, d)| e == "roles_changed"
        && t == "bob"
        && d.as_deref() == Some("roles: Admin")));

    // Taken away again: bob loses access at once.
    let answer = s
        .put_github(&alice, json!({"userName": "bob", "roles": []}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        s.app.get("/admin/users", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn github_users_are_guarded_like_store_users(store: Store) {
    let (s, alice, bob) = managed(store).await;
    let dave = s.sign_in_as("dave", 4004).await;
    let before = s.records().await;
    let cases = [
        (
            json!({"userName": "alice", "locked": "x"}),
            StatusCode::BAD_REQUEST,
            "Cannot lock your own account",
        ),
        (
            json!({"userName": "alice", "roles": []}),
            StatusCode::BAD_REQUEST,
            "Cannot remove your own Admin role",
        ),
        (
            json!({"userName": "bob", "password": "new-secret-1"}),
            StatusCode::BAD_REQUEST,
            "GitHub users have no password here",
        ),
        (
            json!({"userName": "bob", "password": "new-secret-1", "locked": "x"}),
            StatusCode::BAD_REQUEST,
            "GitHub users have no password here",
        ),
        (
            json!({"userName": "nobody", "locked": "x"}),
            StatusCode::NOT_FOUND,
            "User 'nobody' not found",
        ),
    ];
    for (body, status, message) in cases {
        let answer = s.put_github(&alice, body.clone()).await;
        assert_eq!(refusal(&answer, status), message, "{body}");
    }
    let answer = s.delete_github(&alice, "alice").await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST),
        "Cannot delete your own account"
    );
    // Not an admin: no management at all.
    let answer = s
        .put_github(&bob, json!({"userName": "dave", "locked": "x"}))
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
    assert_eq!(
        s.delete_github(&bob, "dave").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.records().await, before, "nothing was written");
    for cookie in [&alice, &bob, &dave] {
        assert!(s.session_alive(cookie).await);
    }
    for cookie in [&alice, &bob, &dave] {
        assert_eq!(
            s.app.get("/auth", Some(cookie)).await.status,
            StatusCode::OK
        );
    }

    // An Admin through the `admins` setting cannot be locked, nor lose the role here, by
    // another admin either.
    let answer = s
        .put_github(&alice, json!({"userName": "dave", "roles": ["Admin"]}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    for body in [
        json!({"userName": "alice", "locked": "x"}),
        json!({"userName": "alice", "roles": []}),
    ] {
        let answer = s.put_github(&dave, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text()
        );
    }
    let answer = s
        .put_github(&dave, json!({"userName": "alice", "locked": "x"}))
        .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST),
        "Cannot lock an Admin user"
    );
    assert!(s.records().await["alice"].get("locked").is_none());
    assert_eq!(
        s.app.get("/auth", Some(&alice)).await.status,
        StatusCode::OK
    );
}

async fn store_users_are_managed_as_before_next_to_github_users(store: Store) {
    let (s, alice, _bob) = managed(store).await;
    let github_before = s.records().await;
    // carol as users.json holds her now.
    let carol = || serde_json::from_value::<User>(s.app.users_json()["carol"].clone()).unwrap();

    let answer = s
        .put_user(&alice, json!({"userName": "carol", "locked": "Away"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(carol().lock_reason(), Some("Away"));
    let answer = s
        .put_user(&alice, json!({"userName": "carol", "locked": false}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(carol().lock_reason(), None);

    // A password is still accepted for a store user.
    let answer = s
        .put_user(
            &alice,
            json!({"userName": "carol", "password": "new-secret-1"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_ne!(carol().password_hash, "x:y");

    let answer = s.delete_user(&alice, "carol").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(!s
        .app
        .users_json()
        .as_object()
        .expect("users.json holds an object")
        .contains_key("carol"));
    assert_eq!(s.records().await, github_before, "GitHub records untouched");
    assert!(s
        .audit()
        .iter()
        .any(|(e, _, t, _)| e == "password_changed" && t == "carol"));
}

// ---------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------

#[test]
fn selecting_github_auth_without_configuration_exits_1_naming_the_variables() {
    let home = common::Home::new();
    for selection in [&["--auth", "github_auth"][..], &["--serve", "0"][..]] {
        let mut cmd = home.llms();
        cmd.args(selection);
        if selection[0] == "--serve" {
            cmd.env("LLMS_AUTH", "github_auth");
        }
        let out = common::run_bounded(cmd);
        assert_eq!(out.status.code(), Some(1), "{selection:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for name in ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "config.json"] {
            assert!(stderr.contains(name), "{selection:?}: {stderr}");
        }
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Listening"));
    }
}

#[tokio::test]
async fn real_server_signs_in_with_github_from_environment_settings() {
    let fake = FakeGithub::start().await;
    fake.sign_in_next_as("Octo-Cat", 583231);
    let home = common::Home::new();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("stderr.log");
    let mut cmd = home.llms();
    cmd.args([
        "--auth",
        "github_auth",
        "--serve",
        "0",
        "--host",
        "127.0.0.1",
    ])
    .env("GITHUB_CLIENT_ID", CLIENT_ID)
    .env("GITHUB_CLIENT_SECRET", CLIENT_SECRET)
    .env("GITHUB_USERS", "octo-cat")
    .env("LLMS_GITHUB_OAUTH_URL", fake.oauth_url())
    .env("LLMS_GITHUB_API_URL", fake.api_url())
    .env("LLMS_LOG", "debug")
    .stderr(std::fs::File::create(&log_path).unwrap());
    let server = common::Server::launch(cmd);
    let client = common::http();
    // The Sign In page links to the start of the flow.
    let page = common::get_text(&server, "/login").await;
    assert!(page.contains("Sign in with GitHub"));
    let start = client
        .get(server.url("/auth/github?next=/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let state_cookie = cookie_pair(&start, "llms-github-state").expect("state cookie");
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    // No redirect_uri configured: GitHub uses the app's registered one; the fake needs one.
    assert!(!query_of(&location).contains_key("redirect_uri"));
    let location = format!(
        "{location}&redirect_uri={}",
        llms_auth::request::paths::url_encode(&server.url("/auth/github/callback"))
    );
    let back = fake.authorize(&location).await;
    let done = client
        .get(&back)
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/account");
    let session = common::session_cookie(&done).expect("session cookie");
    let me: Value = client
        .get(server.url("/auth"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "Octo-Cat");
    assert_eq!(me["authProvider"], "github_auth");
    // The same callback cannot be replayed without the (now cleared) cookie.
    let replay = client.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), 403);
    // A code GitHub refuses: logged as such, without secrets.
    let start = client.get(server.url("/auth/github")).send().await.unwrap();
    let state_cookie = cookie_pair(&start, "llms-github-state").unwrap();
    let state = query_of(start.headers()["location"].to_str().unwrap())["state"].clone();
    let refused = client
        .get(server.url(&format!(
            "/auth/github/callback?code=bad-code&state={state}"
        )))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 502);

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("signed in"), "{log}");
    assert!(log.contains("bad_verification_code"), "{log}");
    let token = session.trim_start_matches("llms-token=");
    for secret in [CLIENT_SECRET, "gho_faketoken", token] {
        assert!(!log.contains(secret), "the log shows a secret: {log}");
    }
}

/// `GET path` for a page, through a proxy that says the browser came over HTTPS.
fn https_page(path: &str, cookie: Option<&str>) -> axum::http::Request<Body> {
    request(Method::GET, path, cookie)
        .header(header::ACCEPT, "text/html")
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap()
}

async fn behind_an_https_proxy_the_cookies_are_secure_and_host_prefixed(store: Store) {
    let builder = TestApp::builder(store)
        .config(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let s = setup_on(builder, |_| {}).await;
    let start = s.app.send(https_page("/auth/github", None)).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let set = start
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-llms-github-state="))
        .expect("__Host- state cookie");
    assert!(set.contains("Secure") && set.contains("Path=/;"), "{set}");
    let cookie = start.cookie("__Host-llms-github-state").unwrap();
    let back = s.fake.authorize(start.location()).await;
    let callback = back.strip_prefix("http://llms.test").unwrap();
    // The plain-HTTP cookie name is not accepted over HTTPS.
    let plain = cookie.replacen("__Host-", "", 1);
    let refused = s.app.send(https_page(callback, Some(&plain))).await;
    assert_refused(
        &refused,
        StatusCode::FORBIDDEN,
        "not started in this browser",
    );
    let done = s.app.send(https_page(callback, Some(&cookie))).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let session = done
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("llms-token="))
        .unwrap();
    assert!(session.contains("Secure"), "{session}");
}

/// The review's finding: Lock and Delete on a GitHub row changed the password user of the
/// same name, because the handlers looked in users.json first and the page sent only the
/// name. A request now names the account's provider (default `credentials`). The two
/// accounts of one name stand for a home from before names were one namespace.
async fn admin_actions_reach_only_the_account_of_the_provider_named(store: Store) {
    let home = Home::new();
    home.write_users(&[("bob", "pw-bob", &[])]);
    let both = TestApp::builder(store)
        .home(home)
        .config(|c| c.auth = "github_auth,credentials".into());
    let s = setup_on(both, |settings| {
        settings.admins = vec!["alice".into()];
    })
    .await;
    let alice = s.sign_in_as("alice", 1001).await;
    s.edit_records(|records| {
        records["bob"] = json!({ "id": 2002, "login": "bob", "created": 1.0, "roles": [] });
    })
    .await;
    let password_bob = s.app.sign_in("bob", "pw-bob").await;

    // The Manage Users page says whose row is whose.
    let page = s.app.page("/admin/table", Some(&alice)).await.text();
    assert!(
        page.contains(r#"data-user="bob" data-provider="credentials""#),
        "{page}"
    );
    assert!(
        page.contains(r#"data-user="bob" data-provider="github_auth""#),
        "{page}"
    );

    // Locking the GitHub bob locks the GitHub bob only.
    let answer = s
        .put_github(&alice, json!({"userName": "bob", "locked": "Spam"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(s.records().await["bob"]["locked"], "Spam");
    assert!(s.app.users_json()["bob"].get("locked").is_none());
    assert!(
        s.app.is_signed_in(&password_bob).await,
        "the password bob is untouched"
    );

    // Deleting the GitHub bob leaves the password bob, and his avatar.
    let answer = s.delete_github(&alice, "bob").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(s.records().await.get("bob").is_none());
    assert!(s.app.users_json().get("bob").is_some());
    assert!(s.app.is_signed_in(&password_bob).await);

    // Without a provider, a request means the password account.
    let answer = s
        .put_user(&alice, json!({"userName": "bob", "locked": "Away"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(s.app.users_json()["bob"]["locked"], "Away");
    // A provider that keeps no accounts here is refused, naming the ones that do.
    let answer = s
        .put_user(
            &alice,
            json!({"userName": "bob", "provider": "nope", "locked": false}),
        )
        .await;
    assert_eq!(
        refusal(&answer, StatusCode::BAD_REQUEST),
        "Unknown provider 'nope': accounts are kept by credentials, github_auth"
    );
}

/// Usernames are one namespace across providers, and ignore case: a GitHub login that a
/// password account holds (in any case) cannot sign in with it, and a password account
/// cannot be made with a name a GitHub account holds.
async fn usernames_are_one_namespace_across_providers(store: Store) {
    let home = Home::new();
    home.write_users(&[
        ("Carol", "pw-carol", &[]),
        ("admin", "pw-admin", &["Admin"]),
    ]);
    let both = TestApp::builder(store)
        .home(home)
        .config(|c| c.auth = "github_auth,credentials".into());
    let s = setup_on(both, |_| {}).await;
    s.fake.sign_in_next_as("carol", 3003);
    let refused = s.round_trip(None).await;
    assert_refused(
        &refused,
        StatusCode::FORBIDDEN,
        "belongs to another account",
    );
    assert!(refused.session_cookie().is_none());
    assert_eq!(s.records().await, json!({}), "nobody recorded");

    let dave = s.sign_in_as("dave", 4004).await;
    assert_eq!(s.app.get("/auth", Some(&dave)).await.status, StatusCode::OK);
    let admin = s.app.sign_in("admin", "pw-admin").await;
    for name in ["dave", "DAVE"] {
        let answer = s
            .app
            .json(
                Method::POST,
                "/admin/users",
                Some(&admin),
                json!({"userName": name, "password": "pw-dave-1"}),
            )
            .await;
        let message = refusal(&answer, StatusCode::BAD_REQUEST);
        assert!(
            message.starts_with("User 'dave' already exists as an account of github_auth"),
            "{message}"
        );
    }
    assert!(s.app.users_json().get("dave").is_none());
}
