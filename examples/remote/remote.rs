//! Run with: `cargo run --example remote -- [URL] [--name NAME]`
//!
//! The terminal remote for the media player (`remote-tv`): a full-screen
//! terminal UI showing what plays, its progress, the volume, the up-next
//! queue and the playlist, with single-key commands (space play/pause, n/p
//! next/previous, ←/→ seek, +/- volume, m mute, s shuffle, 1–0 or ↑/↓ and
//! Enter to queue, q quit). Without a URL it finds the TV on the local
//! network. It starts from the TV's snapshot and follows its log, so it
//! shows the TV's state however many remotes act at once, and it catches
//! up by itself after its connection drops. This file only sets up the
//! terminal and runs the loop; the screen, the keys and the link to the TV
//! are in `rex_examples::remote::tui`.

use std::io;
use std::time::{Duration, Instant};

use clap::Parser;
use ratatui::crossterm::event::{self, Event};
use ratatui::DefaultTerminal;
use rex::Endpoint;
use rex_examples::remote::tui::{draw, Command, Link, RemoteScreen};
use rex_examples::remote::RemoteClient;
use tokio::sync::{mpsc, watch};

/// How often the screen is redrawn while nothing happens, so the progress
/// bar moves.
const REDRAW_EVERY: Duration = Duration::from_millis(250);
/// How long the TV's stream may stay silent before the remote takes it
/// for lost and says "reconnecting…": three of `remote-tv`'s heartbeats.
/// The status line shows what the stream says of its connection, and a TV
/// that vanishes without closing it (unplugged, off the Wi-Fi) is only
/// noticed by its silence.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long quitting waits for the commands still being sent (a key
/// pressed just before `q`); a TV that does not answer does not hold the
/// terminal longer.
const QUIT_GRACE: Duration = Duration::from_secs(1);

/// A terminal remote for the REx media player.
#[derive(Debug, Parser)]
struct Args {
    /// The TV's URL, as `remote-tv` printed it (`http://127.0.0.1:7800`);
    /// without one, the TV is found on the local network.
    url: Option<String>,
    /// Your name, so the TV can tell who did what.
    #[arg(long, default_value = "terminal")]
    name: String,
    /// The TV's PIN, if `remote-tv` was started with one.
    #[arg(long, value_name = "PIN")]
    pin: Option<String>,
}

#[tokio::main]
async fn main() {
    // No log output: the screen is the terminal's. RUST_LOG is honoured
    // for debugging (run with 2>file).
    if std::env::var_os("RUST_LOG").is_some() {
        rex_examples::cli::init_tracing("warn");
    }
    let args = Args::parse();
    let (endpoint, tv) = match &args.url {
        Some(url) => match Endpoint::parse(url) {
            Ok(endpoint) => (endpoint, url.clone()),
            Err(e) => fail(e),
        },
        None => {
            println!("looking for the TV on the local network…");
            match rex::discover_one(
                <rex_examples::remote::RemoteMsg as rex::Protocol>::APP,
                Duration::from_secs(5),
            )
            .await
            {
                Ok(room) => match Endpoint::from_addrs(room.addrs) {
                    Ok(endpoint) => (endpoint, room.name),
                    Err(e) => fail(e),
                },
                Err(e) => fail(e),
            }
        }
    };
    println!("connecting to {tv}…");
    let mut builder = RemoteClient::builder(endpoint);
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    let client = match builder
        .name(&args.name)
        .idle_timeout(IDLE_TIMEOUT)
        .connect()
        .await
    {
        Ok(client) => client,
        Err(e) => fail(e),
    };
    // The TV's own name for the title, rather than its URL.
    let tv = match client.info().await {
        Ok(info) => info.name,
        Err(_) => tv,
    };
    let (screen, _) = watch::channel(RemoteScreen::new(tv, &args.name, Instant::now()));
    let link = Link::start(client, Some(args.name), screen.clone());

    // Raw mode and the alternate screen; a panic hook that restores the
    // terminal before the panic message is printed.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            ratatui::restore();
            fail(format!("cannot take over the terminal: {e}"))
        }
    };
    let result = run(&mut terminal, &screen, &link).await;
    let _ = tokio::time::timeout(QUIT_GRACE, link.flush()).await;
    ratatui::restore();
    if let Err(e) = result {
        fail(e);
    }
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("remote: {e}");
    std::process::exit(1);
}

/// Draws, then waits for a key, a change from the TV, the redraw tick or a
/// signal; until `q`.
async fn run(
    terminal: &mut DefaultTerminal,
    screen: &watch::Sender<RemoteScreen>,
    link: &Link,
) -> io::Result<()> {
    let mut keys = read_keys();
    let mut changes = screen.subscribe();
    let mut ticker = tokio::time::interval(REDRAW_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let shutdown = rex_examples::cli::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        // Moving the screen's clock is not a change anyone waits for.
        screen.send_if_modified(|s| {
            s.tick(Instant::now());
            false
        });
        let shown = screen.borrow().clone();
        terminal.draw(|frame| draw(frame, &shown))?;
        tokio::select! {
            _ = ticker.tick() => {}
            _ = changes.changed() => {}
            () = &mut shutdown => return Ok(()),
            key = keys.recv() => match key {
                Some(Ok(Event::Key(key))) => {
                    let mut command = None;
                    screen.send_modify(|s| command = s.on_key(key));
                    match command {
                        Some(Command::Send(msg)) => link.send(msg),
                        Some(Command::Quit) => return Ok(()),
                        None => {}
                    }
                }
                // A resize, focus, paste…: just redraw.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
}

/// Terminal events from a thread of their own (crossterm's reads block).
fn read_keys() -> mpsc::Receiver<io::Result<Event>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || loop {
        let read = event::read();
        let failed = read.is_err();
        if tx.blocking_send(read).is_err() || failed {
            break;
        }
    });
    rx
}
