//! The five scenarios of issue 6. Each runs REx, then the baseline, for
//! `plan.rounds` rounds, each in a fresh server child, and returns its rows.
//! Ingest also runs REx on disk in the same rounds, for the durable table
//! (`durable.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::app::BenchMsg;
use super::child::{self, ServerProc};
use super::floor::{self, FloorFigures};
use super::load::{self, Conn, Hist, Readers};
use super::report::{ms, us, Each, Row};
use super::{BoxError, Plan, Side};

/// Load generator CPU time so far (this process), in ns.
fn client_cpu_ns() -> u64 {
    child::cpu_ns("/proc/self")
}

/// Aborts the reader tasks when a scenario ends, however it ends.
pub(crate) struct Tasks(Vec<JoinHandle<Result<(), BoxError>>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

pub(crate) fn spawn_readers(
    server: &ServerProc,
    n: usize,
    start: u64,
    readers: &Arc<Readers>,
) -> Tasks {
    Tasks(
        (0..n)
            .map(|_| tokio::spawn(load::read_stream(server.addr, start, readers.clone())))
            .collect(),
    )
}

// ---------------------------------------------------------------- ingest --

#[derive(Default)]
pub(crate) struct Ingest {
    pub(crate) count: u64,
    pub(crate) secs: f64,
    pub(crate) hist: Hist,
    pub(crate) server_cpu: u64,
    pub(crate) client_cpu: u64,
    /// Group commits during the window (disk only).
    pub(crate) batches: u64,
}

impl Ingest {
    fn add(&mut self, run: &Ingest) {
        self.count += run.count;
        self.secs += run.secs;
        self.hist.merge(&run.hist);
        self.server_cpu += run.server_cpu;
        self.client_cpu += run.client_cpu;
        self.batches += run.batches;
    }
}

/// One ingest measurement in a fresh server child; `disk` in a fresh data
/// directory, removed afterwards.
async fn ingest_once(side: Side, c: usize, plan: &Plan) -> Result<Ingest, BoxError> {
    if side != Side::Disk {
        return ingest_on(ServerProc::start(side).await?, c, plan).await;
    }
    let dir = plan.data_dir(&format!("ingest-c{c}"))?;
    let result = match ServerProc::start_disk(&dir).await {
        Ok(server) => ingest_on(server, c, plan).await,
        Err(e) => Err(e),
    };
    // The child has exited (`ingest_on` drops it) before its files go.
    std::fs::remove_dir_all(&dir)?;
    result
}

async fn ingest_on(mut server: ServerProc, c: usize, plan: &Plan) -> Result<Ingest, BoxError> {
    let side = server.side;
    let mut tokens = Vec::with_capacity(c);
    for _ in 0..c {
        tokens.push(load::create_session(server.addr).await?);
    }
    let body = br#"{"kind":"say","data":{"text":"hello from the load generator"}}"#;
    let _perf = Perf::start(&server, &format!("{}-ingest-{c}", side.env()));
    let begin = tokio::time::Instant::now();
    let warm_end = begin + plan.ingest_warm;
    let end = warm_end + plan.ingest_window;
    let workers: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let request = Conn::encode("POST", "/rex/v0/messages", Some(&token), body);
            tokio::spawn(load::send_until(server.addr, request, warm_end, end))
        })
        .collect();
    let disk = side == Side::Disk;
    tokio::time::sleep_until(warm_end).await;
    let batches0 = if disk { server.batches().await? } else { 0 };
    let (cpu0, ccpu0) = (server.cpu_ns(), client_cpu_ns());
    tokio::time::sleep_until(end).await;
    let (cpu1, ccpu1) = (server.cpu_ns(), client_cpu_ns());
    let batches1 = if disk { server.batches().await? } else { 0 };
    let mut run = Ingest {
        secs: plan.ingest_window.as_secs_f64(),
        server_cpu: cpu1 - cpu0,
        client_cpu: ccpu1 - ccpu0,
        batches: batches1 - batches0,
        ..Ingest::default()
    };
    for worker in workers {
        let (count, hist) = worker.await??;
        run.count += count;
        run.hist.merge(&hist);
    }
    Ok(run)
}

