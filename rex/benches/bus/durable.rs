//! The durable table (issue 15): REx with `.data_dir(..)` next to REx in
//! memory, in the same run as the rest.
//!
//! - **Ingest** at c = 1, 16, 64 (measured by `scenarios::ingest` in the
//!   same rounds as scenario 1): messages/s, messages per server
//!   CPU-second, group commits (one fsync each) per message, latency.
//! - **A log of N events, restarted**: N events written in batches of
//!   1,000 (one `AppHandle::run` each, so one commit each); the server is
//!   killed (a crash), started again (start-up after a crash), stopped
//!   gracefully, and started again (start-up after a clean stop: the
//!   figure with a target); then a new reader streams `start=0` to the
//!   head from the reopened store. Memory's column is the same log written
//!   into, and read from, a live in-memory server.

use std::time::{Duration, Instant};

use super::child::ServerProc;
use super::report::{us, Row};
use super::scenarios::{self, CatchUp, Ingest};
use super::{BoxError, Plan, Side};

/// The start-up target is for a log of this many events.
const STARTUP_TARGET_EVENTS: u64 = 1_000_000;

/// The durable ingest rows, from the totals `scenarios::ingest` kept per
/// concurrency as `[disk, memory]`.
pub(crate) fn ingest_rows(totals: &[(usize, [Ingest; 2])]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (c, acc) in totals {
        let name = format!("6 durable ingest c={c}");
        let each = |f: &dyn Fn(&Ingest) -> f64| [f(&acc[0]), f(&acc[1])];
        let rate = Row::new(
            &name,
            "messages accepted",
            "/s",
            each(&|a| a.count as f64 / a.secs),
        );
        rows.push(if *c == 64 {
            rate.target_ratio(0.5)
        } else {
            rate
        });
        rows.push(Row::new(
            &name,
            "messages per server CPU-second",
            "/CPU-s",
            each(&|a| a.count as f64 / (a.server_cpu as f64 / 1e9)),
        ));
        let disk = &acc[0];
        let per_message = disk.batches as f64 / disk.count.max(1) as f64;
        rows.push(
            Row::new(
                &name,
                "commits (fsyncs) per message",
                "",
                [per_message, f64::NAN],
            )
            .lower_is_better(),
        );
        rows.push(Row::new(
            &name,
            "messages per commit",
            "",
            [disk.count as f64 / disk.batches.max(1) as f64, f64::NAN],
        ));
        for (metric, q) in [("latency p50", 0.5), ("latency p99", 0.99)] {
            let p = each(&|a| us(a.hist.quantile(q)));
            rows.push(Row::new(&name, metric, "µs", p).lower_is_better());
        }
    }
    rows
}

/// One log of `plan.catchup_events` events, on one side.
#[derive(Default)]
struct Restart {
    /// Writing the log: seconds for all of it.
    write_secs: f64,
    /// Disk: `bind` after a kill, and after a graceful stop (s).
    startup_after_kill: f64,
    startup: f64,
    /// Server RSS per event held (after the restart, on disk).
    rss_per_event: f64,
    replay: CatchUp,
}

impl Restart {
    fn add(&mut self, run: &Restart, rounds: f64) {
        self.write_secs += run.write_secs;
        self.startup_after_kill += run.startup_after_kill / rounds;
        self.startup += run.startup / rounds;
        self.rss_per_event += run.rss_per_event / rounds;
        self.replay.events += run.replay.events;
        self.replay.bytes += run.replay.bytes;
        self.replay.secs += run.replay.secs;
        self.replay.server_cpu += run.replay.server_cpu;
    }
}

/// Writes the log through `server` (1,000 events per commit); returns the
/// head and the seconds it took.
async fn write_log(server: &mut ServerProc, n: u64) -> Result<(u64, f64), BoxError> {
    let t0 = Instant::now();
    let answer = server
        .command(&format!("prefill {n}"), Duration::from_secs(600))
        .await?;
    let head = answer
        .strip_prefix("prefilled ")
        .ok_or_else(|| format!("unexpected answer `{answer}`"))?
        .parse()?;
    Ok((head, t0.elapsed().as_secs_f64()))
}

