//! Password hashing and verification.
//!
//! New hashes are Argon2id PHC strings. The reference's `salt:sha256hex` format (salt text
//! prepended to the password, SHA-256, lowercase hex) always verifies and is reported as
//! needing an upgrade. `LLMS_PASSWORD_HASH=sha256` writes the reference format instead.
//!
//! Hashing is slow by design, so [`PasswordHasher`] runs it on the blocking pool with a
//! bounded number of hashes at a time.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// The longest password accepted, in bytes. Longer input is refused before any hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Argon2id memory cost in KiB (OWASP's minimum).
const ARGON2_M_KIB: u32 = 19_456;
/// Argon2id iterations.
const ARGON2_T: u32 = 2;
/// Argon2id lanes.
const ARGON2_P: u32 = 1;

/// Which format new password hashes are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashScheme {
    /// Argon2id PHC strings (the default).
    #[default]
    Argon2id,
    /// The reference's `salt:sha256hex`, for a users.json shared with llms.py.
    Sha256,
}

impl HashScheme {
    /// Parses `LLMS_PASSWORD_HASH`: `argon2id` (or empty) or `sha256`.
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "argon2id" | "argon2" => Ok(Self::Argon2id),
            "sha256" => Ok(Self::Sha256),
            other => Err(Error::Config(format!(
                "LLMS_PASSWORD_HASH must be 'argon2id' or 'sha256', not '{other}'"
            ))),
        }
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right.
    Match {
        /// The stored hash is in an older format and should be replaced.
        needs_upgrade: bool,
    },
    /// The password is wrong (or the stored hash is unusable).
    Mismatch,
}

impl Verification {
    /// Whether the password was right.
    pub fn is_match(self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

/// Refuses empty and over-long passwords with a message for the user.
pub fn check_password_rules(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::bad_request("Password cannot be empty."));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::bad_request(format!(
            "Password is too long (at most {MAX_PASSWORD_BYTES} bytes)."
        )));
    }
    Ok(())
}

