//! The page frame: head, header with the user menu, the "authentication is off" banner.

use maud::{html, Markup, DOCTYPE};

use crate::provider::CurrentUser;

/// What the frame of every page needs to know.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    /// The signed-in user (or the default user), if any.
    pub user: Option<CurrentUser>,
    /// Authentication is off and the server listens beyond loopback.
    pub exposed_without_auth: bool,
}

fn user_menu(user: &CurrentUser) -> Markup {
    html! {
        details.user-menu data-testid="user-menu" {
            summary aria-label="User menu" {
                img.avatar.avatar-small src="/avatar/user" alt="" width="32" height="32" data-avatar;
            }
            div.menu-panel role="menu" {
                div.menu-user {
                    span.menu-name data-testid="menu-username" { (user.user_name) }
                }
                a role="menuitem" href="/account" { "My Account" }
                @if user.is_admin() {
                    a role="menuitem" href="/admin" data-testid="menu-admin" { "Manage Users" }
                }
                @if !user.is_default {
                    form method="post" action="/auth/logout" data-sign-out {
                        button.menu-button role="menuitem" type="submit" data-testid="sign-out" { "Sign Out" }
                    }
                }
            }
        }
    }
}

/// Wraps `body` in the full page.
pub fn layout(context: &PageContext, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · llms" }
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                @if context.exposed_without_auth {
                    div.banner.banner-danger role="alert" data-testid="auth-off-banner" {
                        "Authentication is off and this server is reachable from the network: anyone who can reach it can use it."
                    }
                }
                header.topbar {
                    a.brand href="/" { "llms" }
                    @if let Some(user) = &context.user {
                        (user_menu(user))
                    }
                }
                main.content { (body) }
            }
        }
    }
}

/// The 403 page for a signed-in user who is not an Admin.
pub fn forbidden_page() -> Markup {
    layout(
        &PageContext::default(),
        "Forbidden",
        html! {
            section.card.narrow data-testid="forbidden" {
                h1 { "Access denied" }
                p { "Only users with the Admin role can open this page." }
                p { a href="/" { "Back to the home page" } }
            }
        },
    )
}
