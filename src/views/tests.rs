//! Rendering checks: escaping of hostile and long usernames, which actions and menu entries
//! each user is offered, the password fields' rule and toggle, the first user's dialog, the
//! API keys (My Account's list, Manage Users' counts), the home page's chat, and account
//! security: the reset page, Choose your password, the sign-in code step, two-factor
//! sign-in on My Account and Manage Users' badges, reset links and Turn Off 2FA.

use super::admin::RowActions;
use super::layout::sentence;
use super::*;
use crate::accounts::Account;
use crate::identity::CurrentUser;
use crate::keys::ApiKey;
use crate::users::{User, Users};

const HOSTILE: &str = "<script>alert(1)</script>\"'&";
const LONG: &str = "maximilian.alexander.von-hohenzollern-sigmaringen@example.org.uk";

fn user(name: &str, roles: &[&str]) -> CurrentUser {
    CurrentUser {
        user_name: name.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        provider: "credentials".to_owned(),
        session: None,
        is_default: false,
        must_change_password: false,
        two_factor: false,
    }
}

fn context(user: CurrentUser) -> PageContext {
    PageContext {
        user: Some(user),
        exposed_without_auth: false,
        min_password_length: 8,
        upstream: false,
    }
}

/// My Account of `user` without keys.
fn account_view(user: CurrentUser) -> String {
    account_page(&context(user), &[], &[], Some(false), 0.0).into_string()
}

fn record(roles: &[&str], locked: Option<&str>) -> User {
    let mut user = User::new(
        "x".to_owned(),
        roles.iter().map(|r| (*r).to_owned()).collect(),
    );
    user.record.locked = locked.map(str::to_owned);
    user
}

/// The `<tr>` of `name` (as it appears escaped in the `data-user` attribute).
fn row<'a>(html: &'a str, escaped_name: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-user=\"{escaped_name}\""))
        .unwrap_or_else(|| panic!("no row for {escaped_name}"));
    let end = start + html[start..].find("</tr>").expect("row end");
    &html[start..end]
}

/// The password store's accounts as their section of the table.
fn store_section(users: &Users) -> AccountSection {
    AccountSection {
        provider: "credentials".into(),
        badge: None,
        has_passwords: true,
        accounts: users
            .iter()
            .map(|(name, user)| Account::of_user(name, user))
            .collect(),
        key_counts: Default::default(),
    }
}

fn admin_view() -> String {
    let mut users = Users::new();
    users.insert("admin".into(), record(&["Admin"], None));
    users.insert("ops".into(), record(&["Admin"], None));
    users.insert("bob".into(), record(&[], None));
    users.insert(
        "carol".into(),
        record(&[], Some("On vacation <until> March")),
    );
    users.insert(LONG.into(), record(&[], None));
    users.insert(HOSTILE.into(), record(&[], None));
    admin_page(
        &context(user("admin", &["Admin"])),
        &[store_section(&users)],
        0.0,
        None,
    )
    .into_string()
}

#[test]
fn hostile_usernames_are_escaped_everywhere() {
    let html = admin_view();
    assert!(
        !html.contains("<script>alert(1)"),
        "raw script tag in the page"
    );
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";
    let hostile_row = row(&html, escaped);
    assert!(hostile_row.contains(&format!("aria-label=\"Delete {escaped}\"")));
    assert!(hostile_row.contains(&format!("<span class=\"username-text\">{escaped}</span>")));

    // The signed-in user's own name, in the header and on My Account.
    let me = user(HOSTILE, &[]);
    for page in [
        home_page(&context(me.clone())),
        account_page(&context(me), &[], &[], Some(false), 0.0),
    ] {
        let html = page.into_string();
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains(escaped));
    }
}

#[test]
fn a_64_character_username_is_shown_whole() {
    let html = admin_view();
    assert!(row(&html, LONG).contains(&format!("<span class=\"username-text\">{LONG}</span>")));
    let html = account_view(user(LONG, &[]));
    assert!(html.contains(&format!(
        "<div class=\"profile-name\" data-testid=\"account-username\">{LONG}</div>"
    )));
}

#[test]
fn no_lock_for_admins_or_yourself_and_no_delete_for_yourself() {
    let html = admin_view();
    let me = row(&html, "admin");
    assert!(me.contains("data-action=\"password\""));
    assert!(!me.contains("data-action=\"lock\""));
    assert!(!me.contains("data-action=\"delete\""));
    assert!(me.contains("badge-you"));

    let other_admin = row(&html, "ops");
    assert!(!other_admin.contains("data-action=\"lock\""));
    assert!(other_admin.contains("data-action=\"delete\""));
    assert!(other_admin.contains("badge-admin"));

    let plain = row(&html, "bob");
    assert!(plain.contains("data-action=\"lock\""));
    assert!(plain.contains("data-action=\"delete\""));
    assert!(!plain.contains("data-action=\"unlock\""));
    assert!(plain.contains("data-testid=\"status-active\""));
}

#[test]
fn locked_users_show_the_reason_and_offer_unlock() {
    let html = admin_view();
    let locked = row(&html, "carol");
    assert!(locked.contains("title=\"On vacation &lt;until&gt; March\""));
    assert!(locked.contains("data-testid=\"status-locked\""));
    assert!(locked.contains("data-action=\"unlock\""));
    assert!(!locked.contains("data-action=\"lock\""));
}

