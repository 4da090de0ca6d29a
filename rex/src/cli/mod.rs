//! The `rex` command-line tool (feature `cli`): a generic client for any
//! REx app, the way `grpcurl` or `websocat` serve their protocols.
//!
//! ```text
//! rex discover [--app APP] [--timeout S] [--watch]   rooms on the local network
//! rex info URL                                       describe a server and its kinds
//! rex tail URL [--start N] [--sse] [--limit N]       follow its log
//! rex send URL KIND [JSON] [--pin PIN] [--no-check]  send one message
//! rex types URL [--output FILE]                      TypeScript types of its protocol
//! rex room new URL [--name NAME] [--set KEY=VALUE]   open a room on a host of rooms
//! ```
//!
//! A URL is a server's base URL: `http://192.168.1.20:7700` for a
//! single room, `http://192.168.1.20:7700/r/KXQF` for a room of a host
//! (what `rex room new` prints), or whatever path a reverse proxy serves
//! the server under. `rex info` on a host's own URL describes the host.
//!
//! Every command takes `--json` for scripts. Colour and the spinner appear
//! only when stdout is a terminal. It knows no app's protocol in advance: it
//! sends and shows messages and events as [`Dynamic`] kinds with JSON
//! payloads. When the app publishes its schema (`GET /rex/v0/schema`),
//! `info` lists every kind with its fields and docs, `send` checks the
//! payload before sending and names the field that is wrong, and `types`
//! writes the protocol's TypeScript declarations
//! ([`ProtocolSchema::typescript`](crate::ProtocolSchema::typescript));
//! without one, the server alone checks.
//!
//! The binary is a thin wrapper over [`main`]; [`run`] is the same tool
//! with its arguments and output given, for tests and embedding:
//!
//! ```no_run
//! # async fn example() {
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let code = rex::cli::run(["rex", "info", "http://127.0.0.1:7700"], &mut out, &mut err, false).await;
//! assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
//! # }
//! ```

mod advice;
mod data;
mod host;
mod schema;
mod session;
mod sse;
mod visible;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use clap::{Args, Parser, Subcommand};
use futures_util::StreamExt;
use rex_proto::{Dynamic, EventRecord, Info};
use serde_json::{json, Value};

use crate::discovery::{Discovery, DiscoveryError, DiscoveryEvent, Room};
use crate::{Client, ClientError, Connection, Endpoint, StreamItem};

/// Exit status: the command did what was asked.
pub const EXIT_OK: u8 = 0;
/// Exit status: it failed (the message on stderr says why).
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the command line was not understood.
pub const EXIT_USAGE: u8 = 2;

/// Find, inspect, follow and talk to REx rooms (any app).
#[derive(Debug, Parser)]
#[command(name = "rex", version, about, long_about = None)]
struct Cli {
    /// Print JSON for scripts (one object per line when following).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the rooms on the local network (mDNS / DNS-SD).
    Discover(DiscoverArgs),
    /// Describe a server: its app, room name, log and kinds (or, for a
    /// host of rooms, its app and rooms).
    Info {
        /// The server's URL, `http://192.168.1.20:7700` (a hosted room's:
        /// `http://192.168.1.20:7700/r/KXQF`).
        url: String,
    },
    /// Follow a room's log, resuming by itself across reconnects.
    Tail(TailArgs),
    /// Send one message as this tool's saved session (created on first use).
    Send(SendArgs),
    /// Show what a room's data directory holds (`--data DIR` of a server):
    /// its app, epoch, log bounds, sessions and last events. Offline: stop
    /// the server first.
    Data {
        /// The data directory.
        dir: PathBuf,
        /// How many of the last events to show.
        #[arg(long, value_name = "N", default_value_t = 10)]
        last: usize,
    },
    /// Write the TypeScript declarations of a server's protocol, from its
    /// schema (for pages that use the JavaScript client).
    Types(schema::TypesArgs),
    /// Rooms of a host of rooms (a server that runs many rooms of one app).
    Room {
        #[command(subcommand)]
        command: host::RoomCommand,
    },
}

