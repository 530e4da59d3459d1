//! Who is on the other end of a request: the client's address (the socket peer, or what
//! a trusted proxy says in `X-Forwarded-For`), and whether it came over HTTPS.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::config::Config;

/// The client's address as this server decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddr {
    /// The socket peer, or the client a trusted proxy named.
    Ip(IpAddr),
    /// A trusted proxy (`via`) passed on an entry that is no address. The client is not
    /// guessed: neither an address the client wrote further left, nor the proxy's own
    /// (whose failures would then throttle everyone behind it). The throttle counts it
    /// apart from every real address.
    Unparsable {
        /// The trusted hop that passed the entry on.
        via: IpAddr,
    },
    /// No socket peer is known (a request made in process without one).
    Unknown,
}

/// `203.0.113.7`, `unknown (via 10.0.0.9)`, `unknown`: what `lastIp`, sessions and the
/// audit log show.
impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Unparsable { via } => write!(f, "unknown (via {via})"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// The facts about the client that [`Config::trusted_proxies`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address.
    pub addr: ClientAddr,
    /// Whether the socket peer is a trusted proxy: only then may headers a proxy sets be
    /// believed.
    pub via_trusted_proxy: bool,
    /// Whether the request reached us over HTTPS (directly is not possible here; via a
    /// trusted proxy that says so in `X-Forwarded-Proto`).
    pub https: bool,
}

impl Client {
    /// The socket peer's address of `request`, from axum's `ConnectInfo` (or
    /// `MockConnectInfo`, for in-process tests), when it has one.
    pub fn peer_of(request: &Parts) -> Option<IpAddr> {
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

    /// Reads the client of `request` under `config`'s proxy trust.
    ///
    /// A proxy appends the address it received the request from to whatever list the
    /// client sent, so only the right end of `X-Forwarded-For` can be believed: it is
    /// walked from the right, past the addresses of trusted proxies, and the first other
    /// entry is the client. Everything left of it was written by the client and is
    /// ignored. When every entry is a trusted proxy the request started at one of them,
    /// the leftmost. When that entry does not parse, the answer is
    /// [`ClientAddr::Unparsable`].
    pub fn of(request: &Parts, config: &Config) -> Self {
        Self::from_peer(&request.headers, Self::peer_of(request), config)
    }

    /// [`Client::of`] a request with these `headers` from the socket peer `peer`.
    pub fn from_peer(headers: &HeaderMap, peer: Option<IpAddr>, config: &Config) -> Self {
        let trusted = |ip: IpAddr| {
            let ip = canonical_ip(ip);
            config
                .trusted_proxies
                .iter()
                .any(|p| canonical_ip(*p) == ip)
        };
        let Some(peer) = peer.map(canonical_ip) else {
            return Self {
                addr: ClientAddr::Unknown,
                via_trusted_proxy: false,
                https: false,
            };
        };
        if !trusted(peer) {
            return Self {
                addr: ClientAddr::Ip(peer),
                via_trusted_proxy: false,
                https: false,
            };
        }
        let addr = match forwarded_client(headers, peer, trusted) {
            Forwarded::Client(ip) => ClientAddr::Ip(ip),
            Forwarded::Unparsable { via } => ClientAddr::Unparsable { via },
        };
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Self {
            addr,
            via_trusted_proxy: true,
            https,
        }
    }
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
}
