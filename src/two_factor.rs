//! Two-factor sign-in: TOTP codes (RFC 6238) and one-time recovery codes.
//!
//! Codes are HMAC-SHA-1, 6 digits, 30-second steps, as every authenticator app reads them
//! from an `otpauth://` URL ([`otpauth_url`], shown as a QR code by [`qr_svg`]). A code of
//! the step before or after the server's is accepted too (one step of clock drift each
//! way), and each step at most once: [`verify`] returns the step it matched, which the
//! caller keeps as the account's last used step.
//!
//! Recovery codes stand in for a lost authenticator: [`RECOVERY_CODES`] of them, shown
//! once, kept only as hashes ([`recovery_code_hash`]), each spent when used.
//!
//! This floor knows nothing of users or HTTP: it computes and compares, the account code
//! stores the results.

use std::fmt;

use anyhow::anyhow;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::error::{Error, Result};

/// How many recovery codes an account gets.
pub const RECOVERY_CODES: usize = 10;

/// Seconds in one TOTP step.
const STEP_SECONDS: u64 = 30;
/// Digits in a TOTP code.
const CODE_DIGITS: usize = 6;
/// Bytes of a new TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// The shortest secret accepted, in bytes (128 bits, RFC 4226's minimum).
const MIN_SECRET_BYTES: usize = 16;
/// The longest second-factor input read, in bytes; longer input is refused unread.
const MAX_INPUT_BYTES: usize = 64;
/// The 32 symbols of recovery codes: digits and lower-case letters without the look-alikes
/// `0 o 1 l`, so that each symbol carries 5 bits.
const RECOVERY_ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";
/// Symbols in a recovery code (50 bits), shown in two groups of five.
const RECOVERY_CODE_LEN: usize = 10;
/// Prefixed to a recovery code before hashing, so its hash matches no other hash.
const RECOVERY_HASH_DOMAIN: &str = "llms-recovery-code:";
/// What a user is told when what they typed is neither kind of code.
const BAD_CODE: &str =
    "The code must be the 6 digits from your authenticator app, or a recovery code";

/// A new random TOTP secret: 20 bytes from the OS RNG, as RFC 4648 base32 without padding
/// (32 upper-case characters).
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    Secret::from(bytes).to_base32()
}

/// The `otpauth://` URL authenticator apps read (Google's Key Uri Format):
/// `otpauth://totp/{issuer}:{account}?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30`,
/// with `issuer` and `account` percent-encoded.
pub fn otpauth_url(issuer: &str, account: &str, secret: &str) -> String {
    let issuer = percent_encode(issuer);
    let account = percent_encode(account);
    let secret = percent_encode(secret);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={CODE_DIGITS}&period={STEP_SECONDS}"
    )
}

/// `text` percent-encoded for a URL: every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) written as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The QR code of `text` as an SVG document: black modules on white, with a quiet zone,
/// at least 200 pixels square. Text too long for a QR code is an internal error.
pub fn qr_svg(text: &str) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|err| Error::Internal(anyhow!("cannot draw a QR code of the text: {err}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .min_dimensions(200, 200)
        .build())
}

/// The 30-second step of Unix time `now` (float seconds, as [`crate::time::now_secs`]
/// gives). A time before 1970 (or not a number) is step 0.
pub fn step_of(now: f64) -> u64 {
    // `as` saturates: negative and NaN become 0, and far futures the largest step.
    (now / STEP_SECONDS as f64).floor() as u64
}

/// The 6-digit code of `secret` (base32) for `step`. A secret that is not base32, or
/// shorter than 16 bytes, is an internal error (its text is not in the message).
pub fn code_at(secret: &str, step: u64) -> Result<String> {
    Ok(totp(secret)?.generate(step).to_string())
}

/// Checks a 6-digit `code` against `secret` at Unix time `now`: it is accepted for the
/// step of `now`, the one before and the one after, but only for a step greater than
/// `last_used_step`, so that no code is accepted twice, nor an older one after a newer.
///
/// Returns the matched step, which the caller keeps as the new `last_used_step`, or `None`
/// for a wrong, malformed or spent code. Codes are compared in constant time. A secret
/// that does not decode is an error, whatever the code.
pub fn verify(secret: &str, code: &str, now: f64, last_used_step: u64) -> Result<Option<u64>> {
    let current = step_of(now);
    let window = [
        current.checked_sub(1),
        Some(current),
        current.checked_add(1),
    ];
    // Every step of the window is computed and compared, matched or not (a malformed
    // code equals none of them); of two steps with the same code the later wins, so that
    // the code cannot be used once more.
    let mut matched = None;
    for step in window.into_iter().flatten() {
        let expected = code_at(secret, step)?;
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && step > last_used_step {
            matched = Some(step);
        }
    }
    Ok(matched)
}

