//! Rooms across hosts (issue 18): hosts keeping their rooms in Redis
//! (`Host::redis`), in the same run as everything else. Three parts:
//!
//! - **`redis-ingest`**: closed-loop senders into one room (1 and 64
//!   senders) and into 100 rooms (one sender each), each shape on four
//!   hosts, each a fresh child pinned to the server CPU: in memory, on
//!   disk (`data_dir`), and on Redis with `appendfsync always` and with
//!   `appendfsync everysec` (a fresh `redis-server` per measurement, also
//!   on the server CPU). Messages/s, messages per server CPU-second (for
//!   Redis: the host's CPU plus redis-server's), commits per message,
//!   latency.
//! - **`redis-hosts`** (`group.rs`): two hosts of one group; the writer and
//!   a reader reach the room through the host that does not own it, follow
//!   its `307`, then talk to the owner; append → receive, per setting.
//! - **`redis-failover`** (`group.rs`): a host killed without its shutdown;
//!   the time until the other host serves its room.
//!
//! Skipped, with a note, when `redis-server` is not installed
//! (`REX_REQUIRE_REDIS=1` makes that an error, as in the tests);
//! `REX_BENCH_REDIS=0` skips it; `cargo bench -p rex --bench bus -- redis`
//! runs only it.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rex::testing::{redis_server_binary, RedisFsync, RedisServer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::child::{self, ServerProc};
use super::hosted::{self, HOST, HOST_DISK};
use super::load::{self, Conn, Hist};
use super::report::{fmt_value, us, Row};
use super::scenarios::Perf;
use super::{group, BoxError, Plan};

/// What the Redis part measured, for the tables and the JSON report.
#[derive(Default)]
pub(crate) struct Report {
    /// Why it did not run, if it did not.
    pub(crate) skipped: Option<String>,
    /// Where Redis kept its files and which version it was.
    pub(crate) setup: String,
    /// Rounds of each ingest measurement.
    rounds: usize,
    pub(crate) ingest: Vec<Line>,
    /// Latency across hosts and failover: one value each.
    pub(crate) group: Vec<Row>,
}

/// Runs the Redis parts the plan wants; none with `REX_BENCH_REDIS=0`.
pub(crate) async fn run(plan: &Plan) -> Result<Report, BoxError> {
    if std::env::var("REX_BENCH_REDIS").is_ok_and(|v| v == "0") {
        return Ok(Report::default());
    }
    let parts = ["redis-ingest", "redis-hosts", "redis-failover"];
    if !parts.iter().any(|p| plan.wants(p)) {
        return Ok(Report::default());
    }
    if redis_server_binary().is_none() {
        let why = "redis-server is not installed (Debian: apt-get install redis-server; or set \
                   REX_REDIS_SERVER to its path)";
        if std::env::var("REX_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
            return Err(format!("REX_REQUIRE_REDIS=1 and {why}").into());
        }
        eprintln!("Redis part skipped: {why}");
        return Ok(Report {
            skipped: Some(why.to_owned()),
            ..Report::default()
        });
    }
    let mut report = Report {
        setup: Redis::describe().await?,
        rounds: plan.rounds,
        ..Report::default()
    };
    if plan.wants("redis-ingest") {
        report.ingest = ingest(plan).await?;
    }
    if plan.wants("redis-hosts") {
        for fsync in [RedisFsync::Always, RedisFsync::EverySecond] {
            report.group.extend(group::latency(plan, fsync).await?);
        }
    }
    if plan.wants("redis-failover") {
        report.group.extend(group::failover(plan).await?);
    }
    Ok(report)
}

// ------------------------------------------------------------- Redis --

/// `appendfsync always` or `everysec`, as Redis's configuration says it.
pub(crate) fn fsync_name(fsync: RedisFsync) -> &'static str {
    match fsync {
        RedisFsync::Always => "always",
        _ => "everysec",
    }
}

