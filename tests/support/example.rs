//! Example programs as a person runs them: [`example_binary`] builds one
//! once per test run, [`Lines`] reads what a program prints, waiting
//! for a line with a deadline and a message that says what was awaited,
//! and [`ExampleServer`] runs an example server with a data directory and
//! kills it with SIGKILL.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long [`Lines::until`] waits for a line: a hang guard far above
/// anything the programs take, never a timing check.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The example binary `name` (`chat-client`, `trivia`), built through
/// cargo the first time a test of this run asks for it (a no-op when it is
/// up to date, so a test never runs a binary older than the source), into
/// the target directory and profile this test was built with. cargo
/// releases its build lock while tests run, so the nested cargo does not
/// wait on the outer one.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(bin) = built.get(name) {
        return bin.clone();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // A test binary is `<target>/<profile>/deps/<name>-<hash>`.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps");
    let build = format!("cargo build -p rex-examples --example {name}");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "-p", "rex-examples", "--example", name])
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("<target>"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{build}` ({e}); run it, then this test"));
    assert!(status.success(), "`{build}` failed; run it to see why");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "`{build}` did not produce {}", bin.display());
    built.insert(name.to_owned(), bin.clone());
    bin
}

/// What a program printed, line by line, as it comes: from a child's stdout
/// and stderr (stderr lines prefixed `stderr: `), or from any channel of
/// lines (an in-process program's screen).
pub struct Lines {
    /// Who prints, for failure messages (`chat-client`, `the player`).
    who: String,
    rx: mpsc::UnboundedReceiver<String>,
    /// Everything read so far, for failure messages and for counting.
    pub seen: Vec<String>,
}

impl Lines {
    /// Reads a channel that `who` prints into.
    pub fn new(who: &str, rx: mpsc::UnboundedReceiver<String>) -> Lines {
        Lines {
            who: who.to_owned(),
            rx,
            seen: Vec::new(),
        }
    }

    /// Reads `child`'s stdout and stderr (taken from it), one thread per
    /// pipe so neither fills up; they end with the process.
    pub fn of_child(who: &str, child: &mut Child) -> Lines {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || forward(stdout, "", &tx));
        }
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || forward(stderr, "stderr: ", &tx));
        }
        Lines::new(who, rx)
    }

    /// Reads lines until one satisfies `wanted` and returns it; panics
    /// after [`PATIENCE`], or when the program stops printing, with
    /// everything it printed.
    pub async fn until(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => panic!(
                    "{} stopped before printing {what}; it printed:\n{}",
                    self.who,
                    self.seen.join("\n")
                ),
                Err(_) => panic!(
                    "{} did not print {what} within {PATIENCE:?}; it printed:\n{}",
                    self.who,
                    self.seen.join("\n")
                ),
            };
            self.seen.push(line.clone());
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Reads lines until one is exactly `exact`.
    pub async fn until_line(&mut self, exact: &str) -> String {
        self.until(&format!("`{exact}`"), |l| l == exact).await
    }

    /// Takes what has been printed and not read yet, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.rx.try_recv() {
            self.seen.push(line);
        }
    }

    /// Reads everything until the program's output ends (it exited), for
    /// up to [`PATIENCE`].
    pub async fn to_end(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                Ok(None) => return,
                Err(_) => panic!(
                    "{}'s output did not end within {PATIENCE:?}; it printed:\n{}",
                    self.who,
                    self.seen.join("\n")
                ),
            }
        }
    }
}

fn forward(pipe: impl std::io::Read, prefix: &str, tx: &mpsc::UnboundedSender<String>) {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        if tx.send(format!("{prefix}{line}")).is_err() {
            break;
        }
    }
}

/// An example server (`chat`, `trivia`, `remote-tv`) this test started
/// on loopback, without discovery (with `--data`, by [`start`]). Dropping
/// it kills it.
///
/// [`start`]: ExampleServer::start
pub struct ExampleServer {
    child: Child,
    /// What it printed so far (and prints on).
    pub lines: Lines,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// An address for a server a test kills and starts again on the same
/// port: a random loopback address (`127.x.y.z`) and a port below the
/// ephemeral range (32768 and up on Linux). With `127.0.0.1:0` the port
/// comes from the ephemeral range, and while the server is down another
/// test's outgoing connection may take it as its own local port, so the
/// restart could not bind it.
pub fn restartable_addr() -> SocketAddr {
    let ip = [
        127,
        fastrand::u8(1..=254),
        fastrand::u8(1..=254),
        fastrand::u8(2..=254),
    ];
    SocketAddr::from((ip, fastrand::u16(20_000..30_000)))
}

impl ExampleServer {
    /// Starts example `name` with `args`, `--no-discovery`, `--bind bind`
    /// and `--data data`, and waits for its `listening on` line.
    pub async fn start(name: &str, args: &[&str], data: &Path, bind: SocketAddr) -> ExampleServer {
        let bind = bind.to_string();
        let data = data.to_str().expect("a UTF-8 data path");
        let mut all = args.to_vec();
        all.extend(["--no-discovery", "--bind", &bind, "--data", data]);
        ExampleServer::spawn(name, &all).await
    }

    /// Starts example `name` with exactly `args` (which should bind
    /// loopback, and must turn discovery off: a test never multicasts on
    /// the machine's network), and waits for its `listening on` line.
    pub async fn spawn(name: &str, args: &[&str]) -> ExampleServer {
        assert!(
            args.contains(&"--no-discovery"),
            "example {name} started without --no-discovery: {args:?}"
        );
        let mut child = Command::new(example_binary(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut lines = Lines::of_child(name, &mut child);
        let line = lines
            .until("`listening on http://…`", |l| {
                l.starts_with("listening on ")
            })
            .await;
        let addr = line
            .trim_start_matches("listening on http://")
            .parse()
            .unwrap_or_else(|e| panic!("{name} printed {line:?}: {e}"));
        ExampleServer { child, lines, addr }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap: no shutdown
    /// hook runs, nothing is flushed; the data directory is as a crash
    /// leaves it. Returns the address, to start it again there.
    pub fn kill_9(mut self) -> SocketAddr {
        self.child.kill().expect("SIGKILL the example");
        let status = self.child.wait().expect("reap the example");
        assert!(
            status.code().is_none(),
            "killed by a signal, not exited: {status}"
        );
        self.lines.drain();
        self.addr
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        // Only our own child, by its handle; harmless once reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
