//! Every row of protocol v0's error table, over real TCP on 127.0.0.1.
//!
//! Each refused request is checked three ways: its status, its `error` code
//! with a reason, and that it changed nothing (the same `/info` counters, the
//! same log, the app not called, no message id used up).

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use hyper_util::rt::TokioIo;
use rex::{Retention, Server};
use rex_tests::{start_test_app, Http, Reply, Req, TestApp, TestServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MSGS: &str = "/rex/v0/messages";
const SESSIONS: &str = "/rex/v0/sessions";
const EVENTS: &str = "/rex/v0/events";
const JSON: &str = "application/json";
/// The message kinds `unknown_kind` must list, in the app's order.
const KINDS: &str = "noop, burst, tag, secret, emit_then_reject, count, later, slow";

type App = TestServer<TestApp>;

/// Creates the session "Alice" on `server`; returns her token.
async fn with_alice(server: App) -> (App, Http, String) {
    let http = server.client();
    let alice = http.session("Alice").await;
    (server, http, alice.token.expose().to_owned())
}

/// A POST with a raw body, as `token`, declared as `ctype` (none if empty).
fn post(http: &Http, path: &str, token: &str, ctype: &str, body: impl Into<Bytes>) -> Req {
    let req = http.post(path).bearer(token).raw(body);
    match ctype {
        "" => req,
        ctype => req.header("content-type", ctype),
    }
}

/// What a refused request must leave alone: the `/info` counters and every
/// public event of the log.
async fn state(http: &Http) -> (Value, Vec<Value>) {
    let info = http.info().await;
    let head = info["head"].as_u64().unwrap();
    let oldest = info["oldest"].as_u64().unwrap();
    let counters = json!({
        "epoch": info["epoch"], "head": head, "oldest": oldest, "sessions": info["sessions"],
    });
    if oldest == 0 {
        return (counters, http.visible_log(None).await);
    }
    // Retention dropped the start of the log, which `snapshot` reads from.
    // Only used where every event is public.
    let mut stream = http.events(&format!("start={oldest}"), None).await;
    let mut events = Vec::new();
    for _ in oldest..head {
        events.push(stream.next_event().await);
    }
    (counters, events)
}

/// Sends `req` and asserts the error (status, code), and that the server is
/// in the same state after as before. Returns the reason and the reply.
async fn refused(http: &Http, req: Req, error: (u16, &str), label: &str) -> (String, Reply) {
    let before = state(http).await;
    let reply = req.send().await;
    assert_eq!(reply.status.as_u16(), error.0, "{label}: {:?}", reply.body);
    let reason = reply.assert_error(error.0, error.1);
    assert_eq!(state(http).await, before, "{label}: state changed");
    (reason, reply)
}

/// How many times the app handled each message kind.
async fn handled(server: &App) -> HashMap<&'static str, u64> {
    let ran = server.handle.run(|app, _| app.handled.clone());
    ran.await.unwrap()
}

/// Sends a good `count` (with message id `id`) and checks it is the first
/// message the app ever handled: it lands at the head, and counts 1.
async fn count_is_first(server: &App, token: &str, id: Option<u64>) {
    let ran = handled(server).await;
    assert!(ran.is_empty(), "the app ran a refused message: {ran:?}");
    let http = server.client();
    let head = http.info().await["head"].as_u64().unwrap();
    let count = json!({"kind": "count", "id": id});
    let reply = http.message(token, &count).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json(), json!({"first": head, "count": 1}));
    let mut events = http.events(&format!("start={head}"), Some(token)).await;
    let counted = events.next_event().await;
    assert_eq!(counted["index"], head);
    assert_eq!(counted["kind"], "counted");
    assert_eq!(counted["data"], json!({"times": 1}));
}

/// A request body sent with `Transfer-Encoding: chunked`: its size hint is
/// unknown, so hyper sends no `Content-Length`.
struct Chunked(VecDeque<Bytes>);

impl Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// POSTs `body` to `path` as JSON in 512-byte chunks, without a length.
async fn post_chunked(http: &Http, path: &str, token: &str, body: &[u8]) -> Reply {
    let stream = TcpStream::connect(http.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let chunks = body.chunks(512).map(Bytes::copy_from_slice).collect();
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", http.addr.to_string())
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", JSON)
        .body(Chunked(chunks))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), async {
        let (parts, body) = sender.send_request(req).await.unwrap().into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    });
    response.await.expect("no complete response within 20 s")
}