#[test]
fn last_login_shows_the_address_and_a_relative_time() {
    let mut users = Users::new();
    let mut seen = record(&[], None);
    seen.record.last_ip = Some("192.0.2.7".into());
    seen.record.last_login = Some(1_000.0);
    users.insert("bob".into(), seen);
    let html = users_table(&[store_section(&users)], "admin", 1_000.0 + 3.0 * 3600.0).into_string();
    assert!(html.contains("192.0.2.7"));
    assert!(html.contains("3 hours ago"));
    let empty = users_table(&[store_section(&Users::new())], "admin", 0.0).into_string();
    assert!(empty.contains("No users yet."));
}

#[test]
fn the_menu_offers_manage_users_to_admins_only() {
    let admin = home_page(&context(user("root", &["Admin"]))).into_string();
    assert!(admin.contains("data-testid=\"menu-admin\""));
    assert!(admin.contains("href=\"/account\""));
    assert!(admin.contains("<form class=\"menu-form\" method=\"post\" action=\"/auth/logout\""));

    let plain = home_page(&context(user("bob", &[]))).into_string();
    assert!(!plain.contains("data-testid=\"menu-admin\""));
    assert!(!plain.contains("href=\"/admin\""));
    assert!(plain.contains("data-testid=\"sign-out\""));

    // The default user of an unauthenticated server cannot sign out.
    let default = CurrentUser::default_user("credentials");
    let html = home_page(&context(default)).into_string();
    assert!(!html.contains("data-testid=\"sign-out\""));
}

#[test]
fn the_banner_shows_only_when_exposed_without_auth() {
    let mut ctx = context(CurrentUser::default_user("none"));
    assert!(!home_page(&ctx).into_string().contains("auth-off-banner"));
    ctx.exposed_without_auth = true;
    assert!(home_page(&ctx).into_string().contains("auth-off-banner"));
}

#[test]
fn sign_in_page_escapes_next() {
    let html = sign_in_page(
        &PageContext::default(),
        "/\"><script>x()</script>",
        true,
        &[],
    )
    .into_string();
    assert!(!html.contains("<script>x()"));
    assert!(html.contains("data-next=\"/&quot;&gt;&lt;script&gt;x()&lt;/script&gt;\""));
    let without_form = sign_in_page(&PageContext::default(), "/", false, &[]).into_string();
    assert!(!without_form.contains("sign-in-form"));
}

