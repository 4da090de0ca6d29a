//! Run with: `cargo run --example chat-client -- [URL] --name NAME [--session-file PATH] [--pin PIN]`
//!
//! A terminal client for the chat example: prints the room live and sends
//! what you type. Without a URL it finds the chat room on the local network
//! (mDNS / DNS-SD); with one it connects there directly. Plain lines are
//! said to the room; `/w NAME text` whispers (when several people share a
//! name, `/w NAME#ID text` picks one by the id `/who` shows), `/nick NAME`
//! renames you, `/who` lists the room, `/help` lists the commands and
//! `/quit` (or Ctrl-C, or the end of input) leaves.
//!
//! With `--session-file PATH` the session is saved there (at the start,
//! about once a second while lines arrive, and when you leave, Ctrl-C and
//! SIGTERM included) and restored on the next start: you come back as the
//! same person and see exactly what was said while you were away, once.
//! When the room's server restarts, every session of the old room is gone:
//! the client notices (from the event stream, or when a line is refused),
//! joins the new room with the same name, says so, and sends the refused
//! line again. When the room cannot be reached it says `* reconnecting…`
//! once, and `* connected again` when it is back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::pin;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use rex::{
    ClientError, Connection, Credentials, Endpoint, EventIndex, EventMeta, EventStream, Resync,
    ResyncCause, SessionId, StreamItem,
};
use rex_examples::chat::{ChatEvent, ChatEventHandler, ChatMsg, ChatMsgClient};
use rex_examples::cli::{load_credentials, printable, save_credentials, shutdown_signal};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

type ChatClient = ChatMsgClient;

/// What `/help` shows, and where an unknown command points.
const HELP: &[&str] = &[
    "* type a line and Enter to say it to the room; or:",
    "*   /w NAME text     whisper to one person; when several share a name,",
    "*                    NAME#ID or #ID picks one (/who shows the ids)",
    "*   /nick NAME       change your name",
    "*   /who             list the room",
    "*   /help            show this",
    "*   /quit            leave (Ctrl-C too); --session-file brings you back",
];

/// How long after a printed line the session file is saved: a client killed
/// without warning (SIGKILL, a power cut) shows at most this much of the
/// room again on its next start, and a busy room costs one write a second.
const SAVE_AFTER: Duration = Duration::from_secs(1);

/// The fewest hex digits of a session id that `/who` shows.
const MIN_ID_DIGITS: usize = 4;

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
    #[arg(long, value_name = "PATH")]
    session_file: Option<PathBuf>,
    /// The room's PIN, if the server was started with one.
    #[arg(long, value_name = "PIN")]
    pin: Option<String>,
}

