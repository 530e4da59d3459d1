//! A small OpenID Connect issuer served by the test itself on 127.0.0.1:0, for what a real
//! issuer never does: ID tokens with a forged signature, another issuer or audience, a
//! nonce of another sign-in, an expiry in the past, a key not yet published, claims of any
//! shape; and codes it refuses the second time. Its authorize page signs in whoever the
//! test chose, at once. (The real flow is tested against oidc-provider: `oidc.rs`.)

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, Audience, EndUserUsername, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId,
    Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "llms-test-client";
pub const CLIENT_SECRET: &str = "llms-test-secret-5f4dcc3b";

/// The issuer's published key (test-only).
const KEY_1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAtG7xNYrwSSbfn6RoGstbNuKo2ZyiZSC7GHU9yIV/YWnMsVU4
1vAVHyGjxPoOcO6x+Fopoml9DeU8BIupqQz9UXBsV5mX6aeYtu4tXF5IQFK22AMI
hgumJE8utRCSMENBYZbn2PWjZenV+muusS5MTi3i4u6JwKkC/G20qgENcaKRrvl+
55SGJWhTK8KE4pHaBO6/C22jseTG5ZjYIE3GdfTw6vz4ULV9Q3THJPEmJlhEgHp7
g/06Fr6nrTk/vHUuoz3a6TySTxB0jm5p956nvsytVqT3aIQMqbIXgR+UpbTt7EcD
XkGPfnGI3vR+jEntnBDumq2gkOuL06xpoWXWeQIDAQABAoIBAAbNwSg29UEY52lO
aoOKJAYhjWLpSmFcVtnBAAOp7wf2FJsiPsqyEmXSX6nLkRRWl9zoz3WZmzbVLEpy
lsLyY7H4tokmGEmeAX7yY8D+KCTOyajDEoT1dv4bA0SeG5kYzCQZK+RtPMxYwTIY
ceWp/IQdLFdIzeZ3KQ7qNxwK/p4Ihi7bladDsraD+oKR8PMK/FAazyx7Grkf8dsm
a2fyzvGnSt6jRSr+oSc5uhqhq/k1dlnSJBbYCvSdYdqEkLHCaGTYVDk9DJtbmGx2
mxwIb4czBUzHWC+hibsRukgxryNzgSnfCVreZHK8y752uL5as3M7hLtGSBExkUTC
vtju0YUCgYEA9u189KQzz8d1TDESrfnKE0ZWyCUGdyyy3YjVIPJ27okwPUh+Nzvu
ZBCoMhCIBgIvwxRKQH0hAl6Zy7phpfKbHc5EZe+HeyrRZ1cDPrsaZy1EPAo9Cg16
dK+taE+E6Dc8wE/hpQ04zkWgyKRx4xkcLwP/kAzPqmUeMbqBcnP5Tl0CgYEAuxAI
Yx8O+y5oL7Yj7/rjwsx2Ufp/L5qy29wZ+bLGxaUcSSZuGJ1BHRke9ICBaCZJ2xPT
bA2N2ICpaFM+B9ITpYl1jV06+OcN/3VqOqGXVSSt6rPND9QCR2W7TimoNaZrefHW
i1zYCLZeY1UB2QBNOwo6jPVnuoFNhjG3ruDNDs0CgYAkdPPZ+tRbfQtocGZdoV+g
cOYnLrBBsCvIYYd2EdZVaZPhuG5KIWMVCxCKM76hhHkgyEIeO1tASk9SsPXx1lvo
jqeylSbfnHbGVyZ3gJBpY1mLs8dHUK4fxEBKAlORJXamviSGhek5KzaN6RmXegGb
P2/gCMQwWDWZCfxKtay9UQKBgBN42canpwGSlRnSVe9XKHpQmkhyUOb9rXyhbrrF
V1efllAvBereA7cptEUzU0UqJyn86FcpGgjda8UGVUCvJ4hlxKzQdaEPPC/JYyNz
SrN8O/ZgfQoWwZ35AwRh5baf+jQZboHXSk2t3ils4eJa2683o1yk9wU9DHrZlgtI
L1BJAoGAC4Ro+FheS4xON15n1tBMU5mSC4RMzbF2di9jNpcYZKvKMzURVkVwvbiW
2ADQKISDjAQ9+K9KZSHaGLcyBA2notKQ8sYn3DxQoIMx2f76fPrsG3vK9qhHm5JQ
A4ImCUS3Ab9MXFIu8BMoThbpZjmlLAhg0MpUxxlaJDlGiARStLY=
-----END RSA PRIVATE KEY-----";

