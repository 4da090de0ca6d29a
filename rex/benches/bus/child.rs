//! The server process. The bench re-executes itself with
//! `REX_BENCH_SERVER=rex|baseline|disk|floor` (`disk`: REx with
//! `.data_dir($REX_BENCH_DATA_DIR)`); the child pins itself to the server
//! core, starts that server on 127.0.0.1:0 in a current-thread tokio
//! runtime, prints `addr <address> <start-up ns>` (the time `bind` took,
//! which for `disk` includes opening and loading the store), then obeys one
//! command per line on stdin:
//!
//! - `append <count> <rate/s, 0 = as fast as possible> <max ms> [burst]`:
//!   appends `said` events whose text is `t<append time in ns>`, from inside
//!   the server, `burst` (default 1) per turn (REx: one `AppHandle::emit`
//!   per event, or one `AppHandle::run` per burst); answers `appended <n>`.
//! - `prefill <count>`: appends small events quickly (REx: 1,000 per
//!   `AppHandle::run` call); answers `prefilled <head>`.
//! - `batches`: answers `batches <n>`, the group commits so far (the app
//!   counts how often the server saves its state, which it does once per
//!   commit); 0 in memory.
//! - `quit` (or end of stdin): exits; `disk` first stops the server
//!   gracefully, so its store is closed cleanly.
//!
//! `REX_BENCH_SERVER=host|host-disk|host-redis` makes the child a host of
//! rooms instead (`hosted.rs`; `host-redis` shares its rooms through the
//! Redis at `$REX_BENCH_REDIS_URL`, `across.rs`): the same start-up line,
//! then only `batches` and `quit`.
//!
//! The parent reads the child's CPU time and RSS from `/proc/<pid>/…`, so
//! what the load generator allocates never counts as server memory.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::app::{BenchApp, BenchEvent};
use super::baseline::{self, Hub};
use super::floor::{self, Floor};
use super::hosted;
use super::load::wall_ns;
use super::{BoxError, Side};

/// The text of prefilled (catch-up) events: a short chat line.
const PREFILL_TEXT: &str = "a short chat line, as phones send";

/// The environment variable that makes the bench binary a server child.
pub(crate) const CHILD_ENV: &str = "REX_BENCH_SERVER";

/// Another build of the bench whose REx children to measure
/// (`spawn_as`).
pub(crate) const REX_EXE_ENV: &str = "REX_BENCH_REX_EXE";

/// The data directory of a `disk` (or `host-disk`) child.
pub(crate) const DATA_DIR_ENV: &str = "REX_BENCH_DATA_DIR";

/// How long a child may take to start: long enough for a store of a
/// million events to load.
const START_TIMEOUT: Duration = Duration::from_secs(120);

enum Target {
    Rex {
        handle: rex::AppHandle<BenchApp>,
        speaker: rex::SessionId,
        /// The app's count of group commits.
        saves: Arc<AtomicU64>,
    },
    Baseline(Arc<Hub>),
    Floor(Arc<Floor>),
}

impl Target {
    /// Appends `burst` events in one turn of the server (REx: one
    /// `AppHandle` call), each stamped with its append time.
    async fn append(&self, burst: u64) -> Result<(), BoxError> {
        let stamp = || format!("t{}", wall_ns());
        match self {
            Target::Rex {
                handle, speaker, ..
            } => {
                let from = *speaker;
                if burst == 1 {
                    let text = stamp();
                    handle.emit(BenchEvent::Said { from, text }).await?;
                } else {
                    handle
                        .run(move |_, cx| {
                            for _ in 0..burst {
                                let text = stamp();
                                cx.emit(BenchEvent::Said { from, text });
                            }
                        })
                        .await?;
                }
            }
            Target::Baseline(hub) => {
                for _ in 0..burst {
                    hub.append(false, &stamp());
                }
                // Wait one trip through the run queue, as REx's appender
                // does (its call goes to the app actor and the answer
                // comes back), so both servers' connections run once per
                // append. (`yield_now` would defer to the next I/O poll and
                // let the baseline append many times per round.)
                tokio::spawn(async {}).await?;
            }
            Target::Floor(floor) => {
                for _ in 0..burst {
                    floor.append(format!("{{\"text\":\"{}\"}}", stamp()).as_bytes());
                }
                tokio::spawn(async {}).await?;
            }
        }
        Ok(())
    }