#[test]
fn the_sign_in_form_takes_names_longer_than_new_accounts_may_have() {
    // Existing accounts (written by hand or by llms.py) may have names over 64 characters.
    let html = sign_in_page(&PageContext::default(), "/", true, &[]).into_string();
    assert!(html.contains(r#"id="username""#), "{html}");
    assert!(html.contains(r#"maxlength="256""#), "{html}");
}

#[test]
fn the_forbidden_page_keeps_the_header() {
    let html = forbidden_page(Some(&user("bob", &[]))).into_string();
    assert!(html.contains("data-testid=\"forbidden\""));
    assert!(html.contains("data-testid=\"user-menu\""));
    assert!(!html.contains("data-testid=\"menu-admin\""));
}

fn account(name: &str, roles: &[&str], locked: Option<&str>) -> Account {
    Account {
        user_name: name.to_owned(),
        created: 0.0,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        locked: locked.map(str::to_owned),
        last_ip: Some("198.51.100.4".to_owned()),
        last_login: Some(0.0),
        must_change_password: false,
        two_factor: false,
    }
}

#[test]
fn provider_accounts_get_a_badge_and_no_change_password() {
    let mut users = Users::new();
    users.insert("admin".into(), record(&["Admin"], None));
    users.insert("bob".into(), record(&[], None));
    let accounts = vec![
        account("octocat", &[], None),
        account("hubber", &[], Some("Left <the> team")),
        account("gh-admin", &["Admin"], None),
        account(HOSTILE, &[], None),
    ];
    let provider = AccountSection {
        provider: "github_auth".into(),
        badge: Some("GitHub".into()),
        has_passwords: false,
        accounts: accounts.clone(),
        key_counts: Default::default(),
    };
    let html = admin_page(
        &context(user("gh-admin", &["Admin"])),
        &[store_section(&users), provider],
        3600.0,
        None,
    )
    .into_string();

    // Store users keep their badge-less rows and Change Password.
    let bob = row(&html, "bob");
    assert!(!bob.contains("data-testid=\"provider-badge\""));
    assert!(bob.contains("data-action=\"password\""));

    let octocat = row(&html, "octocat");
    assert!(octocat.contains("data-testid=\"provider-badge\">GitHub</span>"));
    assert!(!octocat.contains("data-action=\"password\""));
    assert!(octocat.contains("data-action=\"lock\""));
    assert!(octocat.contains("data-action=\"delete\""));
    assert!(octocat.contains("198.51.100.4"));
    assert!(octocat.contains("1 hour ago"));

    let locked = row(&html, "hubber");
    assert!(locked.contains("data-testid=\"status-locked\""));
    assert!(locked.contains("Left &lt;the&gt; team"));
    assert!(locked.contains("data-action=\"unlock\""));
    assert!(!locked.contains("data-action=\"lock\""));
    assert!(!locked.contains("data-action=\"password\""));

    // The signed-in admin is a provider account: no lock or delete of yourself, only the
    // list of where you are signed in.
    let me = row(&html, "gh-admin");
    assert!(me.contains("badge-you") && me.contains("badge-admin"));
    assert_eq!(me.matches("data-action=").count(), 1, "{me}");
    assert!(me.contains("data-action=\"sessions\""), "{me}");

    assert!(!html.contains("<script>alert(1)"));
    let hostile = row(&html, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;");
    assert!(hostile.contains("provider-badge"));

    assert_eq!(
        RowActions::for_account(&accounts[0], false, "gh-admin", 2),
        RowActions {
            password: false,
            lock: true,
            unlock: false,
            delete: true,
            make_admin: true,
            remove_admin: false,
            reset_link: false,
            reset_two_factor: false,
        }
    );
}

#[test]
fn a_table_with_only_provider_accounts_is_not_empty() {
    let provider = AccountSection {
        provider: "github_auth".into(),
        badge: Some("GitHub".into()),
        has_passwords: false,
        accounts: vec![account("octocat", &[], None)],
        key_counts: Default::default(),
    };
    let html = users_table(&[store_section(&Users::new()), provider], "octocat", 0.0).into_string();
    assert!(!html.contains("No users yet."));
    assert!(html.contains("data-user=\"octocat\""));
}

#[test]
fn admins_are_made_and_unmade_but_never_yourself_or_the_only_one() {
    let html = admin_view();
    // Yourself: neither.
    let me = row(&html, "admin");
    assert!(!me.contains("data-action=\"make-admin\""));
    assert!(!me.contains("data-action=\"remove-admin\""));
    // Another Admin, while you are one too: Remove Admin, labelled.
    let other_admin = row(&html, "ops");
    assert!(other_admin.contains("data-action=\"remove-admin\""));
    assert!(other_admin.contains("aria-label=\"Remove the Admin role of ops\""));
    assert!(other_admin.contains("title=\"Remove Admin\""));
    assert!(!other_admin.contains("data-action=\"make-admin\""));
    // Anyone else: Make Admin, locked or not.
    for name in ["bob", "carol"] {
        let plain = row(&html, name);
        assert!(plain.contains("data-action=\"make-admin\""), "{plain}");
        assert!(plain.contains(&format!("aria-label=\"Make {name} an Admin\"")));
        assert!(!plain.contains("data-action=\"remove-admin\""));
    }

    // The only Admin in the table (the visitor is the default user): no Remove Admin.
    let mut users = Users::new();
    users.insert("root".into(), record(&["Admin", "Ops"], None));
    users.insert("bob".into(), record(&["Ops"], None));
    let html = admin_page(
        &context(CurrentUser::default_user("credentials")),
        &[store_section(&users)],
        0.0,
        None,
    )
    .into_string();
    let only = row(&html, "root");
    assert!(!only.contains("data-action=\"remove-admin\""), "{only}");
    assert!(!only.contains("data-action=\"make-admin\""));
    assert!(row(&html, "bob").contains("data-action=\"make-admin\""));
    // Rows carry their roles (to keep the others) and their provider.
    assert!(
        only.contains("data-roles=\"[&quot;Admin&quot;,&quot;Ops&quot;]\""),
        "{only}"
    );
    assert!(only.contains("data-provider=\"credentials\""));
}

#[test]
fn roles_with_markup_are_escaped_in_the_row() {
    let mut users = Users::new();
    users.insert("bob".into(), record(&["<b>\"x\"</b>"], None));
    let html = users_table(&[store_section(&users)], "admin", 0.0).into_string();
    let bob = row(&html, "bob");
    assert!(!bob.contains("<b>"), "{bob}");
    assert!(
        bob.contains("data-roles=\"[&quot;&lt;b&gt;\\&quot;x\\&quot;&lt;/b&gt;&quot;]\""),
        "{bob}"
    );
}

#[test]
fn columns_sort_by_the_values_not_the_text_shown() {
    let mut users = Users::new();
    let mut seen = record(&["Admin"], Some("Gone"));
    seen.record.created = 1_742_034_600.25;
    seen.record.last_login = Some(1_742_100_000.5);
    users.insert("bob".into(), seen);
    users.insert("carol".into(), record(&[], None));
    let html = users_table(&[store_section(&users)], "admin", 1_742_200_000.0).into_string();
    for heading in [
        "Username",
        "Roles",
        "Status",
        "Created",
        "Last Login",
        "API Keys",
    ] {
        assert!(
            html.contains(&format!("title=\"Sort by {heading}\"")),
            "{heading}"
        );
    }
    assert_eq!(html.matches("data-sort-type=\"number\"").count(), 3);
    let bob = row(&html, "bob");
    assert!(bob.contains("data-sort=\"bob\""));
    assert!(bob.contains("data-sort=\"Admin\""));
    assert!(bob.contains("data-sort=\"Locked\""));
    assert!(bob.contains("data-sort=\"1742034600.25\""), "{bob}");
    assert!(bob.contains("data-sort=\"1742100000.5\""), "{bob}");
    // Never signed in: an empty value (sorted first), not a date.
    let carol = row(&html, "carol");
    assert!(
        carol.contains("data-label=\"Last Login\" data-sort=\"\""),
        "{carol}"
    );
    assert!(carol.contains("data-sort=\"Active\""));
}

#[test]
fn the_lock_reason_is_in_the_row_as_text() {
    let html = admin_view();
    let locked = row(&html, "carol");
    assert!(locked.contains(
        "<span class=\"lock-reason\" title=\"On vacation &lt;until&gt; March\" data-testid=\"lock-reason\">On vacation &lt;until&gt; March</span>"
    ), "{locked}");
}

#[test]
fn manage_users_has_a_search_box_and_a_no_match_line() {
    let html = admin_view();
    assert!(html.contains("id=\"user-search\" type=\"search\""));
    assert!(html.contains("aria-controls=\"users-table\""));
    assert!(html.contains("data-testid=\"no-match\""));
    // Outside the table, which the page swaps after each action.
    let table = users_table(&[store_section(&Users::new())], "admin", 0.0).into_string();
    assert!(!table.contains("user-search") && !table.contains("no-match"));
}

/// The `<input ...>` tag with `id`.
fn input<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<input id=\"{id}\""))
        .unwrap_or_else(|| panic!("no input {id}"));
    let end = start + html[start..].find('>').expect("tag end");
    &html[start..=end]
}

#[test]
fn new_passwords_say_their_minimum_and_every_password_can_be_shown() {
    let admin = admin_view();
    let account = account_view(user("bob", &[]));
    let sign_in = sign_in_page(&PageContext::default(), "/", true, &[]).into_string();
    for (html, new) in [
        (&admin, "new-user-password"),
        (&admin, "reset-password"),
        (&account, "new-password"),
    ] {
        let tag = input(html, new);
        assert!(tag.contains("type=\"password\""), "{tag}");
        assert!(tag.contains("minlength=\"8\""), "{tag}");
        assert!(
            tag.contains(&format!("aria-describedby=\"{new}-hint\"")),
            "{tag}"
        );
        assert!(html.contains(&format!(
            "<p class=\"hint\" id=\"{new}-hint\" data-testid=\"password-rule\">At least 8 characters.</p>"
        )));
    }
    // Existing passwords are held to no minimum.
    for (html, id) in [(&account, "current-password"), (&sign_in, "password")] {
        assert!(!input(html, id).contains("minlength"), "{id}");
    }
    assert!(input(&sign_in, "password").contains("required"));
    // One toggle per password input, on every page, pointing at it.
    for html in [&admin, &account, &sign_in] {
        let inputs = html.matches("type=\"password\"").count();
        assert!(inputs > 0);
        assert_eq!(html.matches("data-reveal=").count(), inputs);
        assert_eq!(html.matches("aria-pressed=\"false\"").count(), inputs);
    }
    assert!(sign_in.contains("data-reveal=\"password\" aria-controls=\"password\""));
    assert!(sign_in.contains("aria-label=\"Show password\""));
    assert_eq!(dialog::password_rule(1), "At least 1 character.");
}

#[test]
fn the_first_user_is_created_as_an_admin() {
    let sections = [store_section(&Users::new())];
    let visitor = context(CurrentUser::default_user("credentials"));
    let first = Some(FirstUser {
        turns_sign_in_on: true,
    });
    let html = admin_page(&visitor, &sections, 0.0, first).into_string();
    let admin = input(&html, "new-user-admin");
    assert!(
        admin.contains("checked") && admin.contains("disabled"),
        "{admin}"
    );
    assert!(html.contains("The first user is an Admin."));
    assert!(html.contains("turns authentication on"));

    let first = Some(FirstUser {
        turns_sign_in_on: false,
    });
    let html = admin_page(&visitor, &sections, 0.0, first).into_string();
    assert!(html.contains("The first user is an Admin."));
    assert!(!html.contains("turns authentication on"));

    let html = admin_view();
    let admin = input(&html, "new-user-admin");
    assert!(
        !admin.contains("checked") && !admin.contains("disabled"),
        "{admin}"
    );
    assert!(!html.contains("first-user-note"));
}

#[test]
fn messages_shown_on_pages_end_as_sentences() {
    assert_eq!(sentence("User 'x' not found"), "User 'x' not found.");
    assert_eq!(sentence("Already one."), "Already one.");
    assert_eq!(sentence("Really? "), "Really?");
    assert_eq!(sentence(""), "");
    let html = error_page("Not found", "User 'x' not found").into_string();
    assert!(html.contains("User 'x' not found.</p>"));
    let html =
        sign_in_refused_page("Account locked", "Your account is locked: On leave").into_string();
    assert!(html.contains("Your account is locked: On leave.</p>"));
}

/// A key record of `name` as `keys.json` keeps it.
fn api_key(name: &str) -> ApiKey {
    ApiKey {
        user_name: "bob".into(),
        provider: "credentials".into(),
        name: name.into(),
        hash: "00".repeat(32),
        hint: "sk-llms-AbCd…wxYz".into(),
        created: 1_000.0,
        expires: None,
        last_used: None,
        models: None,
        rpm: None,
        extra: Default::default(),
    }
}

/// The `<li>` of the key `id`.
fn key_item<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<li class=\"key-item\" data-key-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no key {id}"));
    let end = start + html[start..].find("</li>").expect("item end");
    &html[start..end]
}

