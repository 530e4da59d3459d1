//! Generated homes for the load test and the benches: users in llms.py's format and
//! session files named the way the server names them, with tokens anyone can recompute.

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use llms_auth::internals::{now_secs, SessionStore};
use llms_auth::password::{hash_password, HashScheme};
use llms_auth::session::SessionRecord;
use llms_auth::users::{serialize_users, User, Users};
use sha2::{Digest, Sha256};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The deterministic token of session `i` (43 URL-safe base64 characters).
pub fn token(i: usize) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("loadtest-session-{i}")))
}

/// Writes `users` users (reference sha256 hashes of "pw"; user 0 is `bench`, an Admin) and
/// `sessions` session files under `home`, session `i` of user `i % users`, each bound to
/// its account as the server binds them, and the index of each account's sessions. The
/// sessions were signed in over the past 20 days and were all last seen now, so none
/// expires and none is due for a last-seen rewrite during the next five minutes.
pub fn generate(home: &Path, users: usize, sessions: usize) -> Result<()> {
    let credentials = home.join("credentials");
    let session_dir = credentials.join("sessions");
    std::fs::create_dir_all(&session_dir)?;
    let mut store = Users::new();
    let hash = hash_password("pw", HashScheme::Sha256)?;
    for i in 0..users {
        let (name, roles) = match i {
            0 => ("bench".to_owned(), vec!["Admin".to_owned()]),
            _ => (format!("user{i:05}"), vec![]),
        };
        store.insert(name, User::new(hash.clone(), roles));
    }
    std::fs::write(credentials.join("users.json"), serialize_users(&store)?)?;
    let now = now_secs();
    let accounts: Vec<(&String, &User)> = store.iter().collect();
    for i in 0..sessions {
        let (name, user) = accounts[i % accounts.len()];
        let record = SessionRecord {
            username: name.clone(),
            provider: "credentials".to_owned(),
            created: now - (i % 20) as f64 * 86_400.0 - (i % 997) as f64,
            last_seen: now,
            client_ip: "127.0.0.1".to_owned(),
            user_agent: "loadtest".to_owned(),
            binding: Some(user.binding()),
        };
        let key = hex::encode(Sha256::digest(token(i).as_bytes()));
        std::fs::write(
            session_dir.join(format!("{key}.json")),
            serde_json::to_vec_pretty(&record)?,
        )?;
    }
    // The index of each account's sessions, as the server keeps it, so that no server
    // started on this home spends its first seconds building it.
    SessionStore::new(session_dir, Duration::from_secs(30 * 86_400)).ensure_index()?;
    Ok(())
}

/// The same accounts and session tokens as [`generate`] makes with `users` and
/// `sessions`, laid out for llms.py 4.0.26: `user/default/credentials/users.json`, and one
/// file per session named by its token (llms.py keeps the token itself), signed in now.
pub fn generate_reference(home: &Path, users: usize, sessions: usize) -> Result<()> {
    let ours = tempfile::tempdir()?;
    generate(ours.path(), users, sessions)?;
    let credentials = home.join("user/default/credentials");
    let session_dir = credentials.join("sessions");
    std::fs::create_dir_all(&session_dir)?;
    let users_json = std::fs::read(ours.path().join("credentials/users.json"))?;
    std::fs::write(credentials.join("users.json"), &users_json)?;
    let store: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&users_json)?;
    let accounts: Vec<(&String, &serde_json::Value)> = store.iter().collect();
    for i in 0..sessions {
        let (name, user) = accounts[i % accounts.len()];
        let session = serde_json::json!({
            "userId": name,
            "userName": name,
            "displayName": name,
            "profileUrl": "/avatar/user",
            "roles": user["roles"],
            "lastIp": "127.0.0.1",
            "created": now_secs(),
        });
        std::fs::write(
            session_dir.join(format!("{}.json", token(i))),
            serde_json::to_vec_pretty(&session)?,
        )?;
    }
    Ok(())
}
