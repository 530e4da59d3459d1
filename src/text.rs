//! Stored text shown on a terminal: whatever a hand-edited store or another program put in
//! a name or a reason is printed escaped, so it cannot move the cursor, retitle the
//! window, or forge lines.

/// Whether `c` would act on a terminal instead of showing: control characters (C0, DEL,
/// C1: escape sequences, carriage returns, line feeds) and the bidirectional-text controls
/// that reorder what follows them.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [unprintable](is_unprintable) character written as a Rust escape
/// (`\u{1b}`, `\r`, `\u{202e}`); anything else as it is.
pub fn printable(text: &str) -> String {
    if !text.chars().any(is_unprintable) {
        return text.to_owned();
    }
    text.chars()
        .flat_map(|c| {
            if is_unprintable(c) {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_and_the_rest_kept() {
        assert_eq!(printable("émile, 日本"), "émile, 日本");
        assert_eq!(
            printable("spam\u{1b}]0;owned\u{7}\r  LOCKED"),
            "spam\\u{1b}]0;owned\\u{7}\\r  LOCKED"
        );
        assert_eq!(printable("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(printable("x\u{202e}gnp.exe"), "x\\u{202e}gnp.exe");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
    }
}
