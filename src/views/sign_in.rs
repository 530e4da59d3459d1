//! The Sign In page.

use maud::{html, Markup};

use super::layout::{layout, PageContext};

/// The sign-in form (when the provider uses one) and the provider's own section.
pub fn sign_in_page(
    context: &PageContext,
    next: &str,
    password_form: bool,
    provider_section: Option<Markup>,
) -> Markup {
    layout(
        context,
        "Sign In",
        html! {
            section.card.narrow {
                h1 { "Sign In" }
                @if password_form {
                    form #sign-in-form method="post" action="/auth/login" data-next=(next) novalidate {
                        div.form-error role="alert" hidden data-testid="sign-in-error" {}
                        label for="username" { "Username" }
                        input #username name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus;
                        label for="password" { "Password" }
                        input #password name="password" type="password" autocomplete="current-password" required;
                        button.primary type="submit" data-testid="sign-in-submit" { "Sign In" }
                    }
                }
                @if let Some(section) = provider_section {
                    div.provider-section { (section) }
                }
            }
        },
    )
}
