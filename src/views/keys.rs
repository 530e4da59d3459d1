//! API keys on the pages: the section of My Account (how to use a key, the list of your
//! keys, Create Key, the new key shown once with a Copy button), the Revoke confirmation
//! that My Account and Manage Users share, and the Manage Users dialog that lists one
//! user's keys (filled by `app.js` from `GET /admin/keys`, with the same markup as
//! [`keys_list`]).

use maud::{html, Markup};

use super::dialog::{info_modal, modal, Tone};
use super::icons::Icon;
use super::layout::PageContext;
use crate::keys::{ApiKey, MAX_KEY_NAME_CHARS, MAX_RPM};
use crate::time::{local_time, relative_time};

/// The lifetimes Create Key offers: days, or `None` for a key that lasts until revoked.
pub const EXPIRY_CHOICES: [(Option<u32>, &str); 5] = [
    (None, "Never"),
    (Some(7), "7 days"),
    (Some(30), "30 days"),
    (Some(90), "90 days"),
    (Some(365), "1 year"),
];

/// A time as its date, with the full local time as a tooltip.
fn date(secs: f64) -> Markup {
    let full = local_time(secs);
    html! { time title=(full) { (full.get(..10).unwrap_or(&full)) } }
}

/// The models and the rate a key is limited to, when it is.
fn limits(key: &ApiKey) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(models) = &key.models {
        parts.push(format!("Models: {}", models.join(", ")));
    }
    if let Some(rpm) = key.rpm {
        parts.push(format!("{rpm} requests per minute"));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// One key of a list (`id` is its public id): name, hint, limits, dates and Revoke.
fn key_item(id: &str, key: &ApiKey, now: f64) -> Markup {
    let expired = key.is_expired(now);
    html! {
        li.key-item data-key-id=(id) data-testid="key-item" {
            div.key-main {
                div.key-title {
                    span.key-name data-testid="key-name" { (key.name) }
                    @if expired { " " span.badge.badge-danger data-testid="key-expired" { "Expired" } }
                }
                code.key-hint data-testid="key-hint" { (key.hint) }
                @if let Some(limits) = limits(key) {
                    div.key-limits.muted data-testid="key-limits" { (limits) }
                }
                div.key-meta.muted {
                    span { "Created " (date(key.created)) }
                    span data-testid="key-expires" {
                        @if expired { "Expired " } @else { "Expires " }
                        @match key.expires {
                            Some(at) => (date(at)),
                            None => "never",
                        }
                    }
                    span data-testid="key-last-used" {
                        "Last used "
                        @match key.last_used {
                            Some(at) => time title=(local_time(at)) { (relative_time(at, now)) },
                            None => "never",
                        }
                    }
                }
            }
            button.icon-btn.icon-btn-danger type="button" data-revoke-key=(id) data-key-name=(key.name)
                title="Revoke key" aria-label={ "Revoke the API key " (key.name) } { (Icon::Trash) }
        }
    }
}

/// The list of `keys` (id and record), newest last; served inside My Account, which the page
/// fetches again after a change to swap this list in.
pub fn keys_list(keys: &[(String, ApiKey)], now: f64) -> Markup {
    html! {
        div #keys-list data-testid="keys-list" {
            @if keys.is_empty() {
                p.muted.keys-empty data-testid="no-keys" { "You have no API keys yet." }
            } @else {
                ul.key-list aria-label="Your API keys" {
                    @for (id, key) in keys { (key_item(id, key, now)) }
                }
            }
        }
    }
}

/// How to use a key: the header and the base URL (`app.js` puts this page's origin
/// before `/v1`).
fn usage(upstream: bool) -> Markup {
    html! {
        p.hint.key-usage data-testid="key-usage" {
            "Give a key to any OpenAI-compatible client: base URL "
            code data-v1-url { "/v1" }
            ", header "
            code { "Authorization: Bearer <key>" }
            "."
            @if !upstream {
                " This server forwards " code { "/v1" } " nowhere yet (no " code { "--upstream" } ")."
            }
        }
    }
}