    async fn prefill(&self, count: u64) -> Result<u64, BoxError> {
        const BATCH: u64 = 1000;
        let mut left = count;
        while left > 0 {
            let n = left.min(BATCH);
            left -= n;
            match self {
                Target::Rex {
                    handle, speaker, ..
                } => {
                    let from = *speaker;
                    handle
                        .run(move |_, cx| {
                            for _ in 0..n {
                                let text = PREFILL_TEXT.to_owned();
                                cx.emit(BenchEvent::Said { from, text });
                            }
                        })
                        .await?;
                }
                Target::Baseline(hub) => {
                    for _ in 0..n {
                        hub.append(false, PREFILL_TEXT);
                    }
                    tokio::task::yield_now().await;
                }
                Target::Floor(_) => return Err("the floor keeps no log to prefill".into()),
            }
        }
        Ok(match self {
            Target::Rex { handle, .. } => handle.run(|_, cx| cx.head()).await?,
            Target::Baseline(hub) => hub.head(),
            Target::Floor(_) => 0,
        })
    }
}

/// The child's `main`: serves until told to quit.
pub(crate) fn main(side: &str) -> Result<(), BoxError> {
    let side = match side {
        "rex" => Side::Rex,
        "baseline" => Side::Baseline,
        "disk" => Side::Disk,
        "floor" => Side::Floor,
        hosted::HOST | hosted::HOST_DISK | hosted::HOST_REDIS => return hosted::child_main(side),
        other => {
            return Err(format!(
                "{CHILD_ENV}={other}: expected rex, baseline, disk, floor, {}, {} or {}",
                hosted::HOST,
                hosted::HOST_DISK,
                hosted::HOST_REDIS
            )
            .into())
        }
    };
    pin_server()?;
    let runtime = super::runtime()?;
    runtime.block_on(serve(side))
}

/// Pins this server child to the server CPU the parent chose, if any.
pub(crate) fn pin_server() -> Result<(), BoxError> {
    if let Some(cpu) = std::env::var(super::SERVER_CPU_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        if !super::pin(cpu) {
            return Err(format!("could not pin the server to CPU {cpu}").into());
        }
    }
    Ok(())
}