#[test]
fn my_account_lists_keys_by_hint_with_names_escaped() {
    let now = 1_000.0 + 3.0 * 3600.0;
    let mut limited = api_key(HOSTILE);
    limited.models = Some(vec!["alpha".into(), "<b>beta</b>".into()]);
    limited.rpm = Some(60);
    limited.expires = Some(now + 86_400.0);
    limited.last_used = Some(1_000.0);
    let mut expired = api_key("old");
    expired.expires = Some(now - 1.0);
    let keys = vec![
        ("0123456789ab".to_owned(), api_key("laptop")),
        ("ba9876543210".to_owned(), limited),
        ("aaaaaaaaaaaa".to_owned(), expired),
    ];
    let sessions = [super::ListedSession {
        id: "0123456789abcdef".into(),
        current: true,
        record: crate::session::SessionRecord {
            username: "bob".into(),
            provider: "credentials".into(),
            created: now - 60.0,
            last_seen: now,
            client_ip: "<i>10.0.0.1</i>".into(),
            user_agent: "<script>alert(1)</script>".into(),
            binding: Some(1),
        },
    }];
    let html = account_page(
        &context(user("bob", &[])),
        &keys,
        &sessions,
        Some(false),
        now,
    )
    .into_string();
    assert!(!html.contains("<script>alert(1)"), "raw script tag");
    assert!(
        !html.contains("<i>10.0.0.1"),
        "raw markup from a session's address"
    );
    assert!(html.contains("this device"), "{html}");
    assert!(!html.contains("<b>beta"), "raw model id");

    let plain = key_item(&html, "0123456789ab");
    assert!(plain.contains("<span class=\"key-name\" data-testid=\"key-name\">laptop</span>"));
    assert!(plain
        .contains("<code class=\"key-hint\" data-testid=\"key-hint\">sk-llms-AbCd…wxYz</code>"));
    assert!(plain.contains("Expires never"), "{plain}");
    assert!(plain.contains("Last used never"), "{plain}");
    assert!(!plain.contains("key-limits") && !plain.contains("Expired"));
    assert!(plain.contains("data-revoke-key=\"0123456789ab\""));
    assert!(plain.contains("aria-label=\"Revoke the API key laptop\""));

    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";
    let hostile = key_item(&html, "ba9876543210");
    assert!(hostile.contains(&format!("data-testid=\"key-name\">{escaped}</span>")));
    assert!(hostile.contains(&format!("data-key-name=\"{escaped}\"")));
    assert!(hostile.contains(&format!("aria-label=\"Revoke the API key {escaped}\"")));
    assert!(hostile.contains("Models: alpha, &lt;b&gt;beta&lt;/b&gt; · 60 requests per minute"));
    assert!(hostile.contains("3 hours ago"), "{hostile}");

    let old = key_item(&html, "aaaaaaaaaaaa");
    assert!(old.contains("data-testid=\"key-expired\">Expired</span>"));

    // Made and revoked in place; never a key, only the box that app.js fills.
    assert!(html.contains("data-testid=\"create-key\""));
    assert!(html.contains("id=\"create-key-dialog\""));
    assert!(html.contains("id=\"revoke-key-dialog\""));
    assert!(!html.contains("value=\"sk-llms-"));
    assert!(input(&html, "new-key-value").contains("readonly"));
    assert!(html.contains("it is not shown again"));
    assert!(html.contains("data-testid=\"copy-key\""));
    // How to use a key; without an upstream, that /v1 goes nowhere yet.
    assert!(html.contains("<code>Authorization: Bearer &lt;key&gt;</code>"));
    assert!(html.contains("data-v1-url"));
    assert!(html.contains("no <code>--upstream</code>"));
    let mut upstream = context(user("bob", &[]));
    upstream.upstream = true;
    let html = account_page(&upstream, &keys, &[], Some(false), now).into_string();
    assert!(!html.contains("--upstream"));
    assert!(html.contains("data-testid=\"models-available\""));
}

