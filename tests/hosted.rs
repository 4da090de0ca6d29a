//! Hosted rooms (`rex::Host`) over real TCP on 127.0.0.1: many rooms of
//! one app in one server, each under `/r/<code>`, kept apart; codes,
//! limits, and the life of a room from open to `410` to `404` (on tokio's
//! paused clock, so thirty idle minutes take no time).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use rex::proto::ROOM_CODE_ALPHABET;
use rex::{CreateRoom, Host, Rate, RoomCode};
use rex_tests::host::{RoomHttp, TestHost};
use rex_tests::{Line, TestApp};

use serde_json::{json, Value};

const ROOMS: usize = 200;
const WRITERS: usize = 2;
const NOTES: usize = 5;

fn host() -> rex::HostBuilder<TestApp> {
    Host::builder(|_room: &rex::NewRoom| Ok(TestApp::default()))
        .room_creation_rate(Rate::unlimited())
        .max_connections_per_address(100_000)
        .max_rooms(10_000)
}

/// One room's whole life in the big test: a reader that follows the room
/// from 0, writers that send tagged notes, then a check of the log.
async fn play(room: RoomHttp) -> (RoomHttp, String) {
    let mut reader = room.events("start=0", None).await;
    assert_eq!(reader.status, 200, "{}: events", room.base);
    let writers = (0..WRITERS).map(|w| {
        let room = room.clone();
        tokio::spawn(async move {
            let session = room.session(&format!("w{w}")).await;
            for n in 0..NOTES {
                let tag = format!("{}-{w}-{n}", room.code);
                let reply = room
                    .message(
                        session.token.expose(),
                        &json!({"kind": "tag", "data": {"tag": tag}}),
                    )
                    .await;
                assert_eq!(reply.status, 200, "{}: {:?}", room.base, reply.body);
            }
            session.token.expose().to_owned()
        })
    });
    let tokens: Vec<String> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    // Two `joined` events and the notes.
    let expected = WRITERS + WRITERS * NOTES;
    let mut seen = Vec::new();
    while seen.len() < expected {
        match reader.next_line(Duration::from_secs(60)).await {
            Line::Event(event) => seen.push(event),
            Line::Heartbeat => {}
            other => panic!(
                "{}: waiting for event {} of {expected}, got {other:?}",
                room.base,
                seen.len()
            ),
        }
    }
    let tags: BTreeSet<String> = seen
        .iter()
        .filter(|e| e["kind"] == "tick")
        .map(|e| e["data"]["tag"].as_str().unwrap().to_owned())
        .collect();
    let mine: BTreeSet<String> = (0..WRITERS)
        .flat_map(|w| (0..NOTES).map(move |n| (w, n)))
        .map(|(w, n)| format!("{}-{w}-{n}", room.code))
        .collect();
    assert_eq!(
        tags, mine,
        "{}: the log holds exactly this room's notes",
        room.base
    );
    let indexes: Vec<u64> = seen.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(
        indexes,
        (0..expected as u64).collect::<Vec<_>>(),
        "{}: gap-free from 0",
        room.base
    );
    let info = room.get("/rex/v0/info").await.json();
    assert_eq!(info["head"], expected as u64, "{}", room.base);
    assert_eq!(info["sessions"], WRITERS as u64, "{}", room.base);
    (room, tokens[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_rooms_at_once_keep_their_logs_sessions_and_tokens_apart() {
    let (host, ()) = TestHost::start(host(), async |_| ()).await;
    let mut rooms = Vec::new();
    for i in 0..ROOMS {
        rooms.push(host.open_room(&json!({"name": format!("room {i}")})).await);
    }
    let codes: HashSet<RoomCode> = rooms.iter().map(|r| r.code).collect();
    assert_eq!(codes.len(), ROOMS, "every open room has its own code");
    let played =
        futures_util::future::join_all(rooms.into_iter().map(|room| tokio::spawn(play(room))))
            .await;
    let played: Vec<(RoomHttp, String)> = played.into_iter().map(Result::unwrap).collect();

    // A token of room A is unknown in room B: messages, streams and
    // snapshots all answer 401, and B's log does not change.
    for pair in played.windows(2).step_by(10) {
        let ((a, a_token), (b, _)) = (&pair[0], &pair[1]);
        let before = b.get("/rex/v0/info").await.json();
        let refused = b
            .message(
                a_token,
                &json!({"kind": "tag", "data": {"tag": "intruder"}}),
            )
            .await;
        let reason = refused.assert_error(401, "unauthorized");
        assert!(reason.contains("another room"), "{reason}");
        let stream = b.events("start=0", Some(a_token)).await;
        assert_eq!(
            stream.status, 401,
            "{} streams with a token of {}",
            b.base, a.base
        );
        let snapshot = b.get(&format!("/rex/v0/snapshot?token={a_token}")).await;
        snapshot.assert_error(401, "unauthorized");
        let after = b.get("/rex/v0/info").await.json();
        assert_eq!(before["head"], after["head"], "{}: unchanged", b.base);
        assert_eq!(before["sessions"], after["sessions"]);
    }
    let hosted = host.http().get("/rex/v0/host").send().await.json();
    assert_eq!(hosted["rooms"], ROOMS as u64);
    assert_eq!(hosted["app"], "test");
    host.stop().await;
}

#[tokio::test]
async fn codes_are_four_letters_looked_up_in_any_case_and_unknown_ones_say_what_to_do() {
    let (host, ()) = TestHost::start(host(), async |_| ()).await;
    let http = host.http();
    let reply = http
        .post("/rex/v0/rooms")
        .json(&json!({"name": "Friday quiz", "rounds": 3}))
        .send()
        .await;
    assert_eq!(reply.status, 201);
    let created = reply.json();
    let code = created["room"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 4);
    assert!(
        code.bytes().all(|b| ROOM_CODE_ALPHABET.contains(&b)),
        "{code}"
    );
    assert_eq!(created["path"], format!("/r/{code}"));
    assert_eq!(created["app"], "test");
    assert_eq!(created["name"], "Friday quiz");
    assert_eq!(reply.headers["location"], format!("/r/{code}"));

    // Lower case finds the same room.
    let lower = code.to_lowercase();
    let info = http.get(&format!("/r/{lower}/rex/v0/info")).send().await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["name"], "Friday quiz");
    // The room's base URL without the slash redirects to its pages.
    let bare = http.get(&format!("/r/{code}?x=1")).send().await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.headers["location"], format!("/r/{code}/?x=1"));

    // An unknown code, a malformed one, a path the host does not serve.
    let unknown = if code == "KXQF" { "MNPR" } else { "KXQF" };
    let reason = http
        .get(&format!("/r/{unknown}/rex/v0/info"))
        .send()
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        reason,
        format!("no room {unknown}; check the code on the TV")
    );
    let reason = http
        .get("/r/KAQ/rex/v0/info")
        .send()
        .await
        .assert_error(404, "not_found");
    assert!(
        reason.contains("is not a room code") && reason.contains("check the code on the TV"),
        "{reason}"
    );
    let reason = http
        .get("/rex/v0/info")
        .send()
        .await
        .assert_error(404, "not_found");
    assert!(reason.contains("POST /rex/v0/rooms"), "{reason}");

    // Bad bodies open nothing.
    for (body, status, error) in [
        ("[1]", 400, "bad_request"),
        ("{\"name\": 5}", 400, "bad_request"),
        ("{\"name\": \"a\\u0007b\"}", 422, "invalid_data"),
    ] {
        let refused = http
            .post("/rex/v0/rooms")
            .header("content-type", "application/json")
            .raw(body)
            .send()
            .await;
        refused.assert_error(status, error);
    }
    let refused = http.get("/rex/v0/rooms").send().await;
    refused.assert_error(405, "method_not_allowed");
    assert_eq!(http.get("/rex/v0/host").send().await.json()["rooms"], 1);
    host.stop().await;
}

