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
//! snapshot; and every page's state equals a fresh `GET /snapshot`,
//! exactly. The name form and the remote fit their window (no sideways
//! scrolling) at 1280×720, 1366×768, 1920×1080, 3840×2160 and a 390×844
//! phone; the page has an icon, and no page logs an error or a failed
//! request but the TV's refusals (409). Screenshots go to
//! `<target dir>/browser/remote-*.png`.
//!
//! Without `node`, `/usr/bin/chromium` or `browser/node_modules` the test
//! passes with `SKIPPED: …`, unless `REX_REQUIRE_BROWSER=1`.

use std::time::Duration;

use rex::Server;
use rex_examples::remote::{tracks, web, PlayerView, RemoteApp, RemoteClient};
use rex_tests::browser;
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

    // A typed Rust remote next to the phones; the script asks it to act:
    // `POST /queue?track=N` queues track N as "rust".
    let rust = RemoteClient::builder(url.as_str())
        .name("rust")
        .connect()
        .await
        .unwrap();
    let (control, control_task) = browser::control_server(move |request: String| {
        let rust = rust.clone();
        async move {
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
    ] {
        let _ = std::fs::remove_file(shots.join(old));
    }
    let env = vec![
        ("REX_URL", url.clone()),
        ("REX_CONTROL_URL", format!("http://{control}")),
        ("REX_SHOTS", shots.display().to_string()),
        ("REX_CHROMIUM", browser::CHROMIUM.to_owned()),
    ];
    let run = browser::run_node("remote.mjs", env, NODE_LIMIT).await;
    control_task.abort();
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
