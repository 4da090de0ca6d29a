//! The floor: the least any framework on hyper 1.x can do for a message
//! (issue 19). `POST /rex/v0/messages` reads the body, wraps it unparsed
//! into one NDJSON line (`{"index":N,"data":<body>}`, one allocation) and
//! hands it to a `tokio::sync::broadcast` channel, then answers `200`.
//! `GET /rex/v0/events` answers a stream fed from that channel (no replay:
//! a reader gets what is sent after it subscribed). `/sessions` answers a
//! constant token. No JSON is parsed, no token checked, nothing kept.
//!
//! Next to the like-for-like baseline (`baseline.rs`, which does REx's job
//! without REx) the floor says how far REx is from the transport itself.
//! The table of REx against the floor, with issue 19's targets, is made
//! here from figures the scenarios measured in the same rounds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::broadcast;

use super::child::ServerProc;
use super::load::Readers;
use super::report::Row;
use super::BoxError;

/// Lines a slow reader may fall behind before it skips some: far more than
/// any scenario run against the floor sends at once.
const CHANNEL: usize = 1024;

/// The floor's whole state: the next index and the channel.
pub(crate) struct Floor {
    next: AtomicU64,
    lines: broadcast::Sender<Bytes>,
}

impl Floor {
    fn new() -> Arc<Floor> {
        Arc::new(Floor {
            next: AtomicU64::new(0),
            lines: broadcast::channel(CHANNEL).0,
        })
    }

    /// Wraps `data` (JSON, not parsed) into the next line and sends it to
    /// every open stream; returns its index.
    pub(crate) fn append(&self, data: &[u8]) -> u64 {
        const HEAD: &[u8] = b"{\"index\":";
        const DATA: &[u8] = b",\"data\":";
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let mut digits = itoa(index);
        let digits = digits.as_slice();
        let mut line = Vec::with_capacity(HEAD.len() + digits.len() + DATA.len() + data.len() + 2);
        line.extend_from_slice(HEAD);
        line.extend_from_slice(digits);
        line.extend_from_slice(DATA);
        line.extend_from_slice(data);
        line.extend_from_slice(b"}\n");
        // No stream open: nothing to do (the floor keeps nothing).
        let _ = self.lines.send(Bytes::from(line));
        index
    }
}

/// `n` in decimal without a `String`.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_slice(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return Digits { buf, start };
        }
    }
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A stream of every line sent after it subscribed.
fn follow(rx: broadcast::Receiver<Bytes>) -> Body {
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) => return Some((Ok(Frame::data(line)), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    StreamBody::new(frames).boxed_unsync()
}

async fn serve(req: Request<Incoming>, floor: Arc<Floor>) -> Result<Response<Body>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, "/rex/v0/messages") => match req.into_body().collect().await {
            Ok(body) => {
                let index = floor.append(&body.to_bytes());
                answer(StatusCode::OK, format!("{{\"first\":{index},\"count\":1}}"))
            }
            Err(_) => answer(StatusCode::BAD_REQUEST, "{}"),
        },
        (&Method::GET, "/rex/v0/events") => {
            let mut response = Response::new(follow(floor.lines.subscribe()));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/x-ndjson"),
            );
            response
        }
        (&Method::POST, "/rex/v0/sessions") => answer(StatusCode::CREATED, "{\"token\":\"floor\"}"),
        _ => answer(StatusCode::NOT_FOUND, "{}"),
    })
}

/// Binds 127.0.0.1:0 and serves in the background with the settings every
/// bare server of the bench uses (`baseline::serve_bare`).
pub(crate) async fn start() -> Result<(SocketAddr, Arc<Floor>), BoxError> {
    let floor = Floor::new();
    let shared = floor.clone();
    let addr = super::baseline::serve_bare(move |req| serve(req, shared.clone())).await?;
    Ok((addr, floor))
}

/// Server RSS per idle stream of the floor, in bytes, measured as
/// `scenarios::fanout` measures it for REx and the baseline: `n` streams
/// opened, one event delivered to each, then 200 ms of quiet. (The floor
/// does not replay, so its readers start at the index of that event.)
pub(crate) async fn idle_memory(n: usize) -> Result<f64, BoxError> {
    let mut server = ServerProc::start(super::Side::Floor).await?;
    let long = Duration::from_secs(120);
    server.command("append 1 0 1000", long).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rss0 = server.rss();
    let readers = Arc::new(Readers::default());
    let _tasks = super::scenarios::spawn_readers(&server, n, 1, &readers);
    let nn = n as u64;
    readers
        .wait(long, "the floor's streams to open", |r| {
            r.open.load(Ordering::Relaxed) >= nn
        })
        .await?;
    server.command("append 1 0 1000", long).await?;
    readers
        .wait(long, "the floor's first event", |r| {
            r.deliveries.load(Ordering::Relaxed) >= nn
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss1 = server.rss();
    if let Some(e) = readers.error() {
        return Err(e.into());
    }
    Ok(rss1.saturating_sub(rss0) as f64 / n as f64)
}

/// One side's ingest totals: messages, seconds, server CPU (ns).
pub(crate) type IngestTotals = (u64, f64, u64);

/// What REx is compared with the floor on, gathered by the scenarios.
#[derive(Default)]
pub(crate) struct FloorFigures {
    /// Per concurrency: `[REx, floor]`.
    pub(crate) ingest: Vec<(usize, [IngestTotals; 2])>,
    /// Streams, and `[REx, floor]` RSS per idle stream (bytes).
    pub(crate) memory: Option<(usize, [f64; 2])>,
}

/// Issue 19's table: REx against the floor, with its targets.
pub(crate) fn rows(figures: &FloorFigures) -> Vec<Row> {
    let mut rows = Vec::new();
    for (c, sides) in &figures.ingest {
        let name = format!("1 ingest c={c}");
        let rate = sides.map(|(count, secs, _)| count as f64 / secs);
        rows.push(Row::new(&name, "messages accepted", "/s", rate));
        let per_cpu = sides.map(|(count, _, cpu)| count as f64 / (cpu as f64 / 1e9));
        let per_cpu = Row::new(&name, "messages per server CPU-second", "/CPU-s", per_cpu);
        rows.push(if *c >= 16 {
            per_cpu.target_ratio(0.85)
        } else {
            per_cpu
        });
        let cpu = sides.map(|(count, _, cpu)| cpu as f64 / 1000.0 / count.max(1) as f64);
        rows.push(Row::new(&name, "server CPU per message", "µs", cpu).lower_is_better());
    }
    if let Some((n, mem)) = figures.memory {
        rows.push(
            Row::new(
                &format!("5 memory, {n} idle streams"),
                "server RSS per idle stream",
                "KiB",
                mem.map(|m| m / 1024.0),
            )
            .lower_is_better()
            .target_ratio(1.0),
        );
    }
    rows
}
