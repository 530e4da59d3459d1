//! Two-factor sign-in over HTTP (SPEC 12): a user turns it on and off for themselves
//! (`/account/2fa`), an Admin turns it off for someone who lost their app
//! (`DELETE /admin/users/{name}/2fa`). The rules are the password provider's
//! ([`credentials::begin_two_factor`] and the rest); these handlers only read and answer.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::identity::CurrentUser;
use crate::providers::credentials;
use crate::request::extract::{JsonBody, Path};
use crate::request::RequestFacts;
use crate::web::extract::AdminUser;

/// `POST /account/2fa`: a new pending secret, as text, as an otpauth URL and as a QR code.
pub async fn begin(State(ctx): State<AuthContext>, user: CurrentUser) -> Result<Json<Value>> {
    let enrolment = credentials::begin_two_factor(&ctx, &user).await?;
    Ok(Json(json!({
        "secret": enrolment.secret,
        "otpauthUrl": enrolment.otpauth_url,
        "qrSvg": enrolment.qr_svg,
    })))
}

/// The `POST /account/2fa/confirm` body.
#[derive(Deserialize)]
pub struct ConfirmForm {
    code: Option<String>,
}

impl std::fmt::Debug for ConfirmForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmForm")
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `POST /account/2fa/confirm`: the first code turns it on; the answer holds the ten
/// recovery codes, shown this once.
pub async fn confirm(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    JsonBody(form): JsonBody<ConfirmForm>,
) -> Result<Json<Value>> {
    let code = form.code.unwrap_or_default();
    if code.trim().is_empty() {
        return Err(Error::bad_request("Code is required"));
    }
    let codes = credentials::confirm_two_factor(&ctx, &user, &code, &facts.client_ip()).await?;
    Ok(Json(json!({ "recoveryCodes": codes })))
}

/// The `DELETE /account/2fa` body.
#[derive(Deserialize)]
pub struct DisableForm {
    password: Option<String>,
    code: Option<String>,
}

impl std::fmt::Debug for DisableForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("DisableForm")
            .field("password", &redacted(&self.password))
            .field("code", &redacted(&self.code))
            .finish()
    }
}

/// `DELETE /account/2fa`: turns it off, with the password and a current or recovery code.
pub async fn disable(
    State(ctx): State<AuthContext>,
    user: CurrentUser,
    facts: RequestFacts,
    JsonBody(form): JsonBody<DisableForm>,
) -> Result<Json<Value>> {
    let password = form.password.unwrap_or_default();
    let code = form.code.unwrap_or_default();
    credentials::disable_own_two_factor(&ctx, &user, password, &code, &facts.client_ip()).await?;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /admin/users/{name}/2fa`: an Admin turns a password account's two-factor
/// sign-in off (they sign in with their password alone until they turn it on again).
pub async fn reset(
    State(ctx): State<AuthContext>,
    AdminUser(admin): AdminUser,
    facts: RequestFacts,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    // One's own second factor is turned off with the password and a code: a session alone
    // (perhaps not the Admin's own hands) must not be enough.
    if name == admin.user_name && admin.provider == credentials::NAME {
        return Err(Error::bad_request(
            "Turn off your own two-factor sign-in on My Account: it asks for your password and a code",
        ));
    }
    let was_on =
        credentials::reset_two_factor(&ctx, &name, &admin.user_name, Some(&facts.client_ip()))
            .await?;
    Ok(Json(
        json!({ "success": true, "userName": name, "wasOn": was_on }),
    ))
}
