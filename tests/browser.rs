//! The pages in a real browser: headless Chromium driven through chromedriver against the
//! real `llms` server on a free loopback port and a temporary `LLMS_HOME`.
//!
//! Without `/usr/bin/chromium` and chromedriver these tests print
//! `browser tests SKIPPED: ...` and pass, unless `LLMS_REQUIRE_BROWSER=1` (CI) makes them
//! fail. A failing test leaves a screenshot in `target/browser-screenshots/`. With
//! `LLMS_UPDATE_SCREENSHOTS=1`, the Manage Users test refreshes `docs/manage-users.png`
//! for the README.

mod common;
#[path = "browser/harness.rs"]
mod harness;

use std::path::Path;

use common::{http, Home, Server};
use fantoccini::key::Key;
use fantoccini::Locator;
use harness::{with_browser, Page};
use serde_json::json;

/// A username of the longest allowed length (64 characters).
const LONG_NAME: &str = "maximilian.alexander.von-hohenzollern-sigmaringen@example.org.uk";

/// `POST /auth/login` over plain HTTP; the status code.
async fn http_sign_in(server: &Server, user: &str, password: &str) -> u16 {
    http()
        .post(server.url("/auth/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("sign-in request")
        .status()
        .as_u16()
}

/// The browser's session cookie as a `Cookie` header value.
async fn browser_cookie(page: &Page) -> String {
    let cookie = page
        .client
        .get_named_cookie("llms-token")
        .await
        .expect("session cookie in the browser");
    format!("llms-token={}", cookie.value())
}

/// `tr[data-user=NAME]` (the names used here need no CSS escaping).
fn row(name: &str) -> String {
    format!("tr[data-user=\"{name}\"]")
}

#[tokio::test]
async fn sign_in_user_menu_forbidden_page_and_sign_out() {
    with_browser(
        "sign_in_user_menu_forbidden_page_and_sign_out",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-pw");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);

            // A page that needs a session sends the browser to Sign In, keeping where it was.
            page.goto("/account").await;
            page.wait_path("/login?next=/account").await;
            assert_eq!(
                page.focused_id().await,
                "username",
                "the username field has focus"
            );

            // A wrong password is refused inline; what was typed stays.
            page.fill("#username", "admin").await;
            page.fill("#password", "not-the-password").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_text(
                "[data-testid=sign-in-error]",
                "Invalid username or password",
            )
            .await;
            assert_eq!(page.value("#username").await, "admin");
            assert_eq!(page.path().await, "/login?next=/account");

            // The right one goes back to `next`.
            page.fill("#password", "admin-pw").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/account").await;
            page.wait_text("[data-testid=account-username]", "admin")
                .await;

            // The admin's menu: username, My Account, Manage Users, Sign Out.
            page.open_menu().await;
            page.wait_text("[data-testid=menu-username]", "admin").await;
            page.visible("[data-testid=menu-account]").await;
            page.visible("[data-testid=sign-out]").await;
            // Escape closes the menu.
            page.client
                .active_element()
                .await
                .expect("focus")
                .send_keys(&Key::Escape.to_string())
                .await
                .expect("escape");
            page.wait_until(
                "the menu to close",
                "return !document.querySelector('[data-testid=user-menu]').open;",
                vec![],
            )
            .await;
            page.open_menu().await;
            page.click("[data-testid=menu-admin]").await;
            page.wait_path("/admin").await;
            page.visible("[data-testid=users-table]").await;

            // Sign Out lands on /login, and the old cookie is dead.
            let old_cookie = browser_cookie(&page).await;
            page.sign_out().await;
            let status = http()
                .get(server.url("/auth"))
                .header("cookie", &old_cookie)
                .send()
                .await
                .expect("request with the old cookie")
                .status();
            assert_eq!(status, 401, "the signed-out session must not work");
            page.goto("/admin").await;
            page.wait_path("/login?next=/admin").await;

            // A user without the Admin role: no Manage Users, and /admin is a 403 page.
            page.sign_in("/login", "bob", "bob-password", "/").await;
            page.wait_text("[data-testid=signed-in-as]", "Signed in as bob")
                .await;
            page.open_menu().await;
            page.wait_text("[data-testid=menu-username]", "bob").await;
            assert!(!page.exists("[data-testid=menu-admin]").await);
            page.goto("/admin").await;
            page.wait_text("[data-testid=forbidden]", "Access denied")
                .await;
            assert!(
                page.exists("[data-testid=user-menu]").await,
                "the 403 page keeps the header"
            );
            assert!(!page.exists("[data-testid=users-table]").await);
            let response = http()
                .get(server.url("/admin"))
                .header("cookie", browser_cookie(&page).await)
                .header("accept", "text/html")
                .send()
                .await
                .expect("GET /admin as bob");
            assert_eq!(response.status(), 403);

            // A locked account hears its reason after the right password...
            page.sign_out().await;
            let locked = home.run(&["--lockuser", "bob", "--reason", "On leave"], "");
            assert!(locked.status.success(), "{locked:?}");
            page.fill("#username", "bob").await;
            page.fill("#password", "bob-password").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_text(
                "[data-testid=sign-in-error]",
                "This account is locked: On leave",
            )
            .await;
            // ...but any other 403 (a refused cross-site request, say) is not called a lock.
            page.eval(
                r#"window.fetch = async () => new Response(
                     JSON.stringify({ responseStatus: { errorCode: "Forbidden", message: "Cross-site request refused" } }),
                     { status: 403, headers: { "Content-Type": "application/json" } });"#,
                vec![],
            )
            .await;
            page.click("[data-testid=sign-in-submit]").await;
            let shown = page
                .wait_text("[data-testid=sign-in-error]", "Cross-site request refused")
                .await;
            assert!(!shown.contains("locked"), "{shown}");
        },
    )
    .await;
}

#[tokio::test]
async fn manage_users_create_change_password_lock_unlock_delete() {
    with_browser(
        "manage_users_create_change_password_lock_unlock_delete",
        |client| async move {
            assert_eq!(LONG_NAME.chars().count(), 64);
            let home = Home::new();
            home.add_user("admin", "admin-pw");
            home.add_user(LONG_NAME, "long-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-pw", "/admin")
                .await;
            page.visible(&row("admin")).await;

            // Yourself: no Lock, no Delete. Others: both.
            assert!(
                page.exists(&format!("{} [data-action=password]", row("admin")))
                    .await
            );
            assert!(
                !page
                    .exists(&format!("{} [data-action=lock]", row("admin")))
                    .await
            );
            assert!(
                !page
                    .exists(&format!("{} [data-action=delete]", row("admin")))
                    .await
            );
            assert!(
                page.exists(&format!("{} [data-action=lock]", row(LONG_NAME)))
                    .await
            );
            assert!(
                page.exists(&format!("{} [data-action=delete]", row(LONG_NAME)))
                    .await
            );
            // A 64-character name does not push the table out of its card.
            let fits = page
                .eval(
                    "const t = document.getElementById('users-table');
                 return t.scrollWidth <= t.clientWidth + 1;",
                    vec![],
                )
                .await;
            assert_eq!(fits, json!(true), "the users table overflows");

            // Create User: focus on the first field, Escape closes.
            page.click("[data-testid=create-user]").await;
            page.wait_dialog_open("create-user-dialog").await;
            assert_eq!(page.focused_id().await, "new-username");
            page.client
                .active_element()
                .await
                .expect("focus")
                .send_keys(&Key::Escape.to_string())
                .await
                .expect("escape");
            page.wait_dialog_closed("create-user-dialog").await;

            // Mismatched passwords are caught; what was typed stays.
            page.click("[data-testid=create-user]").await;
            page.fill("#new-username", "carol").await;
            page.fill("#new-user-password", "carol-pw-1").await;
            page.fill("#new-user-confirm", "carol-pw-2").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#create-user-dialog [data-testid=dialog-error]",
                "do not match",
            )
            .await;
            assert_eq!(page.value("#new-username").await, "carol");
            page.fill("#new-user-confirm", "carol-pw-1").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("create-user-dialog").await;
            page.visible(&row("carol")).await;
            page.wait_text("[data-testid=toast]", "User 'carol' created.")
                .await;
            assert_eq!(home.users_json()["carol"]["roles"], json!([]));

            // The server's refusal appears in the dialog.
            page.click("[data-testid=create-user]").await;
            page.fill("#new-username", "carol").await;
            page.fill("#new-user-password", "carol-pw-9").await;
            page.fill("#new-user-confirm", "carol-pw-9").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#create-user-dialog [data-testid=dialog-error]",
                "already exists",
            )
            .await;
            page.click("#create-user-dialog .modal-actions [data-close]")
                .await;
            page.wait_dialog_closed("create-user-dialog").await;

            // An Admin created here gets the badge, and no Lock action.
            page.click("[data-testid=create-user]").await;
            page.fill("#new-username", "ops").await;
            page.fill("#new-user-password", "ops-password").await;
            page.fill("#new-user-confirm", "ops-password").await;
            page.click("#new-user-admin").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("create-user-dialog").await;
            page.wait_text(&format!("{} .badge-admin", row("ops")), "Admin")
                .await;
            assert!(
                !page
                    .exists(&format!("{} [data-action=lock]", row("ops")))
                    .await
            );
            assert_eq!(home.users_json()["ops"]["roles"], json!(["Admin"]));

            // Change Password (the key icon).
            page.click(&format!("{} [data-action=password]", row("carol")))
                .await;
            page.wait_text("#password-dialog h2", "Change Password for carol")
                .await;
            assert_eq!(page.focused_id().await, "reset-password");
            page.fill("#reset-password", "carol-new").await;
            page.fill("#reset-confirm", "carol-new").await;
            page.click("#password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("password-dialog").await;
            page.wait_text("[data-testid=toast]", "Password of 'carol' changed.")
                .await;
            assert_eq!(http_sign_in(&server, "carol", "carol-new").await, 200);
            assert_eq!(http_sign_in(&server, "carol", "carol-pw-1").await, 401);

            // Lock, with a reason.
            page.click(&format!("{} [data-action=lock]", row("carol")))
                .await;
            page.wait_text("#lock-dialog", "carol").await;
            assert_eq!(page.focused_id().await, "lock-reason");
            page.fill("#lock-reason", "On vacation until March").await;
            page.click("#lock-dialog [data-testid=dialog-submit]").await;
            page.wait_dialog_closed("lock-dialog").await;
            let locked = page
                .visible(&format!("{} [data-testid=status-locked]", row("carol")))
                .await;
            assert_eq!(
                locked.attr("title").await.expect("title").as_deref(),
                Some("On vacation until March")
            );
            assert!(
                page.exists(&format!("{} [data-action=unlock]", row("carol")))
                    .await
            );
            assert!(
                !page
                    .exists(&format!("{} [data-action=lock]", row("carol")))
                    .await
            );
            assert_eq!(
                home.users_json()["carol"]["locked"],
                "On vacation until March"
            );

            // The locked user's sign-in shows the reason.
            page.sign_out().await;
            page.fill("#username", "carol").await;
            page.fill("#password", "carol-new").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_text("[data-testid=sign-in-error]", "On vacation until March")
                .await;
            assert_eq!(page.path().await, "/login");

            page.sign_in("/login?next=/admin", "admin", "admin-pw", "/admin")
                .await;
            page.visible(&format!("{} [data-testid=status-locked]", row("carol")))
                .await;
            if std::env::var("LLMS_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
                let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
                std::fs::create_dir_all(&docs).expect("docs folder");
                page.client
                    .set_window_size(1200, 780)
                    .await
                    .expect("resize");
                page.eval("document.activeElement.blur();", vec![]).await;
                page.screenshot(&docs.join("manage-users.png")).await;
                page.client
                    .set_window_size(1280, 900)
                    .await
                    .expect("resize");
            }

            // Unlock.
            page.click(&format!("{} [data-action=unlock]", row("carol")))
                .await;
            page.visible(&format!("{} [data-testid=status-active]", row("carol")))
                .await;
            page.wait_text("[data-testid=toast]", "User 'carol' unlocked.")
                .await;
            assert!(home.users_json()["carol"].get("locked").is_none());

            // Delete, after a confirmation.
            page.click(&format!("{} [data-action=delete]", row("carol")))
                .await;
            page.wait_text("#delete-dialog", "carol").await;
            page.click("#delete-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("delete-dialog").await;
            page.wait_until(
                "carol's row to go",
                "return !document.querySelector('tr[data-user=\"carol\"]');",
                vec![],
            )
            .await;
            page.wait_text("[data-testid=toast]", "User 'carol' deleted.")
                .await;
            assert!(home.users_json().get("carol").is_none());
            assert_eq!(http_sign_in(&server, "carol", "carol-new").await, 401);

            // On a phone-sized window the page does not scroll sideways.
            page.client.set_window_size(390, 844).await.expect("resize");
            page.goto("/admin").await;
            page.visible(&row(LONG_NAME)).await;
            let fits = page
                .eval(
                    "return document.documentElement.scrollWidth <= window.innerWidth;",
                    vec![],
                )
                .await;
            assert_eq!(fits, json!(true), "the page scrolls sideways on a phone");
        },
    )
    .await;
}

