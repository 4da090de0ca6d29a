//! Admission limits over real TCP: a session past its message rate, an
//! address past its session rate or its quota of live sessions, each get
//! `429 too_many_requests` with `Retry-After`, and the refused request
//! changes nothing; the defaults let a class behind one address join; the
//! dedupe window answers a retried refused id with its first code.
//!
//! Rates are counted in real time here, so every test sends until the first
//! refusal (bounded) instead of assuming how many requests fit in a moment
//! of a busy machine.

use std::time::Duration;

use rex::{Rate, Server};
use rex_tests::{Http, Reply, TestApp, TestServer};
use serde_json::{json, Value};

/// Sends `count` until the first refusal; returns the receipts before it
/// and the refusal. Panics if nothing is refused within `max` tries.
async fn count_until_refused(http: &Http, token: &str, max: u64) -> (u64, Reply) {
    for id in 0..max {
        let reply = http
            .message(token, &json!({"kind": "count", "id": id}))
            .await;
        if reply.status != 200 {
            return (id, reply);
        }
    }
    panic!("no refusal within {max} messages");
}

/// Asserts a `429` with a `Retry-After` header equal to the body's
/// `retry_after`; returns the seconds.
#[track_caller]
fn assert_too_many(reply: &Reply) -> u64 {
    reply.assert_error(429, "too_many_requests");
    let header: u64 = reply
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(header >= 1);
    assert_eq!(reply.json()["retry_after"], header);
    header
}

async fn counts(server: &TestServer<TestApp>) -> u64 {
    server.handle.run(|app, _| app.counts).await.unwrap()
}

