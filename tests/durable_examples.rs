//! The example servers with `--data DIR`, killed with SIGKILL in the middle
//! of things and started again on the same port with the same directory:
//! `chat`, `trivia` and `remote-tv` as a person runs them.
//!
//! After each restart: the same epoch and head, the log clock did not go
//! back, the old sessions' tokens still work, a message retried with the
//! same id returns its first receipt and is not handled again, and the
//! app is what it was (members, scores and the open question with its
//! deadline, the track and when it ends). Typed clients that were following
//! the log go on by themselves: no `Resync`, and the indexes they yield are
//! exactly the ones the log shows them, none lost or repeated.

use std::path::Path;

use futures_util::StreamExt;
use rex::{ClientError, Event, EventStream, StreamItem};
use rex_examples::chat::{ChatEvent, ChatMsgClient};
use rex_examples::remote::{PlayerView, RemoteClient, RemoteEvent};
use rex_examples::trivia::bot::TriviaClient;
use rex_examples::trivia::TriviaEvent;
use rex_tests::example::{ExampleServer, PATIENCE};
use rex_tests::{index, Http};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What a typed client's event stream yielded, read by a task as it comes.
struct Follower<E> {
    who: &'static str,
    rx: mpsc::UnboundedReceiver<Result<StreamItem<E>, ClientError>>,
    /// Every event, in the order yielded.
    events: Vec<Event<E>>,
    /// How many `Connection::Reconnecting` and `Connected` items came.
    reconnecting: usize,
    connected: usize,
    /// Resyncs, unknown kinds and errors: none is expected.
    trouble: Vec<String>,
    /// `events[..checked]` were already offered to an `until`.
    checked: usize,
}

impl<E: std::fmt::Debug + Send + 'static> Follower<E> {
    fn spawn(who: &'static str, mut stream: EventStream<E>) -> Follower<E> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if tx.send(item).is_err() {
                    return;
                }
            }
        });
        Follower {
            who,
            rx,
            events: Vec::new(),
            reconnecting: 0,
            connected: 0,
            trouble: Vec::new(),
            checked: 0,
        }
    }

    fn take(&mut self, item: Result<StreamItem<E>, ClientError>) {
        match item {
            Ok(StreamItem::Event(e)) => self.events.push(e),
            Ok(StreamItem::Connection(rex::Connection::Connected)) => self.connected += 1,
            Ok(StreamItem::Connection(rex::Connection::Reconnecting { .. })) => {
                self.reconnecting += 1
            }
            Ok(StreamItem::Resync(r)) => self.trouble.push(format!("{r:?}")),
            Ok(StreamItem::Unknown { kind, .. }) => self.trouble.push(format!("unknown {kind}")),
            Err(e) => self.trouble.push(format!("error: {e}")),
        }
    }

    /// Reads until an event satisfies `wanted` (looking at the events not
    /// offered before) and returns it; panics after [`PATIENCE`] with what
    /// was awaited and what came.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Event<E>) -> bool) -> &Event<E> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self.events[self.checked..].iter().position(&wanted) {
                let at = self.checked + at;
                self.checked = at + 1;
                return &self.events[at];
            }
            self.checked = self.events.len();
            self.next(deadline, what).await;
        }
    }

    /// Reads until the stream says it lost its connection.
    async fn until_reconnecting(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        let before = self.reconnecting;
        while self.reconnecting == before {
            self.next(deadline, "`Connection::Reconnecting`").await;
        }
    }

    async fn next(&mut self, deadline: Instant, what: &str) {
        match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(item)) => self.take(item),
            Ok(None) => panic!("{} ended before {what}: {:#?}", self.who, self.events),
            Err(_) => panic!(
                "{} did not yield {what} within {PATIENCE:?}; it yielded {:#?}\ntrouble: {:?}",
                self.who, self.events, self.trouble
            ),
        }
    }

    /// Checks what the stream yielded against the log: exactly the
    /// indexes `visible` (what the log shows this reader, read over HTTP
    /// after the restart), in order; no resync or error; and that it lost
    /// its connection and got it back by itself.
    fn assert_resumed(&mut self, visible: &[u64]) {
        while let Ok(item) = self.rx.try_recv() {
            self.take(item);
        }
        let yielded: Vec<u64> = self.events.iter().map(|e| e.meta.index).collect();
        let first = yielded.first().copied().unwrap_or(0);
        let expected: Vec<u64> = visible.iter().copied().filter(|i| *i >= first).collect();
        assert_eq!(
            yielded, expected,
            "{}: the indexes yielded across the restart, against the log",
            self.who
        );
        assert!(self.trouble.is_empty(), "{}: {:?}", self.who, self.trouble);
        assert!(
            self.reconnecting >= 1 && self.connected >= 2,
            "{} reconnected by itself ({} reconnecting, {} connected items)",
            self.who,
            self.reconnecting,
            self.connected
        );
    }
}

