//! Discovery over mDNS / DNS-SD, end to end: real servers advertise, real
//! browsers find them, real clients connect to what was found.
//!
//! Every test here starts mDNS daemons, so each one runs inside a network
//! namespace of its own (see `netns.rs`): it re-runs itself under
//! `unshare -rn`, where only `lo` (and the veth pairs it makes) exist, and
//! skips with a printed reason where that is impossible. Nothing is ever
//! multicast on the machine's real network.

mod netns;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use rex::discovery::{Advertisement, DiscoveryStream};
use rex::{
    Client, Discovery, DiscoveryError, DiscoveryEvent, Dynamic, Epoch, RexApp, Room, Server,
    ServerBuilder, StreamItem,
};
use rex_examples::chat::{ChatApp, ChatEvent, ChatMsg};
use rex_tests::TestApp;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use netns::SecondHost;

/// Bounded waits: long enough for a slow machine, short enough to fail.
const WAIT: Duration = Duration::from_secs(10);

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Discovery on the namespace's loopback only.
fn on_lo() -> Discovery {
    Discovery::new().interfaces(["lo"])
}

/// A server that advertises itself until stopped.
struct Advertised {
    addr: SocketAddr,
    epoch: Epoch,
    instance: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Advertised {
    async fn start<A: RexApp>(builder: ServerBuilder<A>, bind: &str, discovery: Discovery) -> Self {
        let server = builder.bind(bind).await.unwrap();
        let addr = server.local_addr();
        let epoch = server.epoch();
        let advertisement = Advertisement::start(&server, &discovery).await.unwrap();
        let instance = advertisement.instance_name().to_owned();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
            advertisement.stop().await;
        }));
        Advertised {
            addr,
            epoch,
            instance,
            stop: Some(stop),
            task,
        }
    }

    /// Shuts down (goodbye first) and waits for the server to end.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the server stops in time")
            .unwrap()
            .unwrap();
    }
}

/// The next `Found`, within the bounded wait.
async fn next_found(rooms: &mut DiscoveryStream) -> Room {
    loop {
        match tokio::time::timeout(WAIT, rooms.next()).await {
            Ok(Some(DiscoveryEvent::Found(room))) => return room,
            Ok(Some(DiscoveryEvent::Lost(lost))) => println!("(lost {lost:?})"),
            Ok(None) => panic!("discovery ended"),
            Err(_) => panic!("nothing found within {WAIT:?}"),
        }
    }
}

/// Everything found within `window` (for asserting what is *not* found).
async fn found_within(rooms: &mut DiscoveryStream, window: Duration) -> Vec<Room> {
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rooms.next()).await {
        if let DiscoveryEvent::Found(room) = event {
            found.push(room);
        }
    }
    found
}

#[test]
fn advertise_discover_connect_send_receive() {
    if !netns::isolated("advertise_discover_connect_send_receive") {
        return;
    }
    block_on(async {
        // The real defaults: probing on, every interface the namespace has.
        let tv = Advertised::start(
            Server::builder(ChatApp::default()).name("Living Room TV"),
            "127.0.0.1:0",
            Discovery::new(),
        )
        .await;
        assert_eq!(tv.instance, "Living Room TV");

        let room = on_lo()
            .discover_one(Some("chat"), WAIT)
            .await
            .expect("the phone finds the TV");
        assert_eq!(room.name, "Living Room TV");
        assert_eq!(room.app, "chat");
        assert_eq!(room.epoch, Some(tv.epoch));
        assert_eq!(room.port, tv.addr.port());
        assert_eq!(room.addrs, vec![tv.addr], "advertised where it is bound");

        let alice = Client::<ChatMsg>::builder(&room)
            .name("Alice")
            .connect()
            .await
            .expect("connects to the room found");
        let mut events = alice.events();
        alice
            .send(&ChatMsg::Say {
                text: "found you".into(),
            })
            .await
            .unwrap();
        let said = tokio::time::timeout(WAIT, async {
            while let Some(item) = events.next().await {
                if let Ok(StreamItem::Event(e)) = item {
                    if let ChatEvent::Said { text, .. } = e.event {
                        return text;
                    }
                }
            }
            panic!("the stream ended");
        })
        .await
        .expect("the message comes back on the stream");
        assert_eq!(said, "found you");
        tv.stop().await;
    });
}

