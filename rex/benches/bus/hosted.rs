//! Hosted rooms (issue 16): one `rex::Host` serving many rooms of the
//! bench app, in the same run as the single-room figures. Three parts,
//! each in a fresh host child pinned to the server core:
//!
//! - **`hosted-rooms`** (a host in memory): a few rooms and their sessions
//!   to warm up, the RSS reading, then N rooms opened over HTTP by a few
//!   keep-alive clients (the room creation rate, and RSS per idle room),
//!   then 8 sessions in each room (RSS per room with 8 idle sessions).
//! - **`hosted-disk`** (a host with a data directory: one redb store per
//!   room): rooms opened the same way, bounded in time: the creation rate,
//!   RSS and disk space per room.
//! - **`hosted-party`**: R rooms × 8 players. Each player has a session, an
//!   NDJSON stream of its room (with its token) and a keep-alive connection
//!   on which it sends one `say` a second, the players' sends spread evenly
//!   over the second. First RSS per idle stream (streams opened, the
//!   room's 8 greetings delivered to each, then quiet); then a warm-up and
//!   a measured window: message round trip (POST → 200), append → receive
//!   at each of the room's 8 readers (the text of a measured message is
//!   `t<its send time>`, which the stream reader already understands;
//!   warm-up messages say `w…` and are not counted), server and load
//!   generator CPU, and how late the senders were against their schedule.
//!
//! The host child (`REX_BENCH_SERVER=host|host-disk`, and `host-redis`
//! for `across.rs`) lifts the per-address limits and the room creation
//! rate (the load generator is one address) and keeps every other default
//! of a host. Every phase is
//! bounded in time. `REX_BENCH_HOSTED=0` skips all of it;
//! `cargo bench -p rex --bench bus -- hosted` runs only it.

use std::fmt::Write as _;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::app::BenchApp;
use super::child::{self, ServerProc};
use super::load::{self, wall_ns, Conn, Hist, Readers};
use super::report::{fmt_value, ms, target_cell, targets, Row};
use super::scenarios::Perf;
use super::{BoxError, Plan};

/// `REX_BENCH_SERVER` of a host in memory, of one with a data directory,
/// and of one of a group sharing its rooms through the Redis at
/// `$REX_BENCH_REDIS_URL` (`across.rs`).
pub(crate) const HOST: &str = "host";
pub(crate) const HOST_DISK: &str = "host-disk";
pub(crate) const HOST_REDIS: &str = "host-redis";

/// The Redis of a `host-redis` child.
pub(crate) const REDIS_URL_ENV: &str = "REX_BENCH_REDIS_URL";

/// Players per room (issue 16's party night: 8).
const PLAYERS: usize = 8;

/// The host's room cap in the bench: far above any size here, so the
/// default (1,000) never refuses a room.
const MAX_ROOMS: usize = 100_000;

/// Bound on any one setup step (opening rooms, sessions, streams).
const LONG: Duration = Duration::from_secs(120);

/// Bound on the readers getting the last events after the senders stop.
const DRAIN: Duration = Duration::from_secs(30);

/// The issue's targets.
const ROOM_KIB: f64 = 64.0;
const ROOM_WITH_SESSIONS_KIB: f64 = 128.0;
const PARTY_P99_MS: f64 = 10.0;
const PARTY_ROOMS: usize = 1000;

/// What the hosted part of the bench runs, for the JSON report.
pub(crate) const SETUP: &str = "a child process per part (REX_BENCH_SERVER=host|host-disk) \
    running rex::Host with the bench app on the server CPU, current_thread runtime; limits per \
    address and the room creation rate lifted, room cap 100,000, every other setting the host's \
    default (retention 64 MiB per room, heartbeats 15 s); all traffic from the load generator \
    over 127.0.0.1";