#[derive(Debug, Args)]
struct DiscoverArgs {
    /// Only rooms of this app.
    #[arg(long)]
    app: Option<String>,
    /// How long to listen, in seconds (default 3; with --watch, forever).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Keep listening and print rooms as they appear (+) and leave (-).
    #[arg(long)]
    watch: bool,
    /// Listen only on this network interface (repeat for several).
    #[arg(long = "interface", value_name = "NAME")]
    interfaces: Vec<String>,
    /// Use IPv4 only.
    #[arg(long)]
    ipv4: bool,
}

#[derive(Debug, Args)]
struct TailArgs {
    /// The server's URL.
    url: String,
    /// The first index to show (default 0: the whole retained log).
    #[arg(long, value_name = "N", default_value_t = 0)]
    start: u64,
    /// Read the stream as Server-Sent Events (what browsers use) instead of NDJSON.
    #[arg(long)]
    sse: bool,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// The server's URL.
    url: String,
    /// The message kind (`rex info URL` lists them).
    kind: String,
    /// The payload, as JSON (`'{"text":"hi"}'`); none if left out.
    data: Option<String>,
    /// The display name of the session, when one is created.
    #[arg(long, default_value = "rex-cli")]
    name: String,
    /// Where sessions are saved (default: $XDG_STATE_HOME/rex/sessions.json).
    #[arg(long, value_name = "PATH")]
    session_file: Option<PathBuf>,
    /// The room's PIN, when a session is created on a server started with
    /// one.
    #[arg(long, value_name = "PIN")]
    pin: Option<String>,
    /// Send without checking the payload against the app's schema first
    /// (the server checks it either way).
    #[arg(long)]
    no_check: bool,
}

/// Runs the tool on the process's arguments and standard streams.
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rex: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let terminal = std::io::stdout().is_terminal();
    let code = runtime.block_on(run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        terminal,
    ));
    ExitCode::from(code)
}

/// Runs the tool: `args` as on a command line (the first is the program
/// name), results on `out`, messages on `err`. `terminal` says whether
/// `out` is a terminal (colour, spinner). Returns the exit status:
/// [`EXIT_OK`], [`EXIT_FAILED`] or [`EXIT_USAGE`].
pub async fn run<I, T>(
    args: I,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
    terminal: bool,
) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = write!(err, "{}", e.render());
            return EXIT_USAGE;
        }
        Err(e) => {
            // --help, --version
            let _ = write!(out, "{}", e.render());
            return EXIT_OK;
        }
    };
    let mut console = Console {
        out,
        err,
        lost: false,
        color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        terminal,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Discover(args) => discover(&mut console, args).await,
        Command::Info { url } => info(&mut console, &url).await,
        Command::Tail(args) if args.sse => sse::tail(&mut console, &args).await,
        Command::Tail(args) => tail(&mut console, &args).await,
        Command::Send(args) => send(&mut console, args).await,
        Command::Data { dir, last } => data::data(&mut console, &dir, last),
        Command::Types(args) => schema::types(&mut console, args).await,
        Command::Room { command } => host::room(&mut console, command).await,
    };
    let _ = console.out.flush();
    match result {
        Ok(()) => EXIT_OK,
        Err(Failure::Message(message)) => {
            // The message may quote a server's reason.
            let _ = writeln!(console.err, "rex: {}", visible::visible(&message));
            EXIT_FAILED
        }
        Err(Failure::Reported) => EXIT_FAILED,
    }
}

/// Why a command failed.
enum Failure {
    /// To be printed on stderr.
    Message(String),
    /// Already printed on stdout (an error answer in `--json` mode).
    Reported,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Message(advice::explain(&e))
    }
}