/// The CPU the parent chose for the servers, if it pinned them.
pub(crate) fn server_cpu() -> Option<usize> {
    std::env::var(super::SERVER_CPU_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
}

/// A `redis-server` of the bench's own (`rex::testing::RedisServer`: a
/// free loopback port, a temporary directory, AOF on), on the server CPU.
pub(crate) struct Redis {
    server: RedisServer,
    pid: u32,
}

impl Redis {
    /// Starts one. It is started from a thread pinned to the server CPU,
    /// so the process inherits that CPU: Redis shares the core with the
    /// host, as the disk side's storage threads do, and the load
    /// generator keeps its own.
    pub(crate) async fn start(fsync: RedisFsync) -> Result<Redis, BoxError> {
        let cpu = server_cpu();
        let (tx, rx) = oneshot::channel();
        std::thread::spawn(move || {
            if let Some(cpu) = cpu {
                if !super::pin(cpu) {
                    let _ = tx.send(Err(io::Error::other(format!(
                        "could not pin redis-server to CPU {cpu}"
                    ))));
                    return;
                }
            }
            let _ = tx.send(RedisServer::start_with(fsync));
        });
        let server = rx
            .await
            .map_err(|_| "the thread starting redis-server died")??;
        let mut redis = Redis { server, pid: 0 };
        let info = redis.call(&["INFO", "server"]).await?;
        redis.pid = info_field(&info, "process_id")
            .and_then(|v| v.parse().ok())
            .ok_or("INFO server has no process_id")?;
        Ok(redis)
    }

    /// Which redis-server, where it keeps its files, and what that is.
    async fn describe() -> Result<String, BoxError> {
        let redis = Redis::start(RedisFsync::Always).await?;
        let info = redis.call(&["INFO", "server"]).await?;
        let version = info_field(&info, "redis_version").unwrap_or("?");
        // redis-server works in its data directory (`--dir`).
        let dir = std::fs::read_link(format!("/proc/{}/cwd", redis.pid))?;
        let fs = super::file_system(&dir);
        let mut setup = format!(
            "redis-server {version}, a fresh one per measurement with appendonly yes, no RDB \
             snapshots, appendfsync always or everysec as each row says, CPUs {}, its files in \
             {} ({fs})",
            child::cpus_allowed(&format!("/proc/{}", redis.pid)),
            dir.parent().unwrap_or(&dir).display(),
        );
        if fs.starts_with("tmpfs") {
            setup.push_str(
                "; TMPFS: an fsync there costs nothing, so `always` is measured too cheap \
                 (set TMPDIR to a real disk)",
            );
        }
        Ok(setup)
    }

    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    /// CPU time of every thread of redis-server (its main thread and its
    /// background threads, which do the `everysec` fsyncs), in ns.
    pub(crate) fn cpu_ns(&self) -> u64 {
        child::cpu_ns(&format!("/proc/{}", self.pid))
    }

    /// One command over a fresh connection: an integer, a string, or
    /// `None` for a nil reply. (A dozen lines of RESP rather than a Redis
    /// client: the bench asks Redis for three things.)
    pub(crate) async fn call(&self, args: &[&str]) -> Result<Option<String>, BoxError> {
        call(self.server.addr(), args).await
    }
}

async fn call(addr: SocketAddr, args: &[&str]) -> Result<Option<String>, BoxError> {
    let mut stream = BufReader::new(TcpStream::connect(addr).await?);
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        let _ = write!(request, "${}\r\n{arg}\r\n", arg.len());
    }
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let line = line.trim_end();
    let rest = line.get(1..).unwrap_or_default();
    match line.as_bytes().first() {
        Some(b'+' | b':') => Ok(Some(rest.to_owned())),
        Some(b'$') => {
            let Ok(len) = usize::try_from(rest.parse::<i64>()?) else {
                return Ok(None);
            };
            let mut data = vec![0; len + 2];
            stream.read_exact(&mut data).await?;
            data.truncate(len);
            Ok(Some(String::from_utf8(data)?))
        }
        _ => Err(format!("Redis answered `{}` to {}", line, args.join(" ")).into()),
    }
}

/// The value of `name:value` in an `INFO` answer.
fn info_field<'a>(info: &'a Option<String>, name: &str) -> Option<&'a str> {
    info.as_deref()?
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

// ------------------------------------------------------------ ingest --

/// Where a host keeps its rooms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Memory,
    Disk,
    Redis(RedisFsync),
}

impl Backend {
    /// The table's columns, in order; measured in this order too.
    const ALL: [Backend; 4] = [
        Backend::Memory,
        Backend::Disk,
        Backend::Redis(RedisFsync::Always),
        Backend::Redis(RedisFsync::EverySecond),
    ];

