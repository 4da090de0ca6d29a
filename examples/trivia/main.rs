//! Run with: `cargo run --example trivia -- [--host | --demo N] [--bind ADDR] [--no-discovery] [--questions FILE] [--name NAME] [--rounds N] [--seconds S] [--pause S] [--allow-host NAME] [--pin PIN] [--data DIR | --redis URL]`
//!
//! Trivia night. Without `--demo` it runs a real room: it listens on every
//! interface, advertises itself on the local network (unless
//! `--no-discovery`), and serves the TV screen at `/` and the phone
//! controller at `/play` from the same port (pages embedded in the binary).
//! It prints the join URL with its QR code, and shows the game in the
//! terminal as it happens; the first player to join is the host and starts
//! the game from their phone, or press Enter here to start it. Ctrl-C or
//! SIGTERM shuts it down gracefully. With `--data DIR` the room (players,
//! scores, the open question and its deadline, and every phone's session)
//! is kept in that directory: kill it mid-question, start it again with the
//! same `--data`, and the phones carry on with their scores.
//!
//! With `--host` it hosts any number of games at once (`rex::Host`): its
//! start page at `/` lets a TV host a game (the room's TV screen, with
//! the room's four-letter code and a QR code, is then at `/r/<code>/`) and
//! a phone join one by typing the code (its phone page is
//! `/r/<code>/play`). `--rounds` and `--seconds` are each room's defaults
//! (a room's creator may ask for others in the `POST /rex/v0/rooms`
//! body); `--pin` is every room's PIN; `--data DIR` keeps every room. A
//! room closes 10 minutes after its final standings, or after 30 idle
//! minutes. The terminal prints a line for each room opened and closed;
//! there is no Enter-to-start (each room's first player starts it). The
//! host is advertised on the local network (TXT `rooms=1`) unless
//! `--no-discovery`.
//!
//! With `--host --redis redis://127.0.0.1:6379` it is one host of a group
//! sharing its games through that Redis (`docs/scaling.md`): run it on
//! several machines (or ports) with the same `--redis`; a phone may open
//! any host's URL and is sent (`307`) to the host serving its game, and
//! when a host dies another takes its games over, scores and phones'
//! sessions included. Each host tells the others its URL, the first one
//! it prints (or `--public-url`).
//!
//! With `--demo N` it plays a short game on loopback with N bot players
//! (typed Rust clients answering through the generated `TriviaMsgClient`
//! stubs, with random delays and accuracy), prints it, checks that every
//! bot's private results add up to its final score, and exits 0 after the
//! final standings. The first line on stdout is always
//! `listening on http://<addr>`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use rex::{AppHandle, Discovery, EventMeta, Host, Server, SessionId};
use rex_examples::trivia::bot::{self, Asked, BotReport, TriviaClient};
use rex_examples::trivia::hosted::{self, MAX_ROUNDS, MAX_SECONDS};
use rex_examples::trivia::show::{
    answered_tally, choices_line, letter, right_tally, standing_line,
};
use rex_examples::trivia::{
    questions, web, Question, Standing, TriviaApp, TriviaConfig, TriviaEventHandler,
};

/// Prints a line of the narration. Names are the players' own choice, so
/// every line goes through `printable`: a name can never reach this
/// terminal as an escape sequence.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", rex_examples::cli::printable(&format!($($arg)*)))
    };
}

