//! Talking to the OpenID Connect provider with the `openidconnect` crate: discovery (with
//! its keys), the authorization URL (PKCE S256, `state`, `nonce`), the code exchange, and
//! the ID token's checks (signature against the provider's keys, fetched again once when a
//! token names a key not yet known; issuer, audience, expiry, nonce). Over an HTTP client
//! that follows no redirects and times out. Tokens are never stored, logged or put in a URL.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{
    CoreClient, CoreIdTokenClaims, CoreJsonWebKeySet, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    TokenResponse,
};
use reqwest::Url;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::config::OidcConfig;
use crate::error::{Error, Result};
use crate::providers::settings::is_loopback_url;

/// Connecting to the provider may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One whole request to the provider may take this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The client the crate makes from discovery: an authorization endpoint, and maybe a token
/// and a userinfo endpoint.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider could not confirm who the visitor is: what went wrong, in words for the
/// refusal page (never a token or the provider's own error text beyond a tidy code).
#[derive(Debug)]
pub(super) struct Unavailable(pub(super) String);

/// Why an ID token was not accepted.
#[derive(Debug)]
pub(super) struct Rejected(pub(super) String);

/// The provider as discovered: its metadata (with its keys), and the client made of it.
struct Discovered {
    metadata: CoreProviderMetadata,
    client: Client,
}

/// The provider this server signs people in with.
pub(super) struct Issuer {
    http: reqwest::Client,
    client_id: ClientId,
    client_secret: ClientSecret,
    discovered: RwLock<Discovered>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What the start of a sign-in sends the browser to, and what it must keep.
pub(super) struct Started {
    pub(super) url: Url,
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) verifier: String,
}

/// Who an accepted ID token names: its standard claims, and all its claims as JSON (for
/// the configured username and groups claims).
pub(super) struct Verified {
    pub(super) subject: String,
    pub(super) issuer: String,
    pub(super) claims: Map<String, Value>,
}

fn http_client(settings: &OidcConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        // Following redirects would let the provider's answers point anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("llms-auth/", env!("CARGO_PKG_VERSION")));
    if Url::parse(&settings.issuer).is_ok_and(|u| is_loopback_url(&u)) {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("building the HTTP client: {e}")))
}

