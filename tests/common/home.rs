//! A temporary `LLMS_HOME`, the `llms` binary run on it, and fixtures written by hand in
//! the on-disk formats (as llms.py or an editor would write them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// How long after another program edits a store a running server is sure to see it: the
/// README promises "within a millisecond"; twice that, to be safe.
pub const EDIT_SEEN_WITHIN: Duration = Duration::from_millis(2);

/// The current time as float Unix seconds, as the stores write it.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64()
}

/// Prints a measured figure (`FIGURE ...` on standard error), for RELIABILITY.md.
pub fn figure(text: &str) {
    let _ = writeln!(std::io::stderr(), "FIGURE {text}");
}

/// The built `llms` binary.
pub fn llms_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llms"))
}

/// Runs `cmd` (standard input empty, output captured) to completion; kills it and fails
/// the test if it is still running after 30 seconds (a server that started instead of
/// refusing, say).
pub fn run_bounded(mut cmd: Command) -> std::process::Output {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            // The program and its arguments only: the environment may hold settings'
            // secrets.
            let args: Vec<_> = cmd.get_args().collect();
            panic!("{:?} {args:?} still running after 30 s", cmd.get_program());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The variables `llms` reads, removed from a child's environment so that the machine's
/// own settings never leak into a test.
pub const LLMS_VARIABLES: &[&str] = &[
    "GITHUB_ADMINS",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_USERS",
    "LLMS_AUTH",
    "LLMS_GITHUB_API_URL",
    "LLMS_GITHUB_OAUTH_URL",
    "LLMS_PASSWORD_HASH",
    "LLMS_TRUSTED_PROXIES",
    "LLMS_ALLOWED_HOSTS",
    "LLMS_HEADER_TIMEOUT_SECS",
    "LLMS_MAX_CONNECTIONS_PER_IP",
    "LLMS_BODY_TIMEOUT_SECS",
    "LLMS_MIN_PASSWORD_LENGTH",
    "LLMS_UPSTREAM",
    "LLMS_UPSTREAM_API_KEY",
    "LLMS_DATABASE_URL",
];

/// A temporary `LLMS_HOME`, removed when dropped.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    /// A fresh, empty home.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn users_file(&self) -> PathBuf {
        self.path().join("credentials/users.json")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.path().join("credentials/sessions")
    }

    /// `llms` with this home and a clean environment for the variables it reads.
    pub fn llms(&self) -> Command {
        let mut cmd = Command::new(llms_bin());
        self.clean_env(&mut cmd);
        cmd
    }

    /// Points `cmd` at this home, with none of the machine's `LLMS_*` settings.
    pub fn clean_env(&self, cmd: &mut Command) {
        cmd.env("LLMS_HOME", self.path()).env("LLMS_LOG", "warn");
        for variable in LLMS_VARIABLES {
            cmd.env_remove(variable);
        }
    }

    /// Runs `llms args...` with `stdin` as its standard input.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .llms()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn llms");
        // A program that exits without reading its input (a refused name, say) closes the
        // pipe early; that is not the test's failure.
        match child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
        {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => {}
        }
        child.wait_with_output().expect("wait llms")
    }

    /// Adds (or re-keys) a user with `--password-stdin`, asserting success.
    pub fn add_user(&self, name: &str, password: &str) {
        let out = self.run(
            &["--adduser", name, "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "adduser {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes an API key named `name` for `user` with `llms --addkey` (and `extra` flags
    /// such as `--models a,b`); returns the key, printed alone on the second line.
    pub fn add_key(&self, user: &str, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["--addkey", user, "--name", name];
        args.extend_from_slice(extra);
        let out = self.run(&args, "");
        assert!(
            out.status.success(),
            "addkey {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8 output");
        text.lines().nth(1).expect("the key line").trim().to_owned()
    }

    /// The parsed users.json.
    pub fn users_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.users_file()).expect("users.json");
        serde_json::from_str(&text).expect("users.json parses")
    }
}

/// A reference-format (`salt:sha256hex`) hash of `password`, computed here.
pub fn sha256_hash(password: &str) -> String {
    use sha2::{Digest, Sha256};
    let salt = "00112233445566778899aabbccddeeff";
    let digest = Sha256::digest(format!("{salt}{password}").as_bytes());
    format!("{salt}:{}", hex::encode(digest))
}

impl Home {
    /// Writes users.json from `(name, password, roles)` with reference-format hashes.
    pub fn write_users(&self, users: &[(&str, &str, &[&str])]) {
        let mut map = serde_json::Map::new();
        for (name, password, roles) in users {
            map.insert(
                (*name).to_owned(),
                serde_json::json!({
                    "password_hash": sha256_hash(password),
                    "created": 1742034600.25,
                    "roles": roles,
                }),
            );
        }
        self.write_users_json(&serde_json::Value::Object(map));
    }

    /// Writes `value` as users.json, 2-space indented like the reference.
    pub fn write_users_json(&self, value: &serde_json::Value) {
        let path = self.users_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        // A running server sees another program's edit within a millisecond (README).
        std::thread::sleep(EDIT_SEEN_WITHIN);
    }

    /// Writes a session of `user` (signed in by `provider`, `age_secs` ago) by hand, as
    /// the server would: the file named by the token's SHA-256, bound to the account as the
    /// stores hold it now, and its marker in the index. Returns the `llms-token=...` pair.
    pub fn write_session(&self, user: &str, provider: &str, age_secs: f64) -> String {
        let token = random_token();
        let created = now_secs() - age_secs;
        let record = serde_json::json!({
            "userName": user,
            "provider": provider,
            "created": created,
            "lastSeen": created,
            "clientIp": "127.0.0.1",
            "userAgent": "test",
            "binding": format!("{:016x}", self.binding_of(user, provider)),
        });
        std::fs::create_dir_all(self.sessions_dir()).unwrap();
        std::fs::write(self.session_file(&token), record.to_string()).unwrap();
        let marker = self.index_marker(user, provider, &token);
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(marker, b"").unwrap();
        format!("llms-token={token}")
    }

    /// The binding a session of `user` (of `provider`) needs to be accepted now: of the
    /// password hash and created time in users.json, or of the GitHub id and created time
    /// in the GitHub records; 0 (no account's) otherwise.
    pub fn binding_of(&self, user: &str, provider: &str) -> u64 {
        let read = |path: PathBuf| -> serde_json::Value {
            std::fs::read(path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default()
        };
        match provider {
            "credentials" => {
                let record = &read(self.users_file())[user];
                match (record["password_hash"].as_str(), record["created"].as_f64()) {
                    (Some(hash), Some(created)) => llms_auth::session::binding(hash, created),
                    _ => 0,
                }
            }
            "github_auth" => {
                let record = &read(self.path().join("github_auth/users.json"))[user];
                match (record["id"].as_u64(), record["created"].as_f64()) {
                    (Some(id), Some(created)) => {
                        llms_auth::session::binding(&format!("github:{id}"), created)
                    }
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    /// The index marker of `token`'s session of `user` (of `provider`):
    /// `sessions/by-user/<32 hex of SHA-256(provider NUL user)>/<key hex>`.
    pub fn index_marker(&self, user: &str, provider: &str, token: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let account = Sha256::new()
            .chain_update(provider.as_bytes())
            .chain_update([0])
            .chain_update(user.as_bytes())
            .finalize();
        let key = hex::encode(Sha256::digest(token.as_bytes()));
        self.sessions_dir()
            .join("by-user")
            .join(hex::encode(&account[..16]))
            .join(key)
    }

    /// The session file of `token` (its name is the SHA-256 of the token).
    pub fn session_file(&self, token: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let name = hex::encode(Sha256::digest(token.as_bytes()));
        self.sessions_dir().join(format!("{name}.json"))
    }

    /// Where the uploaded avatar of `user` is stored.
    pub fn avatar_file(&self, user: &str) -> PathBuf {
        self.path().join("user").join(user).join("avatar.png")
    }

    /// The names of the files in the sessions folder.
    pub fn session_files(&self) -> Vec<String> {
        match std::fs::read_dir(self.sessions_dir()) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".json"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// 43 characters of URL-safe base64 from 32 random bytes: the shape of a real token.
pub fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The token of an `llms-token=...` cookie pair.
pub fn token_of(cookie: &str) -> &str {
    cookie
        .strip_prefix("llms-token=")
        .expect("a session cookie pair")
}