/// A REx trivia room.
#[derive(Debug, Parser)]
struct Args {
    /// Play a short demo game with this many bot players on loopback, then
    /// exit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=12))]
    demo: Option<u8>,
    /// Host many games at once: a start page at `/` where a TV hosts a
    /// game and phones join one by its code (each game under
    /// `/r/<code>/`).
    #[arg(long, conflicts_with = "demo")]
    host: bool,
    /// Address to listen on (default 0.0.0.0:0, or 127.0.0.1:0 with
    /// `--demo`); port 0 picks a free one.
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Do not advertise the room (or, with `--host`, the host: `rex
    /// discover` shows it as one that hosts rooms) on the local network
    /// (mDNS). A demo never does.
    #[arg(long)]
    no_discovery: bool,
    /// A question file (a JSON array of `{"question", "choices", "answer"}`;
    /// see `examples/trivia/questions.json`) instead of the bundled set.
    #[arg(long, value_name = "FILE")]
    questions: Option<PathBuf>,
    /// The room's display name (with `--host`: the start page's, and each
    /// game's).
    #[arg(long, default_value = "REx trivia")]
    name: String,
    /// Joining needs this PIN (with `--host`, every game's). The TV shows
    /// it next to the QR code, and the QR code carries it, so scanning
    /// still needs no typing.
    #[arg(long, value_name = "PIN", value_parser = rex_examples::cli::parse_pin)]
    pin: Option<String>,
    /// Questions per game (default 10, or 5 with `--demo`; with `--host`,
    /// for a game whose creator did not ask for a number).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_ROUNDS)))]
    rounds: Option<u32>,
    /// Seconds to answer each question (default 20, or 3 with `--demo`;
    /// with `--host`, for a game whose creator did not ask for a number).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SECONDS)))]
    seconds: Option<u32>,
    /// Seconds the room shows "get ready" and each answer with its
    /// scoreboard before the next question (default 6, or 1 with
    /// `--demo`).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..=600))]
    pause: Option<u32>,
    /// Also answer to this host name, e.g. one in the LAN's own DNS
    /// (repeatable; `.example.org` allows a whole domain). IP addresses,
    /// `localhost` and `.local` names always work.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// Keep the room (with `--host`, every game) in this directory
    /// (created if missing), so it survives a crash or a restart; without
    /// it the room lives in memory. Not with `--demo`.
    #[arg(long, value_name = "DIR", conflicts_with = "demo")]
    data: Option<PathBuf>,
    /// With `--host`: keep every game in this Redis, shared with the other
    /// hosts given the same URL (`redis://127.0.0.1:6379`).
    #[arg(long, value_name = "URL", requires = "host", conflicts_with = "data")]
    redis: Option<String>,
    /// With `--redis`: the URL phones reach this host at, where the other
    /// hosts send them (default: the first URL it prints).
    #[arg(long, value_name = "URL", requires = "redis")]
    public_url: Option<String>,
}

const BOT_NAMES: [&str; 12] = [
    "Ada", "Boris", "Chloé", "Dmitri", "Esme", "Farid", "Greta", "Hiro", "Ines", "Jonah", "Kemi",
    "Luca",
];

