//! [`AuthState`]: the stores, the hasher and the selected provider, shared by every handler.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::audit::{AuditLog, AuditRecord};
use crate::avatar::{AvatarDecoder, AVATAR_DECODERS};
use crate::config::{Config, SESSION_MAX_AGE};
use crate::error::Result;
use crate::password::PasswordHasher;
use crate::provider::{AuthProvider, ProviderRegistry};
use crate::session::{FoundSession, SessionKey, SessionStore, SessionToken, COOKIE_NAME};
use crate::throttle::Throttle;
use crate::users::{UserStore, Users};

/// Shared state of the auth extension. Cheap to clone.
#[derive(Clone)]
pub struct AuthState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    users: UserStore,
    sessions: Arc<SessionStore>,
    hasher: PasswordHasher,
    provider: Arc<dyn AuthProvider>,
    throttle: Throttle,
    audit: AuditLog,
    avatar_decoder: AvatarDecoder,
    /// Set once the user store has held a user during this run.
    users_seen: AtomicBool,
    /// Set once the "store became empty" warning was logged.
    emptied_warned: AtomicBool,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("home", &self.inner.config.home)
            .field("provider", &self.inner.provider.name())
            .finish_non_exhaustive()
    }
}

impl AuthState {
    /// Selects `config.auth` from `registry`, lets it check its configuration, and opens
    /// the stores. Fails on an unknown provider, a provider that is not configured, or a
    /// user store that does not parse.
    pub async fn new(config: Config, registry: &ProviderRegistry) -> Result<Self> {
        let provider = registry.select(&config.auth)?;
        provider.prepare(&config).await?;
        let users = crate::users::open_store(&config);
        let sessions = Arc::new(
            SessionStore::new(config.sessions_dir(), SESSION_MAX_AGE)
                .with_store_lock(users.lock_path().to_owned()),
        );
        let hasher = PasswordHasher::new(config.hash_scheme, config.hash_concurrency);
        let audit = AuditLog::new(config.audit_log());
        let state = Self {
            inner: Arc::new(Inner {
                config,
                users,
                sessions,
                hasher,
                provider,
                throttle: Throttle::new(),
                audit,
                avatar_decoder: AvatarDecoder::new(AVATAR_DECODERS),
                users_seen: AtomicBool::new(false),
                emptied_warned: AtomicBool::new(false),
            }),
        };
        // A store (or session folder) written by llms.py is readable by every local user:
        // not any more.
        let store = state.clone();
        tokio::task::spawn_blocking(move || {
            store.inner.users.make_private();
            store.inner.sessions.make_private();
        })
        .await?;
        // Fail now, not on the first request, when the store is broken; and remember
        // whether it holds users from the start.
        let users = state.users().await?;
        state.password_auth_required(&users);
        Ok(state)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The user store.
    pub fn user_store(&self) -> &UserStore {
        &self.inner.users
    }

    /// The session store.
    pub fn sessions(&self) -> &Arc<SessionStore> {
        &self.inner.sessions
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The sign-in throttle.
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// Where uploaded avatars are decoded, a few at a time.
    pub fn avatar_decoder(&self) -> &AvatarDecoder {
        &self.inner.avatar_decoder
    }

    /// The audit log.
    pub fn audit_log(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// Appends to the audit log on the blocking pool; a failure is logged, never fatal.
    pub async fn audit(&self, record: AuditRecord) {
        let log = self.inner.audit.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || log.append_or_warn(&record)).await {
            tracing::warn!(error = %e, "audit task failed");
        }
    }

    /// The selected provider.
    pub fn provider(&self) -> &Arc<dyn AuthProvider> {
        &self.inner.provider
    }

    /// The current users: one `stat` on the runtime; a re-read on the blocking pool when
    /// the file changed.
    pub async fn users(&self) -> Result<Arc<Users>> {
        if let Some(users) = self.inner.users.cached_if_current() {
            return Ok(users);
        }
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.inner.users.snapshot()).await?
    }

    /// Whether signing in with a password is required, given the current `users`: while the
    /// store holds users, and also after it became empty during this run. Emptying the store
    /// of a running server (say `llms --removeuser` of the last user) must not switch
    /// authentication off behind the operator's back: it stays on, and nobody can sign in,
    /// until a user is added or the server is restarted.
    pub fn password_auth_required(&self, users: &Users) -> bool {
        let inner = &self.inner;
        if !users.is_empty() {
            // Read before writing: a store on every request would bounce the cache line
            // between the cores.
            if !inner.users_seen.load(Ordering::Relaxed) {
                inner.users_seen.store(true, Ordering::Relaxed);
            }
            return true;
        }
        let seen = inner.users_seen.load(Ordering::Relaxed);
        if seen && !inner.emptied_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                store = %inner.users.path().display(),
                "the user store became empty; authentication stays on until a user is added or the server restarts"
            );
        }
        seen
    }

    /// Runs a blocking read-modify-write of the user store on the blocking pool.
    pub async fn update_users<T: Send + 'static>(
        &self,
        change: impl FnOnce(&AuthState, &mut Users) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let inner = &state.inner;
            inner.users.update(|users| change(&state, users))
        })
        .await?
    }

    /// The live session carried by the request's cookie, if any.
    pub async fn find_session(&self, request: &Parts) -> Result<Option<FoundSession>> {
        let Some(key) = session_key(&request.headers) else {
            return Ok(None);
        };
        let generation = self.inner.users.generation();
        self.inner.sessions.find(key, generation).await
    }

    /// Ends one session (memory and disk).
    pub async fn end_session(&self, key: SessionKey) -> Result<()> {
        let sessions = self.inner.sessions.clone();
        tokio::task::spawn_blocking(move || sessions.remove(&key)).await?
    }

    /// Whether the selected provider requires signing in right now.
    pub async fn requires_auth(&self) -> Result<bool> {
        self.inner.provider.requires_auth(self).await
    }

    /// The client's address: the socket peer, or, when the peer is a trusted proxy
    /// ([`Config::trusted_proxies`]), the address that proxy saw, read from
    /// `X-Forwarded-For`.
    ///
    /// A proxy appends the address it received the request from to whatever list the
    /// client sent, so only the right end of the list can be believed: it is walked from
    /// the right, past the addresses of trusted proxies, and the first other entry is the
    /// client. Everything left of it was written by the client and is ignored. When every
    /// entry is a trusted proxy the request started at one of them, the leftmost.
    ///
    /// When that entry does not parse, the client is not guessed: neither an address the
    /// client wrote further left, nor the proxy's own address (whose failures would then
    /// throttle everyone behind the proxy). The answer is `unknown (via <proxy>)`, naming
    /// the trusted hop that passed it on; the throttle counts it apart from every real
    /// address, and it is what `lastIp`, sessions and the audit log show.
    pub fn client_ip(&self, request: &Parts) -> String {
        let Some(peer) = peer_ip(request).map(canonical_ip) else {
            return "unknown".to_owned();
        };
        if !self.is_trusted_proxy(peer) {
            return peer.to_string();
        }
        match forwarded_client(&request.headers, peer, |ip| self.is_trusted_proxy(ip)) {
            Forwarded::Client(ip) => ip.to_string(),
            Forwarded::Unparsable { via } => format!("unknown (via {via})"),
        }
    }

    /// Whether the request reached us over HTTPS (directly is not possible here; via a
    /// trusted proxy that says so).
    pub fn is_https(&self, request: &Parts) -> bool {
        peer_ip(request).is_some_and(|p| self.is_trusted_proxy(p))
            && request
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }

    /// Whether the request's socket peer is listed in `LLMS_TRUSTED_PROXIES`
    /// ([`Config::trusted_proxies`]): only then may headers a proxy sets be believed.
    pub fn is_from_trusted_proxy(&self, request: &Parts) -> bool {
        peer_ip(request).is_some_and(|peer| self.is_trusted_proxy(peer))
    }

    fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = canonical_ip(peer);
        self.inner
            .config
            .trusted_proxies
            .iter()
            .any(|p| canonical_ip(*p) == peer)
    }
}

