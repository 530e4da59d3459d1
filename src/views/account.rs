//! My Account: avatar, username, roles, Change Password.

use maud::{html, Markup};

use super::layout::{layout, PageContext};

/// The account page of the signed-in user.
pub fn account_page(context: &PageContext) -> Markup {
    layout(
        context,
        "My Account",
        html! {
            @if let Some(user) = &context.user {
                section.card.account {
                    h1 { "My Account" }
                    div.profile {
                        img.avatar.avatar-large src="/avatar/user" alt="Your avatar" width="96" height="96" data-avatar;
                        div {
                            div.profile-name data-testid="account-username" { (user.user_name) }
                            div.roles {
                                @for role in &user.roles {
                                    span.badge.badge-admin[role == "Admin"] { (role) }
                                }
                                @if user.roles.is_empty() { span.muted { "No roles" } }
                            }
                        }
                    }
                }
            }
        },
    )
}
