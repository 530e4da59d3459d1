//! A deadline for reading a request body.
//!
//! The server's header timeout ([`Config::header_timeout`](crate::Config::header_timeout))
//! bounds how long a client may take to send a request's headers, but not its body: a
//! client could send the headers of a sign-in or an avatar upload and then one byte a
//! second, holding a connection and a handler for as long as it liked. The auth
//! [`router`](crate::web::router) therefore wraps every request body in a
//! [`DeadlineBody`]: reading it fails with [`BodyTimedOut`] once
//! [`Config::body_timeout`](crate::Config::body_timeout) has passed since the request
//! reached the router, however steadily the bytes trickle in (a timeout per read would
//! never fire). The body extractors answer that with
//! [`Error::RequestTimeout`](crate::Error::RequestTimeout): 408, and the connection is
//! closed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a [`DeadlineBody`] yields once its deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimedOut {
    /// How long the body was given.
    pub timeout: Duration,
}

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {:?}",
            self.timeout
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// A request body that fails with [`BodyTimedOut`] when it is still being read at its
/// deadline (fixed by [`DeadlineBody::new`]). Data that has already arrived is handed out
/// first, even late; a timer is only armed once the body has to wait for the client.
#[derive(Debug)]
pub struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    /// `inner`, to be read within `timeout` from now.
    pub fn new(inner: Body, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Instant::now() + timeout,
            timeout,
            sleep: None,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        tracing::info!(timeout = ?this.timeout, "a request body did not arrive in time; refused");
        Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut {
            timeout: this.timeout,
        }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Gives the body of `request` a deadline `timeout` from now. A request without a body
/// (a `GET`, say) is passed on as it is.
pub fn with_deadline(request: Request, timeout: Duration) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    request.map(|body| Body::new(DeadlineBody::new(body, timeout)))
}

/// Whether `error`, or any error it was caused by, is a [`BodyTimedOut`]: how the body
/// extractors tell a late body from a malformed one.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    crate::error::caused_by::<BodyTimedOut>(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    /// A body whose bytes come from a channel, as a slow client's would.
    struct Fed(mpsc::Receiver<Bytes>);

    impl HttpBody for Fed {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|bytes| bytes.map(|b| Ok(Frame::data(b))))
        }
    }

    fn fed(timeout: Duration) -> (mpsc::Sender<Bytes>, DeadlineBody) {
        let (tx, rx) = mpsc::channel(4);
        (tx, DeadlineBody::new(Body::new(Fed(rx)), timeout))
    }

    #[tokio::test]
    async fn a_body_that_keeps_trickling_still_ends_at_the_deadline() {
        let started = Instant::now();
        let (tx, body) = fed(Duration::from_millis(300));
        let feeder = tokio::spawn(async move {
            // A byte every 20 ms, forever: no gap is ever as long as the deadline.
            while tx.send(Bytes::from_static(b"x")).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let error = body.collect().await.expect_err("cut off");
        assert!(timed_out(&error), "{error:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
        feeder.abort();
    }

    #[tokio::test]
    async fn a_body_that_arrives_in_time_is_read_whole() {
        let (tx, body) = fed(Duration::from_secs(5));
        tokio::spawn(async move {
            for part in [&b"ab"[..], b"cd"] {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx.send(Bytes::from_static(part)).await;
            }
        });
        let bytes = body.collect().await.expect("in time").to_bytes();
        assert_eq!(&bytes[..], b"abcd");
    }

    #[tokio::test]
    async fn data_already_received_is_handed_out_after_the_deadline() {
        let (tx, body) = fed(Duration::from_millis(50));
        tx.send(Bytes::from_static(b"all")).await.unwrap();
        drop(tx);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let bytes = body
            .collect()
            .await
            .expect("nothing to wait for")
            .to_bytes();
        assert_eq!(&bytes[..], b"all");
    }

    #[test]
    fn other_errors_are_not_timeouts() {
        let error = axum::Error::new(std::io::Error::other("reset"));
        assert!(!timed_out(&error));
        let nested = axum::Error::new(axum::Error::new(BodyTimedOut {
            timeout: Duration::from_secs(1),
        }));
        assert!(timed_out(&nested));
    }
}
