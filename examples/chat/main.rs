//! Run with: `cargo run --example chat -- [--bind ADDR] [--name NAME] [--no-discovery]`
//!
//! The chat room server: the smallest real REx app. Phones (or curl) create
//! sessions, `say`, `whisper` and `rename`; everybody streams the room's
//! event log. The first line on stdout is `listening on http://<addr>` so
//! scripts can find the port; Ctrl-C or SIGTERM shuts it down gracefully.
//! The room is advertised on the local network (mDNS / DNS-SD) under its
//! name, so `chat-client` and `rex discover` find it without an address;
//! `--no-discovery` turns that off.

use std::net::SocketAddr;

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
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let server = Server::builder(ChatApp::default())
        .name(args.name)
        .bind(args.bind)
        .await?;
    println!("listening on http://{}", server.local_addr());
    if args.no_discovery {
        server.run(shutdown_signal()).await
    } else {
        server
            .run_advertised(&Discovery::new(), shutdown_signal())
            .await
    }
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
