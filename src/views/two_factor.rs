//! Two-factor sign-in on My Account (SPEC 12): whether it is on, turning it on (a QR code
//! and the secret in text, confirmed by one code, then the recovery codes shown once) and
//! off (with the password and a code). `app.js` calls the routes of `web/two_factor.rs`
//! and fills what the server sends: the page itself never holds a secret or a code.

use maud::{html, Markup};

use super::dialog::{modal, password_field, PasswordInput, Tone};
use super::icons::Icon;

/// The longest code the fields take (the server reads at most 64 bytes).
const MAX_CODE_CHARS: usize = 64;

/// My Account's "Two-factor sign-in" section, for a password account; `on` says whether
/// signing in asks for a code now. Both states are rendered and `app.js` switches between
/// them (`data-two-factor-when`), so turning it on or off needs no reload.
pub fn two_factor_section(on: bool) -> Markup {
    html! {
        section.card.account.two-factor #two-factor aria-labelledby="two-factor-title"
            data-on=(on) data-testid="two-factor" {
            div.page-head {
                div {
                    h2 #two-factor-title { "Two-factor sign-in" }
                    p.muted { "After your password, signing in asks for a code from an authenticator app on your phone." }
                }
                button.btn.btn-primary #two-factor-enable type="button" hidden[on]
                    data-two-factor-when="off" data-testid="two-factor-enable" {
                    (Icon::ShieldCheck) span { "Turn On" }
                }
                button.btn #two-factor-disable type="button" hidden[!on] data-open="two-factor-off-dialog"
                    data-two-factor-when="on" data-testid="two-factor-disable" {
                    (Icon::ShieldOff) span { "Turn Off" }
                }
            }
            p.two-factor-state hidden[!on] data-two-factor-when="on" data-testid="two-factor-on" {
                span.status.status-active { (Icon::ShieldCheck) "On" }
                span { "Signing in asks for a code from your app, or one of your recovery codes." }
            }
            p.two-factor-state hidden[on] data-two-factor-when="off" data-testid="two-factor-off" {
                span.status.status-off { "Off" }
                span { "Signing in asks only for your password." }
            }
            (setup())
            (recovery_codes_box())
        }
        (turn_off_dialog())
    }
}

/// Turning it on: the QR code and the secret (filled by `app.js` from `POST /account/2fa`),
/// and the form that confirms it with the first code.
fn setup() -> Markup {
    html! {
        div.two-factor-setup #two-factor-setup hidden data-testid="two-factor-setup" {
            ol.setup-steps {
                li {
                    p { "Scan this QR code with your authenticator app (such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis)." }
                    div.qr {
                        img #two-factor-qr alt="QR code for your authenticator app" width="200" height="200"
                            data-testid="two-factor-qr";
                    }
                }
                li {
                    p { "Or, if you cannot scan it, enter this key in the app:" }
                    div.copy-row {
                        // Grouped by fours for reading; the key itself is in `data-secret`.
                        code.secret #two-factor-secret data-testid="two-factor-secret" {}
                        button.btn #copy-two-factor-secret type="button" title="Copy the key"
                            data-testid="copy-two-factor-secret" {
                            (Icon::Copy) span { "Copy" }
                        }
                    }
                    p.hint { "Time-based, 6 digits, every 30 seconds." }
                }
                li {
                    form #two-factor-confirm-form novalidate {
                        div.field {
                            label for="two-factor-code" { "Enter the 6-digit code the app shows" }
                            div.code-row {
                                input #two-factor-code.code-input name="code" type="text" inputmode="numeric"
                                    autocomplete="one-time-code" autocapitalize="none" spellcheck="false"
                                    maxlength=(MAX_CODE_CHARS) data-testid="two-factor-code";
                                button.btn.btn-primary type="submit" data-testid="two-factor-confirm" { "Turn On" }
                            }
                        }
                        div.form-error role="alert" hidden data-testid="two-factor-setup-error" {}
                    }
                }
            }
            button.link-button #two-factor-cancel type="button" data-testid="two-factor-cancel" { "Cancel" }
        }
    }
}

/// The ten recovery codes, shown once after turning it on (filled by `app.js`).
fn recovery_codes_box() -> Markup {
    html! {
        div.new-key.recovery-codes #recovery-codes hidden data-testid="recovery-codes" {
            p.new-key-warning {
                (Icon::Alert)
                span {
                    "Save these recovery codes now: they are not shown again. "
                    "Each one signs you in once if you lose your phone."
                }
            }
            ol.recovery-list #recovery-code-list aria-label="Recovery codes" data-testid="recovery-code-list" {}
            p.hint #recovery-copy-hint hidden data-testid="recovery-copy-hint" {
                "The codes are selected: press Ctrl+C (⌘C on a Mac) to copy them."
            }
            div.button-row {
                button.btn #copy-recovery-codes type="button" data-testid="copy-recovery-codes" {
                    (Icon::Copy) span { "Copy" }
                }
                button.btn.btn-primary #recovery-codes-done type="button" data-testid="recovery-codes-done" {
                    "Done"
                }
            }
        }
    }
}

/// Turning it off: the password and a current code (or a recovery code).
fn turn_off_dialog() -> Markup {
    modal(
        "two-factor-off-dialog",
        html! { "Turn Off Two-factor Sign-in" },
        html! {
            p { "Signing in will ask only for your password." }
            (password_field("Password", PasswordInput::current("two-factor-off-password")))
            div.field {
                label for="two-factor-off-code" { "Code" }
                input #two-factor-off-code.code-input name="code" type="text"
                    autocomplete="one-time-code" autocapitalize="none" spellcheck="false"
                    maxlength=(MAX_CODE_CHARS) aria-describedby="two-factor-off-code-hint"
                    data-testid="two-factor-off-code";
                p.hint #two-factor-off-code-hint { "The 6-digit code from your app, or a recovery code." }
            }
        },
        "Turn Off",
        Tone::Danger,
    )
}
