//! Who may hold a session, over real TCP on 127.0.0.1: the room's PIN,
//! names without control characters, and idle sessions that expire.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rex::{Context, Reject, RexApp, RexEvent, RexMessage, Server, SessionId};
use rex_tests::{Line, TestApp, TestServer};
use serde_json::{json, Value};

const SESSIONS: &str = "/rex/v0/sessions";

#[tokio::test]
async fn a_room_with_a_pin_refuses_a_missing_or_wrong_pin_and_admits_the_right_one() {
    let server = TestServer::start(Server::builder(TestApp::default()).pin("4711")).await;
    let http = server.client();
    let before = http.info().await;

    let missing = http
        .post(SESSIONS)
        .json(&json!({"name": "Eve"}))
        .send()
        .await;
    let reason = missing.assert_error(403, "forbidden");
    assert!(reason.contains("needs a PIN"), "{reason}");
    let wrong = http
        .post(SESSIONS)
        .json(&json!({"name": "Eve", "pin": "0000"}))
        .send()
        .await;
    let reason = wrong.assert_error(403, "forbidden");
    assert!(reason.contains("wrong PIN"), "{reason}");
    // (Every POST declares JSON, even with no body: docs/protocol.md §11.)
    let empty = http
        .post(&format!("{SESSIONS}?pin="))
        .header("content-type", "application/json")
        .send()
        .await;
    empty.assert_error(403, "forbidden");
    let after = http.info().await;
    assert_eq!(
        (&before["sessions"], &before["head"]),
        (&after["sessions"], &after["head"]),
        "a refusal creates nothing and appends nothing"
    );

    let in_body = http
        .post(SESSIONS)
        .json(&json!({"name": "Ada", "pin": "4711"}))
        .send()
        .await;
    assert_eq!(in_body.status, 201, "{:?}", in_body.body);
    // What a QR code carries: the PIN in the URL, no body at all.
    let in_query = http
        .post(&format!("{SESSIONS}?pin=4711"))
        .header("content-type", "application/json")
        .send()
        .await;
    assert_eq!(in_query.status, 201, "{:?}", in_query.body);
    // Reading needs no PIN: the TV page and spectators read anonymously.
    assert_eq!(http.info().await["sessions"], 2);
    server.stop().await;
}

#[tokio::test]
async fn the_typed_client_sends_its_pin_and_reports_a_wrong_one() {
    let server = TestServer::start(Server::builder(TestApp::default()).pin("4711")).await;
    let url = format!("http://{}", server.addr);
    let wrong = rex::Client::<rex_tests::app::TestMsg>::builder(url.as_str())
        .pin("1234")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, rex::ClientError::Forbidden { reason } if reason.contains("wrong PIN")),
        "{wrong:?}"
    );
    let client = rex::Client::<rex_tests::app::TestMsg>::builder(url.as_str())
        .name("Ada")
        .pin("4711")
        .connect()
        .await
        .unwrap();
    client.send(&rex_tests::app::TestMsg::Noop).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn names_with_control_characters_are_refused_and_change_nothing() {
    let server = TestServer::start(Server::builder(TestApp::default())).await;
    let http = server.client();
    let before = http.info().await;
    for name in [
        "\u{1b}]0;PWNED\u{7}\u{1b}[2J",
        "bell\u{7}",
        "del\u{7f}",
        "csi\u{9b}2J",
    ] {
        let reply = http
            .post(SESSIONS)
            .json(&json!({ "name": name }))
            .send()
            .await;
        let reason = reply.assert_error(422, "invalid_data");
        assert!(reason.contains("control character"), "{reason}");
    }
    let after = http.info().await;
    assert_eq!(
        (&before["sessions"], &before["head"]),
        (&after["sessions"], &after["head"]),
        "the log is unchanged"
    );
    http.session("Zoë 🎉").await;
    server.stop().await;
}

/// A lobby that says who came and who left.
#[derive(Debug, RexMessage)]
#[rex(app = "lobby", events = LobbyEvent)]
enum LobbyMsg {
    Ping,
}

#[derive(Debug, RexEvent)]
enum LobbyEvent {
    Joined { who: SessionId },
    Left { who: SessionId },
}

#[derive(Default)]
struct Lobby;

impl RexApp for Lobby {
    type Protocol = LobbyMsg;

    fn join(
        &mut self,
        cx: &mut Context<'_, Self>,
        session: SessionId,
        _name: Option<String>,
    ) -> Result<(), Reject> {
        cx.emit(LobbyEvent::Joined { who: session });
        Ok(())
    }

    fn leave(&mut self, cx: &mut Context<'_, Self>, session: SessionId) {
        cx.emit(LobbyEvent::Left { who: session });
    }
}

impl LobbyMsgHandler for Lobby {
    fn ping(&mut self, _: &mut Context<'_, Self>, _: SessionId) -> Result<(), Reject> {
        Ok(())
    }
}

/// The idle timeout of the expiry test: long enough that the watcher opens
/// its stream well within it on a busy machine, short enough for a test.
const IDLE: Duration = Duration::from_secs(4);

#[tokio::test]
async fn an_idle_session_expires_while_one_with_an_open_stream_stays() {
    let server = TestServer::start(
        Server::builder(Lobby)
            .session_idle_timeout(IDLE)
            .max_sessions(2),
    )
    .await;
    let http = server.client();
    let watcher = http.session("watcher").await;
    let watcher_token = watcher.token.expose().to_owned();
    let mut stream = http.events("start=0", Some(&watcher_token)).await;
    let idle = http.session("idle").await;
    let full = http
        .post(SESSIONS)
        .json(&json!({"name": "late"}))
        .send()
        .await;
    full.assert_error(503, "unavailable");

    // The watcher's own stream tells it when the idle one has left.
    let left = loop {
        match stream.next_line(Duration::from_secs(60)).await {
            Line::Event(e) if e["kind"] == "left" => break e,
            Line::Event(_) | Line::Heartbeat => {}
            other => panic!("the stream ended before anyone left: {other:?}"),
        }
    };
    assert_eq!(left["data"]["who"], json!(idle.session));
    assert_eq!(left["origin"], json!(idle.session));

    let ping = json!({"kind": "ping"});
    let reply = http.message(idle.token.expose(), &ping).await;
    let reason = reply.assert_error(401, "unauthorized");
    assert!(reason.contains("expired"), "{reason}");
    let watcher_reply = http.message(&watcher_token, &ping).await;
    assert_eq!(watcher_reply.status, 200, "an open stream keeps a session");
    // The room has a free place again.
    http.session("late").await;
    let info: Value = http.info().await;
    assert_eq!(info["sessions"], 2);
    drop(stream);
    server.stop().await;
}
