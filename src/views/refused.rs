//! The page that says why a sign-in with an external provider did not complete.

use maud::{html, Markup};

use super::layout::{layout, sentence, PageContext};

/// A refused or failed external sign-in: `title` as the heading, `message` saying why,
/// and the way back to Sign In.
pub fn sign_in_refused_page(title: &str, message: &str) -> Markup {
    layout(
        &PageContext::default(),
        title,
        html! {
            section.card.narrow data-testid="sign-in-refused" {
                h1 { (title) }
                p { (sentence(message)) }
                p { a href="/login" { "Back to Sign In" } }
            }
        },
    )
}