#[test]
fn create_key_offers_expiry_choices_and_labels_every_field() {
    let html = account_view(user("bob", &[]));
    for (days, label) in [
        ("", "Never"),
        ("7", "7 days"),
        ("30", "30 days"),
        ("90", "90 days"),
        ("365", "1 year"),
    ] {
        assert!(
            html.contains(&format!("<option value=\"{days}\">{label}</option>")),
            "{label}"
        );
    }
    for id in ["key-name", "key-expires", "key-models", "key-rpm"] {
        assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
    }
    assert!(input(&html, "key-name").contains("maxlength=\"100\""));
    assert!(input(&html, "key-rpm").contains("max=\"100000\""));
    assert!(html.contains("data-testid=\"no-keys\""));
}

#[test]
fn keys_need_a_user_when_authentication_is_off() {
    let html = account_view(CurrentUser::default_user("credentials"));
    assert!(html.contains("data-testid=\"keys-need-a-user\""));
    assert!(!html.contains("data-testid=\"create-key\""));
    assert!(!html.contains("create-key-dialog"));
    assert!(!html.contains("keys-list"));
}

#[test]
fn manage_users_counts_each_users_keys_and_offers_them() {
    let mut users = Users::new();
    users.insert("admin".into(), record(&["Admin"], None));
    users.insert("bob".into(), record(&[], None));
    users.insert(HOSTILE.into(), record(&[], None));
    let mut section = store_section(&users);
    section.key_counts = [("bob".to_owned(), 2), (HOSTILE.to_owned(), 1)]
        .into_iter()
        .collect();
    let html = admin_page(&context(user("admin", &["Admin"])), &[section], 0.0, None).into_string();

    let bob = row(&html, "bob");
    assert!(
        bob.contains("data-label=\"API Keys\" data-sort=\"2\""),
        "{bob}"
    );
    assert!(bob.contains("data-action=\"keys\""));
    assert!(bob.contains("aria-label=\"API keys of bob: 2\""));
    let admin = row(&html, "admin");
    assert!(admin.contains("data-sort=\"0\""));
    assert!(
        !admin.contains("data-action=\"keys\""),
        "no keys, nothing to show"
    );
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";
    assert!(row(&html, escaped).contains(&format!("aria-label=\"API keys of {escaped}: 1\"")));
    // The column sorts as a number; the dialogs that list and revoke keys are there.
    assert!(html.contains("<th scope=\"col\" data-sort-type=\"number\"><button class=\"sort\" type=\"button\" title=\"Sort by API Keys\">"));
    assert!(html.contains("id=\"user-keys-dialog\""));
    assert!(html.contains("id=\"revoke-key-dialog\""));
    assert!(html.contains("<template id=\"revoke-icon\">"));
}

