//! Run with: `cargo run --example trivia-player -- [URL] --name NAME [--session-file PATH]`
//!
//! A trivia player in the terminal: a phone's answer pad, for a laptop.
//! Without a URL it finds the trivia room on the local network (mDNS /
//! DNS-SD); with one it connects there directly. It shows who is in the
//! room, each question with lettered choices and the seconds left, your
//! own result after each reveal, the scoreboard, and the final standings
//! with your place. Type a letter (or a number) and Enter to answer,
//! `start` to start the game if you are the host, `/name NEW` to rename,
//! `/quit` to leave. With `--session-file PATH` the session is saved there
//! and restored on the next start: come back after quitting and you keep
//! your score and see the question that is open now.
//!
//! The screen and the input are `rex_examples::trivia::player`, a typed
//! `TriviaClient` following the log through the generated
//! `TriviaEventHandler`; this file adds the command line around it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rex::{ClientError, Endpoint};
use rex_examples::cli::{load_credentials, save_credentials};
use rex_examples::trivia::bot::TriviaClient;
use rex_examples::trivia::player;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A terminal player for the REx trivia example.
#[derive(Debug, Parser)]
struct Args {
    /// The trivia room's URL, as the server printed it
    /// (`http://192.168.1.20:7777`); without one, the room is found on the
    /// local network.
    url: Option<String>,
    /// Your display name (the room makes one up if you give none).
    #[arg(long)]
    name: Option<String>,
    /// Save the session here and restore it on the next start.
    #[arg(long, value_name = "PATH")]
    session_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    rex_examples::cli::init_tracing("warn");
    let args = Args::parse();
    let endpoint = match &args.url {
        Some(url) => Endpoint::parse(url),
        None => match rex::discover_one(
            <rex_examples::trivia::TriviaMsg as rex::Protocol>::APP,
            Duration::from_secs(5),
        )
        .await
        {
            Ok(room) => {
                let addrs: Vec<String> = room.addrs.iter().map(ToString::to_string).collect();
                println!(
                    "* found the trivia room '{}' on the network ({})",
                    room.name,
                    addrs.join(", ")
                );
                Endpoint::from_addrs(room.addrs)
            }
            Err(e) => {
                eprintln!("trivia-player: {e}");
                eprintln!("trivia-player: give the room's URL instead, as the server printed it");
                return ExitCode::FAILURE;
            }
        },
    };
    match run(&args, endpoint).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trivia-player: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, endpoint: Result<Endpoint, ClientError>) -> Result<(), ClientError> {
    let mut builder = TriviaClient::builder(endpoint?);
    if let Some(name) = &args.name {
        builder = builder.name(name);
    }
    let saved = args.session_file.as_deref().and_then(load_credentials);
    let had_saved = saved.is_some();
    if let Some(credentials) = saved {
        builder = builder.restore(credentials);
    }
    let client = builder.connect().await?;
    let me = client.session().ok_or(ClientError::NoSession)?;
    if client.restored() {
        println!("* welcome back ({me})");
    } else if had_saved {
        println!("* the room restarted since your last visit; joined it again ({me})");
    } else {
        println!("* joined {} ({me})", client.endpoint());
    }
    save_credentials(client.credentials(), args.session_file.as_deref());

    // The keyboard, a line at a time.
    let stdin = BufReader::new(tokio::io::stdin()).lines();
    let lines = futures_util::stream::unfold(stdin, |mut stdin| async move {
        let line = stdin.next_line().await.ok().flatten()?;
        Some((line, stdin))
    });
    let played = tokio::select! {
        played = player::play(&client, lines, |line| println!("{line}")) => played,
        () = rex_examples::cli::shutdown_signal() => {
            // Ctrl-C while stdin is being read: save, and leave without
            // waiting for a line that will not come.
            save_credentials(client.credentials(), args.session_file.as_deref());
            std::process::exit(0);
        }
    };
    // The session may have changed (the room restarted and we joined it
    // again): save the one we leave with.
    save_credentials(client.credentials(), args.session_file.as_deref());
    played
}