#[tokio::test]
async fn a_session_past_its_message_rate_is_refused_and_nothing_changes() {
    let builder = Server::builder(TestApp::default()).message_rate(Rate::new(1, 5));
    let server = TestServer::start(builder).await;
    let http = server.client();
    let me = http.session("me").await;
    let (sent, refused) = count_until_refused(&http, me.token.expose(), 100).await;
    assert!(sent >= 5, "the burst is admitted ({sent})");
    let wait = assert_too_many(&refused);
    // The refused message reached nothing: the app did not count it, the
    // log did not grow.
    assert_eq!(counts(&server).await, sent);
    assert_eq!(http.info().await["head"].as_u64().unwrap(), 1 + sent);
    // Another session has its own bucket.
    let other = http.session("other").await;
    let reply = http
        .message(other.token.expose(), &json!({"kind": "count"}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // After the wait the server asked for, the same id goes through: the
    // refusal was not remembered as its outcome.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let retry = http
        .message(me.token.expose(), &json!({"kind": "count", "id": sent}))
        .await;
    assert_eq!(retry.status, 200, "{:?}", retry.body);
    server.stop().await;
}

#[tokio::test]
async fn invalid_messages_count_against_the_rate_too() {
    let builder = Server::builder(TestApp::default()).message_rate(Rate::new(1, 3));
    let server = TestServer::start(builder).await;
    let http = server.client();
    let me = http.session("me").await;
    let mut last = None;
    for _ in 0..100 {
        let reply = http
            .message(
                me.token.expose(),
                &json!({"kind": "tag", "data": {"tag": 5}}),
            )
            .await;
        if reply.status != 422 {
            last = Some(reply);
            break;
        }
    }
    assert_too_many(&last.expect("invalid data is rate limited"));
    server.stop().await;
}

async fn create(http: &Http) -> Reply {
    http.post("/rex/v0/sessions")
        .json(&json!({"name": "x"}))
        .send()
        .await
}

#[tokio::test]
async fn an_address_past_its_session_rate_is_refused_and_no_session_is_made() {
    let builder = Server::builder(TestApp::default()).session_rate(Rate::new(1, 5));
    let server = TestServer::start(builder).await;
    let http = server.client();
    let mut created = 0;
    let refused = loop {
        let reply = create(&http).await;
        if reply.status != 201 {
            break reply;
        }
        created += 1;
        assert!(created < 100, "no refusal within 100 sessions");
    };
    assert!(created >= 5, "the burst is admitted ({created})");
    let wait = assert_too_many(&refused);
    assert!(refused.json()["reason"]
        .as_str()
        .unwrap()
        .contains("creates sessions"));
    // No session, no `joined` event for the refused request.
    let info = http.info().await;
    assert_eq!(info["sessions"], created);
    assert_eq!(info["head"], created);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(create(&http).await.status, 201);
    server.stop().await;
}

#[tokio::test]
async fn an_address_holds_at_most_its_quota_of_live_sessions() {
    let builder = Server::builder(TestApp::default())
        .session_rate(Rate::unlimited())
        .sessions_per_address(3);
    let server = TestServer::start(builder).await;
    let http = server.client();
    for _ in 0..3 {
        assert_eq!(create(&http).await.status, 201);
    }
    for _ in 0..3 {
        let refused = create(&http).await;
        assert_too_many(&refused);
        let reason = refused.json()["reason"].as_str().unwrap().to_owned();
        assert!(reason.contains("3 live sessions"), "{reason}");
    }
    assert_eq!(http.info().await["sessions"], 3);
    server.stop().await;
}

/// A join the app refuses does not keep a place in the quota.
#[tokio::test]
async fn a_refused_join_frees_its_place() {
    let builder = Server::builder(TestApp::default())
        .session_rate(Rate::unlimited())
        .sessions_per_address(1);
    let server = TestServer::start(builder).await;
    let http = server.client();
    for _ in 0..3 {
        let reply = http
            .post("/rex/v0/sessions")
            .json(&json!({"name": "nobody"}))
            .send()
            .await;
        reply.assert_error(409, "rejected");
    }
    assert_eq!(create(&http).await.status, 201);
    server.stop().await;
}

/// A class of 100 phones behind one NAT address joins at once with the
/// defaults, and each can send a burst.
#[tokio::test]
async fn a_class_behind_one_address_joins_with_the_defaults() {
    let server = rex_tests::start_test_app().await;
    let http = server.client();
    let phones: Vec<_> = (0..100)
        .map(|_| tokio::spawn(async move { create(&http).await }))
        .collect();
    let mut tokens = Vec::new();
    for phone in phones {
        let reply = phone.await.unwrap();
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        tokens.push(reply.json()["token"].as_str().unwrap().to_owned());
    }
    for id in 0..10 {
        let reply = http
            .message(&tokens[0], &json!({"kind": "noop", "id": id}))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_retried_refused_id_gets_its_first_code_without_the_app() {
    let server = rex_tests::start_test_app().await;
    let http = server.client();
    let me = http.session("me").await;
    let first = http
        .message(
            me.token.expose(),
            &json!({"kind": "emit_then_reject", "id": 5}),
        )
        .await;
    let reason = first.assert_error(409, "rejected");
    assert!(reason.contains("on purpose"), "{reason}");
    // Same id, other content: the first outcome's code, and the app is not
    // asked again.
    let retry = http
        .message(me.token.expose(), &json!({"kind": "count", "id": 5}))
        .await;
    let reason = retry.assert_error(409, "rejected");
    assert!(reason.contains("id 5 was already sent"), "{reason}");
    assert_eq!(counts(&server).await, 0);
    let handled = server
        .handle
        .run(|app, _| app.handled.values().sum::<u64>())
        .await
        .unwrap();
    assert_eq!(handled, 1);
    server.stop().await;
}

/// The window holds the last 256 ids of a session: a retry within it is
/// answered with its receipt, an id older than that is handled anew.
#[tokio::test]
async fn the_dedupe_window_holds_the_last_256_ids() {
    let builder = Server::builder(TestApp::default()).message_rate(Rate::unlimited());
    let server = TestServer::start(builder).await;
    let http = server.client();
    let me = http.session("me").await;
    let mut receipts: Vec<Value> = Vec::new();
    for id in 0..300u64 {
        let reply = http
            .message(me.token.expose(), &json!({"kind": "count", "id": id}))
            .await;
        assert_eq!(reply.status, 200);
        receipts.push(reply.json());
    }
    for id in [44u64, 200, 299] {
        let retry = http
            .message(me.token.expose(), &json!({"kind": "count", "id": id}))
            .await;
        assert_eq!(retry.json(), receipts[id as usize], "id {id}");
    }
    assert_eq!(counts(&server).await, 300);
    let forgotten = http
        .message(me.token.expose(), &json!({"kind": "count", "id": 0}))
        .await;
    assert_eq!(forgotten.status, 200);
    assert_ne!(forgotten.json(), receipts[0]);
    assert_eq!(counts(&server).await, 301);
    server.stop().await;
}