/// A PNG of `width` x `height` pixels in a temporary file.
fn png_file(dir: &Path, width: u32, height: u32) -> std::path::PathBuf {
    let path = dir.join("avatar.png");
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, 160])
    })
    .save(&path)
    .expect("write PNG");
    path
}

#[tokio::test]
async fn my_account_change_password_and_avatar() {
    with_browser(
        "my_account_change_password_and_avatar",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-pw");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/account", "bob", "bob-password", "/account")
                .await;
            page.wait_text("[data-testid=account-username]", "bob")
                .await;

            // Change Password: a wrong current password is refused in the dialog.
            page.click("[data-testid=change-password]").await;
            page.wait_dialog_open("account-password-dialog").await;
            assert_eq!(page.focused_id().await, "current-password");
            page.fill("#current-password", "wrong").await;
            page.fill("#new-password", "bob-new-pw").await;
            page.fill("#confirm-password", "bob-new-pw").await;
            page.click("#account-password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#account-password-dialog [data-testid=dialog-error]",
                "Current password is incorrect",
            )
            .await;
            assert_eq!(page.value("#new-password").await, "bob-new-pw");
            page.fill("#current-password", "bob-password").await;
            page.click("#account-password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("account-password-dialog").await;
            page.wait_text("[data-testid=toast]", "Your password was changed.")
                .await;
            assert_eq!(http_sign_in(&server, "bob", "bob-new-pw").await, 200);
            // This session stays signed in.
            page.goto("/account").await;
            page.wait_text("[data-testid=account-username]", "bob")
                .await;

            // The generated avatar is a 256x256 SVG.
            let natural = "const img = document.querySelector(arguments[0]);
             return img.complete && img.naturalWidth > 0
                 ? [img.naturalWidth, img.naturalHeight, img.getAttribute('src')] : null;";
            let header = "[data-testid=header-avatar]";
            let before = page
                .wait_until("the header avatar", natural, vec![json!(header)])
                .await;
            assert_eq!(before, json!([256, 256, "/avatar/user"]));

            // Upload a PNG through the file input: the header and the page show it at once.
            let scratch = tempfile::tempdir().expect("temp dir");
            let png = png_file(scratch.path(), 80, 48);
            let input = page
                .client
                .find(Locator::Css("[data-testid=avatar-input]"))
                .await
                .expect("file input");
            input
                .send_keys(png.to_str().expect("utf-8 path"))
                .await
                .expect("choose file");
            let changed = "const img = document.querySelector(arguments[0]);
             return img.complete && img.naturalWidth === 80 && img.naturalHeight === 48
                 && img.getAttribute('src').startsWith('/avatar/user?v=');";
            page.wait_until("the new avatar in the header", changed, vec![json!(header)])
                .await;
            page.wait_until(
                "the new avatar on the page",
                changed,
                vec![json!("[data-testid=account-avatar]")],
            )
            .await;
            page.wait_text("[data-testid=toast]", "Your avatar was updated.")
                .await;
            assert!(home.path().join("user/bob/avatar.png").is_file());

            // Something that is not an image is refused, with the server's reason.
            let text = scratch.path().join("notes.png");
            std::fs::write(&text, "just some text, not a picture").expect("write file");
            input
                .send_keys(text.to_str().expect("utf-8 path"))
                .await
                .expect("choose file");
            page.wait_text("[data-testid=avatar-error]", "PNG, JPEG, GIF or WebP")
                .await;
            // Too large: refused before uploading.
            let big = scratch.path().join("big.png");
            std::fs::write(&big, vec![0u8; 3 * 1024 * 1024]).expect("write file");
            input
                .send_keys(big.to_str().expect("utf-8 path"))
                .await
                .expect("choose file");
            page.wait_text("[data-testid=avatar-error]", "too large")
                .await;
            // The avatar stayed as it was.
            page.wait_until("the avatar to stay", changed, vec![json!(header)])
                .await;
        },
    )
    .await;
}

/// The usernames of the rows the users table shows, top to bottom (rows hidden by the
/// search are left out).
async fn shown_rows(page: &Page) -> Vec<String> {
    let names = page
        .eval(
            "return Array.from(document.querySelectorAll('#users-table tbody tr[data-user]'))
                 .filter((row) => !row.hidden && row.offsetParent !== null)
                 .map((row) => row.dataset.user);",
            vec![],
        )
        .await;
    serde_json::from_value(names).expect("a list of names")
}

/// Waits until the count over the users table reads exactly `text` ("55 users").
async fn wait_count(page: &Page, text: &str) {
    page.wait_until(
        &format!("the user count to read {text:?}"),
        "const el = document.querySelector('[data-testid=user-count]');
         return el && el.textContent === arguments[0];",
        vec![json!(text)],
    )
    .await;
}

/// The `type` of the input `css`.
async fn input_type(page: &Page, css: &str) -> String {
    page.attr(css, "type").await.unwrap_or_default()
}

/// Clicks the eye button of the password input `id` and waits until the input's type is
/// `expected` and the button's `aria-pressed` says so.
async fn toggle_password(page: &Page, id: &str, expected: &str) {
    page.click(&format!("button[data-reveal=\"{id}\"]")).await;
    page.wait_until(
        &format!("#{id} to be of type {expected}"),
        "const input = document.getElementById(arguments[0]);
         const button = document.querySelector('button[data-reveal=\"' + arguments[0] + '\"]');
         return input.type === arguments[1]
             && button.getAttribute('aria-pressed') === String(arguments[1] === 'text');",
        vec![json!(id), json!(expected)],
    )
    .await;
}

#[tokio::test]
async fn the_first_user_made_while_authentication_is_off_is_an_admin_who_signs_in() {
    with_browser(
        "the_first_user_made_while_authentication_is_off_is_an_admin_who_signs_in",
        |client| async move {
            let home = Home::new();
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);

            // No users: authentication is off and the visitor manages users as the default
            // user.
            page.goto("/admin").await;
            page.wait_text("[data-testid=users-table]", "No users yet.")
                .await;
            page.click("[data-testid=create-user]").await;
            page.wait_dialog_open("create-user-dialog").await;
            page.wait_text(
                "[data-testid=first-user-note]",
                "The first user is an Admin.",
            )
            .await;
            page.wait_text("[data-testid=first-user-note]", "turns authentication on")
                .await;
            let admin_box = page
                .eval(
                    "const box = document.getElementById('new-user-admin');
                     return [box.checked, box.disabled];",
                    vec![],
                )
                .await;
            assert_eq!(admin_box, json!([true, true]), "Admin, checked and fixed");

            // A password under the minimum is refused by the server, in the dialog, and
            // the cursor goes back to the password.
            page.wait_text(
                "#create-user-dialog [data-testid=password-rule]",
                "At least 8 characters.",
            )
            .await;
            assert_eq!(
                page.attr("#new-user-password", "minlength")
                    .await
                    .as_deref(),
                Some("8")
            );
            page.fill("#new-username", "alice").await;
            page.fill("#new-user-password", "short").await;
            page.fill("#new-user-confirm", "short").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#create-user-dialog [data-testid=dialog-error]",
                "Password is too short: use at least 8 characters.",
            )
            .await;
            assert_eq!(page.focused_id().await, "new-user-password");
            assert!(!home.users_file().exists(), "nothing was created");

            // The eye shows the password and hides it again.
            assert_eq!(input_type(&page, "#new-user-password").await, "password");
            toggle_password(&page, "new-user-password", "text").await;
            assert_eq!(page.value("#new-user-password").await, "short");
            toggle_password(&page, "new-user-password", "password").await;

            page.fill("#new-user-password", "alice-password").await;
            page.fill("#new-user-confirm", "alice-password").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;

            // Authentication is now on: the page says so on Sign In, which returns to
            // Manage Users.
            page.wait_path("/login?next=/admin").await;
            page.wait_text("[data-testid=sign-in-notice]", "authentication is now on")
                .await;
            page.wait_text("[data-testid=sign-in-notice]", "Sign in as alice")
                .await;
            assert_eq!(page.value("#username").await, "alice");
            assert_eq!(page.focused_id().await, "password");
            assert_eq!(home.users_json()["alice"]["roles"], json!(["Admin"]));
            let status = http()
                .get(server.url("/admin/users"))
                .send()
                .await
                .expect("GET /admin/users")
                .status();
            assert_eq!(status, 401, "sign-in is required now");

            page.fill("#password", "alice-password").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/admin").await;
            page.wait_text(&format!("{} .badge-admin", row("alice")), "Admin")
                .await;
            page.visible(&format!("{} .badge-you", row("alice"))).await;
            page.open_menu().await;
            page.wait_text("[data-testid=menu-username]", "alice").await;
            page.visible("[data-testid=menu-admin]").await;
            // The notice was for that one sign-in.
            page.goto("/").await;
            page.sign_out().await;
            assert!(
                page.eval(
                    "return document.querySelector('[data-testid=sign-in-notice]').hidden;",
                    vec![]
                )
                .await
                    == json!(true)
            );

            // The next user created is not an Admin unless asked.
            page.sign_in("/login?next=/admin", "alice", "alice-password", "/admin")
                .await;
            page.click("[data-testid=create-user]").await;
            assert!(!page.exists("[data-testid=first-user-note]").await);
            let admin_box = page
                .eval(
                    "const box = document.getElementById('new-user-admin');
                     return [box.checked, box.disabled];",
                    vec![],
                )
                .await;
            assert_eq!(admin_box, json!([false, false]));
        },
    )
    .await;
}

#[tokio::test]
async fn admins_make_and_unmake_admins_keeping_other_roles() {
    with_browser(
        "admins_make_and_unmake_admins_keeping_other_roles",
        |client| async move {
            let home = Home::new();
            home.write_users(&[
                ("admin", "admin-password", &["Admin"]),
                ("bob", "bob-password", &["Ops"]),
                ("carol", "carol-password", &[]),
            ]);
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;
            page.visible(&row("bob")).await;

            // Yourself: neither action. The others: Make Admin, with a label.
            for action in ["make-admin", "remove-admin"] {
                let mine = format!("{} [data-action={action}]", row("admin"));
                assert!(!page.exists(&mine).await, "{action} on yourself");
            }
            let make_bob = format!("{} [data-action=make-admin]", row("bob"));
            assert_eq!(
                page.attr(&make_bob, "aria-label").await.as_deref(),
                Some("Make bob an Admin")
            );
            assert_eq!(
                page.attr(&make_bob, "title").await.as_deref(),
                Some("Make Admin")
            );
            assert!(
                !page
                    .exists(&format!("{} [data-action=remove-admin]", row("bob")))
                    .await
            );

            // Make Admin: the badge appears, the store has the role, the other role stays.
            page.click(&make_bob).await;
            page.wait_text("[data-testid=toast]", "User 'bob' is now an Admin.")
                .await;
            page.wait_text(&format!("{} .badge-admin", row("bob")), "Admin")
                .await;
            assert_eq!(home.users_json()["bob"]["roles"], json!(["Ops", "Admin"]));
            // An Admin cannot be locked; Remove Admin replaces Make Admin.
            assert!(
                !page
                    .exists(&format!("{} [data-action=lock]", row("bob")))
                    .await
            );
            assert!(!page.exists(&make_bob).await);

            // Remove Admin: the badge goes, Ops stays.
            page.click(&format!("{} [data-action=remove-admin]", row("bob")))
                .await;
            page.wait_text("[data-testid=toast]", "User 'bob' is no longer an Admin.")
                .await;
            page.wait_until(
                "bob's Admin badge to go",
                "return !document.querySelector('tr[data-user=\"bob\"] .badge-admin')
                     && !!document.querySelector('tr[data-user=\"bob\"] [data-action=make-admin]');",
                vec![],
            )
            .await;
            assert_eq!(home.users_json()["bob"]["roles"], json!(["Ops"]));
            page.wait_text(&format!("{} .badge", row("bob")), "Ops").await;

            // A refusal by the server is shown: carol was deleted behind the page's back.
            let mut users = home.users_json();
            users.as_object_mut().expect("object").remove("carol");
            home.write_users_json(&users);
            page.click(&format!("{} [data-action=make-admin]", row("carol")))
                .await;
            page.wait_text("[data-testid=toast]", "User 'carol' not found.")
                .await;
            assert!(page
                .eval(
                    "return document.getElementById('toast').classList.contains('toast-error');",
                    vec![]
                )
                .await
                .as_bool()
                .unwrap_or(false));
            assert!(home.users_json().get("carol").is_none());
        },
    )
    .await;
}

