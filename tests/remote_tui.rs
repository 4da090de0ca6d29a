//! The terminal remote's screen end to end: a `RemoteScreen` kept up to
//! date by a `Link` over a real typed client, against a real `RemoteApp`
//! on 127.0.0.1, while another remote changes things at the same time. The
//! screen converges to what a fresh snapshot says (and draws it), shows
//! the TV's reason when it refuses a command, and converges again after its
//! connections are cut, showing "reconnecting…" while the TV does not
//! answer.

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rex::{ClientError, EventIndex, Server, StateAt};
use rex_examples::remote::tui::{draw, Command, Link, RemoteScreen, Status};
use rex_examples::remote::{
    tracks, PlayerView, RemoteApp, RemoteClient, RemoteMsg, RemoteMsgClient,
};
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use tokio::sync::watch;

/// A hang guard: nothing here takes more than a moment.
const PATIENCE: Duration = Duration::from_secs(30);

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
        Err(_) => panic!(
            "the screen did not show {what} within {PATIENCE:?}; it shows\n{}",
            text(&screen.borrow())
        ),
    }
}

/// Pauses the player (so no track ends on its own and the log stays put),
/// takes a fresh snapshot, and waits for the screen to show exactly it.
async fn converged(
    other: &RemoteClient,
    screen: &mut watch::Receiver<RemoteScreen>,
) -> (RemoteScreen, StateAt<PlayerView>) {
    other.pause().await.unwrap();
    let fresh: StateAt<PlayerView> = other.snapshot().await.unwrap();
    let index: EventIndex = fresh.index;
    let shown = screen_when(screen, "the fresh snapshot", |s| {
        s.next_index() >= index && s.view() == Some(&fresh.state)
    })
    .await;
    assert_eq!(
        shown.next_index(),
        index,
        "the screen is past the TV's head"
    );
    (shown, fresh)
}

/// What the screen must show for `view`: the track, the volume, the queue.
fn assert_shows(screen: &RemoteScreen, view: &PlayerView) {
    let shown = text(screen);
    let track = view.current().unwrap();
    let volume = if view.muted {
        format!("muted · {}", view.volume)
    } else {
        format!("volume {}", view.volume)
    };
    let mut wanted = vec![track.title.clone(), volume];
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
    let server = TestServer::start(Server::builder(app).name("living room")).await;
    let proxy = Proxy::start(server.addr).await;
    let other = remote(&format!("http://{}", server.addr), "other").await;

    let client = remote(&format!("http://{}", proxy.addr()), "terminal").await;
    let (screen, mut shown) =
        watch::channel(RemoteScreen::new("living room", "terminal", Instant::now()));
    let link = Link::start(client, Some("terminal".to_owned()), screen.clone());

    // The TV's state at once, from its snapshot.
    let first = screen_when(&mut shown, "the player", |s| s.view().is_some()).await;
    assert!(first.view().unwrap().playing, "autoplay");
    assert_eq!(first.status(), Status::Connected);

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
    let (now, fresh) = converged(&other, &mut shown).await;
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
    let (now, fresh) = converged(&other, &mut shown).await;
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

    // A TV that stops answering: the screen says so, and catches up when
    // it answers again.
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
    let (now, fresh) = converged(&other, &mut shown).await;
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
