//! The remote-control media player end to end: typed remotes that start
//! from the TV's snapshot and follow its log agree with each other and
//! with the TV after a storm of conflicting commands, a late joiner agrees
//! at once from one snapshot, a refused command changes nothing, and a
//! remote whose connections are cut still agrees.

use std::time::Duration;

use futures_util::StreamExt;
use rex::{ClientError, EventIndex, RexEvent, Server, StateAt, StreamItem};
use rex_examples::remote::{tracks, PlayerView, RemoteApp, RemoteClient, RemoteMsg, Track};
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Short tracks, for the refused commands.
fn short_tracks() -> Vec<Track> {
    tracks::playlist([
        ("Alpha", "Ann", 2_000),
        ("Bravo", "Ben", 1_500),
        ("Charlie", "Cat", 3_000),
        ("Delta", "Dan", 2_500),
        ("Echo", "Eve", 4_000),
        ("Foxtrot", "Fay", 1_800),
    ])
}

/// Tracks of a few tens of milliseconds, so that tracks end on their own
/// (and the playlist runs out) between the remotes' commands.
fn tiny_tracks() -> Vec<Track> {
    tracks::playlist([
        ("Alpha", "Ann", 20),
        ("Bravo", "Ben", 10),
        ("Charlie", "Cat", 40),
        ("Delta", "Dan", 15),
        ("Echo", "Eve", 30),
        ("Foxtrot", "Fay", 25),
    ])
}

/// A player that starts playing the tiny tracks at once.
async fn start() -> TestServer<RemoteApp> {
    let app = RemoteApp::new(tiny_tracks()).autoplay(true);
    TestServer::start(Server::builder(app).name("living room")).await
}

async fn remote(url: &str, name: &str) -> RemoteClient {
    RemoteClient::builder(url)
        .name(name)
        .connect()
        .await
        .unwrap()
}

/// A remote's screen: the view it reduced and the next index it expects,
/// kept up to date by a task that follows the log from a snapshot.
struct Screen {
    state: watch::Receiver<(PlayerView, EventIndex)>,
    task: JoinHandle<()>,
}