    const NAMES: [&'static str; 4] = ["memory", "disk", "Redis always", "Redis everysec"];

    fn slug(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Disk => "disk",
            Backend::Redis(RedisFsync::Always) => "redis-always",
            Backend::Redis(_) => "redis-everysec",
        }
    }
}

/// Rooms, and closed-loop senders in each.
#[derive(Clone, Copy)]
struct Shape {
    rooms: usize,
    senders: usize,
}

impl Shape {
    /// One sender alone (every commit holds one message: the commit's own
    /// latency), a crowd in one room (group commit), and many rooms with
    /// one sender each (one commit per room: what the backends do with
    /// many small commits at once).
    const ALL: [Shape; 3] = [
        Shape {
            rooms: 1,
            senders: 1,
        },
        Shape {
            rooms: 1,
            senders: 64,
        },
        Shape {
            rooms: 100,
            senders: 1,
        },
    ];

    fn name(self, i: usize) -> String {
        match (self.rooms, self.senders) {
            (1, 1) => format!("R{} 1 room, 1 sender", i + 1),
            (1, c) => format!("R{} 1 room, {c} senders", i + 1),
            (r, 1) => format!("R{} {r} rooms, 1 sender each", i + 1),
            (r, c) => format!("R{} {r} rooms, {c} senders each", i + 1),
        }
    }
}

/// One backend's totals over the rounds.
#[derive(Default)]
struct Totals {
    count: u64,
    secs: f64,
    hist: Hist,
    host_cpu: u64,
    redis_cpu: u64,
    commits: u64,
}

impl Totals {
    fn add(&mut self, run: Totals) {
        self.count += run.count;
        self.secs += run.secs;
        self.hist.merge(&run.hist);
        self.host_cpu += run.host_cpu;
        self.redis_cpu += run.redis_cpu;
        self.commits += run.commits;
    }
}

/// One figure of the ingest table: a value per backend.
pub(crate) struct Line {
    scenario: String,
    metric: String,
    unit: &'static str,
    values: [f64; 4],
    higher_is_better: bool,
}

impl Line {
    fn new(scenario: &str, metric: &str, unit: &'static str, values: [f64; 4]) -> Line {
        Line {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            unit,
            values,
            higher_is_better: true,
        }
    }

    fn lower_is_better(mut self) -> Line {
        self.higher_is_better = false;
        self
    }
}

