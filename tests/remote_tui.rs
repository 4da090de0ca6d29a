//! The terminal remote's screen end to end: a `RemoteScreen` kept up to
//! date by a `Link` over a real typed client, against a real `RemoteApp`
//! on 127.0.0.1, while another remote changes things at the same time. The
//! screen converges to what a fresh snapshot says (and draws it), shows
//! the TV's reason when it refuses a command, and converges again after its
//! connections are cut. Its status line says "reconnecting…" from what the
//! log's stream reports (no polling): while every connection to the TV is
//! refused, and while the TV is silent past the client's idle timeout; and
//! it clears when the stream is back. A refusal does not outlive the TV it
//! came from.

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rex::{ClientError, EventIndex, Server, StateAt};
use rex_examples::remote::tui::{draw, Command, Link, RemoteScreen, Status};
use rex_examples::remote::{tracks, PlayerView, RemoteApp, RemoteClient, RemoteMsg};
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use tokio::sync::watch;

/// A hang guard: nothing here takes more than a moment.
const PATIENCE: Duration = Duration::from_secs(30);
/// The TV's heartbeat in the first test, and how long the screen's client
/// lets its stream stay silent: a stalled TV shows as trouble soon.
const HEARTBEAT: Duration = Duration::from_millis(250);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

async fn remote(url: &str, name: &str) -> RemoteClient {
    RemoteClient::builder(url)
        .name(name)
        .connect()
        .await
        .unwrap()
}

