//! Two hosts of one group (issue 18): what a client pays for reaching a
//! room through the host that does not own it, and how long a dead
//! host's room stays unserved.
//!
//! - **`redis-hosts`**: two host children on one Redis (`appendfsync
//!   always`, then `everysec`), a room opened at the first. A writer (the
//!   typed `rex::Client`) and a reader (raw HTTP) join through the second,
//!   follow its `307` to the owner and stay there (`docs/protocol.md`
//!   §16); the writer sends one `say` every 10 ms whose text is its send
//!   time, and the reader records append → receive, as in the party
//!   night. Also the `307` itself (a `GET` of the
//!   room's info at the second host: its Redis lookup and the answer) and
//!   the writer's round trip (POST → `200`, the Redis commit inside).
//! - **`redis-failover`**: a host in this process, on a tokio runtime of
//!   its own in a thread of its own, opens a room (one session, some
//!   messages) and is killed: the runtime dropped with
//!   `Runtime::shutdown_background`, so none of its shutdown runs and its
//!   leases are not given back, as when its process dies. The surviving
//!   host is asked for the room's info every 10 ms until it answers `200`
//!   (before the lease runs out it answers `307` to the dead host); the
//!   epoch and head must be the ones the dead host served. The lease's
//!   time left at the kill is read from Redis (`PTTL`), so the take-over
//!   time beyond the lease is measured, not inferred.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rex::testing::RedisFsync;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::across::{self, fsync_name, server_cpu, Redis};
use super::app::{BenchApp, BenchMsg};
use super::child::ServerProc;
use super::hosted;
use super::load::{self, wall_ns, Conn, Hist, Readers};
use super::report::{ms, Row};
use super::{BoxError, Plan};

/// How the group part runs, for the printed table and the JSON report.
pub(crate) const SETUP: &str = "host children (rex::Host with .redis(url), the default lease) \
    and redis-server on the server CPU, the load generator on its own; the failover's hosts run \
    in the bench process, each on a tokio runtime of its own in a thread pinned to the server \
    CPU, killed with Runtime::shutdown_background (no shutdown: leases not given back); the \
    surviving host polled every 10 ms";

/// How the clients reach a room through the host that does not own it.
pub(crate) const CLIENTS: &str = "the writer is the typed rex::Client given the room's URL at \
    the host that does not own it: it follows the 307 and sends to the owner from then on \
    (checked: its current endpoint is the owner's); the reader, the load generator's raw \
    HTTP stream reader, follows each 307 itself: one request at the other host, the owner's \
    URL taken from its Location, the request sent again there (docs/protocol.md §16)";

/// Bound on any setup step and on the reader catching up.
const LONG: Duration = Duration::from_secs(60);

/// How often the surviving host is asked for the room.
const POLL: Duration = Duration::from_millis(10);

/// How often the writer of `redis-hosts` sends.
const INTERVAL: Duration = Duration::from_millis(10);

const SAY: &[u8] = br#"{"kind":"say","data":{"text":"a message before the crash"}}"#;

/// How big and how long the group parts are.
struct Sizes {
    /// `307` answers timed.
    moved: usize,
    warm: Duration,
    window: Duration,
    trials: usize,
    lease: Duration,
    /// Messages in a room before its host is killed.
    events: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                moved: 50,
                warm: Duration::from_millis(200),
                window: Duration::from_secs(1),
                trials: 3,
                lease: Duration::from_secs(1),
                events: 50,
            }
        } else {
            Sizes {
                moved: 500,
                warm: Duration::from_secs(1),
                // The room is opened, joined and measured within one lease
                // (10 s by default) of its opening, and killed young
                // (`events`): the figures do not rest on lease renewals.
                window: Duration::from_secs(6),
                trials: 10,
                lease: Duration::from_secs(2),
                events: 100,
            }
        }
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A row with one value (the second column of `Row` is unused here).
fn one(scenario: &str, metric: &str, unit: &'static str, value: f64) -> Row {
    Row::new(scenario, metric, unit, [value, f64::NAN]).lower_is_better()
}

// ------------------------------------------------- following a 307 --

