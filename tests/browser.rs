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
            assert!(page.dialog_open("create-user-dialog").await);
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
            assert!(page.dialog_open("account-password-dialog").await);
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
