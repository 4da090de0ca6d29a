//! Rooms that move between hosts (`docs/protocol.md` §16), from the
//! client's side: the typed client reaches a room through a "wrong host"
//! (`rex_tests::moved::Redirector`, a real HTTP server on 127.0.0.1 that
//! answers `307 moved`) in front of a real `rex::Host`, follows the
//! redirect, keeps talking to the owner directly, goes back to the base it
//! was given when the owner stops answering, and refuses a redirect that
//! leads out of the room. The last test does it with a real group of hosts
//! sharing their rooms through Redis.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rex::client::HostClient;
use rex::proto::{CreateRoom, RoomCreated};
use rex::{Client, ClientError, EventStream, Host, NewRoom, RetryPolicy, RoomCode, StreamItem};
use rex_examples::chat::{ChatApp, ChatEvent, ChatMsg};
use rex_tests::app::{TestEvent, TestMsg};
use rex_tests::group::Group;
use rex_tests::host::TestHost;
use rex_tests::moved::Redirector;
use rex_tests::probe::{Ev, Msg};
use rex_tests::proxy::Proxy;
use rex_tests::TestApp;

/// Quick retries, and enough of them to outlast a host restarting.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 40,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
    }
}

/// A host of test rooms with one open room.
async fn test_host() -> (TestHost, RoomCode) {
    let builder = Host::builder(|_room: &NewRoom| Ok(TestApp::default()));
    TestHost::start(builder, async |host| {
        host.control()
            .open_room(CreateRoom::default())
            .await
            .unwrap()
            .room
    })
    .await
}

/// A durable host of chat rooms on `dir`, and the room `open` opens
/// (`None`: the rooms it restores).
async fn chat_host(dir: &std::path::Path, open: bool) -> (TestHost, Option<RoomCode>) {
    let builder = Host::builder(|_room: &NewRoom| Ok(ChatApp::default())).data_dir(dir);
    TestHost::start(builder, async |host| {
        if open {
            let created = host.control().open_room(CreateRoom::default()).await;
            Some(created.unwrap().room)
        } else {
            None
        }
    })
    .await
}

/// Waits until the stream has lost its connection and opened a new one.
async fn reconnected<E: std::fmt::Debug>(events: &mut EventStream<E>) {
    let mut lost = false;
    loop {
        let item = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("timed out after 30 s waiting for the stream to reconnect")
            .expect("the stream ended");
        match item {
            Ok(StreamItem::Connection(rex::Connection::Reconnecting { .. })) => lost = true,
            Ok(StreamItem::Connection(rex::Connection::Connected)) if lost => return,
            Ok(StreamItem::Connection(_)) => {}
            other => panic!("expected the stream to reconnect, got {other:?}"),
        }
    }
}

/// `http://127.0.0.1:port/r/CODE` of a proxy or redirector.
fn room_at(base: &str, code: RoomCode) -> String {
    format!("{base}{}", code.path())
}

