//! The typed client under real faults, through a proxy that cuts, stalls
//! and redirects its TCP connections: it must never lose, repeat or reorder
//! an event, and a message must be handled exactly once.

use std::time::Duration;

use futures_util::StreamExt;
use rex::{Client, ClientError, Connection, ResyncCause, RetryPolicy, Server, StreamItem};
use rex_tests::app::{TestEvent, TestMsg};
use rex_tests::proxy::Proxy;
use rex_tests::{start_test_app, TestApp, TestServer};

type TestClient = Client<TestMsg>;

/// Quick retries, so many cuts do not make the test slow.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
    }
}

/// The next item that is not about the connection.
async fn next_item(events: &mut rex::EventStream<TestEvent>) -> StreamItem<TestEvent> {
    loop {
        match next_any(events).await {
            StreamItem::Connection(_) => continue,
            item => return item,
        }
    }
}

async fn next_any(events: &mut rex::EventStream<TestEvent>) -> StreamItem<TestEvent> {
    tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("no stream item within 20 s")
        .expect("the stream ended")
        .expect("the stream yielded an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_cut_mid_flight_many_times_yields_every_index_once_in_order() {
    let server = start_test_app().await;
    let proxy = Proxy::start(server.addr).await;
    let client = TestClient::builder(proxy.addr())
        .anonymous()
        .retry(fast_retry())
        .connect()
        .await
        .unwrap();
    let mut events = client.events();

    let handle = server.handle.clone();
    let writer = tokio::spawn(async move {
        for i in 0..1000 {
            handle
                .emit(TestEvent::Tick {
                    tag: format!("event {i}"),
                })
                .await
                .unwrap();
            if i % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    // Cut at changing byte positions (mostly mid-line), and now and then
    // cut everything at once.
    let chaos = proxy.clone();
    let cutter = tokio::spawn(async move {
        for round in 0u64.. {
            chaos.cut_after_server_bytes(Some(200 + (round * 389 % 1700) as usize));
            if round % 7 == 0 {
                chaos.cut_all();
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    });

    let mut indexes = Vec::new();
    while indexes.len() < 1000 {
        match next_item(&mut events).await {
            StreamItem::Event(e) => {
                assert_eq!(
                    e.event,
                    TestEvent::Tick {
                        tag: format!("event {}", e.meta.index)
                    }
                );
                indexes.push(e.meta.index);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    writer.await.unwrap();
    cutter.abort();
    assert_eq!(indexes, (0..1000).collect::<Vec<_>>());
    let connections = proxy.connections();
    assert!(
        connections > 50,
        "only {connections} connections: the stream was not cut much"
    );
    println!("1000 events over {connections} connections");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_answer_is_lost_is_retried_and_handled_once() {
    let server = start_test_app().await;
    let proxy = Proxy::start(server.addr).await;
    let client = TestClient::builder(proxy.addr())
        .name("Alice")
        .retry(fast_retry())
        .connect()
        .await
        .unwrap();
    proxy.drop_next_responses(2);
    let receipt = client.send(&TestMsg::Count).await.unwrap();
    assert_eq!((receipt.first, receipt.count), (1, 1));
    // Both answers were lost on the way back (the server handled the first
    // attempt; the retry was answered from its memory of the id).
    assert_eq!(
        proxy.pending_response_drops(),
        0,
        "the first answers were not dropped"
    );
    assert_eq!(server.handle.run(|app, _| app.counts).await.unwrap(), 1);
    let next = client.send(&TestMsg::Count).await.unwrap();
    assert_eq!((next.first, next.count), (2, 1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_yields_resync_then_new_events_and_rejoin_restores_private_ones() {
    let first = start_test_app().await;
    let proxy = Proxy::start(first.addr).await;
    let client = TestClient::builder(proxy.addr())
        .name("Alice")
        .retry(fast_retry())
        .connect()
        .await
        .unwrap();
    let old_epoch = client.credentials().unwrap().epoch;
    client.send(&TestMsg::Burst(2)).await.unwrap();
    let mut events = client.events();
    for want in 0..3 {
        match next_item(&mut events).await {
            StreamItem::Event(e) => assert_eq!(e.meta.index, want),
            other => panic!("{other:?}"),
        }
    }

    // The TV app restarts: a new server with a fresh log behind the same
    // address.
    first.stop().await;
    let second = TestServer::start(Server::builder(TestApp::default())).await;
    proxy.retarget(second.addr);
    proxy.cut_all();
    second
        .handle
        .emit(TestEvent::Tick { tag: "new".into() })
        .await
        .unwrap();

    let resync = match next_item(&mut events).await {
        StreamItem::Resync(r) => r,
        other => panic!("expected a resync, got {other:?}"),
    };
    assert_eq!(resync.cause, ResyncCause::EpochChanged);
    assert_ne!(resync.epoch, old_epoch);
    assert_eq!(resync.head, 1, "continues from the new server's head");
    // The old session does not exist on the new server.
    let err = client.send(&TestMsg::Count).await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err}");

    second
        .handle
        .emit(TestEvent::Tick {
            tag: "after resync".into(),
        })
        .await
        .unwrap();
    match next_item(&mut events).await {
        StreamItem::Event(e) => {
            assert_eq!(e.meta.index, 1);
            assert_eq!(
                e.event,
                TestEvent::Tick {
                    tag: "after resync".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    // The app decides to rejoin; the same stream then reads as the new
    // session and gets its private events.
    let me = client.rejoin(Some("Alice".into())).await.unwrap();
    client
        .send(&TestMsg::Secret {
            to: vec![me],
            text: "welcome back".into(),
        })
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        if let StreamItem::Event(e) = next_item(&mut events).await {
            kinds.push(e.event);
        }
    }
    assert_eq!(
        kinds,
        [
            TestEvent::Joined { session: me },
            TestEvent::Secret {
                text: "welcome back".into()
            }
        ]
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_is_abandoned_after_the_idle_timeout() {
    let server = TestServer::start(
        Server::builder(TestApp::default()).heartbeat(Duration::from_millis(100)),
    )
    .await;
    let proxy = Proxy::start(server.addr).await;
    let client = TestClient::builder(proxy.addr())
        .anonymous()
        .idle_timeout(Duration::from_millis(400))
        .retry(fast_retry())
        .connect()
        .await
        .unwrap();
    server
        .handle
        .emit(TestEvent::Tick { tag: "0".into() })
        .await
        .unwrap();
    let mut events = client.events();
    assert!(matches!(next_item(&mut events).await, StreamItem::Event(e) if e.meta.index == 0));

    // Hold every byte back without closing anything. Heartbeats stop
    // arriving; the client must give up on the connection and reconnect.
    let before = proxy.connections();
    proxy.stall(true);
    server
        .handle
        .emit(TestEvent::Tick { tag: "1".into() })
        .await
        .unwrap();
    let reading = tokio::spawn(async move {
        let item = next_item(&mut events).await;
        (item, events)
    });
    tokio::time::timeout(Duration::from_secs(10), async {
        while proxy.connections() <= before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client never reconnected while the stream was stalled");
    proxy.stall(false);
    let (item, mut events) = reading.await.unwrap();
    assert!(
        matches!(item, StreamItem::Event(ref e) if e.meta.index == 1),
        "{item:?}"
    );
    server
        .handle
        .emit(TestEvent::Tick { tag: "2".into() })
        .await
        .unwrap();
    assert!(matches!(next_item(&mut events).await, StreamItem::Event(e) if e.meta.index == 2));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_reports_losing_its_connection_each_failed_attempt_and_getting_it_back() {
    let server = start_test_app().await;
    let proxy = Proxy::start(server.addr).await;
    let client = TestClient::builder(proxy.addr())
        .anonymous()
        .retry(fast_retry())
        .connect()
        .await
        .unwrap();
    let mut events = client.events();
    let first = next_any(&mut events).await;
    assert!(
        matches!(first, StreamItem::Connection(Connection::Connected)),
        "{first:?}"
    );

    // Nothing listens where the proxy now forwards: every attempt fails.
    // (A port freed on an address no other test binds: on 127.0.0.1 a test
    // running beside this one could bind it at once.)
    let nowhere = std::net::TcpListener::bind("127.77.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    proxy.retarget(nowhere);
    proxy.cut_all();
    let mut lost_since = None;
    for want in 0..3 {
        match next_any(&mut events).await {
            StreamItem::Connection(Connection::Reconnecting { since, attempts }) => {
                assert_eq!(attempts, want, "failed attempts count up from the loss");
                assert_eq!(*lost_since.get_or_insert(since), since, "since the loss");
            }
            other => panic!("expected reconnecting, got {other:?}"),
        }
    }

    proxy.retarget(server.addr);
    loop {
        match next_any(&mut events).await {
            StreamItem::Connection(Connection::Reconnecting { .. }) => continue,
            StreamItem::Connection(Connection::Connected) => break,
            other => panic!("expected to connect again, got {other:?}"),
        }
    }
    server
        .handle
        .emit(TestEvent::Tick { tag: "back".into() })
        .await
        .unwrap();
    assert!(matches!(next_any(&mut events).await, StreamItem::Event(e) if e.meta.index == 0));
    server.stop().await;
}