/// Where a `307` sends the client: the owner's address and the path.
fn location(answer: &load::Answer) -> Result<(SocketAddr, String), BoxError> {
    let url = answer.location.as_deref().ok_or("a 307 without Location")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("a Location that is not http://: {url}"))?;
    let slash = rest.find('/').unwrap_or(rest.len());
    Ok((rest[..slash].parse()?, rest[slash..].to_owned()))
}

/// Sends a request at the host that does not own the room, which must
/// answer `307`; sends it again where the `Location` says, on a new
/// connection, and returns that connection (the client keeps the owner)
/// and the owner's answer.
async fn follow(
    conn: &mut Conn,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<(Conn, load::Answer), BoxError> {
    let answer = conn.call(&Conn::encode(method, path, token, body)).await?;
    if answer.status != 307 {
        let why = String::from_utf8_lossy(&answer.body);
        return Err(format!(
            "{method} {path} at the other host answered {}: {why}",
            answer.status
        )
        .into());
    }
    let (owner, path) = location(&answer)?;
    let mut at_owner = Conn::open(owner).await?;
    let answer = at_owner
        .call(&Conn::encode(method, &path, token, body))
        .await?;
    Ok((at_owner, answer))
}

/// A session made through the other host: its token and the room's head
/// after it.
async fn join_through(conn: &mut Conn, code: &str, name: &str) -> Result<(String, u64), BoxError> {
    let body = json!({ "name": name }).to_string();
    let path = format!("/r/{code}/rex/v0/sessions");
    let (_, answer) = follow(conn, "POST", &path, None, body.as_bytes()).await?;
    let token = across::token_of(&answer, code)?;
    let created: Value = serde_json::from_slice(&answer.body)?;
    Ok((token, created["next"].as_u64().unwrap_or(0)))
}

// ---------------------------------------------------- across hosts --

/// Aborts the reader when the part ends, however it ends.
struct Reader(tokio::task::JoinHandle<Result<(), BoxError>>);

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Append → receive through the host that does not own the room.
pub(crate) async fn latency(plan: &Plan, fsync: RedisFsync) -> Result<Vec<Row>, BoxError> {
    let s = Sizes::new(plan.quick);
    let redis = Redis::start(fsync).await?;
    let owner = ServerProc::start_group_host(&redis.url()).await?;
    let other = ServerProc::start_group_host(&redis.url()).await?;
    let (codes, _) = hosted::open_rooms(owner.addr, 1, 1, LONG).await?;
    let code = codes.first().ok_or("no room was opened")?.clone();

    // The redirect alone.
    let mut at_other = Conn::open(other.addr).await?;
    let info = Conn::encode("GET", &format!("/r/{code}/rex/v0/info"), None, b"");
    let mut moved = Hist::default();
    for _ in 0..s.moved {
        let t0 = Instant::now();
        let answer = at_other.call(&info).await?;
        if answer.status != 307 || location(&answer)?.0 != owner.addr {
            return Err(format!("the other host answered {} for the room", answer.status).into());
        }
        moved.record(ns(t0.elapsed()));
    }

    // The writer is the typed client, given the room's URL at the other
    // host: it follows the 307 and keeps the owner for every later send.
    let room_at_other = format!("http://{}/r/{code}", other.addr);
    let writer = rex::Client::<BenchMsg>::builder(room_at_other.as_str())
        .name("writer")
        .connect()
        .await?;
    let owner_url = format!("http://{}/r/{code}", owner.addr);
    if writer.current_endpoint().to_string() != owner_url {
        return Err(format!(
            "the typed client sends to {}, not to the owner {owner_url}",
            writer.current_endpoint()
        )
        .into());
    }
    // The reader, with raw HTTP (the stream reader that checks every index
    // and reads the append times), follows the 307s by hand.
    let (reader, head) = join_through(&mut at_other, &code, "reader").await?;
    let events = format!("/r/{code}/rex/v0/events?start={head}");
    let answer = at_other
        .call(&Conn::encode("GET", &events, Some(&reader), b""))
        .await?;
    let (stream_at, stream_path) = location(&answer)?;
    let readers = Arc::new(Readers::default());
    let request = Conn::encode("GET", &stream_path, Some(&reader), b"");
    let _reader = Reader(tokio::spawn(load::read_stream_with(
        stream_at,
        request,
        head,
        readers.clone(),
    )));
    readers
        .wait(LONG, "the reader's stream", |r| {
            r.open.load(Ordering::Relaxed) >= 1
        })
        .await?;

    let (sent, round_trip) = write(&writer, &s).await?;
    let expected = sent;
    readers
        .wait(LONG, "the reader to get every message", |r| {
            r.deliveries.load(Ordering::Relaxed) >= expected || r.ended.load(Ordering::Relaxed) > 0
        })
        .await?;
    let got = readers.deliveries.load(Ordering::Relaxed);
    if got < expected {
        return Err(format!(
            "the owner ended the reader's stream after {got} of {expected} messages: it let the \
             room go (were its lease renewed?)"
        )
        .into());
    }
    let received = readers.take_hist();
    other.stop().await?;
    owner.stop().await?;

    let mode = fsync_name(fsync);
    let g = if fsync == RedisFsync::Always { 1 } else { 2 };
    let name = format!(
        "G{g} two hosts, Redis appendfsync {mode}: writer and reader through the other host, 1 message / 10 ms"
    );
    eprintln!(
        "across hosts, appendfsync {mode}: append→receive p50 {:.2} ms, p99 {:.2} ms",
        ms(received.quantile(0.5)),
        ms(received.quantile(0.99))
    );
    Ok(vec![
        one(
            &name,
            "307 at the other host p50",
            "ms",
            ms(moved.quantile(0.5)),
        ),
        one(
            &name,
            "307 at the other host p99",
            "ms",
            ms(moved.quantile(0.99)),
        ),
        one(
            &name,
            "message round trip at the owner p50",
            "ms",
            ms(round_trip.quantile(0.5)),
        ),
        one(
            &name,
            "message round trip at the owner p99",
            "ms",
            ms(round_trip.quantile(0.99)),
        ),
        one(
            &name,
            "append→receive p50",
            "ms",
            ms(received.quantile(0.5)),
        ),
        one(
            &name,
            "append→receive p99",
            "ms",
            ms(received.quantile(0.99)),
        ),
        one(&name, "append→receive max", "ms", ms(received.max())),
    ])
}

/// The writer: one `say` every [`INTERVAL`], its text its send time
/// (`t<ns>`, which the reader takes for an append time; `w…` in the
/// warm-up, not counted). Returns the messages sent and the round trips
/// of the measured ones.
async fn write(writer: &rex::Client<BenchMsg>, s: &Sizes) -> Result<(u64, Hist), BoxError> {
    let begin = Instant::now();
    let (warm_end, end) = (begin + s.warm, begin + s.warm + s.window);
    let mut due = begin;
    let (mut sent, mut round_trip) = (0, Hist::default());
    while due < end {
        tokio::time::sleep_until(due).await;
        let measured = due >= warm_end;
        let stamp = if measured { "t" } else { "w" };
        let text = format!("{stamp}{}", wall_ns());
        let t0 = Instant::now();
        writer.send(&BenchMsg::Say { text }).await?;
        sent += 1;
        if measured {
            round_trip.record(ns(t0.elapsed()));
        }
        // Late: send once now, not a burst to catch up.
        due = (due + INTERVAL).max(Instant::now());
    }
    Ok((sent, round_trip))
}

// --------------------------------------------------------- failover --

/// A host of the group in this process, which can be killed.
struct InProcess {
    addr: SocketAddr,
    stop: std::sync::mpsc::Sender<Stop>,
    thread: Option<std::thread::JoinHandle<()>>,
}

enum Stop {
    /// The runtime dropped with `shutdown_background`: nothing of the
    /// host's shutdown runs.
    Kill,
    Graceful,
}

impl InProcess {
    async fn start(url: String, lease: Duration) -> Result<InProcess, BoxError> {
        let (ready, started) = oneshot::channel::<Result<SocketAddr, String>>();
        let (stop, stopped) = std::sync::mpsc::channel();
        let cpu = server_cpu();
        let thread = std::thread::spawn(move || {
            // The runtime's worker thread is started from here and
            // inherits the CPU.
            if let Some(cpu) = cpu {
                if !super::pin(cpu) {
                    let _ = ready.send(Err(format!("could not pin a host to CPU {cpu}")));
                    return;
                }
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let host = match runtime.block_on(group_host(url, lease).bind("127.0.0.1:0")) {
                Ok(host) => host,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let addr = host.local_addr();
            let (graceful, asked) = oneshot::channel::<()>();
            let task = runtime.spawn(host.run(async {
                let _ = asked.await;
            }));
            let _ = ready.send(Ok(addr));
            match stopped.recv() {
                Ok(Stop::Graceful) => {
                    let _ = graceful.send(());
                    let _ = runtime.block_on(task);
                }
                // A kill, or the bench gone.
                Ok(Stop::Kill) | Err(_) => runtime.shutdown_background(),
            }
        });
        let addr = started
            .await
            .map_err(|_| "the host's thread died at start")??;
        Ok(InProcess {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    fn end(&mut self, how: Stop) {
        let _ = self.stop.send(how);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.end(Stop::Kill);
    }
}

/// The failover's hosts: the bench app, the limits one trusted address
/// would hit lifted, its rooms in Redis under `lease`.
fn group_host(url: String, lease: Duration) -> rex::HostBuilder<BenchApp> {
    rex::Host::builder(|_: &rex::NewRoom| Ok(BenchApp::default()))
        .message_rate(rex::Rate::unlimited())
        .session_rate(rex::Rate::unlimited())
        .sessions_per_address(usize::MAX)
        .max_connections_per_address(usize::MAX)
        .room_creation_rate(rex::Rate::unlimited())
        .redis(url)
        .room_lease(lease)
}

/// One kill.
struct Trial {
    /// Kill → the first `200` at the surviving host.
    failover: Duration,
    /// The lease's time left at the kill.
    left: Duration,
    /// From the lease's end to the first `200`, in ms (the poll's own
    /// granularity included).
    beyond_ms: f64,
    /// The request that took the room over: lookup, load, answer.
    take_over: Duration,
    /// `307`s (to the dead host) before it.
    redirected: u32,
}

/// A room's epoch and head, from its info.
async fn epoch_head(conn: &mut Conn, path: &str) -> Result<(String, u64), BoxError> {
    let answer = conn.call(&Conn::encode("GET", path, None, b"")).await?;
    parse_info(&answer)
}

fn parse_info(answer: &load::Answer) -> Result<(String, u64), BoxError> {
    if answer.status != 200 {
        return Err(format!("the room's info answered {}", answer.status).into());
    }
    let info: Value = serde_json::from_slice(&answer.body)?;
    let epoch = info["epoch"].as_str().ok_or("info without epoch")?;
    let head = info["head"].as_u64().ok_or("info without head")?;
    Ok((epoch.to_owned(), head))
}

async fn trial(redis: &Redis, survivor: SocketAddr, s: &Sizes) -> Result<Trial, BoxError> {
    let mut owner = InProcess::start(redis.url(), s.lease).await?;
    let (codes, _) = hosted::open_rooms(owner.addr, 1, 1, LONG).await?;
    let code = codes.first().ok_or("no room was opened")?.clone();
    let mut conn = Conn::open(owner.addr).await?;
    let token = across::join(&mut conn, &code, "player").await?;
    let say = Conn::encode(
        "POST",
        &format!("/r/{code}/rex/v0/messages"),
        Some(&token),
        SAY,
    );
    for _ in 0..s.events {
        let answer = conn.call(&say).await?;
        if answer.status != 200 {
            return Err(format!("a message answered {}", answer.status).into());
        }
    }
    let info = format!("/r/{code}/rex/v0/info");
    let served = epoch_head(&mut conn, &info).await?;
    drop(conn);
    // A crash falls anywhere in the lease's renewal cycle (a renewal
    // every third of the lease).
    let third = u64::try_from(s.lease.as_nanos() / 3).unwrap_or(1).max(1);
    tokio::time::sleep(Duration::from_nanos(wall_ns() % third)).await;

    let killed = Instant::now();
    owner.end(Stop::Kill);
    let asked = Instant::now();
    let pttl: i64 = redis
        .call(&["PTTL", &format!("rex:{{{code}}}:lease")])
        .await?
        .ok_or("PTTL answered nil")?
        .parse()?;
    let left = match pttl {
        // -2: already gone.
        -2 => Duration::ZERO,
        ms if ms >= 0 => Duration::from_millis(ms.unsigned_abs()),
        _ => return Err("the room's lease in Redis has no expiry".into()),
    };
    let lease_end = asked + left;

    let mut conn = Conn::open(survivor).await?;
    let request = Conn::encode("GET", &info, None, b"");
    let deadline = killed + s.lease + Duration::from_secs(30);
    let mut redirected = 0;
    loop {
        let t0 = Instant::now();
        if t0 > deadline {
            return Err(format!("room {code} was not taken over within 30 s of its lease").into());
        }
        let answer = conn.call(&request).await?;
        let t1 = Instant::now();
        match answer.status {
            200 => {
                if parse_info(&answer)? != served {
                    return Err(format!(
                        "room {code} came back as {:?}, not as {served:?}",
                        parse_info(&answer)?
                    )
                    .into());
                }
                let beyond_ms = if t1 >= lease_end {
                    (t1 - lease_end).as_secs_f64() * 1e3
                } else {
                    -(lease_end - t1).as_secs_f64() * 1e3
                };
                return Ok(Trial {
                    failover: t1 - killed,
                    left,
                    beyond_ms,
                    take_over: t1 - t0,
                    redirected,
                });
            }
            307 => redirected += 1,
            // Being opened by another request.
            503 => {}
            status => {
                let why = String::from_utf8_lossy(&answer.body);
                return Err(format!("the surviving host answered {status}: {why}").into());
            }
        }
        tokio::time::sleep_until(t0 + POLL).await;
    }
}

/// Kills a room's host `s.trials` times; the failover rows.
pub(crate) async fn failover(plan: &Plan) -> Result<Vec<Row>, BoxError> {
    let s = Sizes::new(plan.quick);
    let redis = Redis::start(RedisFsync::Always).await?;
    let mut survivor = InProcess::start(redis.url(), s.lease).await?;
    let mut trials = Vec::with_capacity(s.trials);
    for _ in 0..s.trials {
        trials.push(trial(&redis, survivor.addr, &s).await?);
    }
    survivor.end(Stop::Graceful);
    Ok(failover_rows(&trials, &s))
}

/// Min, median and max of `values` (sorted here).
fn spread(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    match values.as_slice() {
        [] => [f64::NAN; 3],
        v => [v[0], v[v.len() / 2], v[v.len() - 1]],
    }
}

fn failover_rows(trials: &[Trial], s: &Sizes) -> Vec<Row> {
    let name = format!(
        "G3 failover: a host killed (no shutdown), lease {} s, {} trials, Redis appendfsync always",
        s.lease.as_secs_f64(),
        trials.len()
    );
    let of = |f: &dyn Fn(&Trial) -> f64| spread(trials.iter().map(f).collect());
    let failover = of(&|t| t.failover.as_secs_f64());
    let left = of(&|t| t.left.as_secs_f64());
    let beyond = of(&|t| t.beyond_ms);
    let take_over = of(&|t| t.take_over.as_secs_f64() * 1e3);
    let redirected = of(&|t| f64::from(t.redirected));
    eprintln!(
        "failover, lease {} s: kill → first 200 min {:.3} / median {:.3} / max {:.3} s",
        s.lease.as_secs_f64(),
        failover[0],
        failover[1],
        failover[2]
    );
    let mut rows = Vec::new();
    for (i, which) in ["min", "median", "max"].into_iter().enumerate() {
        rows.push(one(
            &name,
            &format!("kill → first 200 at the other host, {which}"),
            "s",
            failover[i],
        ));
    }
    for (i, which) in ["min", "median", "max"].into_iter().enumerate() {
        rows.push(one(
            &name,
            &format!("lease left at the kill, {which}"),
            "s",
            left[i],
        ));
    }
    for (i, which) in ["min", "median", "max"].into_iter().enumerate() {
        rows.push(one(
            &name,
            &format!("take-over beyond the lease, {which}"),
            "ms",
            beyond[i],
        ));
    }
    rows.push(one(
        &name,
        "the request that took the room over, median",
        "ms",
        take_over[1],
    ));
    rows.push(one(
        &name,
        "the request that took the room over, max",
        "ms",
        take_over[2],
    ));
    rows.push(one(
        &name,
        "307s to the dead host before it, median",
        "",
        redirected[1],
    ));
    rows
}