impl From<DiscoveryError> for Failure {
    fn from(e: DiscoveryError) -> Self {
        Failure::Message(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Message(format!("cannot write the output: {e}"))
    }
}

/// Where results go, and how they look.
struct Console<'a> {
    out: &'a mut (dyn Write + Send),
    /// Where messages for the person go (connection changes while
    /// following), never mixed into the results.
    err: &'a mut (dyn Write + Send),
    /// Whether a lost connection was reported, so that only getting it
    /// back is reported as a change (not the first connection).
    lost: bool,
    color: bool,
    terminal: bool,
    json: bool,
}

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const KIND: Style = AnsiColor::Cyan.on_default().bold();
const FOUND: Style = AnsiColor::Green.on_default().bold();
const LOST: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();

impl Console<'_> {
    /// `text` in `style` when colour is on. Everything painted is shown to
    /// a person, and names in it come from the network: control characters
    /// are made visible here, once for every such line.
    fn paint(&self, style: Style, text: impl std::fmt::Display) -> String {
        let text = text.to_string();
        let text = visible::visible(&text);
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// What `rex info` prints: a bold name with a dim note, then one
    /// labelled row a line (peer-supplied values made visible).
    fn described(
        &mut self,
        name: &str,
        note: &str,
        rows: &[(&str, String)],
    ) -> Result<(), Failure> {
        let title = format!("{} {}", self.paint(BOLD, name), self.paint(DIM, note));
        writeln!(self.out, "{title}")?;
        for (label, value) in rows {
            let label = self.paint(DIM, format!("{label:<8}"));
            writeln!(self.out, "  {label}  {}", visible::visible(value))?;
        }
        Ok(())
    }

    fn json_line(&mut self, value: &Value) -> Result<(), Failure> {
        writeln!(self.out, "{value}")?;
        self.out.flush()?;
        Ok(())
    }
}

/// A line of "working…" on stderr while waiting, on terminals only; it
/// clears itself when dropped.
struct Spinner(Option<tokio::task::JoinHandle<()>>);

impl Spinner {
    fn start(on: bool, text: String) -> Spinner {
        if !on {
            return Spinner(None);
        }
        Spinner(Some(tokio::spawn(async move {
            const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for frame in FRAMES.iter().cycle() {
                tick.tick().await;
                let mut err = std::io::stderr();
                let _ = write!(err, "\r{frame} {text}");
                let _ = err.flush();
            }
        })))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

async fn discover(console: &mut Console<'_>, args: DiscoverArgs) -> Result<(), Failure> {
    let mut discovery = Discovery::new();
    if !args.interfaces.is_empty() {
        discovery = discovery.interfaces(args.interfaces);
    }
    if args.ipv4 {
        discovery = discovery.ipv4_only();
    }
    let timeout = match args.timeout {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(Failure::Message(format!(
                "--timeout must be a positive number of seconds, not {s}"
            )))
        }
        None if args.watch => None,
        None => Some(Duration::from_secs(3)),
    };
    let mut rooms = discovery.discover(args.app.as_deref())?;
    let interfaces = rooms.interfaces().to_vec();
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);

    if args.watch {
        while let Some(event) = next_before(&mut rooms, deadline).await {
            match event {
                DiscoveryEvent::Found(room) if console.json => {
                    let mut value = room_json(&room);
                    value["event"] = json!("found");
                    console.json_line(&value)?;
                }
                DiscoveryEvent::Lost(lost) if console.json => console.json_line(&json!({
                    "event": "lost", "instance": lost.instance, "name": lost.name, "app": lost.app,
                }))?,
                DiscoveryEvent::Found(room) => {
                    let sign = console.paint(FOUND, "+");
                    let line = room_line(console, &room, None);
                    writeln!(console.out, "{sign} {line}")?;
                }
                DiscoveryEvent::Lost(lost) => {
                    let sign = console.paint(LOST, "-");
                    writeln!(
                        console.out,
                        "{sign} {}  {}",
                        visible::visible(&lost.instance),
                        visible::visible(&lost.app)
                    )?;
                }
            }
            console.out.flush()?;
        }
        rooms.close().await;
        return Ok(());
    }

