//! Server-rendered pages (maud). Every value is escaped by maud; nothing user-supplied is
//! ever passed through `PreEscaped`.

mod account;
mod admin;
mod avatar;
mod chat;
mod dialog;
mod error;
mod home;
mod icons;
mod keys;
mod layout;
mod refused;
mod reset;
mod sessions;
mod sign_in;
mod two_factor;

pub use account::account_page;
pub use admin::{admin_page, users_table, AccountSection, FirstUser};
pub use avatar::default_avatar;
pub use error::error_page;
pub use home::home_page;
pub use layout::{forbidden_page, PageContext};
pub use refused::sign_in_refused_page;
pub use reset::reset_page;
pub use sessions::{device, ListedSession};
pub use sign_in::{choose_password_page, sign_in_page};

#[cfg(test)]
mod tests;