/// The screen as text, one line per row, as an 80×24 terminal shows it.
fn text(screen: &RemoteScreen) -> String {
    let (width, height) = (80, 24);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, screen)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..height {
        for x in 0..width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

/// Presses `code` on the screen, as the binary does: the screen maps the
/// key, the link sends the command.
fn press(screen: &watch::Sender<RemoteScreen>, link: &Link, code: KeyCode) {
    let mut command = None;
    screen.send_modify(|s| command = s.on_key(KeyEvent::new(code, KeyModifiers::NONE)));
    match command {
        Some(Command::Send(msg)) => link.send(msg),
        other => panic!("{code:?} gave {other:?}"),
    }
}

/// Waits until the screen satisfies `ready`; returns it.
async fn screen_when(
    screen: &mut watch::Receiver<RemoteScreen>,
    what: &str,
    ready: impl FnMut(&RemoteScreen) -> bool,
) -> RemoteScreen {
    let waited = tokio::time::timeout(PATIENCE, screen.wait_for(ready))
        .await
        .map(|shown| shown.unwrap().clone());
    match waited {
        Ok(shown) => shown,
        Err(_) => {
            let shown = screen.borrow();
            panic!(
                "the screen did not show {what} within {PATIENCE:?}; it is at index {} and shows\n{}",
                shown.next_index(),
                text(&shown)
            )
        }
    }
}

/// Makes the log stay put, takes a fresh snapshot, and waits for the
/// screen to show exactly it.
///
/// The log stays put only once nothing can still change the state: the
/// caller has awaited the other remote's commands, this waits for the
/// TV's answer to every key pressed on the screen, then pauses the player
/// so no track ends on its own. The keys must be waited for here: the link
/// sends them from a task of its own and retries them after a cut, so one
/// can reach the TV well after the other remote is done (a volume key cut
/// by the proxy used to land after the snapshot, and the screen, one event
/// past it, never showed it).
async fn converged(
    other: &RemoteClient,
    link: &Link,
    screen: &mut watch::Receiver<RemoteScreen>,
) -> (RemoteScreen, StateAt<PlayerView>) {
    if tokio::time::timeout(PATIENCE, link.flush()).await.is_err() {
        panic!("the TV did not answer the terminal's commands within {PATIENCE:?}");
    }
    other.pause().await.unwrap();
    let fresh: StateAt<PlayerView> = other.snapshot().await.unwrap();
    let index: EventIndex = fresh.index;
    let what = format!("the fresh snapshot's index {index}");
    let shown = screen_when(screen, &what, |s| s.next_index() >= index).await;
    assert_eq!(
        shown.next_index(),
        index,
        "events reached the screen after the snapshot, so something still \
         changed the TV's state:\n{}",
        text(&shown)
    );
    assert_eq!(
        shown.view(),
        Some(&fresh.state),
        "the screen at the snapshot's index is not the snapshot"
    );
    (shown, fresh)
}

/// What the screen must show for `view`: where the player is, numbered as
/// the playlist marks it, the track, the volume, the queue.
fn assert_shows(screen: &RemoteScreen, view: &PlayerView) {
    let shown = text(screen);
    let track = view.current().unwrap();
    let volume = if view.muted {
        format!("muted · {}", view.volume)
    } else {
        format!("volume {}", view.volume)
    };
    // The header's number and the playlist's mark agree, shuffled or not
    // (the playlist box shows all 12 tracks at 80×24).
    let number = view.number(view.track).unwrap();
    let row: String = track.title.chars().take(12).collect();
    let mut wanted = vec![
        view.place().unwrap(),
        format!("▶{number:>2} {row}"),
        track.title.clone(),
        volume,
    ];
    // The up-next box is 34 columns wide: the first queued titles fit.
    for id in view.queue.iter().take(3) {
        let title = &view.track_by_id(*id).unwrap().title;
        wanted.push(title.chars().take(20).collect());
    }
    wanted.push(format!("{} queued", view.queue.len()));
    for want in wanted {
        assert!(shown.contains(&want), "no {want:?} on the screen:\n{shown}");
    }
}

/// Random commands from another remote, some of which the TV refuses.
async fn storm(client: RemoteClient, seed: u64, count: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..count {
        let msg = match rng.u32(0..12) {
            0 | 1 => RemoteMsg::VolumeUp,
            2 => RemoteMsg::VolumeDown,
            3 => RemoteMsg::Mute { muted: rng.bool() },
            4 => RemoteMsg::SeekBy {
                offset_ms: rng.i64(-20_000..=20_000),
            },
            5 => RemoteMsg::Seek {
                position_ms: rng.i64(0..=60_000),
            },
            6 => RemoteMsg::Next,
            7 => RemoteMsg::Previous,
            8 => RemoteMsg::Play,
            9 | 10 => RemoteMsg::Queue {
                track: rng.u32(0..12),
            },
            _ => RemoteMsg::Shuffle { on: rng.bool() },
        };
        match client.send(&msg).await {
            Ok(_) | Err(ClientError::Rejected { .. }) => {}
            Err(e) => panic!("{msg:?}: {e}"),
        }
        if rng.bool() {
            tokio::time::sleep(Duration::from_millis(rng.u64(0..15))).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_remote_shows_the_tvs_state_through_others_and_cuts() {
    let app = RemoteApp::new(tracks::bundled()).autoplay(true).seed(5);
    let server = TestServer::start(
        Server::builder(app)
            .name("living room")
            .heartbeat(HEARTBEAT),
    )
    .await;
    let proxy = Proxy::start(server.addr).await;
    let other = remote(&format!("http://{}", server.addr), "other").await;

    let client = RemoteClient::builder(format!("http://{}", proxy.addr()).as_str())
        .name("terminal")
        .idle_timeout(IDLE_TIMEOUT)
        .connect()
        .await
        .unwrap();
    let (screen, mut shown) =
        watch::channel(RemoteScreen::new("living room", "terminal", Instant::now()));
    let link = Link::start(client, Some("terminal".to_owned()), screen.clone());

    // The TV's state at once, from its snapshot, and a status line that
    // says all is well.
    let first = screen_when(&mut shown, "the player, connected", |s| {
        s.view().is_some() && s.status() == Status::Connected
    })
    .await;
    assert!(first.view().unwrap().playing, "autoplay");

    // The other remote and this one act at the same time.
    let others = tokio::spawn(storm(other.clone(), 1, 60));
    for code in [
        KeyCode::Char('+'),
        KeyCode::Char('3'),
        KeyCode::Down,
        KeyCode::Char('s'),
        KeyCode::Char('+'),
        KeyCode::Right,
        KeyCode::Char('n'),
    ] {
        if code == KeyCode::Down {
            // Moves the highlight only; Enter then queues the second track.
            screen.send_modify(|s| {
                s.on_key(KeyEvent::new(code, KeyModifiers::NONE));
            });
            press(&screen, &link, KeyCode::Enter);
            continue;
        }
        press(&screen, &link, code);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::timeout(PATIENCE, others)
        .await
        .unwrap()
        .unwrap();
    other.queue(4u32).await.unwrap();
    other.queue(7u32).await.unwrap();
    let (now, fresh) = converged(&other, &link, &mut shown).await;
    assert_shows(&now, &fresh.state);

    // A refusal shows the TV's reason.
    link.send(RemoteMsg::Seek {
        position_ms: 3_600_000,
    });
    let refused = screen_when(&mut shown, "the refusal", |s| {
        matches!(s.status(), Status::Rejected(_))
    })
    .await;
    let Status::Rejected(reason) = refused.status() else {
        unreachable!()
    };
    assert!(reason.contains("1:00:00 is past its end"), "{reason}");
    assert!(text(&refused).contains("is past its end"));

    // Cut the screen's connections again and again while both remotes act.
    let connections = proxy.connections();
    let others = tokio::spawn(storm(other.clone(), 2, 60));
    for round in 0..6 {
        press(
            &screen,
            &link,
            KeyCode::Char(if round % 2 == 0 { '-' } else { '+' }),
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        proxy.cut_all();
    }
    tokio::time::timeout(PATIENCE, others)
        .await
        .unwrap()
        .unwrap();
    other.queue(1u32).await.unwrap();
    let (now, fresh) = converged(&other, &link, &mut shown).await;
    assert!(
        proxy.connections() > connections,
        "the cuts did not make the screen reconnect"
    );
    assert_shows(&now, &fresh.state);
    // The volume keys were accepted after the refusal: it no longer shows
    // (once any trouble the cuts caused is over).
    screen_when(&mut shown, "no refusal and no trouble", |s| {
        s.status() == Status::Connected
    })
    .await;

    // A TV that cannot be reached: every connection is closed before a
    // byte of the answer arrives. The stream says it is lost, then counts
    // the failed attempts; the screen shows both, and clears when the
    // stream is back.
    proxy.cut_after_server_bytes(Some(0));
    proxy.cut_all();
    let lost = screen_when(
        &mut shown,
        "reconnecting after failed attempts",
        |s| matches!(s.status(), Status::Trouble(t) if t.contains("attempts failed")),
    )
    .await;
    assert!(text(&lost).contains("reconnecting…"), "{}", text(&lost));
    other.volume_down().await.unwrap();
    proxy.cut_after_server_bytes(None);
    screen_when(
        &mut shown,
        "the trouble gone once the stream is back",
        |s| s.status() == Status::Connected,
    )
    .await;
    let (now, fresh) = converged(&other, &link, &mut shown).await;
    assert_shows(&now, &fresh.state);

    // A TV that stops answering but keeps its connections open: the
    // stream's silence (past the idle timeout) says so; the screen catches
    // up when it answers again.
    proxy.stall(true);
    let troubled = screen_when(&mut shown, "the trouble", |s| {
        matches!(s.status(), Status::Trouble(_))
    })
    .await;
    assert!(
        text(&troubled).contains("reconnecting…"),
        "{}",
        text(&troubled)
    );
    other.volume_up().await.unwrap();
    other.mute(true).await.unwrap();
    proxy.stall(false);
    let (now, fresh) = converged(&other, &link, &mut shown).await;
    assert!(fresh.state.muted);
    assert_shows(&now, &fresh.state);
    screen_when(&mut shown, "the trouble gone", |s| {
        s.status() == Status::Connected
    })
    .await;

    drop(link);
    proxy.shutdown();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_does_not_outlive_the_tv_that_restarted() {
    let player = || RemoteApp::new(tracks::bundled()).autoplay(true);
    let tv = TestServer::start(Server::builder(player()).name("living room")).await;
    let proxy = Proxy::start(tv.addr).await;
    let client = remote(&format!("http://{}", proxy.addr()), "terminal").await;
    let (screen, mut shown) =
        watch::channel(RemoteScreen::new("living room", "terminal", Instant::now()));
    let link = Link::start(client, Some("terminal".to_owned()), screen.clone());

    // Two tracks on, the third cannot be skipped through by seeking. Wait
    // until the screen has the two track changes from the log first: a
    // track change clears a refusal, and the refusal (an answer) can
    // otherwise arrive before the events of the presses before it.
    press(&screen, &link, KeyCode::Char('n'));
    press(&screen, &link, KeyCode::Char('n'));
    screen_when(&mut shown, "the third track", |s| {
        s.view()
            .and_then(|v| v.current())
            .is_some_and(|t| t.title == "Slow Tram to Lisbon")
    })
    .await;
    link.send(RemoteMsg::SeekBy { offset_ms: 600_000 });
    let refused = screen_when(&mut shown, "the refusal", |s| {
        matches!(s.status(), Status::Rejected(_))
    })
    .await;
    let Status::Rejected(reason) = refused.status() else {
        unreachable!()
    };
    assert!(
        reason.contains("would pass the end of “Slow Tram to Lisbon”"),
        "{reason}"
    );
    assert!(text(&refused).contains("would pass the end"));

    // The TV restarts (a new log, and this remote's session is gone) and
    // plays its first track.
    let restarted = TestServer::start(Server::builder(player()).name("living room")).await;
    proxy.retarget(restarted.addr);
    tv.stop().await;
    proxy.cut_all();
    let other = remote(&format!("http://{}", restarted.addr), "other").await;
    let fresh: StateAt<PlayerView> = other.snapshot().await.unwrap();
    assert_eq!(fresh.state.current().unwrap().title, "Harbour Lights");

    // The screen shows the new TV, and the refusal, which spoke of a track
    // of the old one, is gone with it.
    let now = screen_when(&mut shown, "the restarted TV, all well", |s| {
        s.view() == Some(&fresh.state) && s.status() == Status::Connected
    })
    .await;
    let screen_text = text(&now);
    assert!(!screen_text.contains("would pass the end"), "{screen_text}");
    assert!(
        screen_text.contains("connected to living room as terminal"),
        "{screen_text}"
    );
    assert_shows(&now, &fresh.state);

    drop(link);
    proxy.shutdown();
    restarted.stop().await;
}