    let spinner = Spinner::start(
        console.terminal,
        format!(
            "looking for rooms on {} …",
            if interfaces.is_empty() {
                "(no interface)".to_owned()
            } else {
                interfaces.join(", ")
            }
        ),
    );
    let mut found: Vec<Room> = Vec::new();
    while let Some(event) = next_before(&mut rooms, deadline).await {
        match event {
            DiscoveryEvent::Found(room) => {
                found.retain(|r| r.instance != room.instance);
                found.push(room);
            }
            DiscoveryEvent::Lost(lost) => found.retain(|r| r.instance != lost.instance),
        }
    }
    drop(spinner);
    rooms.close().await;
    if found.is_empty() {
        return Err(DiscoveryError::NotFound {
            app: args.app,
            interfaces,
            timeout: timeout.unwrap_or_default(),
        }
        .into());
    }
    found.sort_by(|a, b| (&a.instance, &a.app).cmp(&(&b.instance, &b.app)));
    if console.json {
        let list: Vec<Value> = found.iter().map(room_json).collect();
        return console.json_line(&Value::Array(list));
    }
    let width = found.iter().map(|r| r.instance.chars().count()).max();
    for room in &found {
        let line = room_line(console, room, width);
        writeln!(console.out, "{line}")?;
    }
    Ok(())
}

/// The next event, or `None` once `deadline` has passed.
async fn next_before(
    rooms: &mut crate::discovery::DiscoveryStream,
    deadline: Option<tokio::time::Instant>,
) -> Option<DiscoveryEvent> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, rooms.next())
            .await
            .ok()
            .flatten(),
        None => rooms.next().await,
    }
}

/// `Living Room TV  chat  http://10.0.0.2:7700 (+1 more address)`, and for
/// a host of rooms how to open one.
fn room_line(console: &Console<'_>, room: &Room, width: Option<usize>) -> String {
    let pad = width
        .unwrap_or(0)
        .saturating_sub(room.instance.chars().count());
    let more = match room.addrs.len() {
        0 | 1 => String::new(),
        n => console.paint(
            DIM,
            format!(
                " (+{} more address{})",
                n - 1,
                if n > 2 { "es" } else { "" }
            ),
        ),
    };
    let url = room.url().unwrap_or_default();
    let host = if room.hosts_rooms {
        console.paint(
            DIM,
            format!("  hosts rooms: create one with `rex room new {url}`"),
        )
    } else {
        String::new()
    };
    format!(
        "{}{}  {}  {}{more}{host}",
        console.paint(BOLD, &room.instance),
        " ".repeat(pad),
        console.paint(KIND, &room.app),
        visible::visible(&url),
    )
}

fn room_json(room: &Room) -> Value {
    json!({
        "name": room.name,
        "instance": room.instance,
        "app": room.app,
        "protocol": room.protocol,
        "path": room.path,
        "epoch": room.epoch,
        "url": room.url(),
        "addrs": room.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "port": room.port,
        "host": room.host,
        "hosts_rooms": room.hosts_rooms,
    })
}

/// An anonymous client of any app: it only reads.
async fn reader(url: &str) -> Result<Client<Dynamic>, ClientError> {
    Client::<Dynamic>::builder(url).anonymous().connect().await
}