/// The box that shows a new key, once (`app.js` fills it after Create Key; the server
/// never renders a key).
fn new_key_box() -> Markup {
    html! {
        div.new-key #new-key hidden data-testid="new-key" {
            p.new-key-warning {
                (Icon::Alert)
                span { "Copy your new key " strong #new-key-name {} " now: it is not shown again." }
            }
            div.copy-row {
                input #new-key-value type="text" readonly aria-label="Your new API key"
                    autocomplete="off" spellcheck="false" data-testid="new-key-value";
                button.btn #copy-key type="button" data-testid="copy-key" title="Copy the key" {
                    (Icon::Copy) span { "Copy" }
                }
            }
            p.hint #copy-hint hidden data-testid="copy-hint" {
                "The key is selected: press Ctrl+C (⌘C on a Mac) to copy it."
            }
            button.btn #dismiss-key type="button" data-testid="dismiss-key" { "I have stored it" }
        }
    }
}

fn create_key_dialog(upstream: bool) -> Markup {
    let max_name = MAX_KEY_NAME_CHARS.to_string();
    html! {
        (modal(
            "create-key-dialog",
            html! { "Create API Key" },
            html! {
                div.field {
                    label for="key-name" { "Name" }
                    input #key-name name="name" type="text" autocomplete="off" maxlength=(max_name)
                        placeholder="e.g. laptop, coding agent" aria-describedby="key-name-hint";
                    p.hint #key-name-hint { "To tell your keys apart." }
                }
                div.field {
                    label for="key-expires" { "Expires" }
                    select #key-expires name="expiresDays" {
                        @for (days, label) in EXPIRY_CHOICES {
                            option value=(days.map(|d| d.to_string()).unwrap_or_default()) { (label) }
                        }
                    }
                }
                div.field {
                    label for="key-models" { "Models " span.optional { "(optional)" } }
                    input #key-models name="models" type="text" autocomplete="off"
                        autocapitalize="none" spellcheck="false" aria-describedby="key-models-hint";
                    p.hint #key-models-hint {
                        "Model ids separated by commas; empty: every model."
                        @if upstream { " " span #key-models-available data-testid="models-available" {} }
                    }
                }
                div.field {
                    label for="key-rpm" { "Requests per minute " span.optional { "(optional)" } }
                    input #key-rpm name="rpm" type="number" min="1" max=(MAX_RPM) step="1"
                        inputmode="numeric" aria-describedby="key-rpm-hint";
                    p.hint #key-rpm-hint { "Empty: no limit." }
                }
                p.note { "The key is shown once, when it is made: have somewhere to store it." }
            },
            "Create Key",
            Tone::Primary,
        ))
    }
}

/// The confirmation before a key is revoked (My Account and Manage Users).
pub fn revoke_key_dialog() -> Markup {
    modal(
        "revoke-key-dialog",
        html! { "Revoke API Key" },
        html! {
            p {
                "Revoke " strong.target-name data-target-name {} "? Programs that use it are "
                "refused from their next request. This cannot be undone."
            }
        },
        "Revoke Key",
        Tone::Danger,
    )
}

/// The Manage Users dialog with one user's keys (filled by `app.js`).
pub fn user_keys_dialog() -> Markup {
    info_modal(
        "user-keys-dialog",
        html! { "API keys of " strong.target-name data-target-name {} },
        html! {
            p.muted #user-keys-status role="status" data-testid="user-keys-status" {}
            ul.key-list #user-keys-list aria-label="API keys" data-testid="user-keys-list" {}
            // The Revoke button's icon, for the items `app.js` builds.
            template #revoke-icon { (Icon::Trash) }
        },
    )
}

/// The API keys section of My Account for the user in `context` with these `keys`: for the
/// default user (authentication off) only a note, since keys belong to users.
pub fn keys_section(context: &PageContext, keys: &[(String, ApiKey)], now: f64) -> Markup {
    let Some(user) = &context.user else {
        return html! {};
    };
    html! {
        section.card.account.keys #api-keys aria-labelledby="api-keys-title" data-testid="api-keys" {
            div.page-head {
                div {
                    h2 #api-keys-title { "API keys" }
                    p.muted { "For programs that talk to this server's OpenAI-compatible API." }
                }
                @if !user.is_default {
                    button.btn.btn-primary type="button" data-open="create-key-dialog" data-testid="create-key" {
                        (Icon::Plus) span { "Create Key" }
                    }
                }
            }
            @if user.is_default {
                p.muted data-testid="keys-need-a-user" {
                    "Authentication is off: API keys belong to users. Create a user in "
                    a href="/admin" { "Manage Users" } ", sign in, and make your keys here."
                }
            } @else {
                (usage(context.upstream))
                (new_key_box())
                (keys_list(keys, now))
            }
        }
        @if !user.is_default {
            (create_key_dialog(context.upstream))
            (revoke_key_dialog())
        }
    }
}
