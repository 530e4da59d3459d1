//! Manage Users: the users table.

use maud::{html, Markup};

use super::layout::{layout, PageContext};
use crate::cli::local_time;
use crate::users::Users;

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

/// The Manage Users page.
pub fn admin_page(context: &PageContext, users: &Users, now: f64) -> Markup {
    layout(
        context,
        "Manage Users",
        html! {
            section.card.wide {
                h1 { "Manage Users" }
                table.users data-testid="users-table" {
                    thead { tr { th { "Username" } th { "Roles" } th { "Status" } th { "Created" } th { "Last Login" } } }
                    tbody {
                        @for (name, user) in users {
                            tr data-user=(name) {
                                td.username { (name) }
                                td { @for role in &user.roles { span.badge.badge-admin[role == "Admin"] { (role) } } }
                                td {
                                    @if let Some(reason) = user.lock_reason() {
                                        span.status-locked title=(reason) { "Locked" }
                                    } @else {
                                        span.status-active { "Active" }
                                    }
                                }
                                td { (local_time(user.created)) }
                                td {
                                    @if let Some(login) = user.last_login {
                                        (user.last_ip.as_deref().unwrap_or("")) " · " (relative_time(login, now))
                                    } @else { span.muted { "Never" } }
                                }
                            }
                        }
                    }
                }
            }
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
    }
}
