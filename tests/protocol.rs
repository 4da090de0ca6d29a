//! Protocol v0 point by point (`docs/protocol.md` §1–§5), over real TCP.

use std::time::Duration;

use rex::{Server, SessionId};
use rex_tests::{index, start_test_app, Line, TestApp, TestServer};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

// §1 Sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_session_returns_id_token_epoch_next_and_app() {
    let server = start_test_app().await;
    let http = server.client();
    let info = http.info().await;
    let reply = http
        .post("/rex/v0/sessions")
        .json(&json!({"name": "Alice"}))
        .send()
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.headers["content-type"], "application/json");
    let body = reply.json();
    let session: SessionId = body["session"].as_str().unwrap().parse().unwrap();
    let token = body["token"].as_str().unwrap();
    assert!(
        token.len() >= 32,
        "token must carry ≥128 random bits: {token}"
    );
    assert_eq!(body["epoch"], info["epoch"]);
    assert_eq!(body["app"], "test");
    assert_eq!(body["next"], 0);
    // A reader starting at `next` sees the join hook's event for it.
    let mut stream = http.events("start=0", None).await;
    let joined = stream.next_event().await;
    assert_eq!(joined["kind"], "joined");
    assert_eq!(joined["data"]["session"], session.to_string());
    assert_eq!(joined["origin"], session.to_string());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_body_is_optional_and_next_counts_from_the_head() {
    let server = start_test_app().await;
    let http = server.client();
    // No body, but declared JSON, as every POST must be (§11).
    let first = http
        .post("/rex/v0/sessions")
        .header("content-type", "application/json")
        .send()
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(first.json()["next"], 0);
    let token = first.json()["token"].as_str().unwrap().to_owned();
    http.message(&token, &json!({"kind": "burst", "data": 3}))
        .await;
    let second = http.session("Bob").await;
    assert_eq!(second.next, 4, "1 joined + 3 ticks before it");
    let mut stream = http.events(&format!("start={}", second.next), None).await;
    let e = stream.next_event().await;
    assert_eq!((index(&e), e["kind"].as_str()), (4, Some("joined")));
    assert_eq!(e["data"]["session"], second.session.to_string());
    // Tokens are distinct secrets; the ids are distinct too.
    assert_ne!(first.json()["token"], json!(second.token.expose()));
    server.stop().await;
}

// §2 Messages

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_receipt_names_first_index_and_count() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let t = alice.token.expose();
    let reply = http.message(t, &json!({"kind": "burst", "data": 3})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"first": 1, "count": 3}));
    // No event: `first` is the head, `count` 0.
    let reply = http.message(t, &json!({"kind": "noop"})).await;
    assert_eq!(reply.json(), json!({"first": 4, "count": 0}));
    let reply = http
        .message(t, &json!({"kind": "tag", "data": {"tag": "x"}}))
        .await;
    assert_eq!(reply.json(), json!({"first": 4, "count": 1}));
    let events = http.visible_log(None).await;
    let kinds: Vec<_> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["joined", "tick", "tick", "tick", "tick"]);
    assert_eq!(events[4]["origin"], alice.session.to_string());
    assert_eq!(events[4]["data"]["tag"], "x");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_message_id_gets_first_outcome_and_is_handled_once() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let bob = http.session("Bob").await;
    let msg = json!({"kind": "count", "id": 7});
    let first = http.message(alice.token.expose(), &msg).await.json();
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 2}))
        .await;
    let again = http.message(alice.token.expose(), &msg).await.json();
    assert_eq!(first, again, "a retry gets the first receipt");
    // Ids are per session: Bob's id 7 is a different message.
    let bobs = http.message(bob.token.expose(), &msg).await.json();
    assert_ne!(bobs, first);
    let times = server.handle.run(|app, _| app.counts).await.unwrap();
    assert_eq!(times, 2, "Alice's message once, Bob's once");
    let counted: Vec<_> = http
        .visible_log(None)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "counted")
        .map(|e| e["data"]["times"].as_u64().unwrap())
        .collect();
    assert_eq!(counted, [1, 2]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_without_id_are_each_handled() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    for _ in 0..3 {
        http.message(alice.token.expose(), &json!({"kind": "count"}))
            .await;
    }
    assert_eq!(server.handle.run(|app, _| app.counts).await.unwrap(), 3);
    server.stop().await;
}