/// The socket peer's address (also from axum's `MockConnectInfo`, for in-process tests).
fn peer_ip(request: &Parts) -> Option<IpAddr> {
    request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .or_else(|| {
            request
                .extensions
                .get::<MockConnectInfo<SocketAddr>>()
                .map(|MockConnectInfo(addr)| addr.ip())
        })
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Who sent a request that came through trusted proxies, by `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forwarded {
    /// The first hop, from the right, that is not a trusted proxy (or the leftmost one).
    Client(IpAddr),
    /// That hop's entry does not parse; `via` is the trusted proxy that reported it.
    Unparsable { via: IpAddr },
}

/// Walks the combined `X-Forwarded-For` list (all header lines, in order) from the right,
/// starting at the socket `peer` (a trusted proxy), past entries that are `trusted`.
fn forwarded_client(
    headers: &HeaderMap,
    peer: IpAddr,
    trusted: impl Fn(IpAddr) -> bool,
) -> Forwarded {
    let entries: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|value| value.as_bytes())
        // A blank header line names nobody; inside a list, an empty entry is unparsable.
        .filter(|value| !value.trim_ascii().is_empty())
        .flat_map(|value| value.split(|&b| b == b','))
        .collect();
    let mut via = peer;
    for entry in entries.into_iter().rev() {
        match parse_forwarded_ip(entry) {
            Some(ip) if trusted(ip) => via = ip,
            Some(ip) => return Forwarded::Client(ip),
            None => return Forwarded::Unparsable { via },
        }
    }
    Forwarded::Client(via)
}

/// One `X-Forwarded-For` entry: an IP address, optionally with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`) as some proxies write it; IPv4-mapped IPv6 as IPv4.
fn parse_forwarded_ip(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })?;
    Some(canonical_ip(ip))
}

