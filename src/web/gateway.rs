//! The gateway: `/v1/*`, from a signed-in browser, an API key, or (authentication off) the
//! default user, forwarded to the OpenAI-compatible upstream (`--upstream URL`), bodies
//! streamed both ways as they arrive. A key's model list and requests per minute are
//! enforced here, before anything reaches the upstream; every refusal is in OpenAI's shape.

mod error;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http_body_util::{BodyExt, Empty, Full, LengthLimitError, Limited};
use serde_json::Value;

pub use error::{openai_response, OpenAiError};

use super::extract::identity;
use crate::context::AuthContext;
use crate::error::{caused_by, Error};
use crate::identity::{CurrentUser, Identity};
use crate::keys::KeyGrant;
use crate::request::deadline::timed_out;
use crate::state::AuthState;
use crate::time::now_secs;
use crate::upstream::{remove_hop_by_hop, Answer, OutgoingBody, SendError};

/// Largest request body on `/v1/*` (chat messages may carry images).
pub const GATEWAY_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// Largest model list read back from the upstream to filter for a model-restricted key.
const MODEL_LIST_LIMIT: usize = 8 * 1024 * 1024;

/// How long the upstream may take to send its model list, once it has begun.
const MODEL_LIST_WAIT: Duration = Duration::from_secs(60);

/// `/v1` and everything under it, any method.
pub fn router() -> Router<AuthState> {
    let forward = |State(state): State<AuthState>, request: Request| serve(state, request);
    Router::new()
        .route("/v1", any(forward))
        .route("/v1/{*rest}", any(forward))
}

