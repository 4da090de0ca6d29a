//! Protocol v0 point by point (docs/protocol.md §1–§5), over real TCP.

use rex_tests::start_test_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    assert_eq!(alice.next, 0);
    server.stop().await;
}
