//! A JSON body extractor whose rejections use the crate's error shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::web::deadline::timed_out;

/// Like `axum::Json`, but a missing `Content-Type: application/json` is 415, an oversized
/// body 413, a body that does not arrive in time 408 and anything unparsable 400, all as
/// `responseStatus` JSON.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

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