#[test]
fn only_rooms_of_the_wanted_app_and_protocol_are_found() {
    if !netns::isolated("only_rooms_of_the_wanted_app_and_protocol_are_found") {
        return;
    }
    block_on(async {
        let fast = on_lo().probing(false);
        let chat = Advertised::start(
            Server::builder(ChatApp::default()).name("Chat Corner"),
            "127.0.0.1:0",
            fast.clone(),
        )
        .await;
        let quiz = Advertised::start(
            Server::builder(TestApp::default()).name("Quiz Night"),
            "127.0.0.1:0",
            fast.clone(),
        )
        .await;
        // A room of the chat app speaking a future protocol version.
        let future = ServiceDaemon::new().unwrap();
        future.disable_interface(IfKind::All).unwrap();
        future.enable_interface(IfKind::Name("lo".into())).unwrap();
        let mut info = ServiceInfo::new(
            "_chat._sub._rex._tcp.local.",
            "Chat of Tomorrow",
            "future.local.",
            "127.0.0.1",
            9,
            &[("app", "chat"), ("proto", "1"), ("path", "/rex/v1")][..],
        )
        .unwrap();
        info.set_requires_probe(false);
        future.register(info).unwrap();

        let mut rooms = on_lo().discover(Some("chat")).unwrap();
        let first = next_found(&mut rooms).await;
        assert_eq!(
            (first.name.as_str(), first.app.as_str()),
            ("Chat Corner", "chat")
        );
        let more = found_within(&mut rooms, Duration::from_millis(1500)).await;
        assert!(
            more.is_empty(),
            "only the chat room of protocol 0: {more:?}"
        );
        rooms.close().await;

        let mut quizzes = on_lo().discover(Some("test")).unwrap();
        assert_eq!(next_found(&mut quizzes).await.name, "Quiz Night");
        quizzes.close().await;

        // Without an app filter (what `rex discover` does): both rooms.
        let mut all = on_lo().discover(None).unwrap();
        let mut names = vec![
            next_found(&mut all).await.name,
            next_found(&mut all).await.name,
        ];
        names.sort();
        assert_eq!(names, ["Chat Corner", "Quiz Night"]);
        all.close().await;

        // What standard tools see: the service type with the app's subtype,
        // and the TXT records docs/protocol.md lists.
        let raw = ServiceDaemon::new().unwrap();
        raw.disable_interface(IfKind::All).unwrap();
        raw.enable_interface(IfKind::Name("lo".into())).unwrap();
        let events = raw.browse("_rex._tcp.local.").unwrap();
        let resolved = tokio::time::timeout(WAIT, async {
            loop {
                if let ServiceEvent::ServiceResolved(s) = events.recv_async().await.unwrap() {
                    if s.get_fullname() == "Chat Corner._rex._tcp.local." {
                        return s;
                    }
                }
            }
        })
        .await
        .expect("a plain DNS-SD browse finds the chat room");
        assert_eq!(
            resolved.get_subtype().as_deref(),
            Some("_chat._sub._rex._tcp.local.")
        );
        assert_eq!(resolved.get_port(), chat.addr.port());
        for (key, value) in [
            ("app", "chat".to_owned()),
            ("proto", "0".to_owned()),
            ("path", "/rex/v0".to_owned()),
            ("epoch", chat.epoch.to_string()),
            ("name", "Chat Corner".to_owned()),
        ] {
            assert_eq!(
                resolved.get_property_val_str(key),
                Some(value.as_str()),
                "{key}"
            );
        }
        for daemon in [raw, future] {
            daemon.shutdown().unwrap().recv_async().await.unwrap();
        }
        chat.stop().await;
        quiz.stop().await;
    });
}

#[test]
fn a_server_that_shuts_down_is_lost() {
    if !netns::isolated("a_server_that_shuts_down_is_lost") {
        return;
    }
    block_on(async {
        let tv = Advertised::start(
            Server::builder(ChatApp::default()).name("Short Lived"),
            "127.0.0.1:0",
            on_lo().probing(false),
        )
        .await;
        let mut rooms = on_lo().discover(Some("chat")).unwrap();
        assert_eq!(next_found(&mut rooms).await.instance, "Short Lived");
        tv.stop().await;
        // The goodbye arrives at once; records would only expire after
        // their TTL (minutes), so this proves the goodbye was sent.
        let event = tokio::time::timeout(WAIT, rooms.next())
            .await
            .expect("the room leaves within the wait");
        match event {
            Some(DiscoveryEvent::Lost(lost)) => {
                assert_eq!(
                    (lost.instance.as_str(), lost.app.as_str()),
                    ("Short Lived", "chat")
                )
            }
            other => panic!("expected Lost, got {other:?}"),
        }
        rooms.close().await;
    });
}