/// How big and how long the hosted parts are.
struct Sizes {
    /// Rooms opened (and joined) before the first memory reading.
    warm_rooms: usize,
    /// Rooms for the memory figures and the creation rate.
    rooms: usize,
    /// Concurrent keep-alive clients opening rooms and sessions.
    clients: usize,
    /// Rooms on the durable host, and the bound on opening them.
    disk_rooms: usize,
    disk_max: Duration,
    party_rooms: usize,
    party_warm: Duration,
    party_window: Duration,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        let mut sizes = if quick {
            Sizes {
                warm_rooms: 10,
                rooms: 100,
                clients: 4,
                disk_rooms: 20,
                disk_max: Duration::from_secs(5),
                party_rooms: 50,
                party_warm: Duration::from_millis(500),
                party_window: Duration::from_secs(1),
            }
        } else {
            Sizes {
                warm_rooms: 50,
                rooms: 2000,
                clients: 4,
                disk_rooms: 500,
                disk_max: Duration::from_secs(30),
                party_rooms: PARTY_ROOMS,
                party_warm: Duration::from_secs(5),
                party_window: Duration::from_secs(20),
            }
        };
        // For profiling one size: `REX_BENCH_PARTY_ROOMS=500`.
        if let Some(n) = std::env::var("REX_BENCH_PARTY_ROOMS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
        {
            sizes.party_rooms = n;
        }
        sizes
    }
}

/// Runs the hosted parts the plan wants; none with `REX_BENCH_HOSTED=0`.
pub(crate) async fn run(plan: &Plan) -> Result<Vec<Row>, BoxError> {
    if std::env::var("REX_BENCH_HOSTED").is_ok_and(|v| v == "0") {
        return Ok(Vec::new());
    }
    let sizes = Sizes::new(plan.quick);
    let mut rows = Vec::new();
    if plan.wants("hosted-rooms") {
        rows.extend(rooms(&sizes).await?);
    }
    if plan.wants("hosted-disk") {
        rows.extend(disk(plan, &sizes).await?);
    }
    if plan.wants("hosted-party") {
        rows.extend(party(plan.quick, &sizes).await?);
    }
    Ok(rows)
}

// ----------------------------------------------------------- the child --

/// The host child's `main`: serves until told to quit (or stdin ends);
/// a durable host first stops gracefully, so its stores close cleanly.
/// Besides `quit` it answers `batches` (`batches <n>`: the group commits of
/// all its rooms so far, 0 in memory), as the single-room child does.
pub(crate) fn child_main(kind: &str) -> Result<(), BoxError> {
    child::pin_server()?;
    super::runtime()?.block_on(serve(kind))
}

