//! Bounded memory, measured: the chat example, with its default settings,
//! in a child process, is attacked from one client address for a bounded
//! time (messages as fast as the machine sends them, refused and invalid
//! messages with distinct ids, as many sessions as it can create, event
//! streams nobody reads). Its resident memory must not grow by more than
//! 64 MiB, and a legitimate phone that joined before must still be served.
//!
//! The numbers are printed (`--nocapture`) so a run shows what was sent
//! and what was refused. Linux only (it reads `/proc/<pid>/status`).

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rex_tests::example::{example_binary, Lines};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long the attack lasts: long enough for every limit to bite many
/// times, short enough for a slow machine.
const ATTACK: Duration = Duration::from_secs(10);
/// Concurrent connections sending messages.
const SENDERS: usize = 6;
/// Event streams opened and never read.
const UNREAD_STREAMS: usize = 64;
/// The allowed growth of the server's resident memory.
const MAX_GROWTH_KIB: u64 = 64 * 1024;
/// A hang guard for the legitimate phone's requests, never a timing check.
const PATIENCE: Duration = Duration::from_secs(30);

/// Kills the child when the test ends, however it ends.
struct Server {
    child: Child,
    addr: SocketAddr,
    _lines: Lines,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start() -> Server {
        let mut child = Command::new(example_binary("chat"))
            .args(["--bind", "127.0.0.1:0", "--no-discovery"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the chat example");
        let mut lines = Lines::of_child("chat", &mut child);
        let line = lines
            .until("its address", |l| l.starts_with("listening on http://"))
            .await;
        let addr = line["listening on http://".len()..].trim().parse().unwrap();
        Server {
            child,
            addr,
            _lines: lines,
        }
    }

    /// Resident memory in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }
}

/// One keep-alive connection, reopened if the server closes it.
struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, sender: None }
    }

    /// POSTs `body` to `path`; the status and body, or `None` if the
    /// connection failed (the caller just goes on).
    async fn post(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Option<(StatusCode, Bytes)> {
        if self.sender.is_none() {
            let stream = TcpStream::connect(self.addr).await.ok()?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .ok()?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut()?;
        let mut req = Request::post(path)
            .header("host", self.addr.to_string())
            .header("content-type", "application/json");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req
            .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
            .unwrap();
        let result = async {
            sender.ready().await.ok()?;
            let response = sender.send_request(req).await.ok()?;
            let status = response.status();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, body))
        }
        .await;
        if result.is_none() {
            self.sender = None;
        }
        result
    }
}

/// Answers by status, for the summary.
#[derive(Default)]
struct Tally {
    by_status: Mutex<std::collections::BTreeMap<u16, u64>>,
}

impl Tally {
    fn add(&self, status: StatusCode) {
        *self
            .by_status
            .lock()
            .unwrap()
            .entry(status.as_u16())
            .or_default() += 1;
    }

    fn get(&self, status: u16) -> u64 {
        self.by_status
            .lock()
            .unwrap()
            .get(&status)
            .copied()
            .unwrap_or(0)
    }
}

struct Attack {
    addr: SocketAddr,
    stop: AtomicBool,
    tokens: Mutex<Vec<String>>,
    tally: Tally,
    next_id: AtomicU64,
}

impl Attack {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    /// Creates sessions as fast as it can, keeping the tokens.
    async fn create_sessions(self: Arc<Self>) {
        let mut conn = Conn::new(self.addr);
        let name = json!({"name": "attacker"});
        while self.running() {
            let Some((status, body)) = conn.post("/rex/v0/sessions", None, &name).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            self.tally.add(status);
            if status == StatusCode::CREATED {
                let created: Value = serde_json::from_slice(&body).unwrap();
                let token = created["token"].as_str().unwrap().to_owned();
                self.tokens.lock().unwrap().push(token);
            }
        }
    }

