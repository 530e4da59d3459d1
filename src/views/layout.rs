//! The page frame: head, header with the user menu, the "authentication is off" banner, the
//! status line that scripts use to report results, and the 403 page.

use maud::{html, Markup, DOCTYPE};

use super::icons::Icon;
use crate::identity::CurrentUser;

/// What the frame of every page needs to know.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    /// The signed-in user (or the default user), if any.
    pub user: Option<CurrentUser>,
    /// Authentication is off and the server listens beyond loopback.
    pub exposed_without_auth: bool,
    /// The fewest characters a new password may have (`Config::min_password_length`): the
    /// fields that set one say so and carry it as `minlength`. 0 on pages that set none.
    pub min_password_length: usize,
    /// `/v1/*` is forwarded to an upstream (`--upstream`): the home page offers the chat.
    pub upstream: bool,
}

/// `message` as a sentence: ending with a full stop unless it already ends with one (or
/// with `?` or `!`), so that the server's messages read like the page's own.
pub(super) fn sentence(message: &str) -> String {
    let trimmed = message.trim_end();
    if trimmed.is_empty() || trimmed.ends_with(['.', '?', '!']) {
        trimmed.to_owned()
    } else {
        format!("{trimmed}.")
    }
}

/// A user's roles as badges; the Admin role stands out.
pub(super) fn role_badges(roles: &[String]) -> Markup {
    html! {
        @for role in roles {
            span.badge.badge-admin[role == crate::users::ADMIN_ROLE] { (role) }
        }
    }
}

fn user_menu(user: &CurrentUser) -> Markup {
    html! {
        details.user-menu data-testid="user-menu" {
            summary.user-menu-button aria-label="User menu" title=(user.user_name) {
                img.avatar.avatar-small src="/avatar/user" alt="" width="32" height="32"
                    data-avatar data-testid="header-avatar";
                span.user-menu-name { (user.user_name) }
                (Icon::ChevronDown)
            }
            div.menu-panel {
                div.menu-user {
                    img.avatar.avatar-medium src="/avatar/user" alt="" width="40" height="40" data-avatar;
                    div.menu-user-text {
                        div.menu-name data-testid="menu-username" { (user.user_name) }
                        @if !user.roles.is_empty() {
                            div.menu-roles { (role_badges(&user.roles)) }
                        }
                    }
                }
                nav.menu-items aria-label="Account" {
                    a.menu-item href="/account" data-testid="menu-account" {
                        (Icon::User) span { "My Account" }
                    }
                    @if user.is_admin() {
                        a.menu-item href="/admin" data-testid="menu-admin" {
                            (Icon::Users) span { "Manage Users" }
                        }
                    }
                    @if !user.is_default {
                        form.menu-form method="post" action="/auth/logout" data-sign-out {
                            button.menu-item type="submit" data-testid="sign-out" {
                                (Icon::SignOut) span { "Sign Out" }
                            }
                        }
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
                        (Icon::Alert)
                        span { "Authentication is off and this server is reachable from the network: anyone who can reach it can use it." }
                    }
                }
                header.topbar {
                    div.topbar-inner {
                        a.brand href="/" {
                            span.brand-mark { (Icon::Logo) }
                            span { "llms" }
                        }
                        @if let Some(user) = &context.user {
                            (user_menu(user))
                        }
                    }
                }
                main.content { (body) }
                div #toast.toast role="status" aria-live="polite" hidden data-testid="toast" {}
            }
        }
    }
}

/// The 403 page for a signed-in user who is not an Admin.
pub fn forbidden_page(user: Option<&CurrentUser>) -> Markup {
    let context = PageContext {
        user: user.cloned(),
        ..PageContext::default()
    };
    layout(
        &context,
        "Access denied",
        html! {
            section.card.narrow.center data-testid="forbidden" {
                div.big-icon { (Icon::Lock) }
                h1 { "Access denied" }
                p.muted { "Only users with the Admin role can open this page." }
                p { a.btn href="/" { "Back to the home page" } }
            }
        },
    )
}