async fn serve(kind: &str) -> Result<(), BoxError> {
    let started = std::time::Instant::now();
    let saves = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = saves.clone();
    let builder =
        rex::Host::builder(move |_: &rex::NewRoom| Ok(BenchApp::counting(counter.clone())))
            // One trusted address opens every room, session and connection.
            .message_rate(rex::Rate::unlimited())
            .session_rate(rex::Rate::unlimited())
            .sessions_per_address(usize::MAX)
            .max_connections_per_address(usize::MAX)
            .room_creation_rate(rex::Rate::unlimited())
            .max_rooms(MAX_ROOMS);
    let host = match kind {
        HOST_DISK => {
            let dir = std::env::var_os(child::DATA_DIR_ENV)
                .ok_or_else(|| format!("{} is not set", child::DATA_DIR_ENV))?;
            builder.data_dir(dir).bind("127.0.0.1:0").await?
        }
        HOST_REDIS => {
            let url =
                std::env::var(REDIS_URL_ENV).map_err(|_| format!("{REDIS_URL_ENV} is not set"))?;
            // Its public URL is `http://` and the bound address.
            builder.redis(url).bind("127.0.0.1:0").await?
        }
        _ => builder.bind("127.0.0.1:0").await?,
    };
    let addr = host.local_addr();
    let startup = started.elapsed();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(host.run(async {
        let _ = stopped.await;
    }));
    let (tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    println!("addr {addr} {}", startup.as_nanos());
    // `quit` and the end of stdin end it.
    while let Some(line) = lines.recv().await {
        match line.trim() {
            "batches" => println!("batches {}", saves.load(Ordering::Relaxed)),
            "quit" => break,
            _ => return Err(format!("unknown command `{line}`").into()),
        }
    }
    if kind != HOST {
        let _ = stop.send(());
        task.await??;
    }
    std::process::exit(0)
}

// ------------------------------------------------------- rooms, players --

/// Opens up to `n` rooms over HTTP (`POST /rex/v0/rooms`) with `clients`
/// keep-alive connections, stopping early after `limit`; returns their
/// codes and the seconds it took.
pub(crate) async fn open_rooms(
    addr: SocketAddr,
    n: usize,
    clients: usize,
    limit: Duration,
) -> Result<(Vec<String>, f64), BoxError> {
    let taken = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let deadline = t0 + limit;
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let taken = taken.clone();
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await?;
                let request = Conn::encode("POST", "/rex/v0/rooms", None, b"{}");
                let mut codes = Vec::new();
                while Instant::now() < deadline && taken.fetch_add(1, Ordering::Relaxed) < n {
                    let answer = conn.call(&request).await?;
                    let body: Value = serde_json::from_slice(&answer.body)?;
                    if answer.status != 201 {
                        let status = answer.status;
                        return Err(format!("opening a room answered {status}: {body}").into());
                    }
                    let code = body["room"]
                        .as_str()
                        .ok_or("a room answer without a code")?;
                    codes.push(code.to_owned());
                }
                Ok::<_, BoxError>(codes)
            })
        })
        .collect();
    let mut codes = Vec::with_capacity(n);
    for worker in workers {
        codes.extend(worker.await??);
    }
    Ok((codes, t0.elapsed().as_secs_f64()))
}

/// A room of the party and its players.
struct Room {
    code: String,
    tokens: Vec<String>,
    /// The head of the room's log once its players had joined.
    head: u64,
}

/// Creates `PLAYERS` sessions in each room, `clients` rooms at a time.
async fn join(addr: SocketAddr, codes: &[String], clients: usize) -> Result<Vec<Room>, BoxError> {
    let codes: Arc<[String]> = codes.into();
    let taken = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (codes, taken) = (codes.clone(), taken.clone());
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await?;
                let mut rooms = Vec::new();
                loop {
                    let i = taken.fetch_add(1, Ordering::Relaxed);
                    let Some(code) = codes.get(i) else { break };
                    rooms.push((i, join_room(&mut conn, code).await?));
                }
                Ok::<_, BoxError>(rooms)
            })
        })
        .collect();
    let mut rooms = Vec::with_capacity(codes.len());
    for worker in workers {
        rooms.extend(worker.await??);
    }
    rooms.sort_by_key(|(i, _)| *i);
    Ok(rooms.into_iter().map(|(_, room)| room).collect())
}

async fn join_room(conn: &mut Conn, code: &str) -> Result<Room, BoxError> {
    let path = format!("/r/{code}/rex/v0/sessions");
    let mut room = Room {
        code: code.to_owned(),
        tokens: Vec::with_capacity(PLAYERS),
        head: 0,
    };
    for p in 0..PLAYERS {
        let body = format!(r#"{{"name":"player {p}"}}"#);
        let answer = conn
            .call(&Conn::encode("POST", &path, None, body.as_bytes()))
            .await?;
        let created: Value = serde_json::from_slice(&answer.body)?;
        if answer.status != 201 {
            return Err(format!("joining {code} answered {}: {created}", answer.status).into());
        }
        let token = created["token"].as_str().ok_or("a session without token")?;
        room.tokens.push(token.to_owned());
        room.head = room.head.max(created["next"].as_u64().unwrap_or(0));
    }
    Ok(room)
}

/// Lets the server settle (allocator, deferred frees) before reading RSS.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn kib_per(bytes: i64, n: usize) -> f64 {
    bytes as f64 / 1024.0 / n.max(1) as f64
}