#[tokio::test]
async fn github_admins_by_configuration_keep_the_role_and_sign_in_is_a_button() {
    with_browser(
        "github_admins_by_configuration_keep_the_role_and_sign_in_is_a_button",
        |client| async move {
            let home = Home::new();
            home.write_users(&[("admin", "admin-password", &["Admin"])]);
            std::fs::create_dir_all(home.path().join("github_auth")).expect("folder");
            std::fs::write(
                home.path().join("github_auth/users.json"),
                r#"{"octo": {"id": 7, "login": "octo", "created": 1742034600.0, "roles": []},
                    "hubber": {"id": 8, "login": "hubber", "created": 1742034700.0, "roles": ["Ops"]}}"#,
            )
            .expect("GitHub records");
            let server = Server::start_with(
                &home,
                &["--auth", "credentials,github_auth"],
                &[
                    ("GITHUB_CLIENT_ID", "client-id"),
                    ("GITHUB_CLIENT_SECRET", "client-secret"),
                    ("GITHUB_ADMINS", "octo"),
                ],
            );
            let page = Page::new(client, &server.base);

            // "Sign in with GitHub" is a button like the others, after an "or".
            page.goto("/login?next=/admin").await;
            let button = "[data-testid=github-sign-in]";
            page.wait_text(button, "Sign in with GitHub").await;
            let class = page.attr(button, "class").await.unwrap_or_default();
            assert!(class.split(' ').any(|c| c == "btn"), "{class}");
            let style = page
                .eval(
                    "const s = getComputedStyle(document.querySelector(arguments[0]));
                     return [s.display, s.borderTopStyle, s.textDecorationLine, s.cursor,
                             parseFloat(s.paddingTop) > 0];",
                    vec![json!(button)],
                )
                .await;
            assert_eq!(style, json!(["inline-flex", "solid", "none", "pointer", true]));
            page.wait_text(".sign-in .divider", "or").await;
            assert_eq!(
                page.attr(button, "href").await.as_deref(),
                Some("/auth/github?next=/admin")
            );

            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;
            page.wait_text(&format!("{} .badge-admin", row("octo")), "Admin")
                .await;
            assert_eq!(
                page.attr(&row("octo"), "data-provider").await.as_deref(),
                Some("github_auth")
            );

            // octo's Admin role comes from GITHUB_ADMINS: the server refuses, the page says
            // why, and the badge stays.
            page.click(&format!("{} [data-action=remove-admin]", row("octo")))
                .await;
            page.wait_text(
                "[data-testid=toast]",
                "The Admin role of 'octo' comes from the github_auth admins setting.",
            )
            .await;
            page.visible(&format!("{} .badge-admin", row("octo"))).await;

            // A GitHub account's role is changed in the GitHub records (its provider sent).
            page.click(&format!("{} [data-action=make-admin]", row("hubber")))
                .await;
            page.wait_text(&format!("{} .badge-admin", row("hubber")), "Admin")
                .await;
            let records: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(home.path().join("github_auth/users.json"))
                    .expect("GitHub records"),
            )
            .expect("GitHub records parse");
            assert_eq!(records["hubber"]["roles"], json!(["Ops", "Admin"]));
            assert_eq!(records["octo"]["roles"], json!([]));
        },
    )
    .await;
}

#[tokio::test]
async fn passwords_short_refused_in_every_dialog_and_shown_on_request() {
    with_browser(
        "passwords_short_refused_in_every_dialog_and_shown_on_request",
        |client| async move {
            let home = Home::new();
            home.write_users(&[
                ("admin", "admin-password", &["Admin"]),
                ("bob", "bob-password", &[]),
            ]);
            // The minimum comes from the configuration.
            let server = Server::start_with(&home, &[], &[("LLMS_MIN_PASSWORD_LENGTH", "12")]);
            let page = Page::new(client, &server.base);

            // Sign In: the eye shows the password typed.
            page.goto("/login?next=/admin").await;
            page.fill("#username", "admin").await;
            page.fill("#password", "admin-password").await;
            assert_eq!(input_type(&page, "#password").await, "password");
            toggle_password(&page, "password", "text").await;
            assert_eq!(
                page.attr("button[data-reveal=password]", "aria-label")
                    .await
                    .as_deref(),
                Some("Show password")
            );
            toggle_password(&page, "password", "password").await;
            toggle_password(&page, "password", "text").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/admin").await;

            // Manage Users, Change Password: the rule, the refusal, the cursor back.
            page.click(&format!("{} [data-action=password]", row("bob")))
                .await;
            page.wait_text(
                "#password-dialog [data-testid=password-rule]",
                "At least 12 characters.",
            )
            .await;
            assert_eq!(
                page.attr("#reset-password", "minlength").await.as_deref(),
                Some("12")
            );
            page.fill("#reset-password", "eleven-char").await;
            page.fill("#reset-confirm", "eleven-char").await;
            toggle_password(&page, "reset-confirm", "text").await;
            page.click("#password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#password-dialog [data-testid=dialog-error]",
                "Password is too short: use at least 12 characters.",
            )
            .await;
            assert_eq!(page.focused_id().await, "reset-password");
            assert_eq!(http_sign_in(&server, "bob", "bob-password").await, 200);
            // A mismatch puts the cursor in the confirmation.
            page.fill("#reset-password", "twelve-chars").await;
            page.fill("#reset-confirm", "twelve-chars!").await;
            page.click("#password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#password-dialog [data-testid=dialog-error]",
                "The passwords do not match.",
            )
            .await;
            assert_eq!(page.focused_id().await, "reset-confirm");
            // Closing hides the shown password again, for the next opening.
            page.click("#password-dialog .modal-actions [data-close]")
                .await;
            page.wait_dialog_closed("password-dialog").await;
            assert_eq!(input_type(&page, "#reset-confirm").await, "password");

            // Create User: a name already taken puts the cursor back in the username.
            page.click("[data-testid=create-user]").await;
            page.wait_text(
                "#create-user-dialog [data-testid=password-rule]",
                "At least 12 characters.",
            )
            .await;
            page.fill("#new-username", "bob").await;
            page.fill("#new-user-password", "bob-other-password").await;
            page.fill("#new-user-confirm", "bob-other-password").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#create-user-dialog [data-testid=dialog-error]",
                "User 'bob' already exists.",
            )
            .await;
            assert_eq!(page.focused_id().await, "new-username");
            page.click("#create-user-dialog .modal-actions [data-close]")
                .await;
            page.wait_dialog_closed("create-user-dialog").await;

            // My Account: the same rule for the new password; the current one has none.
            page.goto("/account").await;
            page.click("[data-testid=change-password]").await;
            page.wait_text(
                "#account-password-dialog [data-testid=password-rule]",
                "At least 12 characters.",
            )
            .await;
            assert_eq!(page.attr("#current-password", "minlength").await, None);
            page.fill("#current-password", "admin-password").await;
            page.fill("#new-password", "too-short").await;
            page.fill("#confirm-password", "too-short").await;
            toggle_password(&page, "current-password", "text").await;
            toggle_password(&page, "new-password", "text").await;
            page.click("#account-password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#account-password-dialog [data-testid=dialog-error]",
                "Password is too short: use at least 12 characters.",
            )
            .await;
            assert_eq!(page.focused_id().await, "new-password");
            // A wrong current password: the cursor goes to it.
            page.fill("#current-password", "not-my-password").await;
            page.fill("#new-password", "long-enough-now").await;
            page.fill("#confirm-password", "long-enough-now").await;
            page.click("#account-password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#account-password-dialog [data-testid=dialog-error]",
                "Current password is incorrect",
            )
            .await;
            assert_eq!(page.focused_id().await, "current-password");
            assert_eq!(
                http_sign_in(&server, "admin", "admin-password").await,
                200,
                "the password did not change"
            );
        },
    )
    .await;
}

/// 55 users: `admin` and `user01`..`user54`, created at times that do not follow their
/// names (several on one day, in the opposite order of their names), some with the role
/// Ops, `user07` and `user31` locked. Returns the created time of each.
fn many_users(home: &Home) -> Vec<(String, f64)> {
    let names: Vec<String> = (1..=54).map(|i| format!("user{i:02}")).collect();
    let mut users: Vec<(&str, &str, &[&str])> = vec![("admin", "admin-password", &["Admin"])];
    for (i, name) in names.iter().enumerate() {
        let roles: &[&str] = if i % 5 == 0 { &["Ops"] } else { &[] };
        users.push((name, "user-password", roles));
    }
    home.write_users(&users);
    let mut json = home.users_json();
    let day = 86_400.0;
    let mut created = Vec::new();
    for (i, name) in std::iter::once("admin".to_owned())
        .chain(names.iter().cloned())
        .enumerate()
    {
        // Days in a scrambled order; within a day, later names earlier in the day.
        let when = 1_742_000_000.0 + ((i * 17) % 11) as f64 * day + (60 - i) as f64 * 60.0;
        json[&name]["created"] = json!(when);
        created.push((name, when));
    }
    json["user07"]["locked"] = json!("On leave until June");
    json["user31"]["locked"] = json!("Left the team");
    home.write_users_json(&json);
    created
}

