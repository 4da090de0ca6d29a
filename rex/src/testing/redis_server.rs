//! A real `redis-server` for tests: started on a free loopback port in a
//! temporary directory of its own, stopped (and the directory removed)
//! when dropped.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the test Redis syncs its append-only file: what a Redis deployment
/// chooses, and what a durability test must pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisFsync {
    /// `appendfsync always`: a write is on disk before Redis answers it.
    Always,
    /// `appendfsync everysec`: Redis's default with AOF on.
    EverySecond,
}

/// A `redis-server` process of a test's own: started on a free loopback
/// port in a temporary directory of its own, stopped (and the directory
/// removed) when dropped.
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// let redis = rex::testing::RedisServer::start()?;
/// println!("Redis for this test: {}", redis.url());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    addr: SocketAddr,
    dir: PathBuf,
}

/// Where `redis-server` is: `$REX_REDIS_SERVER`, or the first on `PATH`
/// (Debian's package puts it in `/usr/bin`).
pub fn redis_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("REX_REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

impl RedisServer {
    /// Starts one with `appendfsync always`.
    pub fn start() -> io::Result<RedisServer> {
        RedisServer::start_with(RedisFsync::Always)
    }

    /// Starts one that syncs its append-only file as `fsync` says. Fails,
    /// saying why, when `redis-server` is not installed or does not answer
    /// `PING` within 20 seconds.
    pub fn start_with(fsync: RedisFsync) -> io::Result<RedisServer> {
        let binary = redis_server_binary().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "redis-server is not installed (Debian: apt-get install redis-server; \
                 or set REX_REDIS_SERVER to its path)",
            )
        })?;
        let dir = std::env::temp_dir().join(format!(
            "rex-redis-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        // A free port can be taken by someone else between our probe and
        // Redis's bind: try a few.
        let mut last = None;
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let mut server = RedisServer {
                child: Some(spawn(&binary, &dir, port, fsync)?),
                addr,
                dir: dir.clone(),
            };
            match server.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    server.stop();
                    // Keep the directory for the next try.
                    server.dir = PathBuf::new();
                    last = Some(e);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_ready(&mut self, within: Duration) -> io::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(child) = &mut self.child {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!(
                        "redis-server exited ({status}) at start: {}",
                        log_tail(&self.dir)
                    )));
                }
            }
            if ping(self.addr).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "redis-server did not answer PING on {} within {within:?}: {}",
                        self.addr,
                        log_tail(&self.dir)
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn spawn(binary: &Path, dir: &Path, port: u16, fsync: RedisFsync) -> io::Result<Child> {
    let fsync = match fsync {
        RedisFsync::Always => "always",
        RedisFsync::EverySecond => "everysec",
    };
    Command::new(binary)
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--protected-mode", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--appendonly", "yes", "--appendfsync", fsync])
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(["--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", binary.display())))
}

fn ping(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(io::Error::other("not PONG (still loading?)"))
    }
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().rev().take(5).collect();
    if lines.is_empty() {
        "its log is empty".to_owned()
    } else {
        format!(
            "its log ends: {}",
            lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
    }
}