#[test]
fn two_servers_with_the_same_name_are_both_found() {
    if !netns::isolated("two_servers_with_the_same_name_are_both_found") {
        return;
    }
    block_on(async {
        // Probing on: that is what resolves the clash.
        let first = Advertised::start(
            Server::builder(ChatApp::default()).name("Living Room TV"),
            "127.0.0.1:0",
            on_lo(),
        )
        .await;
        let second = Advertised::start(
            Server::builder(ChatApp::default()).name("Living Room TV"),
            "127.0.0.1:0",
            on_lo(),
        )
        .await;
        assert_eq!(first.instance, "Living Room TV");
        assert_eq!(second.instance, "Living Room TV (2)");

        let mut rooms = on_lo().discover(Some("chat")).unwrap();
        let mut found = [next_found(&mut rooms).await, next_found(&mut rooms).await];
        found.sort_by(|a, b| a.instance.cmp(&b.instance));
        assert_eq!(found[0].instance, "Living Room TV");
        assert_eq!(found[1].instance, "Living Room TV (2)");
        assert!(
            found.iter().all(|r| r.name == "Living Room TV"),
            "the display name is kept in full"
        );
        assert_eq!(found[0].epoch, Some(first.epoch));
        assert_eq!(found[1].epoch, Some(second.epoch));
        assert_ne!(found[0].port, found[1].port);
        rooms.close().await;
        first.stop().await;
        second.stop().await;
    });
}

#[test]
fn not_finding_a_room_says_which_app_where_and_how_long() {
    if !netns::isolated("not_finding_a_room_says_which_app_where_and_how_long") {
        return;
    }
    block_on(async {
        let e = on_lo()
            .discover_one(Some("trivia"), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, DiscoveryError::NotFound { .. }));
        assert!(
            e.to_string().starts_with(
                "no REx server for app 'trivia' answered on interfaces lo within 1 s;"
            ),
            "{e}"
        );

        // An interface that does not exist is named, with the ones that do.
        let server = Server::builder(ChatApp::default())
            .name("Nowhere")
            .bind("0.0.0.0:0")
            .await
            .unwrap();
        let e = Advertisement::start(&server, &Discovery::new().interfaces(["wlan9"]))
            .await
            .unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("wlan9") && message.contains("lo"),
            "{message}"
        );

        // A name that cannot be a DNS-SD instance name is refused at start.
        let server = Server::builder(ChatApp::default())
            .name("x".repeat(70))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let e = Advertisement::start(&server, &on_lo()).await.unwrap_err();
        assert!(e.to_string().contains("shorten"), "{e}");
    });
}

/// Which half of the two-host test a process plays.
const ROLE: &str = "REX_TEST_ROLE";

/// The TV in one namespace, the phone in another, a veth pair between:
/// the phone finds the TV by multicast across the link and joins it.
#[test]
fn a_phone_on_another_host_finds_and_joins_the_tv() {
    if !netns::isolated("a_phone_on_another_host_finds_and_joins_the_tv") {
        return;
    }
    let phone = SecondHost::start("phone_half_of_the_two_host_test", &[(ROLE, "phone")]);
    block_on(async {
        // Bound to every address, advertised on the link only.
        let tv = Advertised::start(
            Server::builder(ChatApp::default()).name("Living Room TV"),
            "0.0.0.0:0",
            Discovery::new().interfaces([SecondHost::OUR_END]),
        )
        .await;
        let output = tokio::task::spawn_blocking(move || phone.wait(Duration::from_secs(30)))
            .await
            .unwrap();
        netns::forward(&output);
        assert!(output.status.success(), "the phone's half failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("PHONE JOINED") && stdout.contains("test result: ok. 1 passed"),
            "the phone's half did not run"
        );
        // The TV's log has the phone's message.
        let tv_side = Client::<Dynamic>::builder(tv.addr)
            .anonymous()
            .connect()
            .await
            .unwrap();
        let mut log = tv_side.events_from(0);
        let said = tokio::time::timeout(WAIT, async {
            while let Some(item) = log.next().await {
                let Ok(StreamItem::Event(e)) = item else {
                    continue;
                };
                if e.event.kind == "said" {
                    return e.event.data;
                }
            }
            None
        })
        .await
        .unwrap();
        assert_eq!(said.unwrap()["text"], "hello from the sofa");
        tv.stop().await;
    });
}