#[tokio::main]
async fn main() {
    rex_examples::cli::init_tracing("warn");
    let args = Args::parse();
    let endpoint = match &args.url {
        Some(url) => Endpoint::parse(url),
        None => match rex::discover_one("chat", Duration::from_secs(5)).await {
            Ok(room) => {
                println!(
                    "* found the chat room '{}' on the network",
                    printable(&room.name)
                );
                Endpoint::from_addrs(room.addrs)
            }
            Err(e) => {
                eprintln!("chat-client: {e}");
                eprintln!("chat-client: give the room's URL instead, as the server printed it");
                std::process::exit(1);
            }
        },
    };
    let ran = match endpoint {
        Ok(endpoint) => run(args, endpoint).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(problem) = &ran {
        eprintln!("chat-client: {problem}");
    }
    // Exit here: standard input is read on a blocking thread that would
    // keep the runtime (and the process) alive until another line comes.
    std::process::exit(i32::from(ran.is_err()))
}

/// Joins (or comes back), then chats; an error is a sentence for the
/// person.
async fn run(args: Args, endpoint: Endpoint) -> Result<(), String> {
    let saved = args.session_file.as_deref().and_then(load_credentials);
    let had_saved = saved.is_some();
    let mut builder = ChatClient::builder(endpoint).name(&args.name);
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    if let Some(credentials) = saved {
        builder = builder.restore(credentials);
    }
    let client = builder
        .connect()
        .await
        .map_err(|e| format!("could not join the room: {}", explain(&e)))?;
    let me = client
        .session()
        .ok_or_else(|| ClientError::NoSession.to_string())?;
    if client.restored() {
        println!("* welcome back ({me})");
    } else if had_saved {
        println!(
            "* the room restarted since your last visit; joined it again as {}",
            args.name
        );
    } else {
        println!("* joined {} as {} ({me})", client.endpoint(), args.name);
    }
    // Replay the whole log to learn who is who, but print only what this
    // session has not seen yet (everything, for a new session).
    let print_from = client
        .credentials()
        .and_then(|c| c.last_seen)
        .map_or(0, |last| last + 1);
    let mut chat = Chat {
        events: client.events_from(0),
        room: Room::new(me, print_from),
        client,
        name: args.name,
        session_file: args.session_file,
        saved: None,
        save_at: None,
        trouble: None,
    };
    chat.save();
    let result = chat.follow().await;
    chat.save();
    result
}

/// The client's state: the session, the room as the log tells it, and
/// when to save.
struct Chat {
    client: ChatClient,
    events: EventStream<ChatEvent>,
    room: Room,
    /// The name to join again with when the room restarts: the last one
    /// the room confirmed (`--name`, or the last `/nick`).
    name: String,
    session_file: Option<PathBuf>,
    /// What the session file holds, so an unchanged session is not
    /// written again.
    saved: Option<Credentials>,
    /// When to save next: armed by a printed line, so a busy room is saved
    /// once per [`SAVE_AFTER`], not once per line.
    save_at: Option<Instant>,
    /// The last error the event stream reported: the stream ends only
    /// after one, so it says why the room stopped.
    trouble: Option<String>,
}

/// What woke the client up.
enum Step {
    Save,
    Event(Option<Result<StreamItem<ChatEvent>, ClientError>>),
    Line(Option<String>),
}

impl Chat {
    /// Prints the room and sends what is typed until `/quit`, the end of
    /// input, Ctrl-C or SIGTERM. Errors only when the room's event stream
    /// ends for good.
    async fn follow(&mut self) -> Result<(), String> {
        // Polled first on every turn, so the signal handlers are installed
        // before anything of the room is printed.
        let mut shutdown = pin!(shutdown_signal());
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            let save_at = self.save_at;
            let step = tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep_until(save_at.unwrap_or_else(Instant::now)),
                    if save_at.is_some() => Step::Save,
                item = self.events.next() => Step::Event(item),
                // `next_line` is cancel-safe: a line read halfway stays
                // buffered for the next turn.
                line = lines.next_line() => Step::Line(line.ok().flatten()),
            };
            // A send or a rejoin may take a while when the room does not
            // answer: Ctrl-C still leaves at once.
            let done = tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                done = self.step(step) => done?,
            };
            if done {
                return Ok(());
            }
        }
    }

    /// Carries out one step; `Ok(true)` to leave.
    async fn step(&mut self, step: Step) -> Result<bool, String> {
        match step {
            Step::Save => self.save(),
            Step::Event(None) => {
                let why = self.trouble.take().unwrap_or_else(|| "it ended".to_owned());
                return Err(format!("the room stopped sending what is said: {why}"));
            }
            Step::Event(Some(Ok(StreamItem::Resync(resync))))
                if resync.cause == ResyncCause::EpochChanged =>
            {
                self.rejoin().await;
            }
            Step::Event(Some(Ok(item))) => {
                self.room.handle(item);
                if let Some(name) = self.room.my_name() {
                    name.clone_into(&mut self.name);
                }
                if self.session_file.is_some() && self.save_at.is_none() {
                    self.save_at = Some(Instant::now() + SAVE_AFTER);
                }
            }
            Step::Event(Some(Err(ClientError::Unauthorized { .. }))) => {
                self.rejoin().await;
            }
            Step::Event(Some(Err(e))) => {
                let trouble = explain(&e);
                println!("! {}", printable(&trouble));
                self.trouble = Some(trouble);
            }
            Step::Line(None) => return Ok(true),
            Step::Line(Some(line)) => return Ok(self.command(&line).await),
        }
        Ok(false)
    }

    /// Carries out a typed line; `true` for `/quit`.
    async fn command(&mut self, line: &str) -> bool {
        let message = match parse_command(line, &self.room.people) {
            Command::Nothing => return false,
            Command::Send(message) => message,
            Command::Who => {
                self.room.people.listing(self.room.me);
                return false;
            }
            Command::Help => {
                for line in HELP {
                    println!("{line}");
                }
                return false;
            }
            Command::Quit => return true,
            Command::Problem(problem) => {
                println!("! {}", printable(&problem));
                return false;
            }
        };
        let mut sent = self.client.send(&message).await;
        if matches!(sent, Err(ClientError::Unauthorized { .. })) && self.rejoin().await {
            // The room restarted: everybody has a new session, so a whisper
            // would go to somebody who no longer exists.
            if let ChatMsg::Whisper { .. } = message {
                println!("! your whisper was not sent; whisper again once they are back (/who)");
                return false;
            }
            sent = self.client.send(&message).await;
        }
        match sent {
            Ok(_) => {
                if let ChatMsg::Rename { name } = message {
                    self.name = name;
                }
            }
            Err(e) => println!("! not sent: {}", printable(&explain(&e))),
        }
        false
    }

    /// Joins the restarted room as a new session with the same name, and
    /// follows its new log from the start. `false` if that failed (the
    /// next refused line tries again).
    async fn rejoin(&mut self) -> bool {
        let me = match self.client.rejoin(Some(self.name.clone())).await {
            Ok(me) => me,
            Err(e) => {
                println!(
                    "! the room restarted, and joining it again failed: {}",
                    explain(&e)
                );
                return false;
            }
        };
        self.save();
        println!("* the room restarted; rejoined as {}", self.name);
        // A new log: its every line is news, and its people are new
        // sessions.
        self.room = Room::new(me, 0);
        self.events = self.client.events_from(0);
        true
    }

    /// Writes the session, with the last index printed, to the session
    /// file (if there is one and it changed).
    fn save(&mut self) {
        self.save_at = None;
        let Some(path) = &self.session_file else {
            return;
        };
        let credentials = self.client.credentials();
        if credentials != self.saved {
            save_credentials(credentials.clone(), Some(path));
            self.saved = credentials;
        }
    }
}