#[test]
fn the_home_page_offers_the_chat_only_with_an_upstream() {
    let mut ctx = context(user("bob", &[]));
    assert!(!home_page(&ctx)
        .into_string()
        .contains("data-testid=\"chat\""));
    ctx.upstream = true;
    let html = home_page(&ctx).into_string();
    assert!(html.contains("data-testid=\"chat\""));
    for id in ["chat-model", "chat-prompt"] {
        assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
    }
    assert!(html.contains("id=\"chat-stop\" type=\"button\" hidden"));
    assert!(html.contains("aria-live=\"polite\""));
    // Authentication off: the default user gets it too; nobody signed in does not.
    let mut default = context(CurrentUser::default_user("credentials"));
    default.upstream = true;
    assert!(home_page(&default)
        .into_string()
        .contains("data-testid=\"chat\""));
    let nobody = PageContext {
        upstream: true,
        ..PageContext::default()
    };
    assert!(!home_page(&nobody)
        .into_string()
        .contains("data-testid=\"chat\""));
}

// ---- Account security (SPEC 12): reset page, Choose your password, two-factor sign-in --

/// The opening tag of the element whose attributes contain `needle`.
fn tag_with<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("nothing has {needle}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

/// Whether the opening `tag` carries the `hidden` attribute.
fn is_hidden(tag: &str) -> bool {
    tag.contains(" hidden ") || tag.contains(" hidden>")
}

#[test]
fn the_reset_page_asks_for_a_new_password_and_holds_no_token() {
    // Whoever holds the link may be signed in as someone else: no user menu.
    let html = reset_page(&context(user(HOSTILE, &["Admin"]))).into_string();
    assert!(!html.contains("data-testid=\"user-menu\""));
    assert!(!html.contains("<script>alert(1)") && !html.contains("&lt;script&gt;alert(1)"));
    assert!(html.contains("<title>Choose a new password · llms</title>"));
    let new = input(&html, "reset-new-password");
    assert!(new.contains("autocomplete=\"new-password\""), "{new}");
    assert!(new.contains("minlength=\"8\""), "{new}");
    assert!(html.contains("At least 8 characters."));
    let confirm = input(&html, "reset-confirm-password");
    assert!(!confirm.contains("minlength"), "{confirm}");
    assert_eq!(html.matches("data-reveal=").count(), 2);
    // The form shows; what a link without a token, a refused link and success say waits,
    // hidden, for app.js.
    assert!(!is_hidden(tag_with(&html, "data-testid=\"reset-form\"")));
    for hidden in ["reset-no-token", "reset-refused", "reset-done"] {
        let tag = tag_with(&html, &format!("data-testid=\"{hidden}\""));
        assert!(is_hidden(tag), "{tag}");
    }
    assert!(html.contains("the code after the # is missing"));
    assert!(html.contains("href=\"/login\" data-testid=\"reset-sign-in\""));
    // The token is only ever in the fragment: the page has no field or URL for it.
    assert!(!html.contains("name=\"token\""));
    assert!(!html.contains("/reset?"));
}

#[test]
fn choose_your_password_has_its_own_page_and_a_place_on_the_sign_in_page() {
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";
    let html = choose_password_page(
        &context(user(HOSTILE, &["Admin"])),
        HOSTILE,
        "/\"><script>x()</script>",
    )
    .into_string();
    assert!(!html.contains("<script>alert(1)") && !html.contains("<script>x()"));
    // No menu of pages that all lead back here; Sign out instead.
    assert!(!html.contains("data-testid=\"user-menu\""));
    assert!(html.contains("action=\"/auth/logout\" data-sign-out"));
    assert!(html.contains("data-testid=\"choose-password-sign-out\""));
    assert!(html.contains(&format!(
        "data-testid=\"choose-password-user\">{escaped}</strong>"
    )));
    assert!(input(&html, "choose-username").contains(&format!("value=\"{escaped}\"")));
    assert!(html.contains("data-next=\"/&quot;&gt;&lt;script&gt;x()&lt;/script&gt;\""));
    // Shown, with the password that was given asked for.
    assert!(!is_hidden(tag_with(
        &html,
        "data-testid=\"choose-password\""
    )));
    assert!(!is_hidden(tag_with(&html, "id=\"choose-current\"")));
    let current = input(&html, "choose-current-password");
    assert!(
        current.contains("autocomplete=\"current-password\"") && !current.contains("minlength")
    );
    assert!(input(&html, "choose-new-password").contains("minlength=\"8\""));
    assert!(html.contains("choose-confirm-password"));
    assert!(!html.contains("sign-in-form"));

    // On the sign-in page: there, hidden, filled in by app.js after a sign-in that needs it
    // (the current password is the one just typed, so its field stays hidden).
    let sign_in = sign_in_page(&PageContext::default(), "/account", true, &[]).into_string();
    assert!(is_hidden(tag_with(
        &sign_in,
        "data-testid=\"choose-password\""
    )));
    assert!(is_hidden(tag_with(&sign_in, "id=\"choose-current\"")));
    assert!(sign_in.contains("id=\"choose-password-form\""));
    assert!(tag_with(&sign_in, "id=\"choose-password-form\"").contains("data-next=\"/account\""));
    // Not without a password form.
    let without = sign_in_page(&PageContext::default(), "/", false, &[]).into_string();
    assert!(!without.contains("choose-password"));
}

#[test]
fn the_sign_in_form_has_a_code_step_for_two_factor_accounts() {
    let html = sign_in_page(&PageContext::default(), "/", true, &[]).into_string();
    let step = tag_with(&html, "data-testid=\"sign-in-code-step\"");
    assert!(is_hidden(step), "{step}");
    let code = tag_with(&html, "id=\"sign-in-code\"");
    for attribute in [
        "inputmode=\"numeric\"",
        "autocomplete=\"one-time-code\"",
        "name=\"code\"",
        "type=\"text\"",
        "maxlength=\"64\"",
    ] {
        assert!(code.contains(attribute), "{attribute}: {code}");
    }
    assert!(html.contains("<label id=\"sign-in-code-label\" for=\"sign-in-code\""));
    assert!(html.contains("Enter the 6-digit code from your authenticator app"));
    assert!(html.contains("Use a recovery code"));
    assert!(is_hidden(tag_with(&html, "id=\"sign-in-back-line\"")));
    assert!(html.contains("data-testid=\"sign-in-back\""));
    // The username and password stay in the page (hidden in the second step).
    assert!(html.contains("<div id=\"sign-in-credentials\">"));
}

#[test]
fn my_account_offers_two_factor_sign_in_to_password_accounts() {
    let off = account_page(&context(user("bob", &[])), &[], &[], Some(false), 0.0).into_string();
    assert!(off.contains("data-testid=\"two-factor\""));
    assert!(tag_with(&off, "data-testid=\"two-factor\"").contains("data-on=\"false\""));
    assert!(!is_hidden(tag_with(
        &off,
        "data-testid=\"two-factor-enable\""
    )));
    assert!(!is_hidden(tag_with(&off, "data-testid=\"two-factor-off\"")));
    assert!(is_hidden(tag_with(
        &off,
        "data-testid=\"two-factor-disable\""
    )));
    assert!(is_hidden(tag_with(&off, "data-testid=\"two-factor-on\"")));
    // The setup and the recovery codes wait, empty and hidden, for app.js: the page never
    // carries a secret or a code.
    for hidden in ["two-factor-setup", "recovery-codes"] {
        assert!(is_hidden(tag_with(
            &off,
            &format!("data-testid=\"{hidden}\"")
        )));
    }
    assert!(off.contains("data-testid=\"two-factor-secret\"></code>"));
    assert!(off.contains("data-testid=\"recovery-code-list\"></ol>"));
    assert!(tag_with(&off, "id=\"two-factor-qr\"")
        .contains("alt=\"QR code for your authenticator app\""));
    assert!(!tag_with(&off, "id=\"two-factor-qr\"").contains("src="));
    let code = tag_with(&off, "id=\"two-factor-code\"");
    assert!(
        code.contains("inputmode=\"numeric\"") && code.contains("autocomplete=\"one-time-code\"")
    );
    assert!(off.contains("<label for=\"two-factor-code\">"));

    let on = account_page(&context(user("bob", &[])), &[], &[], Some(true), 0.0).into_string();
    assert!(tag_with(&on, "data-testid=\"two-factor\"").contains("data-on=\"true\""));
    assert!(is_hidden(tag_with(
        &on,
        "data-testid=\"two-factor-enable\""
    )));
    assert!(is_hidden(tag_with(&on, "data-testid=\"two-factor-off\"")));
    let disable = tag_with(&on, "data-testid=\"two-factor-disable\"");
    assert!(!is_hidden(disable));
    assert!(
        disable.contains("data-open=\"two-factor-off-dialog\""),
        "{disable}"
    );
    assert!(!is_hidden(tag_with(&on, "data-testid=\"two-factor-on\"")));
    // Turning it off asks for the password and a code.
    assert!(on.contains("id=\"two-factor-off-dialog\""));
    assert!(input(&on, "two-factor-off-password").contains("autocomplete=\"current-password\""));
    assert!(tag_with(&on, "id=\"two-factor-off-code\"").contains("autocomplete=\"one-time-code\""));
    assert!(on.contains("<label for=\"two-factor-off-code\">"));

    // No second factor for an account without a password here, nor with authentication off.
    let github = account_page(&context(user("octocat", &[])), &[], &[], None, 0.0).into_string();
    assert!(!github.contains("two-factor"));
    let default = account_page(
        &context(CurrentUser::default_user("credentials")),
        &[],
        &[],
        Some(false),
        0.0,
    )
    .into_string();
    assert!(!default.contains("two-factor"));
}

#[test]
fn manage_users_shows_two_factor_and_a_password_to_change_and_offers_reset_links() {
    let mut two_factor = account("bob", &[], None);
    two_factor.two_factor = true;
    let mut must_change = account("carol", &[], None);
    must_change.must_change_password = true;
    let mut hostile = account(HOSTILE, &[], None);
    hostile.two_factor = true;
    hostile.must_change_password = true;
    let mut me = account("admin", &["Admin"], None);
    me.two_factor = true;
    let store = AccountSection {
        provider: "credentials".into(),
        badge: None,
        has_passwords: true,
        accounts: vec![me, two_factor, must_change, hostile],
        key_counts: Default::default(),
    };
    let provider = AccountSection {
        provider: "github_auth".into(),
        badge: Some("GitHub".into()),
        has_passwords: false,
        accounts: vec![account("octocat", &[], None)],
        key_counts: Default::default(),
    };
    let html = admin_page(
        &context(user("admin", &["Admin"])),
        &[store, provider],
        0.0,
        None,
    )
    .into_string();

    let bob = row(&html, "bob");
    assert!(
        bob.contains("data-testid=\"two-factor-badge\">2FA</span>"),
        "{bob}"
    );
    assert!(!bob.contains("must-change-password"));
    assert!(bob.contains("data-action=\"reset-link\""));
    assert!(bob.contains("aria-label=\"Make a reset link for bob\""));
    assert!(bob.contains("data-action=\"reset-2fa\""));
    assert!(bob.contains("aria-label=\"Turn off two-factor sign-in of bob\""));

    let carol = row(&html, "carol");
    assert!(!carol.contains("two-factor-badge"));
    assert!(carol.contains("data-testid=\"must-change-password\">Must change password</span>"));
    assert!(carol.contains("data-action=\"reset-link\""));
    assert!(
        !carol.contains("data-action=\"reset-2fa\""),
        "two-factor is off"
    );

    // Your own two-factor sign-in is turned off on My Account, with a code.
    let mine = row(&html, "admin");
    assert!(mine.contains("two-factor-badge"));
    assert!(mine.contains("data-action=\"reset-link\""));
    assert!(!mine.contains("data-action=\"reset-2fa\""));

    // A provider's account has no password here: no reset link, no second factor.
    let octocat = row(&html, "octocat");
    assert!(!octocat.contains("reset-link") && !octocat.contains("reset-2fa"));

    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;";
    assert!(!html.contains("<script>alert(1)"));
    let hostile = row(&html, escaped);
    assert!(hostile.contains(&format!("aria-label=\"Make a reset link for {escaped}\"")));
    assert!(hostile.contains(&format!(
        "aria-label=\"Turn off two-factor sign-in of {escaped}\""
    )));
    assert!(hostile.contains("two-factor-badge") && hostile.contains("must-change-password"));

    // The dialogs: the link shown once with Copy (filled by app.js), and the confirmation.
    assert!(html.contains("id=\"reset-link-dialog\""));
    let link = input(&html, "reset-link-value");
    assert!(
        link.contains("readonly") && !link.contains("value="),
        "{link}"
    );
    assert!(html.contains("data-testid=\"copy-reset-link\""));
    assert!(html.contains("data-testid=\"reset-link-lifetime\">30 minutes</span>"));
    assert!(html.contains("It is not shown again."));
    assert!(html.contains("id=\"reset-2fa-dialog\""));

    assert_eq!(
        RowActions::for_account(&account("dave", &[], Some("Gone")), true, "admin", 1),
        RowActions {
            password: true,
            lock: false,
            unlock: true,
            delete: true,
            make_admin: true,
            remove_admin: false,
            reset_link: true,
            reset_two_factor: false,
        }
    );
}
