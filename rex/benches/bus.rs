//! `cargo bench -p rex --bench bus`: REx against a bare hyper 1.x server
//! doing the same job, side by side in one run, A B A B; and REx with its
//! room on disk (`ServerBuilder::data_dir`) next to REx in memory.
//!
//! Every scenario runs REx, then the baseline, then again (two rounds; one
//! with `REX_BENCH_QUICK=1`), each in a fresh server child process pinned to
//! core 0, while this process, pinned to core 1, generates the load over
//! 127.0.0.1. Data directories are made in a temporary directory under the
//! target directory (a real disk: `/tmp` is often tmpfs, where fsync is
//! free) and removed at the end. Results go to stdout as two tables and to
//! `target/rex-bench.json`.
//! The ingest and idle-stream memory figures are also printed against a
//! second baseline, the floor (`bus/floor.rs`: bare hyper wrapping each
//! body into a line unparsed), with issue 19's targets.
//! Arguments filter the scenarios: `cargo bench -p rex --bench bus -- fanout`.
//! Hosted rooms (`rex::Host`, many rooms in one server) are measured at the
//! end (`bus/hosted.rs`): `-- hosted` runs only them, `REX_BENCH_HOSTED=0`
//! skips them. Then rooms across hosts (`Host::redis`, `bus/across.rs` and
//! `bus/group.rs`), when `redis-server` is installed (a note otherwise):
//! `-- redis` runs only them, `REX_BENCH_REDIS=0` skips them.
//! What each scenario measures, and the last full run: `docs/performance.md`.

#[path = "bus/across.rs"]
mod across;
#[path = "bus/app.rs"]
mod app;
#[path = "bus/baseline.rs"]
mod baseline;
#[path = "bus/child.rs"]
mod child;
#[path = "bus/durable.rs"]
mod durable;
#[path = "bus/floor.rs"]
mod floor;
#[path = "bus/group.rs"]
mod group;
#[path = "bus/hosted.rs"]
mod hosted;
#[path = "bus/load.rs"]
mod load;
#[path = "bus/report.rs"]
mod report;
#[path = "bus/scenarios.rs"]
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use child::ServerProc;
use report::{render, targets};
use scenarios::{catch_up, end_to_end, fanout, ingest};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Tells the server child which CPU to pin itself to (absent: do not pin).
pub(crate) const SERVER_CPU_ENV: &str = "REX_BENCH_SERVER_CPU";

/// Which server a measurement is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Rex,
    Baseline,
    /// REx with `.data_dir(..)`: the durable room.
    Disk,
    /// The floor (`floor.rs`): bare hyper, the body wrapped into a line.
    Floor,
}

impl Side {
    const BOTH: [Side; 2] = [Side::Rex, Side::Baseline];

    pub(crate) fn env(self) -> &'static str {
        match self {
            Side::Rex => "rex",
            Side::Baseline => "baseline",
            Side::Disk => "disk",
            Side::Floor => "floor",
        }
    }

    fn slot(self) -> usize {
        match self {
            Side::Rex => 0,
            Side::Baseline => 1,
            Side::Disk => 2,
            Side::Floor => 3,
        }
    }
}

/// Pins the calling thread (and the threads it starts later) to CPU `id`.
pub(crate) fn pin(id: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id })
}

/// The first two CPUs this process may use: (server, load generator).
/// `None` with fewer than two, when pinning would put both on one core.
fn pick_cpus() -> Option<(usize, usize)> {
    let ids = core_affinity::get_core_ids()?;
    match ids.as_slice() {
        [server, client, ..] => Some((server.id, client.id)),
        _ => None,
    }
}