async fn info(console: &mut Console<'_>, url: &str) -> Result<(), Failure> {
    let client = match reader(url).await {
        Ok(client) => client,
        // No `/info` here: perhaps a host of rooms, which has `/host`.
        Err(not_found @ ClientError::NotFound { .. }) => {
            return host::info(console, url, not_found).await
        }
        Err(e) => return Err(e.into()),
    };
    let info: Info = client.info().await?;
    let schema = if info.offers.iter().any(|o| o == "schema") {
        client.schema().await?
    } else {
        None
    };
    if console.json {
        let mut value = serde_json::to_value(&info).map_err(|e| Failure::Message(e.to_string()))?;
        if let Some(schema) = &schema {
            value["schema"] =
                serde_json::to_value(schema).map_err(|e| Failure::Message(e.to_string()))?;
        }
        return console.json_line(&value);
    }
    let mut rows = vec![("url", client.endpoint().to_string())];
    // A room of a group of hosts that another host serves (§16): the URL
    // given redirected there.
    let owner = client.current_endpoint();
    if owner.as_str() != client.endpoint().as_str() {
        rows.push(("owner", owner.to_string()));
    }
    rows.extend([
        ("protocol", info.protocol.to_string()),
        ("epoch", info.epoch.to_string()),
        ("log", format!("head {}, oldest {}", info.head, info.oldest)),
        ("sessions", info.sessions.to_string()),
        ("messages", info.messages.join(", ")),
        ("events", info.events.join(", ")),
    ]);
    console.described(&info.name, &format!("(app {})", info.app), &rows)?;
    if let Some(schema) = &schema {
        schema::print_kinds(console, schema)?;
    }
    Ok(())
}

