//! Manage Users: the search box, the users table (also served alone, so the page can
//! refresh it after an action without reloading; its columns sort in `app.js` by the
//! `data-sort` values of the cells), how many API keys each user has, two-factor sign-in
//! and a password to change (badges), and the Create User, Change Password, Reset Link,
//! Turn Off 2FA, Lock, Delete, API keys and sessions dialogs.

use std::collections::HashMap;

use maud::{html, Markup};

use super::dialog::{info_modal, modal, password_field, PasswordInput, Tone};
use super::icons::Icon;
use super::keys::{revoke_key_dialog, user_keys_dialog};
use super::layout::{layout, role_badges, PageContext};
use super::sessions::user_sessions_dialog;
use crate::accounts::Account;
use crate::time::{local_time, relative_time};
use crate::users::{DEFAULT_LOCK_REASON, MAX_USERNAME_CHARS};

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
    /// Make Admin: anyone but yourself who is not an Admin yet.
    pub make_admin: bool,
    /// Remove Admin: an Admin other than yourself, while another Admin remains (the
    /// server refuses taking the role from the last one).
    pub remove_admin: bool,
    /// Reset Link: a one-time link to choose a new password, for accounts with a password
    /// here.
    pub reset_link: bool,
    /// Turn Off 2FA: for someone else's password account with two-factor sign-in on (your
    /// own is turned off on My Account, with your password and a code).
    pub reset_two_factor: bool,
}

