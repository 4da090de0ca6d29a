//! Browser tests: a Node script (in `tests/browser/`, using
//! `playwright-core`) drives headless Chromium against a server the Rust
//! test started on 127.0.0.1.
//!
//! - [`skip_reason`] / [`should_skip`]: the tools a browser test needs, and
//!   the skip rule: without them the test writes `SKIPPED <test>: <reason>`
//!   to stderr and passes, unless `REX_REQUIRE_BROWSER=1` or
//!   `REX_REQUIRE_ALL=1` (as `.ci/run` sets), when it fails;
//! - [`run_node`]: runs `node <script>` with environment variables and a
//!   hard time limit, killing it (and the browser it started) on overrun;
//! - [`shots_dir`]: where screenshots go, `<target dir>/browser/`;
//! - [`control_server`]: a tiny HTTP endpoint the script calls to make the
//!   Rust side act (cut a proxy, send as a typed client).

use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The Chromium the scripts launch (Debian's `chromium` package); never a
/// browser Playwright downloads.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// `tests/browser/`: the scripts, `package.json` and `node_modules`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Why Node cannot run the tests' scripts here (missing, or older than
/// 20), or `None` if it can.
pub fn node_missing() -> Option<String> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            (major < 20).then(|| format!("node {version} is too old (20 or later needed)"))
        }
        _ => Some("node not found".to_owned()),
    }
}

/// Why a browser test cannot run here (no Node 20+, no Chromium, no
/// `node_modules`), or `None` if it can.
pub fn skip_reason() -> Option<String> {
    if let Some(reason) = node_missing() {
        return Some(reason);
    }
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} not found (apt-get install chromium)"));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some(
            "tests/browser/node_modules not found (npm ci --prefix tests/browser)".to_owned(),
        );
    }
    None
}

/// The skip rule: `true` (after writing `SKIPPED <test>: <reason>` to
/// stderr, where a normal run shows it) if the tools are missing and the
/// test should pass without running. Panics instead when skipping is
/// forbidden: `REX_REQUIRE_BROWSER=1` or `REX_REQUIRE_ALL=1` (as `.ci/run`
/// sets); see [`crate::skip`].
#[track_caller]
pub fn should_skip() -> bool {
    let Some(reason) = skip_reason() else {
        return false;
    };
    crate::skip::skip(&reason, Some("REX_REQUIRE_BROWSER"));
    true
}

/// Where screenshots go: `<target dir>/browser/` (created).
pub fn shots_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                // Relative to the workspace root, where cargo runs.
                Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
            }
        }
        // A test binary is `<target>/<profile>/deps/<name>-<hash>`.
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_owned()))
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")),
    };
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The screenshot folder, emptied of one test's earlier pictures (the
/// `.png` files whose names `mine` accepts), so only this run's remain.
/// Browser tests run side by side: each clears only its own.
pub fn fresh_shots(mine: impl Fn(&str) -> bool) -> PathBuf {
    let shots = shots_dir();
    for entry in std::fs::read_dir(&shots).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".png") && mine(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    shots
}

/// How a Node script (or any command run by [`run_bounded`]) ended.
#[derive(Debug)]
pub struct NodeRun {
    /// Its exit status; `None` if it ran over the limit and was killed.
    pub status: Option<ExitStatus>,
    /// Everything it printed.
    pub stdout: String,
    /// Everything it printed to stderr.
    pub stderr: String,
}

impl NodeRun {
    /// Prints the script's output (so `--nocapture` shows it) and panics
    /// unless it exited with success within the limit.
    #[track_caller]
    pub fn assert_success(&self, script: &str, limit: Duration) {
        print!("{}", self.stdout);
        eprint!("{}", self.stderr);
        match self.status {
            None => panic!("{script} ran over {limit:?} and was killed"),
            Some(status) => assert!(status.success(), "{script} failed: {status}"),
        }
    }
}

/// Runs `node <script>` (a path under [`browser_dir`], where it finds
/// `node_modules`) with `env`, and waits for it on a blocking thread. Past
/// `limit` it kills the script's whole process group, so a browser it
/// started goes too.
pub async fn run_node(script: &str, env: Vec<(&'static str, String)>, limit: Duration) -> NodeRun {
    let script = script.to_owned();
    tokio::task::spawn_blocking(move || run_node_blocking(&script, &env, limit))
        .await
        .expect("the thread running node panicked")
}

fn run_node_blocking(script: &str, env: &[(&'static str, String)], limit: Duration) -> NodeRun {
    let mut command = Command::new("node");
    command
        .arg(script)
        .current_dir(browser_dir())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    run_bounded(command, limit)
}

/// Runs `command` with its output captured, for at most `limit`: past it,
/// the command's whole process group is killed (so a browser it started
/// goes too) and the status is `None`. Blocks the calling thread.
pub fn run_bounded(mut command: Command, limit: Duration) -> NodeRun {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            // The group is the child and everything it started.
            #[cfg(unix)]
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    NodeRun {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Serves a tiny HTTP endpoint on 127.0.0.1 for a browser script: each
/// request's line (`"POST /cut"`, without the HTTP version) goes to
/// `handle`, whose `(status, JSON body)` is the answer. Request bodies are
/// not read: put parameters in the path or query. The task stops when
/// the returned handle is aborted (or the runtime ends).
pub async fn control_server<F, Fut>(handle: F) -> (SocketAddr, JoinHandle<()>)
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = (u16, String)> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind control");
    let addr = listener.local_addr().expect("control address");
    let task = tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(30), answer(conn, handle)).await;
            });
        }
    });
    (addr, task)
}

async fn answer<F, Fut>(mut conn: TcpStream, handle: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = (u16, String)>,
{
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default();
    let request = line.rsplit_once(' ').map_or(line, |(request, _)| request);
    let (status, body) = handle(request.to_owned()).await;
    let response = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}