/// A second key: published only once [`FakeOidc::publish_second_key`] is called, and the
/// "forged" signer otherwise.
const KEY_2: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA4ewOxywvaA5N9oaXx6Vz6rqr+mG5a8K6CjI9tLqYK62xRyi6
7uF4N/24u9ZJ67mxnvg/EZZc1WpDSbJu6Arzspc04hnceVRLwu8NCazyXpl+CWe3
6mdKBbyMS55vVkzk9QivJGDKDyGimlxXV4MIN38+1j8WBB+GRse1QsbYfdnu51wS
GPsqqiHQzwTemcK0GMh3P8RNLad+ydJlxJdnxuzZTdUgJLu3gSszaJoVfRlWWSDD
WEDu2+UsuJU85395XST4OICQhavmMImZ3U/WhO4gjpeQlzMFmT32AbUsRQ2F2YRC
VCH1CzDzJwRqbRuDmJME31F/fmcELik1WQKxRwIDAQABAoIBABC9iqIfN+C4f/YT
/BGFmi9wUfJVenADN6uDadzHSiOhFQvw9y+156Vnzgqmcsdzn4yS2C2H8ZdjboVP
96AxwOQLXeuhFJwC7zLhvsVoRMoAtVJMwVfY+9GtVSH8pUME+J7gMVt7No26JXqA
UX0ruZike6Cpf7VM1rN49IlJrbIJfS8qWcHQ6uGvZ6nDfMSyrS6XLiSQKKv753JF
S3tYkHLJ6jS2HOF/zIiO2SOGudjON/kaqH+VnZQ4iqWev+Nti9GET6WafvsrJZqK
hi3oC9Jozi91OHs3iWzipZLPWt2ZYxvRogHUgGIdheUpQwMJyIhUsyymUb0PTub+
qOjJYcUCgYEA+0KcXY9dnBVAXNReG+AjqispPwTDEK4KTIfrvloAaeq80R+rteE8
gVSfkrAxGVYliRzgQGKTOBtChTFhswRDFkLyTfSgXkQbwM/GM6RJ423tcjUva6xS
1I+1QyFKGlWsxU4+uv4pUZCxG+AJDH0jvx3F0G+PjvJJ6Wc6UCBAUE0CgYEA5i8V
diFKBGyAmDH6a4Wyy9Tp+hUe9L5r9nn8xdXLjVF0L5RIfJFkw4gwwrYmgeRnM3HC
1r+e39YF6u9o4OMHSeRJ2gogSUsW1v8JquO+EUE7Cr9STiLi1CMov4WnLNcosdxE
OowlUDcotXVvNghi6PZW1GdigJn5xNwPeG9v8eMCgYEAkEqciY4/b9c0cxryQIfj
c2H9+da+PuHzwCd+Vn5RJoJLlLzfWz/SA2OZkB/m0moKfEc88Tyq1tmwxdSqCqgz
7qDbjbEiN4Bdf8jSRe3fEOCcL64jYW5A0xkEO1zutVjmMxjQJYq4J8M0MpHiIG3t
DWAHrb+jba/uij9h2Ynr5TECgYEAhr3LB1JnPH2zLOQcnbIuvmiM6ipQ651IH4i6
8ae7tqaWp39aiyik3lyrhl8P3Xsw+gk+r2yN+KMU5bhtIS9kRdnPbUX+Lkk5PnMe
Wp1j1j/j6t+hs0FynBFUuf/nozTzimHQwqDk+ra/KrFqfyubkpkYrM8z9umrLpRO
rgY1dlcCgYB4SbwAlE13N3LA7BA1w0Cj055zQWQ3LE92Mkwp6qiXuEXdNHEdNwlI
YhU6JmKqFz5PlpEZwvbRESne2fOyjexwNY3Lzmm+EqI4NnEKYUai/4zh8m4h3SDZ
BddaCOIbcw9sZYaoH95m0cNiKdUS93UOw95cahi2pnBVQcjKA6RaPw==
-----END RSA PRIVATE KEY-----";

