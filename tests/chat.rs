//! The chat example as a black box: the README's curl session, replayed over
//! real TCP against `ChatApp`.

use rex::Server;
use rex_examples::chat::ChatApp;
use rex_tests::{index, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_session_say_whisper_retry_resume() {
    let server = TestServer::start(Server::builder(ChatApp::default()).name("REx chat")).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let bob = http.session("Bob").await;
    assert_eq!((alice.next, bob.next), (0, 1));
    let (a, b) = (alice.token.expose(), bob.token.expose());

    let mut bobs_stream = http.events("start=0", Some(b)).await;
    let say = json!({"kind": "say", "data": {"text": "hello room"}, "id": 1});
    assert_eq!(
        http.message(a, &say).await.json(),
        json!({"first": 2, "count": 1})
    );
    let whisper = json!({"kind": "whisper", "data": {"to": bob.session, "text": "psst"}, "id": 2});
    assert_eq!(
        http.message(a, &whisper).await.json(),
        json!({"first": 3, "count": 1})
    );
    assert_eq!(
        http.message(a, &say).await.json(),
        json!({"first": 2, "count": 1})
    );

    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(bobs_stream.next_event().await);
    }
    let kinds: Vec<_> = seen.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["joined", "joined", "said", "whispered"]);
    assert_eq!(
        seen[0]["data"],
        json!({"session": alice.session, "name": "Alice"})
    );
    assert_eq!(
        seen[2]["data"],
        json!({"from": alice.session, "text": "hello room"})
    );
    assert_eq!(
        seen[3]["data"],
        json!({"from": alice.session, "to": bob.session, "text": "psst"})
    );
    let mut pair = vec![alice.session, bob.session];
    pair.sort();
    assert_eq!(seen[3]["to"], json!(pair));

    // An anonymous reader does not see the whisper.
    let public: Vec<u64> = http.visible_log(None).await.iter().map(index).collect();
    assert_eq!(public, [0, 1, 2]);
    // Resuming after index 2 gives the whisper, once.
    let mut resumed = http.events("start=3", Some(b)).await;
    assert_eq!(index(&resumed.next_event().await), 3);

    let info = http.info().await;
    assert_eq!(info["name"], "REx chat");
    assert_eq!(
        (info["head"].as_u64(), info["sessions"].as_u64()),
        (Some(4), Some(2))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_rejects_empty_text_unknown_recipients_and_blank_names() {
    let server = TestServer::start(Server::builder(ChatApp::default())).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let a = alice.token.expose();
    let cases = [
        json!({"kind": "say", "data": {"text": ""}}),
        json!({"kind": "say", "data": {"text": "   "}}),
        json!({"kind": "say", "data": {"text": "x".repeat(501)}}),
        json!({"kind": "whisper", "data": {"to": uuid::Uuid::new_v4(), "text": "hi"}}),
        json!({"kind": "rename", "data": {"name": ""}}),
    ];
    for case in cases {
        let reply = http.message(a, &case).await;
        reply.assert_error(409, "rejected");
        assert_eq!(http.info().await["head"], 1, "after {case}");
    }
    let reply = http
        .message(a, &json!({"kind": "rename", "data": {"name": "Al"}}))
        .await;
    assert_eq!(reply.json(), json!({"first": 1, "count": 1}));
    let renamed = http.visible_log(None).await.pop().unwrap();
    assert_eq!(
        renamed["data"],
        json!({"session": alice.session, "name": "Al"})
    );
    // A session without a name gets a guest name.
    let guest = http
        .post("/rex/v0/sessions")
        .header("content-type", "application/json")
        .send()
        .await
        .json();
    let joined = http.visible_log(None).await.pop().unwrap();
    assert_eq!(joined["data"]["session"], guest["session"]);
    assert!(joined["data"]["name"]
        .as_str()
        .unwrap()
        .starts_with("guest-"));
    server.stop().await;
}