/// Phrases a failure for the person chatting: what happened and what to
/// do, without the protocol's words.
fn explain(error: &ClientError) -> String {
    match error {
        // The app's own reason, written for people.
        ClientError::Rejected { reason } => reason.clone(),
        ClientError::Unauthorized { .. } => "the room does not know you (it restarted)".to_owned(),
        // The server's reason says whether the PIN was missing or wrong.
        ClientError::Forbidden { reason } => format!("{reason} (chat-client --pin PIN)"),
        ClientError::TooManyRequests { .. } => {
            "you are sending too fast; wait a moment and try again".to_owned()
        }
        ClientError::TooLarge { .. } => "that is too long for the room".to_owned(),
        ClientError::Unavailable { .. } => {
            "the room is closing or full; try again in a moment".to_owned()
        }
        ClientError::Timeout => "the room did not answer in time; try again".to_owned(),
        ClientError::Transport { .. } => {
            format!("cannot reach the room ({error}); is its server running?")
        }
        e if e.is_transient() => "the room is having trouble; try again in a moment".to_owned(),
        e => match e.code() {
            // A request the server did not understand: a bug, or a client
            // and server of different versions.
            Some(code) => format!(
                "the room's server refused it ({code}); it may run another version of the chat"
            ),
            None => e.to_string(),
        },
    }
}

/// What a typed line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Nothing,
    Send(ChatMsg),
    Who,
    Help,
    Quit,
    /// A line that cannot be carried out, with what to type instead.
    Problem(String),
}

