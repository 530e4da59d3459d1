//! The reset page (`/reset#TOKEN`, SPEC 12): whoever holds a one-time link chooses the
//! account's new password. The token stays in the fragment, which no request carries:
//! `app.js` reads it from `location.hash`, posts it with the new password to
//! `POST /auth/reset`, and takes it out of the address bar once it has been used.

use maud::{html, Markup};

use super::dialog::{password_field, PasswordInput};
use super::icons::Icon;
use super::layout::{layout, PageContext};

/// The reset page. Public: the visitor is whoever holds the link, signed in or not, so the
/// header shows no user menu.
pub fn reset_page(context: &PageContext) -> Markup {
    let frame = PageContext {
        user: None,
        ..context.clone()
    };
    layout(
        &frame,
        "Choose a new password",
        html! {
            section.card.narrow.sign-in #reset data-testid="reset" {
                div.sign-in-head {
                    span.brand-mark.brand-mark-large { (Icon::Key) }
                    h1 #reset-title { "Choose a new password" }
                    p.muted #reset-intro { "This link works once. Your sessions everywhere end, and you sign in with the new password." }
                }
                // A link without its token (cut off when it was copied, say).
                div.form-error role="alert" hidden data-testid="reset-no-token" #reset-no-token {
                    (Icon::Alert)
                    span {
                        "This link is incomplete: the code after the # is missing. Open the whole link you were given, or ask an Admin for a new one."
                    }
                }
                // A link the server refused (used, replaced or expired): its message.
                div.form-error role="alert" hidden data-testid="reset-refused" #reset-refused {}
                p.step-back #reset-problem-links hidden {
                    a href="/login" data-testid="reset-to-sign-in" { "Go to Sign In" }
                }
                form #reset-form method="post" action="/auth/reset" novalidate data-testid="reset-form" {
                    div.form-error role="alert" hidden data-testid="reset-error" {}
                    // Filled in once the account is known, for password managers.
                    input #reset-username type="text" name="username" autocomplete="username" hidden;
                    (password_field("New Password", PasswordInput::new_password("reset-new-password", context.min_password_length)))
                    (password_field("Confirm New Password", PasswordInput::confirm("reset-confirm-password")))
                    button.btn.btn-primary.btn-block type="submit" data-testid="reset-submit" { "Set Password" }
                }
                div #reset-done hidden data-testid="reset-done" {
                    div.notice role="status" data-testid="reset-done-message" { "Your password is set." }
                    p #reset-done-detail { "Sign in with your new password." }
                    a.btn.btn-primary.btn-block href="/login" data-testid="reset-sign-in" { "Sign In" }
                }
                noscript { p.form-error { "Setting a password needs JavaScript." } }
            }
        },
    )
}