/// The chain of `error`'s messages, for the log.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Issuer {
    /// Discovers the provider of `settings` (its metadata and keys). An issuer out of reach,
    /// or whose document names another issuer, is a configuration error saying so.
    pub(super) async fn discover(settings: &OidcConfig) -> Result<Self> {
        let http = http_client(settings)?;
        let issuer_url = IssuerUrl::new(settings.issuer.clone()).map_err(|e| {
            Error::Config(format!(
                "oidc: the issuer '{}' is not a URL: {e}",
                settings.issuer
            ))
        })?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "oidc: cannot read the OpenID Connect discovery document of {} ({}); check OIDC_ISSUER and that the provider is up",
                    settings.issuer,
                    chain(&e)
                ))
            })?;
        let client_id = ClientId::new(settings.client_id.clone());
        let client_secret = ClientSecret::new(settings.client_secret.clone());
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            client_id.clone(),
            Some(client_secret.clone()),
        );
        if metadata.token_endpoint().is_none() {
            return Err(Error::Config(format!(
                "oidc: the provider {} names no token endpoint",
                settings.issuer
            )));
        }
        Ok(Self {
            http,
            client_id,
            client_secret,
            discovered: RwLock::new(Discovered { metadata, client }),
        })
    }

    /// The URL that starts a sign-in at the provider, with a fresh state, nonce and PKCE
    /// (S256) pair.
    pub(super) async fn start(&self, redirect: &str, scopes: &[String]) -> Result<Started> {
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|e| Error::Internal(anyhow::anyhow!("the redirect URI: {e}")))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let discovered = self.discovered.read().await;
        let (url, state, nonce) = discovered
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(
                scopes
                    .iter()
                    .filter(|s| *s != "openid")
                    .map(|s| Scope::new(s.clone())),
            )
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the PKCE `verifier`) for tokens, and checks the ID token
    /// against `nonce`.
    pub(super) async fn finish(
        &self,
        code: &str,
        verifier: &str,
        redirect: &str,
        nonce: &str,
    ) -> std::result::Result<std::result::Result<Verified, Rejected>, Unavailable> {
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|_| Unavailable("the redirect URI is not a URL".into()))?;
        let response = {
            let discovered = self.discovered.read().await;
            let request = discovered
                .client
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .map_err(|_| Unavailable("the provider names no token endpoint".into()))?
                .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
                .set_redirect_uri(std::borrow::Cow::Owned(redirect));
            request.request_async(&self.http).await
        };
        let response = match response {
            Ok(response) => response,
            // No answer at all (refused, reset, timed out): not a verdict on the code.
            Err(e @ RequestTokenError::Request(_)) => {
                tracing::warn!(error = %chain(&e), "the OpenID Connect token endpoint could not be reached");
                return Err(Unavailable("the provider could not be reached".into()));
            }
            Err(e) => {
                tracing::warn!(error = %chain(&e), "the OpenID Connect token endpoint refused the code");
                return Err(Unavailable(
                    "the provider did not accept the sign-in code".into(),
                ));
            }
        };
        let Some(id_token) = response.id_token() else {
            return Ok(Err(Rejected("the provider sent no ID token".into())));
        };
        let nonce = Nonce::new(nonce.to_owned());
        let checked = {
            let discovered = self.discovered.read().await;
            let verifier = discovered.client.id_token_verifier();
            let checked = id_token.claims(&verifier, &nonce).map(standard);
            checked
        };
        let verified = match checked {
            Ok(verified) => verified,
            // A key the provider added since discovery: fetch its keys again, once.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                self.refresh_keys().await?;
                let discovered = self.discovered.read().await;
                let verifier = discovered.client.id_token_verifier();
                let checked = id_token.claims(&verifier, &nonce).map(standard);
                match checked {
                    Ok(verified) => verified,
                    Err(e) => return Ok(Err(rejected(e))),
                }
            }
            Err(e) => return Ok(Err(rejected(e))),
        };
        let (subject, issuer) = verified;
        // The token's signature was checked just above: its payload is what was signed.
        let claims = payload(&id_token.to_string())
            .ok_or_else(|| Unavailable("the ID token's claims are not JSON".into()))?;
        Ok(Ok(Verified {
            subject,
            issuer,
            claims,
        }))
    }

    /// Fetches the provider's keys again (a token named a key not known yet).
    async fn refresh_keys(&self) -> std::result::Result<(), Unavailable> {
        let mut discovered = self.discovered.write().await;
        let keys = CoreJsonWebKeySet::fetch_async(discovered.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %chain(&e), "fetching the OpenID Connect provider's keys failed");
                Unavailable("the provider's keys could not be read".into())
            })?;
        let metadata = discovered.metadata.clone().set_jwks(keys);
        discovered.client = CoreClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        );
        discovered.metadata = metadata;
        tracing::info!("the OpenID Connect provider's keys were fetched again");
        Ok(())
    }
}

/// The subject and issuer of verified claims.
fn standard(claims: &CoreIdTokenClaims) -> (String, String) {
    (
        claims.subject().as_str().to_owned(),
        claims.issuer().as_str().to_owned(),
    )
}

fn rejected(error: ClaimsVerificationError) -> Rejected {
    tracing::info!(error = %error, "an ID token was refused");
    let why = match error {
        ClaimsVerificationError::Expired(_) => "the ID token has expired",
        ClaimsVerificationError::InvalidAudience(_) => "the ID token is for another client",
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token is from another issuer",
        ClaimsVerificationError::InvalidNonce(_) => "the ID token was not made for this sign-in",
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature is not the provider's"
        }
        _ => "the ID token is not valid",
    };
    Rejected(why.into())
}

/// The claims of a JWT's payload, as JSON.
fn payload(jwt: &str) -> Option<Map<String, Value>> {
    let part = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_of_a_token_is_read() {
        let body = URL_SAFE_NO_PAD.encode(r#"{"sub":"1","groups":["a"]}"#);
        let claims = payload(&format!("e30.{body}.sig")).unwrap();
        assert_eq!(claims["groups"][0], "a");
        assert!(payload("e30").is_none() && payload("e30.!!.x").is_none());
    }
}
