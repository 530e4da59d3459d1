//! The Sign In page.

use maud::{html, Markup};

use super::dialog::PasswordInput;
use super::icons::Icon;
use super::layout::{layout, PageContext};
use crate::users::MAX_SIGN_IN_NAME_BYTES;

/// The sign-in form (when a provider uses one) and the providers' own sections (such as
/// a "Sign in with GitHub" button).
///
/// The form is submitted by `app.js` as JSON to `POST /auth/login`; errors (wrong
/// password, the lock reason, the wait when throttled) appear above the fields, and on
/// success the browser goes to `next`, a local path already checked by the server.
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
                div.sign-in-head {
                    span.brand-mark.brand-mark-large { (Icon::Logo) }
                    h1 { "Sign In" }
                    p.muted { "Sign in to continue to llms." }
                }
                @if password_form {
                    // What the previous page wants said (set by `app.js`: "authentication is
                    // now on" after the first user was created).
                    div.notice role="status" hidden data-testid="sign-in-notice" {}
                    form #sign-in-form method="post" action="/auth/login" data-next=(next) novalidate {
                        div.form-error role="alert" hidden data-testid="sign-in-error" {}
                        div.field {
                            label for="username" { "Username" }
                            input #username name="username" type="text" autocomplete="username"
                                autocapitalize="none" spellcheck="false" maxlength=(MAX_SIGN_IN_NAME_BYTES) required autofocus;
                        }
                        div.field {
                            label for="password" { "Password" }
                            (PasswordInput { required: true, ..PasswordInput::current("password") })
                        }
                        button.btn.btn-primary.btn-block type="submit" data-testid="sign-in-submit" { "Sign In" }
                    }
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
        },
    )
}