#[tokio::test]
async fn manage_users_search_and_sort_survive_a_refresh() {
    with_browser(
        "manage_users_search_and_sort_survive_a_refresh",
        |client| async move {
            let home = Home::new();
            let created = many_users(&home);
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;
            wait_count(&page, "55 users").await;
            assert_eq!(shown_rows(&page).await.len(), 55);

            // Search, live as you type: by name...
            let search = "[data-testid=user-search]";
            page.fill(search, "user1").await;
            wait_count(&page, "10 of 55 users").await;
            let expected: Vec<String> = (10..=19).map(|i| format!("user{i}")).collect();
            assert_eq!(shown_rows(&page).await, expected);
            // ...by role (every fifth user has Ops; the Admin role is admin's)...
            page.fill(search, "ops").await;
            wait_count(&page, "11 of 55 users").await;
            page.fill(search, "admin").await;
            wait_count(&page, "1 of 55 users").await;
            assert_eq!(shown_rows(&page).await, ["admin"]);
            // ...by status and lock reason, several words at once...
            page.fill(search, "locked").await;
            wait_count(&page, "2 of 55 users").await;
            assert_eq!(shown_rows(&page).await, ["user07", "user31"]);
            page.fill(search, "locked june").await;
            wait_count(&page, "1 of 55 users").await;
            assert_eq!(shown_rows(&page).await, ["user07"]);
            assert!(page
                .eval(
                    "return document.querySelector('[data-testid=no-match]').hidden;",
                    vec![]
                )
                .await
                .as_bool()
                .unwrap_or(false));
            // ...and nothing: the "no match" line says what was searched.
            page.fill(search, "nobody-by-that-name").await;
            page.wait_text(
                "[data-testid=no-match]",
                "No user matches “nobody-by-that-name”.",
            )
            .await;
            assert!(shown_rows(&page).await.is_empty());
            page.fill(search, "").await;
            wait_count(&page, "55 users").await;
            assert_eq!(shown_rows(&page).await.len(), 55);

            // Sort by Username: ascending, then descending.
            let heading = |n: usize| format!("#users-table thead th:nth-child({n})");
            let mut by_name: Vec<String> = created.iter().map(|(n, _)| n.clone()).collect();
            by_name.sort();
            page.click(&format!("{} button.sort", heading(1))).await;
            assert_eq!(
                page.attr(&heading(1), "aria-sort").await.as_deref(),
                Some("ascending")
            );
            assert_eq!(shown_rows(&page).await, by_name);
            page.click(&format!("{} button.sort", heading(1))).await;
            assert_eq!(
                page.attr(&heading(1), "aria-sort").await.as_deref(),
                Some("descending")
            );
            let mut descending = by_name.clone();
            descending.reverse();
            assert_eq!(shown_rows(&page).await, descending);

            // Sort by Created: by the time, not by the date shown (many share a day).
            let mut by_created = created.clone();
            by_created.sort_by(|a, b| a.1.total_cmp(&b.1));
            let by_created: Vec<String> = by_created.into_iter().map(|(n, _)| n).collect();
            assert_ne!(by_created, by_name);
            page.click(&format!("{} button.sort", heading(4))).await;
            assert_eq!(
                page.attr(&heading(4), "aria-sort").await.as_deref(),
                Some("ascending")
            );
            assert_eq!(page.attr(&heading(1), "aria-sort").await, None);
            assert_eq!(shown_rows(&page).await, by_created);

            // An action refreshes the table: the search and the sort stay.
            page.fill(search, "user1").await;
            wait_count(&page, "10 of 55 users").await;
            let filtered: Vec<String> = by_created
                .iter()
                .filter(|n| n.starts_with("user1"))
                .cloned()
                .collect();
            assert_eq!(shown_rows(&page).await, filtered);
            page.click(&format!("{} [data-action=lock]", row("user12")))
                .await;
            page.fill("#lock-reason", "Locked for the test").await;
            page.click("#lock-dialog [data-testid=dialog-submit]").await;
            page.wait_dialog_closed("lock-dialog").await;
            page.wait_text("[data-testid=toast]", "User 'user12' locked.")
                .await;
            page.visible(&format!("{} [data-testid=status-locked]", row("user12")))
                .await;
            assert_eq!(home.users_json()["user12"]["locked"], "Locked for the test");
            assert_eq!(page.value(search).await, "user1");
            wait_count(&page, "10 of 55 users").await;
            assert_eq!(shown_rows(&page).await, filtered);
            assert_eq!(
                page.attr(&heading(4), "aria-sort").await.as_deref(),
                Some("ascending")
            );
            // And a one-click action (no dialog) keeps them too.
            page.click(&format!("{} [data-action=make-admin]", row("user15")))
                .await;
            page.wait_text(&format!("{} .badge-admin", row("user15")), "Admin")
                .await;
            assert_eq!(shown_rows(&page).await, filtered);
            assert_eq!(
                page.attr(&heading(4), "aria-sort").await.as_deref(),
                Some("ascending")
            );
            // Sorting still works on the fresh table.
            page.click(&format!("{} button.sort", heading(4))).await;
            let mut reversed = filtered.clone();
            reversed.reverse();
            assert_eq!(shown_rows(&page).await, reversed);
        },
    )
    .await;
}

#[tokio::test]
async fn the_lock_reason_shows_on_a_phone() {
    with_browser("the_lock_reason_shows_on_a_phone", |client| async move {
        let home = Home::new();
        home.write_users(&[
            ("admin", "admin-password", &["Admin"]),
            ("carol", "carol-password", &[]),
        ]);
        let reason = "On parental leave until the end of September; ask the front desk";
        let locked = home.run(&["--lockuser", "carol", "--reason", reason], "");
        assert!(locked.status.success(), "{locked:?}");
        let server = Server::start(&home, &[]);
        let page = Page::new(client, &server.base);
        page.phone_window().await;
        page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
            .await;
        let css = format!("{} [data-testid=lock-reason]", row("carol"));
        page.wait_text(&css, reason).await;
        // Whole: inside the window, not cut off, and the page does not scroll sideways.
        let fits = page
            .eval(
                "const el = document.querySelector(arguments[0]);
                 const box = el.getBoundingClientRect();
                 return [box.width > 0 && box.height > 0, box.left >= 0,
                         box.right <= window.innerWidth, el.scrollWidth <= el.clientWidth,
                         document.documentElement.scrollWidth <= window.innerWidth];",
                vec![json!(css)],
            )
            .await;
        assert_eq!(fits, json!([true, true, true, true, true]), "{css}");
        // The sort buttons stay reachable on a phone.
        page.visible("#users-table thead th:nth-child(1) button.sort")
            .await;
        page.visible("[data-testid=user-search]").await;
    })
    .await;
}

// ---- API keys and the home page's chat ------------------------------------------------------

/// The status of `GET /auth` with `key` as a Bearer token.
async fn key_status(server: &Server, key: &str) -> u16 {
    http()
        .get(server.url("/auth"))
        .bearer_auth(key)
        .send()
        .await
        .expect("GET /auth with a key")
        .status()
        .as_u16()
}