/// A REx server running in this child, and how to stop it.
struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(side: Side) -> Result<(), BoxError> {
    let started = Instant::now();
    let (addr, target, running) = match side {
        Side::Rex | Side::Disk => {
            let app = BenchApp::default();
            let saves = app.saves();
            let builder = rex::Server::builder(app)
                .retention(rex::Retention::unlimited())
                // The load generator is one trusted address sending far
                // past the per-session and per-address defaults on purpose:
                // this measures the bus, not the limits.
                .message_rate(rex::Rate::unlimited())
                .session_rate(rex::Rate::unlimited())
                .sessions_per_address(usize::MAX)
                // Fan-out opens 1,000 streams from this one address.
                .max_connections_per_address(usize::MAX);
            let server = if side == Side::Disk {
                let dir = std::env::var_os(DATA_DIR_ENV)
                    .ok_or_else(|| format!("{DATA_DIR_ENV} is not set"))?;
                builder.data_dir(dir).bind("127.0.0.1:0").await?
            } else {
                builder.bind("127.0.0.1:0").await?
            };
            let addr = server.local_addr();
            let handle = server.handle();
            let (stop, stopped) = oneshot::channel();
            let task = tokio::spawn(server.run(async {
                let _ = stopped.await;
            }));
            let speaker = rex::SessionId::new_random();
            let target = Target::Rex {
                handle,
                speaker,
                saves,
            };
            (addr, target, Some(Running { stop, task }))
        }
        Side::Baseline => {
            let (addr, hub) = baseline::start().await?;
            (addr, Target::Baseline(hub), None)
        }
        Side::Floor => {
            let (addr, floor) = floor::start().await?;
            (addr, Target::Floor(floor), None)
        }
    };
    let startup = started.elapsed();
    let (tx, mut commands) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "addr {addr} {}", startup.as_nanos())?;
    while let Some(line) = commands.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> Result<u64, BoxError> {
            Ok(words.get(i).ok_or("missing argument")?.parse()?)
        };
        match words.first().copied() {
            Some("append") => {
                let (count, rate, max_ms) = (num(1)?, num(2)?, num(3)?);
                let burst = num(4).unwrap_or(1).max(1);
                let started = Instant::now();
                let mut done = 0;
                while done < count {
                    let elapsed = started.elapsed();
                    if elapsed > Duration::from_millis(max_ms) {
                        break;
                    }
                    if rate > 0 {
                        let due = started + Duration::from_secs_f64(done as f64 / rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let n = burst.min(count - done);
                    target.append(n).await?;
                    done += n;
                }
                writeln!(out, "appended {done}")?;
            }
            Some("prefill") => {
                let head = target.prefill(num(1)?).await?;
                writeln!(out, "prefilled {head}")?;
            }
            Some("batches") => {
                let n = match &target {
                    Target::Rex { saves, .. } => saves.load(Ordering::Relaxed),
                    Target::Baseline(_) | Target::Floor(_) => 0,
                };
                writeln!(out, "batches {n}")?;
            }
            Some("quit") | None => break,
            Some(other) => return Err(format!("unknown command `{other}`").into()),
        }
    }
    // A store is closed cleanly only by a graceful stop (a restart after
    // an exit without one is a crash restart, which the bench measures
    // separately by killing the child). In memory there is nothing to
    // close: exit at once, as before.
    if let (Side::Disk, Some(running)) = (side, running) {
        let _ = running.stop.send(());
        running.task.await??;
    }
    std::process::exit(0)
}

/// The parent's view of a server child.
pub(crate) struct ServerProc {
    child: Child,
    stdin: ChildStdin,
    answers: mpsc::UnboundedReceiver<String>,
    pub(crate) addr: SocketAddr,
    pub(crate) side: Side,
    /// How long the child's `bind` took (opening and loading its store).
    pub(crate) startup: Duration,
}

impl ServerProc {
    /// An in-memory server (REx or the baseline).
    pub(crate) async fn start(side: Side) -> Result<ServerProc, BoxError> {
        ServerProc::spawn(side, None).await
    }

    /// REx with its room in the data directory `dir`.
    pub(crate) async fn start_disk(dir: &Path) -> Result<ServerProc, BoxError> {
        ServerProc::spawn(Side::Disk, Some(dir.to_owned())).await
    }

    /// A host of rooms (`hosted::HOST` or `hosted::HOST_DISK`, with its
    /// data directory); `side` is `Rex` (or `Disk`), for its names only.
    pub(crate) async fn start_hosted(
        kind: &str,
        dir: Option<&Path>,
    ) -> Result<ServerProc, BoxError> {
        let side = if dir.is_some() { Side::Disk } else { Side::Rex };
        let env = dir.map(|dir| (DATA_DIR_ENV, dir.as_os_str().to_owned()));
        ServerProc::spawn_as(kind, side, env).await
    }

    /// A host of a group sharing its rooms through the Redis at `url`
    /// (`hosted::HOST_REDIS`); `side` is `Disk`, for its names only.
    pub(crate) async fn start_group_host(url: &str) -> Result<ServerProc, BoxError> {
        let env = (hosted::REDIS_URL_ENV, url.into());
        ServerProc::spawn_as(hosted::HOST_REDIS, Side::Disk, Some(env)).await
    }

    async fn spawn(side: Side, dir: Option<PathBuf>) -> Result<ServerProc, BoxError> {
        let env = dir.map(|dir| (DATA_DIR_ENV, dir.into_os_string()));
        ServerProc::spawn_as(side.env(), side, env).await
    }

