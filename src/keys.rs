//! API keys: what OpenAI-compatible clients (SDKs, coding agents, curl) sign in with.
//!
//! A key is `sk-llms-` and 43 characters of URL-safe base64 (32 random bytes). It is shown
//! once, when made; `credentials/keys.json` (a [`JsonStore`]: 0600, atomic, locked) keeps
//! only its SHA-256, with a public id, its owner, name, hint, creation and expiry, when it
//! was last used (written at most once a minute), and the models and requests per minute
//! it allows. A key acts as its owner: a locked or removed owner's keys stop at once.

mod limiter;
mod ring;

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use indexmap::IndexMap;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use limiter::RateLimiter;
pub use ring::{KeyRing, KeyVerdict, ValidKey};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::json_store::JsonStore;
use crate::stores::DocumentStore;
use crate::time::now_secs;

/// What every key starts with.
pub const KEY_PREFIX: &str = "sk-llms-";

/// Length of the secret part: 32 bytes in URL-safe base64 without padding.
pub const SECRET_LEN: usize = 43;

/// The longest name a key may have.
pub const MAX_KEY_NAME_CHARS: usize = 100;

/// The most days a key may be made to last.
pub const MAX_EXPIRES_DAYS: u32 = 3650;

/// The highest requests-per-minute limit a key may have.
pub const MAX_RPM: u32 = 100_000;

/// A key as its owner receives it once. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

impl ApiKeySecret {
    /// A fresh key from 32 bytes of the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The key text, for the one answer that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the key is kept as.
    pub fn hash(&self) -> [u8; 32] {
        key_hash(&self.0)
    }

    /// What lists show of it: the prefix, the first and the last 4 characters of the secret.
    pub fn hint(&self) -> String {
        let secret = &self.0[KEY_PREFIX.len()..];
        format!(
            "{KEY_PREFIX}{}…{}",
            &secret[..4],
            &secret[secret.len() - 4..]
        )
    }
}

/// The SHA-256 of a presented key text, whatever it is: a malformed or unknown key costs
/// the same as a known one.
pub fn key_hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Whether `text` has a key's shape: the prefix and 43 characters of `[A-Za-z0-9_-]`.
pub fn is_key_shaped(text: &str) -> bool {
    text.strip_prefix(KEY_PREFIX).is_some_and(|secret| {
        secret.len() == SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A fresh public id: 12 lowercase hex characters, random, not derived from the key.
fn new_id() -> String {
    let mut bytes = [0u8; 6];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// One key as `keys.json` keeps it (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The owner's username.
    #[serde(rename = "userName")]
    pub user_name: String,
    /// The provider that signs the owner in (`credentials` unless another).
    #[serde(default = "default_provider")]
    pub provider: String,
    /// The owner's name for it.
    pub name: String,
    /// Lowercase hex SHA-256 of the key.
    pub hash: String,
    /// What lists show: `sk-llms-AbCd…wxYz`.
    pub hint: String,
    /// Unix seconds it was made.
    pub created: f64,
    /// Unix seconds it stops working; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<f64>,
    /// Unix seconds it was last used (written at most once a minute).
    #[serde(rename = "lastUsed", default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<f64>,
    /// The model ids it may use; absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Requests per minute it may make; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Fields this crate does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_provider() -> String {
    crate::providers::credentials::NAME.to_owned()
}

impl ApiKey {
    /// Whether the key is one of `user_name`'s, signed in by `provider`.
    pub fn belongs_to(&self, user_name: &str, provider: &str) -> bool {
        self.user_name == user_name && self.provider == provider
    }

    /// Whether the key has stopped working at `now`.
    pub fn is_expired(&self, now: f64) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }

    /// What a request made with this key (its id) may do.
    pub fn grant(&self, id: &str) -> KeyGrant {
        KeyGrant {
            id: id.to_owned(),
            models: self.models.clone(),
            rpm: self.rpm,
        }
    }

    /// How lists show the key (`id` beside): everything but the hash.
    pub fn to_json(&self, id: &str) -> Value {
        serde_json::json!({
            "id": id,
            "name": self.name,
            "hint": self.hint,
            "created": self.created,
            "expires": self.expires,
            "lastUsed": self.last_used,
            "models": self.models,
            "rpm": self.rpm,
        })
    }
}

/// What a request made with a key may do, kept in its extensions for the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// The key's public id.
    pub id: String,
    /// The models it may use; `None`: all.
    pub models: Option<Vec<String>>,
    /// Its requests per minute; `None`: no limit.
    pub rpm: Option<u32>,
}

impl KeyGrant {
    /// Whether the key may use `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|models| models.iter().any(|m| m == model))
    }
}

