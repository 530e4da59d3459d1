//! An authenticator app, for the tests: the RFC 6238 code of a base32 secret at a time,
//! computed by `totp-rs` with its own 30-second step (not through the server's code).

use totp_rs::{Algorithm, Builder, Secret};

/// The 6-digit code an authenticator app shows for `secret` (base32) at Unix time `at`.
pub fn totp_at(secret: &str, at: f64) -> String {
    let bytes = Secret::try_from_base32(secret).expect("a base32 secret");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(0)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .expect("a TOTP generator")
        .generate(at as u64)
        .to_string()
}

/// The code of the step after the current one: accepted for clock drift, and never the
/// code of a step already used by the current one.
pub fn next_totp(secret: &str) -> String {
    totp_at(secret, super::now_secs() + 30.0)
}

/// The code of the current step.
pub fn current_totp(secret: &str) -> String {
    totp_at(secret, super::now_secs())
}