/// A `tag` message whose JSON is exactly `len` bytes long.
fn tag_of_len(len: usize) -> Vec<u8> {
    let tag = "a".repeat(len - br#"{"kind":"tag","data":{"tag":""}}"#.len());
    serde_json::to_vec(&json!({"kind": "tag", "data": {"tag": tag}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_400_bad_request_and_change_nothing() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let cases: [&[u8]; 13] = [
        br#"{"kind":"#,
        br#"{"kind":"count"} x"#,
        b"[1, 2]",
        br#""count""#,
        b"null",
        b" \n ",
        br#"{"data": 1}"#,
        br#"{"kind": 5}"#,
        br#"{"kind": "count", "kind": "noop"}"#,
        br#"{"kind": "count", "id": -1}"#,
        br#"{"kind": "count", "id": "7"}"#,
        br#"{"kind": "count", "id": 1.5}"#,
        b"{\"kind\": \"tag\", \"data\": {\"tag\": \"\xff\"}}",
    ];
    for body in cases {
        let label = String::from_utf8_lossy(body);
        let req = post(&http, MSGS, &token, JSON, body.to_vec());
        let (reason, _) = refused(&http, req, (400, "bad_request"), &label).await;
        assert!(reason.contains("not valid JSON"), "{label}: {reason}");
    }
    let req = post(&http, MSGS, &token, JSON, &b"\xff\xfe\xfd"[..]);
    refused(&http, req, (400, "bad_request"), "invalid UTF-8").await;
    let no_body = http.post(MSGS).bearer(&token).header("content-type", JSON);
    for req in [post(&http, MSGS, &token, JSON, ""), no_body] {
        let (reason, _) = refused(&http, req, (400, "bad_request"), "empty").await;
        assert!(reason.contains("the body is empty"), "{reason}");
    }
    // Session bodies: no session is created.
    let cases: [&[u8]; 4] = [
        br#"{"name":"#,
        br#"{"name": 5}"#,
        b"[1, 2]",
        b"{\"name\": \"\xc3\x28\"}",
    ];
    for body in cases {
        let label = String::from_utf8_lossy(body);
        let req = post(&http, SESSIONS, "", JSON, body.to_vec());
        refused(&http, req, (400, "bad_request"), &label).await;
    }
    count_is_first(&server, &token, None).await;
    server.stop().await;
}

/// Server bug: serde's derived `Deserialize` also reads a struct from a JSON
/// array of its fields in order, so `["count"]` is taken as a message and
/// `["Bob"]` as a session; the protocol's bodies are objects only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_arrays_are_not_object_bodies_and_are_400() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let mut wrong = Vec::new();
    for (path, body) in [(MSGS, r#"["count"]"#), (SESSIONS, r#"["Bob"]"#)] {
        let before = state(&http).await;
        let reply = post(&http, path, &token, JSON, body).send().await;
        if reply.status != 400 || state(&http).await != before {
            let got = String::from_utf8_lossy(&reply.body);
            wrong.push(format!("POST {path} {body}: {} {got}", reply.status));
        }
    }
    assert!(wrong.is_empty(), "array bodies accepted: {wrong:#?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kind_is_400_listing_the_accepted_kinds() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    // An event kind, a kind in the wrong case and an empty kind are unknown too.
    for kind in ["dance", "counted", "Count", ""] {
        let body = json!({"kind": kind, "data": {"x": 1}, "id": 3}).to_string();
        let req = post(&http, MSGS, &token, JSON, body);
        let (reason, _) = refused(&http, req, (400, "unknown_kind"), kind).await;
        assert!(reason.contains(&format!("`{kind}`")), "{reason}");
        assert!(reason.contains(KINDS), "{reason}");
    }
    // Nothing was handled and the refusals did not use up id 3.
    count_is_first(&server, &token, Some(3)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_that_do_not_fit_are_422_invalid_data_naming_the_field() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let cases = [
        (r#"{"kind":"tag","data":{"tag":5}}"#, "field `tag`"),
        (
            r#"{"kind":"tag","data":{"tag":"a","extra":1}}"#,
            "unknown field `extra`",
        ),
        (r#"{"kind":"tag"}"#, "found none"),
        (r#"{"kind":"tag","data":[1]}"#, "found an array"),
        (r#"{"kind":"noop","data":5}"#, "carries no data"),
        (r#"{"kind":"burst","data":"x"}"#, "kind `burst`"),
        (r#"{"kind":"burst","data":-1}"#, "kind `burst`"),
        (r#"{"kind":"later","data":{}}"#, "missing field `ms`"),
        (
            r#"{"kind":"secret","data":{"to":["x"],"text":""}}"#,
            "field `to`",
        ),
    ];
    for (body, needle) in cases {
        let mut body: Value = serde_json::from_str(body).unwrap();
        body["id"] = json!(9);
        let label = body.to_string();
        let req = post(&http, MSGS, &token, JSON, label.clone());
        let (reason, _) = refused(&http, req, (422, "invalid_data"), &label).await;
        assert!(reason.contains(needle), "{label}: {reason}");
    }
    // Nothing was handled and the refusals did not use up id 9.
    count_is_first(&server, &token, Some(9)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_name_over_64_characters_is_422_and_creates_no_session() {
    let server = start_test_app().await;
    let http = server.client();
    for name in ["x".repeat(65), "é".repeat(65), "x".repeat(1000)] {
        let req = http.post(SESSIONS).json(&json!({ "name": name }));
        let (reason, _) = refused(&http, req, (422, "invalid_data"), &name).await;
        assert!(reason.contains("field `name`"), "{reason}");
        assert!(reason.contains("the limit is 64"), "{reason}");
    }
    assert_eq!(http.info().await["sessions"], 0);
    // The limit counts characters, not bytes: 64 two-byte characters pass.
    http.session(&"é".repeat(64)).await;
    assert_eq!(http.info().await["sessions"], 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_token_on_messages_is_401_and_changes_nothing() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let count = json!({"kind": "count"});
    let basic = format!("Basic {token}");
    // No header, another scheme, the scheme alone.
    for auth in [None, Some(basic.as_str()), Some("Bearer")] {
        let mut req = http.post(MSGS).json(&count);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let label = format!("{auth:?}");
        let (reason, _) = refused(&http, req, (401, "unauthorized"), &label).await;
        assert!(reason.contains("Authorization: Bearer"), "{reason}");
    }
    // Tokens that are not Alice's, nor anybody's.
    let wrong = [
        "0".repeat(64),
        token.to_uppercase(),
        format!("{token}0"),
        token[..63].to_owned(),
        String::new(),
    ];
    let count = json!({"kind": "count", "id": 1}).to_string();
    for bad in &wrong {
        let req = post(&http, MSGS, bad, JSON, count.clone());
        let (reason, _) = refused(&http, req, (401, "unauthorized"), bad).await;
        assert!(reason.contains("token"), "{reason}");
    }
    // The token is checked before the body is even read.
    let req = post(&http, MSGS, &wrong[0], JSON, "{not json");
    refused(&http, req, (401, "unauthorized"), "wrong token, bad body").await;
    count_is_first(&server, &token, Some(1)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_on_events_is_401_and_reveals_no_private_event() {
    let (server, http, alice) = with_alice(start_test_app().await).await;
    let bob = http.session("Bob").await;
    let secret = json!({"kind": "secret", "data": {"to": [bob.session], "text": "psst"}});
    assert_eq!(http.message(&alice, &secret).await.status, 200);
    // A public event after the secret, so the public snapshot ends at the head.
    let tag = json!({"kind": "tag", "data": {"tag": "public"}});
    assert_eq!(http.message(&alice, &tag).await.status, 200);

    let (right, wrong) = (bob.token.expose(), format!("{}0", bob.token.expose()));
    let all = format!("{EVENTS}?start=0");
    for (i, req) in [
        http.get(&all).bearer(&wrong),
        http.get(&format!("{all}&token={wrong}")),
        http.get(&format!("{all}&token=")),
        // The header wins over the query: a wrong header is not rescued.
        http.get(&format!("{all}&token={right}")).bearer(&wrong),
    ]
    .into_iter()
    .enumerate()
    {
        let label = format!("case {i}");
        let (_, reply) = refused(&http, req, (401, "unauthorized"), &label).await;
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains("psst"), "{label}: {body}");
    }
    // The private event was there to hide: Bob, and only Bob, sees it.
    let public = http.visible_log(None).await;
    assert!(!public.iter().any(|e| e["kind"] == "secret"));
    let bobs = http.visible_log(Some(right)).await;
    assert!(bobs.iter().any(|e| e["data"]["text"] == "psst"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_not_found() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let count = json!({"kind": "count"});
    for (method, path) in [
        (Method::GET, "/rex/v0/nope"),
        (Method::GET, "/"),
        (Method::GET, "/rex/v1/info"),
        (Method::GET, "/rex/v0/info/"),
        (Method::GET, "/rex/v0"),
        (Method::GET, "/REX/V0/INFO"),
        (Method::POST, "/rex/v0/messages/"),
        (Method::POST, "/rex/v0/nope?kind=count"),
    ] {
        let req = http.request(method, path).bearer(&token).json(&count);
        let (reason, _) = refused(&http, req, (404, "not_found"), path).await;
        let shown = path.split('?').next().unwrap();
        assert!(reason.contains(&format!("`{shown}`")), "{path}: {reason}");
    }
    count_is_first(&server, &token, None).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_are_405_with_an_allow_header() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let count = json!({"kind": "count"});
    for (method, path, allow) in [
        (Method::GET, SESSIONS, "POST"),
        (Method::POST, EVENTS, "GET"),
        (Method::DELETE, "/rex/v0/info", "GET"),
        (Method::PUT, MSGS, "POST"),
        (Method::GET, MSGS, "POST"),
        (Method::POST, "/rex/v0/info", "GET"),
    ] {
        let label = format!("{method} {path}");
        let req = http.request(method, path).bearer(&token).json(&count);
        let (reason, reply) = refused(&http, req, (405, "method_not_allowed"), &label).await;
        assert_eq!(reply.headers.get("allow").unwrap(), allow, "{label}");
        assert!(reason.contains(allow), "{label}: {reason}");
    }
    count_is_first(&server, &token, None).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_rejection_is_409_and_appends_nothing_even_on_a_repeated_id() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let said = "rejected after emitting, on purpose";
    let reject = |id: Option<u64>| {
        let body = json!({"kind": "emit_then_reject", "id": id}).to_string();
        post(&http, MSGS, &token, JSON, body)
    };
    let (reason, _) = refused(&http, reject(None), (409, "rejected"), "no id").await;
    assert_eq!(reason, said);
    let ran = handled(&server).await;
    assert_eq!(ran, HashMap::from([("emit_then_reject", 1)]));
    // With an id: rejected once by the app, then answered from memory with
    // the same code; only the code is remembered, so the reason of a
    // repeat says it is one instead of quoting the app.
    for attempt in 0..3 {
        let label = format!("id 7, attempt {attempt}");
        let (reason, _) = refused(&http, reject(Some(7)), (409, "rejected"), &label).await;
        if attempt == 0 {
            assert_eq!(reason, said);
        } else {
            assert!(reason.contains("id 7 was already sent"), "{reason}");
        }
    }
    let ran = handled(&server).await;
    assert_eq!(ran, HashMap::from([("emit_then_reject", 2)]));
    let log = http.visible_log(None).await;
    assert!(!log.iter().any(|e| e["data"]["tag"] == "must not appear"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_join_is_409_and_creates_no_session() {
    let (server, http, _) = with_alice(start_test_app().await).await;
    // The app's `joined` event, emitted before it refused, must be dropped.
    let req = http.post(SESSIONS).json(&json!({"name": "nobody"}));
    let (reason, reply) = refused(&http, req, (409, "rejected"), "nobody").await;
    assert_eq!(reason, "this room does not admit nobody");
    assert!(reply.json().get("token").is_none());
    assert_eq!(http.info().await["sessions"], 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_limit_is_503_unavailable() {
    let builder = Server::builder(TestApp::default()).max_sessions(1);
    let (server, http, token) = with_alice(TestServer::start(builder).await).await;
    let named = http.post(SESSIONS).json(&json!({"name": "Bob"}));
    let unnamed = http
        .post(SESSIONS)
        .header("content-type", "application/json");
    for req in [named, unnamed] {
        let (reason, _) = refused(&http, req, (503, "unavailable"), "second").await;
        assert!(reason.contains("limit of 1 session"), "{reason}");
    }
    assert_eq!(http.info().await["sessions"], 1);
    // The session that exists still works.
    count_is_first(&server, &token, None).await;
    server.stop().await;
}

/// Asserts `410 gone` whose body carries the server's current bounds.
async fn gone(http: &Http, req: Req, label: &str) -> String {
    let info = http.info().await;
    let (reason, reply) = refused(http, req, (410, "gone"), label).await;
    let body = reply.json();
    for field in ["epoch", "oldest", "head"] {
        assert_eq!(body[field], info[field], "{label}: `{field}` of {body}");
    }
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_another_epoch_or_beyond_the_head_are_410_gone_with_the_bounds() {
    let (server, http, _) = with_alice(start_test_app().await).await;
    let epoch = http.info().await["epoch"].as_str().unwrap().to_owned();
    let other = uuid::Uuid::new_v4().to_string();
    let path = format!("{EVENTS}?start=0&epoch={other}");
    let reason = gone(&http, http.get(&path), "other epoch").await;
    assert!(reason.contains(&other), "{reason}");
    assert!(reason.contains(&epoch), "{reason}");
    // An SSE client gets the same JSON error.
    let sse = http.get(&path).header("accept", "text/event-stream");
    gone(&http, sse, "other epoch, SSE").await;
    // Control: the server's own epoch is served.
    http.events(&format!("start=0&epoch={epoch}"), None).await;
    // A start beyond the head is from a log that no longer exists.
    let head = http.info().await["head"].as_u64().unwrap();
    for start in [head + 1, head + 1000, u64::MAX] {
        let label = format!("start={start}");
        let reason = gone(&http, http.get(&format!("{EVENTS}?{label}")), &label).await;
        assert!(reason.contains("beyond the head"), "{reason}");
    }
    // `Last-Event-ID: head` asks for head + 1.
    let req = http.get(EVENTS).header("last-event-id", &head.to_string());
    gone(&http, req, "Last-Event-ID at the head").await;
    // Control: the head itself is where a caught-up reader waits.
    http.events(&format!("start={head}"), None).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_retained_are_410_gone_with_the_bounds() {
    let builder = Server::builder(TestApp::default()).retention(Retention::max_events(2));
    let (server, http, token) = with_alice(TestServer::start(builder).await).await;
    let burst = json!({"kind": "burst", "data": 4});
    let reply = http.message(&token, &burst).await;
    assert_eq!(reply.json(), json!({"first": 1, "count": 4}));
    let info = http.info().await;
    assert_eq!([&info["oldest"], &info["head"]], [3, 5]);
    for start in [0, 2] {
        let label = format!("start={start}");
        let reason = gone(&http, http.get(&format!("{EVENTS}?{label}")), &label).await;
        assert!(reason.contains("no longer retained"), "{reason}");
    }
    let req = http.get(EVENTS).header("last-event-id", "1");
    gone(&http, req, "Last-Event-ID before the oldest").await;
    // Control: the oldest retained event is served.
    let first = http.events("start=3", None).await.next_event().await;
    assert_eq!(first["index"], 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_query_and_last_event_id_are_400_bad_request() {
    let (server, http, _) = with_alice(start_test_app().await).await;
    for query in [
        "start=-1",
        "start=abc",
        "start=",
        "start=1.5",
        "start=99999999999999999999",
        "epoch=nope",
        "epoch=12345",
    ] {
        let req = http.get(&format!("{EVENTS}?{query}"));
        let (reason, _) = refused(&http, req, (400, "bad_request"), query).await;
        assert!(reason.contains(&format!("`{query}")), "{query}: {reason}");
    }
    for last in ["abc", "-1", "", "1.0"] {
        let req = http.get(EVENTS).header("last-event-id", last);
        let (reason, _) = refused(&http, req, (400, "bad_request"), last).await;
        assert!(reason.contains("Last-Event-ID"), "{last:?}: {reason}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_configured_limit_is_413_with_or_without_content_length() {
    let builder = Server::builder(TestApp::default()).body_limit(1024);
    let (server, http, token) = with_alice(TestServer::start(builder).await).await;
    let big = tag_of_len(2048);
    let name = serde_json::to_vec(&json!({"name": "n".repeat(2048)})).unwrap();
    for (path, body) in [(MSGS, big), (SESSIONS, name)] {
        let req = post(&http, path, &token, JSON, body.clone());
        let (reason, _) = refused(&http, req, (413, "too_large"), path).await;
        assert!(reason.contains("limit of 1024 bytes"), "{reason}");
        // The same body chunked, so only counting the bytes can catch it.
        let before = state(&http).await;
        let reply = post_chunked(&http, path, &token, &body).await;
        let reason = reply.assert_error(413, "too_large");
        assert!(reason.contains("limit of 1024 bytes"), "{reason}");
        assert_eq!(state(&http).await, before, "{path}, chunked");
    }
    count_is_first(&server, &token, None).await;
    // Exactly at the limit is accepted, with or without a length.
    let exact = tag_of_len(1024);
    assert_eq!(exact.len(), 1024);
    let reply = post(&http, MSGS, &token, JSON, exact.clone()).send().await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let reply = post_chunked(&http, MSGS, &token, &exact).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_default_64_kib_limit_is_413() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let big = tag_of_len(65 * 1024 + 1);
    let req = post(&http, MSGS, &token, JSON, big.clone());
    let (reason, _) = refused(&http, req, (413, "too_large"), "65 KiB").await;
    assert!(reason.contains("limit of 65536 bytes"), "{reason}");
    let before = state(&http).await;
    let reply = post_chunked(&http, MSGS, &token, &big).await;
    reply.assert_error(413, "too_large");
    assert_eq!(state(&http).await, before, "chunked");
    count_is_first(&server, &token, None).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_not_declared_as_json_are_415_even_without_a_content_type() {
    let (server, http, token) = with_alice(start_test_app().await).await;
    let (count, bob) = (r#"{"kind":"count"}"#, r#"{"name":"Bob"}"#);
    for (ctype, path, body) in [
        ("application/x-www-form-urlencoded", MSGS, "kind=count"),
        ("text/plain", MSGS, count),
        ("text/plain; charset=utf-8", SESSIONS, bob),
        ("multipart/form-data", SESSIONS, bob),
    ] {
        let req = post(&http, path, &token, ctype, body);
        let error = (415, "unsupported_media_type");
        let (reason, _) = refused(&http, req, error, ctype).await;
        assert!(reason.contains(&format!("`{ctype}`")), "{reason}");
    }
    // No content type: refused too, so that a page of another site cannot
    // send one without a CORS preflight (protocol.md §11).
    let req = post(&http, MSGS, &token, "", count);
    let (reason, _) = refused(&http, req, (415, "unsupported_media_type"), "none").await;
    assert!(reason.contains("application/json"), "{reason}");
    // JSON: the first message the app ever sees.
    assert!(handled(&server).await.is_empty());
    let head = http.info().await["head"].as_u64().unwrap();
    let reply = post(&http, MSGS, &token, JSON, count).send().await;
    assert_eq!(reply.json(), json!({"first": head, "count": 1}));
    // JSON with a charset parameter is JSON.
    let utf8 = "application/json; charset=utf-8";
    let reply = post(&http, MSGS, &token, utf8, count).send().await;
    assert_eq!(reply.json(), json!({"first": head + 1, "count": 1}));
    let mut events = http.events(&format!("start={head}"), None).await;
    assert_eq!(events.next_event().await["data"], json!({"times": 1}));
    assert_eq!(events.next_event().await["data"], json!({"times": 2}));
    // Sessions too.
    for ctype in [JSON, utf8] {
        let reply = post(&http, SESSIONS, "", ctype, bob).send().await;
        assert_eq!(reply.status, 201, "{ctype:?}: {:?}", reply.body);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_that_is_not_http_changes_nothing() {
    let (server, http, _) = with_alice(start_test_app().await).await;
    let before = state(&http).await;
    let cases: [&[u8]; 3] = [
        b"HELLO\r\n\r\n",
        b"\x00\x01\xff\xfe\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
    ];
    for garbage in cases {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(garbage).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer));
        // hyper answers a bare 400 (no route ever sees it) and hangs up.
        read.await.expect("the connection stayed open").unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    }
    assert_eq!(http.info().await["app"], "test");
    assert_eq!(state(&http).await, before);
    server.stop().await;
}