/// What the next ID token is like.
#[derive(Debug, Clone, PartialEq)]
pub enum Mint {
    /// As a good issuer makes it.
    Good,
    /// Signed with a key the issuer does not publish, under the published key's id.
    ForgedSignature,
    /// Signed with the second key, under its own id (published or not).
    SecondKey,
    /// Naming another issuer.
    OtherIssuer,
    /// For another client.
    OtherAudience,
    /// With the nonce of another sign-in.
    OtherNonce,
    /// Expired a minute ago.
    Expired,
}

/// Who the authorize page signs in: the claims put into the token.
#[derive(Debug, Clone)]
pub struct Person {
    pub subject: String,
    pub username: String,
    pub groups: Vec<String>,
}

impl Person {
    pub fn new(subject: &str, username: &str, groups: &[&str]) -> Self {
        Self {
            subject: subject.into(),
            username: username.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Groups {
    #[serde(default)]
    groups: Vec<String>,
}
impl AdditionalClaims for Groups {}

struct Pending {
    person: Person,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Fake {
    issuer: String,
    mint: Mutex<Mint>,
    person: Mutex<Person>,
    second_key_published: Mutex<bool>,
    jwks_fetches: Mutex<usize>,
    pending: Mutex<HashMap<String, Pending>>,
    used_codes: Mutex<HashSet<String>>,
    codes_issued: Mutex<usize>,
    /// The token endpoint the discovery document names instead of its own.
    token_endpoint: Mutex<Option<String>>,
    /// The token requests' complaints, for the tests to read.
    refusals: Mutex<Vec<String>>,
}

pub struct FakeOidc {
    pub issuer: String,
    fake: Arc<Fake>,
}

fn key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).unwrap()
}

async fn discovery(State(fake): State<Arc<Fake>>) -> Json<Value> {
    let issuer = &fake.issuer;
    let token_endpoint = fake
        .token_endpoint
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| format!("{issuer}/token"));
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": token_endpoint,
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(State(fake): State<Arc<Fake>>) -> Json<Value> {
    *fake.jwks_fetches.lock().unwrap() += 1;
    let mut keys = vec![key(KEY_1, "k1").as_verification_key()];
    if *fake.second_key_published.lock().unwrap() {
        keys.push(key(KEY_2, "k2").as_verification_key());
    }
    Json(json!({ "keys": keys }))
}

async fn authorize(
    State(fake): State<Arc<Fake>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("response_type") != "code" {
        return (StatusCode::BAD_REQUEST, "unknown client or response type").into_response();
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = {
        let mut issued = fake.codes_issued.lock().unwrap();
        *issued += 1;
        format!("code-{issued}")
    };
    let pending = Pending {
        person: fake.person.lock().unwrap().clone(),
        nonce: get("nonce"),
        challenge: get("code_challenge"),
        redirect_uri: get("redirect_uri"),
    };
    let location = format!(
        "{}?code={code}&state={}",
        pending.redirect_uri,
        get("state")
    );
    fake.pending.lock().unwrap().insert(code, pending);
    Redirect::to(&location).into_response()
}

fn refuse(fake: &Fake, why: &str) -> Response {
    fake.refusals.lock().unwrap().push(why.to_owned());
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_grant", "error_description": why })),
    )
        .into_response()
}

async fn token(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(basic.as_str())
    {
        return refuse(&fake, "client authentication failed");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    if !fake.used_codes.lock().unwrap().insert(code.clone()) {
        return refuse(&fake, "code already used");
    }
    let Some(pending) = fake.pending.lock().unwrap().remove(&code) else {
        return refuse(&fake, "unknown code");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != pending.challenge {
        return refuse(&fake, "PKCE verifier does not match");
    }
    if form.get("redirect_uri") != Some(&pending.redirect_uri) {
        return refuse(&fake, "redirect_uri does not match");
    }
    let mint = fake.mint.lock().unwrap().clone();
    let now = chrono::Utc::now();
    let issuer = if mint == Mint::OtherIssuer {
        "https://elsewhere.example".to_owned()
    } else {
        fake.issuer.clone()
    };
    let audience = if mint == Mint::OtherAudience {
        "another-client"
    } else {
        CLIENT_ID
    };
    let nonce = if mint == Mint::OtherNonce {
        "a-nonce-of-another-sign-in".to_owned()
    } else {
        pending.nonce.clone()
    };
    let (issued, expires) = if mint == Mint::Expired {
        (
            now - chrono::Duration::minutes(10),
            now - chrono::Duration::minutes(1),
        )
    } else {
        (now, now + chrono::Duration::minutes(5))
    };
    let person = &pending.person;
    let claims = IdTokenClaims::<Groups, CoreGenderClaim>::new(
        IssuerUrl::new(issuer).unwrap(),
        vec![Audience::new(audience.into())],
        expires,
        issued,
        StandardClaims::new(SubjectIdentifier::new(person.subject.clone()))
            .set_preferred_username(Some(EndUserUsername::new(person.username.clone()))),
        Groups {
            groups: person.groups.clone(),
        },
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let signer = match mint {
        Mint::ForgedSignature => key(KEY_2, "k1"),
        Mint::SecondKey => key(KEY_2, "k2"),
        _ => key(KEY_1, "k1"),
    };
    let id_token = IdToken::<
        Groups,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        &signer,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .unwrap();
    Json(json!({
        "access_token": format!("at-{code}"),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
    .into_response()
}

impl FakeOidc {
    /// An issuer on 127.0.0.1:0 that signs in `alice` (subject `sub-alice`, groups
    /// `staff` and `llms-admins`) with good tokens until told otherwise.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let fake = Arc::new(Fake {
            issuer: issuer.clone(),
            mint: Mutex::new(Mint::Good),
            person: Mutex::new(Person::new("sub-alice", "alice", &["staff", "llms-admins"])),
            second_key_published: Mutex::new(false),
            jwks_fetches: Mutex::new(0),
            pending: Mutex::new(HashMap::new()),
            used_codes: Mutex::new(HashSet::new()),
            codes_issued: Mutex::new(0),
            token_endpoint: Mutex::new(None),
            refusals: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { issuer, fake }
    }

    /// The next tokens are like this.
    pub fn mint(&self, mint: Mint) {
        *self.fake.mint.lock().unwrap() = mint;
    }

    /// The authorize page signs in this person next.
    pub fn sign_in_as(&self, person: Person) {
        *self.fake.person.lock().unwrap() = person;
    }

    /// The second key appears in the published keys (a key rotation).
    pub fn publish_second_key(&self) {
        *self.fake.second_key_published.lock().unwrap() = true;
    }

    /// The discovery document names this token endpoint from now on (one where nothing
    /// listens, say).
    pub fn name_token_endpoint(&self, url: &str) {
        *self.fake.token_endpoint.lock().unwrap() = Some(url.to_owned());
    }

    /// How often the keys were fetched.
    pub fn jwks_fetches(&self) -> usize {
        *self.fake.jwks_fetches.lock().unwrap()
    }

    /// Why the token endpoint refused requests, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.fake.refusals.lock().unwrap().clone()
    }
}