#[tokio::test]
async fn the_room_cap_and_the_creation_rate_refuse_with_their_statuses() {
    let builder = Host::builder(|_room: &rex::NewRoom| Ok(TestApp::default()))
        .max_rooms(3)
        .room_creation_rate(Rate::new(1, 5));
    let (host, ()) = TestHost::start(builder, async |_| ()).await;
    let http = host.http();
    for _ in 0..3 {
        host.open_room(&json!({})).await;
    }
    let full = http.post("/rex/v0/rooms").json(&json!({})).send().await;
    let reason = full.assert_error(503, "unavailable");
    assert!(reason.contains("3 rooms open"), "{reason}");
    // Four tries taken from a burst of five: the fifth passes the rate and
    // meets the cap; the sixth is too fast.
    http.post("/rex/v0/rooms")
        .json(&json!({}))
        .send()
        .await
        .assert_error(503, "unavailable");
    let fast = http.post("/rex/v0/rooms").json(&json!({})).send().await;
    let reason = fast.assert_error(429, "too_many_requests");
    assert!(reason.contains("opens rooms"), "{reason}");
    assert!(fast.headers.contains_key("retry-after"));
    assert_eq!(http.get("/rex/v0/host").send().await.json()["rooms"], 3);
    host.stop().await;
}

