//! Static files over real TCP: the JavaScript client every server ships,
//! and an app's own pages, with ETag revalidation.

use rex::{Assets, Server};
use rex_tests::{start_test_app, TestApp, TestServer};

const CLIENT_JS: &str = include_str!("../rex/src/server/js/client.js");
const CLIENT_DTS: &str = include_str!("../rex/src/server/js/client.d.ts");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_serves_the_javascript_client_and_its_types() {
    let server = start_test_app().await;
    let http = server.client();
    let js = http.get("/rex/v0/client.js").send().await;
    assert_eq!(js.status, 200);
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(js.body, CLIENT_JS.as_bytes());
    let dts = http.get("/rex/v0/client.d.ts").send().await;
    assert_eq!(dts.status, 200);
    assert_eq!(dts.body, CLIENT_DTS.as_bytes());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_pages_are_served_with_etags_and_only_for_get_and_head() {
    let assets = Assets::new()
        .file("/", b"<!doctype html><title>TV</title>")
        .file("/tv.js", b"console.log('tv')");
    let server = TestServer::start(Server::builder(TestApp::default()).assets(assets)).await;
    let http = server.client();
    let page = http.get("/").send().await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers["cache-control"], "no-cache");
    assert_eq!(&page.body[..], b"<!doctype html><title>TV</title>");
    let etag = page.headers["etag"].to_str().unwrap().to_owned();

    let again = http.get("/").header("if-none-match", &etag).send().await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let stale = http
        .get("/")
        .header("if-none-match", "\"other\"")
        .send()
        .await;
    assert_eq!(stale.status, 200);

    let script = http.get("/tv.js").send().await;
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_ne!(script.headers["etag"].to_str().unwrap(), etag);

    let head = http.request(http::Method::HEAD, "/").send().await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let post = http.post("/").send().await;
    post.assert_error(405, "method_not_allowed");
    assert_eq!(post.headers["allow"], "GET, HEAD");
    http.get("/play")
        .send()
        .await
        .assert_error(404, "not_found");
    // The protocol is unaffected.
    assert_eq!(http.info().await["head"], 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asset_paths_under_rex_are_refused_at_bind() {
    let assets = Assets::new().file("/rex/v0/info", b"{}");
    let err = Server::builder(TestApp::default())
        .assets(assets)
        .bind("127.0.0.1:0")
        .await
        .err()
        .expect("binding must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("/rex/v0/info"), "{err}");
}