/// The phone's half of the test above; does nothing when run on its own.
#[test]
fn phone_half_of_the_two_host_test() {
    if std::env::var(ROLE).as_deref() != Ok("phone") {
        return;
    }
    // Started by `SecondHost` inside the test's own namespaces; refuse to
    // multicast anywhere else, even if the role was set by hand.
    if std::env::var_os(netns::NETNS_ENV).is_none() || !netns::only_our_interfaces() {
        rex_tests::skip::skip("not inside the test's own network namespace", None);
        return;
    }
    block_on(async {
        let room = Discovery::new()
            .interfaces([SecondHost::THEIR_END])
            .discover_one(Some("chat"), WAIT)
            .await
            .expect("the phone finds the TV across the link");
        let tv: SocketAddr = format!("{}:{}", SecondHost::HERE, room.port)
            .parse()
            .unwrap();
        assert_eq!(
            room.addrs.first(),
            Some(&tv),
            "IPv4 first: {:?}",
            room.addrs
        );
        let phone = Client::<Dynamic>::builder(&room)
            .name("Phone")
            .connect()
            .await
            .expect("the phone joins the room it found");
        assert_eq!(phone.endpoint().as_str(), format!("http://{tv}"));
        phone
            .send(&Dynamic::new(
                "say",
                Some(json!({"text": "hello from the sofa"})),
            ))
            .await
            .unwrap();
        println!("PHONE JOINED {}", room.instance);
    });
}

/// A host of rooms advertises `rooms=1` (and no epoch: it has no log of
/// its own) while it runs (`Host::run_advertised`); browsers report it as
/// a host, and a phone opens a room on it and joins that room at its URL.
#[test]
fn a_host_of_rooms_is_found_as_one_and_opens_rooms() {
    if !netns::isolated("a_host_of_rooms_is_found_as_one_and_opens_rooms") {
        return;
    }
    block_on(async {
        use rex::client::HostClient;
        use rex::proto::CreateRoom;

        let fast = on_lo().probing(false);
        let tv = Advertised::start(
            Server::builder(ChatApp::default()).name("Living Room TV"),
            "127.0.0.1:0",
            fast.clone(),
        )
        .await;
        let host = rex::Host::builder(|_room: &rex::NewRoom| Ok(ChatApp::default()))
            .name("Quiz Host")
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let host_url = format!("http://{}", host.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let announce = fast.clone();
        let running = tokio::spawn(async move {
            host.run_advertised(&announce, async {
                let _ = stopped.await;
            })
            .await
        });

        let mut rooms = on_lo().discover(Some("chat")).unwrap();
        let mut found = [next_found(&mut rooms).await, next_found(&mut rooms).await];
        found.sort_by(|a, b| a.name.cmp(&b.name));
        rooms.close().await;
        let [single, hosting] = found;
        assert_eq!(single.name, "Living Room TV");
        assert!(!single.hosts_rooms, "no `rooms` TXT: a room");
        assert_eq!(single.epoch, Some(tv.epoch));
        assert_eq!(hosting.name, "Quiz Host");
        assert!(hosting.hosts_rooms);
        assert_eq!(hosting.epoch, None);
        assert_eq!(hosting.url(), Some(host_url.clone()));

        let opener = HostClient::connect(&hosting).await.unwrap();
        let created = opener.create_room(&CreateRoom::default()).await.unwrap();
        let room = opener.room_endpoint(&created).unwrap();
        assert_eq!(room.as_str(), format!("{host_url}/r/{}", created.room));
        let ann = Client::<ChatMsg>::builder(room)
            .name("Ann")
            .connect()
            .await
            .expect("joins the room it opened");
        ann.send(&ChatMsg::Say {
            text: "hi host".into(),
        })
        .await
        .unwrap();

        // What standard tools see: `rooms=1`, and no `epoch`.
        let raw = ServiceDaemon::new().unwrap();
        raw.disable_interface(IfKind::All).unwrap();
        raw.enable_interface(IfKind::Name("lo".into())).unwrap();
        let events = raw.browse("_rex._tcp.local.").unwrap();
        let resolved = tokio::time::timeout(WAIT, async {
            loop {
                if let ServiceEvent::ServiceResolved(s) = events.recv_async().await.unwrap() {
                    if s.get_fullname() == "Quiz Host._rex._tcp.local." {
                        return s;
                    }
                }
            }
        })
        .await
        .expect("a plain DNS-SD browse finds the host");
        assert_eq!(resolved.get_property_val_str("rooms"), Some("1"));
        assert_eq!(resolved.get_property_val_str("epoch"), None);
        assert_eq!(resolved.get_property_val_str("path"), Some("/rex/v0"));
        raw.shutdown().unwrap().recv_async().await.unwrap();

        tv.stop().await;
        let _ = stop.send(());
        tokio::time::timeout(WAIT, running)
            .await
            .expect("the host withdraws itself and stops")
            .unwrap()
            .expect("the host ran and stopped cleanly");
    });
}