#[tokio::test]
async fn a_factory_that_refuses_the_settings_opens_no_room() {
    let builder = Host::builder(|room: &rex::NewRoom| {
        #[derive(serde::Deserialize, Default)]
        #[serde(default, deny_unknown_fields)]
        struct Settings {
            rounds: u32,
        }
        let settings: Settings = room.settings_as()?;
        if settings.rounds > 10 {
            return Err(rex::Reject::new("at most 10 rounds"));
        }
        Ok(TestApp::default())
    });
    let (host, ()) = TestHost::start(builder, async |_| ()).await;
    let http = host.http();
    let reason = http
        .post("/rex/v0/rooms")
        .json(&json!({"rounds": 11}))
        .send()
        .await
        .assert_error(409, "rejected");
    assert!(reason.contains("at most 10 rounds"), "{reason}");
    let reason = http
        .post("/rex/v0/rooms")
        .json(&json!({"rouds": 1}))
        .send()
        .await
        .assert_error(409, "rejected");
    assert!(reason.contains("settings do not fit"), "{reason}");
    assert_eq!(http.get("/rex/v0/host").send().await.json()["rooms"], 0);
    host.open_room(&json!({"rounds": 3})).await;
    host.stop().await;
}

#[tokio::test]
async fn each_room_serves_its_own_pages_next_to_the_shared_ones() {
    let builder = host()
        .assets(
            rex::Assets::new()
                .file("/", "shared page")
                .file("/join.json", "shared join"),
        )
        .room_assets(|room: &rex::NewRoom| {
            rex::Assets::new().file("/join.json", format!("join {}", room.code))
        });
    let (host, ()) = TestHost::start(builder, async |_| ()).await;
    let (a, b) = (
        host.open_room(&json!({})).await,
        host.open_room(&json!({})).await,
    );
    for room in [&a, &b] {
        let page = room.get("/").await;
        assert_eq!(
            (page.status.as_u16(), &page.body[..]),
            (200, &b"shared page"[..])
        );
        let own = room.get("/join.json").await;
        assert_eq!(own.status, 200, "{}: {:?}", room.base, own.body);
        assert_eq!(
            own.body,
            format!("join {}", room.code).as_bytes(),
            "{}",
            room.base
        );
    }
    host.stop().await;

    let bad = host_with_bad_pages();
    let (host, ()) = TestHost::start(bad, async |_| ()).await;
    let reason = host
        .http()
        .post("/rex/v0/rooms")
        .json(&json!({}))
        .send()
        .await
        .assert_error(500, "internal");
    assert!(reason.contains("/rex/mine"), "{reason}");
    assert_eq!(
        host.http().get("/rex/v0/host").send().await.json()["rooms"],
        0
    );
    host.stop().await;
}

/// A host whose rooms' own pages claim a path of the protocol.
fn host_with_bad_pages() -> rex::HostBuilder<TestApp> {
    host().room_assets(|_: &rex::NewRoom| rex::Assets::new().file("/rex/mine", "no"))
}

/// `info` of a room: its status, and its body.
async fn status(room: &RoomHttp) -> (u16, Value) {
    let reply = room.get("/rex/v0/info").await;
    (reply.status.as_u16(), reply.json())
}

