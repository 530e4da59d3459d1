//! Inline SVG icons (24x24 outline, drawn with `currentColor`), so pages need no icon font
//! and no request beyond the page itself.

use maud::{html, Markup, Render};

/// An icon, rendered as an inline `<svg>` hidden from assistive technology (the button or
/// link around it carries the label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    /// Change password.
    Key,
    /// Lock a user; the "Locked" status.
    Lock,
    /// Unlock a user.
    Unlock,
    /// Delete a user.
    Trash,
    /// Create something.
    Plus,
    /// My Account.
    User,
    /// Manage Users.
    Users,
    /// Sign Out.
    SignOut,
    /// Upload a new avatar.
    Camera,
    /// Close a dialog.
    Close,
    /// Opens the user menu.
    ChevronDown,
    /// An error message.
    Alert,
    /// The product mark in the header.
    Logo,
    /// Show a password (the toggle while the password is hidden).
    Eye,
    /// Hide a password again (the toggle while the password shows).
    EyeOff,
    /// Make a user an Admin.
    ShieldPlus,
    /// Take the Admin role from a user.
    ShieldMinus,
    /// Two-factor sign-in (turn it on; it is on).
    ShieldCheck,
    /// Turn two-factor sign-in off.
    ShieldOff,
    /// A reset link.
    Link,
    /// The search box of a list.
    Search,
    /// A column that can be sorted, not sorted now.
    SortBoth,
    /// A column sorted in ascending order.
    SortUp,
    /// A column sorted in descending order.
    SortDown,
    /// Copy to the clipboard.
    Copy,
    /// Send a message (the chat on the home page).
    Send,
    /// Stop what is running (an answer that streams).
    Stop,
}

impl Icon {
    /// The SVG path data of the icon, one entry per `<path>`.
    fn paths(self) -> &'static [&'static str] {
        match self {
            Self::Key => &[
                "M7.5 10a5.5 5.5 0 1 0 0 11a5.5 5.5 0 1 0 0-11z",
                "M11.4 11.6 21 2",
                "M15.5 7.5l3 3L22 7l-3-3",
            ],
            Self::Lock => &[
                "M6 11h12a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-6a2 2 0 0 1 2-2z",
                "M8 11V7a4 4 0 0 1 8 0v4",
            ],
            Self::Unlock => &[
                "M6 11h12a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-6a2 2 0 0 1 2-2z",
                "M8 11V7a4 4 0 0 1 7.75-1.4",
            ],
            Self::Trash => &[
                "M3 6h18",
                "M8 6V4a1 1 0 0 1 1-1h6a1 1 0 0 1 1 1v2",
                "M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6",
                "M10 11v6",
                "M14 11v6",
            ],
            Self::Plus => &["M12 5v14", "M5 12h14"],
            Self::User => &[
                "M12 4a4 4 0 1 0 0 8a4 4 0 1 0 0-8z",
                "M4 21a8 8 0 0 1 16 0",
            ],
            Self::Users => &[
                "M9 4a4 4 0 1 0 0 8a4 4 0 1 0 0-8z",
                "M2 21a7 7 0 0 1 14 0",
                "M16 4.2a4 4 0 0 1 0 7.6",
                "M22 21a7 7 0 0 0-4-6.3",
            ],
            Self::SignOut => &[
                "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4",
                "M16 17l5-5-5-5",
                "M21 12H9",
            ],
            Self::Camera => &[
                "M14.5 4h-5L7 7H4a2 2 0 0 0-2 2v9a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V9a2 2 0 0 0-2-2h-3z",
                "M12 10a3 3 0 1 0 0 6a3 3 0 1 0 0-6z",
            ],
            Self::Close => &["M18 6 6 18", "M6 6l12 12"],
            Self::ChevronDown => &["m6 9 6 6 6-6"],
            Self::Alert => &[
                "M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z",
                "M12 8v4",
                "M12 16h.01",
            ],
            Self::Logo => &[
                "M4 5a2 2 0 0 1 2-2h12a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-7l-5 4v-4a2 2 0 0 1-2-2z",
                "M9 8v5h4",
            ],
            Self::Eye => &[
                "M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z",
                "M12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6z",
            ],
            Self::EyeOff => &[
                "M10.6 5.1A9.7 9.7 0 0 1 12 5c6.5 0 10 7 10 7a17 17 0 0 1-2.9 3.9",
                "M6.6 6.6C3.7 8.4 2 12 2 12s3.5 7 10 7a9.8 9.8 0 0 0 5.4-1.6",
                "M9.9 9.9a3 3 0 0 0 4.2 4.2",
                "M3 3l18 18",
            ],
            Self::ShieldPlus => &[
                "M12 3l8 3v6c0 4.8-3.4 8-8 9-4.6-1-8-4.2-8-9V6z",
                "M12 9v6",
                "M9 12h6",
            ],
            Self::ShieldMinus => &["M12 3l8 3v6c0 4.8-3.4 8-8 9-4.6-1-8-4.2-8-9V6z", "M9 12h6"],
            Self::ShieldCheck => &[
                "M12 3l8 3v6c0 4.8-3.4 8-8 9-4.6-1-8-4.2-8-9V6z",
                "m9 12 2 2 4-4",
            ],
            Self::ShieldOff => &[
                "M12 3l8 3v6c0 4.8-3.4 8-8 9-4.6-1-8-4.2-8-9V6z",
                "M3 3l18 18",
            ],
            Self::Link => &[
                "M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7",
                "M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7",
            ],
            Self::Search => &["M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14z", "M21 21l-4.3-4.3"],
            Self::SortBoth => &["m8 9 4-4 4 4", "m8 15 4 4 4-4"],
            Self::SortUp => &["m7 14 5-5 5 5"],
            Self::SortDown => &["m7 10 5 5 5-5"],
            Self::Copy => &[
                "M10 8h9a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-9a2 2 0 0 1-2-2v-9a2 2 0 0 1 2-2z",
                "M16 8V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v9a2 2 0 0 0 2 2h3",
            ],
            Self::Send => &["M22 2 11 13", "M22 2 15 22l-4-9-9-4z"],
            Self::Stop => &["M7 5h10a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z"],
        }
    }
}

impl Render for Icon {
    fn render(&self) -> Markup {
        html! {
            svg.icon xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="18" height="18"
                fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"
                stroke-linejoin="round" aria-hidden="true" focusable="false" {
                @for d in self.paths() {
                    path d=(d) {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_closed_elements() {
        let svg = Icon::Trash.render().into_string();
        assert!(svg.starts_with("<svg class=\"icon\""));
        assert_eq!(svg.matches("<path ").count(), 5);
        assert_eq!(svg.matches("</path>").count(), 5);
        assert!(svg.contains("aria-hidden=\"true\""));
    }
}