/// Whether `path` is the gateway's (`/v1` or under it).
pub fn is_gateway_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// Serves a request the guard has admitted: the user it names (an API key's owner, a
/// session's, or the default user when authentication is off), then [`relay`].
pub async fn serve(state: AuthState, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let user = match identity(&state, &mut parts).await {
        Ok(Identity::User(user)) => user,
        Ok(Identity::Anonymous) => return openai_response(Error::Unauthorized),
        Err(error) => return openai_response(error),
    };
    let request = Request::from_parts(parts, body);
    match relay(state.context(), &user, request).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

/// Checks what the key allows, sends the request upstream and streams the answer back.
async fn relay(
    ctx: &AuthContext,
    user: &CurrentUser,
    mut request: Request,
) -> Result<Response, OpenAiError> {
    let upstream = ctx.upstream().ok_or_else(OpenAiError::no_upstream)?;
    let grant = request.extensions_mut().remove::<KeyGrant>();
    if let Some(KeyGrant {
        id, rpm: Some(rpm), ..
    }) = &grant
    {
        ctx.limiter()
            .take(id, *rpm, now_secs())
            .map_err(OpenAiError::rate_limited)?;
    }
    let (mut parts, body) = request.into_parts();
    let rest = parts
        .uri
        .path()
        .strip_prefix("/v1")
        .unwrap_or_default()
        .trim_start_matches('/');
    let uri = upstream
        .uri(rest, parts.uri.query())
        .map_err(|e| OpenAiError::from(&e))?;
    if content_length(&parts.headers).is_some_and(|length| length > GATEWAY_BODY_LIMIT as u64) {
        return Err(OpenAiError::too_large(GATEWAY_BODY_LIMIT));
    }
    let has_body = !http_body::Body::is_end_stream(&body);
    let allowed = grant.and_then(|g| g.models);
    let filter_models = allowed.is_some() && parts.method == Method::GET && rest == "models";
    if let Some(allowed) = &allowed {
        // A model named in the path (`GET /v1/models/{id}`) is checked like one in a body.
        if let Some(model) = rest.strip_prefix("models/") {
            if !allowed.iter().any(|m| m == model) {
                return Err(OpenAiError::model_not_allowed(model));
            }
        }
    }
    let outgoing: OutgoingBody = match (&allowed, has_body) {
        // The body must be read to know its model: the one case that reads it whole.
        (Some(allowed), true) => {
            let bytes = Limited::new(body, GATEWAY_BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| body_refusal(e.as_ref()))?
                .to_bytes();
            let model = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("model")?.as_str().map(str::to_owned))
                .ok_or_else(OpenAiError::model_unknown)?;
            if !allowed.contains(&model) {
                return Err(OpenAiError::model_not_allowed(&model));
            }
            Full::new(bytes)
                .map_err(|never| match never {})
                .boxed_unsync()
        }
        (None, true) => Limited::new(body, GATEWAY_BODY_LIMIT).boxed_unsync(),
        (_, false) => Empty::new().map_err(|never| match never {}).boxed_unsync(),
    };
    upstream.prepare_headers(&mut parts.headers, &user.user_name);
    if !has_body {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    let mut outbound = axum::http::Request::new(outgoing);
    *outbound.method_mut() = parts.method;
    *outbound.uri_mut() = uri;
    *outbound.headers_mut() = parts.headers;
    let answer = upstream
        .send(outbound)
        .await
        .map_err(|e| send_refusal(&e))?;
    if filter_models && answer.status().is_success() {
        return filtered_models(answer, allowed.as_deref().unwrap_or_default()).await;
    }
    Ok(stream_back(answer))
}

/// The declared `Content-Length`, if any.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Why the caller's body could not be read: too large (413), too slow (408), or cut off.
fn body_refusal(error: &(dyn std::error::Error + 'static)) -> OpenAiError {
    if caused_by::<LengthLimitError>(error) {
        OpenAiError::too_large(GATEWAY_BODY_LIMIT)
    } else if timed_out(error) {
        OpenAiError::from(&Error::RequestTimeout)
    } else {
        OpenAiError::from(&Error::bad_request("The request body was cut off."))
    }
}

/// Why sending upstream failed: the caller's streamed body (too large, too slow, cut off),
/// or the upstream (unreachable, timed out connecting, closed, answered garbage): 502 with
/// no internals.
fn send_refusal(error: &SendError) -> OpenAiError {
    if caused_by::<LengthLimitError>(error) || timed_out(error) {
        return body_refusal(error);
    }
    tracing::warn!(
        connect = error.is_connect(),
        "the upstream could not be reached or answered garbage"
    );
    OpenAiError::upstream_unavailable()
}

/// The upstream's answer, streamed back as it comes: status, headers but hop-by-hop ones
/// (and cookies: the upstream sets none here), body. A client that goes away drops the
/// body, and with it the upstream connection.
fn stream_back(answer: Answer) -> Response {
    let (mut parts, body) = answer.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::SET_COOKIE);
    Response::from_parts(parts, Body::new(body))
}

/// `GET /v1/models` for a key that may use only `allowed`: the upstream's list with the
/// other models left out.
async fn filtered_models(answer: Answer, allowed: &[String]) -> Result<Response, OpenAiError> {
    let status = answer.status();
    let read = tokio::time::timeout(
        MODEL_LIST_WAIT,
        Limited::new(answer.into_body(), MODEL_LIST_LIMIT).collect(),
    )
    .await;
    let Ok(Ok(bytes)) = read else {
        return Err(OpenAiError::upstream_unavailable());
    };
    let mut list: Value = serde_json::from_slice(&bytes.to_bytes())
        .map_err(|_| OpenAiError::upstream_unavailable())?;
    let Some(models) = list.get_mut("data").and_then(Value::as_array_mut) else {
        return Err(OpenAiError::upstream_unavailable());
    };
    models.retain(|model| {
        model
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| allowed.iter().any(|m| m == id))
    });
    Ok((status, axum::Json(list)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_owns_v1_and_nothing_else() {
        for path in ["/v1", "/v1/", "/v1/models", "/v1/chat/completions"] {
            assert!(is_gateway_path(path), "{path}");
        }
        for path in ["/v10", "/v1x/models", "/auth", "/"] {
            assert!(!is_gateway_path(path), "{path}");
        }
    }

    #[test]
    fn status_codes_of_refusals() {
        use axum::http::StatusCode;
        assert_eq!(
            OpenAiError::too_large(GATEWAY_BODY_LIMIT)
                .into_response()
                .status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let limited = OpenAiError::rate_limited(7).into_response();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()["retry-after"], "7");
    }
}