/// The next item of a stream that is not about the connection; fails on
/// a resync (nothing in these tests may need one) and after 30 s.
async fn next_event<E: std::fmt::Debug>(events: &mut EventStream<E>) -> rex::Event<E> {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("timed out after 30 s waiting for the next event")
            .expect("the stream ended");
        match item {
            Ok(StreamItem::Event(e)) => return e,
            Ok(StreamItem::Connection(_)) => {}
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sent_to_another_host_follows_to_the_owner_and_stays_there() {
    let (host, code) = test_host().await;
    // The owner, as clients reach it: a proxy that can cut connections.
    let owner = Proxy::start(host.addr).await;
    let owner_url = format!("http://{}", owner.addr());
    let wrong = Redirector::start(&owner_url).await;

    // A stream silent for 300 ms is taken as dead and opened again: it
    // reconnects again and again, without cutting the client's pooled
    // connections.
    let client = Client::<TestMsg>::builder(room_at(&wrong.url(), code))
        .name("Ann")
        .retry(quick())
        .idle_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    assert_eq!(client.endpoint().as_str(), room_at(&wrong.url(), code));
    assert_eq!(
        client.current_endpoint().as_str(),
        room_at(&owner_url, code)
    );
    assert_eq!(client.current_endpoint().path(), code.path());

    let mut events = client.events_from(0);
    let joined = next_event(&mut events).await;
    assert!(
        matches!(joined.event, TestEvent::Joined { .. }),
        "{joined:?}"
    );
    for tag in ["a", "b"] {
        client
            .send(&TestMsg::Tag { tag: tag.into() })
            .await
            .unwrap();
    }
    let (one, two) = (next_event(&mut events).await, next_event(&mut events).await);
    // The stream reconnects: to the owner, not to the wrong host.
    reconnected(&mut events).await;
    client
        .send(&TestMsg::Tag { tag: "c".into() })
        .await
        .unwrap();
    let three = next_event(&mut events).await;
    let indexes = [
        joined.meta.index,
        one.meta.index,
        two.meta.index,
        three.meta.index,
    ];
    assert_eq!(indexes, [0, 1, 2, 3]);
    assert_eq!(three.event, TestEvent::Tick { tag: "c".into() });

    // Every other request of the room goes there too.
    let state: rex::StateAt<serde_json::Value> = client.snapshot().await.unwrap();
    assert_eq!(
        (state.index, &state.state["tags"]),
        (4, &serde_json::json!(3))
    );
    assert!(
        client.schema().await.unwrap().is_none(),
        "the test app has no schema"
    );
    assert_eq!(client.info().await.unwrap().head, 4);

    // The wrong host saw the first request only.
    assert_eq!(
        wrong.seen_paths(),
        [format!("GET {}/rex/v0/info", code.path())]
    );
    assert!(owner.connections() >= 3, "the owner served the rest");
    drop(events);
    owner.shutdown();
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_owner_dies_the_client_goes_back_to_its_base_and_resumes_on_the_new_owner() {
    let data = tempfile::tempdir().unwrap();
    let (first, code) = chat_host(data.path(), true).await;
    let code = code.unwrap();
    let owner = Proxy::start(first.addr).await;
    let wrong = Redirector::start(&format!("http://{}", owner.addr())).await;

    let ann = Client::<ChatMsg>::builder(room_at(&wrong.url(), code))
        .name("Ann")
        .retry(quick())
        .connect()
        .await
        .unwrap();
    let epoch = ann.info().await.unwrap().epoch;
    let mut events = ann.events_from(0);
    let mut seen = vec![next_event(&mut events).await];
    ann.send(&ChatMsg::Say { text: "one".into() })
        .await
        .unwrap();
    assert_eq!(wrong.seen().len(), 1, "{:?}", wrong.seen_paths());

    // An answer lost on the way back: the send goes again, through the
    // base the client was given, with the same id; the app handles it once.
    owner.drop_next_responses(1);
    let receipt = ann
        .send(&ChatMsg::Say { text: "two".into() })
        .await
        .unwrap();
    assert_eq!((receipt.first, receipt.count), (2, 1));
    assert_eq!(owner.pending_response_drops(), 0, "the answer was dropped");
    let again = wrong
        .wait_for("the resent message", |s| s.method == "POST")
        .await;
    assert_eq!(again.path, format!("{}/rex/v0/messages", code.path()));
    assert!(again.authorized, "the token goes with the request");

    // The owner dies; the room is taken over by a host at another address
    // (the same data: the same epoch and head), where the wrong host now
    // sends its requests.
    owner.shutdown();
    first.stop().await;
    let (second, _) = chat_host(data.path(), false).await;
    wrong.point_at(&second.url());

    let receipt = ann
        .send(&ChatMsg::Say {
            text: "three".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        (receipt.first, receipt.count),
        (3, 1),
        "no index lost or repeated"
    );
    assert_eq!(ann.current_endpoint().as_str(), second.room_url(code));
    assert_eq!(
        ann.info().await.unwrap().epoch,
        epoch,
        "no resync: the same log"
    );

    // The stream went the same way and goes on where it was.
    while seen.len() < 4 {
        seen.push(next_event(&mut events).await);
    }
    let indexes: Vec<u64> = seen.iter().map(|e| e.meta.index).collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    let said: Vec<&str> = seen
        .iter()
        .filter_map(|e| match &e.event {
            ChatEvent::Said { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["one", "two", "three"]);
    drop(events);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_out_of_the_room_is_refused_and_nothing_is_sent_there() {
    let (host, code) = test_host().await;
    let elsewhere = Redirector::start(&host.url()).await;
    let owner = Proxy::start(host.addr).await;
    let wrong = Redirector::start(&format!("http://{}", owner.addr())).await;

    // At connect: a Location with another room's path.
    let other = Redirector::start(&host.url()).await;
    let out = other.url();
    other.rewrite({
        let out = elsewhere.url();
        move |path| format!("{out}{}", path.replacen("/r/", "/r/X", 1))
    });
    let refused = Client::<TestMsg>::builder(room_at(&out, code))
        .name("Ann")
        .connect()
        .await
        .unwrap_err();
    let ClientError::Protocol { reason } = &refused else {
        panic!("expected a refused redirect, got {refused:?}");
    };
    let location = format!("{}/r/X{}/rex/v0/info", elsewhere.url(), code.as_str());
    assert!(reason.contains(&format!("`{location}`")), "{reason}");

    // A session's token: the owner's address turns into a host that
    // redirects out of the room. The event stream, cut, reconnects there
    // with the token, refuses the redirect and ends with the reason
    // instead of retrying.
    let ann = Client::<TestMsg>::builder(room_at(&wrong.url(), code))
        .name("Ann")
        .connect()
        .await
        .unwrap();
    let mut events = ann.events_from(0);
    next_event(&mut events).await;
    owner.retarget(other.addr());
    owner.cut_all();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return e,
                None => panic!("the stream ended without saying why"),
            }
        }
    })
    .await
    .expect("timed out after 30 s waiting for the stream to refuse the redirect");
    let ClientError::Protocol { reason } = &ended else {
        panic!("expected a refused redirect, got {ended:?}");
    };
    assert!(
        reason.contains(&format!(
            "{}/r/X{}/rex/v0/events?start=1",
            elsewhere.url(),
            code.as_str()
        )),
        "{reason}"
    );
    assert!(events.next().await.is_none());
    let asked = other
        .wait_for("the stream's request", |s| s.path.contains("/events"))
        .await;
    assert!(asked.authorized, "the owner's address got the token");
    assert_eq!(elsewhere.seen(), [], "nothing was sent out of the room");
    owner.shutdown();
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_five_redirects_in_a_row_is_moved() {
    let (host, code) = test_host().await;
    // Two hosts that each say the other is the owner.
    let a = Redirector::start(&host.url()).await;
    let b = Redirector::start(&a.url()).await;
    a.point_at(&b.url());
    let moved = Client::<TestMsg>::builder(room_at(&a.url(), code))
        .anonymous()
        .connect()
        .await
        .unwrap_err();
    let ClientError::Moved { reason } = &moved else {
        panic!("expected moved, got {moved:?}");
    };
    assert!(reason.contains("5 redirects"), "{reason}");
    // The first request, then 5 redirects followed.
    assert_eq!((a.seen().len(), b.seen().len()), (3, 3));
    // A redirect is not a failure: the request was not tried again.
    let info = format!("GET {}/rex/v0/info", code.path());
    assert!(a
        .seen_paths()
        .iter()
        .chain(&b.seen_paths())
        .all(|p| *p == info));

    // Five are followed.
    let c = Redirector::start(&host.url()).await;
    let mut chain = vec![c];
    for _ in 0..4 {
        let next = Redirector::start(&chain[chain.len() - 1].url()).await;
        chain.push(next);
    }
    let first = &chain[chain.len() - 1];
    let client = Client::<TestMsg>::builder(room_at(&first.url(), code))
        .anonymous()
        .connect()
        .await
        .unwrap();
    assert_eq!(client.current_endpoint().as_str(), host.room_url(code));
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_that_answers_503_sends_the_client_back_to_be_redirected() {
    let (host, code) = test_host().await;
    // The first redirect leads to a host that is shutting down (it answers
    // 503); the next ones to the real owner.
    let stopping = Redirector::start(&host.url()).await;
    stopping.unavailable();
    let wrong = Redirector::start(&host.url()).await;
    let redirects = Arc::new(AtomicUsize::new(0));
    wrong.rewrite({
        let (stopping, owner) = (stopping.url(), host.url());
        let redirects = redirects.clone();
        move |path| match redirects.fetch_add(1, SeqCst) {
            0 => format!("{stopping}{path}"),
            _ => format!("{owner}{path}"),
        }
    });
    let ann = Client::<TestMsg>::builder(room_at(&wrong.url(), code))
        .name("Ann")
        .retry(quick())
        .connect()
        .await
        .unwrap();
    ann.send(&TestMsg::Noop).await.unwrap();
    assert_eq!(ann.current_endpoint().as_str(), host.room_url(code));
    let info = format!("GET {}/rex/v0/info", code.path());
    assert_eq!(wrong.seen_paths(), [info.clone(), info.clone()]);
    assert_eq!(stopping.seen_paths(), [info]);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_endpoint_from_a_host_client_falls_back_to_the_hosts_peers() {
    let (host, code) = test_host().await;
    // The first host (it redirects every room request to the owner, a
    // proxy of the real host) and a peer (another proxy of it).
    let owner = Proxy::start(host.addr).await;
    let first = Redirector::start(&format!("http://{}", owner.addr())).await;
    let peer = Proxy::start(host.addr).await;
    let peer_url = format!("http://{}", peer.addr());
    first.set_peers(vec![first.url(), peer_url.clone(), "not a url".into()]);

    let hosting = HostClient::connect(first.url().as_str()).await.unwrap();
    let info = hosting.info().await.unwrap();
    assert_eq!(hosting.peers(), info.peers);
    let created = RoomCreated {
        room: code,
        path: code.path(),
        app: "test".into(),
        name: "Room".into(),
    };
    let room = hosting.room_endpoint(&created).unwrap();
    assert_eq!(
        room.candidates().collect::<Vec<_>>(),
        [room_at(&first.url(), code), room_at(&peer_url, code)]
    );

    let ann = Client::<TestMsg>::builder(room)
        .name("Ann")
        .retry(quick())
        .connect()
        .await
        .unwrap();
    let mut events = ann.events_from(0);
    next_event(&mut events).await;
    assert_eq!(
        ann.current_endpoint().as_str(),
        room_at(&format!("http://{}", owner.addr()), code)
    );

    // The first host and the owner's address die; the peer still serves.
    first.stop();
    owner.shutdown();
    let receipt = ann
        .send(&TestMsg::Tag {
            tag: "still here".into(),
        })
        .await
        .unwrap();
    assert_eq!(ann.current_endpoint().as_str(), room_at(&peer_url, code));
    let tick = next_event(&mut events).await;
    assert_eq!(tick.meta.index, receipt.first);
    assert_eq!(
        tick.event,
        TestEvent::Tick {
            tag: "still here".into()
        }
    );
    peer.shutdown();
    host.stop().await;
}

/// With a real group of hosts sharing their rooms through Redis (each a
/// `rex-durable-probe --redis` process): a client made from a
/// `HostClient`'s room endpoint, and one given the URL of a host that is
/// not the owner, both survive the owner's `SIGKILL`: they go back to the
/// bases they were given and on to the host that takes the room over, and
/// read every index once, with no resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_real_group_survive_the_owner_being_killed() {
    const PROBE: &str = env!("CARGO_BIN_EXE_rex-durable-probe");
    let patient = RetryPolicy {
        max_attempts: 1000,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(250),
    };
    let Some(mut group) = Group::start(PROBE, 3, Duration::from_secs(2)).await else {
        return;
    };
    let hosting = HostClient::connect(group.url(0).as_str()).await.unwrap();
    let mut peers = hosting.info().await.unwrap().peers;
    peers.sort();
    let mut all: Vec<String> = (0..3).map(|i| group.url(i)).collect();
    all.sort();
    assert_eq!(peers, all);
    let created = hosting.create_room(&CreateRoom::default()).await.unwrap();
    let room = hosting.room_endpoint(&created).unwrap();
    assert_eq!(room.candidates().count(), 3, "{room:?}");
    let owner = format!("{}{}", group.url(0), created.path);

    let ada = Client::<Msg>::builder(room)
        .name("ada")
        .retry(patient)
        .connect()
        .await
        .unwrap();
    let bob = Client::<Msg>::builder(format!("{}{}", group.url(1), created.path))
        .anonymous()
        .retry(patient)
        .connect()
        .await
        .unwrap();
    assert_eq!(ada.current_endpoint().as_str(), owner);
    assert_eq!(
        bob.current_endpoint().as_str(),
        owner,
        "followed to the owner"
    );
    let mut events = bob.events_from(0);
    for seq in 0..2 {
        ada.send(&Msg::Note { writer: 0, seq }).await.unwrap();
    }
    let mut indexes = Vec::new();
    while indexes.len() < 2 {
        indexes.push(next_event(&mut events).await.meta.index);
    }

    group.kill(0);
    for seq in 2..4 {
        let receipt = ada.send(&Msg::Note { writer: 0, seq }).await.unwrap();
        assert_eq!(receipt.count, 1);
    }
    let now = ada.current_endpoint();
    assert_ne!(now.as_str(), owner, "served by another host now");
    assert_eq!(now.path(), created.path);
    while indexes.len() < 4 {
        let event = next_event(&mut events).await;
        assert!(matches!(event.event, Ev::Noted { .. }), "{event:?}");
        indexes.push(event.meta.index);
    }
    let first = indexes[0];
    assert_eq!(indexes, (first..first + 4).collect::<Vec<_>>());
    assert_ne!(bob.current_endpoint().as_str(), owner);
}