/// `GET /info` before and after a restart: the same epoch, head and
/// sessions, and a log clock that went on (downtime included).
fn assert_same_room(before: &Value, after: &Value) {
    for field in ["app", "epoch", "head", "oldest", "sessions"] {
        assert_eq!(before[field], after[field], "{field}: {before} vs {after}");
    }
    let (was, is) = (before["time"].as_u64(), after["time"].as_u64());
    assert!(is >= was, "the log clock went back: {was:?} → {is:?}");
}

/// Indexes of the log as `token` sees it.
async fn visible(http: Http, token: Option<&str>) -> Vec<u64> {
    http.visible_log(token).await.iter().map(index).collect()
}

/// Sends `body` (with an `id`) as `token`; the receipt (`{first, count}`).
async fn post(http: Http, token: &str, body: &Value) -> Value {
    let reply = http.message(token, body).await;
    assert_eq!(reply.status, 200, "{body}: {:?}", reply.body);
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_with_data_survives_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let chat = ExampleServer::start(
        "chat",
        &[],
        data.path(),
        rex_tests::example::restartable_addr(),
    )
    .await;
    let (url, http) = (chat.url(), Http { addr: chat.addr });
    let alice = ChatMsgClient::builder(url.as_str())
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let bob = ChatMsgClient::builder(url.as_str())
        .name("Bob")
        .connect()
        .await
        .unwrap();
    let mut bobs = Follower::spawn("Bob's stream", bob.events_from(0));
    alice.say("before the crash").await.unwrap();
    let token = alice.credentials().unwrap().token;
    let once = json!({"kind": "say", "data": {"text": "only once"}, "id": 4242});
    let receipt = post(http, token.expose(), &once).await;
    bobs.until(
        "Alice's `only once`",
        |e| matches!(&e.event, ChatEvent::Said { text, .. } if text == "only once"),
    )
    .await;
    let before = http.info().await;

    let addr = chat.kill_9();
    bobs.until_reconnecting().await;
    let chat = ExampleServer::start("chat", &[], data.path(), addr).await;
    let after = http.info().await;
    assert_same_room(&before, &after);

    // The retry is answered with the first receipt and not said again.
    assert_eq!(post(http, token.expose(), &once).await, receipt);
    assert_eq!(http.info().await["head"], before["head"]);
    // The old sessions send as before; the room still knows Bob (a
    // whisper to a stranger is refused).
    let said = alice.say("after the crash").await.unwrap();
    assert_eq!(Some(said.first), before["head"].as_u64());
    alice
        .whisper(bob.session().unwrap(), "still here?")
        .await
        .unwrap();
    bobs.until(
        "Alice's whisper",
        |e| matches!(&e.event, ChatEvent::Whispered { text, .. } if text == "still here?"),
    )
    .await;
    let log = http.visible_log(None).await;
    let onces = log
        .iter()
        .filter(|e| e["data"]["text"] == "only once")
        .count();
    assert_eq!(onces, 1, "{log:?}");
    let bob_token = bob.credentials().unwrap().token;
    bobs.assert_resumed(&visible(http, Some(bob_token.expose())).await);
    drop(chat);
}

/// A question file whose answers the test knows by the question's text
/// (the example shuffles the set).
fn write_questions(dir: &Path) -> std::path::PathBuf {
    let questions: Vec<Value> = (0..3)
        .map(|i| {
            json!({
                "question": format!("Question {i}?"),
                "choices": ["red", "green", "blue", "yellow"],
                "answer": i % 4,
            })
        })
        .collect();
    let path = dir.join("questions.json");
    std::fs::write(&path, Value::from(questions).to_string()).unwrap();
    path
}