#[tokio::main]
async fn main() -> ExitCode {
    rex_examples::cli::init_tracing("warn");
    let args = Args::parse();
    let loaded = match &args.questions {
        Some(path) => questions::load(path),
        None => questions::bundled(),
    };
    let set = match loaded {
        Ok(set) => set,
        Err(e) => {
            eprintln!("trivia: {e}");
            return ExitCode::from(2);
        }
    };
    let demo = args.demo.is_some();
    let config = TriviaConfig {
        rounds: args.rounds.unwrap_or(if demo { 5 } else { 10 }) as usize,
        seconds: args.seconds.unwrap_or(if demo { 3 } else { 20 }),
        pause: Duration::from_secs(u64::from(args.pause.unwrap_or(if demo { 1 } else { 6 }))),
    };
    let result = match args.demo {
        Some(players) => run_demo(&args, set, config, players).await,
        None if args.host => run_host(&args, set, config).await,
        None => run_room(&args, set, config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trivia: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Binds `--bind` (default: every interface, a free port) and returns the
/// listener, its address and the URLs people reach it at, the one to show
/// first first (never empty). Bound before the pages are made, since the
/// join URLs (and their QR codes) need the port.
async fn bind_lan(
    args: &Args,
) -> Result<(tokio::net::TcpListener, SocketAddr, Vec<String>), Error> {
    let bind = args
        .bind
        .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let mut urls = rex_examples::cli::lan_urls(addr);
    if urls.is_empty() {
        urls.push(rex_examples::cli::local_url(addr));
    }
    Ok((listener, addr, urls))
}

/// A real room: serve until Ctrl-C or SIGTERM.
async fn run_room(args: &Args, set: Vec<Question>, config: TriviaConfig) -> Result<(), Error> {
    let (listener, addr, urls) = bind_lan(args).await?;
    let room_url = urls[0].clone();
    let join_url = web::join_url(&room_url, args.pin.as_deref());
    let mut builder = rex_examples::cli::allow_hosts(
        Server::builder(TriviaApp::new(set, config).shuffled()),
        &args.allow_host,
    )
    .name(&args.name)
    .assets(web::assets(&join_url, args.pin.as_deref()));
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    if let Some(dir) = &args.data {
        builder = builder.data_dir(dir);
    }
    let server = builder.listener(listener).await?;
    println!("listening on http://{addr}");
    println!("open {room_url}/ on the TV");
    for url in urls.iter().skip(1) {
        println!("  (also reachable at {url}/)");
    }
    println!("players join at {join_url}");
    if let Some(pin) = &args.pin {
        println!("the room's PIN is {pin} (the QR code carries it)");
    }
    if let Some(qr) = web::terminal_qr(&join_url) {
        println!("{qr}");
    }
    println!("the first player to join is the host; or press Enter here to start the game");
    tokio::spawn(narrate(rex_examples::cli::local_url(addr), None));
    tokio::spawn(start_on_enter(server.handle()));
    if args.no_discovery {
        server.run(rex_examples::cli::shutdown_signal()).await?;
    } else {
        server
            .run_advertised(&Discovery::new(), rex_examples::cli::shutdown_signal())
            .await?;
    }
    Ok(())
}

/// Many games: serve the start page and every room until Ctrl-C or
/// SIGTERM.
async fn run_host(args: &Args, set: Vec<Question>, config: TriviaConfig) -> Result<(), Error> {
    let (listener, addr, urls) = bind_lan(args).await?;
    let host_url = urls[0].clone();
    // Rooms stopped by the shutdown are not "closed": with `--data` they
    // come back at the next start.
    let stopping = Arc::new(AtomicBool::new(false));
    let closed = stopping.clone();
    let factory = move |room: &rex::NewRoom| {
        let app = hosted::room_app(room, &set, &config)?;
        say!("+ game {} opened: {}", room.code, room.name);
        Ok(app.keeping(RoomLine {
            code: room.code,
            stopping: closed.clone(),
        }))
    };
    let mut builder = args
        .allow_host
        .iter()
        .fold(Host::builder(factory), |builder, name| {
            builder.allow_host(name)
        })
        .name(&args.name)
        .assets(web::pages())
        .room_assets(web::room_join(&host_url, args.pin.as_deref()))
        .landing(web::landing());
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    if let Some(dir) = &args.data {
        builder = builder.data_dir(dir);
    }
    if let Some(redis) = &args.redis {
        let public = args.public_url.clone().unwrap_or_else(|| host_url.clone());
        builder = builder.redis(redis).public_url(public);
    }
    let host = builder.listener(listener).await?;
    println!("listening on http://{addr}");
    println!("hosting trivia on {host_url}/; open it on a TV");
    for url in urls.iter().skip(1) {
        println!("  (also reachable at {url}/)");
    }
    if let Some(pin) = &args.pin {
        println!("every game's PIN is {pin} (each TV's QR code carries it)");
    }
    let shutdown = async {
        rex_examples::cli::shutdown_signal().await;
        stopping.store(true, Ordering::Release);
    };
    if args.no_discovery {
        host.run(shutdown).await?;
    } else {
        // Found by `rex discover` as a host (`rooms=1`).
        host.run_advertised(&Discovery::new(), shutdown).await?;
    }
    Ok(())
}

/// Kept by each hosted game's app, which drops it when the room closes:
/// prints that line, unless the whole host is stopping.
struct RoomLine {
    code: rex::RoomCode,
    stopping: Arc<AtomicBool>,
}

impl Drop for RoomLine {
    fn drop(&mut self) {
        if !self.stopping.load(Ordering::Acquire) {
            println!("- game {} closed", self.code);
        }
    }
}

/// Enter on the terminal starts the game: the TV's own input, through the
/// app's handle rather than a session.
///
/// Stdin is read on a thread of its own: tokio reads it on a blocking-pool
/// thread that the runtime waits for when it shuts down, so after Ctrl-C
/// or SIGTERM the process would hang until someone pressed Enter.
async fn start_on_enter(handle: AppHandle<TriviaApp>) {
    let (enter, mut entered) = tokio::sync::mpsc::channel::<()>(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if line.is_err() || enter.blocking_send(()).is_err() {
                return;
            }
        }
    });
    while entered.recv().await.is_some() {
        match handle.run(|app, cx| app.start_game(cx)).await {
            Ok(Ok(())) => {}
            Ok(Err(reject)) => println!("! {reject}"),
            Err(_) => return,
        }
    }
}

/// The demo: a server on loopback, `players` bots, one short game.
async fn run_demo(
    args: &Args,
    set: Vec<Question>,
    config: TriviaConfig,
    players: u8,
) -> Result<(), Error> {
    let bind = args
        .bind
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let key = bot::answer_key(&set);
    let seconds = config.seconds;
    let mut builder = Server::builder(TriviaApp::new(set, config).shuffled()).name(&args.name);
    if let Some(pin) = &args.pin {
        builder = builder.pin(pin);
    }
    let server = builder.bind(bind).await?;
    let url = rex_examples::cli::local_url(server.local_addr());
    println!("listening on {url}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let narrator = tokio::spawn(narrate(url.clone(), Some(usize::from(players))));
    // Bots join one after another, so the first is the host.
    let mut clients = Vec::new();
    for name in BOT_NAMES.iter().cycle().take(usize::from(players)) {
        let mut builder = TriviaClient::builder(url.as_str()).name(*name);
        if let Some(pin) = &args.pin {
            builder = builder.pin(pin);
        }
        let client: TriviaClient = builder.connect().await?;
        clients.push(client);
    }
    let host = clients.first().cloned().ok_or("no players")?;
    let mut bots = Vec::new();
    for client in clients {
        let key = key.clone();
        // Each bot has its own skill: how often it knows the answer, and
        // how quick it is.
        let accuracy = 0.4 + 0.5 * fastrand::f64();
        let quickness = 0.3 + 0.5 * fastrand::f64();
        bots.push(tokio::spawn(async move {
            bot::play(client, &key, |q: &Asked<'_>| {
                Some(decide(q, accuracy, quickness, seconds))
            })
            .await
        }));
    }
    host.start().await?;

    // A generous bound: the game takes about (seconds + 1) per question.
    let budget = Duration::from_secs(30 + 5 * u64::from(seconds) * 50);
    let reports = tokio::time::timeout(budget, async {
        let mut reports = Vec::new();
        for bot in bots {
            reports.push(bot.await??);
        }
        Ok::<_, Error>(reports)
    })
    .await
    .map_err(|_| "the demo game did not finish in time")??;
    let standings = tokio::time::timeout(Duration::from_secs(10), narrator)
        .await
        .map_err(|_| "the narrator did not see the end of the game")??;
    let _ = stop.send(());
    serving.await??;

    check(&reports, &standings)?;
    println!(
        "checked: each player's private results add up to their final score, and the standings are sorted"
    );
    Ok(())
}

/// A bot's answer: right with probability `accuracy`, else another choice;
/// after a delay that is a random part of the time, scaled by `quickness`.
fn decide(q: &Asked<'_>, accuracy: f64, quickness: f64, seconds: u32) -> (Duration, u32) {
    let n = q.choices.len().max(1) as u32;
    let correct = q.correct.unwrap_or(0);
    let choice = if fastrand::f64() < accuracy || n == 1 {
        correct
    } else {
        (correct + 1 + fastrand::u32(..n - 1)) % n
    };
    // Between 10% and 90% of the time allowed, so bots beat the deadline.
    let share = (0.1 + 0.8 * quickness * fastrand::f64()).min(0.9);
    (Duration::from_secs_f64(f64::from(seconds) * share), choice)
}

/// The demo's self-check: what each bot was told privately agrees with the
/// final standings.
fn check(reports: &[BotReport], standings: &[Standing]) -> Result<(), Error> {
    if !standings.windows(2).all(|w| w[0].score >= w[1].score) {
        return Err("the final standings are not sorted".into());
    }
    for report in reports {
        let sum: u32 = report.results.iter().map(|r| r.points).sum();
        let Some(standing) = standings.iter().find(|s| s.session == report.session) else {
            return Err(format!("{} is missing from the standings", report.session).into());
        };
        if sum != standing.score {
            return Err(format!(
                "{}'s results add up to {sum}, but the standings say {}",
                standing.name, standing.score
            )
            .into());
        }
    }
    Ok(())
}

/// Prints the game from the public log, as the TV shows it; returns the
/// final standings. `players`: in a demo, how many play (for "answered
/// (2/4)"); in a live room, everyone who joined.
async fn narrate(url: String, players: Option<usize>) -> Vec<Standing> {
    let client = match TriviaClient::builder(url.as_str())
        .anonymous()
        .connect()
        .await
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("! cannot follow the room: {e}");
            return Vec::new();
        }
    };
    let mut screen = Screen {
        players,
        ..Screen::default()
    };
    let mut events = client.events_from(0);
    while let Some(item) = events.next().await {
        match item {
            Ok(item) => screen.handle(item),
            Err(e) => eprintln!("! {e}"),
        }
        if players.is_some() {
            if let Some(standings) = screen.finished.take() {
                return standings;
            }
        }
    }
    Vec::new()
}

