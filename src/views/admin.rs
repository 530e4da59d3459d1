//! Manage Users: the users table (also served alone, so the page can refresh it after an
//! action without reloading) and the Create User, Change Password, Lock and Delete dialogs.

use maud::{html, Markup};

use super::dialog::{field, modal, Tone};
use super::icons::Icon;
use super::layout::{layout, role_badges, PageContext};
use crate::provider::ProviderAccount;
use crate::time::local_time;
use crate::users::{User, Users, ADMIN_ROLE, DEFAULT_LOCK_REASON, MAX_USERNAME_CHARS};

/// "3 hours ago" for a time `then` seen from `now` (Unix seconds).
pub fn relative_time(then: f64, now: f64) -> String {
    let seconds = (now - then).max(0.0) as u64;
    let (value, unit) = match seconds {
        0..=59 => return "just now".to_owned(),
        60..=3599 => (seconds / 60, "minute"),
        3600..=86_399 => (seconds / 3600, "hour"),
        86_400..=2_591_999 => (seconds / 86_400, "day"),
        2_592_000..=31_535_999 => (seconds / 2_592_000, "month"),
        _ => (seconds / 31_536_000, "year"),
    };
    format!("{value} {unit}{} ago", if value == 1 { "" } else { "s" })
}

/// Which actions the table offers for one account, as seen by the signed-in admin `me`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowActions {
    /// Change Password: only for the user store's accounts (a provider's own accounts,
    /// such as GitHub users, have no password here).
    pub password: bool,
    /// Lock: not for Admins, not for yourself, not when already locked.
    pub lock: bool,
    /// Unlock: only for locked accounts.
    pub unlock: bool,
    /// Delete: anyone but yourself.
    pub delete: bool,
}

impl RowActions {
    /// The actions for the user store's `user` named `name`.
    pub fn for_user(name: &str, user: &User, me: &str) -> Self {
        Row::of_user(name, user).actions(me)
    }

    /// The actions for a provider's own `account`.
    pub fn for_account(account: &ProviderAccount, me: &str) -> Self {
        Row::of_account(account, "").actions(me)
    }
}

/// The accounts the selected provider keeps itself, shown after the user store's.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderAccounts<'a> {
    /// The provider's label, shown as a badge on each of its accounts ("GitHub").
    pub label: &'a str,
    /// Its accounts.
    pub accounts: &'a [ProviderAccount],
}

/// One row of the users table: an account of the user store or of the selected provider.
struct Row<'a> {
    name: &'a str,
    roles: &'a [String],
    locked: Option<&'a str>,
    created: f64,
    last_ip: Option<&'a str>,
    last_login: Option<f64>,
    /// The provider's label, for a provider's own accounts.
    provider: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn of_user(name: &'a str, user: &'a User) -> Self {
        Self {
            name,
            roles: &user.roles,
            locked: user.lock_reason(),
            created: user.created,
            last_ip: user.last_ip.as_deref(),
            last_login: user.last_login,
            provider: None,
        }
    }

    fn of_account(account: &'a ProviderAccount, label: &'a str) -> Self {
        Self {
            name: &account.user_name,
            roles: &account.roles,
            locked: account.locked.as_deref().filter(|r| !r.is_empty()),
            created: account.created,
            last_ip: account.last_ip.as_deref(),
            last_login: account.last_login,
            provider: Some(label),
        }
    }

    fn actions(&self, me: &str) -> RowActions {
        let is_me = self.name == me;
        let locked = self.locked.is_some();
        let is_admin = self.roles.iter().any(|r| r == ADMIN_ROLE);
        RowActions {
            password: self.provider.is_none(),
            lock: !locked && !is_me && !is_admin,
            unlock: locked,
            delete: !is_me,
        }
    }
}

fn user_row(row: &Row<'_>, me: &str, now: f64) -> Markup {
    let name = row.name;
    let actions = row.actions(me);
    let created = local_time(row.created);
    html! {
        tr data-user=(name) data-testid="user-row" {
            td.username data-label="Username" {
                span.username-text { (name) }
                @if let Some(label) = row.provider {
                    " " span.badge.badge-provider title={ "Signs in with " (label) }
                        data-testid="provider-badge" { (label) }
                }
                @if name == me { " " span.badge.badge-you { "you" } }
            }
            td data-label="Roles" {
                @if row.roles.is_empty() { span.muted { "—" } } @else { (role_badges(row.roles)) }
            }
            td data-label="Status" {
                @if let Some(reason) = row.locked {
                    span.status.status-locked title=(reason) data-testid="status-locked" {
                        (Icon::Lock) "Locked"
                    }
                    span.lock-reason { (reason) }
                } @else {
                    span.status.status-active data-testid="status-active" { "Active" }
                }
            }
            td.nowrap data-label="Created" {
                time title=(created) { (created.get(..10).unwrap_or(&created)) }
            }
            td data-label="Last Login" {
                @if let Some(login) = row.last_login {
                    span.last-login title=(local_time(login)) {
                        @if let Some(ip) = row.last_ip { span.ip { (ip) } span.sep { "·" } }
                        span.nowrap { (relative_time(login, now)) }
                    }
                } @else {
                    span.muted { "Never" }
                }
            }
            td.actions data-label="Actions" {
                div.action-buttons {
                    @if actions.password {
                        button.icon-btn type="button" data-action="password" title="Change password"
                            aria-label={ "Change password of " (name) } { (Icon::Key) }
                    }
                    @if actions.lock {
                        button.icon-btn type="button" data-action="lock" title="Lock user"
                            aria-label={ "Lock " (name) } { (Icon::Lock) }
                    }
                    @if actions.unlock {
                        button.icon-btn.icon-btn-warn type="button" data-action="unlock" title="Unlock user"
                            aria-label={ "Unlock " (name) } { (Icon::Unlock) }
                    }
                    @if actions.delete {
                        button.icon-btn.icon-btn-danger type="button" data-action="delete" title="Delete user"
                            aria-label={ "Delete " (name) } { (Icon::Trash) }
                    }
                }
            }
        }
    }
}

