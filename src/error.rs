//! The one error type of the crate and how it becomes an HTTP response.
//!
//! Every handler returns [`Result<T>`]. Client mistakes carry their message to the client in
//! the reference's `responseStatus` shape; server faults are logged and shown as a generic
//! message, never with internal detail.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, from a bad request to a broken user store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or not allowed for this data (400).
    #[error("{0}")]
    BadRequest(String),
    /// No session, or the session ended (401).
    #[error("Authentication required")]
    Unauthorized,
    /// Wrong username or password; deliberately the same for both (401).
    #[error("Invalid username or password")]
    InvalidCredentials,
    /// The right password of an account with two-factor sign-in, and no code (401,
    /// `errorCode` `TwoFactorRequired`): the sign-in page asks for one.
    #[error("Enter the code from your authenticator app, or a recovery code")]
    TwoFactorRequired,
    /// An account whose password an Admin chose, before its owner chose their own (403):
    /// only `GET /auth`, signing out and changing the password are answered.
    #[error("Password change required")]
    PasswordChangeRequired,
    /// An API key that is unknown, malformed, revoked or expired, or whose owner is gone
    /// (401); the message says which, never the key.
    #[error("{0}")]
    KeyRefused(&'static str),
    /// Signed in, but not allowed (403). The message is shown to the client.
    #[error("{0}")]
    Forbidden(String),
    /// The right password for a locked account (403); the message is the lock reason, and
    /// the body says `"locked": true` so that a page can tell it from other refusals.
    #[error("{0}")]
    Locked(String),
    /// The request names a host this server does not answer to (421): a defence against
    /// DNS rebinding.
    #[error("{0}")]
    MisdirectedRequest(String),
    /// The named thing does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// Too many attempts; `reason` says which limit, and the next attempt is allowed after
    /// this many seconds (429).
    #[error("{reason} Try again in {}.", seconds(*retry_after))]
    TooManyRequests {
        /// What was exceeded, as a sentence ("Too many failed sign-ins for this account.").
        reason: &'static str,
        /// Seconds until the next attempt is allowed.
        retry_after: u64,
    },
    /// The request body did not arrive within
    /// [`Config::body_timeout`](crate::Config::body_timeout) (408); the connection is closed.
    #[error("The request body took too long to arrive")]
    RequestTimeout,
    /// The body is larger than the route accepts (413).
    #[error("Request body is too large")]
    PayloadTooLarge,
    /// The body is not of the media type the route accepts (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `--auth` or `LLMS_AUTH` named a provider that is not registered.
    #[error("unknown auth provider '{name}'; known providers: {}", known.join(", "))]
    UnknownProvider {
        /// The name that was asked for.
        name: String,
        /// The names that are registered.
        known: Vec<String>,
    },
    /// A configuration problem, reported at start-up.
    #[error("{0}")]
    Config(String),
    /// A file of the stores exists but does not parse.
    #[error("{} is not valid: {message} (line {line}, column {column}); it was left untouched, fix or move it away", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first problem.
        line: usize,
        /// 1-based column of the first problem.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// An I/O failure on a named file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The database holding the stores cannot be reached now (503): never "no users", never
    /// its internals; the cause is logged where it happened.
    #[error("The server's database cannot be reached right now; try again shortly.")]
    StoreUnavailable,
    /// Any other internal failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// A 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized
            | Self::InvalidCredentials
            | Self::KeyRefused(_)
            | Self::TwoFactorRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Locked(_) | Self::PasswordChangeRequired => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MisdirectedRequest(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnknownProvider { .. }
            | Self::Config(_)
            | Self::Corrupt { .. }
            | Self::Io { .. }
            | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The reference's `errorCode` for this error.
    pub fn error_code(&self) -> &'static str {
        if let Self::TwoFactorRequired = self {
            return "TwoFactorRequired";
        }
        match self.status() {
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN | StatusCode::MISDIRECTED_REQUEST => "Forbidden",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            _ => "Error",
        }
    }

    /// The message a client may see: the error itself for client errors, a generic text
    /// for server faults.
    pub fn public_message(&self) -> String {
        if matches!(self, Self::StoreUnavailable) {
            self.to_string()
        } else if self.status().is_server_error() {
            "Internal server error".to_owned()
        } else {
            self.to_string()
        }
    }
}

/// What a browser is shown for an error, kept in the response's extensions by
/// [`Error`]'s `IntoResponse` so that the guard can answer a page request with a styled
/// page instead of the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    /// The page's heading.
    pub title: &'static str,
    /// What went wrong and what to do, for whoever reads the page.
    pub message: String,
}

impl Error {
    /// The page a browser is shown for this error: the public message, except that a
    /// store that does not parse says which file and where (its name, not its path) and
    /// what the operator must do, and other server faults say where the cause is told.
    pub fn page(&self) -> ErrorPage {
        let status = self.status();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN | StatusCode::MISDIRECTED_REQUEST => "Refused",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            s if s.is_server_error() => "Something is wrong on the server",
            _ => "This request cannot be answered",
        };
        let message = match self {
            Self::Corrupt {
                path, line, column, ..
            } => {
                let file = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "a store".to_owned());
                format!(
                    "The file {file} in the server's folder does not parse (line {line}, column {column}). Nothing was changed and nobody can sign in until it is fixed: its operator must fix the file or move it away, then reload this page."
                )
            }
            Self::StoreUnavailable => self.public_message(),
            _ if status.is_server_error() => "The server could not answer this request. Try again; if it goes on, the server's log says why.".to_owned(),
            _ => self.public_message(),
        };
        ErrorPage { title, message }
    }
}

/// "1 second", "5 seconds".
fn seconds(count: u64) -> String {
    if count == 1 {
        "1 second".to_owned()
    } else {
        format!("{count} seconds")
    }
}

/// Whether `error`, or any error it was caused by, is an `E`.
pub fn caused_by<E: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<E>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The reference's error body: `{"responseStatus":{"errorCode":..,"message":..}}`
/// ([`Error::Locked`] adds `"locked": true` inside `responseStatus`).
pub fn error_body(error_code: &str, message: &str) -> serde_json::Value {
    json!({ "responseStatus": { "errorCode": error_code, "message": message } })
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && !matches!(self, Self::StoreUnavailable) {
            tracing::error!(error = %format!("{self:#}"), "request failed");
        }
        let mut body = error_body(self.error_code(), &self.public_message());
        match &self {
            Self::Locked(_) => body["responseStatus"]["locked"] = true.into(),
            Self::PasswordChangeRequired => {
                body["responseStatus"]["passwordChangeRequired"] = true.into()
            }
            // A page counts the wait down itself: the reason apart from the wait.
            Self::TooManyRequests {
                reason,
                retry_after,
            } => {
                body["responseStatus"]["reason"] = (*reason).into();
                body["responseStatus"]["retryAfter"] = (*retry_after).into();
            }
            _ => {}
        }
        let page = self.page();
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(page);
        match self {
            Self::TooManyRequests { retry_after, .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            // The rest of the body may still be on its way: the connection cannot be
            // reused, so the client is told, and the server closes it.
            Self::RequestTimeout => {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            // The pool gives up on a connection within seconds; worth another try then.
            Self::StoreUnavailable => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Internal(anyhow::anyhow!("background task failed: {err}"))
    }
}
