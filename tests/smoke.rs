//! The binary starts, signs a user in over real HTTP, and stops on SIGTERM.

mod common;

use common::{http, sign_in, Home, Server};

#[tokio::test]
async fn sign_in_over_real_http() {
    let home = Home::new();
    home.add_user("admin", "pw-admin");
    let mut server = Server::start(&home, &[]);
    let cookie = sign_in(&server, "admin", "pw-admin").await;
    let me: serde_json::Value = http()
        .get(server.url("/auth"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "admin");
    assert_eq!(me["roles"][0], "Admin");
    server.stop();
    assert!(!server.is_running());
}
