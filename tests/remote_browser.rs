//! The browser remote in a real browser: headless Chromium
//! (`/usr/bin/chromium`) driven by `browser/remote.mjs` through
//! `playwright-core`, against a `RemoteApp` on 127.0.0.1 serving
//! `rex_examples::remote::web::assets`.
//!
//! Two phone pages (separate browser contexts) show the same player; one
//! plays, turns the volume up and skips, and the other follows; a typed
//! Rust remote (this test, at the script's request) and a phone queue
//! tracks, and both phones show the queue; a seek past the end shows the
//! TV's reason; a page opened late shows the state at once from the
//! snapshot; a phone that reaches the TV through a fault-injection proxy
//! says "reconnecting…" while the proxy refuses every connection and
//! "live" again once it lets them through (from the stream's connection
//! state, not by polling); and every page's state equals a fresh
//! `GET /snapshot`, exactly. The name form and the remote fit their window (no sideways
//! scrolling) at 1280×720, 1366×768, 1920×1080, 3840×2160 and a 390×844
//! phone; the page has an icon, and no page logs an error or a failed
//! request but the TV's refusals (409) and the proxy's refusals. Screenshots go to
//! `<target dir>/browser/remote-*.png`.
//!
//! Without `node`, `/usr/bin/chromium` or `browser/node_modules` the test
//! passes with `SKIPPED: …`, unless `REX_REQUIRE_BROWSER=1`.

use std::time::Duration;

use rex::Server;
use rex_examples::remote::{tracks, web, PlayerView, RemoteApp, RemoteClient};
use rex_tests::browser;
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;

/// How long the browser script may run in all.
const NODE_LIMIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_touch_remote_in_headless_chromium() {
    if browser::should_skip() {
        return;
    }
    // Paused at the start, so the script decides when it plays.
    let app = RemoteApp::new(tracks::bundled()).seed(11);
    let server = TestServer::start(
        Server::builder(app)
            .name("Living room")
            .assets(web::assets()),
    )
    .await;
    let url = format!("http://{}", server.addr);
    // One phone reaches the TV through this, which the script turns off
    // and on.
    let proxy = Proxy::start(server.addr).await;

    // A typed Rust remote next to the phones; the script asks it to act:
    // `POST /queue?track=N` queues track N as "rust". `POST /down` makes
    // the proxy close every connection, open or new, before a byte of the
    // TV's answer gets through; `POST /up` lets them through again.
    let rust = RemoteClient::builder(url.as_str())
        .name("rust")
        .connect()
        .await
        .unwrap();
    let switch = proxy.clone();
    let (control, control_task) = browser::control_server(move |request: String| {
        let rust = rust.clone();
        let proxy = switch.clone();
        async move {
            match request.as_str() {
                "POST /down" => {
                    proxy.cut_after_server_bytes(Some(0));
                    proxy.cut_all();
                    return (200, "{}".to_owned());
                }
                "POST /up" => {
                    proxy.cut_after_server_bytes(None);
                    return (200, "{}".to_owned());
                }
                _ => {}
            }
            let Some(track) = request
                .strip_prefix("POST /queue?track=")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                return (404, r#"{"error":"no such control"}"#.to_owned());
            };
            match rust.queue(track).await {
                Ok(receipt) => (200, format!(r#"{{"first":{}}}"#, receipt.first)),
                Err(e) => (
                    500,
                    serde_json::json!({ "error": e.to_string() }).to_string(),
                ),
            }
        }
    })
    .await;

    let shots = browser::shots_dir();
    for old in [
        "remote-phone.png",
        "remote-phone-refused.png",
        "remote-late.png",
        "remote-reconnecting.png",
    ] {
        let _ = std::fs::remove_file(shots.join(old));
    }
    let env = vec![
        ("REX_URL", url.clone()),
        ("REX_CUT_URL", format!("http://{}", proxy.addr())),
        ("REX_CONTROL_URL", format!("http://{control}")),
        ("REX_SHOTS", shots.display().to_string()),
        ("REX_CHROMIUM", browser::CHROMIUM.to_owned()),
    ];
    let run = browser::run_node("remote.mjs", env, NODE_LIMIT).await;
    control_task.abort();
    proxy.shutdown();
    run.assert_success("browser/remote.mjs", NODE_LIMIT);

    // What the pages agreed on is the TV's own state.
    let view: PlayerView = server
        .handle
        .run(|app, _| app.view().clone())
        .await
        .unwrap();
    assert_eq!(view.volume, 45, "two volume-ups and one down from 40");
    assert_eq!(view.track, 1);
    assert!(shots.join("remote-phone.png").exists());
    println!("screenshots in {}", shots.display());
    server.stop().await;
}
