//! The Sign In page: the password form with its second step (a code from the
//! authenticator app, or a recovery code), and the "Choose your password" form that a user
//! whose password an Admin set meets before anything else (SPEC 12).

use maud::{html, Markup};

use super::dialog::{password_field, PasswordInput};
use super::icons::Icon;
use super::layout::{layout, PageContext};
use crate::users::MAX_SIGN_IN_NAME_BYTES;

/// The longest second-factor input the field takes (the server reads at most 64 bytes).
const MAX_CODE_CHARS: usize = 64;

/// The sign-in form (when a provider uses one) and the providers' own sections (such as
/// a "Sign in with GitHub" button).
///
/// The form is submitted by `app.js` as JSON to `POST /auth/login`; errors (wrong
/// password, the lock reason, the wait when throttled) appear above the fields, and on
/// success the browser goes to `next`, a local path already checked by the server. An
/// account with two-factor sign-in is asked for a code in a second step of the same form;
/// an account whose password an Admin chose is shown the "Choose your password" form in
/// place.
pub fn sign_in_page(
    context: &PageContext,
    next: &str,
    password_form: bool,
    provider_sections: &[Markup],
) -> Markup {
    layout(
        context,
        "Sign In",
        html! {
            section.card.narrow.sign-in {
                div #sign-in-step {
                    div.sign-in-head {
                        span.brand-mark.brand-mark-large { (Icon::Logo) }
                        h1 { "Sign In" }
                        p.muted { "Sign in to continue to llms." }
                    }
                    @if password_form {
                        // What the previous page wants said (set by `app.js`: "authentication is
                        // now on" after the first user was created).
                        div.notice role="status" hidden data-testid="sign-in-notice" {}
                        (sign_in_form(next))
                        noscript { p.form-error { "Signing in needs JavaScript." } }
                    }
                    @if password_form && !provider_sections.is_empty() {
                        div.divider aria-hidden="true" { span { "or" } }
                    }
                    @for section in provider_sections {
                        div.provider-section { (section) }
                    }
                    @if provider_sections.is_empty() && !password_form {
                        p.muted { "This server's sign-in method has no page of its own." }
                    }
                }
                @if password_form {
                    (choose_password(context.min_password_length, next, None))
                }
            }
        },
    )
}

/// The password form: username and password, then (for an account with two-factor
/// sign-in) the code step, which `app.js` shows after the server asks for a code.
fn sign_in_form(next: &str) -> Markup {
    html! {
        form #sign-in-form method="post" action="/auth/login" data-next=(next) novalidate {
            div.form-error role="alert" hidden data-testid="sign-in-error" {}
            div #sign-in-credentials {
                div.field {
                    label for="username" { "Username" }
                    input #username name="username" type="text" autocomplete="username"
                        autocapitalize="none" spellcheck="false" maxlength=(MAX_SIGN_IN_NAME_BYTES) required autofocus;
                }
                div.field {
                    label for="password" { "Password" }
                    (PasswordInput { required: true, ..PasswordInput::current("password") })
                }
            }
            div.code-step #sign-in-code-step hidden data-testid="sign-in-code-step" {
                p.code-intro {
                    (Icon::ShieldCheck)
                    span #sign-in-code-intro data-testid="sign-in-code-intro" {
                        "Two-factor sign-in is on for " strong #sign-in-code-user {} "."
                    }
                }
                div.field {
                    label #sign-in-code-label for="sign-in-code" data-testid="sign-in-code-label" {
                        "Enter the 6-digit code from your authenticator app"
                    }
                    input #sign-in-code.code-input name="code" type="text" inputmode="numeric"
                        autocomplete="one-time-code" autocapitalize="none" spellcheck="false"
                        maxlength=(MAX_CODE_CHARS) aria-describedby="sign-in-code-hint"
                        data-testid="sign-in-code";
                    p.hint #sign-in-code-hint data-testid="sign-in-code-hint" {
                        "The code changes every 30 seconds."
                    }
                }
                button.link-button #sign-in-use-recovery type="button"
                    data-testid="sign-in-use-recovery" { "Use a recovery code" }
            }
            button.btn.btn-primary.btn-block type="submit" data-testid="sign-in-submit" { "Sign In" }
            p.step-back #sign-in-back-line hidden {
                button.link-button #sign-in-back type="button" data-testid="sign-in-back" {
                    "Back"
                }
            }
        }
    }
}

/// The page at `/login` for a signed-in `user_name` whose password an Admin chose: only
/// "Choose your password" (and Sign out); afterwards the browser goes to `next`. The
/// header shows no user menu: every page but this one leads back here until then.
pub fn choose_password_page(context: &PageContext, user_name: &str, next: &str) -> Markup {
    let frame = PageContext {
        user: None,
        ..context.clone()
    };
    layout(
        &frame,
        "Choose your password",
        html! {
            section.card.narrow.sign-in {
                (choose_password(context.min_password_length, next, Some(user_name)))
            }
        },
    )
}

/// The "Choose your password" form, posted by `app.js` to `POST /account/change-password`.
/// On its own page it shows (`user_name` known, the current password asked for); on the
/// sign-in page it is hidden until the sign-in answers `mustChangePassword`, and `app.js`
/// fills in the name and the current password just typed.
fn choose_password(min_password: usize, next: &str, user_name: Option<&str>) -> Markup {
    let on_sign_in_page = user_name.is_none();
    html! {
        div #choose-password hidden[on_sign_in_page] data-testid="choose-password" {
            div.sign-in-head {
                span.brand-mark.brand-mark-large { (Icon::Key) }
                h1 { "Choose your password" }
                p.muted {
                    "Signed in as " strong data-choose-user data-testid="choose-password-user" { (user_name.unwrap_or_default()) } ". "
                    "An Admin set the password you signed in with: choose one of your own to continue."
                }
            }
            form #choose-password-form method="post" action="/account/change-password"
                data-next=(next) novalidate data-testid="choose-password-form" {
                div.form-error role="alert" hidden data-testid="choose-password-error" {}
                // For password managers: whose password this is.
                input #choose-username type="text" name="username" autocomplete="username"
                    value=(user_name.unwrap_or_default()) hidden;
                div #choose-current hidden[on_sign_in_page] {
                    (password_field("The Password You Were Given", PasswordInput::current("choose-current-password")))
                }
                (password_field("New Password", PasswordInput::new_password("choose-new-password", min_password)))
                (password_field("Confirm New Password", PasswordInput::confirm("choose-confirm-password")))
                button.btn.btn-primary.btn-block type="submit" data-testid="choose-password-submit" { "Set Password" }
            }
            form.step-back method="post" action="/auth/logout" data-sign-out {
                button.link-button type="submit" data-testid="choose-password-sign-out" {
                    "Sign out instead"
                }
            }
        }
    }
}
