//! Which hosts and origins are this server's own: the `Host` check that stops DNS
//! rebinding, and the cross-site check on state-changing requests.

use axum::http::{header, HeaderValue};

use crate::config::{host_name, Config};
use crate::error::Error;
use crate::request::RequestFacts;

/// A web origin: scheme, lowercase host name, and port (the scheme's default when none is
/// written).
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: &'static str,
    host: String,
    port: u16,
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

impl Origin {
    /// An `Origin` header's value (`http://host[:port]`, `https://...`); `None` for
    /// anything else (`null`, another scheme, a path).
    fn parse(text: &str) -> Option<Self> {
        let (scheme, authority) = match text.split_once("://")? {
            ("http", rest) => ("http", rest),
            ("https", rest) => ("https", rest),
            _ => return None,
        };
        Self::at(scheme, authority)
    }

    /// The origin of `authority` (a `Host` header: `host[:port]`) reached over `scheme`.
    fn at(scheme: &'static str, authority: &str) -> Option<Self> {
        let authority = authority.trim();
        let host = host_name(authority)?.into_owned();
        let port = match authority.rsplit_once(':') {
            Some((_, digits)) if !digits.ends_with(']') && !digits.is_empty() => {
                digits.parse().ok()?
            }
            _ => default_port(scheme),
        };
        Some(Self { scheme, host, port })
    }
}

/// Whether a state-changing request comes from another site.
///
/// A same-site request's `Origin` is this server's: the scheme the request came by
/// (`https` directly is not possible here, so only through a trusted proxy that says so),
/// and the host and port of the `Host` it was sent to or, behind a trusted proxy, of the
/// `X-Forwarded-Host` the browser used. Scheme, host and port are all compared: a page on
/// `https://host` is not the same site as a server on `http://host`, nor is
/// `http://host:8001` the same as `http://host:8000`.
pub(super) fn is_cross_site(request: &axum::http::request::Parts, facts: &RequestFacts) -> bool {
    let headers = &request.headers;
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(origin) = origin.to_str().ok().and_then(Origin::parse) else {
        return true;
    };
    let scheme = if facts.https() { "https" } else { "http" };
    let ours = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|authority| Origin::at(scheme, authority))
            .is_some_and(|own| own == origin)
    };
    let forwarded =
        facts.client.via_trusted_proxy && ours(header::HeaderName::from_static("x-forwarded-host"));
    !(ours(header::HOST) || forwarded)
}

/// Whether a request addressed to `authority` may be served.
///
/// A page on `attacker.example` whose DNS name is re-pointed at 127.0.0.1 ("DNS rebinding")
/// reaches a loopback server as a same-origin page: its `Origin` and `Host` both say
/// `attacker.example`, so the cross-site check passes. While the server listens only on
/// loopback, it therefore answers only to `localhost`, to IP addresses, and to the names
/// in `LLMS_ALLOWED_HOSTS`. An IP address is safe: a browser sends one only when the page's
/// own URL names that address, so the page is this server's. When the server listens
/// beyond loopback, every name is served unless `LLMS_ALLOWED_HOSTS` lists some.
fn host_allowed(config: &Config, authority: &str) -> bool {
    if !config.loopback_only && config.allowed_hosts.is_empty() {
        return true;
    }
    let Some(name) = host_name(authority) else {
        return false;
    };
    name == "localhost"
        || name.starts_with('[')
        || is_ipv4(&name)
        || config.allowed_hosts.iter().any(|allowed| *allowed == name)
}

/// Whether `name` is an IPv4 address exactly as [`std::net::Ipv4Addr`]'s parser takes one (four
/// decimal octets of at most 255, none with a leading zero), without its general parser:
/// every request's `Host` goes through this.
fn is_ipv4(name: &str) -> bool {
    let mut octets = 0;
    for part in name.as_bytes().split(|&b| b == b'.') {
        octets += 1;
        let octet_ok = match part {
            [b'0'] => true,
            [b'1'..=b'9', rest @ ..] => {
                rest.len() <= 2
                    && rest.iter().all(u8::is_ascii_digit)
                    && part
                        .iter()
                        .fold(0u32, |n, &digit| n * 10 + u32::from(digit - b'0'))
                        <= 255
            }
            _ => false,
        };
        if !octet_ok || octets > 4 {
            return false;
        }
    }
    octets == 4
}