/// The runtime both sides use: one thread, everything enabled.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// How big and how long everything is.
struct Plan {
    quick: bool,
    rounds: usize,
    ingest_warm: Duration,
    ingest_window: Duration,
    concurrency: Vec<usize>,
    readers: Vec<usize>,
    /// Duration of the fixed-rate fan-out phase.
    fixed_window: Duration,
    /// Deliveries (events × readers) the fixed rate aims at per second.
    fixed_deliveries_per_s: u64,
    /// Bound on the as-fast-as-possible phase: deliveries and time.
    max_deliveries: u64,
    max_window: Duration,
    e2e_readers: usize,
    e2e_sends: usize,
    /// Events of the catch-up log, and of the durable log that is
    /// restarted.
    catchup_events: u64,
    filter: Vec<String>,
    /// Where data directories are made (a temporary directory).
    data: PathBuf,
    /// Data directories made so far, to name the next one.
    dirs: AtomicUsize,
}

impl Plan {
    fn new(quick: bool, filter: Vec<String>) -> Plan {
        if quick {
            Plan {
                quick,
                rounds: 1,
                ingest_warm: Duration::from_millis(50),
                ingest_window: Duration::from_millis(200),
                concurrency: vec![1, 16, 64],
                readers: vec![10, 100],
                fixed_window: Duration::from_millis(300),
                fixed_deliveries_per_s: 30_000,
                max_deliveries: 100_000,
                max_window: Duration::from_millis(500),
                e2e_readers: 100,
                e2e_sends: 50,
                catchup_events: 20_000,
                filter,
                data: PathBuf::new(),
                dirs: AtomicUsize::new(0),
            }
        } else {
            Plan {
                quick,
                rounds: 2,
                ingest_warm: Duration::from_millis(300),
                ingest_window: Duration::from_secs(2),
                concurrency: vec![1, 16, 64],
                readers: vec![10, 100, 1000],
                fixed_window: Duration::from_secs(2),
                fixed_deliveries_per_s: 30_000,
                max_deliveries: 4_000_000,
                max_window: Duration::from_secs(3),
                e2e_readers: 100,
                e2e_sends: 2000,
                catchup_events: 1_000_000,
                filter,
                data: PathBuf::new(),
                dirs: AtomicUsize::new(0),
            }
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| scenario.contains(f.as_str()))
    }

    /// A new, empty data directory `<n>-<name>` for one measurement; the
    /// caller removes it when the measurement is done.
    pub(crate) fn data_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        let n = self.dirs.fetch_add(1, Ordering::Relaxed);
        let dir = self.data.join(format!("{n}-{name}"));
        std::fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// Events per second of the fixed-rate phase with `n` readers: 1,000,
    /// or less so that the deliveries stay well under either server's
    /// capacity (this phase is about latency, not throughput; one event per
    /// write costs ~10 µs of server CPU here, so ~100k deliveries/s is the
    /// ceiling and 30k/s leaves room).
    fn fixed_rate(&self, n: usize) -> u64 {
        (self.fixed_deliveries_per_s / n as u64).min(1000)
    }
}