    /// Starts the bench as a `kind` child, with one more environment
    /// variable if `env` says so (a data directory, a Redis URL).
    async fn spawn_as(
        kind: &str,
        side: Side,
        env: Option<(&str, std::ffi::OsString)>,
    ) -> Result<ServerProc, BoxError> {
        // `REX_BENCH_REX_EXE`: REx's own children (in memory, on disk)
        // from another build of this bench, to put two builds of REx next
        // to the same floor and baseline (issue 19's before and after).
        let exe = match std::env::var_os(REX_EXE_ENV) {
            Some(other) if matches!(side, Side::Rex | Side::Disk) && kind == side.env() => {
                PathBuf::from(other)
            }
            _ => std::env::current_exe()?,
        };
        let mut command = Command::new(exe);
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let mut child = command
            .env(CHILD_ENV, kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, mut answers) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = tokio::time::timeout(START_TIMEOUT, answers.recv())
            .await
            .map_err(|_| format!("the server child did not start within {START_TIMEOUT:?}"))?
            .ok_or("the server child exited at start")?;
        let unexpected = || format!("unexpected first line from the child: {first}");
        let mut words = first
            .strip_prefix("addr ")
            .ok_or_else(unexpected)?
            .split_whitespace();
        let addr = words.next().ok_or_else(unexpected)?.parse()?;
        let startup_ns: u64 = words.next().ok_or_else(unexpected)?.parse()?;
        Ok(ServerProc {
            child,
            stdin,
            answers,
            addr,
            side,
            startup: Duration::from_nanos(startup_ns),
        })
    }

    /// Group commits the server has made so far (0 in memory).
    pub(crate) async fn batches(&mut self) -> Result<u64, BoxError> {
        let answer = self.command("batches", Duration::from_secs(10)).await?;
        Ok(answer
            .strip_prefix("batches ")
            .ok_or_else(|| format!("unexpected answer `{answer}`"))?
            .parse()?)
    }

    /// Stops the child as an operator would (`disk`: a graceful stop that
    /// closes the store) and waits until it has exited.
    pub(crate) async fn stop(mut self) -> Result<(), BoxError> {
        writeln!(self.stdin, "quit")?;
        self.stdin.flush()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the server child stopped with {status}").into())
                };
            }
            if Instant::now() > deadline {
                return Err("the server child did not stop within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Kills the child (SIGKILL): a crash, with no chance to close the
    /// store.
    pub(crate) fn kill(mut self) -> Result<(), BoxError> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends a command and waits (up to `timeout`) for its answer line.
    pub(crate) async fn command(
        &mut self,
        cmd: &str,
        timeout: Duration,
    ) -> Result<String, BoxError> {
        writeln!(self.stdin, "{cmd}")?;
        self.stdin.flush()?;
        match tokio::time::timeout(timeout, self.answers.recv()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(format!("the server child died during `{cmd}`").into()),
            Err(_) => Err(format!("`{cmd}` took longer than {timeout:?}").into()),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time of every thread of the child, in nanoseconds.
    pub(crate) fn cpu_ns(&self) -> u64 {
        cpu_ns(&format!("/proc/{}", self.pid()))
    }

    /// The child's resident set, in bytes.
    pub(crate) fn rss(&self) -> u64 {
        rss(&format!("/proc/{}", self.pid()))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sum of the first field of `/proc/…/task/*/schedstat` (time on CPU, ns):
/// nanosecond resolution, unlike the 10 ms ticks of `stat`'s utime+stime.
pub(crate) fn cpu_ns(proc_dir: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("{proc_dir}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// `VmRSS` of `/proc/…/status`, in bytes.
pub(crate) fn rss(proc_dir: &str) -> u64 {
    std::fs::read_to_string(format!("{proc_dir}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// `Cpus_allowed_list` of `/proc/…/status`, to show where a process runs.
pub(crate) fn cpus_allowed(proc_dir: &str) -> String {
    std::fs::read_to_string(format!("{proc_dir}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}
