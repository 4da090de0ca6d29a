//! Run with: `cargo run --example chat -- [--bind ADDR] [--name NAME] [--no-discovery] [--allow-host NAME] [--pin PIN] [--data DIR]`
//!
//! The chat room server: the smallest real REx app. Phones (or curl) create
//! sessions, `say`, `whisper` and `rename`; everybody streams the room's
//! event log. The first line on stdout is `listening on http://<addr>` so
//! scripts can find the port; Ctrl-C or SIGTERM shuts it down gracefully.
//! The room is advertised on the local network (mDNS / DNS-SD) under its
//! name, so `chat-client` and `rex discover` find it without an address;
//! `--no-discovery` turns that off. With `--data DIR` the room (its log,
//! its sessions, who is called what) is kept in that directory and
//! survives a crash: start it again with the same `--data` and every
//! client carries on.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rex::{Discovery, Server};
use rex_examples::chat::ChatApp;

/// A REx chat room.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// The room's display name.
    #[arg(long, default_value = "REx chat")]
    name: String,
    /// Do not advertise the room on the local network (mDNS).
    #[arg(long)]
    no_discovery: bool,
    /// Also answer to this host name, e.g. one in the LAN's own DNS
    /// (repeatable; `.example.org` allows a whole domain). IP addresses,
    /// `localhost` and `.local` names always work.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// Joining needs this PIN (`chat-client --pin PIN`).
    #[arg(long, value_name = "PIN", value_parser = rex_examples::cli::parse_pin)]
    pin: Option<String>,
    /// Keep the room in this directory (created if missing), so it
    /// survives a crash or a restart; without it the room lives in memory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    rex_examples::cli::init_tracing("info");
    // An error (a data directory another server has open, or one of
    // another app) is a sentence for a person, not a debug dump.
    match serve(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    let mut builder =
        rex_examples::cli::allow_hosts(Server::builder(ChatApp::default()), &args.allow_host);
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    if let Some(dir) = &args.data {
        builder = builder.data_dir(dir);
    }
    let server = builder.name(args.name).bind(args.bind).await?;
    println!("listening on http://{}", server.local_addr());
    if args.no_discovery {
        server.run(rex_examples::cli::shutdown_signal()).await
    } else {
        server
            .run_advertised(&Discovery::new(), rex_examples::cli::shutdown_signal())
            .await
    }
}
