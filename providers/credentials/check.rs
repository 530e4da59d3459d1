//! A password checked through the throttle: the one way every check of a password or a
//! second factor is counted (sign-in, changing the password, turning two-factor sign-in
//! off), and the refusal a throttled attempt gets.

use crate::context::AuthContext;
use crate::error::{Error, Result};
use crate::password::Verification;
use crate::throttle::{Attempt, Limit, Throttled};
use crate::time::now_secs;

/// How a throttled check of a password ended.
pub(super) enum Checked<'a> {
    /// Refused before the password was looked at.
    Throttled(Throttled),
    /// Wrong password, or no such account (counted as a failure).
    Wrong,
    /// The password is right.
    Right {
        /// The stored hash is in an older format and should be replaced.
        needs_upgrade: bool,
        /// The attempt, still to be settled: succeeded, or failed when a second factor
        /// that it also needs is wrong.
        attempt: Attempt<'a>,
    },
}

/// The refusal of a throttled attempt, in words for what was being tried:
/// `reasons` says it for the account's limit, the address's and too many at once.
pub(super) fn throttled_error(throttled: Throttled, reasons: [&'static str; 3]) -> Error {
    let reason = match throttled.limit {
        Limit::Account => reasons[0],
        Limit::Address => reasons[1],
        Limit::InFlight => reasons[2],
    };
    Error::TooManyRequests {
        reason,
        retry_after: throttled.retry_after,
    }
}

/// What a throttled check of a password or code, by a signed-in user, says.
pub(super) const CHECK_THROTTLED: [&str; 3] = [
    "Too many wrong passwords or codes for this account.",
    "Too many wrong passwords or codes from your address.",
    "Too many checks at once.",
];

/// Checks `password` against `stored` (the account's hash; `None`: no such account, and a
/// dummy hash costs the same time) through the throttle's counters for `username` and
/// `client_ip`: a throttled attempt is refused without looking at the password, a wrong
/// one counts; a right one comes back with its attempt, for the caller to settle.
pub(super) async fn check_throttled<'a>(
    ctx: &'a AuthContext,
    username: &str,
    client_ip: &str,
    password: String,
    stored: Option<String>,
) -> Result<Checked<'a>> {
    let attempt = match ctx
        .throttle()
        .attempt(username, client_ip, now_secs())
        .await?
    {
        Ok(attempt) => attempt,
        Err(throttled) => return Ok(Checked::Throttled(throttled)),
    };
    match ctx.hasher().verify(password, stored).await? {
        Verification::Match { needs_upgrade } => Ok(Checked::Right {
            needs_upgrade,
            attempt,
        }),
        Verification::Mismatch => {
            attempt.record_failure(now_secs()).await?;
            Ok(Checked::Wrong)
        }
    }
}

/// `result`, with `attempt` still to settle; on an error `attempt` is left undecided (a
/// store that cannot be written, a locked account: nothing about a guess) and the error
/// comes back.
pub(super) fn or_undecided<'a, T>(
    attempt: Attempt<'a>,
    result: Result<T>,
) -> Result<(T, Attempt<'a>)> {
    match result {
        Ok(value) => Ok((value, attempt)),
        Err(e) => {
            attempt.undecided();
            Err(e)
        }
    }
}