impl RowActions {
    /// The actions for `account` of a section whose accounts do or do not have passwords,
    /// in a table that lists `admins` Admins in all.
    pub fn for_account(account: &Account, has_passwords: bool, me: &str, admins: usize) -> Self {
        let is_me = account.user_name == me;
        let locked = account.locked.is_some();
        let is_admin = account.is_admin();
        Self {
            password: has_passwords,
            lock: !locked && !is_me && !is_admin,
            unlock: locked,
            delete: !is_me,
            make_admin: !is_me && !is_admin,
            remove_admin: !is_me && is_admin && admins > 1,
            reset_link: has_passwords,
            reset_two_factor: has_passwords && account.two_factor && !is_me,
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
    /// How many API keys each of these accounts has, by username (none when absent).
    pub key_counts: HashMap<String, usize>,
}

/// A number as a `data-sort` value (seconds since 1970; "" for never).
fn sort_time(time: Option<f64>) -> String {
    time.map(|t| t.to_string()).unwrap_or_default()
}

fn user_row(row: &Account, section: &AccountSection, me: &str, admins: usize, now: f64) -> Markup {
    let name = row.user_name.as_str();
    let actions = RowActions::for_account(row, section.has_passwords, me, admins);
    let created = local_time(row.created);
    // The roles as a JSON array, so that Make and Remove Admin keep the others exactly.
    let roles = serde_json::to_string(&row.roles).unwrap_or_else(|_| "[]".to_owned());
    let keys = section.key_counts.get(name).copied().unwrap_or(0);
    html! {
        tr data-user=(name) data-provider=(section.provider) data-roles=(roles) data-testid="user-row" {
            td.username data-label="Username" data-sort=(name) {
                span.username-text { (name) }
                @if let Some(label) = &section.badge {
                    " " span.badge.badge-provider title={ "Signs in with " (label) }
                        data-testid="provider-badge" { (label) }
                }
                @if name == me { " " span.badge.badge-you { "you" } }
                @if row.two_factor {
                    " " span.badge.badge-2fa title="Two-factor sign-in is on" data-testid="two-factor-badge" { "2FA" }
                }
            }
            td data-label="Roles" data-sort=(row.roles.join(", ")) {
                @if row.roles.is_empty() { span.muted { "—" } } @else { (role_badges(&row.roles)) }
            }
            td data-label="Status" data-sort=(if row.locked.is_some() { "Locked" } else { "Active" }) {
                span.status-cell {
                    @if let Some(reason) = &row.locked {
                        span.status.status-locked title=(reason) data-testid="status-locked" {
                            (Icon::Lock) "Locked"
                        }
                        span.lock-reason title=(reason) data-testid="lock-reason" { (reason) }
                    } @else {
                        span.status.status-active data-testid="status-active" { "Active" }
                    }
                    @if row.must_change_password {
                        span.must-change title="An Admin set this password: the user chooses their own at their next sign-in"
                            data-testid="must-change-password" { "Must change password" }
                    }
                }
            }
            td.nowrap data-label="Created" data-sort=(row.created) {
                time title=(created) { (created.get(..10).unwrap_or(&created)) }
            }
            td data-label="Last Login" data-sort=(sort_time(row.last_login)) {
                @if let Some(login) = row.last_login {
                    span.last-login title=(local_time(login)) {
                        @if let Some(ip) = &row.last_ip { span.ip { (ip) } span.sep { "·" } }
                        span.nowrap { (relative_time(login, now)) }
                    }
                } @else {
                    span.muted { "Never" }
                }
            }
            td.key-count-cell data-label="API Keys" data-sort=(keys) data-testid="key-count" {
                @if keys > 0 {
                    button.key-count type="button" data-action="keys" title="Show and revoke API keys"
                        aria-label={ "API keys of " (name) ": " (keys) } {
                        (Icon::Key) span { (keys) }
                    }
                } @else {
                    span.muted { "0" }
                }
            }
            td.actions data-label="Actions" {
                div.action-buttons {
                    @if actions.password {
                        button.icon-btn type="button" data-action="password" title="Change password"
                            aria-label={ "Change password of " (name) } { (Icon::Key) }
                    }
                    @if actions.reset_link {
                        button.icon-btn type="button" data-action="reset-link" title="Reset link"
                            aria-label={ "Make a reset link for " (name) } { (Icon::Link) }
                    }
                    @if actions.reset_two_factor {
                        button.icon-btn.icon-btn-warn type="button" data-action="reset-2fa" title="Turn off 2FA"
                            aria-label={ "Turn off two-factor sign-in of " (name) } { (Icon::ShieldOff) }
                    }
                    @if actions.make_admin {
                        button.icon-btn type="button" data-action="make-admin" title="Make Admin"
                            aria-label={ "Make " (name) " an Admin" } { (Icon::ShieldPlus) }
                    }
                    @if actions.remove_admin {
                        button.icon-btn type="button" data-action="remove-admin" title="Remove Admin"
                            aria-label={ "Remove the Admin role of " (name) } { (Icon::ShieldMinus) }
                    }
                    @if actions.lock {
                        button.icon-btn type="button" data-action="lock" title="Lock user"
                            aria-label={ "Lock " (name) } { (Icon::Lock) }
                    }
                    @if actions.unlock {
                        button.icon-btn.icon-btn-warn type="button" data-action="unlock" title="Unlock user"
                            aria-label={ "Unlock " (name) } { (Icon::Unlock) }
                    }
                    button.icon-btn type="button" data-action="sessions" title="Sessions"
                        aria-label={ "Where " (name) " is signed in" } { (Icon::SignOut) }
                    @if actions.delete {
                        button.icon-btn.icon-btn-danger type="button" data-action="delete" title="Delete user"
                            aria-label={ "Delete " (name) } { (Icon::Trash) }
                    }
                }
            }
        }
    }
}

/// A column heading that sorts the table (`app.js` sets `aria-sort` on the sorted one);
/// `numeric` columns compare their `data-sort` values as numbers.
fn sort_heading(label: &str, numeric: bool) -> Markup {
    html! {
        th scope="col" data-sort-type=(if numeric { "number" } else { "text" }) {
            button.sort type="button" title={ "Sort by " (label) } {
                span { (label) }
                span.sort-icon.sort-none { (Icon::SortBoth) }
                span.sort-icon.sort-asc { (Icon::SortUp) }
                span.sort-icon.sort-desc { (Icon::SortDown) }
            }
        }
    }
}

/// The users table, as seen by the signed-in admin `me`: each store's accounts in turn
/// (the password store's first). Served alone at `/admin/table` for the page to swap in
/// after each action.
pub fn users_table(sections: &[AccountSection], me: &str, now: f64) -> Markup {
    let admins = sections
        .iter()
        .flat_map(|s| &s.accounts)
        .filter(|a| a.is_admin())
        .count();
    html! {
        div #users-table.table-wrap data-testid="users-table" {
            @if sections.iter().all(|s| s.accounts.is_empty()) {
                p.empty.muted { "No users yet." }
            } @else {
                table.users {
                    thead {
                        tr {
                            (sort_heading("Username", false))
                            (sort_heading("Roles", false))
                            (sort_heading("Status", false))
                            (sort_heading("Created", true))
                            (sort_heading("Last Login", true))
                            (sort_heading("API Keys", true))
                            th.actions scope="col" { "Actions" }
                        }
                    }
                    tbody {
                        @for section in sections {
                            @for account in &section.accounts {
                                (user_row(account, section, me, admins, now))
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

/// What creating a user does while there is none yet: the first user is an Admin, and
/// with password sign-in selected it switches authentication on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstUser {
    /// Creating it makes everyone sign in, the visitor included.
    pub turns_sign_in_on: bool,
}

fn dialogs(min_password: usize, first_user: Option<FirstUser>) -> Markup {
    let max = MAX_USERNAME_CHARS.to_string();
    let first = first_user.is_some();
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
                (password_field("Password", PasswordInput::new_password("new-user-password", min_password)))
                (password_field("Confirm Password", PasswordInput::confirm("new-user-confirm")))
                label.checkbox for="new-user-admin" {
                    input #new-user-admin name="admin" type="checkbox" checked[first] disabled[first];
                    span { "Admin" span.hint { " — can manage users" } }
                }
                @if let Some(first_user) = first_user {
                    p.note data-testid="first-user-note" {
                        "The first user is an Admin."
                        @if first_user.turns_sign_in_on {
                            " Creating it turns authentication on: you then sign in as this user."
                        }
                    }
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
                (password_field("New Password", PasswordInput::new_password("reset-password", min_password)))
                (password_field("Confirm Password", PasswordInput::confirm("reset-confirm")))
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
        (modal(
            "reset-2fa-dialog",
            html! { "Turn Off Two-factor Sign-in" },
            html! {
                p { "Turn off two-factor sign-in for " (target_name()) "? They sign in with their password alone until they turn it on again." }
                p.hint { "Do this for someone who lost their authenticator app and their recovery codes, once you know it is them who asks." }
            },
            "Turn Off 2FA",
            Tone::Danger,
        ))
        (reset_link_dialog())
        (user_keys_dialog())
        (user_sessions_dialog())
        (revoke_key_dialog())
    }
}

/// The reset link just made, shown once with its Copy button (`app.js` fills it from
/// `POST /admin/users/{name}/reset-link`; the page never renders a link).
fn reset_link_dialog() -> Markup {
    info_modal(
        "reset-link-dialog",
        html! { "Reset Link for " (target_name()) },
        html! {
            p {
                "Send this link to " (target_name()) ". It works once, for "
                span #reset-link-lifetime data-testid="reset-link-lifetime" { "30 minutes" }
                ": whoever opens it chooses the account's password, and its sessions end."
            }
            div.copy-row {
                input #reset-link-value type="text" readonly aria-label="The reset link"
                    autocomplete="off" spellcheck="false" data-testid="reset-link-value";
                button.btn #copy-reset-link type="button" title="Copy the link" data-testid="copy-reset-link" {
                    (Icon::Copy) span { "Copy" }
                }
            }
            p.hint #reset-link-copy-hint hidden data-testid="reset-link-copy-hint" {
                "The link is selected: press Ctrl+C (⌘C on a Mac) to copy it."
            }
            p.hint { "It is not shown again. A new link replaces this one." }
        },
    )
}

/// The search box over the users table and its count (outside the table, like the "no
/// match" line, so that they stay when the table is swapped for a fresh one).
fn table_tools(sections: &[AccountSection]) -> Markup {
    let empty = sections.iter().all(|s| s.accounts.is_empty());
    html! {
        div.table-tools #user-tools hidden[empty] {
            div.search-box {
                (Icon::Search)
                input #user-search type="search" placeholder="Search by name, role or status"
                    aria-label="Search users by name, role or status" aria-controls="users-table"
                    autocomplete="off" autocapitalize="none" spellcheck="false" data-testid="user-search";
            }
            p.muted.user-count #user-count aria-live="polite" data-testid="user-count" {}
        }
    }
}

/// The line that replaces the rows when none matches the search.
fn no_match() -> Markup {
    html! {
        p.no-match.muted #no-match hidden data-testid="no-match" {
            "No user matches “" span #no-match-query {} "”."
        }
    }
}

/// The Manage Users page of the signed-in admin in `context`; `first_user` while there is
/// no user yet (authentication is off and the visitor is the default user).
pub fn admin_page(
    context: &PageContext,
    sections: &[AccountSection],
    now: f64,
    first_user: Option<FirstUser>,
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
                        p.muted { "Create accounts, reset passwords, make Admins, lock and remove users, revoke their API keys." }
                    }
                    button.btn.btn-primary type="button" data-open="create-user-dialog" data-testid="create-user" {
                        (Icon::Plus) span { "Create User" }
                    }
                }
                (table_tools(sections))
                (users_table(sections, me, now))
                (no_match())
            }
            (dialogs(context.min_password_length, first_user))
        },
    )
}