/// Every key, by id, in file order.
pub type Keys = IndexMap<String, ApiKey>;

/// `credentials/keys.json`.
pub type KeyStore = DocumentStore<ApiKey>;

/// The key store of `config`.
pub fn open_store(config: &Config) -> KeyStore {
    DocumentStore::Files(JsonStore::at(
        config.credentials_dir().join("keys.json"),
        "API keys",
    ))
}

/// What a new key is asked to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    /// Its name.
    pub name: String,
    /// How many days it lasts; `None`: until revoked.
    pub expires_days: Option<u32>,
    /// The models it may use; `None`: all.
    pub models: Option<Vec<String>>,
    /// Requests per minute; `None`: no limit.
    pub rpm: Option<u32>,
}

impl NewKey {
    /// Checks the request: a name (1 to 100 characters, no control characters), an expiry
    /// of 1 to 3650 days, model ids that are not blank, an rpm of 1 to 100,000.
    pub fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Error::bad_request("A key needs a name."));
        }
        if name.chars().count() > MAX_KEY_NAME_CHARS {
            return Err(Error::bad_request(format!(
                "A key's name has at most {MAX_KEY_NAME_CHARS} characters."
            )));
        }
        if name.chars().any(crate::text::is_unprintable) {
            return Err(Error::bad_request(
                "A key's name may not contain control characters.",
            ));
        }
        if let Some(days) = self.expires_days {
            if !(1..=MAX_EXPIRES_DAYS).contains(&days) {
                return Err(Error::bad_request(format!(
                    "A key lasts 1 to {MAX_EXPIRES_DAYS} days."
                )));
            }
        }
        if let Some(models) = &self.models {
            if models.is_empty() {
                return Err(Error::bad_request(
                    "List the models the key may use, or leave the list out for all.",
                ));
            }
            if models
                .iter()
                .any(|m| m.trim().is_empty() || m.len() > 200 || m.chars().any(char::is_control))
            {
                return Err(Error::bad_request("A model id is blank or not text."));
            }
        }
        if let Some(rpm) = self.rpm {
            if !(1..=MAX_RPM).contains(&rpm) {
                return Err(Error::bad_request(format!(
                    "A key's requests per minute are 1 to {MAX_RPM}."
                )));
            }
        }
        Ok(())
    }
}

/// A key just made: its id, its record, and the key itself (shown this once).
#[derive(Debug)]
pub struct MadeKey {
    /// The public id.
    pub id: String,
    /// What `keys.json` keeps.
    pub record: ApiKey,
    /// The key.
    pub secret: ApiKeySecret,
}

impl MadeKey {
    /// The one answer that shows the key: the record's fields and `key`.
    pub fn to_json(&self) -> Value {
        let mut json = self.record.to_json(&self.id);
        json["key"] = Value::from(self.secret.expose());
        json
    }
}

/// Makes a key for `user_name` (of `provider`) as `request` asks, and adds it to `keys`.
/// Call inside the store's read-modify-write. The request must have been validated.
pub fn add_key(keys: &mut Keys, user_name: &str, provider: &str, request: &NewKey) -> MadeKey {
    let secret = ApiKeySecret::generate();
    let now = now_secs();
    let mut id = new_id();
    while keys.contains_key(&id) {
        id = new_id();
    }
    let record = ApiKey {
        user_name: user_name.to_owned(),
        provider: provider.to_owned(),
        name: request.name.trim().to_owned(),
        hash: hex::encode(secret.hash()),
        hint: secret.hint(),
        created: now,
        expires: request
            .expires_days
            .map(|days| now + f64::from(days) * 86_400.0),
        last_used: None,
        models: request
            .models
            .as_ref()
            .map(|m| m.iter().map(|id| id.trim().to_owned()).collect()),
        rpm: request.rpm,
        extra: Map::new(),
    };
    keys.insert(id.clone(), record.clone());
    MadeKey { id, record, secret }
}