/// The generator of `secret`'s codes. It counts in steps, not seconds: its step is one
/// "second" and it is given step numbers as times.
fn totp(secret: &str) -> Result<Totp> {
    let bytes = Secret::try_from_base32(secret)
        .map_err(|_| Error::Internal(anyhow!("the two-factor secret is not valid base32")))?;
    if bytes.as_bytes().len() < MIN_SECRET_BYTES {
        return Err(Error::Internal(anyhow!(
            "the two-factor secret is shorter than {MIN_SECRET_BYTES} bytes"
        )));
    }
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(CODE_DIGITS as u8)
        .with_skew(0)
        .with_step_duration(1)
        .with_secret(bytes)
        .build()
        .map_err(|err| Error::Internal(anyhow!("cannot make a TOTP generator: {err}")))
}

/// Whether `code` is exactly six ASCII digits.
fn is_totp_code(code: &str) -> bool {
    code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// What a user typed as a second factor, read strictly by [`parse_second_factor`].
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code from the authenticator app: exactly six ASCII digits.
    Totp(String),
    /// A recovery code, normalized: ten symbols of the recovery alphabet, lower-case,
    /// without the hyphen.
    Recovery(String),
}

impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The codes are secrets: only their kind is shown.
        match self {
            Self::Totp(_) => f.write_str("Totp(<redacted>)"),
            Self::Recovery(_) => f.write_str("Recovery(<redacted>)"),
        }
    }
}

/// Reads what a user typed as a second factor. Input over 64 bytes is refused unread;
/// otherwise surrounding whitespace is trimmed. Six digits, spaces between them allowed
/// ("123 456"), are a [`SecondFactor::Totp`]; ten symbols of the recovery alphabet, in
/// any case, hyphens and spaces ignored, are a [`SecondFactor::Recovery`]. Anything else
/// is a 400 saying what is expected.
pub fn parse_second_factor(input: &str) -> Result<SecondFactor> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(Error::bad_request(BAD_CODE));
    }
    let input = input.trim();
    let digits: String = input.chars().filter(|&c| c != ' ').collect();
    if is_totp_code(&digits) {
        return Ok(SecondFactor::Totp(digits));
    }
    normalize_recovery_code(input)
        .map(SecondFactor::Recovery)
        .ok_or_else(|| Error::bad_request(BAD_CODE))
}

/// `input` as a normalized recovery code (lower-case, hyphens and spaces dropped), if it
/// is exactly ten symbols of the recovery alphabet.
fn normalize_recovery_code(input: &str) -> Option<String> {
    let normalized: String = input
        .chars()
        .filter(|&c| c != '-' && c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = normalized.len() == RECOVERY_CODE_LEN
        && normalized.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    valid.then_some(normalized)
}

/// [`RECOVERY_CODES`] new, distinct recovery codes: each ten random symbols of a
/// 32-symbol alphabet without look-alikes (50 bits), shown as `xxxxx-xxxxx`. Returns the
/// codes as shown and their [hashes](recovery_code_hash), in the same order.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let mut normalized: Vec<String> = Vec::with_capacity(RECOVERY_CODES);
    while normalized.len() < RECOVERY_CODES {
        let code = random_recovery_code();
        if !normalized.contains(&code) {
            normalized.push(code);
        }
    }
    let hashes = normalized
        .iter()
        .map(|code| recovery_code_hash(code))
        .collect();
    let shown = normalized
        .iter()
        .map(|code| {
            let (first, second) = code.split_at(RECOVERY_CODE_LEN / 2);
            format!("{first}-{second}")
        })
        .collect();
    (shown, hashes)
}

