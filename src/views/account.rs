//! My Account: avatar (click to upload a new one), username, roles, Change Password,
//! two-factor sign-in (password accounts), where you are signed in, and the API keys
//! section.

use maud::{html, Markup};

use super::dialog::{modal, password_field, PasswordInput, Tone};
use super::icons::Icon;
use super::keys::keys_section;
use super::layout::{layout, role_badges, PageContext};
use super::sessions::{sessions_section, ListedSession};
use super::two_factor::two_factor_section;
use crate::keys::ApiKey;

/// The image types the avatar upload accepts (the server checks the content).
const AVATAR_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp";

/// The account page of the signed-in user, with their API `keys` (id and record), their
/// `sessions` as of `now`, and whether two-factor sign-in is on (`None`: the account has
/// no password here, so it has no second factor either).
pub fn account_page(
    context: &PageContext,
    keys: &[(String, ApiKey)],
    sessions: &[ListedSession],
    two_factor: Option<bool>,
    now: f64,
) -> Markup {
    let limit = crate::avatar::AVATAR_LIMIT.to_string();
    layout(
        context,
        "My Account",
        html! {
            @if let Some(user) = &context.user {
                section.card.account {
                    h1 { "My Account" }
                    div.profile {
                        button.avatar-button #avatar-button type="button" title="Change avatar"
                            aria-label="Change avatar" data-testid="avatar-button" {
                            img.avatar.avatar-large src="/avatar/user" alt="Your avatar" width="96" height="96"
                                data-avatar data-testid="account-avatar";
                            span.avatar-overlay { (Icon::Camera) }
                        }
                        input #avatar-input type="file" name="file" accept=(AVATAR_TYPES)
                            data-max-bytes=(limit) hidden data-testid="avatar-input";
                        div.profile-info {
                            div.profile-name data-testid="account-username" { (user.user_name) }
                            div.roles {
                                @if user.roles.is_empty() { span.muted { "No roles" } } @else { (role_badges(&user.roles)) }
                            }
                        }
                        @if !user.is_default {
                            button.btn type="button" data-open="account-password-dialog" data-testid="change-password" {
                                (Icon::Key) span { "Change Password" }
                            }
                        }
                    }
                    div.form-error #avatar-error role="alert" hidden data-testid="avatar-error" {}
                    p.hint { "Click your picture to upload a new one: PNG, JPEG, GIF or WebP, at most 2 MiB." }
                    @if user.is_default {
                        p.muted { "Authentication is off, so there is no password to change." }
                    }
                }
                @if let (Some(on), false) = (two_factor, user.is_default) {
                    (two_factor_section(on))
                }
                @if !user.is_default {
                    (sessions_section(sessions, now))
                }
                (keys_section(context, keys, now))
                @if !user.is_default {
                    (modal(
                        "account-password-dialog",
                        html! { "Change Password" },
                        html! {
                            input type="text" name="username" value=(user.user_name) autocomplete="username" hidden;
                            (password_field("Current Password", PasswordInput::current("current-password")))
                            (password_field("New Password", PasswordInput::new_password("new-password", context.min_password_length)))
                            (password_field("Confirm New Password", PasswordInput::confirm("confirm-password")))
                            p.hint { "Your other sessions end; this one stays signed in." }
                        },
                        "Update Password",
                        Tone::Primary,
                    ))
                }
            }
        },
    )
}