fn grown(before: u64, after: u64) -> i64 {
    after as i64 - before as i64
}

// ------------------------------------------------------ memory, creation --

/// A host in memory: the room creation rate and RSS per idle room, without
/// and with 8 sessions.
async fn rooms(s: &Sizes) -> Result<Vec<Row>, BoxError> {
    let server = ServerProc::start_hosted(HOST, None).await?;
    let addr = server.addr;
    let (warm, _) = open_rooms(addr, s.warm_rooms, s.clients, LONG).await?;
    join(addr, &warm, s.clients).await?;
    settle().await;
    let rss0 = server.rss();
    let cpu0 = server.cpu_ns();
    let (codes, secs) = open_rooms(addr, s.rooms, s.clients, LONG).await?;
    let cpu = server.cpu_ns() - cpu0;
    let n = codes.len();
    settle().await;
    let rss1 = server.rss();
    join(addr, &codes, s.clients).await?;
    settle().await;
    let rss2 = server.rss();
    let name = format!("H1 {n} idle rooms, host in memory");
    eprintln!("hosted: {n} rooms in {:.0} ms", secs * 1e3);
    let room = kib_per(grown(rss0, rss1), n);
    let with = kib_per(grown(rss0, rss2), n);
    Ok(vec![
        single(&name, &opened(s.clients), "/s", n as f64 / secs),
        single(
            &name,
            "server CPU per room opened",
            "µs",
            cpu as f64 / 1e3 / n as f64,
        ),
        single(&name, "server RSS per room, no sessions", "KiB", room)
            .target_text(format!("≤ {ROOM_KIB} KiB"), room <= ROOM_KIB),
        single(
            &name,
            "server RSS per room with 8 idle sessions",
            "KiB",
            with,
        )
        .target_text(
            format!("≤ {ROOM_WITH_SESSIONS_KIB} KiB"),
            with <= ROOM_WITH_SESSIONS_KIB,
        ),
        single(
            &name,
            "server RSS per idle session",
            "KiB",
            kib_per(grown(rss1, rss2), n * PLAYERS),
        ),
    ])
}

/// A host with a data directory: the same rooms, each its own store.
async fn disk(plan: &Plan, s: &Sizes) -> Result<Vec<Row>, BoxError> {
    let dir = plan.data_dir("hosted")?;
    let result = disk_in(&dir, s).await;
    // The child has exited (`disk_in` stops it) before its files go.
    std::fs::remove_dir_all(&dir)?;
    result
}

async fn disk_in(dir: &Path, s: &Sizes) -> Result<Vec<Row>, BoxError> {
    let server = ServerProc::start_hosted(HOST_DISK, Some(dir)).await?;
    let addr = server.addr;
    open_rooms(addr, s.warm_rooms.min(10), s.clients, LONG).await?;
    settle().await;
    let (rss0, disk0) = (server.rss(), disk_usage(dir));
    let cpu0 = server.cpu_ns();
    let (codes, secs) = open_rooms(addr, s.disk_rooms, s.clients, s.disk_max).await?;
    let cpu = server.cpu_ns() - cpu0;
    let n = codes.len();
    settle().await;
    let (rss1, disk1) = (server.rss(), disk_usage(dir));
    server.stop().await?;
    eprintln!("hosted on disk: {n} rooms in {:.0} ms", secs * 1e3);
    let name = if n < s.disk_rooms {
        format!(
            "H2 {n} idle rooms, host on disk (stopped at {} s)",
            s.disk_max.as_secs()
        )
    } else {
        format!("H2 {n} idle rooms, host on disk")
    };
    Ok(vec![
        single(&name, &opened(s.clients), "/s", n as f64 / secs),
        single(
            &name,
            "server CPU per room opened",
            "µs",
            cpu as f64 / 1e3 / n as f64,
        ),
        single(
            &name,
            "server RSS per room, no sessions",
            "KiB",
            kib_per(grown(rss0, rss1), n),
        ),
        single(
            &name,
            "disk space per room",
            "KiB",
            kib_per(grown(disk0, disk1), n),
        ),
    ])
}