fn main() -> ExitCode {
    if let Ok(side) = std::env::var(child::CHILD_ENV) {
        return match child::main(&side) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench server child ({side}) failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let quick = std::env::var("REX_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let filter = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut plan = Plan::new(quick, filter);
    // For profiling one size: `REX_BENCH_READERS=1000`.
    if let Some(readers) = std::env::var("REX_BENCH_READERS")
        .ok()
        .and_then(|v| v.split(',').map(|n| n.trim().parse().ok()).collect())
    {
        plan.readers = readers;
    }
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Pick both CPUs before pinning: afterwards this process sees only one.
    let pinned = match pick_cpus() {
        Some((server, client)) if pin(client) => {
            std::env::set_var(SERVER_CPU_ENV, server.to_string());
            true
        }
        _ => false,
    };
    let result = runtime()
        .map_err(BoxError::from)
        .and_then(|rt| rt.block_on(run(plan, nproc, pinned)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_revision() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(rev) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_owned();
    };
    match git(&["status", "--porcelain"]) {
        Some(s) if !s.is_empty() => format!("{rev} (with uncommitted changes)"),
        _ => rev,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The target directory: where the report goes and data directories are
/// made.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.parent().unwrap_or(manifest).join("target")
        })
}

/// The file system `path` is on, from `/proc/self/mounts`: "ext4 on
/// /dev/vda" (the longest mount point that is a prefix of it).
fn file_system(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    std::fs::read_to_string("/proc/self/mounts")
        .ok()
        .and_then(|mounts| {
            mounts
                .lines()
                .filter_map(|l| {
                    let mut words = l.split_whitespace();
                    let (device, point, kind) = (words.next()?, words.next()?, words.next()?);
                    path.starts_with(point)
                        .then(|| (point.len(), format!("{kind} on {device}")))
                })
                .max_by_key(|(len, _)| *len)
                .map(|(_, fs)| fs)
        })
        .unwrap_or_else(|| "unknown file system".to_owned())
}

async fn run(mut plan: Plan, nproc: usize, pinned: bool) -> Result<(), BoxError> {
    let started = Instant::now();
    // Removed when `run` ends, however it ends.
    let target = target_dir();
    std::fs::create_dir_all(&target)?;
    let data = tempfile::Builder::new()
        .prefix("rex-bench-data-")
        .tempdir_in(&target)?;
    plan.data = data.path().to_owned();
    let load_before = loadavg();
    // Where the two sides really run, checked on a live child.
    let server_cpus = {
        let server = ServerProc::start(Side::Rex).await?;
        child::cpus_allowed(&format!("/proc/{}", server.pid()))
    };
    let client_cpus = child::cpus_allowed("/proc/self");
    if pinned && server_cpus == client_cpus {
        return Err(
            format!("server and load generator are both pinned to CPU {server_cpus}").into(),
        );
    }
    let setup = json!({
        "server": format!(
            "a child process per measurement (the bench re-executed with {}=rex|baseline|disk), \
             CPUs {server_cpus}, tokio current_thread runtime, HTTP/1.1 via hyper's \
             http1::Builder; REx through rex::Server, the baseline a bare hyper service",
            child::CHILD_ENV
        ),
        "load_generator": format!(
            "this process, CPUs {client_cpus}, tokio current_thread runtime; raw HTTP/1.1 \
             keep-alive connections with pre-encoded requests and a chunked NDJSON reader; \
             the typed rex::Client for the end-to-end sends"
        ),
        "pinned": pinned,
        "pinning": "core_affinity::set_for_current before the runtime starts; threads inherit it",
        "server_cpu": "sum of /proc/<pid>/task/*/schedstat run time of the server child",
        "memory": "VmRSS of the server child from /proc/<pid>/status",
        "durable": "REx with .data_dir(<a fresh directory>): redb, one fdatasync per group commit; \
                    commits counted by the app (the server saves its tiny state once per commit); \
                    the child's storage threads inherit its CPU, so server CPU includes redb and \
                    the fdatasync calls (not the kernel's journal thread)",
        "hosted": hosted::SETUP,
        "order": if plan.rounds > 1 {
            "A B A B (REx, baseline, REx, baseline) per figure; ingest A B D C A B D C (C: REx on \
             disk, D: the floor); the floor's idle streams after each round of the biggest fan-out; \
             the durable log: memory, disk, memory, disk"
        } else {
            "A B (REx, baseline) per figure; ingest A B D C (C: REx on disk, D: the floor); the \
             floor's idle streams after the biggest fan-out; the durable log: memory, disk"
        },
    });
    let mode = if plan.quick {
        "quick (REX_BENCH_QUICK=1: smoke run, numbers not meaningful)"
    } else {
        "full"
    };
    println!("REx bus benchmark: {mode}");
    println!(
        "machine: {nproc} × {}, load average at start {load_before}; git {}",
        cpu_model(),
        git_revision()
    );
    println!("server: {}", setup["server"].as_str().unwrap_or_default());
    println!(
        "load generator: {}",
        setup["load_generator"].as_str().unwrap_or_default()
    );
    if !pinned {
        println!("NOT PINNED: fewer than two cores are available; the sides share CPUs");
    }
    println!(
        "data directories: {} ({}), a fresh one per measurement, removed at the end; \
         retention unlimited on both sides",
        plan.data.display(),
        file_system(&plan.data)
    );
    println!("order: {}\n", setup["order"].as_str().unwrap_or_default());

    let mut rows = Vec::new();
    let mut durable_rows = Vec::new();
    // REx against the floor (issue 19), from the same rounds.
    let mut floor_figures = floor::FloorFigures::default();
    if plan.wants("ingest") || plan.wants("durable-ingest") {
        let (ingest_rows, durable_totals) = ingest(&plan, &mut floor_figures).await?;
        rows.extend(ingest_rows);
        durable_rows.extend(durable::ingest_rows(&durable_totals));
    }
    if plan.wants("fanout") || plan.wants("memory") {
        rows.extend(fanout(&plan, &mut floor_figures).await?);
    }
    if plan.wants("e2e") {
        rows.extend(end_to_end(&plan).await?);
    }
    if plan.wants("catchup") || plan.wants("memory") {
        rows.extend(catch_up(&plan).await?);
    }
    if plan.wants("durable-restart") {
        durable_rows.extend(durable::restart(&plan).await?);
    }
    let hosted_rows = hosted::run(&plan).await?;
    let across = across::run(&plan).await?;

    let load_after = loadavg();
    if !rows.is_empty() {
        println!("{}", render(&rows, ["REx", "baseline"]));
    }
    let floor_rows = floor::rows(&floor_figures);
    if !floor_rows.is_empty() {
        println!(
            "REx against the floor (bare hyper: the body wrapped into one line, no parsing), \
             same run"
        );
        println!("{}", render(&floor_rows, ["REx", "floor"]));
        println!("Floor targets (issue 19):");
        println!("{}", targets(&floor_rows));
    }
    if !durable_rows.is_empty() {
        println!("Durable rooms: REx on disk next to REx in memory, same run");
        println!("{}", render(&durable_rows, ["disk", "memory"]));
        println!("Durable targets (issue 15):");
        println!("{}", targets(&durable_rows));
    }
    if !hosted_rows.is_empty() {
        println!("Hosted rooms: one rex::Host, many rooms of the bench app, same run");
        println!("{}", hosted::render(&hosted_rows));
    }
    print!("{}", across.render());
    println!(
        "took {:.1} s; load average at end {load_after}",
        started.elapsed().as_secs_f64()
    );

    let report = json!({
        "mode": if plan.quick { "quick" } else { "full" },
        "machine": {
            "nproc": nproc,
            "cpu_model": cpu_model(),
            "load_average_start": load_before,
            "load_average_end": load_after,
        },
        "git_revision": git_revision(),
        "rounds_per_side": plan.rounds,
        "setup": setup,
        "rows": json_rows(&rows, ["rex", "baseline"]),
        "durable_rows": json_rows(&durable_rows, ["disk", "memory"]),
        "floor_rows": json_rows(&floor_rows, ["rex", "floor"]),
        "hosted_rows": hosted::json_rows(&hosted_rows),
        "across_hosts": across.json(),
        "data_file_system": file_system(&plan.data),
    });
    let path = target.join("rex-bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("wrote {}", path.display());
    data.close()?;
    Ok(())
}

/// The rows for the JSON report; `names` name the two values.
fn json_rows(rows: &[report::Row], names: [&str; 2]) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|r| {
            json!({
                "scenario": r.scenario,
                "metric": r.metric,
                "unit": r.unit,
                names[0]: r.rex,
                names[1]: r.baseline,
                "ratio": r.ratio(),
                "higher_is_better": r.higher_is_better,
                "target": r.target.as_ref().map(|(t, _)| t),
                "target_met": r.target.as_ref().map(|(_, m)| m),
            })
        })
        .collect()
}
