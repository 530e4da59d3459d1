//! Manage Users: the users table (also served alone, so the page can refresh it after an
//! action without reloading) and the Create User, Change Password, Lock and Delete dialogs.

use maud::{html, Markup};

use super::dialog::{field, modal, Tone};
use super::icons::Icon;
use super::layout::{layout, role_badges, PageContext};
use crate::accounts::Account;
use crate::time::local_time;
use crate::users::{DEFAULT_LOCK_REASON, MAX_USERNAME_CHARS};

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
    /// Change Password: only for accounts with a password here (a provider's own
    /// accounts, such as GitHub users, have none).
    pub password: bool,
    /// Lock: not for Admins, not for yourself, not when already locked.
    pub lock: bool,
    /// Unlock: only for locked accounts.
    pub unlock: bool,
    /// Delete: anyone but yourself.
    pub delete: bool,
}

impl RowActions {
    /// The actions for `account` of a section whose accounts do or do not have passwords.
    pub fn for_account(account: &Account, has_passwords: bool, me: &str) -> Self {
        let is_me = account.user_name == me;
        let locked = account.locked.is_some();
        Self {
            password: has_passwords,
            lock: !locked && !is_me && !account.is_admin(),
            unlock: locked,
            delete: !is_me,
        }
    }
}

/// One store's accounts in the users table: the password store's, or a provider's own.
#[derive(Debug, Clone, Default)]
pub struct AccountSection {
    /// The provider whose accounts these are (sent back with every action on them).
    pub provider: String,
    /// The badge on each account ("GitHub"); `None` for the password store's own.
    pub badge: Option<String>,
    /// Whether these accounts have a password here.
    pub has_passwords: bool,
    /// The accounts.
    pub accounts: Vec<Account>,
}

fn user_row(row: &Account, section: &AccountSection, me: &str, now: f64) -> Markup {
    let name = row.user_name.as_str();
    let actions = RowActions::for_account(row, section.has_passwords, me);
    let created = local_time(row.created);
    html! {
        tr data-user=(name) data-provider=(section.provider) data-testid="user-row" {
            td.username data-label="Username" {
                span.username-text { (name) }
                @if let Some(label) = &section.badge {
                    " " span.badge.badge-provider title={ "Signs in with " (label) }
                        data-testid="provider-badge" { (label) }
                }
                @if name == me { " " span.badge.badge-you { "you" } }
            }
            td data-label="Roles" {
                @if row.roles.is_empty() { span.muted { "—" } } @else { (role_badges(&row.roles)) }
            }
            td data-label="Status" {
                @if let Some(reason) = &row.locked {
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
                        @if let Some(ip) = &row.last_ip { span.ip { (ip) } span.sep { "·" } }
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

/// The users table, as seen by the signed-in admin `me`: each store's accounts in turn
/// (the password store's first). Served alone at `/admin/table` for the page to swap in
/// after each action.
pub fn users_table(sections: &[AccountSection], me: &str, now: f64) -> Markup {
    html! {
        div #users-table.table-wrap data-testid="users-table" {
            @if sections.iter().all(|s| s.accounts.is_empty()) {
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
                        @for section in sections {
                            @for account in &section.accounts {
                                (user_row(account, section, me, now))
                            }
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
pub fn admin_page(context: &PageContext, sections: &[AccountSection], now: f64) -> Markup {
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
                (users_table(sections, me, now))
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