/// The terminal's view of the room.
#[derive(Default)]
struct Screen {
    players: Option<usize>,
    names: HashMap<SessionId, String>,
    choices: Vec<String>,
    answered: usize,
    scores: HashMap<SessionId, u32>,
    finished: Option<Vec<Standing>>,
}

impl Screen {
    fn name(&self, session: SessionId) -> String {
        self.names
            .get(&session)
            .cloned()
            .unwrap_or_else(|| session.to_string())
    }

    fn print_standings(&mut self, standings: &[Standing], with_gain: bool) {
        for s in standings {
            let before = self.scores.get(&s.session).copied().unwrap_or(0);
            let gain = with_gain.then(|| s.score.saturating_sub(before));
            say!("{}", standing_line(s, gain));
            self.scores.insert(s.session, s.score);
        }
    }
}

impl TriviaEventHandler for Screen {
    fn joined(&mut self, _: &EventMeta, session: SessionId, name: String, host: bool) {
        say!("* {name} joined{}", if host { " (host)" } else { "" });
        self.names.insert(session, name);
    }

    fn renamed(&mut self, _: &EventMeta, session: SessionId, name: String) {
        say!("* {} is now {name}", self.name(session));
        self.names.insert(session, name);
    }

    fn started(&mut self, _: &EventMeta, questions: u32, seconds: u32) {
        self.scores.clear();
        say!("* the game starts: {questions} questions, {seconds} s each");
    }