/// Ten random symbols of the recovery alphabet, from the OS RNG.
fn random_recovery_code() -> String {
    let mut bytes = [0u8; RECOVERY_CODE_LEN];
    OsRng.fill_bytes(&mut bytes);
    // 256 is a multiple of 32: the low five bits of a random byte are uniform.
    bytes
        .iter()
        .map(|&b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
        .collect()
}

/// The hash kept of a normalized recovery code: SHA-256, lower-case hex, of the code
/// behind a fixed domain prefix.
pub fn recovery_code_hash(normalized: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(RECOVERY_HASH_DOMAIN.as_bytes());
    hasher.update(normalized.as_bytes());
    hex::encode(hasher.finalize())
}

/// Where in `stored` the hash of the normalized recovery code `normalized` is, if it is
/// there. Every stored hash is compared, in constant time.
pub fn find_recovery_code(stored: &[String], normalized: &str) -> Option<usize> {
    let hash = recovery_code_hash(normalized);
    let mut found = None;
    for (index, candidate) in stored.iter().enumerate() {
        let equal: bool = candidate.as_bytes().ct_eq(hash.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(index);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 secret, the ASCII "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn the_rfc_6238_sha1_vectors_give_their_last_six_digits() {
        assert_eq!(
            Secret::from(b"12345678901234567890".to_vec()).to_base32(),
            RFC_SECRET
        );
        for (time, code) in [
            (59.0, "287082"),
            (1_111_111_109.0, "081804"),
            (1_234_567_890.0, "005924"),
            (2_000_000_000.0, "279037"),
        ] {
            assert_eq!(
                code_at(RFC_SECRET, step_of(time)).unwrap(),
                code,
                "T={time}"
            );
        }
    }

    #[test]
    fn steps_are_thirty_seconds_and_never_negative() {
        assert_eq!(step_of(0.0), 0);
        assert_eq!(step_of(29.999), 0);
        assert_eq!(step_of(30.0), 1);
        assert_eq!(step_of(59.0), 1);
        assert_eq!(step_of(-5.0), 0);
        assert_eq!(step_of(f64::NAN), 0);
    }

    #[test]
    fn secrets_that_are_not_base32_or_short_are_refused() {
        assert!(code_at("not base32!", 1).is_err());
        assert!(code_at("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 1).is_err());
        // 15 bytes: 24 characters of base32.
        assert!(code_at(&RFC_SECRET[..24], 1).is_err());
        // 16 bytes (128 bits) is the shortest accepted.
        let sixteen = Secret::from([7u8; 16]).to_base32();
        assert_eq!(code_at(&sixteen, 1).unwrap().len(), 6);
        assert!(verify("not base32!", "123456", 59.0, 0).is_err());
    }

    #[test]
    fn a_new_secret_is_20_bytes_of_upper_case_base32() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        assert!(secret
            .bytes()
            .all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7')));
        assert_eq!(
            Secret::try_from_base32(&secret).unwrap().as_bytes().len(),
            20
        );
        assert_ne!(new_secret(), secret);
    }

    #[test]
    fn one_step_of_drift_is_accepted_each_way_and_two_are_not() {
        let now = 1_234_567_890.0;
        let step = step_of(now);
        for accepted in [step - 1, step, step + 1] {
            let code = code_at(RFC_SECRET, accepted).unwrap();
            assert_eq!(verify(RFC_SECRET, &code, now, 0).unwrap(), Some(accepted));
        }
        for refused in [step - 2, step + 2] {
            let code = code_at(RFC_SECRET, refused).unwrap();
            assert_eq!(verify(RFC_SECRET, &code, now, 0).unwrap(), None);
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_never_an_older_one_after_a_newer() {
        let now = 1_234_567_890.0;
        let step = step_of(now);
        let code = code_at(RFC_SECRET, step).unwrap();
        let used = verify(RFC_SECRET, &code, now, 0).unwrap().unwrap();
        assert_eq!(used, step);
        assert_eq!(verify(RFC_SECRET, &code, now, used).unwrap(), None);

        let newer = code_at(RFC_SECRET, step + 1).unwrap();
        let used = verify(RFC_SECRET, &newer, now, step - 1).unwrap().unwrap();
        assert_eq!(used, step + 1);
        let older = code_at(RFC_SECRET, step).unwrap();
        assert_eq!(verify(RFC_SECRET, &older, now, used).unwrap(), None);
    }

    #[test]
    fn wrong_and_malformed_codes_are_refused() {
        let now = 1_234_567_890.0;
        let right = code_at(RFC_SECRET, step_of(now)).unwrap();
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        for code in [wrong, "", "12345", "1234567", "abcdef", " 005924", "+05924"] {
            assert_eq!(verify(RFC_SECRET, code, now, 0).unwrap(), None, "{code:?}");
        }
    }

    #[test]
    fn six_digits_are_a_totp_code_spaces_allowed() {
        for input in ["123456", " 123 456 ", "\t123456\n"] {
            assert_eq!(
                parse_second_factor(input).unwrap(),
                SecondFactor::Totp("123456".to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn recovery_codes_are_read_in_any_case_with_or_without_hyphen() {
        for input in ["ABCDE-FGHJK", "ABCDEFGHJK", " abcde fghjk ", "aBcDe-FgHjK"] {
            assert_eq!(
                parse_second_factor(input).unwrap(),
                SecondFactor::Recovery("abcdefghjk".to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_message() {
        let too_long = "1".repeat(65);
        for input in [
            "",
            "   ",
            "12345",
            "1234567",
            "abcdef",
            "123-456",
            "abcde-fghjl",  // l is not in the alphabet
            "abcde-fghj0",  // nor 0
            "abcde-fghjko", // 11 symbols
            "abcde-fghjé",
            "١٢٣٤٥٦", // Arabic-Indic digits
            too_long.as_str(),
        ] {
            let err = parse_second_factor(input).unwrap_err();
            assert!(matches!(err, Error::BadRequest(_)), "{input:?}");
            assert_eq!(err.to_string(), BAD_CODE);
        }
        // 64 bytes are read: six digits padded with spaces.
        let padded = format!("{:<64}", "123456");
        assert!(parse_second_factor(&padded).is_ok());
    }

    #[test]
    fn the_debug_form_hides_the_code() {
        let totp = format!("{:?}", SecondFactor::Totp("123456".to_owned()));
        let recovery = format!("{:?}", SecondFactor::Recovery("abcdefghjk".to_owned()));
        assert!(!totp.contains("123456") && !recovery.contains("abcdefghjk"));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_found_by_their_hash_until_spent() {
        let (shown, mut hashes) = new_recovery_codes();
        assert_eq!(shown.len(), RECOVERY_CODES);
        assert_eq!(hashes.len(), RECOVERY_CODES);
        let mut distinct = shown.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for (index, code) in shown.iter().enumerate() {
            let (first, second) = code.split_once('-').unwrap();
            assert_eq!((first.len(), second.len()), (5, 5), "{code}");
            assert!(code
                .bytes()
                .all(|b| b == b'-' || RECOVERY_ALPHABET.contains(&b)));
            let SecondFactor::Recovery(normalized) = parse_second_factor(code).unwrap() else {
                panic!("{code} is not read as a recovery code");
            };
            assert_eq!(hashes[index], recovery_code_hash(&normalized));
            let upper = parse_second_factor(&code.to_uppercase()).unwrap();
            assert_eq!(upper, SecondFactor::Recovery(normalized.clone()));
            assert_eq!(find_recovery_code(&hashes, &normalized), Some(index));
        }
        let SecondFactor::Recovery(first) = parse_second_factor(&shown[0]).unwrap() else {
            unreachable!()
        };
        hashes.remove(0);
        assert_eq!(find_recovery_code(&hashes, &first), None);
    }

    #[test]
    fn the_recovery_hash_is_prefixed_sha256_hex() {
        let hash = recovery_code_hash("abcdefghjk");
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, hex::encode(Sha256::digest(b"abcdefghjk")));
        assert_eq!(
            hash,
            hex::encode(Sha256::digest(b"llms-recovery-code:abcdefghjk"))
        );
    }

    #[test]
    fn the_otpauth_url_encodes_issuer_and_account_and_carries_the_secret() {
        let url = otpauth_url("LLMS Gateway", "ann.o'neil+x@example.com", RFC_SECRET);
        assert_eq!(
            url,
            format!(
                "otpauth://totp/LLMS%20Gateway:ann.o%27neil%2Bx%40example.com?secret={RFC_SECRET}&issuer=LLMS%20Gateway&algorithm=SHA1&digits=6&period=30"
            )
        );
        assert!(
            otpauth_url("a:b&c", "é", RFC_SECRET).starts_with("otpauth://totp/a%3Ab%26c:%C3%A9?")
        );
    }

    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg = qr_svg(&otpauth_url("llms", "admin", &new_secret())).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("</svg>"));
        assert!(svg.contains("#000000") && svg.contains("#ffffff"));
        assert!(qr_svg(&"x".repeat(8000)).is_err());
    }
}