/// Refuses a password that is not acceptable as a new one: empty, over-long, or shorter
/// than `min_chars` characters (`LLMS_MIN_PASSWORD_LENGTH`). Existing passwords are never
/// held to this: only new ones.
pub fn check_new_password(password: &str, min_chars: usize) -> Result<()> {
    check_password_rules(password)?;
    let chars = password.chars().count();
    if chars < min_chars {
        return Err(Error::bad_request(format!(
            "Password is too short: use at least {min_chars} characters."
        )));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` in `scheme`. Slow for Argon2id: call from blocking code.
pub fn hash_password(password: &str, scheme: HashScheme) -> Result<String> {
    check_password_rules(password)?;
    match scheme {
        HashScheme::Argon2id => {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| Error::Internal(anyhow::anyhow!("argon2 hashing failed: {e}")))
        }
        HashScheme::Sha256 => {
            let mut salt = [0u8; 16];
            OsRng.fill_bytes(&mut salt);
            let salt = hex::encode(salt);
            Ok(format!("{salt}:{}", legacy_digest(&salt, password)))
        }
    }
}

fn legacy_digest(salt: &str, password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(password.as_bytes());
    hex::encode(hasher.finalize())
}

/// Checks `password` against `stored` (Argon2id PHC or reference `salt:hex`), in constant
/// time. An unusable stored hash never matches. Slow: call from blocking code.
pub fn verify_password(password: &str, stored: &str, scheme: HashScheme) -> Verification {
    if password.len() > MAX_PASSWORD_BYTES {
        return Verification::Mismatch;
    }
    if stored.starts_with('$') {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Verification::Mismatch;
        };
        return match argon2().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Verification::Match {
                needs_upgrade: false,
            },
            Err(_) => Verification::Mismatch,
        };
    }
    let Some((salt, digest)) = stored.split_once(':') else {
        return Verification::Mismatch;
    };
    let computed = legacy_digest(salt, password);
    let stored_digest = digest.to_ascii_lowercase();
    if computed.as_bytes().ct_eq(stored_digest.as_bytes()).into() {
        Verification::Match {
            needs_upgrade: scheme == HashScheme::Argon2id,
        }
    } else {
        Verification::Mismatch
    }
}

/// A fixed Argon2id hash of a random password, verified against when the username is
/// unknown so that the answer takes as long as for a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 24];
        OsRng.fill_bytes(&mut random);
        hash_password(&hex::encode(random), HashScheme::Argon2id)
            .expect("hashing a random password cannot fail")
    })
}

/// Runs hashing and verification on the blocking pool, a bounded number at a time, so a
/// burst of sign-ins cannot stall the async runtime or exhaust memory.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    scheme: HashScheme,
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    /// A hasher writing `scheme` hashes, running at most `concurrency` at once.
    pub fn new(scheme: HashScheme, concurrency: usize) -> Self {
        Self {
            scheme,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The scheme new hashes are written in.
    pub fn scheme(&self) -> HashScheme {
        self.scheme
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String> {
        check_password_rules(&password)?;
        let scheme = self.scheme;
        self.run(move || hash_password(&password, scheme)).await?
    }

    /// Verifies a password; with `stored == None` verifies against the dummy hash and
    /// always answers [`Verification::Mismatch`].
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verification> {
        let scheme = self.scheme;
        self.run(move || match stored {
            Some(stored) => {
                let verification = verify_password(&password, &stored, scheme);
                // A reference (or unusable) hash checks in microseconds: spend the same
                // Argon2id time as for an unknown user, so the timing names nobody.
                if !stored.starts_with('$') {
                    let _ = verify_password(&password, dummy_hash(), scheme);
                }
                verification
            }
            None => {
                let _ = verify_password(&password, dummy_hash(), scheme);
                Verification::Mismatch
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("hasher closed: {e}")))?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_hash_computed_by_hand_verifies() {
        // salt text + password, SHA-256, lowercase hex: the reference's recipe.
        let salt = "0123456789abcdef0123456789abcdef";
        let digest = hex::encode(Sha256::digest(format!("{salt}hunter2").as_bytes()));
        let stored = format!("{salt}:{digest}");
        assert_eq!(
            verify_password("hunter2", &stored, HashScheme::Argon2id),
            Verification::Match {
                needs_upgrade: true
            }
        );
        assert_eq!(
            verify_password("hunter2", &stored, HashScheme::Sha256),
            Verification::Match {
                needs_upgrade: false
            }
        );
        assert_eq!(
            verify_password("hunter3", &stored, HashScheme::Argon2id),
            Verification::Mismatch
        );
    }

    #[test]
    fn known_reference_vector() {
        // sha256("abc" + "password") computed independently.
        let stored = "abc:d26a8e3d2c4e0c3e1f2e0e1d7c5b4a6a";
        assert_eq!(
            verify_password("password", stored, HashScheme::Argon2id),
            Verification::Mismatch
        );
        let good = format!("abc:{}", hex::encode(Sha256::digest(b"abcpassword")));
        assert!(verify_password("password", &good, HashScheme::Argon2id).is_match());
    }

    #[test]
    fn new_hashes_are_argon2id_with_owasp_parameters() {
        let hash = hash_password("correct horse", HashScheme::Argon2id).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            verify_password("correct horse", &hash, HashScheme::Argon2id),
            Verification::Match {
                needs_upgrade: false
            }
        );
        assert!(!verify_password("correct horsE", &hash, HashScheme::Argon2id).is_match());
    }

    #[test]
    fn sha256_scheme_writes_reference_format() {
        let hash = hash_password("pw", HashScheme::Sha256).unwrap();
        let (salt, digest) = hash.split_once(':').unwrap();
        assert_eq!(salt.len(), 32);
        assert!(salt
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(digest, hex::encode(Sha256::digest(format!("{salt}pw"))));
    }

    #[test]
    fn unusable_hashes_never_match() {
        for stored in ["", "nocolon", "$argon2id$garbage", ":"] {
            assert!(!verify_password("", stored, HashScheme::Argon2id).is_match());
            assert!(!verify_password("x", stored, HashScheme::Argon2id).is_match());
        }
    }

    #[test]
    fn empty_and_huge_passwords_are_refused() {
        assert!(hash_password("", HashScheme::Argon2id).is_err());
        let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(hash_password(&huge, HashScheme::Argon2id).is_err());
        let err = check_password_rules(&huge).unwrap_err().to_string();
        assert!(err.contains("too long"), "{err}");
    }

    #[test]
    fn scheme_parsing() {
        assert_eq!(HashScheme::parse("").unwrap(), HashScheme::Argon2id);
        assert_eq!(HashScheme::parse("SHA256").unwrap(), HashScheme::Sha256);
        assert!(HashScheme::parse("md5").is_err());
    }

    #[tokio::test]
    async fn hasher_runs_off_the_runtime() {
        let hasher = PasswordHasher::new(HashScheme::Argon2id, 2);
        let hash = hasher.hash("pw".into()).await.unwrap();
        assert!(hasher
            .verify("pw".into(), Some(hash))
            .await
            .unwrap()
            .is_match());
        assert_eq!(
            hasher.verify("pw".into(), None).await.unwrap(),
            Verification::Mismatch
        );
    }
}