async fn ingest(plan: &Plan) -> Result<Vec<Line>, BoxError> {
    let mut lines = Vec::new();
    for (i, shape) in Shape::ALL.into_iter().enumerate() {
        let mut totals: [Totals; 4] = Default::default();
        for _ in 0..plan.rounds {
            for (slot, backend) in Backend::ALL.into_iter().enumerate() {
                totals[slot].add(ingest_once(plan, backend, shape).await?);
            }
        }
        let name = shape.name(i);
        let rate = |t: &Totals| t.count as f64 / t.secs;
        eprintln!(
            "{name}: {} messages/s (memory, disk, Redis always, Redis everysec)",
            totals
                .iter()
                .map(|t| format!("{:.0}", rate(t)))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        lines.extend(ingest_lines(&name, &totals));
    }
    Ok(lines)
}

fn ingest_lines(name: &str, totals: &[Totals; 4]) -> Vec<Line> {
    let each = |f: &dyn Fn(&Totals) -> f64| [0, 1, 2, 3].map(|i| f(&totals[i]));
    let cpu = |t: &Totals| (t.host_cpu + t.redis_cpu) as f64;
    let redis_only = |t: &Totals, v: f64| if t.redis_cpu > 0 { v } else { f64::NAN };
    let commits = |t: &Totals, v: f64| if t.commits > 0 { v } else { f64::NAN };
    vec![
        Line::new(
            name,
            "messages accepted",
            "/s",
            each(&|t| t.count as f64 / t.secs),
        ),
        Line::new(
            name,
            "messages per server CPU-second (host + redis-server)",
            "/CPU-s",
            each(&|t| t.count as f64 / (cpu(t) / 1e9)),
        ),
        Line::new(
            name,
            "server CPU per message (host + redis-server)",
            "µs",
            each(&|t| cpu(t) / 1e3 / t.count.max(1) as f64),
        )
        .lower_is_better(),
        Line::new(
            name,
            "of which redis-server",
            "µs",
            each(&|t| redis_only(t, t.redis_cpu as f64 / 1e3 / t.count.max(1) as f64)),
        )
        .lower_is_better(),
        Line::new(
            name,
            "messages per commit",
            "",
            each(&|t| commits(t, t.count as f64 / t.commits as f64)),
        ),
        Line::new(
            name,
            "latency p50",
            "µs",
            each(&|t| us(t.hist.quantile(0.5))),
        )
        .lower_is_better(),
        Line::new(
            name,
            "latency p99",
            "µs",
            each(&|t| us(t.hist.quantile(0.99))),
        )
        .lower_is_better(),
    ]
}

/// One measurement: a fresh host child (and Redis, or data directory) for
/// `backend`, the rooms and sessions of `shape`, then the senders.
async fn ingest_once(plan: &Plan, backend: Backend, shape: Shape) -> Result<Totals, BoxError> {
    match backend {
        Backend::Memory => {
            let server = ServerProc::start_hosted(HOST, None).await?;
            ingest_on(plan, server, None, shape, backend).await
        }
        Backend::Disk => {
            let dir = plan.data_dir(&format!("redis-table-{}x{}", shape.rooms, shape.senders))?;
            let result = match ServerProc::start_hosted(HOST_DISK, Some(&dir)).await {
                Ok(server) => ingest_on(plan, server, None, shape, backend).await,
                Err(e) => Err(e),
            };
            // The child has stopped (`ingest_on` stops it) before its
            // files go.
            std::fs::remove_dir_all(&dir)?;
            result
        }
        Backend::Redis(fsync) => {
            let redis = Redis::start(fsync).await?;
            let server = ServerProc::start_group_host(&redis.url()).await?;
            ingest_on(plan, server, Some(&redis), shape, backend).await
        }
    }
}

async fn ingest_on(
    plan: &Plan,
    mut server: ServerProc,
    redis: Option<&Redis>,
    shape: Shape,
    backend: Backend,
) -> Result<Totals, BoxError> {
    let addr = server.addr;
    let requests = senders(addr, shape).await?;
    let redis_cpu = || redis.map_or(0, Redis::cpu_ns);
    let name = format!(
        "{}-ingest-{}x{}",
        backend.slug(),
        shape.rooms,
        shape.senders
    );
    let perf = Perf::start(&server, &name);
    let begin = Instant::now();
    let warm_end = begin + plan.ingest_warm;
    let end = warm_end + plan.ingest_window;
    let workers: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(load::send_until(addr, request, warm_end, end)))
        .collect();
    tokio::time::sleep_until(warm_end).await;
    let commits0 = server.batches().await?;
    let (host0, redis0) = (server.cpu_ns(), redis_cpu());
    tokio::time::sleep_until(end).await;
    let (host1, redis1) = (server.cpu_ns(), redis_cpu());
    let commits1 = server.batches().await?;
    drop(perf);
    let mut run = Totals {
        secs: plan.ingest_window.as_secs_f64(),
        host_cpu: host1 - host0,
        redis_cpu: redis1 - redis0,
        commits: commits1 - commits0,
        ..Totals::default()
    };
    for worker in workers {
        let (count, hist) = worker.await??;
        run.count += count;
        run.hist.merge(&hist);
    }
    server.stop().await?;
    Ok(run)
}

/// Opens `shape.rooms` rooms and `shape.senders` sessions in each; returns
/// each sender's encoded `say` request.
async fn senders(addr: SocketAddr, shape: Shape) -> Result<Vec<Vec<u8>>, BoxError> {
    const LONG: Duration = Duration::from_secs(120);
    let body = br#"{"kind":"say","data":{"text":"hello from the load generator"}}"#;
    let (codes, _) = hosted::open_rooms(addr, shape.rooms, 4, LONG).await?;
    let mut conn = Conn::open(addr).await?;
    let mut requests = Vec::with_capacity(shape.rooms * shape.senders);
    for code in &codes {
        for i in 0..shape.senders {
            let token = join(&mut conn, code, &format!("sender {i}")).await?;
            let path = format!("/r/{code}/rex/v0/messages");
            requests.push(Conn::encode("POST", &path, Some(&token), body));
        }
    }
    Ok(requests)
}

