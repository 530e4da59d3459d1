//! Refusals on `/v1/*` in OpenAI's shape, so that SDKs show them:
//! `{"error":{"message":"...","type":"...","code":"..."}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::Error;

/// A refusal on `/v1/*`.
#[derive(Debug)]
pub struct OpenAiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    code: &'static str,
    retry_after: Option<u64>,
}

impl OpenAiError {
    fn new(
        status: StatusCode,
        message: impl Into<String>,
        kind: &'static str,
        code: &'static str,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code,
            retry_after: None,
        }
    }

    /// No model server is configured: 404.
    pub fn no_upstream() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "No model server is configured here (start llms with --upstream URL).",
            "invalid_request_error",
            "not_found",
        )
    }

    /// The key may not use `model`: 403, before anything reaches the upstream.
    pub fn model_not_allowed(model: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!("The model '{model}' is not allowed for this API key."),
            "permission_error",
            "model_not_allowed",
        )
    }

    /// A model-restricted key's request whose body names no model it could be checked
    /// against: 400.
    pub fn model_unknown() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "This API key may use only some models: the request body must be JSON naming one of them in \"model\".",
            "invalid_request_error",
            "model_required",
        )
    }

    /// Over the key's requests per minute: 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "This API key's requests per minute are used up. Try again in {retry_after} s."
            ),
            "rate_limit_error",
            "rate_limit_exceeded",
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// The upstream could not be reached or answered garbage: 502, with no internals.
    pub fn upstream_unavailable() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "The model server is unavailable.",
            "upstream_error",
            "upstream_unavailable",
        )
    }

    /// A request body over the limit: 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is over {} MiB.", limit / (1024 * 1024)),
            "invalid_request_error",
            "request_too_large",
        )
    }
}

/// Any refusal of the crate, in OpenAI's shape.
impl From<&Error> for OpenAiError {
    fn from(error: &Error) -> Self {
        let status = error.status();
        let message = error.public_message();
        let mut converted = match status {
            StatusCode::UNAUTHORIZED => {
                let message = match error {
                    Error::KeyRefused(_) => message,
                    _ => "Missing credentials: send Authorization: Bearer sk-llms-... (an API key made on My Account).".to_owned(),
                };
                Self::new(status, message, "invalid_request_error", "invalid_api_key")
            }
            StatusCode::FORBIDDEN => {
                let code = if matches!(error, Error::Locked(_)) {
                    "account_locked"
                } else {
                    "forbidden"
                };
                Self::new(status, message, "permission_error", code)
            }
            StatusCode::NOT_FOUND => {
                Self::new(status, message, "invalid_request_error", "not_found")
            }
            StatusCode::TOO_MANY_REQUESTS => {
                Self::new(status, message, "rate_limit_error", "rate_limit_exceeded")
            }
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                message,
                "invalid_request_error",
                "request_too_large",
            ),
            StatusCode::SERVICE_UNAVAILABLE => {
                Self::new(status, message, "api_error", "service_unavailable")
            }
            s if s.is_server_error() => Self::new(status, message, "api_error", "internal_error"),
            _ => Self::new(status, message, "invalid_request_error", "invalid_request"),
        };
        if let Error::TooManyRequests { retry_after, .. } = error {
            converted.retry_after = Some(*retry_after);
        }
        converted
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "message": self.message, "type": self.kind, "code": self.code }
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The answer to `error` on `/v1/*`: OpenAI's shape; a server fault is logged as
/// [`Error`]'s own answer logs it.
pub fn openai_response(error: Error) -> Response {
    if error.status().is_server_error() {
        tracing::error!(error = %format!("{error:#}"), "request failed");
    }
    OpenAiError::from(&error).into_response()
}