async fn memory_once(plan: &Plan) -> Result<Restart, BoxError> {
    let mut server = ServerProc::start(Side::Rex).await?;
    let rss0 = server.rss();
    let (head, write_secs) = write_log(&mut server, plan.catchup_events).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss1 = server.rss();
    Ok(Restart {
        write_secs,
        startup_after_kill: f64::NAN,
        startup: f64::NAN,
        rss_per_event: rss1.saturating_sub(rss0) as f64 / head.max(1) as f64,
        replay: scenarios::replay(&server, head).await?,
    })
}

async fn disk_once(plan: &Plan) -> Result<Restart, BoxError> {
    let dir = plan.data_dir("restart")?;
    let mut writer = ServerProc::start_disk(&dir).await?;
    let rss0 = writer.rss();
    let (head, write_secs) = write_log(&mut writer, plan.catchup_events).await?;
    writer.kill()?;
    let crashed = ServerProc::start_disk(&dir).await?;
    let startup_after_kill = crashed.startup.as_secs_f64();
    crashed.stop().await?;
    let server = ServerProc::start_disk(&dir).await?;
    let startup = server.startup.as_secs_f64();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss1 = server.rss();
    // The reader checks every index from 0 arrives once and in order, so
    // reaching `head` proves the reopened store holds the whole log.
    let replay = scenarios::replay(&server, head).await?;
    drop(server);
    std::fs::remove_dir_all(&dir)?;
    Ok(Restart {
        write_secs,
        startup_after_kill,
        startup,
        rss_per_event: rss1.saturating_sub(rss0) as f64 / head.max(1) as f64,
        replay,
    })
}

/// The restart rows: memory, then disk, for `plan.rounds` rounds.
pub(crate) async fn restart(plan: &Plan) -> Result<Vec<Row>, BoxError> {
    let (mut disk, mut memory) = (Restart::default(), Restart::default());
    let rounds = plan.rounds as f64;
    for _ in 0..plan.rounds {
        memory.add(&memory_once(plan).await?, rounds);
        disk.add(&disk_once(plan).await?, rounds);
    }
    let n = plan.catchup_events;
    let full = n >= STARTUP_TARGET_EVENTS;
    let name = if full {
        format!("7 durable log of {n} events")
    } else {
        format!("7 durable log of {n} events (quick: targets are for {STARTUP_TARGET_EVENTS})")
    };
    let each = |f: &dyn Fn(&Restart) -> f64| [f(&disk), f(&memory)];
    let mb_s = |r: &Restart| r.replay.bytes as f64 / 1e6 / r.replay.secs;
    eprintln!(
        "durable log of {n} events: start-up {:.3} s, catch-up {:.0} MB/s on disk vs {:.0} in memory",
        disk.startup,
        mb_s(&disk),
        mb_s(&memory)
    );
    let startup = Row::new(
        &name,
        "start-up after a graceful stop",
        "s",
        each(&|r| r.startup),
    )
    .lower_is_better();
    let startup_target = format!("< 2 s for {STARTUP_TARGET_EVENTS} events");
    let catchup = Row::new(&name, "catch-up from start=0", "MB/s", each(&mb_s));
    let catchup_met = catchup.rex >= 200.0;
    Ok(vec![
        Row::new(
            &name,
            "writing it, 1,000 events per commit",
            "events/s",
            each(&|r| (n * plan.rounds as u64) as f64 / r.write_secs),
        ),
        if full {
            let met = startup.rex < 2.0;
            startup.target_text(startup_target, met)
        } else {
            startup.target_unchecked(startup_target)
        },
        Row::new(
            &name,
            "start-up after a kill",
            "s",
            each(&|r| r.startup_after_kill),
        )
        .lower_is_better(),
        Row::new(
            &name,
            "server RSS per event held",
            "B",
            each(&|r| r.rss_per_event),
        )
        .lower_is_better(),
        catchup.target_text("disk ≥ 200 MB/s".to_owned(), catchup_met),
        Row::new(
            &name,
            "catch-up from start=0",
            "events/s",
            each(&|r| r.replay.events as f64 / r.replay.secs),
        ),
        Row::new(
            &name,
            "catch-up server CPU per event",
            "ns",
            each(&|r| r.replay.server_cpu as f64 / r.replay.events.max(1) as f64),
        )
        .lower_is_better(),
    ])
}
