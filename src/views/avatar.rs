//! The generated default avatar: the user's initial on a colour derived from the name.

use maud::{html, Markup};
use sha2::{Digest, Sha256};

/// An SVG avatar for `user_name`.
pub fn default_avatar(user_name: &str) -> Markup {
    let initial: String = user_name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".to_owned());
    let digest = Sha256::digest(user_name.as_bytes());
    let hue = u16::from_be_bytes([digest[0], digest[1]]) % 360;
    let fill = format!("hsl({hue}, 55%, 45%)");
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256" {
            rect width="256" height="256" fill=(fill) {}
            text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="system-ui, sans-serif" font-size="128" fill="#fff" { (initial) }
        }
    }
}