fn parse_command(line: &str, people: &People) -> Command {
    let line = line.trim();
    if line.is_empty() {
        return Command::Nothing;
    }
    let Some(command) = line.strip_prefix('/') else {
        return Command::Send(ChatMsg::Say {
            text: line.to_owned(),
        });
    };
    let (verb, rest) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(verb, rest)| (verb, rest.trim()));
    match verb.to_lowercase().as_str() {
        "quit" | "q" | "exit" => Command::Quit,
        "who" => Command::Who,
        "help" | "?" => Command::Help,
        "nick" | "name" if rest.is_empty() => Command::Problem("usage: /nick NAME".to_owned()),
        "nick" | "name" => Command::Send(ChatMsg::Rename {
            name: rest.to_owned(),
        }),
        "w" | "whisper" => match people.whisper_target(rest) {
            Ok((to, text)) => Command::Send(ChatMsg::Whisper {
                to,
                text: text.to_owned(),
            }),
            Err(problem) => Command::Problem(problem),
        },
        _ => Command::Problem(format!(
            "there is no command /{verb}; /help lists the commands"
        )),
    }
}

/// Who is in the room, by session, as learnt from the log.
#[derive(Debug, Default)]
struct People {
    names: BTreeMap<SessionId, String>,
}

impl People {
    fn learn(&mut self, session: SessionId, name: String) {
        self.names.insert(session, name);
    }

    /// How many hex digits of a session id tell everyone here apart.
    fn id_digits(&self) -> usize {
        let ids: Vec<String> = self.names.keys().map(hex).collect();
        (MIN_ID_DIGITS..32)
            .find(|&n| {
                let mut prefixes: Vec<&str> = ids.iter().map(|id| &id[..n]).collect();
                prefixes.sort_unstable();
                prefixes.windows(2).all(|w| w[0] != w[1])
            })
            .unwrap_or(32)
    }

    /// A session's id, as short as tells it apart: `3f2a`.
    fn short_id(&self, session: SessionId) -> String {
        hex(&session)[..self.id_digits()].to_owned()
    }

    /// A name with the id that picks it: `Bob#3f2a`.
    fn handle(&self, session: SessionId) -> String {
        let name = self.names.get(&session).map_or("?", String::as_str);
        format!("{name}#{}", self.short_id(session))
    }

    /// How lines name a session: by its name while nobody else has it,
    /// by its handle when somebody does.
    fn label(&self, session: SessionId) -> String {
        match self.names.get(&session) {
            Some(name) if self.called(name).len() == 1 => name.clone(),
            Some(_) => self.handle(session),
            None => format!("#{}", self.short_id(session)),
        }
    }

    /// The sessions whose name is `name` (in any case).
    fn called(&self, name: &str) -> Vec<SessionId> {
        let name = name.to_lowercase();
        self.names
            .iter()
            .filter(|(_, n)| n.to_lowercase() == name)
            .map(|(session, _)| *session)
            .collect()
    }

    /// Prints the room by name, with the ids that tell people apart, and
    /// marks `me`.
    fn listing(&self, me: SessionId) {
        let mut people: Vec<(String, String, SessionId)> = self
            .names
            .iter()
            .map(|(session, name)| (name.to_lowercase(), self.short_id(*session), *session))
            .collect();
        people.sort();
        println!("* in the room ({}):", people.len());
        for (_, _, session) in people {
            let you = if session == me { " (you)" } else { "" };
            println!("*   {}{you}", printable(&self.handle(session)));
        }
    }

