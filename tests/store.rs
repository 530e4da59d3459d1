//! Properties of the building blocks, over generated input: usernames, the users.json
//! round trip, reference-format hashes and session tokens.

use llms_auth::password::{hash_password, verify_password, HashScheme};
use llms_auth::session::SessionToken;
use llms_auth::users::{
    default_roles, parse_users, serialize_users, validate_username, User, Users,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

proptest! {
    // Failing cases are reported, never saved into the repository.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(200)
    })]

    /// Whatever is accepted is a safe single path component (avatars live at
    /// `user/<name>/avatar.png`) made only of the documented characters.
    #[test]
    fn accepted_usernames_are_safe_path_components(name in "\\PC{0,70}") {
        if validate_username(&name).is_ok() {
            prop_assert!((1..=64).contains(&name.chars().count()));
            prop_assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')));
            prop_assert!(!name.starts_with('.') && !name.starts_with('-'));
            prop_assert!(name != "." && name != ".." && !name.contains('/'));
        }
    }

    #[test]
    fn names_of_the_documented_shape_are_accepted(name in "[A-Za-z0-9_@][A-Za-z0-9._@-]{0,63}") {
        prop_assert!(validate_username(&name).is_ok(), "{}", name);
    }

    /// What we write parses back to the same users, unknown fields included.
    #[test]
    fn the_store_round_trips(
        entries in proptest::collection::vec(
            (
                "[a-z][a-z0-9._-]{0,10}",
                "[0-9a-f]{32}:[0-9a-f]{64}",
                0.0f64..4.0e9,
                proptest::collection::vec("[A-Za-z]{1,8}", 0..3),
                proptest::option::of("\\PC{0,20}"),
                proptest::option::of("\\PC{0,8}"),
            ),
            0..6,
        )
    ) {
        let mut users = Users::new();
        for (name, hash, created, roles, locked, extra) in entries {
            let mut user = User::new(hash, roles);
            user.record.created = created;
            user.record.locked = locked;
            if let Some(extra) = extra {
                user.record.extra.insert("theme".into(), json!(extra));
            }
            users.insert(name, user);
        }
        let bytes = serialize_users(&users).unwrap();
        let parsed = parse_users(std::path::Path::new("users.json"), &bytes).unwrap();
        prop_assert_eq!(&parsed, &users);
        // 2-space indentation, like the reference's json.dump(indent=2).
        let text = String::from_utf8(bytes).unwrap();
        if !users.is_empty() {
            prop_assert!(text.starts_with("{\n  \""), "{}", text);
        }
        // No `locked` key for active accounts.
        let value: Map<String, Value> = serde_json::from_str(&text).unwrap();
        for (name, user) in &users {
            prop_assert_eq!(value[name].get("locked").is_some(), user.record.locked.is_some());
        }
    }

    /// Reference-format hashes verify their password and nothing else.
    #[test]
    fn sha256_hashes_verify_only_their_password(password in "\\PC{1,40}", other in "\\PC{1,40}") {
        let hash = hash_password(&password, HashScheme::Sha256).unwrap();
        prop_assert!(verify_password(&password, &hash, HashScheme::Sha256).is_match());
        if other != password {
            prop_assert!(!verify_password(&other, &hash, HashScheme::Sha256).is_match());
        }
    }

    /// Tokens are exactly 43 characters of URL-safe base64; nothing else is looked up.
    #[test]
    fn only_token_shaped_cookies_are_tokens(value in "\\PC{0,60}") {
        let shaped = value.len() == 43
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(SessionToken::parse(&value).is_some(), shaped);
    }
}

#[test]
fn only_the_name_admin_gets_the_admin_role() {
    assert_eq!(default_roles("admin"), ["Admin"]);
    for name in ["Admin", "ADMIN", "admin2", "administrator", "alice"] {
        assert!(default_roles(name).is_empty(), "{name}");
    }
}

#[test]
fn a_generated_token_has_the_documented_shape() {
    let tokens: Vec<_> = (0..32).map(|_| SessionToken::generate()).collect();
    for token in &tokens {
        assert!(SessionToken::parse(token.expose()).is_some());
    }
    let distinct: std::collections::HashSet<_> = tokens.iter().map(|t| t.expose()).collect();
    assert_eq!(distinct.len(), tokens.len());
}