// §3 Events

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_stream_replays_then_follows_live() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 2}))
        .await;
    // No `start`: from 0.
    let mut stream = http.get("/rex/v0/events").stream().await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "application/x-ndjson");
    assert_eq!(
        stream.headers["rex-epoch"].to_str().unwrap(),
        http.info().await["epoch"]
    );
    for want in 0..3 {
        assert_eq!(index(&stream.next_event().await), want);
    }
    http.message(
        alice.token.expose(),
        &json!({"kind": "tag", "data": {"tag": "live"}}),
    )
    .await;
    let live = stream.next_event().await;
    assert_eq!(index(&live), 3);
    assert_eq!(live["data"]["tag"], "live");
    assert!(live["time"].as_u64().is_some());
    assert!(live.get("to").is_none(), "public events carry no `to`");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_start_gets_the_rest_exactly_once() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 5}))
        .await;
    let mut first = http.events("start=0", None).await;
    let mut last = 0;
    for _ in 0..3 {
        last = index(&first.next_event().await);
    }
    drop(first); // the connection drops mid-stream
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 2}))
        .await;
    let mut resumed = http.events(&format!("start={}", last + 1), None).await;
    let rest: Vec<u64> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(index(&resumed.next_event().await));
        }
        v
    };
    assert_eq!(rest, [3, 4, 5, 6, 7]);
    assert!(matches!(
        resumed.next_line(Duration::from_millis(200)).await,
        Line::Timeout
    ));
    // Starting exactly at the head is allowed: it waits for the next event.
    let mut at_head = http.events("start=8", None).await;
    http.message(alice.token.expose(), &json!({"kind": "noop"}))
        .await;
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 1}))
        .await;
    assert_eq!(index(&at_head.next_event().await), 8);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_empty_lines_when_idle() {
    let server =
        TestServer::start(Server::builder(TestApp::default()).heartbeat(Duration::from_millis(50)))
            .await;
    let http = server.client();
    let mut stream = http.events("start=0", None).await;
    for _ in 0..2 {
        assert!(matches!(stream.next_line(WAIT).await, Line::Heartbeat));
    }
    http.session("Alice").await;
    assert_eq!(stream.next_event().await["kind"], "joined");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_framing_and_last_event_id_resume() {
    let server =
        TestServer::start(Server::builder(TestApp::default()).heartbeat(Duration::from_millis(50)))
            .await;
    let http = server.client();
    let alice = http.session("Alice").await;
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 3}))
        .await;
    let mut sse = http
        .get("/rex/v0/events?start=0")
        .header("accept", "text/event-stream")
        .stream()
        .await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    let first = sse.next_sse(WAIT).await.unwrap();
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines[0], "id: 0");
    assert_eq!(lines[1], "event: joined");
    let data: serde_json::Value =
        serde_json::from_str(lines[2].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(data["index"], 0);
    assert_eq!(data["kind"], "joined");
    assert_eq!(lines.len(), 3);
    for want in 1..4 {
        let frame = sse.next_sse(WAIT).await.unwrap();
        assert!(
            frame.starts_with(&format!("id: {want}\nevent: tick\n")),
            "{frame}"
        );
    }
    // Idle: heartbeats are SSE comments.
    assert_eq!(sse.next_sse(WAIT).await.unwrap(), ":");
    drop(sse);
    // EventSource reconnects to the same URL with Last-Event-ID, which wins
    // over `start`.
    let mut resumed = http
        .get("/rex/v0/events?start=0")
        .header("accept", "text/event-stream")
        .header("last-event-id", "2")
        .stream()
        .await;
    let frame = resumed.next_sse(WAIT).await.unwrap();
    assert!(frame.starts_with("id: 3\n"), "{frame}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_epoch_is_accepted_and_gone_names_current_bounds() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let mut ok = http
        .events(&format!("start=0&epoch={}", alice.epoch), None)
        .await;
    assert_eq!(index(&ok.next_event().await), 0);
    let other = SessionId::new_random(); // any other UUID
    let reply = http
        .get(&format!("/rex/v0/events?start=0&epoch={other}"))
        .send()
        .await;
    reply.assert_error(410, "gone");
    let body = reply.json();
    assert_eq!(body["epoch"], alice.epoch.to_string());
    assert_eq!(body["oldest"], 0);
    assert_eq!(body["head"], 1);
    server.stop().await;
}

// §4 Private events

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_events_reach_only_their_sessions_and_keep_global_indexes() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let bob = http.session("Bob").await;
    let carol = http.session("Carol").await;
    let to_bob = json!({"kind": "secret", "data": {"to": [bob.session], "text": "for bob"}});
    let receipt = http.message(alice.token.expose(), &to_bob).await.json();
    assert_eq!(receipt, json!({"first": 3, "count": 1}));
    http.message(
        alice.token.expose(),
        &json!({"kind": "tag", "data": {"tag": "public"}}),
    )
    .await;

    // Bob, by header and by query token, sees the private event with `to`.
    let bob_header = http.visible_log(Some(bob.token.expose())).await;
    let idx: Vec<u64> = bob_header.iter().map(index).collect();
    assert_eq!(idx, [0, 1, 2, 3, 4]);
    assert_eq!(bob_header[3]["to"], json!([bob.session]));
    assert_eq!(bob_header[3]["data"]["text"], "for bob");
    let mut by_query = http
        .events(&format!("start=3&token={}", bob.token.expose()), None)
        .await;
    assert_eq!(by_query.next_event().await["kind"], "secret");

    // Alice (the sender, not in `to`), Carol and anonymous readers see a gap.
    for token in [Some(alice.token.expose()), Some(carol.token.expose()), None] {
        let events = http.visible_log(token).await;
        let idx: Vec<u64> = events.iter().map(index).collect();
        assert_eq!(idx, [0, 1, 2, 4], "reader {token:?}");
        assert!(events.iter().all(|e| e["kind"] != "secret"));
    }
    server.stop().await;
}

