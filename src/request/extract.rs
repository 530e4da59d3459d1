//! Extractors for what a request carries (path, query, JSON body, upload), with every
//! rejection turned into [`Error`]: a malformed path segment, query string, body or
//! upload (or one that does not arrive in time) is answered in the `responseStatus` shape
//! like every other error, never with axum's plain-text body.
//!
//! Handlers import these instead of axum's, and destructure them the same way. (Who makes
//! the request is extracted by `CurrentUser` and `AdminUser`, in `web::extract`.)

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::request::deadline::timed_out;

/// Like `axum::extract::Path`; a segment that does not decode is a 400.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

/// Like `axum::extract::Query`; a query string that does not parse (a repeated field, say)
/// is a 400.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

/// Like `axum::Json`, but a missing `Content-Type: application/json` is 415, an oversized
/// body 413, a body that does not arrive in time 408 and anything unparsable 400, all as
/// `responseStatus` JSON.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// Like `axum::extract::Multipart`; a body that is not `multipart/form-data` is a 400.
#[derive(Debug)]
pub struct Multipart(pub axum::extract::Multipart);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

impl<S> FromRequest<S> for Multipart
where
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        Ok(Self(
            axum::extract::Multipart::from_request(request, state).await?,
        ))
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(map_rejection(&rejection)),
        }
    }
}

/// A 400 with `message`, or, when axum says the fault is the server's (a route declared
/// without the parameter a handler asks for), a logged 500.
fn rejected(status: StatusCode, message: &str, detail: String) -> Error {
    if status.is_server_error() {
        Error::Internal(anyhow::anyhow!("{message}: {detail}"))
    } else {
        Error::bad_request(message)
    }
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        rejected(rejection.status(), "Invalid path", rejection.body_text())
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        rejected(
            rejection.status(),
            "Invalid query string",
            rejection.body_text(),
        )
    }
}

impl From<MultipartRejection> for Error {
    fn from(rejection: MultipartRejection) -> Self {
        rejected(
            rejection.status(),
            "Invalid upload: expected a multipart/form-data body",
            rejection.body_text(),
        )
    }
}

impl From<MultipartError> for Error {
    fn from(err: MultipartError) -> Self {
        if timed_out(&err) {
            Error::RequestTimeout
        } else if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else {
            Error::bad_request(format!("Invalid upload: {}", err.body_text()))
        }
    }
}

fn map_rejection(rejection: &JsonRejection) -> Error {
    if timed_out(rejection) {
        return Error::RequestTimeout;
    }
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Error::UnsupportedMediaType("Content-Type must be application/json".into())
        }
        _ => Error::bad_request(match rejection {
            JsonRejection::JsonDataError(e) => format!("Invalid JSON body: {}", e.body_text()),
            _ => "Invalid JSON body".to_owned(),
        }),
    }
}
