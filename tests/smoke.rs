//! The binary starts, signs a user in over real HTTP, and stops on SIGTERM.

mod common;

use common::{get_json, sign_in, Home, Server};

#[tokio::test]
async fn sign_in_over_real_http() {
    let home = Home::new();
    home.add_user("admin", "pw-admin");
    let mut server = Server::start(&home, &[]);
    let cookie = sign_in(&server, "admin", "pw-admin").await;
    let me = get_json(&server, "/auth", Some(&cookie)).await;
    assert_eq!(me["userName"], "admin");
    assert_eq!(me["roles"][0], "Admin");
    server.stop();
    assert!(!server.is_running());
}