/// Whether `text` has a key's shape: `sk-llms-` and 43 characters of URL-safe base64.
fn is_key_shaped(text: &str) -> bool {
    text.strip_prefix("sk-llms-").is_some_and(|secret| {
        secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The texts of the elements matching `css`, in order.
async fn texts(page: &Page, css: &str) -> Vec<String> {
    let found = page
        .eval(
            "return Array.from(document.querySelectorAll(arguments[0])).map((el) => el.textContent.trim());",
            vec![json!(css)],
        )
        .await;
    serde_json::from_value(found).expect("a list of texts")
}

#[tokio::test]
async fn api_keys_are_made_on_my_account_shown_once_and_revoked() {
    with_browser(
        "api_keys_are_made_on_my_account_shown_once_and_revoked",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/account", "bob", "bob-password", "/account")
                .await;

            // No keys yet; how to use one, with this server's address.
            page.wait_text("[data-testid=no-keys]", "no API keys yet")
                .await;
            page.wait_text("[data-testid=key-usage]", &format!("{}/v1", server.base))
                .await;
            page.wait_text("[data-testid=key-usage]", "Authorization: Bearer <key>")
                .await;

            // Create Key: a name is needed; the server's refusals show in the dialog.
            page.click("[data-testid=create-key]").await;
            page.wait_dialog_open("create-key-dialog").await;
            assert_eq!(page.focused_id().await, "key-name");
            page.click("#create-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#create-key-dialog [data-testid=dialog-error]",
                "Enter a name for the key.",
            )
            .await;
            page.eval(
                "document.getElementById('key-name').removeAttribute('maxlength');",
                vec![],
            )
            .await;
            page.fill("#key-name", &"n".repeat(101)).await;
            page.click("#create-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#create-key-dialog [data-testid=dialog-error]",
                "A key's name has at most 100 characters.",
            )
            .await;
            assert_eq!(page.focused_id().await, "key-name");

            // A good one: a name with markup, 30 days, two models.
            let name = "laptop <b>1</b>";
            page.fill("#key-name", name).await;
            page.click("#key-expires option[value=\"30\"]").await;
            page.fill("#key-models", "alpha, beta").await;
            page.click("#create-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("create-key-dialog").await;

            // Shown once, with a Copy button and the warning.
            page.visible("[data-testid=new-key]").await;
            page.wait_text("[data-testid=new-key]", "it is not shown again")
                .await;
            let key = page.value("[data-testid=new-key-value]").await;
            assert!(is_key_shaped(&key), "{key:?}");
            page.visible("[data-testid=copy-key]").await;
            assert_eq!(key_status(&server, &key).await, 200, "the key works");

            // Copy: to the clipboard, or (where the page may not) selected for Ctrl+C.
            page.click("[data-testid=copy-key]").await;
            let copied = page
                .wait_until(
                    "the key to be copied or selected",
                    "const toast = document.getElementById('toast');
                     const hint = document.querySelector('[data-testid=copy-hint]');
                     const input = document.querySelector('[data-testid=new-key-value]');
                     const selected = document.activeElement === input && input.selectionStart === 0
                         && input.selectionEnd === input.value.length;
                     if (!selected) return null;
                     if (!toast.hidden && toast.textContent.includes('copied')) return 'copied';
                     return hint.hidden ? null : 'selected';",
                    vec![],
                )
                .await;
            assert!(copied == json!("copied") || copied == json!("selected"));

            // The list, refreshed in place: the name, the hint, the limits, the dates.
            let secret = &key["sk-llms-".len()..];
            let hint = format!("sk-llms-{}…{}", &secret[..4], &secret[secret.len() - 4..]);
            page.wait_text("[data-testid=key-item] [data-testid=key-hint]", &hint)
                .await;
            assert_eq!(texts(&page, "[data-testid=key-name]").await, [name]);
            page.wait_text("[data-testid=key-limits]", "Models: alpha, beta")
                .await;
            page.wait_text("[data-testid=key-last-used]", "Last used never")
                .await;
            let expires = page
                .wait_text("[data-testid=key-expires]", "Expires 20")
                .await;
            assert!(!expires.contains("never"), "{expires}");
            assert!(!page.exists("[data-testid=no-keys]").await);
            assert!(
                !page.exists("[data-testid=key-item] b").await,
                "markup in a name"
            );

            // After a reload: only the hint, the key is nowhere in the page.
            page.goto("/account").await;
            page.wait_text("[data-testid=key-hint]", &hint).await;
            let leaked = page
                .eval(
                    "return document.documentElement.outerHTML.includes(arguments[0])
                         || document.querySelector('[data-testid=new-key-value]').value !== ''
                         || !document.querySelector('[data-testid=new-key]').hidden;",
                    vec![json!(key)],
                )
                .await;
            assert_eq!(leaked, json!(false), "the key is shown again");
            assert_eq!(key_status(&server, &key).await, 200);

            // The page fits a phone.
            page.phone_window().await;
            page.visible("[data-testid=key-item]").await;
            let fits = page
                .eval(
                    "return document.documentElement.scrollWidth <= window.innerWidth;",
                    vec![],
                )
                .await;
            assert_eq!(fits, json!(true), "My Account scrolls sideways on a phone");
            page.resize(1280, 900).await;

            // Revoke: Cancel keeps it; the confirmation removes it and it stops working.
            let revoke = "[data-testid=key-item] button[data-revoke-key]";
            assert_eq!(
                page.attr(revoke, "aria-label").await.as_deref(),
                Some("Revoke the API key laptop <b>1</b>")
            );
            page.click(revoke).await;
            page.wait_dialog_open("revoke-key-dialog").await;
            page.wait_text("#revoke-key-dialog", name).await;
            page.click("#revoke-key-dialog .modal-actions [data-close]")
                .await;
            page.wait_dialog_closed("revoke-key-dialog").await;
            assert_eq!(key_status(&server, &key).await, 200);
            page.click(revoke).await;
            page.click("#revoke-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("revoke-key-dialog").await;
            page.wait_text("[data-testid=toast]", &format!("API key '{name}' revoked."))
                .await;
            page.wait_text("[data-testid=no-keys]", "no API keys yet")
                .await;
            assert!(!page.exists("[data-testid=key-item]").await);
            assert_eq!(key_status(&server, &key).await, 401, "a revoked key works");

            // A key revoked while it is still shown: the box goes with it.
            page.click("[data-testid=create-key]").await;
            page.fill("#key-name", "short-lived").await;
            page.click("#create-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("create-key-dialog").await;
            page.visible("[data-testid=new-key]").await;
            let short_lived = page.value("[data-testid=new-key-value]").await;
            assert!(is_key_shaped(&short_lived) && short_lived != key);
            page.click(revoke).await;
            page.click("#revoke-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text("[data-testid=no-keys]", "no API keys yet")
                .await;
            page.wait_until(
                "the revoked key's box to go",
                "return document.querySelector('[data-testid=new-key]').hidden
                     && document.querySelector('[data-testid=new-key-value]').value === '';",
                vec![],
            )
            .await;
            assert_eq!(key_status(&server, &short_lived).await, 401);
        },
    )
    .await;
}

#[tokio::test]
async fn keys_need_a_user_while_authentication_is_off() {
    with_browser(
        "keys_need_a_user_while_authentication_is_off",
        |client| async move {
            let home = Home::new();
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.goto("/account").await;
            page.wait_text("[data-testid=keys-need-a-user]", "API keys belong to users")
                .await;
            assert!(!page.exists("[data-testid=create-key]").await);
        },
    )
    .await;
}

#[tokio::test]
async fn manage_users_counts_keys_and_an_admin_revokes_them() {
    with_browser(
        "manage_users_counts_keys_and_an_admin_revokes_them",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            home.add_user("carol", "carol-password");
            let first = home.add_key("bob", "ci runner", &[]);
            let second = home.add_key("bob", "notebook", &[]);
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;

            // The count per user; only a user with keys has the button.
            let count = |user: &str| format!("{} [data-testid=key-count]", row(user));
            page.wait_text(&count("bob"), "2").await;
            page.wait_text(&count("carol"), "0").await;
            assert!(
                !page
                    .exists(&format!("{} [data-action=keys]", row("carol")))
                    .await
            );
            let button = format!("{} [data-action=keys]", row("bob"));
            assert_eq!(
                page.attr(&button, "aria-label").await.as_deref(),
                Some("API keys of bob: 2")
            );

            // A search, to see that it stays when the table refreshes.
            page.fill("[data-testid=user-search]", "b").await;
            wait_count(&page, "1 of 3 users").await;

            // The dialog lists bob's keys (from GET /admin/keys).
            page.click(&button).await;
            page.wait_dialog_open("user-keys-dialog").await;
            page.wait_text("#user-keys-dialog h2", "API keys of bob")
                .await;
            page.wait_text("[data-testid=user-keys-status]", "2 keys.")
                .await;
            assert_eq!(
                texts(&page, "#user-keys-list [data-testid=key-name]").await,
                ["ci runner", "notebook"]
            );
            page.wait_text("#user-keys-list [data-testid=key-last-used]", "never")
                .await;

            // Revoke the first, after a confirmation over the list.
            let revoke =
                "#user-keys-list [data-testid=key-item]:first-child button[data-revoke-key]";
            assert_eq!(
                page.attr(revoke, "aria-label").await.as_deref(),
                Some("Revoke the API key ci runner")
            );
            page.click(revoke).await;
            page.wait_dialog_open("revoke-key-dialog").await;
            page.wait_text("#revoke-key-dialog", "ci runner").await;
            page.click("#revoke-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("revoke-key-dialog").await;
            page.wait_text("[data-testid=toast]", "API key 'ci runner' revoked.")
                .await;
            page.wait_text("[data-testid=user-keys-status]", "1 key.")
                .await;
            assert_eq!(
                texts(&page, "#user-keys-list [data-testid=key-name]").await,
                ["notebook"]
            );
            page.wait_dialog_open("user-keys-dialog").await;
            assert_eq!(key_status(&server, &first).await, 401);
            assert_eq!(key_status(&server, &second).await, 200);

            // The table, refreshed: the new count, the search kept.
            page.click("#user-keys-dialog .modal-actions [data-close]")
                .await;
            page.wait_dialog_closed("user-keys-dialog").await;
            page.wait_text(&count("bob"), "1").await;
            assert_eq!(page.value("[data-testid=user-search]").await, "b");
            wait_count(&page, "1 of 3 users").await;

            // The last one: the list says there is none, the count goes to 0.
            page.click(&button).await;
            page.wait_text("[data-testid=user-keys-status]", "1 key.")
                .await;
            page.click(revoke).await;
            page.click("#revoke-key-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text("[data-testid=user-keys-status]", "bob has no API keys.")
                .await;
            page.wait_text(&count("bob"), "0").await;
            assert_eq!(key_status(&server, &second).await, 401);
        },
    )
    .await;
}

/// Makes the page's chat requests ask the fake upstream for `extra` (its `fake_*` fields),
/// by wrapping `fetch`.
async fn fake_chat_options(page: &Page, extra: serde_json::Value) {
    wrap_chat_fetch(page, extra, json!({})).await;
}

/// Wraps the page's `fetch` so that its chat requests carry the fields `body` and the
/// headers `headers` too.
async fn wrap_chat_fetch(page: &Page, body: serde_json::Value, headers: serde_json::Value) {
    page.eval(
        "const [body, headers] = arguments;
         if (!window.realFetch) window.realFetch = window.fetch;
         window.fetch = (url, init) => {
             if (String(url).endsWith('/v1/chat/completions') && init && init.body) {
                 init = Object.assign({}, init, {
                     body: JSON.stringify(Object.assign(JSON.parse(init.body), body)),
                     headers: Object.assign({}, init.headers, headers),
                 });
             }
             return window.realFetch(url, init);
         };",
        vec![body, headers],
    )
    .await;
}

/// The chat's state: the answer's text, whether Send is disabled, whether Stop shows.
async fn chat_state(page: &Page) -> (String, bool, bool) {
    let state = page
        .eval(
            "return [document.querySelector('[data-testid=chat-answer]').textContent,
                     document.querySelector('[data-testid=chat-send]').disabled,
                     !document.querySelector('[data-testid=chat-stop]').hidden];",
            vec![],
        )
        .await;
    serde_json::from_value(state).expect("the chat's state")
}

#[tokio::test]
async fn the_home_page_lists_the_models_and_streams_an_answer() {
    with_browser(
        "the_home_page_lists_the_models_and_streams_an_answer",
        |client| async move {
            let fake = common::fake_openai::FakeOpenAi::start().await;
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &["--upstream", &fake.base]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login", "bob", "bob-password", "/").await;

            // The models bob may use, in the list and the select.
            page.wait_text("[data-testid=models-status]", "3 models")
                .await;
            assert_eq!(
                texts(&page, "[data-testid=model-list] li").await,
                ["alpha", "beta", "gamma"]
            );
            assert_eq!(
                texts(&page, "[data-testid=chat-model] option").await,
                ["alpha", "beta", "gamma"]
            );

            // Eight chunks, a quarter of a second apart: the answer grows as they come.
            fake_chat_options(&page, json!({ "fake_events": 8, "fake_interval_ms": 250 }))
                .await;
            page.click("[data-testid=chat-model] option[value=beta]")
                .await;
            page.fill("[data-testid=chat-prompt]", "one two three four five six")
                .await;
            page.click("[data-testid=chat-send]").await;
            let full = "You said: one two three four five six";
            let mut partial = None;
            let deadline = std::time::Instant::now() + harness::WAIT;
            loop {
                let (text, send_disabled, stop_shown) = chat_state(&page).await;
                let text = text.trim().to_owned();
                if text == full {
                    break;
                }
                if !text.is_empty() {
                    assert!(full.starts_with(&text), "{text:?}");
                    assert!(send_disabled && stop_shown, "Send is off, Stop on, meanwhile");
                    partial.get_or_insert(text);
                }
                assert!(std::time::Instant::now() < deadline, "no full answer");
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
            let partial = partial.expect("some of the answer shown before the rest");
            assert!(partial.len() < full.len(), "{partial:?}");
            page.wait_until(
                "Send to come back",
                "return !document.querySelector('[data-testid=chat-send]').disabled
                     && document.querySelector('[data-testid=chat-stop]').hidden;",
                vec![],
            )
            .await;
            assert!(page
                .eval(
                    "return document.querySelector('[data-testid=chat-note]').hidden
                         && document.querySelector('[data-testid=chat-error]').hidden;",
                    vec![]
                )
                .await
                .as_bool()
                .unwrap_or(false));
            let sent = fake.last().json();
            assert_eq!(sent["model"], "beta");
            assert_eq!(sent["stream"], true);
            assert_eq!(
                sent["messages"],
                json!([{ "role": "user", "content": "one two three four five six" }])
            );
            assert!(page.exists("[data-testid=user-menu]").await);

            // Stop: the answer stays as far as it came, and the upstream hears of it.
            fake_chat_options(&page, json!({ "fake_events": 40, "fake_interval_ms": 300 }))
                .await;
            let cancelled = fake.cancelled();
            page.click("[data-testid=chat-send]").await;
            page.wait_until(
                "the answer to begin",
                "return document.querySelector('[data-testid=chat-answer]').textContent.length > 0;",
                vec![],
            )
            .await;
            page.click("[data-testid=chat-stop]").await;
            page.wait_text("[data-testid=chat-note]", "Stopped.").await;
            let (text, send_disabled, stop_shown) = chat_state(&page).await;
            assert!(!text.trim().is_empty() && !send_disabled && !stop_shown);
            fake.wait_for("the stopped stream cancelled", |f| {
                f.cancelled() > cancelled
            })
            .await;
            assert!(page
                .eval(
                    "return document.querySelector('[data-testid=chat-error]').hidden;",
                    vec![]
                )
                .await
                .as_bool()
                .unwrap_or(false));

            // The page fits a phone.
            page.phone_window().await;
            let fits = page
                .eval(
                    "return document.documentElement.scrollWidth <= window.innerWidth;",
                    vec![],
                )
                .await;
            assert_eq!(fits, json!(true), "the home page scrolls sideways on a phone");
        },
    )
    .await;
}

#[tokio::test]
async fn the_home_page_shows_what_went_wrong_in_the_gateway() {
    with_browser(
        "the_home_page_shows_what_went_wrong_in_the_gateway",
        |client| async move {
            // The upstream is down (authentication off: the default user has the chat).
            let home = Home::new();
            let closed = common::fake_openai::closed_upstream();
            let down = Server::start(&home, &["--upstream", &closed]);
            let page = Page::new(client, &down.base);
            page.goto("/").await;
            page.wait_text(
                "[data-testid=chat-error]",
                "The model server is unavailable.",
            )
            .await;
            page.wait_text("[data-testid=models-status]", "could not be listed")
                .await;
            let send_disabled = page
                .eval(
                    "return document.querySelector('[data-testid=chat-send]').disabled;",
                    vec![],
                )
                .await;
            assert_eq!(send_disabled, json!(true));
            drop(down);

            // A stream cut short: what came stays, and the page says it is incomplete.
            let fake = common::fake_openai::FakeOpenAi::start().await;
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &["--upstream", &fake.base]);
            page.client
                .goto(&server.url("/login"))
                .await
                .expect("open the second server");
            let page = Page::new(page.client.clone(), &server.base);
            page.sign_in("/login", "bob", "bob-password", "/").await;
            page.wait_text("[data-testid=models-status]", "3 models")
                .await;
            fake_chat_options(
                &page,
                json!({ "fake_events": 8, "fake_interval_ms": 50, "fake_cut_after": 3 }),
            )
            .await;
            page.fill("[data-testid=chat-prompt]", "a b c d e f").await;
            page.click("[data-testid=chat-send]").await;
            page.wait_text(
                "[data-testid=chat-error]",
                "The connection was lost before the answer was complete.",
            )
            .await;
            page.wait_text("[data-testid=chat-answer]", "You said: a")
                .await;
            let (_, send_disabled, stop_shown) = chat_state(&page).await;
            assert!(!send_disabled && !stop_shown);

            // A refusal in OpenAI's shape, its message shown: the request carries a key
            // that may use alpha only, and asks for beta.
            let key = home.add_key("bob", "k", &["--models", "alpha"]);
            wrap_chat_fetch(
                &page,
                json!({}),
                json!({ "Authorization": format!("Bearer {key}") }),
            )
            .await;
            let requests = fake.received().len();
            page.click("[data-testid=chat-model] option[value=beta]")
                .await;
            page.click("[data-testid=chat-send]").await;
            page.wait_text(
                "[data-testid=chat-error]",
                "The model 'beta' is not allowed for this API key.",
            )
            .await;
            let (text, send_disabled, _) = chat_state(&page).await;
            assert!(text.is_empty() && !send_disabled, "{text:?}");
            assert_eq!(
                fake.received().len(),
                requests,
                "refused before the upstream"
            );

            // The session ends meanwhile (bob is locked): the page says so.
            fake_chat_options(&page, json!({})).await;
            let locked = home.run(&["--lockuser", "bob", "--reason", "On leave"], "");
            assert!(locked.status.success(), "{locked:?}");
            page.click("[data-testid=chat-send]").await;
            page.wait_text(
                "[data-testid=chat-error]",
                "Your session has ended: sign in again.",
            )
            .await;
        },
    )
    .await;
}

/// The number of sessions My Account lists.
async fn listed_sessions(page: &Page) -> u64 {
    page.eval(
        "return document.querySelectorAll('[data-testid=session-item]').length;",
        vec![],
    )
    .await
    .as_u64()
    .unwrap()
}

#[tokio::test]
async fn my_account_lists_where_you_are_signed_in_and_signs_out_the_others() {
    with_browser(
        "my_account_lists_where_you_are_signed_in_and_signs_out_the_others",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            // Bob is also signed in from a script (curl's user agent) and a phone.
            let script = http()
                .post(server.url("/auth/login"))
                .header("user-agent", "curl/8.5.0")
                .json(&json!({ "username": "bob", "password": "bob-password" }))
                .send()
                .await
                .unwrap();
            let script = common::session_cookie(&script).unwrap();
            let phone = http()
                .post(server.url("/auth/login"))
                .header(
                    "user-agent",
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                )
                .json(&json!({ "username": "bob", "password": "bob-password" }))
                .send()
                .await
                .unwrap();
            let phone = common::session_cookie(&phone).unwrap();
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/account", "bob", "bob-password", "/account")
                .await;

            // Three sessions: this browser (Chrome on Linux) marked, the phone, the script.
            assert_eq!(listed_sessions(&page).await, 3);
            page.wait_text("[data-testid=session-list]", "Chrome on Linux")
                .await;
            page.wait_text("[data-testid=session-list]", "Safari on iOS")
                .await;
            page.wait_text("[data-testid=session-list]", "curl").await;
            let this_device = page
                .eval(
                    "return [...document.querySelectorAll('[data-testid=session-item]')]\
                     .filter(li => li.querySelector('[data-testid=this-device]'))\
                     .map(li => li.querySelector('[data-testid=session-device]').textContent);",
                    vec![],
                )
                .await;
            assert_eq!(this_device, json!(["Chrome on Linux"]));

            // Sign out the phone: gone from the list, and its next request is refused.
            page.eval(
                "[...document.querySelectorAll('[data-testid=session-item]')]\
                 .find(li => li.textContent.includes('Safari on iOS'))\
                 .querySelector('[data-testid=sign-out-session]').click();",
                vec![],
            )
            .await;
            page.wait_until(
                "the phone's session gone from the list",
                "return document.querySelectorAll('[data-testid=session-item]').length === 2;",
                vec![],
            )
            .await;
            let status = |cookie: String| {
                let url = server.url("/auth");
                async move {
                    http()
                        .get(url)
                        .header("cookie", cookie)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            assert_eq!(status(phone.clone()).await, 401);
            assert_eq!(status(script.clone()).await, 200);

            // Everywhere else: only this browser is left, still signed in.
            page.click("[data-testid=revoke-other-sessions]").await;
            page.wait_until(
                "only this browser left",
                "return document.querySelectorAll('[data-testid=session-item]').length === 1;",
                vec![],
            )
            .await;
            assert_eq!(status(script).await, 401);
            assert_eq!(status(browser_cookie(&page).await).await, 200);
            assert!(!page.exists("[data-testid=revoke-other-sessions]").await);

            // Signing out this very session is signing out.
            page.click("[data-testid=sign-out-session]").await;
            page.wait_path("/login").await;
        },
    )
    .await;
}

#[tokio::test]
async fn an_admin_signs_a_user_out_from_manage_users() {
    with_browser(
        "an_admin_signs_a_user_out_from_manage_users",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let laptop = common::sign_in(&server, "bob", "bob-password").await;
            let phone = common::sign_in(&server, "bob", "bob-password").await;
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;
            page.click(&format!("{} button[data-action=sessions]", row("bob")))
                .await;
            page.wait_dialog_open("user-sessions-dialog").await;
            page.wait_text("[data-testid=user-sessions-status]", "2 sessions.")
                .await;
            let status = |cookie: String| {
                let url = server.url("/auth");
                async move {
                    http()
                        .get(url)
                        .header("cookie", cookie)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            // One signed out: the list says one, and one of the two is refused.
            page.click("[data-testid=user-session-sign-out]").await;
            page.wait_text("[data-testid=user-sessions-status]", "1 session.")
                .await;
            let left = status(laptop.clone()).await + status(phone.clone()).await;
            assert_eq!(left, 200 + 401, "exactly one of bob's two sessions ended");
            // Everywhere: none left.
            page.click("[data-testid=user-sessions-end-all]").await;
            page.wait_text(
                "[data-testid=user-sessions-status]",
                "bob is signed in nowhere.",
            )
            .await;
            assert_eq!(status(laptop).await, 401);
            assert_eq!(status(phone).await, 401);
            assert_eq!(
                status(browser_cookie(&page).await).await,
                200,
                "the admin stays"
            );
        },
    )
    .await;
}

// ---- Account security (SPEC 12): two-factor sign-in, reset links, passwords to change ----

/// The 30-second TOTP step of now.
fn totp_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
        / 30
}

/// The 6-digit code of the base32 `secret` for the TOTP step `step`, as an authenticator
/// app computes it ([`common::totp::totp_at`] the step's first second).
fn totp_code(secret: &str, step: u64) -> String {
    common::totp::totp_at(secret, (step * 30) as f64)
}

/// A 6-digit code that no step around `step` has (a wrong code, for sure).
fn wrong_code(secret: &str, step: u64) -> String {
    let near: Vec<String> = (step - 2..=step + 3)
        .map(|s| totp_code(secret, s))
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", 123_456 + n))
        .find(|code| !near.contains(code))
        .expect("a code no step has")
}

/// `GET /auth` with the browser's session, as JSON.
async fn session_user(page: &Page, server: &Server) -> serde_json::Value {
    common::get_json(server, "/auth", Some(&browser_cookie(page).await)).await
}

/// Types `username` and `password` into the sign-in form and submits it.
async fn submit_password(page: &Page, username: &str, password: &str) {
    page.fill("#username", username).await;
    page.fill("#password", password).await;
    page.click("[data-testid=sign-in-submit]").await;
}

/// `POST /auth/login` over plain HTTP with a second-factor `code`; the status code.
async fn http_sign_in_with_code(server: &Server, user: &str, password: &str, code: &str) -> u16 {
    http()
        .post(server.url("/auth/login"))
        .json(&json!({ "username": user, "password": password, "code": code }))
        .send()
        .await
        .expect("sign-in request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn two_factor_sign_in_is_turned_on_used_with_codes_and_turned_off() {
    with_browser(
        "two_factor_sign_in_is_turned_on_used_with_codes_and_turned_off",
        |client| async move {
            let home = Home::new();
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/account", "bob", "bob-password", "/account")
                .await;

            // Off: Turn On is offered.
            page.wait_text("[data-testid=two-factor-off]", "only for your password")
                .await;
            assert!(!page.exists("[data-testid=two-factor-badge]").await);
            assert_eq!(session_user(&page, &server).await["twoFactor"], json!(false));

            // Turn On: the QR code (the server's SVG, as an image) and the key in text.
            page.click("[data-testid=two-factor-enable]").await;
            page.visible("[data-testid=two-factor-setup]").await;
            assert_eq!(page.focused_id().await, "two-factor-code");
            page.wait_until(
                "the QR code to load",
                "const img = document.getElementById('two-factor-qr');
                 return img.src.startsWith('data:image/svg+xml') && img.complete && img.naturalWidth >= 200;",
                vec![],
            )
            .await;
            let secret = page
                .attr("[data-testid=two-factor-secret]", "data-secret")
                .await
                .expect("the key in data-secret");
            assert_eq!(secret.len(), 32, "{secret}");
            let shown = page.wait_text("[data-testid=two-factor-secret]", &secret[..4]).await;
            assert_eq!(shown.replace(' ', ""), secret, "the key, grouped for reading");
            assert!(shown.contains(' '), "{shown}");

            // A malformed code is refused in place; the setup stays.
            page.fill("[data-testid=two-factor-code]", "12345").await;
            page.click("[data-testid=two-factor-confirm]").await;
            page.wait_text("[data-testid=two-factor-setup-error]", "6 digits")
                .await;
            assert_eq!(page.focused_id().await, "two-factor-code");

            // The app's code turns it on: ten recovery codes, shown once.
            let enabled_step = totp_step();
            page.fill(
                "[data-testid=two-factor-code]",
                &totp_code(&secret, enabled_step),
            )
            .await;
            page.click("[data-testid=two-factor-confirm]").await;
            page.visible("[data-testid=recovery-codes]").await;
            page.wait_text("[data-testid=toast]", "Two-factor sign-in is on.")
                .await;
            let codes = texts(&page, "[data-testid=recovery-code]").await;
            assert_eq!(codes.len(), 10, "{codes:?}");
            for code in &codes {
                let shaped = code.len() == 11
                    && code.as_bytes()[5] == b'-'
                    && code
                        .bytes()
                        .enumerate()
                        .all(|(i, b)| i == 5 || b.is_ascii_lowercase() || b.is_ascii_digit());
                assert!(shaped, "{code}");
            }
            assert!(
                !page.exists("[data-testid=two-factor-setup]:not([hidden])").await,
                "the setup is gone"
            );
            assert!(
                page.attr("[data-testid=two-factor-secret]", "data-secret")
                    .await
                    .is_none(),
                "the key left the page"
            );
            page.click("[data-testid=copy-recovery-codes]").await;
            page.wait_until(
                "the codes to be copied or selected",
                "const toast = document.getElementById('toast');
                 const hint = document.querySelector('[data-testid=recovery-copy-hint]');
                 if (!toast.hidden && toast.textContent.includes('copied')) return 'copied';
                 return hint.hidden ? null : String(window.getSelection()).includes(arguments[0]);",
                vec![json!(codes[0])],
            )
            .await;
            page.click("[data-testid=recovery-codes-done]").await;
            page.wait_until(
                "the codes to go",
                "return document.querySelector('[data-testid=recovery-codes]').hidden
                     && document.querySelectorAll('[data-testid=recovery-code]').length === 0;",
                vec![],
            )
            .await;
            page.visible("[data-testid=two-factor-on]").await;
            page.visible("[data-testid=two-factor-disable]").await;
            assert!(!page.exists("[data-testid=two-factor-enable]:not([hidden])").await);
            assert_eq!(session_user(&page, &server).await["twoFactor"], json!(true));
            // As the page is served from now on.
            page.goto("/account").await;
            page.visible("[data-testid=two-factor-on]").await;

            // Signing in: the password, then the code step.
            page.sign_out().await;
            submit_password(&page, "bob", "bob-password").await;
            page.visible("[data-testid=sign-in-code-step]").await;
            page.wait_text(
                "[data-testid=sign-in-code-label]",
                "Enter the 6-digit code from your authenticator app",
            )
            .await;
            page.wait_text("[data-testid=sign-in-code-intro]", "bob").await;
            assert_eq!(page.focused_id().await, "sign-in-code");
            assert_eq!(
                page.attr("#sign-in-code", "inputmode").await.as_deref(),
                Some("numeric")
            );
            assert_eq!(
                page.attr("#sign-in-code", "autocomplete").await.as_deref(),
                Some("one-time-code")
            );
            assert!(
                !page.exists("#sign-in-credentials:not([hidden])").await,
                "the username and password are hidden"
            );
            // Back starts again; the password is asked for anew.
            page.click("[data-testid=sign-in-back]").await;
            page.visible("#username").await;
            assert_eq!(page.value("#username").await, "bob");
            assert!(page.value("#password").await.is_empty());
            assert!(!page.exists("[data-testid=sign-in-code-step]:not([hidden])").await);
            submit_password(&page, "bob", "bob-password").await;
            page.visible("[data-testid=sign-in-code]").await;

            // A wrong code: said, and the code step stays.
            page.fill("[data-testid=sign-in-code]", &wrong_code(&secret, enabled_step))
                .await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_text("[data-testid=sign-in-error]", "That code is not right")
                .await;
            assert_eq!(page.path().await, "/login");
            page.visible("[data-testid=sign-in-code-step]").await;
            assert_eq!(page.focused_id().await, "sign-in-code");

            // The code of the step just used is spent; the next step's code (allowed for
            // clock drift) signs in, typed with a space as apps show it.
            let next = totp_code(&secret, enabled_step + 1);
            page.fill(
                "[data-testid=sign-in-code]",
                &format!("{} {}", &next[..3], &next[3..]),
            )
            .await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/").await;
            page.wait_text("[data-testid=signed-in-as]", "Signed in as bob")
                .await;

            // A recovery code instead, in capitals and without its hyphen: it works once.
            page.sign_out().await;
            submit_password(&page, "bob", "bob-password").await;
            page.click("[data-testid=sign-in-use-recovery]").await;
            page.wait_text(
                "[data-testid=sign-in-code-label]",
                "Enter one of your recovery codes",
            )
            .await;
            assert_eq!(
                page.attr("#sign-in-code", "inputmode").await.as_deref(),
                Some("text")
            );
            assert_eq!(page.focused_id().await, "sign-in-code");
            page.fill(
                "[data-testid=sign-in-code]",
                &codes[0].replace('-', "").to_uppercase(),
            )
            .await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/").await;
            // Without a code the password is not enough (and that counts as no failure).
            assert_eq!(http_sign_in(&server, "bob", "bob-password").await, 401);
            assert_eq!(
                http_sign_in_with_code(&server, "bob", "bob-password", &codes[0]).await,
                401,
                "a recovery code works once"
            );
            let reused_at = std::time::Instant::now();

            // Turning it off needs the password and a code; a wrong code is said in the dialog.
            page.goto("/account").await;
            page.click("[data-testid=two-factor-disable]").await;
            page.wait_dialog_open("two-factor-off-dialog").await;
            assert_eq!(page.focused_id().await, "two-factor-off-password");
            page.fill("#two-factor-off-password", "bob-password").await;
            // Past the throttle's wait after this address's second failure: 1 second.
            let throttled = std::time::Duration::from_millis(1200);
            if let Some(left) = throttled.checked_sub(reused_at.elapsed()) {
                tokio::time::sleep(left).await;
            }
            page.fill(
                "#two-factor-off-code",
                &wrong_code(&secret, enabled_step + 1),
            )
            .await;
            page.click("#two-factor-off-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_text(
                "#two-factor-off-dialog [data-testid=dialog-error]",
                "That code is not right",
            )
            .await;
            let refused_at = std::time::Instant::now();
            assert_eq!(page.focused_id().await, "two-factor-off-code");
            // A code newer than the one signed in with: the app's next one, once the step
            // after the one used for turning it on has begun (the wait is at most 30 s).
            while totp_step() <= enabled_step {
                assert!(refused_at.elapsed().as_secs() < 35, "the clock stands still");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            // And past the throttle's wait after this address's third failure (the wrong
            // code at sign-in, the spent recovery code, this one): 3 seconds.
            let throttled = std::time::Duration::from_millis(3200);
            if let Some(left) = throttled.checked_sub(refused_at.elapsed()) {
                tokio::time::sleep(left).await;
            }
            page.fill("#two-factor-off-code", &totp_code(&secret, totp_step() + 1))
                .await;
            page.click("#two-factor-off-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("two-factor-off-dialog").await;
            page.wait_text("[data-testid=toast]", "Two-factor sign-in is off.")
                .await;
            page.visible("[data-testid=two-factor-off]").await;
            page.visible("[data-testid=two-factor-enable]").await;
            assert_eq!(page.focused_id().await, "two-factor-enable");
            assert_eq!(session_user(&page, &server).await["twoFactor"], json!(false));
            assert_eq!(http_sign_in(&server, "bob", "bob-password").await, 200);
        },
    )
    .await;
}

/// Turns two-factor sign-in on for `user` over plain HTTP (as the API allows); the secret
/// and the TOTP step whose code confirmed it.
async fn http_turn_on_two_factor(server: &Server, user: &str, password: &str) -> (String, u64) {
    let cookie = common::sign_in(server, user, password).await;
    let started: serde_json::Value = http()
        .post(server.url("/account/2fa"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("set-up request")
        .json()
        .await
        .expect("a JSON answer");
    let secret = started["secret"].as_str().expect("the secret").to_owned();
    let step = totp_step();
    let confirmed = http()
        .post(server.url("/account/2fa/confirm"))
        .header("cookie", &cookie)
        .json(&json!({ "code": totp_code(&secret, step) }))
        .send()
        .await
        .expect("confirm request");
    assert_eq!(confirmed.status(), 200, "two-factor sign-in turned on");
    (secret, step)
}

#[tokio::test]
async fn wrong_codes_at_the_sign_in_code_step_are_throttled_and_the_wait_is_shown() {
    with_browser(
        "wrong_codes_at_the_sign_in_code_step_are_throttled_and_the_wait_is_shown",
        |client| async move {
            let home = Home::new();
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let (secret, step) = http_turn_on_two_factor(&server, "bob", "bob-password").await;
            let page = Page::new(client, &server.base);
            page.goto("/login").await;
            submit_password(&page, "bob", "bob-password").await;
            page.visible("[data-testid=sign-in-code]").await;

            // Wrong codes, one after another, until the throttle answers (429): the
            // schedule waits 1 second after the second failure, so the third is refused
            // unchecked (a fourth is allowed only for a machine too slow to send the third
            // within that second; it meets a 3-second wait).
            let wrong = wrong_code(&secret, step);
            let mut answers: Vec<String> = Vec::new();
            while answers.len() < 4 {
                // The box emptied first, so that what it shows next is this answer.
                page.eval(
                    "const box = document.querySelector('[data-testid=sign-in-error]');
                     box.textContent = ''; box.hidden = true;",
                    vec![],
                )
                .await;
                page.fill("[data-testid=sign-in-code]", &wrong).await;
                page.click("[data-testid=sign-in-submit]").await;
                let shown = page
                    .wait_until(
                        "the answer to a wrong code",
                        "const box = document.querySelector('[data-testid=sign-in-error]');
                         return !box.hidden && box.textContent ? box.textContent : null;",
                        vec![],
                    )
                    .await;
                let shown = shown.as_str().unwrap_or_default().to_owned();
                let throttled = shown.contains("Try again in");
                answers.push(shown);
                if throttled {
                    break;
                }
            }
            let (waited, refused) = answers.split_at(answers.len() - 1);
            assert!(
                waited.len() >= 2,
                "throttled before two failures: {answers:?}"
            );
            for answer in waited {
                assert_eq!(
                    answer, "That code is not right: enter the one your app shows now.",
                    "{answers:?}"
                );
            }
            // What the page's throttled() shows: the account's reason and the wait.
            let waits: &[&str] = if waited.len() == 2 {
                &["1 second"]
            } else {
                &["1 second", "2 seconds", "3 seconds"]
            };
            let expected: Vec<String> = waits
                .iter()
                .map(|wait| {
                    format!("Too many failed sign-ins for this account. Try again in {wait}.")
                })
                .collect();
            assert!(expected.contains(&refused[0]), "{answers:?}");
            // While it waits, the button waits too, and the code step stays.
            assert_eq!(
                page.attr("[data-testid=sign-in-submit]", "disabled")
                    .await
                    .as_deref(),
                Some("")
            );
            page.visible("[data-testid=sign-in-code-step]").await;
            assert_eq!(page.path().await, "/login");

            // The wait counted down, the message goes and the button is back.
            page.wait_until(
                "the wait to end",
                "const box = document.querySelector('[data-testid=sign-in-error]');
                 const button = document.querySelector('[data-testid=sign-in-submit]');
                 return box.hidden && !button.disabled;",
                vec![],
            )
            .await;
            // Each wrong code was counted and audited; the refusal checked nothing.
            let audit = std::fs::read_to_string(home.path().join("credentials/audit.log"))
                .expect("the audit log");
            let count = |event: &str| {
                audit
                    .lines()
                    .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a record"))
                    .filter(|record| record["event"] == event)
                    .count()
            };
            assert_eq!(count("2fa_failed"), waited.len(), "{audit}");
            assert_eq!(count("sign_in_throttled"), 1, "{audit}");

            // The right code now signs in (the next step's: the confirmation spent this one).
            page.fill("[data-testid=sign-in-code]", &totp_code(&secret, step + 1))
                .await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/").await;
            page.wait_text("[data-testid=signed-in-as]", "Signed in as bob")
                .await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_reset_link_made_in_manage_users_sets_a_new_password_once() {
    with_browser(
        "a_reset_link_made_in_manage_users_sets_a_new_password_once",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;

            // Made from bob's row: shown once, whole, with Copy, for 30 minutes.
            page.click(&format!("{} button[data-action=reset-link]", row("bob")))
                .await;
            page.wait_dialog_open("reset-link-dialog").await;
            page.wait_text("#reset-link-dialog", "Reset Link for bob")
                .await;
            page.wait_text("[data-testid=reset-link-lifetime]", "30 minutes")
                .await;
            let link = page
                .wait_until(
                    "the link",
                    "return document.querySelector('[data-testid=reset-link-value]').value;",
                    vec![],
                )
                .await
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let prefix = format!("{}/reset#", server.base);
            let token = link
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{link} is not {prefix}TOKEN"));
            assert_eq!(token.len(), 43, "{token}");
            assert_eq!(page.focused_id().await, "copy-reset-link");
            page.click("[data-testid=copy-reset-link]").await;
            page.wait_until(
                "the link to be copied or selected",
                "const toast = document.getElementById('toast');
                 const hint = document.querySelector('[data-testid=reset-link-copy-hint]');
                 const input = document.querySelector('[data-testid=reset-link-value]');
                 if (!toast.hidden && toast.textContent.includes('copied')) return 'copied';
                 return !hint.hidden && document.activeElement === input
                     && input.selectionEnd === input.value.length;",
                vec![],
            )
            .await;
            page.click("#reset-link-dialog .modal-actions [data-close]")
                .await;
            page.wait_dialog_closed("reset-link-dialog").await;
            assert_eq!(
                page.value("[data-testid=reset-link-value]").await,
                "",
                "shown once"
            );
            let leaked = page
                .eval(
                    "return document.documentElement.outerHTML.includes(arguments[0]);",
                    vec![json!(token)],
                )
                .await;
            assert_eq!(leaked, json!(false));

            // A locked account gets no link: the refusal is said.
            let locked = home.run(&["--lockuser", "bob", "--reason", "On leave"], "");
            assert!(locked.status.success(), "{locked:?}");
            page.goto("/admin").await;
            page.click(&format!("{} button[data-action=reset-link]", row("bob")))
                .await;
            page.wait_text(
                "[data-testid=toast]",
                "unlock the account before making a reset link",
            )
            .await;
            assert!(!page.dialog_open("reset-link-dialog").await);
            let unlocked = home.run(&["--unlockuser", "bob"], "");
            assert!(unlocked.status.success(), "{unlocked:?}");

            // Whoever opens the link (here, this browser signed out) chooses the password.
            page.sign_out().await;
            page.goto(&link[server.base.len()..]).await;
            page.visible("[data-testid=reset-form]").await;
            assert_eq!(page.focused_id().await, "reset-new-password");
            page.wait_text("[data-testid=password-rule]", "At least 8 characters.")
                .await;
            page.fill("#reset-new-password", "bob-new-password").await;
            page.fill("#reset-confirm-password", "bob-new-passwork")
                .await;
            page.click("[data-testid=reset-submit]").await;
            page.wait_text("[data-testid=reset-error]", "do not match")
                .await;
            assert_eq!(page.focused_id().await, "reset-confirm-password");
            page.fill("#reset-new-password", "short").await;
            page.fill("#reset-confirm-password", "short").await;
            page.click("[data-testid=reset-submit]").await;
            page.wait_text("[data-testid=reset-error]", "8").await;
            assert_eq!(page.focused_id().await, "reset-new-password");
            page.fill("#reset-new-password", "bob-new-password").await;
            page.fill("#reset-confirm-password", "bob-new-password")
                .await;
            page.click("[data-testid=reset-submit]").await;
            page.wait_text("[data-testid=reset-done]", "Your password is set.")
                .await;
            page.wait_text("[data-testid=reset-done]", "Sign in as bob")
                .await;
            assert!(!page.exists("[data-testid=reset-form]:not([hidden])").await);
            // The token is gone from the address bar.
            assert_eq!(
                page.eval("return window.location.hash;", vec![]).await,
                json!("")
            );
            assert_eq!(page.path().await, "/reset");

            // Sign In, with the name filled in.
            page.click("[data-testid=reset-sign-in]").await;
            page.wait_path("/login").await;
            page.wait_text("[data-testid=sign-in-notice]", "Your password is set")
                .await;
            assert_eq!(page.value("#username").await, "bob");
            assert_eq!(page.focused_id().await, "password");
            page.fill("#password", "bob-new-password").await;
            page.click("[data-testid=sign-in-submit]").await;
            page.wait_path("/").await;
            page.wait_text("[data-testid=signed-in-as]", "Signed in as bob")
                .await;
            assert_eq!(http_sign_in(&server, "bob", "bob-new-password").await, 200);
            assert_eq!(http_sign_in(&server, "bob", "bob-password").await, 401);

            // The link works once: opened again, it is refused, said, and the form goes.
            page.goto(&link[server.base.len()..]).await;
            page.fill("#reset-new-password", "bob-third-password").await;
            page.fill("#reset-confirm-password", "bob-third-password")
                .await;
            page.click("[data-testid=reset-submit]").await;
            page.wait_text(
                "[data-testid=reset-refused]",
                "This reset link does not work",
            )
            .await;
            assert!(!page.exists("[data-testid=reset-form]:not([hidden])").await);
            page.visible("[data-testid=reset-to-sign-in]").await;
            assert_eq!(
                page.eval("return window.location.hash;", vec![]).await,
                json!("")
            );

            // A link without its token says so.
            page.goto("/reset").await;
            page.wait_text(
                "[data-testid=reset-no-token]",
                "the code after the # is missing",
            )
            .await;
            assert!(!page.exists("[data-testid=reset-form]:not([hidden])").await);
        },
    )
    .await;
}

#[tokio::test]
async fn a_user_created_by_an_admin_chooses_their_own_password_first() {
    with_browser(
        "a_user_created_by_an_admin_chooses_their_own_password_first",
        |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            let server = Server::start(&home, &[]);
            let page = Page::new(client, &server.base);
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;
            page.click("[data-testid=create-user]").await;
            page.fill("#new-username", "carol").await;
            page.fill("#new-user-password", "given-password").await;
            page.fill("#new-user-confirm", "given-password").await;
            page.click("#create-user-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("create-user-dialog").await;
            page.wait_text(
                &format!("{} [data-testid=must-change-password]", row("carol")),
                "Must change password",
            )
            .await;
            page.sign_out().await;

            // Signing in with the given password: "Choose your password", in place.
            page.goto("/login?next=/account").await;
            submit_password(&page, "carol", "given-password").await;
            page.visible("[data-testid=choose-password]").await;
            page.wait_text("[data-testid=choose-password-user]", "carol")
                .await;
            assert_eq!(page.path().await, "/login?next=/account");
            assert_eq!(page.focused_id().await, "choose-new-password");
            assert!(!page.exists("#sign-in-step:not([hidden])").await);
            assert!(
                !page.exists("#choose-current:not([hidden])").await,
                "the password just typed is not asked again"
            );
            assert_eq!(
                page.value("#choose-current-password").await,
                "given-password"
            );
            assert_eq!(
                session_user(&page, &server).await["mustChangePassword"],
                json!(true)
            );

            // Until then, every page leads back to the form (now a page of its own).
            page.goto("/account").await;
            page.wait_path("/login?next=/account").await;
            page.visible("[data-testid=choose-password-form]").await;
            page.visible("#choose-current-password").await;
            assert!(!page.exists("[data-testid=user-menu]").await);
            let refused = http()
                .get(server.url("/account/keys"))
                .header("cookie", browser_cookie(&page).await)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 403);

            // The given password again is not a choice; a wrong current one is said.
            page.fill("#choose-current-password", "given-password")
                .await;
            page.fill("#choose-new-password", "given-password").await;
            page.fill("#choose-confirm-password", "given-password")
                .await;
            page.click("[data-testid=choose-password-submit]").await;
            page.wait_text(
                "[data-testid=choose-password-error]",
                "Choose a password of your own",
            )
            .await;
            assert_eq!(page.focused_id().await, "choose-new-password");
            page.fill("#choose-current-password", "not-what-was-given")
                .await;
            page.fill("#choose-new-password", "carols-own-password")
                .await;
            page.fill("#choose-confirm-password", "carols-own-password")
                .await;
            page.click("[data-testid=choose-password-submit]").await;
            page.wait_text("[data-testid=choose-password-error]", "incorrect")
                .await;
            assert_eq!(page.focused_id().await, "choose-current-password");

            // Chosen: on to the page that was wanted, signed in.
            page.fill("#choose-current-password", "given-password")
                .await;
            page.click("[data-testid=choose-password-submit]").await;
            page.wait_path("/account").await;
            page.wait_text("[data-testid=account-username]", "carol")
                .await;
            assert!(session_user(&page, &server)
                .await
                .get("mustChangePassword")
                .is_none());
            assert_eq!(
                http_sign_in(&server, "carol", "carols-own-password").await,
                200
            );
            page.goto("/login").await;
            page.wait_path("/").await;

            // Sign out is offered on the form too.
            page.sign_out().await;
            page.sign_in("/login?next=/admin", "admin", "admin-password", "/admin")
                .await;
            assert!(
                !page
                    .exists(&format!(
                        "{} [data-testid=must-change-password]",
                        row("carol")
                    ))
                    .await
            );
            page.click(&format!("{} button[data-action=password]", row("carol")))
                .await;
            page.fill("#reset-password", "another-given").await;
            page.fill("#reset-confirm", "another-given").await;
            page.click("#password-dialog [data-testid=dialog-submit]")
                .await;
            page.wait_dialog_closed("password-dialog").await;
            page.visible(&format!(
                "{} [data-testid=must-change-password]",
                row("carol")
            ))
            .await;
            page.sign_out().await;
            submit_password(&page, "carol", "another-given").await;
            page.visible("[data-testid=choose-password]").await;
            let cookie = browser_cookie(&page).await;
            page.click("[data-testid=choose-password-sign-out]").await;
            page.wait_path("/login").await;
            page.visible("#sign-in-step").await;
            let status = http()
                .get(server.url("/auth"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 401, "signed out");
            // The passwords she was given work no more.
            assert_eq!(http_sign_in(&server, "carol", "given-password").await, 401);
        },
    )
    .await;
}

#[tokio::test]
async fn a_session_signed_out_from_another_browser_is_signed_out_at_its_next_click() {
    with_browser(
        "a_session_signed_out_from_another_browser_is_signed_out_at_its_next_click",
        |client| async move {
            let home = Home::new();
            home.add_user("bob", "bob-password");
            let server = Server::start(&home, &[]);
            // Two browsers of one person: cookies belong to a host, so the server reached
            // as `localhost` and as `127.0.0.1` keeps two sessions apart, each in its own
            // tab.
            let laptop_base = server.base.replace("127.0.0.1", "localhost");
            let laptop = Page::new(client.clone(), &laptop_base);
            laptop
                .sign_in("/login?next=/account", "bob", "bob-password", "/account")
                .await;
            let laptop_tab = client.window().await.unwrap();
            let desk_tab = client.new_window(true).await.unwrap().handle;
            let desk_tab_again = desk_tab.clone();
            client.switch_to_window(desk_tab).await.unwrap();
            let desk = Page::new(client.clone(), &server.base);
            desk.sign_in("/login?next=/account", "bob", "bob-password", "/account")
                .await;
            assert_eq!(listed_sessions(&desk).await, 2);
            // The laptop's My Account, open since before, lists both too.
            client.switch_to_window(laptop_tab.clone()).await.unwrap();
            laptop.goto("/account").await;
            assert_eq!(listed_sessions(&laptop).await, 2);
            client
                .switch_to_window(desk_tab_again.clone())
                .await
                .unwrap();

            // The desk signs the laptop out.
            desk.eval(
                "[...document.querySelectorAll('[data-testid=session-item]')]\
                 .find(li => !li.querySelector('[data-testid=this-device]'))\
                 .querySelector('[data-testid=sign-out-session]').click();",
                vec![],
            )
            .await;
            desk.wait_until(
                "the laptop's session gone from the list",
                "return document.querySelectorAll('[data-testid=session-item]').length === 1;",
                vec![],
            )
            .await;

            // The laptop's page is still open, from before; its next click finds the
            // session over and leads to signing in.
            client.switch_to_window(laptop_tab).await.unwrap();
            assert_eq!(laptop.path().await, "/account");
            assert_eq!(listed_sessions(&laptop).await, 2, "the page as it was");
            laptop.click("[data-testid=revoke-other-sessions]").await;
            laptop.wait_path("/login?next=%2Faccount").await;
            // And it stays signed out: a page asks for signing in.
            laptop.goto("/account").await;
            laptop.wait_path("/login?next=/account").await;
            // The desk is still signed in.
            client.switch_to_window(desk_tab_again).await.unwrap();
            desk.goto("/account").await;
            desk.wait_path("/account").await;
        },
    )
    .await;
}

#[tokio::test]
async fn single_sign_on_through_a_real_issuers_pages_beside_the_password_form() {
    // The issuer must know the callback before it starts, and the server needs the issuer
    // to start: a free port is chosen first.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let callback = format!("http://127.0.0.1:{port}/auth/oidc/callback");
    let Some(issuer) =
        common::oidc::OidcIssuer::start("llms-browser", "browser-secret", &[&callback])
    else {
        return;
    };
    with_browser(
        "single_sign_on_through_a_real_issuers_pages_beside_the_password_form",
        move |client| async move {
            let home = Home::new();
            home.add_user("admin", "admin-password");
            let mut cmd = home.llms();
            cmd.args(["--serve", &port.to_string(), "--host", "127.0.0.1"])
                .args(["--auth", "credentials,oidc"])
                .envs([
                    ("OIDC_ISSUER", issuer.issuer.as_str()),
                    ("OIDC_CLIENT_ID", "llms-browser"),
                    ("OIDC_CLIENT_SECRET", "browser-secret"),
                    ("OIDC_ADMIN_GROUPS", "llms-admins"),
                    ("OIDC_NAME", "Test IdP"),
                ]);
            let server = Server::launch(cmd);
            let page = Page::new(client, &server.base);

            // The Sign In page offers both: the password form and the provider's button.
            page.goto("/login?next=/admin").await;
            page.visible("#sign-in-form").await;
            page.wait_text("[data-testid=oidc-sign-in]", "Sign in with Test IdP")
                .await;
            page.click("[data-testid=oidc-sign-in]").await;
            // The issuer's own sign-in page, then its consent page.
            page.visible(common::oidc::LOGIN_FIELD).await;
            page.fill(common::oidc::LOGIN_FIELD, "alice").await;
            page.fill(common::oidc::PASSWORD_FIELD, "pw-alice").await;
            page.click(common::oidc::SUBMIT_BUTTON).await;
            page.wait_until(
                "the consent page",
                "return location.pathname.startsWith('/interaction/') && !document.querySelector('input[name=login]');",
                vec![],
            )
            .await;
            page.click(common::oidc::SUBMIT_BUTTON).await;
            // Back, signed in, on the page asked for: alice's groups make her an Admin.
            page.wait_until(
                "back at Manage Users",
                "return location.href.startsWith(arguments[0]) && location.pathname === '/admin';",
                vec![json!(server.base)],
            )
            .await;
            page.wait_text("[data-testid=user-menu] summary", "alice")
                .await;
            // Manage Users lists her beside the password account, with the provider's badge.
            page.wait_text(&row("alice"), "Test IdP").await;
            page.visible(&row("admin")).await;
            page.sign_out().await;
            page.wait_path("/login").await;
        },
    )
    .await;
}