async fn tail(console: &mut Console<'_>, args: &TailArgs) -> Result<(), Failure> {
    let client = reader(&args.url).await?;
    let mut events = client.events_from(args.start);
    let mut shown = 0;
    while args.limit.is_none_or(|limit| shown < limit) {
        let Some(item) = events.next().await else {
            break;
        };
        match item {
            Ok(StreamItem::Event(e)) => {
                let record = EventRecord {
                    index: e.meta.index,
                    time: e.meta.time,
                    kind: e.event.kind,
                    origin: e.meta.origin,
                    to: e.meta.to,
                    data: e.event.data,
                };
                print_event(console, &record)?;
                shown += 1;
            }
            Ok(StreamItem::Unknown { meta, kind, data }) => {
                let record = EventRecord {
                    index: meta.index,
                    time: meta.time,
                    kind,
                    origin: meta.origin,
                    to: meta.to,
                    data,
                };
                print_event(console, &record)?;
                shown += 1;
            }
            Ok(StreamItem::Resync(r)) => {
                print_resync(console, &format!("{:?}", r.cause), &r.reason, r.head)?
            }
            Ok(StreamItem::Connection(state)) => print_connection(console, &state)?,
            Err(e) if e.is_transient() => continue,
            // The stream goes on after both (it reconnects after the second).
            Err(e @ (ClientError::Decode { .. } | ClientError::Protocol { .. })) => {
                let warning = console.paint(WARN, "!");
                writeln!(
                    console.out,
                    "{warning} {}",
                    visible::visible(&e.to_string())
                )?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One event: JSON as on the wire, or `#12 +5.031s said from 6f1c…  {…}`.
fn print_event(console: &mut Console<'_>, record: &EventRecord) -> Result<(), Failure> {
    if console.json {
        let value = serde_json::to_value(record).map_err(|e| Failure::Message(e.to_string()))?;
        return console.json_line(&value);
    }
    let mut line = format!(
        "{} {} {}",
        console.paint(DIM, format!("#{}", record.index)),
        console.paint(
            DIM,
            format!("+{}.{:03}s", record.time / 1000, record.time % 1000)
        ),
        console.paint(KIND, &record.kind),
    );
    if let Some(origin) = record.origin {
        line.push_str(&format!(" from {}", short(&origin.to_string())));
    }
    if let Some(to) = &record.to {
        let to: Vec<String> = to.iter().map(|s| short(&s.to_string())).collect();
        line.push_str(&format!(" (private to {})", to.join(", ")));
    }
    if let Some(data) = &record.data {
        // JSON escapes C0 controls in strings but not C1 ones (U+009B is
        // a terminal's CSI).
        line.push_str(&format!("  {}", visible::visible(&data.to_string())));
    }
    writeln!(console.out, "{line}")?;
    console.out.flush()?;
    Ok(())
}

fn print_resync(
    console: &mut Console<'_>,
    cause: &str,
    reason: &str,
    head: u64,
) -> Result<(), Failure> {
    if console.json {
        return console.json_line(&json!({"resync": cause, "reason": reason, "head": head}));
    }
    let mark = console.paint(WARN, "~");
    writeln!(
        console.out,
        "{mark} resync ({cause}): {}; continuing at {head}",
        visible::visible(reason)
    )?;
    Ok(())
}

/// A change of the stream's connection, on stderr for the person watching:
/// `reconnecting… (attempt 3)`. The first connection is not news.
fn print_connection(console: &mut Console<'_>, state: &Connection) -> Result<(), Failure> {
    match state {
        Connection::Connected if console.lost => writeln!(console.err, "rex: connected again")?,
        Connection::Connected => {}
        Connection::Reconnecting { attempts: 0, .. } => {
            writeln!(console.err, "rex: connection lost; reconnecting…")?
        }
        Connection::Reconnecting { attempts, .. } => writeln!(
            console.err,
            "rex: reconnecting… (attempt {})",
            attempts.saturating_add(1)
        )?,
    }
    console.lost = !matches!(state, Connection::Connected);
    console.err.flush()?;
    Ok(())
}

/// The first 8 characters of an id, enough to tell sessions apart.
fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

async fn send(console: &mut Console<'_>, args: SendArgs) -> Result<(), Failure> {
    let data = match &args.data {
        None => None,
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
            Failure::Message(format!(
                "the payload is not valid JSON ({e}); quote it, e.g. '{{\"text\":\"hi\"}}'"
            ))
        })?),
    };
    let server = Endpoint::parse(&args.url)?.to_string();
    if !args.no_check {
        // Before a session is made or anything is sent: a payload that
        // cannot fit is the sender's to fix, and the schema says where.
        // An app without a schema (404) leaves the checking to the server.
        if let Some(schema) = reader(&server).await?.schema().await? {
            if let Err(refused) = schema::check(&schema, &args.kind, data.as_ref()) {
                if console.json {
                    console.json_line(&json!({"error": refused.code, "reason": refused.reason}))?;
                    return Err(Failure::Reported);
                }
                return Err(Failure::Message(refused.reason));
            }
        }
    }
    let path = match args.session_file {
        Some(path) => path,
        None => session::default_path().map_err(Failure::Message)?,
    };
    let mut sessions = session::Sessions::load(&path).map_err(Failure::Message)?;
    let mut builder = Client::<Dynamic>::builder(server.as_str()).name(&args.name);
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    if let Some(saved) = sessions.get(&server) {
        builder = builder.restore(saved.clone());
    }
    let client = builder.connect().await?;
    if let Some(credentials) = client.credentials() {
        sessions
            .save(&server, credentials)
            .map_err(Failure::Message)?;
    }
    let message = Dynamic::new(args.kind, data);
    match client.send(&message).await {
        Ok(receipt) if console.json => console.json_line(&json!(receipt)),
        Ok(receipt) => {
            let events = match receipt.count {
                0 => "no event".to_owned(),
                1 => format!("event {}", receipt.first),
                n => format!("events {}..{}", receipt.first, receipt.first + n - 1),
            };
            writeln!(
                console.out,
                "{} {} → {events}",
                console.paint(FOUND, "sent"),
                console.paint(KIND, &message.kind)
            )?;
            Ok(())
        }
        Err(e) => match e.code() {
            Some(code) if console.json => {
                let reason = e.to_string();
                let reason = reason.strip_prefix(&format!("{code}: ")).unwrap_or(&reason);
                console.json_line(&json!({"error": code, "reason": reason}))?;
                Err(Failure::Reported)
            }
            _ => Err(e.into()),
        },
    }
}