/// Removes every key of `user_name` (of `provider`) from `keys`; returns their ids.
pub fn remove_keys_of(keys: &mut Keys, user_name: &str, provider: &str) -> Vec<String> {
    let ids: Vec<String> = keys
        .iter()
        .filter(|(_, key)| key.belongs_to(user_name, provider))
        .map(|(id, _)| id.clone())
        .collect();
    for id in &ids {
        keys.shift_remove(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape_and_hint() {
        let secret = ApiKeySecret::generate();
        let text = secret.expose();
        assert!(text.starts_with("sk-llms-"), "{text}");
        assert_eq!(text.len(), KEY_PREFIX.len() + SECRET_LEN);
        assert!(is_key_shaped(text));
        let hint = secret.hint();
        assert_eq!(hint.chars().count(), KEY_PREFIX.len() + 4 + 1 + 4);
        assert!(hint.starts_with(&text[..12]) && hint.ends_with(&text[text.len() - 4..]));
        assert!(!format!("{secret:?}").contains(&text[8..]));
        for bad in [
            "",
            "sk-llms-",
            &format!("sk-llms-{}", "a".repeat(42)),
            &format!("sk-llms-{}", "a".repeat(44)),
            &format!("sk-llms-{}=", "a".repeat(42)),
            &format!("sk-other{}", "a".repeat(43)),
        ] {
            assert!(!is_key_shaped(bad), "{bad}");
        }
    }

    #[test]
    fn a_made_key_is_kept_only_as_its_hash_with_a_random_id() {
        let mut keys = Keys::new();
        let request = NewKey {
            name: " laptop ".into(),
            expires_days: Some(30),
            models: Some(vec!["llama3".into()]),
            rpm: Some(60),
        };
        let made = add_key(&mut keys, "alice", "credentials", &request);
        assert_eq!(made.id.len(), 12);
        assert!(made
            .id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let stored = serde_json::to_string(&keys).unwrap();
        assert!(!stored.contains(made.secret.expose()), "the key at rest");
        assert!(stored.contains(&hex::encode(key_hash(made.secret.expose()))));
        assert_eq!(made.record.name, "laptop");
        let expires = made.record.expires.unwrap();
        assert!((expires - made.record.created - 30.0 * 86_400.0).abs() < 1.0);
        let grant = made.record.grant(&made.id);
        assert!(grant.allows_model("llama3") && !grant.allows_model("gpt-4"));
        assert_eq!(made.to_json()["key"], made.secret.expose());
        assert!(made.record.to_json(&made.id).get("key").is_none());
        assert!(made.record.to_json(&made.id).get("hash").is_none());
        let other = add_key(
            &mut keys,
            "bob",
            "credentials",
            &NewKey {
                name: "ci".into(),
                ..NewKey::default()
            },
        );
        assert_ne!(other.id, made.id);
        assert_eq!(remove_keys_of(&mut keys, "alice", "credentials"), [made.id]);
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn requests_for_keys_are_checked() {
        let ok = NewKey {
            name: "k".into(),
            ..NewKey::default()
        };
        assert!(ok.validate().is_ok());
        for (bad, message) in [
            (
                NewKey {
                    name: " ".into(),
                    ..ok.clone()
                },
                "needs a name",
            ),
            (
                NewKey {
                    name: "x".repeat(101),
                    ..ok.clone()
                },
                "at most 100",
            ),
            (
                NewKey {
                    name: "a\u{1b}b".into(),
                    ..ok.clone()
                },
                "control",
            ),
            (
                NewKey {
                    expires_days: Some(0),
                    ..ok.clone()
                },
                "1 to 3650 days",
            ),
            (
                NewKey {
                    models: Some(vec![]),
                    ..ok.clone()
                },
                "leave the list out",
            ),
            (
                NewKey {
                    models: Some(vec![" ".into()]),
                    ..ok.clone()
                },
                "blank",
            ),
            (
                NewKey {
                    rpm: Some(0),
                    ..ok.clone()
                },
                "1 to 100000",
            ),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }
}