/// Bytes allocated on disk under `dir` (`st_blocks`, so sparse files count
/// what they use).
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

fn opened(clients: usize) -> String {
    format!("rooms opened over HTTP by {clients} clients")
}

/// A row with one value (the second column of `Row` is unused here).
fn single(scenario: &str, metric: &str, unit: &'static str, value: f64) -> Row {
    let row = Row::new(scenario, metric, unit, [value, f64::NAN]);
    if matches!(unit, "/s" | "/CPU-s") {
        row
    } else {
        row.lower_is_better()
    }
}

// ----------------------------------------------------------- party night --

/// One player's connection for its messages.
struct Player {
    conn: Conn,
    path: String,
    token: String,
}

impl Player {
    /// Sends `say {text}`; the answer must be `200`.
    async fn say(&mut self, text: &str) -> Result<(), BoxError> {
        let body = format!(r#"{{"kind":"say","data":{{"text":"{text}"}}}}"#);
        let request = Conn::encode("POST", &self.path, Some(&self.token), body.as_bytes());
        let answer = self.conn.call(&request).await?;
        if answer.status != 200 {
            let body = String::from_utf8_lossy(&answer.body);
            return Err(format!("a message answered {}: {body}", answer.status).into());
        }
        Ok(())
    }
}

/// When a player sends: first at `first`, then every second; measured
/// from `warm_end`, not at or after `end`.
#[derive(Clone, Copy)]
struct Schedule {
    first: Instant,
    warm_end: Instant,
    end: Instant,
}

/// What one player measured.
#[derive(Default)]
struct Played {
    sent: u64,
    measured: u64,
    round_trip: Hist,
    /// How late each measured send was against the schedule (the load
    /// generator falling behind shows here first).
    lag: Hist,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

async fn play(mut player: Player, at: Schedule) -> Result<Played, BoxError> {
    let mut out = Played::default();
    let mut due = at.first;
    while due < at.end {
        tokio::time::sleep_until(due).await;
        let measured = due >= at.warm_end;
        let t0 = Instant::now();
        // `t<ns>` is what the stream reader takes for a send time.
        let text = if measured { "t" } else { "w" };
        player.say(&format!("{text}{}", wall_ns())).await?;
        let t1 = Instant::now();
        out.sent += 1;
        if measured {
            out.measured += 1;
            out.round_trip.record(ns(t1 - t0));
            out.lag.record(ns(t0 - due));
        }
        // Late: send once now, not a burst to catch up.
        due = (due + Duration::from_secs(1)).max(t1);
    }
    Ok(out)
}

/// Aborts the streams when the party ends, however it ends.
struct Streams(Vec<JoinHandle<Result<(), BoxError>>>);

impl Drop for Streams {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Rooms the party can have within the open-files limit (raised to the
/// hard limit, as the server child raises its own): two connections per
/// player in each process, within the 7/8 of the limit the server allows
/// itself, less a margin.
fn fit_party(want: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let usable = usize::try_from(limit / 8 * 7).unwrap_or(usize::MAX);
    want.min(usable.saturating_sub(200) / (2 * PLAYERS))
}

/// The party night's totals.
struct Party {
    rooms: usize,
    mem_per_stream: f64,
    window: f64,
    played: Played,
    deliveries: Hist,
    server_cpu: u64,
    client_cpu: u64,
    /// Time the server's and the load generator's threads were ready to
    /// run but waited for a CPU: what the rest of the machine took.
    server_wait: u64,
    client_wait: u64,
}

/// Sum of the second field of `/proc/…/task/*/schedstat`: nanoseconds
/// the threads spent runnable but waiting on a run queue.
fn run_delay_ns(proc_dir: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("{proc_dir}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// CPU time and run-queue wait of the server and of this process.
fn clocks(server: &ServerProc) -> [u64; 4] {
    let dir = format!("/proc/{}", server.pid());
    [
        server.cpu_ns(),
        child::cpu_ns("/proc/self"),
        run_delay_ns(&dir),
        run_delay_ns("/proc/self"),
    ]
}

async fn party(quick: bool, s: &Sizes) -> Result<Vec<Row>, BoxError> {
    let rooms_n = fit_party(s.party_rooms);
    let server = ServerProc::start_hosted(HOST, None).await?;
    let addr = server.addr;
    let (codes, _) = open_rooms(addr, rooms_n, s.clients, LONG).await?;
    let rooms = join(addr, &codes, s.clients).await?;
    // Every player's sending connection, and one greeting each: the rooms'
    // logs hold 8 events and every connection has carried a request.
    let mut players = Vec::with_capacity(rooms_n * PLAYERS);
    for room in &rooms {
        for token in &room.tokens {
            let mut player = Player {
                conn: Conn::open(addr).await?,
                path: format!("/r/{}/rex/v0/messages", room.code),
                token: token.clone(),
            };
            player.say("hello").await?;
            players.push(player);
        }
    }
    settle().await;
    let rss0 = server.rss();
    let readers = Arc::new(Readers::default());
    let _streams = open_streams(addr, &rooms, &readers).await?;
    settle().await;
    let mem_per_stream = grown(rss0, server.rss()) as f64 / players.len() as f64;
    readers.take_hist();
    let party = load(&server, players, &readers, s).await?;
    let party = Party {
        rooms: rooms_n,
        mem_per_stream,
        ..party
    };
    Ok(party_rows(&party, quick || rooms_n < PARTY_ROOMS))
}

/// Opens every player's stream of its room, from the head after the joins
/// (so each replays the 8 greetings), and waits until all have them.
async fn open_streams(
    addr: SocketAddr,
    rooms: &[Room],
    readers: &Arc<Readers>,
) -> Result<Streams, BoxError> {
    let mut streams = Streams(Vec::new());
    for room in rooms {
        for token in &room.tokens {
            let path = format!("/r/{}/rex/v0/events?start={}", room.code, room.head);
            let request = Conn::encode("GET", &path, Some(token), b"");
            let task = load::read_stream_with(addr, request, room.head, readers.clone());
            streams.0.push(tokio::spawn(task));
        }
    }
    let n = streams.0.len() as u64;
    readers
        .wait(LONG, "the party's streams to open", |r| {
            r.open.load(Ordering::Relaxed) >= n
        })
        .await?;
    let greetings = n * PLAYERS as u64;
    readers
        .wait(LONG, "the greetings", |r| {
            r.deliveries.load(Ordering::Relaxed) >= greetings
        })
        .await?;
    Ok(streams)
}

/// The load: every player sends once a second for the warm-up and the
/// window; then the readers get the last events.
async fn load(
    server: &ServerProc,
    players: Vec<Player>,
    readers: &Readers,
    s: &Sizes,
) -> Result<Party, BoxError> {
    let _perf = Perf::start(server, "host-party");
    let count = players.len();
    let begin = Instant::now() + Duration::from_millis(200);
    let warm_end = begin + s.party_warm;
    let end = warm_end + s.party_window;
    let delivered = readers.deliveries.load(Ordering::Relaxed);
    let senders: Vec<_> = players
        .into_iter()
        .enumerate()
        .map(|(i, player)| {
            // Spread evenly over the second, players of a room apart.
            let offset = Duration::from_secs(1) * i as u32 / count as u32;
            let at = Schedule {
                first: begin + offset,
                warm_end,
                end,
            };
            tokio::spawn(play(player, at))
        })
        .collect();
    tokio::time::sleep_until(warm_end).await;
    let before = clocks(server);
    tokio::time::sleep_until(end).await;
    let after = clocks(server);
    let [server_cpu, client_cpu, server_wait, client_wait] =
        [0, 1, 2, 3].map(|i| after[i].saturating_sub(before[i]));
    let mut played = Played::default();
    for sender in senders {
        let one = sender.await??;
        played.sent += one.sent;
        played.measured += one.measured;
        played.round_trip.merge(&one.round_trip);
        played.lag.merge(&one.lag);
    }
    let expected = delivered + played.sent * PLAYERS as u64;
    readers
        .wait(DRAIN, "the party's last events", |r| {
            r.deliveries.load(Ordering::Relaxed) >= expected
        })
        .await?;
    if let Some(e) = readers.error() {
        return Err(e.into());
    }
    Ok(Party {
        rooms: 0,
        mem_per_stream: 0.0,
        window: s.party_window.as_secs_f64(),
        played,
        deliveries: readers.take_hist(),
        server_cpu,
        client_cpu,
        server_wait,
        client_wait,
    })
}

fn party_rows(p: &Party, small: bool) -> Vec<Row> {
    let name = format!(
        "H3 party night, {} rooms × {PLAYERS} players, 1 message/s each",
        p.rooms
    );
    let measured = p.played.measured.max(1) as f64;
    let busy = |cpu: u64| 100.0 * cpu as f64 / (p.window * 1e9);
    let rt = &p.played.round_trip;
    let p99 = ms(p.deliveries.quantile(0.99));
    let target = format!("p99 ≤ {PARTY_P99_MS} ms at {PARTY_ROOMS} rooms");
    let p99_row = single(&name, "append→receive p99", "ms", p99);
    eprintln!(
        "hosted party night: {} rooms, append→receive p99 {p99:.2} ms",
        p.rooms
    );
    vec![
        single(
            &name,
            "server RSS per idle stream",
            "KiB",
            p.mem_per_stream / 1024.0,
        ),
        single(&name, "messages", "/s", measured / p.window),
        single(&name, "message round trip p50", "ms", ms(rt.quantile(0.5))),
        single(&name, "message round trip p99", "ms", ms(rt.quantile(0.99))),
        single(
            &name,
            "append→receive p50",
            "ms",
            ms(p.deliveries.quantile(0.5)),
        ),
        if small {
            p99_row.target_unchecked(target)
        } else {
            p99_row.target_text(target, p99 <= PARTY_P99_MS)
        },
        single(&name, "append→receive max", "ms", ms(p.deliveries.max())),
        single(&name, "server core busy", "%", busy(p.server_cpu)),
        single(
            &name,
            "server CPU per message (8 deliveries)",
            "µs",
            p.server_cpu as f64 / 1e3 / measured,
        ),
        single(&name, "load generator core busy", "%", busy(p.client_cpu)),
        single(
            &name,
            "server waiting for its core (run queue)",
            "%",
            busy(p.server_wait),
        ),
        single(
            &name,
            "load generator waiting for its core",
            "%",
            busy(p.client_wait),
        ),
        single(
            &name,
            "send lag behind schedule p99",
            "ms",
            ms(p.played.lag.quantile(0.99)),
        ),
    ]
}

// ---------------------------------------------------------------- report --

/// The hosted rows as a Markdown table, then their targets.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| scenario | metric | value | target |");
    let _ = writeln!(out, "|---|---|--:|---|");
    for r in rows {
        let target = target_cell(r);
        let better = if r.higher_is_better { "↑" } else { "↓" };
        let _ = writeln!(
            out,
            "| {} | {} ({}) {better} | {} | {target} |",
            r.scenario,
            r.metric,
            r.unit,
            fmt_value(r.rex)
        );
    }
    let _ = writeln!(out, "\nHosted targets (issue 16):");
    out.push_str(&targets(rows));
    out
}

/// The hosted rows for the JSON report.
pub(crate) fn json_rows(rows: &[Row]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({
                "scenario": r.scenario,
                "metric": r.metric,
                "unit": r.unit,
                "value": r.rex,
                "higher_is_better": r.higher_is_better,
                "target": r.target.as_ref().map(|(t, _)| t),
                "target_met": r.target.as_ref().map(|(_, m)| m),
            })
        })
        .collect()
}