/// The ingest rounds: REx, the baseline and the floor (scenario 1) if the
/// plan wants them, REx on disk next to them if it wants the durable
/// figures. Returns scenario 1's rows, and per concurrency the memory and
/// disk totals; REx's and the floor's totals go into `floor_figures`.
pub(crate) async fn ingest(
    plan: &Plan,
    floor_figures: &mut FloorFigures,
) -> Result<(Vec<Row>, Vec<(usize, [Ingest; 2])>), BoxError> {
    let mut sides = Vec::new();
    if plan.wants("ingest") {
        sides.extend(Side::BOTH);
        sides.push(Side::Floor);
    }
    if plan.wants("durable-ingest") {
        if sides.is_empty() {
            sides.push(Side::Rex);
        }
        sides.push(Side::Disk);
    }
    let mut rows = Vec::new();
    let mut durable = Vec::new();
    for &c in &plan.concurrency {
        // Indexed by `Side::slot`: REx, baseline, disk, floor.
        let mut acc: [Ingest; 4] = Default::default();
        for _ in 0..plan.rounds {
            for &side in &sides {
                let run = ingest_once(side, c, plan).await?;
                acc[side.slot()].add(&run);
            }
        }
        let [memory, baseline, disk, floor] = acc;
        if sides.contains(&Side::Disk) {
            let rate = |a: &Ingest| a.count as f64 / a.secs;
            eprintln!(
                "ingest c={c}: {:.0} on disk vs {:.0} in memory messages/s",
                rate(&disk),
                rate(&memory)
            );
        }
        if sides.contains(&Side::Baseline) {
            rows.extend(ingest_rows(c, [&memory, &baseline]));
        }
        if sides.contains(&Side::Floor) {
            let figures = [&memory, &floor].map(|a| (a.count, a.secs, a.server_cpu));
            floor_figures.ingest.push((c, figures));
        }
        if sides.contains(&Side::Disk) {
            durable.push((c, [disk, memory]));
        }
    }
    Ok((rows, durable))
}

fn ingest_rows(c: usize, acc: [&Ingest; 2]) -> Vec<Row> {
    let mut rows = Vec::new();
    let name = format!("1 ingest c={c}");
    let rate = acc.each(|a| a.count as f64 / a.secs);
    eprintln!("ingest c={c}: {:.0} vs {:.0} messages/s", rate[0], rate[1]);
    let mut row = Row::new(&name, "messages accepted", "/s", rate);
    if c == 64 {
        row = row.target_ratio(0.9);
    }
    rows.push(row);
    rows.push(
        Row::new(
            &name,
            "latency p50",
            "µs",
            acc.each(|a| us(a.hist.quantile(0.5))),
        )
        .lower_is_better(),
    );
    rows.push(
        Row::new(
            &name,
            "latency p99",
            "µs",
            acc.each(|a| us(a.hist.quantile(0.99))),
        )
        .lower_is_better(),
    );
    rows.push(
        Row::new(
            &name,
            "server CPU per message",
            "µs",
            acc.each(|a| us(a.server_cpu) / a.count.max(1) as f64),
        )
        .lower_is_better(),
    );
    rows.push(Row::new(
        &name,
        "messages per server CPU-second",
        "/CPU-s",
        acc.each(|a| a.count as f64 / (a.server_cpu as f64 / 1e9)),
    ));
    rows.push(
        Row::new(
            &name,
            "load generator core busy",
            "%",
            acc.each(|a| 100.0 * a.client_cpu as f64 / (a.secs * 1e9)),
        )
        .lower_is_better(),
    );
    rows
}

