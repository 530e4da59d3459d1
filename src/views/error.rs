//! The page a browser is shown for an error, instead of the API's JSON.

use maud::{html, Markup};

use super::icons::Icon;
use super::layout::{layout, sentence, PageContext};

/// An error page: `title` as the heading, `message` saying what went wrong and what to do.
pub fn error_page(title: &str, message: &str) -> Markup {
    layout(
        &PageContext::default(),
        title,
        html! {
            section.card.narrow.center data-testid="error-page" {
                div.big-icon { (Icon::Lock) }
                h1 { (title) }
                p data-testid="error-message" { (sentence(message)) }
                p { a.btn href="/" { "Back to the home page" } }
            }
        },
    )
}