/// The users table, as seen by the signed-in admin `me`: the user store's accounts, then
/// the selected provider's own. Served alone at `/admin/table` for the page to swap in
/// after each action.
pub fn users_table(users: &Users, provider: ProviderAccounts<'_>, me: &str, now: f64) -> Markup {
    html! {
        div #users-table.table-wrap data-testid="users-table" {
            @if users.is_empty() && provider.accounts.is_empty() {
                p.empty.muted { "No users yet." }
            } @else {
                table.users {
                    thead {
                        tr {
                            th scope="col" { "Username" }
                            th scope="col" { "Roles" }
                            th scope="col" { "Status" }
                            th scope="col" { "Created" }
                            th scope="col" { "Last Login" }
                            th.actions scope="col" { "Actions" }
                        }
                    }
                    tbody {
                        @for (name, user) in users {
                            (user_row(&Row::of_user(name, user), me, now))
                        }
                        @for account in provider.accounts {
                            (user_row(&Row::of_account(account, provider.label), me, now))
                        }
                    }
                }
            }
        }
    }
}

fn target_name() -> Markup {
    html! { strong.target-name data-target-name {} }
}

fn dialogs() -> Markup {
    let max = MAX_USERNAME_CHARS.to_string();
    html! {
        (modal(
            "create-user-dialog",
            html! { "Create User" },
            html! {
                div.field {
                    label for="new-username" { "Username" }
                    input #new-username name="userName" type="text" autocomplete="off"
                        autocapitalize="none" spellcheck="false" maxlength=(max);
                    p.hint { "Letters, digits and . _ @ -, at most " (max) " characters." }
                }
                (field("new-user-password", "Password", "password", "new-password"))
                (field("new-user-confirm", "Confirm Password", "password", "new-password"))
                label.checkbox for="new-user-admin" {
                    input #new-user-admin name="admin" type="checkbox";
                    span { "Admin" span.hint { " — can manage users" } }
                }
            },
            "Create User",
            Tone::Primary,
        ))
        (modal(
            "password-dialog",
            html! { "Change Password for " (target_name()) },
            html! {
                // For password managers: whose password this is.
                input type="text" name="username" autocomplete="username" hidden data-target-value;
                (field("reset-password", "New Password", "password", "new-password"))
                (field("reset-confirm", "Confirm Password", "password", "new-password"))
                p.hint { "The user's sessions end; they sign in again with the new password." }
            },
            "Update Password",
            Tone::Primary,
        ))
        (modal(
            "lock-dialog",
            html! { "Lock User" },
            html! {
                p { "Lock " (target_name()) "? They are signed out at once and cannot sign in until unlocked." }
                div.field {
                    label for="lock-reason" { "Reason" }
                    input #lock-reason name="reason" type="text" maxlength="500"
                        placeholder=(DEFAULT_LOCK_REASON) autocomplete="off";
                    p.hint { "Shown to the user when they try to sign in." }
                }
            },
            "Lock User",
            Tone::Danger,
        ))
        (modal(
            "delete-dialog",
            html! { "Delete User" },
            html! {
                p { "Permanently delete " (target_name()) "? Their sessions end and the account cannot be restored." }
            },
            "Delete User",
            Tone::Danger,
        ))
    }
}

/// The Manage Users page of the signed-in admin in `context`.
pub fn admin_page(
    context: &PageContext,
    users: &Users,
    provider: ProviderAccounts<'_>,
    now: f64,
) -> Markup {
    let me = context
        .user
        .as_ref()
        .map(|u| u.user_name.as_str())
        .unwrap_or_default();
    layout(
        context,
        "Manage Users",
        html! {
            section.card.wide #manage-users {
                div.page-head {
                    div {
                        h1 { "Manage Users" }
                        p.muted { "Create accounts, reset passwords, lock and remove users." }
                    }
                    button.btn.btn-primary type="button" data-open="create-user-dialog" data-testid="create-user" {
                        (Icon::Plus) span { "Create User" }
                    }
                }
                (users_table(users, provider, me, now))
            }
            (dialogs())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(relative_time(0.0, 30.0), "just now");
        assert_eq!(relative_time(0.0, 3.0 * 3600.0 + 5.0), "3 hours ago");
        assert_eq!(relative_time(0.0, 60.0), "1 minute ago");
        assert_eq!(relative_time(0.0, 2.0 * 86400.0), "2 days ago");
        assert_eq!(relative_time(100.0, 0.0), "just now");
    }
}
