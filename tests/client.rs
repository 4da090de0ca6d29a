//! The typed client against a real server over TCP: sessions, sends,
//! errors, restoring saved credentials, and the event stream's items.

use std::time::Duration;

use futures_util::StreamExt;
use rex::{Client, ClientError, Credentials, RexEvent, RexMessage, Server, StreamItem};
use rex_examples::chat::{ChatApp, ChatEvent, ChatMsg};
use rex_tests::app::{TestEvent, TestMsg};
use rex_tests::{start_test_app, TestApp, TestServer};

type TestClient = Client<TestMsg>;

/// The next item that is not about the connection (those have their own
/// tests in `faults.rs`).
async fn next_item<E: std::fmt::Debug>(
    events: &mut rex::EventStream<E>,
) -> Result<StreamItem<E>, ClientError> {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("no stream item within 10 s")
            .expect("the stream ended");
        if !matches!(item, Ok(StreamItem::Connection(_))) {
            return item;
        }
    }
}

async fn next_event<E: std::fmt::Debug>(events: &mut rex::EventStream<E>) -> rex::Event<E> {
    match next_item(events).await.unwrap() {
        StreamItem::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_follow_with_typed_messages_and_events() {
    let server = TestServer::start(Server::builder(ChatApp::default())).await;
    let alice = Client::<ChatMsg>::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let bob = Client::<ChatMsg>::builder(format!("http://{}/", server.addr))
        .name("Bob")
        .connect()
        .await
        .unwrap();
    let (a, b) = (alice.session().unwrap(), bob.session().unwrap());
    assert_eq!((alice.joined_at(), bob.joined_at()), (Some(0), Some(1)));
    let mut bobs = bob.events();
    let receipt = alice
        .send(&ChatMsg::Say { text: "hi".into() })
        .await
        .unwrap();
    assert_eq!((receipt.first, receipt.count), (2, 1));
    alice
        .send(&ChatMsg::Whisper {
            to: b,
            text: "psst".into(),
        })
        .await
        .unwrap();

    let joined = next_event(&mut bobs).await;
    assert_eq!(
        joined.event,
        ChatEvent::Joined {
            session: a,
            name: "Alice".into()
        }
    );
    assert_eq!((joined.meta.index, joined.meta.origin), (0, Some(a)));
    next_event(&mut bobs).await;
    let said = next_event(&mut bobs).await;
    assert_eq!(
        said.event,
        ChatEvent::Said {
            from: a,
            text: "hi".into()
        }
    );
    let whisper = next_event(&mut bobs).await;
    assert!(whisper.meta.is_private());
    assert_eq!(
        whisper.event,
        ChatEvent::Whispered {
            from: a,
            to: b,
            text: "psst".into()
        }
    );
    assert_eq!(bob.credentials().unwrap().last_seen, Some(3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_map_to_typed_variants_with_the_reason() {
    let server = TestServer::start(Server::builder(ChatApp::default())).await;
    let alice = Client::<ChatMsg>::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let err = alice
        .send(&ChatMsg::Say { text: "".into() })
        .await
        .unwrap_err();
    match err {
        ClientError::Rejected { reason } => {
            assert_eq!(reason, "the message is empty; type something first")
        }
        other => panic!("{other:?}"),
    }
    // A newer client of the same app, with a kind this server does not know.
    let newer = Client::<NewerChatMsg>::builder(server.addr)
        .connect()
        .await
        .unwrap();
    let err = newer
        .send(&NewerChatMsg::Shout { text: "hey".into() })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::UnknownKind { reason } if reason.contains("say, whisper, rename")),
        "{err}"
    );
    newer
        .send(&NewerChatMsg::Say { text: "hi".into() })
        .await
        .unwrap();
    // An anonymous client cannot send.
    let watcher = Client::<ChatMsg>::builder(server.addr)
        .anonymous()
        .connect()
        .await
        .unwrap();
    assert!(matches!(
        watcher.send(&ChatMsg::Say { text: "x".into() }).await,
        Err(ClientError::NoSession)
    ));
    // Not a base URL (a path is one, a query is not): refused before any
    // request.
    let err = Client::<ChatMsg>::builder("http://example/nope?page=2")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidUrl { .. }), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_after_bounded_retries() {
    // A port just freed on an address no other test binds (all of
    // 127.0.0.0/8 is loopback): on 127.0.0.1 a test running beside this one
    // could bind the freed port at once and answer.
    let listener = std::net::TcpListener::bind("127.77.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = TestClient::builder(addr)
        .retry(rex::RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        })
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_credentials_come_back_as_the_same_session_and_resume() {
    let server = start_test_app().await;
    let first = TestClient::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    first.send(&TestMsg::Burst(3)).await.unwrap();
    let mut events = first.events();
    for want in 0..4 {
        assert_eq!(next_event(&mut events).await.meta.index, want);
    }
    let saved = serde_json::to_string(&first.credentials().unwrap()).unwrap();
    drop(events);
    drop(first);

    let creds: Credentials = serde_json::from_str(&saved).unwrap();
    assert_eq!(creds.last_seen, Some(3));
    let again = TestClient::builder(server.addr)
        .restore(creds.clone())
        .connect()
        .await
        .unwrap();
    assert!(again.restored());
    assert_eq!(again.session(), Some(creds.session));
    // Ids continue to be unique: the restored client's count is handled.
    again.send(&TestMsg::Count).await.unwrap();
    let mut resumed = again.events();
    let e = next_event(&mut resumed).await;
    assert_eq!(e.meta.index, 4, "resumes after the last seen index");
    assert_eq!(e.event, TestEvent::Counted { times: 1 });
    assert_eq!(e.meta.origin, Some(creds.session));
    server.stop().await;

    // Another server (new epoch): the old session is gone, a new one is made.
    let server = start_test_app().await;
    let fresh = TestClient::builder(server.addr)
        .name("Alice")
        .restore(creds.clone())
        .connect()
        .await
        .unwrap();
    assert!(!fresh.restored());
    assert_ne!(fresh.session(), Some(creds.session));
    assert_eq!(fresh.credentials().unwrap().last_seen, None);
    server.stop().await;
}

/// The chat protocol as a newer client knows it: one kind more.
#[derive(Debug, RexMessage)]
#[rex(app = "chat", events = ChatEvent)]
enum NewerChatMsg {
    Say { text: String },
    Shout { text: String },
}

/// The test app's protocol as an older client knows it: the same app and
/// messages it sends, and events without `counted` and with a `secret`
/// whose `text` it expects to be a number.
#[derive(Debug, PartialEq, RexMessage)]
#[rex(app = "test", events = OldEvent)]
enum OldMsg {
    Count,
    Secret {
        to: Vec<rex::SessionId>,
        text: String,
    },
    Tag {
        tag: String,
    },
}

#[derive(Debug, PartialEq, RexEvent)]
enum OldEvent {
    Joined { session: rex::SessionId },
    Tick { tag: String },
    Secret { text: u32 },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_arrive_as_unknown_and_bad_payloads_as_errors_without_ending_the_stream() {
    let server = start_test_app().await;
    let client = Client::<OldMsg>::builder(server.addr)
        .name("old")
        .connect()
        .await
        .unwrap();
    let me = client.session().unwrap();
    client.send(&OldMsg::Count).await.unwrap();
    client
        .send(&OldMsg::Secret {
            to: vec![me],
            text: "not a number".into(),
        })
        .await
        .unwrap();
    client
        .send(&OldMsg::Tag {
            tag: "after".into(),
        })
        .await
        .unwrap();
    let mut events = client.events();
    assert!(matches!(
        next_event(&mut events).await.event,
        OldEvent::Joined { .. }
    ));
    match next_item(&mut events).await.unwrap() {
        StreamItem::Unknown { meta, kind, data } => {
            assert_eq!((meta.index, kind.as_str()), (1, "counted"));
            assert_eq!(data.unwrap()["times"], 1);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    match next_item(&mut events).await {
        Err(ClientError::Decode { index: 2, error }) => {
            assert!(error.to_string().contains("field `text`"), "{error}")
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let after = next_event(&mut events).await;
    assert_eq!(
        (after.meta.index, after.event),
        (
            3,
            OldEvent::Tick {
                tag: "after".into()
            }
        )
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_read_public_events_only() {
    let server = start_test_app().await;
    let alice = TestClient::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let me = alice.session().unwrap();
    alice
        .send(&TestMsg::Secret {
            to: vec![me],
            text: "mine".into(),
        })
        .await
        .unwrap();
    alice
        .send(&TestMsg::Tag {
            tag: "public".into(),
        })
        .await
        .unwrap();
    let watcher = TestClient::builder(server.addr)
        .anonymous()
        .connect()
        .await
        .unwrap();
    let mut events = watcher.events();
    assert_eq!(next_event(&mut events).await.meta.index, 0);
    let e = next_event(&mut events).await;
    assert_eq!(
        (e.meta.index, e.event),
        (
            2,
            TestEvent::Tick {
                tag: "public".into()
            }
        )
    );
    let mut mine = alice.events();
    next_event(&mut mine).await;
    assert_eq!(
        next_event(&mut mine).await.event,
        TestEvent::Secret {
            text: "mine".into()
        }
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_the_session_and_many_sends_run_concurrently() {
    let server = TestServer::start(Server::builder(TestApp::default())).await;
    let client = TestClient::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.spawn(async move { client.send(&TestMsg::Count).await.unwrap() });
    }
    let mut firsts = Vec::new();
    while let Some(receipt) = tasks.join_next().await {
        firsts.push(receipt.unwrap().first);
    }
    firsts.sort();
    assert_eq!(firsts, (1..=50).collect::<Vec<_>>());
    assert_eq!(server.handle.run(|app, _| app.counts).await.unwrap(), 50);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_another_app_is_refused_with_both_ids_and_creates_nothing() {
    let server = start_test_app().await;
    let http = server.client();
    let before = http.info().await;
    let err = Client::<ChatMsg>::builder(server.addr)
        .name("lost")
        .connect()
        .await
        .unwrap_err();
    match &err {
        ClientError::WrongApp { expected, found } => {
            assert_eq!((*expected, found.as_str()), ("chat", "test"));
        }
        other => panic!("expected WrongApp, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`test`") && text.contains("`chat`"), "{text}");
    // The generated client checks the same way.
    let err = rex_examples::chat::ChatMsgClient::connect(server.addr)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::WrongApp { .. }), "{err:?}");
    // Nothing was created on the way: same head, same sessions.
    let after = http.info().await;
    assert_eq!(
        (after["head"].clone(), after["sessions"].clone()),
        (before["head"].clone(), before["sessions"].clone())
    );
    server.stop().await;
}

/// A room of a host is reached at its URL, `http://host/r/CODE`: every
/// request, the event stream included, goes under the room's path; when
/// the host closes the room the stream stops with a final `gone` instead
/// of resyncing, and once the host has forgotten the room (an hour later,
/// on tokio's paused clock) its code answers `404`.
#[tokio::test(start_paused = true)]
async fn a_hosted_room_is_joined_at_its_url_and_its_end_is_final() {
    use rex::client::HostClient;
    use rex::proto::CreateRoom;
    use rex_tests::host::TestHost;

    let builder =
        rex::Host::builder(|_room: &rex::NewRoom| Ok(ChatApp::default())).name("Quiz Host");
    let (host, control) = TestHost::start(builder, async |host| host.control()).await;

    let hosting = HostClient::connect(host.url().as_str()).await.unwrap();
    let info = hosting.info().await.unwrap();
    assert_eq!((info.app.as_str(), info.rooms), ("chat", 0));
    let created = hosting
        .create_room(&CreateRoom {
            name: Some("Friday quiz".into()),
            ..CreateRoom::default()
        })
        .await
        .unwrap();
    let code = created.room;
    assert_eq!(created.name, "Friday quiz");
    let room = hosting.room_endpoint(&created).unwrap();
    assert_eq!(room.as_str(), host.room_url(code));

    // Written the way a person might: lower case, with /rex/v0/.
    let lower = code.as_str().to_lowercase();
    let alice = Client::<ChatMsg>::builder(format!("{}/r/{lower}/rex/v0/", host.url()))
        .name("Alice")
        .connect()
        .await
        .unwrap();
    assert_eq!(alice.endpoint().path(), format!("/r/{lower}"));
    assert_eq!(alice.info().await.unwrap().name, "Friday quiz");
    let mut events = alice.events_from(0);
    alice
        .send(&ChatMsg::Say {
            text: "under a path".into(),
        })
        .await
        .unwrap();
    let mut said = None;
    while said.is_none() {
        if let ChatEvent::Said { text, .. } = next_event(&mut events).await.event {
            said = Some(text);
        }
    }
    assert_eq!(said.as_deref(), Some("under a path"));
    // The same room through the host's own answer.
    let bob = Client::<ChatMsg>::builder(room.clone())
        .anonymous()
        .connect()
        .await;
    assert!(bob.is_ok(), "{bob:?}");

    // The host closes the room: the open stream ends, the reconnect
    // answers `410` without bounds, and the stream ends with the error.
    assert!(control.close_room(code), "room {code} was open");
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.next().await {
                Some(Err(e)) if !e.is_transient() => return Some(e),
                Some(Ok(StreamItem::Resync(r))) => panic!("a room that ended is no resync: {r:?}"),
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .expect("timed out after 30 s waiting for the stream to give up on the closed room");
    match ended {
        Some(ClientError::Gone { reason, oldest, .. }) => {
            assert_eq!(
                reason,
                format!("room {code} has ended; ask for the code of the next game")
            );
            assert_eq!(oldest, None);
        }
        other => panic!("expected gone, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("timed out after 10 s waiting for the stream to end after its final error")
            .is_none(),
        "nothing after the final error"
    );
    let e = alice
        .send(&ChatMsg::Say {
            text: "hello?".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Gone { .. }), "{e:?}");

    // The host answers `410` for an hour, then forgets the room: its code
    // is unknown.
    let gone_for = rex::server::DEFAULT_ENDED_ROOM_GONE_FOR;
    let forgotten = tokio::time::timeout(gone_for * 2, async {
        loop {
            match Client::<ChatMsg>::builder(room.clone())
                .anonymous()
                .connect()
                .await
            {
                Err(ClientError::Gone { .. }) => tokio::time::sleep(Duration::from_secs(60)).await,
                other => return other,
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!("timed out after {gone_for:?} x 2 waiting for the ended room to answer 404")
    });
    match forgotten {
        Err(ClientError::NotFound { reason }) => {
            assert_eq!(reason, format!("no room {code}; check the code on the TV"))
        }
        other => panic!("expected not_found, got {other:?}"),
    }
    assert_eq!(hosting.info().await.unwrap().rooms, 0);
    host.stop().await;
}
