//! Local paths to come back to after signing in, and how they travel in a URL.

/// A local path to return to after signing in: same-site absolute paths only.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `/login?next=...` for a path to come back to.
pub fn sign_in_url(next: &str) -> String {
    let next = safe_next(Some(next));
    if next == "/" {
        "/login".to_owned()
    } else {
        let encoded: String = url_encode(&next);
        format!("/login?next={encoded}")
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_same_site_only() {
        assert_eq!(safe_next(Some("/admin?x=1")), "/admin?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn sign_in_url_encodes_next() {
        assert_eq!(sign_in_url("/"), "/login");
        assert_eq!(
            sign_in_url("/admin?a=1&b=2"),
            "/login?next=/admin%3Fa%3D1%26b%3D2"
        );
        assert_eq!(sign_in_url("//evil"), "/login");
    }
}