#[tokio::test(start_paused = true)]
async fn idle_rooms_close_after_thirty_minutes_answer_410_then_404_and_open_streams_keep_them() {
    let builder = host().ended_room_gone_for(Duration::from_secs(600));
    let (host, codes) = TestHost::start(builder, async |host| {
        let mut codes = Vec::new();
        for _ in 0..2 {
            codes.push(
                host.control()
                    .open_room(CreateRoom::default())
                    .await
                    .unwrap()
                    .room,
            );
        }
        codes
    })
    .await;
    let quiet = RoomHttp::new(host.http(), codes[0]);
    let watched = RoomHttp::new(host.http(), codes[1]);
    let stream = watched.events("start=0", None).await;
    assert_eq!(stream.status, 200);

    tokio::time::sleep(Duration::from_secs(29 * 60)).await;
    assert_eq!(status(&quiet).await.0, 200, "idle 29 minutes: still open");
    // A new session is activity: the idle time starts again.
    quiet.session("late").await;
    tokio::time::sleep(Duration::from_secs(29 * 60)).await;
    assert_eq!(
        status(&quiet).await.0,
        200,
        "29 minutes after a join: still open"
    );
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    let (code, body) = status(&quiet).await;
    assert_eq!(code, 410, "idle 31 minutes: closed; {body}");
    assert_eq!(body["error"], "gone");
    assert!(
        body["reason"].as_str().unwrap().contains("has ended"),
        "{body}"
    );
    // Final: nothing to resync to.
    assert!(
        body.get("oldest").is_none() && body.get("epoch").is_none(),
        "{body}"
    );

    // The watched room was never idle: its stream is open.
    assert_eq!(
        status(&watched).await.0,
        200,
        "a room with an open stream stays open"
    );
    drop(stream);
    tokio::time::sleep(Duration::from_secs(29 * 60)).await;
    assert_eq!(status(&watched).await.0, 200);
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    assert_eq!(status(&watched).await.0, 410);

    // Ten minutes after it ended, the quiet room's code is unknown.
    tokio::time::sleep(Duration::from_secs(10 * 60)).await;
    let (code, body) = status(&quiet).await;
    assert_eq!(code, 404, "{body}");
    assert!(
        body["reason"].as_str().unwrap().starts_with("no room"),
        "{body}"
    );
    assert_eq!(
        host.http().get("/rex/v0/host").send().await.json()["rooms"],
        0
    );
    host.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_app_closes_its_room_after_a_grace_period_and_its_streams_end_cleanly() {
    let (host, (code, handle)) = TestHost::start(host(), async |host| {
        let control = host.control();
        let code = control.open_room(CreateRoom::default()).await.unwrap().room;
        (code, control.room(code).unwrap())
    })
    .await;
    let room = RoomHttp::new(host.http(), code);
    let player = room.session("Ann").await;
    let token = player.token.expose().to_owned();
    let mut stream = room.events("start=0", Some(&token)).await;
    assert_eq!(stream.status, 200);
    // The final standings, then the app closes its room in a minute.
    handle
        .run(|_, cx| {
            cx.emit(rex_tests::app::TestEvent::Tick {
                tag: "final".into(),
            });
            cx.close_room(Duration::from_secs(60));
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(59)).await;
    let reply = room.message(&token, &json!({"kind": "noop"})).await;
    assert_eq!(
        reply.status, 200,
        "within the grace period the room plays on"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The stream sent everything, then ended (not an error).
    let events = stream.read_to_end(Duration::from_secs(30)).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["joined", "tick"], "{events:?}");
    assert_eq!(events[1]["data"]["tag"], "final");
    let (status, body) = status(&room).await;
    assert_eq!(status, 410, "{body}");
    // Every URL of the room says so, and a reader resuming is told it is
    // final (no bounds to resync to).
    let resumed = room.events("start=2", Some(&token)).await;
    assert_eq!(resumed.status, 410);
    let reply = room.message(&token, &json!({"kind": "noop"})).await;
    reply.assert_error(410, "gone");
    assert!(handle.run(|_, _| ()).await.is_err(), "the app has stopped");
    host.stop().await;
}

/// A durable app for the durable-host tests: it adds numbers.
mod counter {
    use rex::{Context, Durable, RexApp, RexEvent, RexMessage, SessionId};

    #[derive(Clone, Debug, RexMessage)]
    #[rex(app = "counter", events = CounterEvent)]
    pub enum CounterMsg {
        Add(u64),
    }

    #[derive(Clone, Debug, PartialEq, RexEvent)]
    pub enum CounterEvent {
        Total(u64),
    }

    #[derive(Default)]
    pub struct Counter {
        pub total: u64,
    }

    impl RexApp for Counter {
        type Protocol = CounterMsg;
    }

    impl CounterMsgHandler for Counter {
        fn add(
            &mut self,
            cx: &mut Context<'_, Self>,
            _from: SessionId,
            n: u64,
        ) -> Result<(), rex::Reject> {
            self.total += n;
            cx.emit(CounterEvent::Total(self.total));
            Ok(())
        }
    }

    impl Durable for Counter {
        type State = u64;
        fn state(&self) -> &u64 {
            &self.total
        }
        fn restore(&mut self, _cx: &mut Context<'_, Self>, total: u64) {
            self.total = total;
        }
    }
}

fn durable_host(dir: &std::path::Path) -> rex::HostBuilder<counter::Counter> {
    Host::builder(|_room: &rex::NewRoom| Ok(counter::Counter::default()))
        .data_dir(dir)
        .room_creation_rate(Rate::unlimited())
}

#[tokio::test]
async fn a_durable_host_restores_its_rooms_and_deletes_the_data_of_ended_ones() {
    let data = tempfile::tempdir().unwrap();
    let (host, control) = TestHost::start(durable_host(data.path()), async |h| h.control()).await;
    let mut rooms = Vec::new();
    for i in 0..3u64 {
        let room = host.open_room(&json!({"name": format!("table {i}")})).await;
        let player = room.session("Ann").await;
        for n in 0..=i {
            let reply = room
                .message(
                    player.token.expose(),
                    &json!({"kind": "add", "data": n + 1}),
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
        let info = room.get("/rex/v0/info").await.json();
        rooms.push((room, player, info));
    }
    let rooms_dir = data.path().join("rooms");
    let ended = rooms[0].0.code;
    assert!(rooms_dir.join(ended.as_str()).join("room.json").is_file());
    assert!(control.close_room(ended));
    // The room's data goes once its app has stopped.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rooms_dir.join(ended.as_str()).exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ended room's directory was not deleted within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rooms[0].0.get("/rex/v0/info").await.status, 410);
    host.stop().await;

    // Started again on the same directory: the two open rooms come back as
    // they were; the ended one is unknown.
    let (host, control) = TestHost::start(durable_host(data.path()), async |h| h.control()).await;
    let mut back = control.rooms();
    back.sort();
    let mut open: Vec<RoomCode> = rooms[1..].iter().map(|(r, _, _)| r.code).collect();
    open.sort();
    assert_eq!(back, open);
    for (room, player, before) in &rooms[1..] {
        let room = RoomHttp::new(host.http(), room.code);
        let info = room.get("/rex/v0/info").await.json();
        for field in ["epoch", "head", "name", "sessions"] {
            assert_eq!(
                info[field], before[field],
                "{}: {field} after the restart",
                room.base
            );
        }
        // The player's token still works, and the app's state is back.
        let reply = room
            .message(player.token.expose(), &json!({"kind": "add", "data": 100}))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let mut stream = room
            .events(&format!("start={}", before["head"]), None)
            .await;
        let event = stream.next_event().await;
        assert_eq!(event["index"], before["head"]);
        assert!(
            event["data"].as_u64().unwrap() > 100,
            "the total carried on: {event}"
        );
    }
    let gone = RoomHttp::new(host.http(), ended).get("/rex/v0/info").await;
    gone.assert_error(404, "not_found");
    host.stop().await;
}

#[tokio::test]
async fn a_stored_room_that_cannot_be_loaded_keeps_its_code_and_the_others_are_served() {
    let data = tempfile::tempdir().unwrap();
    let (host, ()) = TestHost::start(durable_host(data.path()), async |_| ()).await;
    let good = host.open_room(&json!({})).await;
    let bad = host.open_room(&json!({})).await;
    host.stop().await;
    let record = data
        .path()
        .join("rooms")
        .join(bad.code.as_str())
        .join("room.json");
    std::fs::write(&record, b"{ not json").unwrap();

    let (host, ()) = TestHost::start(durable_host(data.path()), async |_| ()).await;
    assert_eq!(
        RoomHttp::new(host.http(), good.code)
            .get("/rex/v0/info")
            .await
            .status,
        200
    );
    let refused = RoomHttp::new(host.http(), bad.code)
        .get("/rex/v0/info")
        .await;
    let reason = refused.assert_error(503, "unavailable");
    assert!(
        reason.contains("could not be loaded") && reason.contains("room.json"),
        "{reason}"
    );
    // Its data is left for the operator.
    assert!(record.is_file());
    host.stop().await;

    // A second host on the same directory is refused while one runs.
    let (host, ()) = TestHost::start(durable_host(data.path()), async |_| ()).await;
    let second = durable_host(data.path()).bind("127.0.0.1:0").await;
    let error = second
        .err()
        .expect("a second host on the same directory is refused");
    assert!(
        error.to_string().contains("in use by another running host"),
        "{error}"
    );
    host.stop().await;
}