/// The key of the session token in the request's cookies, if any: the value of the first
/// `llms-token` cookie, when it is a well-formed token.
///
/// Cookies are split on `;` and trimmed the way the `cookie` crate does (a test holds the
/// two together); this scan runs on every request and allocates nothing.
pub fn session_key(headers: &HeaderMap) -> Option<SessionKey> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == COOKIE_NAME).then_some(value)
        })
        .and_then(|value| SessionToken::key_of(unquote(value.trim())))
}

/// A cookie value without the double quotes that may surround it.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The client behind `peer` for these `X-Forwarded-For` lines, with `trusted` proxies.
    fn client(lines: &[&[u8]], peer: &str, trusted: &[&str]) -> Forwarded {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                "x-forwarded-for",
                axum::http::HeaderValue::from_bytes(line).unwrap(),
            );
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| ip(t)).collect();
        forwarded_client(&headers, ip(peer), |candidate| trusted.contains(&candidate))
    }

    #[test]
    fn the_list_is_read_from_the_right_past_trusted_proxies() {
        let proxy = ["10.0.0.9"];
        let one = |line: &[u8]| client(&[line], "10.0.0.9", &proxy);
        // The proxy appended the client; whatever the client wrote before is ignored.
        assert_eq!(
            one(b"6.6.6.6, 203.0.113.7"),
            Forwarded::Client(ip("203.0.113.7"))
        );
        assert_eq!(
            one(b"203.0.113.7, 10.0.0.9"),
            Forwarded::Client(ip("203.0.113.7"))
        );
        assert_eq!(
            one(b"garbage, 203.0.113.7"),
            Forwarded::Client(ip("203.0.113.7"))
        );
        // Ports, brackets and IPv4-mapped forms name the same client.
        assert_eq!(
            one(b"203.0.113.7:5555"),
            Forwarded::Client(ip("203.0.113.7"))
        );
        assert_eq!(
            one(b"[2001:db8::7]:443"),
            Forwarded::Client(ip("2001:db8::7"))
        );
        assert_eq!(
            one(b"::ffff:203.0.113.7"),
            Forwarded::Client(ip("203.0.113.7"))
        );
        // Several header lines form one list, in order.
        assert_eq!(
            client(&[b"6.6.6.6", b"203.0.113.7"], "10.0.0.9", &proxy),
            Forwarded::Client(ip("203.0.113.7"))
        );
        // Two trusted hops: the first untrusted entry from the right; an untrusted hop
        // is where belief stops, whatever it claims further left.
        let both = ["10.0.0.9", "10.0.0.8"];
        assert_eq!(
            client(&[b"6.6.6.6, 203.0.113.7, 10.0.0.8"], "10.0.0.9", &both),
            Forwarded::Client(ip("203.0.113.7"))
        );
        assert_eq!(
            one(b"203.0.113.7, 198.51.100.1"),
            Forwarded::Client(ip("198.51.100.1"))
        );
        // Only trusted hops, or no list at all: the request started at a proxy.
        assert_eq!(
            client(&[b"10.0.0.8"], "10.0.0.9", &both),
            Forwarded::Client(ip("10.0.0.8"))
        );
        assert_eq!(
            client(&[], "10.0.0.9", &proxy),
            Forwarded::Client(ip("10.0.0.9"))
        );
        assert_eq!(one(b"  "), Forwarded::Client(ip("10.0.0.9")));
    }

    #[test]
    fn an_unparsable_entry_is_not_replaced_by_a_guess() {
        let both = ["10.0.0.9", "10.0.0.8"];
        let via = |proxy: &str| Forwarded::Unparsable { via: ip(proxy) };
        for line in [
            &b"banana"[..],
            b"203.0.113.7, banana",
            b"203.0.113.7, ",
            b"203.0.113.7, unknown",
            b"203.0.113.7, 1.2.3.4.5",
            b"203.0.113.7, \xff\xfe",
        ] {
            assert_eq!(
                client(&[line], "10.0.0.9", &both),
                via("10.0.0.9"),
                "{line:?}"
            );
        }
        assert_eq!(
            client(&[b"203.0.113.7, banana, 10.0.0.8"], "10.0.0.9", &both),
            via("10.0.0.8")
        );
    }

    fn cookie_headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header::COOKIE, line.parse().unwrap());
        }
        headers
    }

    /// What the `cookie` crate makes of the same headers: the reference for `session_key`.
    fn key_by_cookie_crate(headers: &HeaderMap) -> Option<SessionKey> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(|c| c.ok())
            .find(|c| c.name() == COOKIE_NAME)
            .and_then(|c| SessionToken::key_of(c.value()))
    }

    #[test]
    fn session_key_reads_the_first_llms_token_cookie() {
        let token = SessionToken::generate();
        let t = token.expose();
        let key = Some(token.key());
        for lines in [
            vec![format!("llms-token={t}")],
            vec![format!("a=1; llms-token={t}; b=2")],
            vec![format!("  llms-token = {t} ;")],
            vec![format!("llms-token=\"{t}\"")],
            vec!["a=1".to_owned(), format!("llms-token={t}")],
            vec![format!("llms-token={t}"), "llms-token=other".to_owned()],
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(session_key(&cookie_headers(&lines)), key, "{lines:?}");
        }
        for lines in [
            vec![String::new()],
            vec![format!("xllms-token={t}")],
            vec![format!("llms-token={t}x")],
            vec![format!("llms-token=../{}", &t[3..])],
            // The first llms-token cookie counts, even when it is no token.
            vec![format!("llms-token=bad; llms-token={t}")],
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(session_key(&cookie_headers(&lines)), None, "{lines:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the Cookie headers hold, the hand-written scan finds the same session
        /// as the `cookie` crate.
        #[test]
        fn session_key_agrees_with_the_cookie_crate(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[ ;=,\"a-z-]{0,12}").unwrap(),
                    proptest::strategy::Just("llms-token".to_owned()),
                    proptest::strategy::Just(
                        "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg".to_owned()
                    ),
                ],
                0..12,
            ),
            split in 0usize..3,
        ) {
            let text = parts.concat();
            let lines: Vec<&str> = match split {
                0 => vec![text.as_str()],
                _ => text.splitn(split + 1, ',').collect(),
            };
            let headers = cookie_headers(&lines);
            proptest::prop_assert_eq!(session_key(&headers), key_by_cookie_crate(&headers));
        }
    }
}
