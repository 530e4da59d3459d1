//! The host's home page: who is signed in, and with an upstream set, the chat that proves
//! the gateway works.

use maud::{html, Markup};

use super::chat::chat_section;
use super::icons::Icon;
use super::layout::{layout, PageContext};

/// Shows who is signed in, with shortcuts to the account pages; with an upstream set, the
/// models they may use and a one-box chat.
pub fn home_page(context: &PageContext) -> Markup {
    layout(
        context,
        "Home",
        html! {
            section.card {
                h1 { "llms" }
                @if let Some(user) = &context.user {
                    @if user.is_default {
                        p data-testid="signed-in-as" { "Authentication is off: you are using the server as the default user." }
                    } @else {
                        p data-testid="signed-in-as" { "Signed in as " strong { (user.user_name) } "." }
                    }
                    div.shortcuts {
                        a.btn href="/account" { (Icon::User) span { "My Account" } }
                        @if user.is_admin() {
                            a.btn href="/admin" { (Icon::Users) span { "Manage Users" } }
                        }
                    }
                }
            }
            @if context.upstream && context.user.is_some() {
                (chat_section())
            }
        },
    )
}
