//! `GET /rex/v0/snapshot` (protocol §7): the app's state as of an index of
//! the log, over real TCP on 127.0.0.1. A reader that starts from a
//! snapshot and follows the log from its index ends with exactly the state
//! of a reader that replayed the whole log, even while many writers append
//! and even after retention dropped the start of the log; private state
//! reaches only its session; every refusal changes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use rex::{
    Client, ClientError, Context, Rate, Reject, Retention, RexApp, RexEvent, RexMessage, Server,
    SessionId, Snapshot, StateAt, StreamItem,
};
use rex_examples::chat::ChatApp;
use rex_tests::{Http, TestServer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const SNAPSHOT: &str = "/rex/v0/snapshot";

/// What a phone can do to the tally.
#[derive(Clone, Debug, PartialEq, Eq, RexMessage)]
#[rex(app = "tally", events = TallyEvent)]
enum TallyMsg {
    /// Adds `n` to the counter `key`.
    Add { key: String, n: i64 },
    /// Keeps a note only the sender sees.
    Note { text: String },
    /// Makes the next snapshot fail to encode (an app bug, on purpose).
    Break,
}

/// What the tally shows.
#[derive(Clone, Debug, PartialEq, Eq, RexEvent)]
enum TallyEvent {
    /// A counter's new total.
    Added { key: String, total: i64 },
    /// A note, private to its author.
    Noted { text: String },
}

/// The state a reader keeps: built from a snapshot, then event by event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct View {
    totals: BTreeMap<String, i64>,
    /// The viewer's own notes (empty for an anonymous reader).
    notes: Vec<String>,
}

impl View {
    fn apply(&mut self, event: &TallyEvent) {
        match event {
            TallyEvent::Added { key, total } => {
                self.totals.insert(key.clone(), *total);
            }
            TallyEvent::Noted { text } => self.notes.push(text.clone()),
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    totals: BTreeMap<String, i64>,
    notes: BTreeMap<SessionId, Vec<String>>,
    broken: bool,
}

impl RexApp for Tally {
    type Protocol = TallyMsg;

    fn snapshot(&self, viewer: Option<SessionId>) -> Option<Snapshot> {
        if self.broken {
            // JSON object keys must be strings: this cannot be encoded.
            let bad: BTreeMap<Vec<u8>, u8> = BTreeMap::from([(vec![1], 1)]);
            return Some(Snapshot::new(&bad));
        }
        let notes = viewer
            .and_then(|v| self.notes.get(&v).cloned())
            .unwrap_or_default();
        Some(Snapshot::new(&View {
            totals: self.totals.clone(),
            notes,
        }))
    }
}

impl TallyMsgHandler for Tally {
    fn add(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        key: String,
        n: i64,
    ) -> Result<(), Reject> {
        if n == 0 {
            return Err(Reject::new("adding 0 changes nothing"));
        }
        let total = self.totals.entry(key.clone()).or_default();
        *total += n;
        let total = *total;
        cx.emit(TallyEvent::Added { key, total });
        Ok(())
    }

    fn note(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        text: String,
    ) -> Result<(), Reject> {
        self.notes.entry(from).or_default().push(text.clone());
        cx.emit_to([from], TallyEvent::Noted { text });
        Ok(())
    }

    fn r#break(&mut self, _cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        self.broken = true;
        Ok(())
    }
}

type TallyClient = Client<TallyMsg>;

async fn tally(retention: Retention) -> TestServer<Tally> {
    TestServer::start(
        Server::builder(Tally::default())
            .name("tally")
            .retention(retention)
            // The tests add in quick loops from one session, past the
            // default message rate; they are about snapshots, not limits.
            .message_rate(Rate::unlimited()),
    )
    .await
}

fn url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}")
}