// --------------------------------------------------------------- fan-out --

/// `REX_BENCH_PERF=<dir>` records a `perf` profile (with DWARF call
/// graphs) of the server child during each ingest run, the
/// as-fast-as-possible fan-out phases and the hosted party night, into
/// `<dir>/<side>-<scenario>.data`.
pub(crate) struct Perf(Option<std::process::Child>);

impl Perf {
    pub(crate) fn start(server: &ServerProc, name: &str) -> Perf {
        let Ok(dir) = std::env::var("REX_BENCH_PERF") else {
            return Perf(None);
        };
        // `REX_BENCH_PERF_CMD` replaces the perf arguments, e.g.
        // `stat -e syscalls:sys_enter_writev -p {pid} -o {out}`.
        let args = std::env::var("REX_BENCH_PERF_CMD").unwrap_or_else(|_| {
            "record -q -F 2999 --call-graph dwarf,32768 -p {pid} -o {out}".to_owned()
        });
        let (pid, out) = (server.pid().to_string(), format!("{dir}/{name}.data"));
        let child = std::process::Command::new("perf")
            .args(
                args.split_whitespace()
                    .map(|a| a.replace("{pid}", &pid).replace("{out}", &out)),
            )
            .stdout(std::process::Stdio::null())
            .spawn();
        // Let perf attach before the phase starts.
        std::thread::sleep(Duration::from_millis(300));
        Perf(child.ok())
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

/// Events per append in the bursty as-fast-as-possible phase.
const BURST: u64 = 16;

/// One as-fast-as-possible phase.
#[derive(Default)]
struct Phase {
    hist: Hist,
    deliveries: u64,
    secs: f64,
    server_cpu: u64,
    client_cpu: u64,
}

impl Phase {
    fn add(&mut self, other: &Phase) {
        self.hist.merge(&other.hist);
        self.deliveries += other.deliveries;
        self.secs += other.secs;
        self.server_cpu += other.server_cpu;
        self.client_cpu += other.client_cpu;
    }
}

#[derive(Default)]
struct Fanout {
    /// Bytes of server RSS per idle open stream (mean over rounds).
    mem_per_stream: f64,
    fixed: Hist,
    /// One event per append, then [`BURST`] per append.
    max: [Phase; 2],
}

async fn fanout_once(side: Side, n: usize, plan: &Plan) -> Result<Fanout, BoxError> {
    let mut server = ServerProc::start(side).await?;
    let long = Duration::from_secs(120);
    server.command("append 1 0 1000", long).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rss0 = server.rss();
    let readers = Arc::new(Readers::default());
    let _tasks = spawn_readers(&server, n, 0, &readers);
    let nn = n as u64;
    readers
        .wait(long, "the streams to open", |r| {
            r.open.load(Ordering::Relaxed) >= nn
        })
        .await?;
    server.command("append 1 0 1000", long).await?;
    let mut head = 2;
    let target = nn * head;
    readers
        .wait(long, "the first events", |r| {
            r.deliveries.load(Ordering::Relaxed) >= target
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss1 = server.rss();
    let mut run = Fanout {
        mem_per_stream: rss1.saturating_sub(rss0) as f64 / n as f64,
        ..Fanout::default()
    };
    readers.take_hist();

    // A fixed rate: latency when the server keeps up.
    let rate = plan.fixed_rate(n);
    let count = (rate as f64 * plan.fixed_window.as_secs_f64()) as u64;
    let max_ms = plan.fixed_window.as_millis() as u64 + 5000;
    let answer = server
        .command(&format!("append {count} {rate} {max_ms}"), long)
        .await?;
    head += appended(&answer)?;
    let target = nn * head;
    readers
        .wait(long, "the fixed-rate events", |r| {
            r.deliveries.load(Ordering::Relaxed) >= target
        })
        .await?;
    run.fixed = readers.take_hist();

    // As fast as possible, one event and then a burst per append:
    // throughput and its cost.
    let _perf = Perf::start(&server, &format!("{}-fanout-{n}", side.env()));
    for (phase, burst) in run.max.iter_mut().zip([1, BURST]) {
        let before = readers.deliveries.load(Ordering::Relaxed);
        let (cpu0, ccpu0, t0) = (server.cpu_ns(), client_cpu_ns(), Instant::now());
        let count = (plan.max_deliveries / nn).max(burst);
        let max_ms = plan.max_window.as_millis() as u64;
        let answer = server
            .command(&format!("append {count} 0 {max_ms} {burst}"), long)
            .await?;
        head += appended(&answer)?;
        let target = nn * head;
        readers
            .wait(long, "the as-fast-as-possible events", |r| {
                r.deliveries.load(Ordering::Relaxed) >= target
            })
            .await?;
        *phase = Phase {
            secs: t0.elapsed().as_secs_f64(),
            server_cpu: server.cpu_ns() - cpu0,
            client_cpu: client_cpu_ns() - ccpu0,
            deliveries: readers.deliveries.load(Ordering::Relaxed) - before,
            hist: readers.take_hist(),
        };
    }
    if let Some(e) = readers.error() {
        return Err(e.into());
    }
    Ok(run)
}

fn appended(answer: &str) -> Result<u64, BoxError> {
    Ok(answer
        .strip_prefix("appended ")
        .ok_or_else(|| format!("unexpected answer `{answer}`"))?
        .parse()?)
}

/// The fan-out rounds (scenario 2) and the idle-stream memory (scenario
/// 5). With the most readers, each round also measures the floor's memory
/// per idle stream, into `floor_figures` next to REx's.
pub(crate) async fn fanout(
    plan: &Plan,
    floor_figures: &mut FloorFigures,
) -> Result<Vec<Row>, BoxError> {
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    let biggest = plan.readers.iter().copied().max().unwrap_or(0);
    for &n in &plan.readers {
        let mut acc: [Fanout; 2] = Default::default();
        let mut floor_memory = 0.0;
        for _ in 0..plan.rounds {
            for side in Side::BOTH {
                let run = fanout_once(side, n, plan).await?;
                let a = &mut acc[side.slot()];
                a.mem_per_stream += run.mem_per_stream / plan.rounds as f64;
                a.fixed.merge(&run.fixed);
                for (sum, phase) in a.max.iter_mut().zip(&run.max) {
                    sum.add(phase);
                }
            }
            if n == biggest {
                floor_memory += floor::idle_memory(n).await? / plan.rounds as f64;
            }
        }
        if n == biggest {
            floor_figures.memory = Some((n, [acc[0].mem_per_stream, floor_memory]));
        }
        let rate = plan.fixed_rate(n);
        let name = format!("2 fan-out N={n}, {rate} events/s");
        let p = |q: f64| acc.each(|a| us(a.fixed.quantile(q)));
        rows.push(Row::new(&name, "append→receive p50", "µs", p(0.5)).lower_is_better());
        let p99 = Row::new(&name, "append→receive p99", "µs", p(0.99)).lower_is_better();
        rows.push(if n >= 1000 {
            p99.target_ratio(1.5)
        } else {
            p99
        });
        let max = acc.each(|a| us(a.fixed.max()));
        rows.push(Row::new(&name, "append→receive max", "µs", max).lower_is_better());
        for (i, burst) in [1, BURST].into_iter().enumerate() {
            let name = if burst == 1 {
                format!("2 fan-out N={n}, max rate, 1 event/append")
            } else {
                format!("2 fan-out N={n}, max rate, {burst} events/append")
            };
            let rate = acc.each(|a| a.max[i].deliveries as f64 / a.max[i].secs);
            eprintln!("{name}: {:.0} vs {:.0} deliveries/s", rate[0], rate[1]);
            rows.push(Row::new(&name, "deliveries", "/s", rate));
            let per_cpu =
                acc.each(|a| a.max[i].deliveries as f64 / (a.max[i].server_cpu as f64 / 1e9));
            let per_cpu = Row::new(&name, "deliveries per server CPU-second", "/CPU-s", per_cpu);
            rows.push(if n >= 1000 {
                per_cpu.target_ratio(1.0)
            } else {
                per_cpu
            });
            let p = |q: f64| acc.each(|a| ms(a.max[i].hist.quantile(q)));
            rows.push(Row::new(&name, "append→receive p50", "ms", p(0.5)).lower_is_better());
            rows.push(Row::new(&name, "append→receive p99", "ms", p(0.99)).lower_is_better());
            let max = acc.each(|a| ms(a.max[i].hist.max()));
            rows.push(Row::new(&name, "append→receive max", "ms", max).lower_is_better());
            let busy = acc.each(|a| 100.0 * a.max[i].client_cpu as f64 / (a.max[i].secs * 1e9));
            rows.push(Row::new(&name, "load generator core busy", "%", busy).lower_is_better());
        }
        let mem = Row::new(
            &format!("5 memory, {n} idle streams"),
            "server RSS per idle stream",
            "KiB",
            acc.each(|a| a.mem_per_stream / 1024.0),
        )
        .lower_is_better();
        memory.push(if n == biggest {
            mem.target_ratio(1.0)
        } else {
            mem
        });
    }
    rows.extend(memory);
    Ok(rows)
}

// ------------------------------------------------------------ end to end --

async fn end_to_end_once(side: Side, plan: &Plan) -> Result<Hist, BoxError> {
    let server = ServerProc::start(side).await?;
    let readers = Arc::new(Readers::default());
    let n = plan.e2e_readers as u64;
    let _tasks = spawn_readers(&server, plan.e2e_readers, 0, &readers);
    let long = Duration::from_secs(60);
    readers
        .wait(long, "the streams to open", |r| {
            r.open.load(Ordering::Relaxed) >= n
        })
        .await?;
    let client = rex::Client::<BenchMsg>::builder(server.addr)
        .name("e2e")
        .connect()
        .await?;
    let msg = BenchMsg::Say {
        text: "end to end".to_owned(),
    };
    let warm = 20;
    let mut hist = Hist::default();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..(warm + plan.e2e_sends) {
        tick.tick().await;
        let t0 = Instant::now();
        client.send(&msg).await?;
        let target = n * (i as u64 + 1);
        readers
            .wait(long, "every reader to get the event", |r| {
                r.deliveries.load(Ordering::Relaxed) >= target
            })
            .await?;
        if i >= warm {
            hist.record(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
    Ok(hist)
}

pub(crate) async fn end_to_end(plan: &Plan) -> Result<Vec<Row>, BoxError> {
    let mut acc: [Hist; 2] = Default::default();
    for _ in 0..plan.rounds {
        for side in Side::BOTH {
            let hist = end_to_end_once(side, plan).await?;
            acc[side.slot()].merge(&hist);
        }
    }
    let name = format!("3 end to end, {} readers, ≤1,000 sends/s", plan.e2e_readers);
    eprintln!(
        "end to end: p99 {:.0} vs {:.0} µs",
        us(acc[0].quantile(0.99)),
        us(acc[1].quantile(0.99))
    );
    Ok(vec![
        Row::new(
            &name,
            "send → all received p50",
            "µs",
            acc.each(|h| us(h.quantile(0.5))),
        )
        .lower_is_better(),
        Row::new(
            &name,
            "send → all received p99",
            "µs",
            acc.each(|h| us(h.quantile(0.99))),
        )
        .lower_is_better()
        .target_ratio(1.25),
    ])
}

// -------------------------------------------------------------- catch-up --

#[derive(Default)]
pub(crate) struct CatchUp {
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    pub(crate) secs: f64,
    pub(crate) server_cpu: u64,
    /// Server RSS growth per retained event, bytes (sum over rounds).
    pub(crate) mem_per_event: f64,
}

pub(crate) async fn catch_up_once(side: Side, plan: &Plan) -> Result<CatchUp, BoxError> {
    let mut server = ServerProc::start(side).await?;
    let long = Duration::from_secs(600);
    // Warm up the allocator and the encoder before the first RSS reading.
    let warm = 1000;
    server.command(&format!("prefill {warm}"), long).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rss0 = server.rss();
    let answer = server
        .command(&format!("prefill {}", plan.catchup_events), long)
        .await?;
    let head: u64 = answer
        .strip_prefix("prefilled ")
        .ok_or_else(|| format!("unexpected answer `{answer}`"))?
        .parse()?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss1 = server.rss();
    Ok(CatchUp {
        mem_per_event: rss1.saturating_sub(rss0) as f64 / plan.catchup_events as f64,
        ..replay(&server, head).await?
    })
}

/// One new reader streams `GET /events?start=0` up to `head` (checking
/// every event arrives once, in order): the catch-up figures.
pub(crate) async fn replay(server: &ServerProc, head: u64) -> Result<CatchUp, BoxError> {
    let readers = Arc::new(Readers::default());
    let (cpu0, t0) = (server.cpu_ns(), Instant::now());
    let _tasks = spawn_readers(server, 1, 0, &readers);
    readers
        .wait(Duration::from_secs(600), "the replay", |r| {
            r.deliveries.load(Ordering::Relaxed) >= head
        })
        .await?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(CatchUp {
        events: readers.deliveries.load(Ordering::Relaxed),
        bytes: readers.bytes.load(Ordering::Relaxed),
        secs,
        server_cpu: server.cpu_ns() - cpu0,
        mem_per_event: 0.0,
    })
}

pub(crate) async fn catch_up(plan: &Plan) -> Result<Vec<Row>, BoxError> {
    let mut acc: [CatchUp; 2] = Default::default();
    for _ in 0..plan.rounds {
        for side in Side::BOTH {
            let run = catch_up_once(side, plan).await?;
            let a = &mut acc[side.slot()];
            a.events += run.events;
            a.bytes += run.bytes;
            a.secs += run.secs;
            a.server_cpu += run.server_cpu;
            a.mem_per_event += run.mem_per_event / plan.rounds as f64;
        }
    }
    let events = plan.catchup_events + 1000;
    let name = format!("4 catch-up, {events} events from start=0");
    let rate = acc.each(|a| a.events as f64 / a.secs);
    eprintln!("catch-up: {:.0} vs {:.0} events/s", rate[0], rate[1]);
    let encoded = acc.each(|a| a.bytes as f64 / a.events.max(1) as f64);
    let mem = acc.each(|a| a.mem_per_event);
    let ratio = mem[0] / encoded[0];
    let mem_name = format!("5 memory, {} retained events", plan.catchup_events);
    Ok(vec![
        Row::new(&name, "events", "/s", rate),
        Row::new(
            &name,
            "throughput",
            "MB/s",
            acc.each(|a| a.bytes as f64 / 1e6 / a.secs),
        ),
        Row::new(
            &name,
            "server CPU per event",
            "ns",
            acc.each(|a| a.server_cpu as f64 / a.events.max(1) as f64),
        )
        .lower_is_better(),
        Row::new(&mem_name, "server RSS per retained event", "B", mem).lower_is_better(),
        Row::new(&mem_name, "encoded NDJSON line", "B", encoded).lower_is_better(),
        Row::new(
            &mem_name,
            "RSS / encoded size",
            "×",
            [mem[0] / encoded[0], mem[1] / encoded[1]],
        )
        .lower_is_better()
        .target_text("REx ≤ 2× encoded".to_owned(), ratio <= 2.0),
    ])
}
