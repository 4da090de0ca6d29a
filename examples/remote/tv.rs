//! Run with: `cargo run --example remote-tv -- [--bind ADDR] [--no-discovery] [--name NAME] [--paused] [--allow-host NAME] [--pin PIN] [--data DIR]`
//!
//! The TV side of the remote-control media player: a simulated player with
//! a bundled playlist that any number of remotes control at once (play,
//! pause, next, previous, seek, volume, mute, shuffle, queue). It listens on
//! every interface, advertises itself on the local network (unless
//! `--no-discovery`), and prints one line per change of its state, read
//! the way a remote reads it: a snapshot (`GET /rex/v0/snapshot`), then the
//! log from the snapshot's index. The first line on stdout is
//! `listening on http://<addr>`; Ctrl-C or SIGTERM shuts it down
//! gracefully. With `--data DIR` the player (track, position, volume,
//! queue) and its remotes' sessions are kept in that directory: a TV
//! killed and started again with the same `--data` plays on where it was.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use rex::{Discovery, Server, StateAt, StreamItem};
use rex_examples::remote::{tracks, PlayerView, RemoteApp, RemoteClient};

/// How often an event stream with nothing to say sends a heartbeat (the
/// server's default is 15 s): often enough that the terminal remote, which
/// waits three of these, notices a TV gone silent within seconds.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// A REx media player, controlled by remotes.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "0.0.0.0:0")]
    bind: SocketAddr,
    /// Do not advertise the player on the local network (mDNS).
    #[arg(long)]
    no_discovery: bool,
    /// The player's display name, as remotes list it.
    #[arg(long, default_value = "REx TV")]
    name: String,
    /// Start paused instead of playing the first track at once.
    #[arg(long)]
    paused: bool,
    /// Also answer to this host name, e.g. one in the LAN's own DNS
    /// (repeatable; `.example.org` allows a whole domain). IP addresses,
    /// `localhost` and `.local` names always work.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// Remotes need this PIN to connect. The printed phone URLs carry it.
    #[arg(long, value_name = "PIN", value_parser = rex_examples::cli::parse_pin)]
    pin: Option<String>,
    /// Keep the player in this directory (created if missing), so it
    /// survives a crash or a restart; without it the state lives in memory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    rex_examples::cli::init_tracing("warn");
    // An error (a data directory another server has open, or one of
    // another app) is a sentence for a person, not a debug dump.
    match serve(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remote-tv: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    let app = RemoteApp::new(tracks::bundled()).autoplay(!args.paused);
    let mut builder = rex_examples::cli::allow_hosts(Server::builder(app), &args.allow_host);
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    if let Some(dir) = &args.data {
        builder = builder.data_dir(dir);
    }
    let server = builder
        .name(&args.name)
        // A remote tells a quiet TV from a vanished one by these: the
        // terminal remote gives up on a stream after three silent periods.
        .heartbeat(HEARTBEAT)
        // The browser remote: a touch page at `/`.
        .assets(rex_examples::remote::web::assets())
        .bind(args.bind)
        .await?;
    let addr = server.local_addr();
    println!("listening on http://{addr}");
    // The PIN rides in the URL, so the phone page joins without typing it.
    let query = args
        .pin
        .as_ref()
        .map(|pin| format!("?pin={pin}"))
        .unwrap_or_default();
    for url in rex_examples::cli::lan_urls(addr) {
        println!("open {url}/{query} on a phone");
    }
    if let Some(pin) = &args.pin {
        println!("the PIN is {pin} (terminal remotes: `remote --pin {pin} URL`)");
    }
    tokio::spawn(show(rex_examples::cli::local_url(addr)));
    if args.no_discovery {
        server.run(rex_examples::cli::shutdown_signal()).await
    } else {
        server
            .run_advertised(&Discovery::new(), rex_examples::cli::shutdown_signal())
            .await
    }
}

/// Prints the player's state, then a line for each change: a remote's
/// view, by snapshot and log.
async fn show(url: String) {
    let client = match RemoteClient::builder(url.as_str())
        .anonymous()
        .connect()
        .await
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("! cannot follow the player: {e}");
            return;
        }
    };
    loop {
        let now: StateAt<PlayerView> = match client.snapshot().await {
            Ok(now) => now,
            Err(e) => {
                eprintln!("! cannot read the player's state: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut view = now.state;
        println!("{}", view.status_line(now.time));
        let mut events = client.events_from(now.index);
        while let Some(item) = events.next().await {
            match item {
                Ok(StreamItem::Event(e)) => {
                    view.apply(&e.event);
                    println!("{}", view.status_line(e.meta.time));
                }
                Ok(StreamItem::Unknown { kind, .. }) => {
                    eprintln!("! an event this build does not know: `{kind}`");
                }
                // Missed events: start over from a new snapshot.
                Ok(StreamItem::Resync(_)) => break,
                Ok(StreamItem::Connection(_)) => {}
                Err(e) => eprintln!("! {e}"),
            }
        }
    }
}