impl Screen {
    async fn follow(client: &RemoteClient) -> Screen {
        let at: StateAt<PlayerView> = client.snapshot().await.unwrap();
        let mut events = client.events_from(at.index);
        let (tx, state) = watch::channel((at.state.clone(), at.index));
        let task = tokio::spawn(async move {
            let (mut view, mut next) = (at.state, at.index);
            while let Some(item) = events.next().await {
                match item.unwrap() {
                    StreamItem::Event(e) => {
                        // Every event is public: the remote sees each index
                        // after the snapshot's once, in order.
                        assert_eq!(e.meta.index, next, "{e:?}");
                        view.apply(&e.event);
                        next += 1;
                        tx.send_replace((view.clone(), next));
                    }
                    StreamItem::Connection(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
        Screen { state, task }
    }

    /// The view once the remote has applied everything before `head`.
    async fn at(&mut self, head: EventIndex) -> PlayerView {
        let (view, next) = self
            .when(&format!("index {head}"), |next| next >= head)
            .await;
        assert_eq!(next, head, "the remote is beyond the head");
        view
    }

    /// The view and next index once `ready(next)` holds.
    async fn when(
        &mut self,
        what: &str,
        mut ready: impl FnMut(EventIndex) -> bool,
    ) -> (PlayerView, EventIndex) {
        let waited = tokio::time::timeout(
            Duration::from_secs(30),
            self.state.wait_for(|(_, next)| ready(*next)),
        )
        .await
        .unwrap_or_else(|_| panic!("the remote did not reach {what} within 30 s"))
        .map(|state| state.clone());
        match waited {
            Ok(state) => state,
            // The following task is gone: say why.
            Err(_) => panic!(
                "the remote stopped following the log before {what}: {:?}",
                (&mut self.task).await
            ),
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The TV's head and state, read together on the app's task.
async fn tv_state(server: &TestServer<RemoteApp>) -> (EventIndex, PlayerView) {
    server
        .handle
        .run(|app, cx| (cx.head(), app.view().clone()))
        .await
        .unwrap()
}

/// A random command; relative and absolute, agreeing and conflicting.
fn command(rng: &mut fastrand::Rng) -> RemoteMsg {
    match rng.u32(0..16) {
        0 | 1 => RemoteMsg::VolumeUp,
        2 | 3 => RemoteMsg::VolumeDown,
        4 => RemoteMsg::SetVolume {
            level: rng.i64(-10..=110),
        },
        5 => RemoteMsg::Mute { muted: rng.bool() },
        6 | 7 => RemoteMsg::SeekBy {
            offset_ms: rng.i64(-20..=20),
        },
        8 => RemoteMsg::Seek {
            position_ms: rng.i64(-5..=45),
        },
        9 => RemoteMsg::Next,
        10 => RemoteMsg::Previous,
        11 => RemoteMsg::Pause,
        12 | 13 => RemoteMsg::Play,
        14 => RemoteMsg::Queue {
            track: rng.u32(0..7),
        },
        _ => RemoteMsg::Shuffle { on: rng.bool() },
    }
}

/// Sends `count` random commands with random short pauses; returns how
/// many were accepted and how many refused.
async fn storm(client: RemoteClient, seed: u64, count: usize) -> (usize, usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..count {
        let msg = command(&mut rng);
        match client.send(&msg).await {
            Ok(_) => accepted += 1,
            Err(ClientError::Rejected { reason }) => {
                assert!(reason.len() > 20, "{msg:?}: {reason}");
                refused += 1;
            }
            Err(e) => panic!("{msg:?}: {e}"),
        }
        match rng.u32(0..3) {
            0 => tokio::task::yield_now().await,
            1 => tokio::time::sleep(Duration::from_millis(rng.u64(0..20))).await,
            _ => {}
        }
    }
    (accepted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_remotes_with_conflicting_commands_agree_with_the_tv() {
    let server = start().await;
    let url = format!("http://{}", server.addr);
    let remotes = [
        remote(&url, "Ann").await,
        remote(&url, "Ben").await,
        remote(&url, "Cat").await,
    ];
    let mut screens = Vec::new();
    for r in &remotes {
        screens.push(Screen::follow(r).await);
    }

    let storms: Vec<_> = remotes
        .iter()
        .enumerate()
        .map(|(i, r)| tokio::spawn(storm(r.clone(), 100 + i as u64, 80)))
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    for s in storms {
        let (a, r) = tokio::time::timeout(Duration::from_secs(60), s)
            .await
            .expect("the remotes' commands did not go through within 60 s")
            .unwrap();
        accepted += a;
        refused += r;
    }
    assert_eq!(accepted + refused, 240);
    assert!(accepted > 100, "{accepted} accepted, {refused} refused");
    assert!(refused > 0, "nothing was refused");

    // At least one track ends on its own: play the last 5 ms of the
    // current track and wait for the TV's next event, the track change
    // (and maybe more of them: the next tracks are as short), as a remote
    // sees it.
    remotes[2].pause().await.unwrap();
    let (_, tv) = tv_state(&server).await;
    let duration = tv.current().unwrap().duration_ms as i64;
    remotes[2].seek(duration - 5).await.unwrap();
    let receipt = remotes[2].play().await.unwrap();
    let played = receipt.first + receipt.count;
    let (ended, _) = screens[0]
        .when("the end of the track", |next| next > played)
        .await;
    assert_eq!(ended.position_ms, 0);

    // Paused, nothing more happens (no track ends), so the head stays.
    remotes[0].pause().await.unwrap();
    let (head, tv) = tv_state(&server).await;
    assert!(!tv.playing);
    for screen in &mut screens {
        assert_eq!(screen.at(head).await, tv);
    }

    // The log holds every kind of change, and track changes made by the
    // TV's timer (no origin) as well as by remotes.
    let client = remote(&url, "Log").await;
    let mut events = client.events_from(0);
    let mut kinds = std::collections::BTreeSet::new();
    let mut ended_on_their_own = 0;
    let mut read = 0;
    while read < head {
        let item = events.next().await;
        if let Some(Ok(StreamItem::Connection(_))) = item {
            continue;
        }
        let Some(Ok(StreamItem::Event(e))) = item else {
            panic!("the log ended early");
        };
        read += 1;
        if e.meta.origin.is_none() && e.event.kind() == "track_changed" {
            ended_on_their_own += 1;
        }
        kinds.insert(e.event.kind());
    }
    assert!(ended_on_their_own >= 1);
    for kind in [
        "playing",
        "paused",
        "seeked",
        "track_changed",
        "volume",
        "queued",
        "shuffled",
    ] {
        assert!(kinds.contains(kind), "no `{kind}` in the log: {kinds:?}");
    }

    // A fresh snapshot is the same state at the same index.
    let at: StateAt<PlayerView> = remotes[1].snapshot().await.unwrap();
    assert_eq!((at.index, &at.state), (head, &tv));

    // A remote that joins now shows the state at once, from one snapshot,
    // without reading the log.
    let late = remote(&url, "Dee").await;
    let at: StateAt<PlayerView> = late.snapshot().await.unwrap();
    assert_eq!((at.index, &at.state), (head, &tv));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_command_changes_neither_the_state_nor_the_log() {
    // Paused from the start, so the clock cannot move the state.
    let server = TestServer::start(Server::builder(RemoteApp::new(short_tracks()))).await;
    let url = format!("http://{}", server.addr);
    let ann = remote(&url, "Ann").await;
    ann.seek(1_000i64).await.unwrap();
    let before: StateAt<PlayerView> = ann.snapshot().await.unwrap();
    assert_eq!(before.index, 1);

    let refused = [
        (
            ann.seek(2_000i64).await,
            "“Alpha” is 0:02 long; 0:02 is past its end",
        ),
        (
            ann.seek(-1i64).await,
            "cannot seek to -0.001 s before the start of the track; positions start at 0",
        ),
        (
            ann.seek_by(1_000i64).await,
            "seeking +1 s from 0:01 would pass the end of “Alpha” (0:02); skip it with next instead",
        ),
        (
            ann.set_volume(101i64).await,
            "the volume goes from 0 to 100; 101 is out of range",
        ),
        (
            ann.queue(6u32).await,
            "there is no track 6; the playlist has tracks 0 to 5",
        ),
    ];
    for (result, reason) in refused {
        match result {
            Err(ClientError::Rejected { reason: got }) => assert_eq!(got, reason),
            other => panic!("expected a refusal ({reason}), got {other:?}"),
        }
    }
    let after: StateAt<PlayerView> = ann.snapshot().await.unwrap();
    assert_eq!((after.index, &after.state), (before.index, &before.state));
    assert_eq!(ann.info().await.unwrap().head, before.index);

    // `previous` 1 s into the first track restarts it; at its very start
    // there is nothing before it.
    ann.previous().await.unwrap();
    let restarted: StateAt<PlayerView> = ann.snapshot().await.unwrap();
    assert_eq!(restarted.index, before.index + 1);
    assert_eq!(restarted.state.position_ms, 0);
    match ann.previous().await {
        Err(ClientError::Rejected { reason }) => assert_eq!(
            reason,
            "“Alpha” is the first track of the playlist and is at its start; there is nothing before it"
        ),
        other => panic!("{other:?}"),
    }
    let again: StateAt<PlayerView> = ann.snapshot().await.unwrap();
    assert_eq!(
        (again.index, &again.state),
        (restarted.index, &restarted.state)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_whose_connections_are_cut_still_agrees() {
    let server = start().await;
    let url = format!("http://{}", server.addr);
    let proxy = Proxy::start(server.addr).await;
    let far = remote(&format!("http://{}", proxy.addr()), "Far").await;
    let near = remote(&url, "Near").await;
    let mut far_screen = Screen::follow(&far).await;
    let mut near_screen = Screen::follow(&near).await;

    let connections = proxy.connections();
    let near_storm = tokio::spawn(storm(near.clone(), 7, 60));
    let far_storm = tokio::spawn(storm(far.clone(), 8, 40));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.cut_all();
    }
    for s in [near_storm, far_storm] {
        tokio::time::timeout(Duration::from_secs(60), s)
            .await
            .expect("the remotes' commands did not go through within 60 s")
            .unwrap();
    }

    far.pause().await.unwrap();
    // Checked after a command that must come through the proxy after the
    // last cut, so on a connection made since: checked before, it would
    // race the reconnections (the storms may end before a cut ever hits a
    // command, and the log's reconnection waits for its back-off).
    assert!(
        proxy.connections() > connections,
        "the cuts did not make the remote reconnect"
    );
    let (head, tv) = tv_state(&server).await;
    assert_eq!(far_screen.at(head).await, tv);
    assert_eq!(near_screen.at(head).await, tv);
    let at: StateAt<PlayerView> = far.snapshot().await.unwrap();
    assert_eq!((at.index, &at.state), (head, &tv));
    server.stop().await;
}