/// Creates a session named `name` in room `code` on `conn`'s host; its
/// token.
pub(crate) async fn join(conn: &mut Conn, code: &str, name: &str) -> Result<String, BoxError> {
    let path = format!("/r/{code}/rex/v0/sessions");
    let body = json!({ "name": name }).to_string();
    let answer = conn
        .call(&Conn::encode("POST", &path, None, body.as_bytes()))
        .await?;
    token_of(&answer, code)
}

/// The token of a `201` to `POST …/sessions`.
pub(crate) fn token_of(answer: &load::Answer, code: &str) -> Result<String, BoxError> {
    let created: Value = serde_json::from_slice(&answer.body)?;
    if answer.status != 201 {
        return Err(format!("joining {code} answered {}: {created}", answer.status).into());
    }
    created["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "a session without token".into())
}

// ----------------------------------------------------------- report --

impl Report {
    /// Both tables as Markdown, with what they measured.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if let Some(why) = &self.skipped {
            let _ = writeln!(out, "Rooms across hosts (Redis): SKIPPED, {why}");
            return out;
        }
        if self.ingest.is_empty() && self.group.is_empty() {
            return out;
        }
        let _ = writeln!(out, "Rooms across hosts (issue 18): {}", self.setup);
        if !self.ingest.is_empty() {
            let _ = writeln!(
                out,
                "\nIngest: one host child per measurement (rex::Host with the bench app), its \
                 rooms in memory, on disk (data_dir), in Redis with appendfsync always, in \
                 Redis with appendfsync everysec, in that order, {} round(s) per shape, \
                 throughputs over all rounds; closed-loop senders over 127.0.0.1; same run",
                self.rounds
            );
            out.push_str(&render_lines(&self.ingest));
        }
        if !self.group.is_empty() {
            let _ = writeln!(out, "\nTwo hosts of one group: {}\n", group::SETUP);
            let _ = writeln!(out, "| scenario | metric | value |");
            let _ = writeln!(out, "|---|---|--:|");
            for r in &self.group {
                let better = if r.higher_is_better { "↑" } else { "↓" };
                let _ = writeln!(
                    out,
                    "| {} | {}{} {better} | {} |",
                    r.scenario,
                    r.metric,
                    unit(r.unit),
                    fmt_value(r.rex)
                );
            }
            let _ = writeln!(out, "\nClients: {}", group::CLIENTS);
        }
        out
    }

    /// The figures for `target/rex-bench.json`.
    pub(crate) fn json(&self) -> Value {
        let ingest: Vec<Value> = self
            .ingest
            .iter()
            .map(|l| {
                let mut row = json!({
                    "scenario": l.scenario,
                    "metric": l.metric,
                    "unit": l.unit,
                    "higher_is_better": l.higher_is_better,
                });
                for (name, value) in Backend::NAMES.iter().zip(l.values) {
                    row[name.to_lowercase().replace(' ', "_")] = json!(value);
                }
                row
            })
            .collect();
        let group: Vec<Value> = self
            .group
            .iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario,
                    "metric": r.metric,
                    "unit": r.unit,
                    "value": r.rex,
                    "higher_is_better": r.higher_is_better,
                })
            })
            .collect();
        json!({
            "skipped": self.skipped,
            "setup": self.setup,
            "ingest": ingest,
            "group": group,
            "clients": group::CLIENTS,
        })
    }
}

fn render_lines(lines: &[Line]) -> String {
    let mut out = String::new();
    let [a, b, c, d] = Backend::NAMES;
    let _ = writeln!(out, "| scenario | metric | {a} | {b} | {c} | {d} |");
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|");
    for l in lines {
        let better = if l.higher_is_better { "↑" } else { "↓" };
        let values: Vec<String> = l.values.iter().map(|v| fmt_value(*v)).collect();
        let _ = writeln!(
            out,
            "| {} | {}{} {better} | {} |",
            l.scenario,
            l.metric,
            unit(l.unit),
            values.join(" | ")
        );
    }
    out
}

/// ` (unit)`, or nothing for a plain number.
fn unit(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" ({unit})")
    }
}