/// The correct choice of a question of [`write_questions`].
fn answer_of(text: &str) -> u32 {
    let i: u32 = text
        .trim_start_matches("Question ")
        .trim_end_matches('?')
        .parse()
        .unwrap_or_else(|_| panic!("not one of ours: {text:?}"));
    i % 4
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trivia_with_data_survives_sigkill_mid_question() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let questions = write_questions(files.path());
    let questions = questions.to_str().unwrap();
    // 30 s per question: the first one must still be open when the room
    // is killed, just after two quick answers.
    let args = [
        "--questions",
        questions,
        "--rounds",
        "2",
        "--seconds",
        "30",
        "--pause",
        "1",
    ];
    let room = ExampleServer::start(
        "trivia",
        &args,
        data.path(),
        rex_tests::example::restartable_addr(),
    )
    .await;
    let (url, http) = (room.url(), Http { addr: room.addr });
    let join = |name: &'static str| {
        let url = url.clone();
        async move {
            TriviaClient::builder(url.as_str())
                .name(name)
                .connect()
                .await
                .unwrap()
        }
    };
    let (alice, bob, carol) = (join("Alice").await, join("Bob").await, join("Carol").await);
    let mut alices = Follower::spawn("Alice's stream", alice.events_from(0));
    alice.start().await.unwrap();
    let (text, closes_at_ms) = match &alices
        .until("question 1", |e| {
            matches!(e.event, TriviaEvent::Question { number: 1, .. })
        })
        .await
        .event
    {
        TriviaEvent::Question {
            text, closes_at_ms, ..
        } => (text.clone(), *closes_at_ms),
        _ => unreachable!(),
    };
    let right = answer_of(&text);
    // Alice answers right; Bob wrong, with an id of our choosing.
    alice.answer(1u32, right).await.unwrap();
    let bobs_token = bob.credentials().unwrap().token;
    let wrong =
        json!({"kind": "answer", "data": {"number": 1, "choice": (right + 1) % 4}, "id": 77});
    let receipt = post(http, bobs_token.expose(), &wrong).await;
    let before = http.info().await;

    let addr = room.kill_9();
    alices.until_reconnecting().await;
    let room = ExampleServer::start("trivia", &args, data.path(), addr).await;
    let after = http.info().await;
    assert_same_room(&before, &after);
    assert!(
        after["time"].as_u64().unwrap() < closes_at_ms,
        "question 1 (30 s) closed before it could be checked across the restart: {after}"
    );
    // Bob's retry gets its receipt; a new answer from him is refused as a
    // second one: his first counted, once.
    assert_eq!(post(http, bobs_token.expose(), &wrong).await, receipt);
    let again = bob.answer(1u32, right).await.unwrap_err();
    assert!(again.to_string().contains("already answered"), "{again}");
    // Carol does not answer: the deadline, re-armed, closes question 1 at
    // its time (never before).
    let revealed = alices
        .until("question 1's reveal", |e| {
            matches!(e.event, TriviaEvent::Revealed { number: 1, .. })
        })
        .await
        .clone();
    assert!(
        revealed.meta.time >= closes_at_ms,
        "revealed at {} before its deadline {closes_at_ms}",
        revealed.meta.time
    );
    let TriviaEvent::Revealed { counts, .. } = &revealed.event else {
        unreachable!()
    };
    assert_eq!(counts.iter().sum::<u32>(), 2, "Alice's and Bob's answers");
    let scores = match &alices
        .until("question 1's scores", |e| {
            matches!(e.event, TriviaEvent::Scores { number: 1, .. })
        })
        .await
        .event
    {
        TriviaEvent::Scores { standings, .. } => standings
            .iter()
            .map(|s| (s.name.clone(), s.score))
            .collect::<Vec<_>>(),
        _ => unreachable!(),
    };
    assert_eq!(scores[0].0, "Alice");
    assert!((500..=1000).contains(&scores[0].1), "{scores:?}");
    assert_eq!(&scores[1..], [("Bob".into(), 0), ("Carol".into(), 0)]);

    // The next question works: everyone answers right, it closes at once.
    let text = match &alices
        .until("question 2", |e| {
            matches!(e.event, TriviaEvent::Question { number: 2, .. })
        })
        .await
        .event
    {
        TriviaEvent::Question { text, .. } => text.clone(),
        _ => unreachable!(),
    };
    for player in [&alice, &bob, &carol] {
        player.answer(2u32, answer_of(&text)).await.unwrap();
    }
    let finished = match &alices
        .until("the final standings", |e| {
            matches!(e.event, TriviaEvent::Finished { .. })
        })
        .await
        .event
    {
        TriviaEvent::Finished { standings } => standings.clone(),
        _ => unreachable!(),
    };
    let alice_total = finished.iter().find(|s| s.name == "Alice").unwrap().score;
    assert!(alice_total > scores[0].1 + 500, "{finished:?}");
    assert_eq!(finished.len(), 3);
    // Alice's private results add up to her total.
    let results: Vec<u32> = alices
        .events
        .iter()
        .filter_map(|e| match e.event {
            TriviaEvent::Result { points, .. } => Some(points),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results.iter().sum::<u32>(), alice_total);
    let alices_token = alice.credentials().unwrap().token;
    alices.assert_resumed(&visible(http, Some(alices_token.expose())).await);
    drop(room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tv_with_data_survives_sigkill_and_the_track_ends_on_time() {
    let data = tempfile::tempdir().unwrap();
    let tv = ExampleServer::start(
        "remote-tv",
        &[],
        data.path(),
        rex_tests::example::restartable_addr(),
    )
    .await;
    let (url, http) = (tv.url(), Http { addr: tv.addr });
    let phone = RemoteClient::builder(url.as_str())
        .name("phone")
        .connect()
        .await
        .unwrap();
    let start: rex::StateAt<PlayerView> = phone.snapshot().await.unwrap();
    assert!(start.state.playing, "remote-tv plays at once");
    let mut phones = Follower::spawn("the phone's stream", phone.events_from(start.index));
    // Volume up once, with an id of our choosing; a track queued; and the
    // playing track 20 s before its end.
    let token = phone.credentials().unwrap().token;
    let up = json!({"kind": "volume_up", "id": 5});
    let receipt = post(http, token.expose(), &up).await;
    phone.queue(2u32).await.unwrap();
    let duration = start.state.current().unwrap().duration_ms;
    let seeked = phone.seek(duration as i64 - 20_000).await.unwrap();
    let seeked_at = match &phones
        .until("the seek", |e| e.meta.index == seeked.first)
        .await
        .event
    {
        RemoteEvent::Seeked { at_ms, .. } => *at_ms,
        other => panic!("expected the seek, got {other:?}"),
    };
    let ends_at = seeked_at + 20_000;
    let before: rex::StateAt<PlayerView> = phone.snapshot().await.unwrap();
    let info = http.info().await;

    let addr = tv.kill_9();
    phones.until_reconnecting().await;
    let tv = ExampleServer::start("remote-tv", &[], data.path(), addr).await;
    let after = http.info().await;
    if after["time"].as_u64().unwrap() < ends_at {
        // Unless the track ended already (a very slow restart), the
        // player is exactly as it was.
        assert_same_room(&info, &after);
        let now: rex::StateAt<PlayerView> = phone.snapshot().await.unwrap();
        assert_eq!(now.state, before.state, "the player as it was");
    }
    assert_eq!(post(http, token.expose(), &up).await, receipt);
    // The track ends at its time, not before, and the queued one plays.
    let changed = phones
        .until("the end of the track", |e| {
            matches!(e.event, RemoteEvent::TrackChanged { .. })
        })
        .await
        .clone();
    assert!(
        changed.meta.time >= ends_at,
        "the track ended at {} before its end at {ends_at}",
        changed.meta.time
    );
    let RemoteEvent::TrackChanged {
        track, from_queue, ..
    } = changed.event
    else {
        unreachable!()
    };
    assert_eq!((track, from_queue), (2, true));
    // What the phone reduced from the log is the player's state, and the
    // volume went up once.
    let mut view = start.state.clone();
    for e in &phones.events {
        view.apply(&e.event);
    }
    let now: rex::StateAt<PlayerView> = phone.snapshot().await.unwrap();
    assert_eq!(view, now.state);
    assert_eq!(view.volume, start.state.volume + 5);
    phones.assert_resumed(&visible(http, None).await);
    drop(tv);
}

/// Runs example `name` on `data`, which it must refuse: returns what it
/// printed on stderr. Panics if it serves instead (killing it after
/// [`PATIENCE`]) or exits with success.
fn refused(name: &str, data: &Path) -> String {
    let mut child = std::process::Command::new(rex_tests::example::example_binary(name))
        .args(["--no-discovery", "--bind", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not refuse {} within {PATIENCE:?}",
                data.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{name} exited with success: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_in_use_or_of_another_app_is_refused_in_a_sentence() {
    let data = tempfile::tempdir().unwrap();
    let chat = ExampleServer::start(
        "chat",
        &[],
        data.path(),
        rex_tests::example::restartable_addr(),
    )
    .await;
    let data_dir = data.path().to_owned();
    let in_use = tokio::task::spawn_blocking(move || refused("remote-tv", &data_dir))
        .await
        .unwrap();
    let says = |text: &str, program: &str, what: &str| {
        text.lines()
            .any(|l| l.starts_with(&format!("{program}: ")) && l.contains(what))
    };
    assert!(
        says(
            &in_use,
            "remote-tv",
            "already open in another running process"
        ),
        "{in_use}"
    );
    chat.kill_9();
    let data_dir = data.path().to_owned();
    let other = tokio::task::spawn_blocking(move || refused("trivia", &data_dir))
        .await
        .unwrap();
    assert!(
        says(&other, "trivia", "holds a room of app `chat`, not `trivia`"),
        "{other}"
    );
    // Neither touched the chat room: it starts again as it was.
    let chat = ExampleServer::start(
        "chat",
        &[],
        data.path(),
        rex_tests::example::restartable_addr(),
    )
    .await;
    let info = Http { addr: chat.addr }.info().await;
    assert_eq!(info["app"], "chat");
}
