//! Server lifecycle over real TCP: graceful shutdown, retention cutting off
//! a reader that fell behind, and the app stopping with its server.

use std::time::Duration;

use rex::{AppStopped, Rate, Retention, Server};
use rex_tests::{index, start_test_app, Line, TestApp, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_streams_cleanly_and_finishes_messages_in_flight() {
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let app = TestApp {
        slow_started: Some(started_tx),
        ..TestApp::default()
    };
    let server = TestServer::start(Server::builder(app)).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let mut ndjson = http.events("start=0", None).await;
    let mut sse = http
        .get("/rex/v0/events")
        .header("accept", "text/event-stream")
        .stream()
        .await;
    assert_eq!(index(&ndjson.next_event().await), 0);
    let token = alice.token.expose().to_owned();
    let in_flight = tokio::spawn(async move {
        http.message(&token, &json!({"kind": "slow", "data": {"ms": 300}}))
            .await
    });
    started.recv().await.unwrap();
    let handle = server.handle.clone();
    server.stop().await;

    // The message that was being handled got its answer.
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"first": 1, "count": 1}));
    // Both streams delivered everything, then ended without an error.
    let rest = ndjson.read_to_end(Duration::from_secs(5)).await;
    assert_eq!(rest.iter().map(index).collect::<Vec<_>>(), [1]);
    let mut frames = Vec::new();
    loop {
        match sse.next_sse(Duration::from_secs(5)).await {
            Ok(frame) => frames.push(frame),
            Err(Line::End) => break,
            Err(other) => panic!("SSE stream did not end cleanly: {other:?}"),
        }
    }
    assert_eq!(frames.len(), 2);
    // Nothing listens any more, and the app has stopped.
    assert!(tokio::net::TcpStream::connect(http.addr).await.is_err());
    assert_eq!(handle.run(|app, _| app.counts).await, Err(AppStopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_unrun_server_stops_its_app() {
    let server = Server::builder(TestApp::default())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let handle = server.handle();
    assert_eq!(handle.run(|app, _| app.counts).await, Ok(0));
    drop(server);
    let stopped = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if handle.run(|_, _| ()).await == Err(AppStopped) {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        stopped.is_ok(),
        "the app kept running after its server was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_left_behind_by_retention_is_cut_off_then_told_gone() {
    // 300 messages as fast as possible: far past the default message rate,
    // which is not what this test is about.
    let builder = Server::builder(TestApp::default())
        .retention(Retention::max_events(5))
        .message_rate(Rate::unlimited());
    let server = TestServer::start(builder).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    // Open a stream and do not read it: the socket buffers fill up and the
    // server stops writing, while the log moves on and drops what it had.
    let mut stalled = http.events("start=0", None).await;
    let big = "x".repeat(32 * 1024);
    for i in 0..300 {
        let reply = http
            .message(
                alice.token.expose(),
                &json!({"kind": "tag", "data": {"tag": format!("{i}{big}")}}),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    // What it did get is a gap-free prefix, then the stream ends.
    let got = stalled.read_to_end(Duration::from_secs(10)).await;
    let idx: Vec<u64> = got.iter().map(index).collect();
    assert_eq!(idx, (0..idx.len() as u64).collect::<Vec<_>>());
    assert!(idx.len() < 301, "the reader should have been cut off");
    let next = idx.len();
    let reply = http
        .get(&format!("/rex/v0/events?start={next}"))
        .send()
        .await;
    reply.assert_error(410, "gone");
    assert_eq!(reply.json()["oldest"], 296);
    // A reader within the retained window still works.
    let mut fresh = http.events("start=296", None).await;
    assert_eq!(index(&fresh.next_event().await), 296);
    assert!(matches!(
        fresh.next_line(Duration::from_millis(100)).await,
        Line::Event(_)
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_calls_append_nothing_and_schedule_nothing() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let reply = http
        .message(alice.token.expose(), &json!({"kind": "emit_then_reject"}))
        .await;
    reply.assert_error(409, "rejected");
    assert_eq!(http.info().await["head"], 1);
    // A refused join creates no session and appends nothing either.
    let reply = http
        .post("/rex/v0/sessions")
        .json(&json!({"name": "nobody"}))
        .send()
        .await;
    assert_eq!(
        reply.assert_error(409, "rejected"),
        "this room does not admit nobody"
    );
    let info = http.info().await;
    assert_eq!(
        (info["head"].as_u64(), info["sessions"].as_u64()),
        (Some(1), Some(1))
    );
    server.stop().await;
}
