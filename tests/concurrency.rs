//! Real concurrency over real TCP: many readers and writers at once, and
//! readers that drop their connection mid-stream and resume.

use std::collections::BTreeSet;
use std::time::Duration;

use rex::{Rate, Server};
use rex_tests::app::TestEvent;
use rex_tests::{index, Http, Line, Stream, TestApp, TestServer};
use serde_json::{json, Value};
use tokio::task::JoinSet;

const READERS: usize = 200;
const AUTHENTICATED_READERS: usize = 40;
const WRITERS: usize = 20;
const MESSAGES_PER_WRITER: usize = 25;

/// Reads a stream until the public `tick` tagged `end`.
async fn read_until_end(mut stream: Stream) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = stream.next_event().await;
        let end = event["kind"] == "tick" && event["data"]["tag"] == "end";
        events.push(event);
        if end {
            return events;
        }
    }
}

fn indexes(events: &[Value]) -> Vec<u64> {
    events.iter().map(index).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_readers_twenty_writers_see_one_gap_free_order() {
    // Every reader and writer connects from 127.0.0.1: far more than one
    // phone's worth, so this load test raises the per-address cap.
    let server = TestServer::start(
        Server::builder(TestApp::default())
            .max_connections_per_address(2 * (READERS + AUTHENTICATED_READERS + WRITERS)),
    )
    .await;
    let http = server.client();

    let mut reader_sessions = Vec::new();
    for i in 0..AUTHENTICATED_READERS {
        reader_sessions.push(http.session(&format!("reader-{i}")).await);
    }
    let mut writer_sessions = Vec::new();
    for i in 0..WRITERS {
        writer_sessions.push(http.session(&format!("writer-{i}")).await);
    }

    // Open every stream before writing so they all follow live.
    let mut readers = JoinSet::new();
    for i in 0..READERS {
        let token = reader_sessions.get(i).map(|s| s.token.expose().to_owned());
        let stream = http.events("start=0", token.as_deref()).await;
        readers.spawn(async move { (i, read_until_end(stream).await) });
    }

    // Writers interleave public ticks and private secrets to readers.
    let targets: Vec<_> = reader_sessions.iter().map(|s| s.session).collect();
    let mut writers = JoinSet::new();
    for (w, writer) in writer_sessions.iter().enumerate() {
        let token = writer.token.expose().to_owned();
        let targets = targets.clone();
        writers.spawn(async move {
            for m in 0..MESSAGES_PER_WRITER {
                let body = if m % 2 == 0 {
                    json!({"kind": "tag", "data": {"tag": format!("w{w}-m{m}")}, "id": m})
                } else {
                    let to = targets[(w * MESSAGES_PER_WRITER + m) % targets.len()];
                    json!({"kind": "secret", "data": {"to": [to], "text": format!("w{w}-m{m}")}, "id": m})
                };
                let reply = http.message(&token, &body).await;
                assert_eq!(reply.status, 200, "{:?}", reply.body);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let end = server
        .handle
        .emit(TestEvent::Tick { tag: "end".into() })
        .await
        .unwrap();

    let mut views = vec![Vec::new(); READERS];
    while let Some(done) = readers.join_next().await {
        let (i, events) = done.unwrap();
        views[i] = events;
    }

    // Anonymous readers: all identical, byte for byte, and public only.
    let public = &views[AUTHENTICATED_READERS];
    for view in &views[AUTHENTICATED_READERS..] {
        assert_eq!(view, public);
    }
    assert!(public.iter().all(|e| e.get("to").is_none()));
    let expected_public =
        (AUTHENTICATED_READERS + WRITERS) + WRITERS * MESSAGES_PER_WRITER.div_ceil(2) + 1;
    assert_eq!(public.len(), expected_public);

    // Authenticated readers: the public sequence plus exactly the private
    // events addressed to them, in index order, each once.
    let mut seen = BTreeSet::new();
    for (i, view) in views.iter().enumerate() {
        let idx = indexes(view);
        assert!(
            idx.windows(2).all(|w| w[0] < w[1]),
            "reader {i} out of order or repeated"
        );
        seen.extend(idx.iter().copied());
        let (private, public_part): (Vec<_>, Vec<_>) =
            view.iter().cloned().partition(|e| e.get("to").is_some());
        assert_eq!(&public_part, public, "reader {i} public part");
        if i < AUTHENTICATED_READERS {
            let me = json!(targets[i]);
            assert!(private
                .iter()
                .all(|e| e["to"].as_array().unwrap().contains(&me)));
        } else {
            assert!(private.is_empty());
        }
    }
    // Every secret went to someone, so together the readers saw 0..=end.
    assert_eq!(seen, (0..=end).collect::<BTreeSet<_>>());
    let private_total: usize = views[..AUTHENTICATED_READERS]
        .iter()
        .map(|v| v.len() - public.len())
        .sum();
    assert_eq!(private_total, WRITERS * (MESSAGES_PER_WRITER / 2));
    server.stop().await;
}

/// Reads exactly `n` events, skipping heartbeats.
async fn read_some(stream: &mut Stream, n: usize) -> Vec<Value> {
    let mut events = Vec::new();
    while events.len() < n {
        match stream.next_line(Duration::from_secs(10)).await {
            Line::Event(e) => events.push(e),
            Line::Heartbeat => {}
            other => panic!("stream stopped early: {other:?}"),
        }
    }
    events
}

async fn write_ticks(http: Http, token: String, n: usize) {
    for m in 0..n {
        let reply = http
            .message(
                &token,
                &json!({"kind": "tag", "data": {"tag": format!("t{m}")}}),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_that_drop_mid_stream_resume_exactly_once() {
    // The writer sends 300 messages as fast as it can, far past the default
    // message rate of one session: this test is about resuming, not limits.
    let builder = Server::builder(TestApp::default()).message_rate(Rate::unlimited());
    let server = TestServer::start(builder).await;
    let http = server.client();
    let writer = http.session("writer").await;
    let total_ticks = 300;
    let writing = tokio::spawn(write_ticks(
        http,
        writer.token.expose().to_owned(),
        total_ticks,
    ));

    // NDJSON reader: cut every 17 events and resume with start = last + 1.
    let ndjson = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut next = 0;
        while got.len() < total_ticks + 1 {
            let mut stream = http.events(&format!("start={next}"), None).await;
            let want = 17.min(total_ticks + 1 - got.len());
            let batch = read_some(&mut stream, want).await;
            drop(stream);
            next = index(batch.last().unwrap()) + 1;
            got.extend(batch);
        }
        got
    });

    // SSE reader: reconnect with Last-Event-ID, as EventSource does.
    let sse = tokio::spawn(async move {
        let mut got: Vec<u64> = Vec::new();
        while got.len() < total_ticks + 1 {
            let mut req = http
                .get("/rex/v0/events")
                .header("accept", "text/event-stream");
            if let Some(last) = got.last() {
                req = req.header("last-event-id", &last.to_string());
            }
            let mut stream = req.stream().await;
            for _ in 0..23 {
                if got.len() == total_ticks + 1 {
                    break;
                }
                let frame = stream.next_sse(Duration::from_secs(10)).await.unwrap();
                if frame == ":" {
                    continue;
                }
                let id = frame.lines().next().unwrap().strip_prefix("id: ").unwrap();
                got.push(id.parse().unwrap());
            }
        }
        got
    });

    writing.await.unwrap();
    let ndjson = ndjson.await.unwrap();
    let reference = http.visible_log(None).await;
    assert_eq!(ndjson, reference, "NDJSON reader after many resumes");
    let sse = sse.await.unwrap();
    assert_eq!(
        sse,
        (0..=total_ticks as u64).collect::<Vec<_>>(),
        "SSE reader"
    );
    server.stop().await;
}
