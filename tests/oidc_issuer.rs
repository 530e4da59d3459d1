//! The test OpenID Connect issuer itself ([`common::oidc`]): its discovery document, a
//! whole authorization-code flow with PKCE through its sign-in pages, and the claims of
//! each test account's ID token. What the `oidc` provider's tests rely on is checked here,
//! apart from the provider.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::oidc::{cookie_client, password_of, OidcIssuer, ACCOUNTS};
use common::random_token;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "llms-test-rp";
const CLIENT_SECRET: &str = "test-oidc-secret-5f2b9c1e";
const REDIRECT_URI: &str = "http://llms.test/auth/oidc/callback";

/// The issuer with the test client, or `None` when skipped.
fn issuer() -> Option<OidcIssuer> {
    OidcIssuer::start(CLIENT_ID, CLIENT_SECRET, &[REDIRECT_URI])
}

/// One authorization request as a relying party makes it.
struct Authorization {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

/// An authorization URL with PKCE S256, a state and a nonce.
fn authorization(issuer: &OidcIssuer, scope: &str) -> Authorization {
    let (state, nonce, verifier) = (random_token(), random_token(), random_token());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let url = Url::parse_with_params(
        &issuer.url("/auth"),
        [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("authorization URL");
    Authorization {
        url: url.into(),
        state,
        nonce,
        verifier,
    }
}

/// The value of the query parameter `name` of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `POST /token` for `code`, authenticated with HTTP Basic.
async fn exchange(issuer: &OidcIssuer, code: &str, verifier: &str) -> reqwest::Response {
    cookie_client()
        .post(issuer.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token request")
}

/// Part `index` of a JWT (0 header, 1 payload), decoded, its signature unchecked.
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Signs `login` in with `scope` and returns the ID token's claims, after checking the
/// redirect back and the token response.
async fn id_token_claims(issuer: &OidcIssuer, login: &str, scope: &str) -> Value {
    let request = authorization(issuer, scope);
    let location = issuer
        .sign_in_through(&cookie_client(), &request.url, login)
        .await;
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    assert_eq!(query_param(&location, "state"), Some(request.state));
    assert_eq!(query_param(&location, "iss"), Some(issuer.issuer.clone()));
    let code = query_param(&location, "code").expect("a code");

    let response = exchange(issuer, &code, &request.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.expect("token JSON");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = tokens["id_token"].as_str().expect("an id_token");
    assert_eq!(jwt_part(id_token, 0)["alg"], "RS256");

    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["iss"], issuer.issuer.as_str());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], request.nonce.as_str());
    assert_eq!(claims["sub"], login);
    claims
}

#[tokio::test]
async fn discovery_names_the_issuer_its_endpoints_and_s256() {
    let Some(issuer) = issuer() else { return };
    let document: Value = cookie_client()
        .get(issuer.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery request")
        .json()
        .await
        .expect("discovery JSON");

    assert!(issuer.issuer.starts_with("http://127.0.0.1:"));
    assert_eq!(document["issuer"], issuer.issuer.as_str());
    assert_eq!(document["authorization_endpoint"], issuer.url("/auth"));
    assert_eq!(document["token_endpoint"], issuer.url("/token"));
    assert_eq!(document["userinfo_endpoint"], issuer.url("/me"));
    assert_eq!(document["jwks_uri"], issuer.url("/jwks"));
    let has = |field: &str, value: &str| {
        document[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} in {document}"))
            .iter()
            .any(|v| v == value)
    };
    assert!(has("code_challenge_methods_supported", "S256"));
    assert!(!has("code_challenge_methods_supported", "plain"));
    assert!(has("id_token_signing_alg_values_supported", "RS256"));
    assert!(has("response_types_supported", "code"));
    assert!(has(
        "token_endpoint_auth_methods_supported",
        "client_secret_basic"
    ));
    for scope in ["openid", "profile", "email", "groups"] {
        assert!(has("scopes_supported", scope), "scope {scope}");
    }

    let jwks: Value = cookie_client()
        .get(issuer.url("/jwks"))
        .send()
        .await
        .expect("jwks request")
        .json()
        .await
        .expect("jwks JSON");
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key.get("d").is_none(), "the private key is not published");
}

#[tokio::test]
async fn alice_signs_in_with_pkce_and_her_groups_are_in_the_id_token() {
    let Some(issuer) = issuer() else { return };
    let claims = id_token_claims(&issuer, "alice", "openid profile email").await;
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email"], "alice@example.test");
    let groups = claims["groups"].as_array().expect("groups in the ID token");
    assert!(groups.iter().any(|g| g == "llms-admins"), "{claims}");
    assert!(groups.iter().any(|g| g == "staff"), "{claims}");
}

#[tokio::test]
async fn every_account_has_the_claims_the_harness_lists() {
    let Some(issuer) = issuer() else { return };
    for (login, username, groups) in ACCOUNTS {
        let claims = id_token_claims(&issuer, login, "openid profile email").await;
        assert_eq!(claims["preferred_username"], *username, "{login}");
        assert_eq!(claims["groups"], serde_json::json!(groups), "{login}");
    }
    // The two the provider must refuse.
    let mallory = id_token_claims(&issuer, "mallory", "openid profile email").await;
    assert_eq!(mallory["preferred_username"], "not a valid name!");
    let taken = id_token_claims(&issuer, "taken", "openid profile email").await;
    assert_eq!(taken["preferred_username"], "admin");
}

#[tokio::test]
async fn the_groups_scope_alone_brings_the_groups() {
    let Some(issuer) = issuer() else { return };
    let claims = id_token_claims(&issuer, "bob", "openid groups").await;
    assert_eq!(claims["groups"], serde_json::json!(["staff"]));
    assert!(claims.get("preferred_username").is_none(), "{claims}");
}

#[tokio::test]
async fn unknown_logins_and_wrong_passwords_are_refused() {
    let Some(issuer) = issuer() else { return };
    for (login, password) in [
        ("nobody", password_of("nobody")),
        ("alice", "wrong".to_owned()),
        ("alice", password_of("bob")),
    ] {
        let request = authorization(&issuer, "openid profile email");
        let refused = issuer
            .try_sign_in_through(&cookie_client(), &request.url, login, &password)
            .await;
        let why = refused.expect_err("a refused sign-in");
        assert!(why.contains("refused the login"), "{login}: {why}");
    }
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let Some(issuer) = issuer() else { return };

    // Without a code challenge: straight back to the client with an error.
    let mut url = Url::parse(&issuer.url("/auth")).expect("URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("nonce", "n");
    let response = cookie_client().get(url).send().await.expect("request");
    assert!(response.status().is_redirection());
    let location = response.headers()["location"].to_str().expect("Location");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("invalid_request")
    );

    // A code with the wrong verifier is refused.
    let request = authorization(&issuer, "openid");
    let location = issuer
        .sign_in_through(&cookie_client(), &request.url, "carol")
        .await;
    let code = query_param(&location, "code").expect("a code");
    let wrong = exchange(&issuer, &code, &random_token()).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let error: Value = wrong.json().await.expect("error JSON");
    assert_eq!(error["error"], "invalid_grant");
}

#[tokio::test]
async fn the_client_may_send_its_secret_in_the_form_too() {
    let Some(issuer) = issuer() else { return };
    let request = authorization(&issuer, "openid");
    let location = issuer
        .sign_in_through(&cookie_client(), &request.url, "bob")
        .await;
    let code = query_param(&location, "code").expect("a code");
    let response = cookie_client()
        .post(issuer.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &request.verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
}
