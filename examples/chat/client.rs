//! Run with: `cargo run --example chat-client -- URL --name NAME`
//!
//! A terminal client for the chat example: prints the room live and sends
//! what you type. Plain lines are said to the room; `/w NAME text` whispers,
//! `/nick NAME` renames you, `/who` lists the room, `/quit` leaves. With
//! `--session-file PATH` the session is saved there and restored on the
//! next start, so you come back as the same person (and the history resumes
//! where you left it) after quitting or a crash.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Parser;
use futures_util::StreamExt;
use rex::{Client, ClientError, Credentials, SessionId, StreamItem};
use rex_examples::chat::{ChatEvent, ChatMsg};
use tokio::io::{AsyncBufReadExt, BufReader};

type ChatClient = Client<ChatMsg, ChatEvent>;
/// Who is in the room, by session, as learnt from the log.
type Names = Arc<Mutex<BTreeMap<SessionId, String>>>;

/// A terminal client for the REx chat example.
#[derive(Debug, Parser)]
struct Args {
    /// The chat server's URL, as the server printed it (`http://127.0.0.1:7700`).
    url: String,
    /// Your display name.
    #[arg(long, default_value = "guest")]
    name: String,
    /// Save the session here and restore it on the next start.
    #[arg(long)]
    session_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("chat-client: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), ClientError> {
    let saved = args.session_file.as_ref().and_then(load);
    let mut builder = ChatClient::builder(args.url.as_str()).name(&args.name);
    if let Some(credentials) = saved {
        builder = builder.restore(credentials);
    }
    let client = builder.connect().await?;
    let me = client.session().ok_or(ClientError::NoSession)?;
    if client.restored() {
        println!("* welcome back ({me})");
    } else {
        println!("* joined {} as {} ({me})", client.endpoint(), args.name);
    }
    save(&client, args.session_file.as_ref());

    // Replay the whole log to learn who is who, but print only what this
    // session has not seen yet (everything, for a new session).
    let print_from = client
        .credentials()
        .and_then(|c| c.last_seen)
        .map_or(0, |last| last + 1);
    let names: Names = Arc::default();
    let printer = tokio::spawn(print_room(client.clone(), names.clone(), me, print_from));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let msg = match parse_command(line, &names) {
            Command::Send(msg) => msg,
            Command::Who => {
                for (session, name) in names.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    println!("*   {name} ({session})");
                }
                continue;
            }
            Command::Quit => break,
            Command::Problem(problem) => {
                eprintln!("! {problem}");
                continue;
            }
        };
        match client.send(&msg).await {
            Ok(_) => {}
            Err(ClientError::Rejected { reason }) => eprintln!("! {reason}"),
            Err(e) => eprintln!("! could not send: {e}"),
        }
    }
    printer.abort();
    save(&client, args.session_file.as_ref());
    Ok(())
}

enum Command {
    Send(ChatMsg),
    Who,
    Quit,
    Problem(String),
}

fn parse_command(line: &str, names: &Names) -> Command {
    let Some(command) = line.strip_prefix('/') else {
        return Command::Send(ChatMsg::Say {
            text: line.to_owned(),
        });
    };
    let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
    match verb {
        "quit" | "q" => Command::Quit,
        "who" => Command::Who,
        "nick" => Command::Send(ChatMsg::Rename {
            name: rest.trim().to_owned(),
        }),
        "w" | "whisper" => {
            let Some((who, text)) = rest.trim().split_once(' ') else {
                return Command::Problem("usage: /w NAME text".to_owned());
            };
            let names = names.lock().unwrap_or_else(|e| e.into_inner());
            let found: Vec<SessionId> = names
                .iter()
                .filter(|(_, name)| name.eq_ignore_ascii_case(who))
                .map(|(session, _)| *session)
                .collect();
            match found.as_slice() {
                [to] => Command::Send(ChatMsg::Whisper {
                    to: *to,
                    text: text.to_owned(),
                }),
                [] => Command::Problem(format!("nobody here is called {who}; /who lists the room")),
                _ => Command::Problem(format!("several people are called {who}")),
            }
        }
        other => Command::Problem(format!(
            "unknown command /{other}; try /w, /nick, /who, /quit"
        )),
    }
}

async fn print_room(client: ChatClient, names: Names, me: SessionId, print_from: u64) {
    let mut events = client.events_from(0);
    while let Some(item) = events.next().await {
        let (event, quiet) = match item {
            Ok(StreamItem::Event(event)) => (event.event, event.meta.index < print_from),
            Ok(StreamItem::Unknown { kind, .. }) => {
                println!("* (an event this client does not know: {kind})");
                continue;
            }
            Ok(StreamItem::Resync(resync)) => {
                println!("* (missed some of the room: {}; continuing)", resync.reason);
                continue;
            }
            Err(e) => {
                eprintln!("! {e}");
                continue;
            }
        };
        let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
        let name = |s: &SessionId| names.get(s).cloned().unwrap_or_else(|| s.to_string());
        let line = match &event {
            ChatEvent::Joined { name: joined, .. } => format!("* {joined} joined"),
            ChatEvent::Said { from, text } => format!("[{}] {text}", name(from)),
            ChatEvent::Whispered { from, to, text } if *from == me => {
                format!("(you whisper to {}) {text}", name(to))
            }
            ChatEvent::Whispered { from, text, .. } => format!("({} whispers) {text}", name(from)),
            ChatEvent::Renamed { session, name: new } => {
                format!("* {} is now {new}", name(session))
            }
        };
        if !quiet {
            println!("{line}");
        }
        if let ChatEvent::Joined { session, name } | ChatEvent::Renamed { session, name } = event {
            names.insert(session, name);
        }
    }
}

fn load(path: &PathBuf) -> Option<Credentials> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(credentials) => Some(credentials),
        Err(e) => {
            eprintln!("! ignoring {}: {e}", path.display());
            None
        }
    }
}

fn save(client: &ChatClient, path: Option<&PathBuf>) {
    let (Some(path), Some(credentials)) = (path, client.credentials()) else {
        return;
    };
    let written = serde_json::to_string_pretty(&credentials)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(path, json));
    if let Err(e) = written {
        eprintln!("! could not save the session to {}: {e}", path.display());
    }
}
