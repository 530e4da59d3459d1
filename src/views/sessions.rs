//! My Account's sessions: where you are signed in (browser and system read from the user
//! agent, address, when signed in, last seen, "this device"), Sign out for each, and Sign
//! out everywhere else (`app.js` calls the routes of `web/sessions.rs`).

use maud::{html, Markup};

use super::dialog::info_modal;
use super::icons::Icon;
use crate::session::SessionRecord;
use crate::time::{local_time, relative_time};

/// One session as My Account lists it: its public id, whether it is this request's, and
/// what the store records.
pub struct ListedSession {
    /// The first 16 hex characters of the session's SHA-256.
    pub id: String,
    /// Whether it is the session of the page's own request.
    pub current: bool,
    /// What the store records of it.
    pub record: SessionRecord,
}

/// "Chrome on Linux", "Firefox on Windows", "Safari on iOS", "curl"...: what a person
/// recognises of a user agent; "Unknown device" when nothing is.
pub fn device(user_agent: &str) -> String {
    let ua = user_agent;
    let has = |needle: &str| ua.contains(needle);
    let browser = if has("Edg/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") {
        Some("Firefox")
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => {
            // A program: its own name (`curl/8.5`, `python-requests/2.31`), if it has one.
            let program = ua.split(['/', ' ']).next().unwrap_or("").trim();
            let plain = !program.is_empty()
                && program.len() <= 40
                && program
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if plain {
                program.to_owned()
            } else {
                "Unknown device".to_owned()
            }
        }
    }
}

/// The "Where you're signed in" section of My Account.
pub fn sessions_section(sessions: &[ListedSession], now: f64) -> Markup {
    html! {
        section.card.account #sessions aria-labelledby="sessions-title" data-testid="sessions" {
            div.page-head {
                div {
                    h2 #sessions-title { "Where you're signed in" }
                    p.muted { "Sign out anywhere you do not recognise; change your password too." }
                }
                @if sessions.len() > 1 {
                    button.btn type="button" data-revoke-other-sessions data-testid="revoke-other-sessions" {
                        (Icon::Lock) span { "Sign out everywhere else" }
                    }
                }
            }
            ul.key-list aria-label="Your sessions" data-testid="session-list" {
                @for session in sessions {
                    li.key-item data-session=(session.id) data-testid="session-item" {
                        div.key-main {
                            div.key-title {
                                span.key-name data-testid="session-device" {
                                    (device(&session.record.user_agent))
                                }
                                @if session.current {
                                    " " span.badge.badge-you data-testid="this-device" { "this device" }
                                }
                            }
                            div.key-meta.muted {
                                span data-testid="session-ip" { (session.record.client_ip) }
                                span {
                                    "Signed in "
                                    time title=(local_time(session.record.created)) {
                                        (relative_time(session.record.created, now))
                                    }
                                }
                                span {
                                    "Last seen "
                                    time title=(local_time(session.record.last_seen)) {
                                        (relative_time(session.record.last_seen, now))
                                    }
                                }
                            }
                        }
                        button.btn type="button" data-sign-out-session=(session.id)
                            data-current=(session.current)
                            aria-label={ "Sign out " (device(&session.record.user_agent)) }
                            data-testid="sign-out-session" { "Sign out" }
                    }
                }
            }
        }
    }
}

/// Manage Users' dialog of one account's sessions (`app.js` lists them from
/// `GET /admin/users/{name}/sessions` and ends them).
pub fn user_sessions_dialog() -> Markup {
    info_modal(
        "user-sessions-dialog",
        html! { "Where " strong.target-name data-target-name {} " is signed in" },
        html! {
            p.muted #user-sessions-status role="status" data-testid="user-sessions-status" {}
            ul.key-list #user-sessions-list aria-label="Sessions" data-testid="user-sessions-list" {}
            button.btn.btn-danger type="button" #user-sessions-end-all hidden data-testid="user-sessions-end-all" {
                (Icon::SignOut) span { "Sign out everywhere" }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_as_people_know_them() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"),
            ("curl/8.5.0", "curl"),
            ("python-requests/2.31.0", "python-requests"),
            ("", "Unknown device"),
            ("<script>alert(1)</script>", "Unknown device"),
        ];
        for (ua, expected) in cases {
            assert_eq!(device(ua), expected, "{ua}");
        }
    }
}