async fn add(http: &Http, token: &str, key: &str, n: i64) {
    let reply = http
        .message(token, &json!({"kind": "add", "data": {"key": key, "n": n}}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// The parts of `/info` a refused request must leave alone.
async fn counters(http: &Http) -> Value {
    let info = http.info().await;
    json!({"epoch": info["epoch"], "head": info["head"], "oldest": info["oldest"], "sessions": info["sessions"]})
}

#[tokio::test]
async fn a_snapshot_is_the_state_at_the_head_with_its_index_epoch_and_time() {
    let server = tally(Retention::unlimited()).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let token = alice.token.expose();
    add(&http, token, "red", 2).await;
    add(&http, token, "blue", 5).await;
    add(&http, token, "red", 1).await;

    let reply = http.get(SNAPSHOT).send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["cache-control"], "no-store");
    let body = reply.json();
    let info = http.info().await;
    assert_eq!(body["index"], info["head"]);
    assert_eq!(body["index"], 3);
    assert_eq!(body["epoch"], info["epoch"]);
    assert_eq!(reply.headers["rex-epoch"], info["epoch"].as_str().unwrap());
    assert!(body["time"].as_u64().unwrap() <= info["time"].as_u64().unwrap());
    assert_eq!(
        body["data"],
        json!({"totals": {"blue": 5, "red": 3}, "notes": []})
    );
    server.stop().await;
}

#[tokio::test]
async fn private_state_reaches_only_its_session_by_header_or_query_token() {
    let server = tally(Retention::unlimited()).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    let bob = http.session("Bob").await;
    let note = |text: &str| json!({"kind": "note", "data": {"text": text}});
    assert_eq!(
        http.message(alice.token.expose(), &note("a secret"))
            .await
            .status,
        200
    );

    let as_alice = http.get(SNAPSHOT).bearer(alice.token.expose()).send().await;
    assert_eq!(as_alice.json()["data"]["notes"], json!(["a secret"]));
    let by_query = http
        .get(&format!("{SNAPSHOT}?token={}", alice.token.expose()))
        .send()
        .await;
    assert_eq!(by_query.json()["data"]["notes"], json!(["a secret"]));
    let as_bob = http.get(SNAPSHOT).bearer(bob.token.expose()).send().await;
    assert_eq!(as_bob.json()["data"]["notes"], json!([]));
    let anonymous = http.get(SNAPSHOT).send().await;
    assert_eq!(anonymous.json()["data"]["notes"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn refusals_have_codes_and_change_nothing() {
    let server = tally(Retention::unlimited()).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    add(&http, alice.token.expose(), "red", 1).await;
    let before = counters(&http).await;
    let log = http.visible_log(None).await;

    // A token no session has.
    let reply = http.get(SNAPSHOT).bearer("not-a-token").send().await;
    reply.assert_error(401, "unauthorized");
    let reply = http.get(&format!("{SNAPSHOT}?token=nope")).send().await;
    reply.assert_error(401, "unauthorized");
    // The wrong method.
    let reply = http.post(SNAPSHOT).send().await;
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.headers["allow"], "GET");
    assert_eq!(counters(&http).await, before);
    assert_eq!(http.visible_log(None).await, log);

    // The app's snapshot cannot be encoded: 500, and the app goes on.
    let reply = http
        .message(alice.token.expose(), &json!({"kind": "break"}))
        .await;
    assert_eq!(reply.status, 200);
    let before = counters(&http).await;
    let reply = http.get(SNAPSHOT).send().await;
    let reason = reply.assert_error(500, "internal");
    assert!(reason.contains("snapshot"), "{reason}");
    assert_eq!(counters(&http).await, before);
    add(&http, alice.token.expose(), "red", 1).await;
    server.stop().await;
}

#[tokio::test]
async fn an_app_without_snapshots_answers_not_found() {
    let server = TestServer::start(Server::builder(ChatApp::default())).await;
    let http = server.client();
    let before = counters(&http).await;
    let reply = http.get(SNAPSHOT).send().await;
    let reason = reply.assert_error(404, "not_found");
    assert!(reason.contains("snapshot"), "{reason}");
    assert_eq!(counters(&http).await, before);

    let client = Client::<rex_examples::chat::ChatMsg>::builder(url(server.addr).as_str())
        .anonymous()
        .connect()
        .await
        .unwrap();
    let error = client.snapshot::<Value>().await.unwrap_err();
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_snapshot_that_does_not_fit_the_clients_type_is_a_protocol_error() {
    let server = tally(Retention::unlimited()).await;
    let client = TallyClient::builder(url(server.addr).as_str())
        .anonymous()
        .connect()
        .await
        .unwrap();
    let error = client.snapshot::<Vec<u8>>().await.unwrap_err();
    assert!(matches!(error, ClientError::Protocol { .. }), "{error:?}");
    server.stop().await;
}

/// Takes a snapshot, then follows the log from its index until the view
/// reflects every event before `head` (all public here); returns the view.
async fn catch_up(client: &TallyClient, head: u64) -> View {
    let StateAt {
        mut state, index, ..
    } = client.snapshot::<View>().await.unwrap();
    let mut events = client.events_from(index);
    let mut next = index;
    while next < head {
        let item = tokio::time::timeout(Duration::from_secs(20), events.next())
            .await
            .expect("the log goes on")
            .unwrap()
            .unwrap();
        if let StreamItem::Connection(_) = item {
            continue;
        }
        let StreamItem::Event(e) = item else {
            panic!("unexpected {item:?}");
        };
        assert_eq!(
            e.meta.index, next,
            "each event once, in order, after the snapshot"
        );
        state.apply(&e.event);
        next += 1;
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_from_snapshots_taken_during_writes_end_with_the_same_state() {
    const WRITERS: usize = 8;
    const ADDS: usize = 40;
    const READERS: usize = 16;
    let server = tally(Retention::unlimited()).await;
    let http = server.client();
    let base = url(server.addr);

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let base = base.clone();
        writers.push(tokio::spawn(async move {
            let client = TallyClient::builder(base.as_str())
                .name(format!("writer {w}"))
                .connect()
                .await
                .unwrap();
            for i in 0..ADDS {
                let key = ["red", "green", "blue"][(w + i) % 3];
                client
                    .send(&TallyMsg::Add {
                        key: key.into(),
                        n: (i as i64 % 7) + 1,
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    // Readers take their snapshots at different moments while the writers
    // append, and each follows the log from its own snapshot's index.
    let mut readers = Vec::new();
    for r in 0..READERS {
        let base = base.clone();
        readers.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(15 * r as u64)).await;
            let client = TallyClient::builder(base.as_str())
                .anonymous()
                .connect()
                .await
                .unwrap();
            let at = client.snapshot::<View>().await.unwrap();
            (client, at)
        }));
    }
    let mut taken = Vec::new();
    for reader in readers {
        taken.push(reader.await.unwrap());
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let head = http.info().await["head"].as_u64().unwrap();
    assert_eq!(head, (WRITERS * ADDS) as u64);
    let indexes: std::collections::BTreeSet<u64> = taken.iter().map(|(_, at)| at.index).collect();
    assert!(
        indexes.len() > 1,
        "the snapshots should be taken at different points of the log: {indexes:?}"
    );

    // The state every reader must reach: the whole log replayed.
    let mut replayed = View::default();
    for event in http.visible_log(None).await {
        let event = TallyEvent::decode(event["kind"].as_str().unwrap(), event.get("data").cloned())
            .unwrap();
        replayed.apply(&event);
    }
    let last = taken.last().map(|(_, at)| at.state.clone()).unwrap();
    for (client, at) in taken {
        let mut state = at.state;
        let mut events = client.events_from(at.index);
        let mut next = at.index;
        while next < head {
            let item = tokio::time::timeout(Duration::from_secs(20), events.next())
                .await
                .expect("the log goes on")
                .unwrap()
                .unwrap();
            if let StreamItem::Connection(_) = item {
                continue;
            }
            let StreamItem::Event(e) = item else {
                panic!("unexpected {item:?}");
            };
            assert_eq!(e.meta.index, next, "each event once, in order");
            state.apply(&e.event);
            next += 1;
        }
        assert_eq!(state, replayed, "the reader from index {}", at.index);
    }
    // And a fresh snapshot is the same state, with nothing left to follow.
    let client = TallyClient::builder(base.as_str())
        .anonymous()
        .connect()
        .await
        .unwrap();
    let now = client.snapshot::<View>().await.unwrap();
    assert_eq!(now.index, head);
    assert_eq!(now.state, replayed);
    assert_ne!(last, View::default());
    server.stop().await;
}

#[tokio::test]
async fn a_snapshot_catches_up_where_retention_dropped_the_log() {
    let server = tally(Retention::max_events(10)).await;
    let http = server.client();
    let alice = http.session("Alice").await;
    for i in 0..50 {
        add(&http, alice.token.expose(), ["a", "b"][i % 2], 1).await;
    }
    // Replaying is no longer possible…
    let reply = http.get("/rex/v0/events?start=0").send().await;
    reply.assert_error(410, "gone");
    // …but a snapshot and the tail are.
    let client = TallyClient::builder(url(server.addr).as_str())
        .name("Bob")
        .connect()
        .await
        .unwrap();
    let head = http.info().await["head"].as_u64().unwrap();
    let view = catch_up(&client, head).await;
    assert_eq!(
        view.totals,
        BTreeMap::from([("a".into(), 25), ("b".into(), 25)])
    );
    client
        .send(&TallyMsg::Add {
            key: "a".into(),
            n: 1,
        })
        .await
        .unwrap();
    let view = catch_up(&client, head + 1).await;
    assert_eq!(view.totals["a"], 26);
    server.stop().await;
}

#[tokio::test]
async fn a_session_sees_its_private_state_in_the_snapshot_and_its_private_events_after() {
    let server = tally(Retention::unlimited()).await;
    let base = url(server.addr);
    let alice = TallyClient::builder(base.as_str())
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let bob = TallyClient::builder(base.as_str())
        .name("Bob")
        .connect()
        .await
        .unwrap();
    alice
        .send(&TallyMsg::Note {
            text: "before".into(),
        })
        .await
        .unwrap();
    let at = alice.snapshot::<View>().await.unwrap();
    assert_eq!(at.state.notes, vec!["before".to_owned()]);
    assert_eq!(
        bob.snapshot::<View>().await.unwrap().state.notes,
        Vec::<String>::new()
    );

    let mut state = at.state;
    let mut events = alice.events_from(at.index);
    bob.send(&TallyMsg::Note {
        text: "bob's".into(),
    })
    .await
    .unwrap();
    alice
        .send(&TallyMsg::Note {
            text: "after".into(),
        })
        .await
        .unwrap();
    let item = loop {
        let item = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if !matches!(item, StreamItem::Connection(_)) {
            break item;
        }
    };
    let StreamItem::Event(e) = item else {
        panic!("unexpected {item:?}");
    };
    state.apply(&e.event);
    assert_eq!(state.notes, vec!["before".to_owned(), "after".to_owned()]);
    assert_eq!(alice.snapshot::<View>().await.unwrap().state, state);
    server.stop().await;
}