    /// Sends a mix over all sessions: long `say`s, empty ones (the app
    /// refuses them), and ones of the wrong shape, each with a new id.
    async fn send_messages(self: Arc<Self>, worker: usize) {
        let mut conn = Conn::new(self.addr);
        let long = "x".repeat(500);
        let mut turn = worker;
        while self.running() {
            let token = {
                let tokens = self.tokens.lock().unwrap();
                if tokens.is_empty() {
                    None
                } else {
                    Some(tokens[turn % tokens.len()].clone())
                }
            };
            let Some(token) = token else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            turn += 1;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let data = match id % 3 {
                0 => json!({"text": long}),
                1 => json!({"text": ""}),
                _ => json!({"text": 5}),
            };
            let body = json!({"kind": "say", "data": data, "id": id});
            match conn.post("/rex/v0/messages", Some(&token), &body).await {
                Some((status, _)) => self.tally.add(status),
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }
}

/// Opens `GET /events` from the start and never reads the answer.
async fn unread_stream(addr: SocketAddr) -> Option<std::net::TcpStream> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    let request = format!("GET /rex/v0/events?start=0 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    Some(stream)
}

/// The legitimate phone: one `say` every half second, each answered.
async fn legitimate_phone(addr: SocketAddr, stop: Arc<AtomicBool>) -> (u64, Duration) {
    let mut conn = Conn::new(addr);
    let created = conn
        .post("/rex/v0/sessions", None, &json!({"name": "legit"}))
        .await
        .expect("the legitimate phone joins");
    assert_eq!(created.0, StatusCode::CREATED);
    let created: Value = serde_json::from_slice(&created.1).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let (mut sent, mut slowest) = (0, Duration::ZERO);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let body = json!({"kind": "say", "data": {"text": "still here"}, "id": sent});
        let answer = tokio::time::timeout(PATIENCE, async {
            loop {
                // A connection the server closed is not a refusal; retry.
                if let Some(answer) = conn.post("/rex/v0/messages", Some(&token), &body).await {
                    return answer;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the legitimate phone got no answer within {PATIENCE:?}"));
        assert_eq!(answer.0, StatusCode::OK, "legitimate say: {:?}", answer.1);
        sent += 1;
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    (sent, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_grow_the_server_by_more_than_64_mib() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc (this test reads a child's VmRSS)");
        return;
    }
    let server = Server::start().await;
    let addr = server.addr;
    let stop_phone = Arc::new(AtomicBool::new(false));
    let phone = tokio::spawn(legitimate_phone(addr, stop_phone.clone()));
    // Let the phone join before measuring, so its session is in the base.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = server.rss_kib();

    let attack = Arc::new(Attack {
        addr,
        stop: AtomicBool::new(false),
        tokens: Mutex::default(),
        tally: Tally::default(),
        next_id: AtomicU64::new(0),
    });
    let mut streams = Vec::new();
    for _ in 0..UNREAD_STREAMS {
        streams.extend(unread_stream(addr).await);
    }
    let mut tasks = vec![tokio::spawn(attack.clone().create_sessions())];
    for worker in 0..SENDERS {
        tasks.push(tokio::spawn(attack.clone().send_messages(worker)));
    }
    let until = Instant::now() + ATTACK;
    let mut peak = base;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(server.rss_kib());
    }
    attack.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        // A sender stuck on a request is cut off rather than waited for.
        let _ = tokio::time::timeout(PATIENCE, task).await;
    }
    peak = peak.max(server.rss_kib());
    stop_phone.store(true, Ordering::Relaxed);
    let (said, slowest) = phone.await.unwrap();

    let sessions = attack.tokens.lock().unwrap().len();
    let tally = attack.tally.by_status.lock().unwrap().clone();
    eprintln!(
        "attack of {ATTACK:?}: {sessions} sessions, answers by status {tally:?}, \
         {} unread streams; RSS {base} KiB -> peak {peak} KiB (+{} KiB); \
         the legitimate phone said {said} things, slowest answer {slowest:?}",
        streams.len(),
        peak - base,
    );
    assert!(attack.tally.get(429) > 0, "the limits refused something");
    assert!(
        attack.tally.get(200) > 0,
        "some attack messages were accepted"
    );
    assert!(said > 0, "the legitimate phone was served");
    assert!(
        peak - base <= MAX_GROWTH_KIB,
        "the server grew by {} KiB (limit {MAX_GROWTH_KIB} KiB)",
        peak - base
    );
    drop(streams);
}