    /// Splits what follows `/w` into whom and what: the person is a name
    /// (of one or several words), `NAME#ID`, `#ID` or an id alone.
    fn whisper_target<'a>(&self, rest: &'a str) -> Result<(SessionId, &'a str), String> {
        const USAGE: &str = "usage: /w NAME text (or NAME#ID text, as /who shows it)";
        // A name with spaces (`/w Zoe Q hi`): the longest known one that
        // the line starts with; otherwise the first word.
        let mut names: Vec<&str> = self
            .names
            .values()
            .map(String::as_str)
            .filter(|n| n.contains(char::is_whitespace))
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let spaced = names.into_iter().find_map(|name| {
            let head = rest.get(..name.len())?;
            let tail = &rest[name.len()..];
            let ends = tail.starts_with(|c: char| c == '#' || c.is_whitespace());
            (ends && head.to_lowercase() == name.to_lowercase()).then_some(name.len())
        });
        // The person ends at the first space after the name.
        let skip = spaced.unwrap_or(0);
        let Some(end) = rest[skip..].find(char::is_whitespace).map(|at| skip + at) else {
            return Err(USAGE.to_owned());
        };
        let (who, text) = (&rest[..end], rest[end..].trim());
        if text.is_empty() {
            return Err(USAGE.to_owned());
        }
        Ok((self.find(who)?, text))
    }

    /// The one session `who` means: `NAME`, `NAME#ID`, `#ID` or `ID`.
    fn find(&self, who: &str) -> Result<SessionId, String> {
        let (name, id) = match who.split_once('#') {
            Some((name, id)) => (name, Some(id)),
            // Not a name: perhaps an id without its `#`.
            None if self.called(who).is_empty() && is_hex(who) => ("", Some(who)),
            None => (who, None),
        };
        let found = match id {
            Some(id) => {
                let id = id.to_lowercase().replace('-', "");
                let among = if name.is_empty() {
                    self.names.keys().copied().collect()
                } else {
                    self.called(name)
                };
                among
                    .into_iter()
                    .filter(|s| hex(s).starts_with(&id))
                    .collect()
            }
            None => self.called(name),
        };
        let handles = || -> Vec<String> { found.iter().map(|s| self.handle(*s)).collect() };
        match (found.as_slice(), id) {
            ([one], _) => Ok(*one),
            ([], None) => Err(format!("nobody here is called {who}; /who lists the room")),
            ([], Some(_)) => Err(format!("nobody here is {who}; /who lists the room")),
            (_, None) => Err(format!(
                "several people are called {who}: {}; pick one by its id, like /w {} TEXT",
                handles().join(", "),
                handles()[0]
            )),
            (_, Some(_)) => Err(format!(
                "several people match {who}: {}; type more of the id, like /w {} TEXT",
                handles().join(", "),
                handles()[0]
            )),
        }
    }
}