/// Refuses a request addressed to a host this server does not answer to ([`host_allowed`]).
///
/// Both the request target's authority (HTTP/1.1 absolute form, HTTP/2 `:authority`) and
/// the `Host` header are checked when present. A request with neither is served: browsers
/// always send `Host` (scripts cannot remove it), so such a request is not from a web page,
/// and a program that talks to the socket directly could name any host anyway. The
/// in-process tests, whose requests carry no `Host`, rely on this.
pub(super) fn check_host(
    config: &Config,
    request: &axum::http::request::Parts,
) -> Result<(), Error> {
    let mut hosts = request.headers.get_all(header::HOST).iter();
    let authority = request.uri.authority().map(|a| a.as_str());
    let allowed = match (hosts.next(), hosts.next()) {
        (None, _) => true,
        // Not text: no host this server answers to.
        (Some(value), None) => value.to_str().is_ok_and(|host| host_allowed(config, host)),
        // Two `Host` headers are ambiguous: refused whenever names are checked at all.
        (Some(_), Some(_)) => host_allowed(config, ""),
    } && authority.is_none_or(|host| host_allowed(config, host));
    if allowed {
        return Ok(());
    }
    let headers: Vec<&HeaderValue> = request.headers.get_all(header::HOST).iter().collect();
    tracing::debug!(?headers, ?authority, "request for an unknown host refused");
    Err(Error::MisdirectedRequest(
        "This server does not answer to that host name; list it in LLMS_ALLOWED_HOSTS to allow it"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    proptest::proptest! {
        /// The hand-written IPv4 check agrees with the standard library's parser.
        #[test]
        fn is_ipv4_agrees_with_the_standard_parser(
            name in proptest::string::string_regex("[0-9.a]{0,16}|([0-9]{1,4}\\.){3}[0-9]{1,4}").unwrap(),
        ) {
            proptest::prop_assert_eq!(is_ipv4(&name), name.parse::<Ipv4Addr>().is_ok(), "{}", name);
        }
    }

    #[test]
    fn ipv4_literals() {
        for ok in ["0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.20.3"] {
            assert!(is_ipv4(ok), "{ok}");
        }
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.4.",
            "1.2.3.a",
            "+1.2.3.4",
            "1000.1.1.1",
        ] {
            assert!(!is_ipv4(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_servers_answer_to_loopback_names_addresses_and_the_list() {
        let mut config = Config::new("/tmp/h");
        config.allowed_hosts = vec!["llms.example.com".into()];
        for ok in [
            "localhost:8000",
            "127.0.0.1",
            "127.0.0.2:1",
            "[::1]:8000",
            "192.0.2.7",
            "LLMS.example.com:443",
        ] {
            assert!(host_allowed(&config, ok), "{ok}");
        }
        for refused in [
            "attacker.example",
            "attacker.example:8000",
            "localhost.attacker.example",
            "1.2.3.4.nip.io",
            "llms.example.com.evil",
            "a b",
        ] {
            assert!(!host_allowed(&config, refused), "{refused}");
        }
        config.loopback_only = false;
        assert!(!host_allowed(&config, "attacker.example"));
        config.allowed_hosts.clear();
        assert!(host_allowed(&config, "attacker.example"));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let parse = |text: &str| Origin::parse(text);
        assert_eq!(
            parse("http://Example.COM"),
            Some(Origin {
                scheme: "http",
                host: "example.com".into(),
                port: 80
            })
        );
        assert_eq!(parse("https://h:8443").unwrap().port, 8443);
        assert_eq!(parse("http://[::1]:8000").unwrap().host, "[::1]");
        assert_eq!(parse("http://[::1]").unwrap().port, 80);
        for bad in [
            "null",
            "ftp://h",
            "http://",
            "http://h/path",
            "h:80",
            "http://h:port",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(Origin::at("http", "h"), parse("http://h:80"));
        assert_ne!(Origin::at("http", "h"), parse("https://h"));
        assert_ne!(Origin::at("http", "h:8000"), parse("http://h:8001"));
    }
}