// §5 Info

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_describes_app_log_and_kinds() {
    let server = TestServer::start(Server::builder(TestApp::default()).name("Test Room")).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    http.message(alice.token.expose(), &json!({"kind": "burst", "data": 2}))
        .await;
    let mut info = http.info().await;
    // The log's clock: milliseconds since the server started, at least as
    // late as the newest event.
    let time = info.as_object_mut().unwrap().remove("time").unwrap();
    let newest = http.visible_log(None).await.last().unwrap()["time"]
        .as_u64()
        .unwrap();
    assert!(time.as_u64().unwrap() >= newest, "{time} < {newest}");
    assert_eq!(
        info,
        json!({
            "app": "test",
            "name": "Test Room",
            "protocol": 0,
            "epoch": alice.epoch,
            "head": 3,
            "oldest": 0,
            "sessions": 1,
            "messages": ["noop", "burst", "tag", "secret", "emit_then_reject", "count", "later", "slow"],
            "events": ["joined", "tick", "secret", "counted"],
            // The test app publishes no schema (§13).
            "offers": [],
        })
    );
    server.stop().await;
}

// The app can act without a client message.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_handle_and_scheduled_work_append_events_with_no_origin() {
    let server = start_test_app().await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let mut stream = http.events("start=1", None).await;
    let index_from_handle = server
        .handle
        .emit(rex_tests::app::TestEvent::Tick { tag: "tv".into() })
        .await
        .unwrap();
    assert_eq!(index_from_handle, 1);
    let e = stream.next_event().await;
    assert_eq!((index(&e), &e["origin"]), (1, &json!(null)));
    http.message(
        alice.token.expose(),
        &json!({"kind": "later", "data": {"ms": 20}}),
    )
    .await;
    let e = stream.next_event().await;
    assert_eq!(e["data"]["tag"], "later");
    assert_eq!(e["origin"], json!(null));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_epoch_is_gone_before_its_stale_token_is_checked() {
    let server = start_test_app().await;
    let http = server.client();
    let stale_epoch = SessionId::new_random(); // any UUID but the server's
    let reply = http
        .get(&format!(
            "/rex/v0/events?start=0&epoch={stale_epoch}&token=not-a-token"
        ))
        .send()
        .await;
    reply.assert_error(410, "gone");
    // With the right epoch, the unknown token is refused.
    let epoch = http.info().await["epoch"].as_str().unwrap().to_owned();
    let reply = http
        .get(&format!(
            "/rex/v0/events?start=0&epoch={epoch}&token=not-a-token"
        ))
        .send()
        .await;
    reply.assert_error(401, "unauthorized");
    server.stop().await;
}