    fn question(
        &mut self,
        _: &EventMeta,
        number: u32,
        total: u32,
        text: String,
        choices: Vec<String>,
        seconds: u32,
        _closes_at_ms: u64,
    ) {
        println!();
        say!("Question {number}/{total} ({seconds} s): {text}");
        say!("  {}", choices_line(&choices));
        self.choices = choices;
        self.answered = 0;
    }

    fn answered(&mut self, _: &EventMeta, _number: u32, session: SessionId) {
        self.answered += 1;
        // In a live room everyone who joined plays.
        let players = self.players.unwrap_or(self.names.len());
        say!(
            "  {} answered {}",
            self.name(session),
            answered_tally(self.answered, players)
        );
    }

    fn revealed(&mut self, _: &EventMeta, _number: u32, correct: u32, counts: Vec<u32>) {
        let i = correct as usize;
        let right = counts.get(i).copied().unwrap_or(0);
        let all: u32 = counts.iter().sum();
        let text = self.choices.get(i).cloned().unwrap_or_default();
        let tally = right_tally(right, all);
        if all == 0 {
            say!("  answer: {}) {text}; {tally}", letter(i));
            return;
        }
        let spread: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{} {n}", letter(i)))
            .collect();
        say!(
            "  answer: {}) {text}; {tally} ({})",
            letter(i),
            spread.join(" · ")
        );
    }

    fn scores(&mut self, _: &EventMeta, _number: u32, standings: Vec<Standing>) {
        say!("  scores:");
        self.print_standings(&standings, true);
    }

    fn finished(&mut self, _: &EventMeta, standings: Vec<Standing>) {
        println!();
        say!("Final standings:");
        self.print_standings(&standings, false);
        self.finished = Some(standings);
    }
}