/// A session id's 32 hex digits, without the dashes.
fn hex(session: &SessionId) -> String {
    session.to_string().replace('-', "")
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Prints the room: the generated `ChatEventHandler` routes each event kind
/// to its method.
struct Room {
    people: People,
    me: SessionId,
    /// Events before this index were shown in an earlier run: replay them
    /// quietly, only to learn names.
    print_from: EventIndex,
    /// The stream was lost and is not back yet, so that a loss is printed
    /// once, however many attempts to reconnect fail.
    offline: bool,
}

impl Room {
    fn new(me: SessionId, print_from: EventIndex) -> Room {
        Room {
            people: People::default(),
            me,
            print_from,
            offline: false,
        }
    }

    /// This session's name, as the room last told it.
    fn my_name(&self) -> Option<&String> {
        self.people.names.get(&self.me)
    }

    /// Prints a line about the room. Every such line carries names or
    /// texts other people chose, so it is printed through `printable`:
    /// whatever they typed reaches this terminal as visible characters,
    /// never as escape sequences.
    fn show(&self, meta: &EventMeta, line: String) {
        if meta.index >= self.print_from {
            println!("{}", printable(&line));
        }
    }
}

impl ChatEventHandler for Room {
    fn joined(&mut self, meta: &EventMeta, session: SessionId, name: String) {
        self.people.learn(session, name);
        self.show(meta, format!("* {} joined", self.people.label(session)));
    }

    fn said(&mut self, meta: &EventMeta, from: SessionId, text: String) {
        self.show(meta, format!("[{}] {text}", self.people.label(from)));
    }

    fn whispered(&mut self, meta: &EventMeta, from: SessionId, to: SessionId, text: String) {
        let line = if from == self.me {
            format!("(you whisper to {}) {text}", self.people.label(to))
        } else {
            format!("({} whispers) {text}", self.people.label(from))
        };
        self.show(meta, line);
    }

    fn renamed(&mut self, meta: &EventMeta, session: SessionId, name: String) {
        let was = self.people.label(session);
        self.people.learn(session, name);
        let now = self.people.label(session);
        self.show(meta, format!("* {was} is now {now}"));
    }

    fn unknown(&mut self, meta: &EventMeta, kind: &str, _data: Option<&Value>) {
        self.show(
            meta,
            format!("* (something happened that this client cannot show: {kind})"),
        );
    }

    fn connection(&mut self, state: &Connection) {
        let offline = matches!(state, Connection::Reconnecting { .. });
        if offline != self.offline {
            self.offline = offline;
            // The first connection is the client starting: nothing to say.
            let line = if offline {
                "* reconnecting…"
            } else {
                "* connected again"
            };
            println!("{line}");
        }
    }

    fn resync(&mut self, resync: &Resync) {
        // A restart never gets here (`Chat::step` rejoins); this is history
        // the room no longer keeps.
        let _ = resync;
        println!("* (missed some of the room while away; continuing from now)");
    }
}

#[cfg(test)]
mod tests {
    //! Run with: `cargo test -p rex-examples --example chat-client`.

    use super::*;

    fn session(hex: &str) -> SessionId {
        let padded = format!("{hex:0<32}");
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &padded[..8],
            &padded[8..12],
            &padded[12..16],
            &padded[16..20],
            &padded[20..]
        );
        uuid.parse().unwrap()
    }

    fn room() -> (People, [SessionId; 4]) {
        let ids = [
            session("3f2a11"),
            session("9c0122"),
            session("3f2b33"),
            session("aaaa44"),
        ];
        let mut people = People::default();
        people.learn(ids[0], "Bob".into());
        people.learn(ids[1], "bob".into());
        people.learn(ids[2], "Zoe Q".into());
        people.learn(ids[3], "Ann".into());
        (people, ids)
    }

    #[test]
    fn whispers_pick_a_person_by_name_handle_or_id() {
        let (people, ids) = room();
        let whisper = |line: &str| match parse_command(line, &people) {
            Command::Send(ChatMsg::Whisper { to, text }) => Ok((to, text)),
            Command::Problem(p) => Err(p),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(whisper("/w ann hi there"), Ok((ids[3], "hi there".into())));
        assert_eq!(whisper("/w Bob#9c01 psst"), Ok((ids[1], "psst".into())));
        assert_eq!(whisper("/w #3f2a psst"), Ok((ids[0], "psst".into())));
        assert_eq!(whisper("/w 9c01 psst"), Ok((ids[1], "psst".into())));
        assert_eq!(whisper("/w zoe q  hi"), Ok((ids[2], "hi".into())));
        assert_eq!(whisper("/w Zoe Q#3f2b hi"), Ok((ids[2], "hi".into())));

        let several = whisper("/w Bob psst").unwrap_err();
        assert_eq!(
            several,
            "several people are called Bob: Bob#3f2a, bob#9c01; pick one by its id, like /w Bob#3f2a TEXT"
        );
        let several = whisper("/w #3f psst").unwrap_err();
        assert!(several.contains("Bob#3f2a, Zoe Q#3f2b"), "{several}");
        assert_eq!(
            whisper("/w Carl hi").unwrap_err(),
            "nobody here is called Carl; /who lists the room"
        );
        assert!(whisper("/w Bob")
            .unwrap_err()
            .starts_with("usage: /w NAME text"));
    }

    #[test]
    fn ids_grow_until_they_tell_everyone_apart() {
        let (mut people, ids) = room();
        assert_eq!(people.short_id(ids[0]), "3f2a");
        people.learn(session("3f2a19"), "Cy".into());
        assert_eq!(people.short_id(ids[0]), "3f2a11");
        assert_eq!(people.label(ids[3]), "Ann");
        assert_eq!(people.label(ids[1]), "bob#9c0122");
    }

    #[test]
    fn other_lines_are_said_or_commands() {
        let people = People::default();
        assert_eq!(
            parse_command("  hello /w ", &people),
            Command::Send(ChatMsg::Say {
                text: "hello /w".into()
            })
        );
        assert_eq!(parse_command("   ", &people), Command::Nothing);
        assert_eq!(parse_command("/WHO", &people), Command::Who);
        assert_eq!(parse_command("/help", &people), Command::Help);
        assert_eq!(parse_command("/q", &people), Command::Quit);
        assert_eq!(
            parse_command("/nick  Zoe Q ", &people),
            Command::Send(ChatMsg::Rename {
                name: "Zoe Q".into()
            })
        );
        assert_eq!(
            parse_command("/frob x", &people),
            Command::Problem("there is no command /frob; /help lists the commands".into())
        );
    }
}
