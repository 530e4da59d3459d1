//! Sessions: tokens in cookies, and what the server keeps of them, one file per session
//! under `credentials/sessions/` named by the SHA-256 of the token (never the token
//! itself). The store itself is [`SessionStore`] (`session/store.rs`), its in-memory cache
//! `session/cache.rs`, and the index of each account's sessions `session/index.rs`.
//!
//! A session is bound to its account: it records a [`binding`] of the account's secret (a
//! password hash) and created time, and stands only while the account still has them, so
//! a password changed or an account re-created by any program ends it.

use std::fmt;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod cache;
mod index;
mod store;

pub use store::SessionStore;

/// The cookie that carries the session token.
pub const COOKIE_NAME: &str = "llms-token";

/// Length of a token: 32 bytes in URL-safe base64 without padding.
pub const TOKEN_LEN: usize = 43;

/// How stale the last-seen time on disk may get before it is rewritten.
pub(crate) const LAST_SEEN_PERSIST_INTERVAL: f64 = 300.0;

/// The most live sessions one account may hold: a new sign-in beyond it ends the oldest.
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 100;

/// What a session is bound to: a digest of its account's `secret` (the password hash, or a
/// provider's own account id) and the account's `created` time. A session records the
/// binding of its account at sign-in, and stands only while the account's is the same: a
/// password changed, or an account removed and made again, by this server, the command
/// line, llms.py or an editor, ends it. (The first 8 bytes, little-endian, of
/// SHA-256 of `llms-session-binding`, NUL, the secret, NUL, and the created time's `f64`
/// bits, little-endian; in the session file as 16 lowercase hex digits.)
pub fn binding(secret: &str, created: f64) -> u64 {
    let digest = Sha256::new()
        .chain_update(b"llms-session-binding\0")
        .chain_update(secret.as_bytes())
        .chain_update([0])
        .chain_update(created.to_bits().to_le_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// An account's [`binding`], remembered with the exact secret and created time it was
/// computed from and given back only for those same two: a changed password, or any other
/// secret or time, computes it again, so it cannot go stale whatever changes the record it
/// sits in. Every authenticated request checks its session's binding; this saves hashing
/// the password hash each time. A clone starts empty; it takes no part in equality.
#[derive(Default)]
pub struct BindingMemo(OnceLock<Remembered>);

struct Remembered {
    secret: Box<str>,
    created: u64,
    binding: u64,
}

impl BindingMemo {
    /// [`binding`]`(secret, created)`, remembered from the first call.
    pub fn binding(&self, secret: &str, created: f64) -> u64 {
        let remembered = self.0.get_or_init(|| Remembered {
            secret: secret.into(),
            created: created.to_bits(),
            binding: binding(secret, created),
        });
        if *remembered.secret == *secret && remembered.created == created.to_bits() {
            remembered.binding
        } else {
            binding(secret, created)
        }
    }
}

impl Clone for BindingMemo {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for BindingMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for BindingMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BindingMemo")
    }
}

/// A session token. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    /// 32 fresh bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts exactly 43 characters of `[A-Za-z0-9_-]`; anything else is no token.
    pub fn parse(value: &str) -> Option<Self> {
        is_token_shaped(value).then(|| Self(value.to_owned()))
    }

    /// The key of the token `value`, if it is one: [`SessionToken::parse`] followed by
    /// [`SessionToken::key`], without keeping a copy of the token.
    pub fn key_of(value: &str) -> Option<SessionKey> {
        PresentedToken::parse(value).map(|token| token.key())
    }

    /// The token text, for the `Set-Cookie` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key the session is stored under.
    pub fn key(&self) -> SessionKey {
        SessionKey::of(self.0.as_bytes())
    }
}

/// A well-formed token as a request's cookie presents it, kept by value so that the
/// request's facts can be copied, and hashed into its [`SessionKey`] only when someone
/// asks which session it names (a server with authentication off never does). Its `Debug`
/// never shows the value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PresentedToken([u8; TOKEN_LEN]);

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedToken(<redacted>)")
    }
}

impl PresentedToken {
    /// Accepts exactly what [`SessionToken::parse`] accepts.
    pub fn parse(value: &str) -> Option<Self> {
        if !is_token_shaped(value) {
            return None;
        }
        value.as_bytes().try_into().ok().map(Self)
    }

    /// The key the session is stored under (the same as [`SessionToken::key`]'s).
    pub fn key(&self) -> SessionKey {
        SessionKey::of(&self.0)
    }
}

fn is_token_shaped(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// SHA-256 of a token: names the session file and keys the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey([u8; 32]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}..)", &self.hex()[..8])
    }
}

impl SessionKey {
    fn of(token: &[u8]) -> Self {
        Self(Sha256::digest(token).into())
    }

    /// The digest itself (the PostgreSQL store's primary key).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key whose digest is `bytes`, when they are 32.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// Lowercase hex, the file's name without extension.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    fn from_file_name(name: &str) -> Option<Self> {
        Self::from_hex(name.strip_suffix(".json")?)
    }

    fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

/// What a session file holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// The signed-in user.
    #[serde(rename = "userName")]
    pub username: String,
    /// The provider that signed the user in.
    #[serde(default)]
    pub provider: String,
    /// Unix seconds of the sign-in.
    pub created: f64,
    /// Unix seconds of the last request seen (persisted at most every few minutes).
    #[serde(rename = "lastSeen", default)]
    pub last_seen: f64,
    /// Client address at sign-in.
    #[serde(rename = "clientIp", default)]
    pub client_ip: String,
    /// User agent at sign-in.
    #[serde(rename = "userAgent", default)]
    pub user_agent: String,
    /// The account's [`binding`] at sign-in; a session without one (from before sessions
    /// were bound) is not accepted.
    #[serde(default, with = "hex_binding", skip_serializing_if = "Option::is_none")]
    pub binding: Option<u64>,
}

/// A binding in a session file: 16 lowercase hex digits.
mod hex_binding {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_str(&format!("{value:016x}")),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        Ok(text.and_then(|text| {
            (text.len() == 16)
                .then(|| u64::from_str_radix(&text, 16).ok())
                .flatten()
        }))
    }
}

/// A live session found for a token.
#[derive(Debug, Clone)]
pub struct FoundSession {
    /// The session's key.
    pub key: SessionKey,
    /// The signed-in user.
    pub username: String,
    /// The provider that signed the user in.
    pub provider: String,
    /// The account's [`binding`] the session was made with (0 when the file has none: no
    /// account's binding).
    pub binding: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presented_token_names_the_session_of_the_token_and_hides_it() {
        let token = SessionToken::generate();
        let presented = PresentedToken::parse(token.expose()).expect("well-formed");
        assert_eq!(presented.key(), token.key());
        assert!(!format!("{presented:?}").contains(token.expose()));
        for bad in [
            "",
            "short",
            &format!("{}x", token.expose()),
            &"!".repeat(TOKEN_LEN),
        ] {
            assert_eq!(PresentedToken::parse(bad), None, "{bad:?}");
            assert_eq!(SessionToken::parse(bad), None, "{bad:?}");
        }
    }
}
