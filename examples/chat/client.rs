//! Run with: `cargo run --example chat-client -- [URL] --name NAME`
//!
//! Without a URL it finds the chat room on the local network (mDNS /
//! DNS-SD) and joins it; with one it connects there directly.
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
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use rex::{Client, ClientError, Endpoint, EventMeta, Resync, SessionId};
use rex_examples::chat::{ChatEvent, ChatEventHandler, ChatMsg, ChatMsgClient};
use rex_examples::cli::{load_credentials, save_credentials};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

type ChatClient = Client<ChatMsg, ChatEvent>;
/// Who is in the room, by session, as learnt from the log.
type Names = Arc<Mutex<BTreeMap<SessionId, String>>>;

/// A terminal client for the REx chat example.
#[derive(Debug, Parser)]
struct Args {
    /// The chat server's URL, as the server printed it
    /// (`http://127.0.0.1:7700`); without one, the room is found on the
    /// local network.
    url: Option<String>,
    /// Your display name.
    #[arg(long, default_value = "guest")]
    name: String,
    /// Save the session here and restore it on the next start.
    #[arg(long)]
    session_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    rex_examples::cli::init_tracing("warn");
    let args = Args::parse();
    let endpoint = match &args.url {
        Some(url) => Endpoint::parse(url),
        None => match rex::discover_one("chat", Duration::from_secs(5)).await {
            Ok(room) => {
                println!("* found the chat room '{}' on the network", room.name);
                Endpoint::from_addrs(room.addrs)
            }
            Err(e) => {
                eprintln!("chat-client: {e}");
                std::process::exit(1);
            }
        },
    };
    if let Err(e) = async { run(args, endpoint?).await }.await {
        eprintln!("chat-client: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args, endpoint: Endpoint) -> Result<(), ClientError> {
    let saved = args.session_file.as_deref().and_then(load_credentials);
    let mut builder = ChatClient::builder(endpoint).name(&args.name);
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
    save_credentials(client.credentials(), args.session_file.as_deref());

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
        let sent = match parse_command(line, &names) {
            Command::Say(text) => client.say(text).await,
            Command::Whisper(to, text) => client.whisper(to, text).await,
            Command::Rename(name) => client.rename(name).await,
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
        match sent {
            Ok(_) => {}
            Err(ClientError::Rejected { reason }) => eprintln!("! {reason}"),
            Err(e) => eprintln!("! could not send: {e}"),
        }
    }
    printer.abort();
    save_credentials(client.credentials(), args.session_file.as_deref());
    Ok(())
}

enum Command {
    Say(String),
    Whisper(SessionId, String),
    Rename(String),
    Who,
    Quit,
    Problem(String),
}

fn parse_command(line: &str, names: &Names) -> Command {
    let Some(command) = line.strip_prefix('/') else {
        return Command::Say(line.to_owned());
    };
    let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
    match verb {
        "quit" | "q" => Command::Quit,
        "who" => Command::Who,
        "nick" => Command::Rename(rest.trim().to_owned()),
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
                [to] => Command::Whisper(*to, text.to_owned()),
                [] => Command::Problem(format!("nobody here is called {who}; /who lists the room")),
                _ => Command::Problem(format!("several people are called {who}")),
            }
        }
        other => Command::Problem(format!(
            "unknown command /{other}; try /w, /nick, /who, /quit"
        )),
    }
}

/// Prints the room: the generated `ChatEventHandler` routes each event kind
/// to its method.
struct Room {
    names: Names,
    me: SessionId,
    /// Events before this index were shown in an earlier run: replay them
    /// quietly, only to learn names.
    print_from: u64,
}

impl Room {
    fn name(&self, session: SessionId) -> String {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names
            .get(&session)
            .cloned()
            .unwrap_or_else(|| session.to_string())
    }

    fn show(&self, meta: &EventMeta, line: String) {
        if meta.index >= self.print_from {
            println!("{line}");
        }
    }

    fn learn(&self, session: SessionId, name: String) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.insert(session, name);
    }
}

impl ChatEventHandler for Room {
    fn joined(&mut self, meta: &EventMeta, session: SessionId, name: String) {
        self.show(meta, format!("* {name} joined"));
        self.learn(session, name);
    }

    fn said(&mut self, meta: &EventMeta, from: SessionId, text: String) {
        self.show(meta, format!("[{}] {text}", self.name(from)));
    }

    fn whispered(&mut self, meta: &EventMeta, from: SessionId, to: SessionId, text: String) {
        let line = if from == self.me {
            format!("(you whisper to {}) {text}", self.name(to))
        } else {
            format!("({} whispers) {text}", self.name(from))
        };
        self.show(meta, line);
    }

    fn renamed(&mut self, meta: &EventMeta, session: SessionId, name: String) {
        self.show(meta, format!("* {} is now {name}", self.name(session)));
        self.learn(session, name);
    }

    fn unknown(&mut self, meta: &EventMeta, kind: &str, _data: Option<&Value>) {
        self.show(
            meta,
            format!("* (an event this client does not know: {kind})"),
        );
    }

    fn resync(&mut self, resync: &Resync) {
        println!("* (missed some of the room: {}; continuing)", resync.reason);
    }
}

async fn print_room(client: ChatClient, names: Names, me: SessionId, print_from: u64) {
    let mut room = Room {
        names,
        me,
        print_from,
    };
    let mut events = client.events_from(0);
    while let Some(item) = events.next().await {
        match item {
            Ok(item) => room.handle(item),
            Err(e) => eprintln!("! {e}"),
        }
    }
}
