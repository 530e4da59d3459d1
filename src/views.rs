//! Server-rendered pages (maud). Every value is escaped by maud; nothing user-supplied is
//! ever passed through `PreEscaped`.

mod account;
mod admin;
mod avatar;
mod home;
mod layout;
mod sign_in;

pub use account::account_page;
pub use admin::{admin_page, relative_time};
pub use avatar::default_avatar;
pub use home::home_page;
pub use layout::{forbidden_page, layout, PageContext};
pub use sign_in::sign_in_page;
