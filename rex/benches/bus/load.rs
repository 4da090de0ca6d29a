//! The load generator's tools, shared by both servers: a latency histogram,
//! a raw HTTP/1.1 keep-alive client (pre-encoded requests, so the client
//! spends as little of its core as possible), and an event-stream reader
//! that decodes chunked NDJSON and checks every reader gets a gap-free
//! sequence.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::BoxError;

/// Sub-buckets per power of two: values are kept to within 1/128 (< 0.8 %).
const SUB: u64 = 128;

/// A log-linear histogram of nanoseconds (the idea of HdrHistogram, in
/// forty lines): exact below 128 ns, then 128 buckets per power of two.
#[derive(Clone, Debug)]
pub(crate) struct Hist {
    counts: Vec<u64>,
    n: u64,
    max: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; (SUB + 57 * SUB) as usize],
            n: 0,
            max: 0,
        }
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - u64::from(v.leading_zeros());
    let shift = msb - 7;
    (SUB + shift * SUB + ((v >> shift) - SUB)) as usize
}

/// The middle of bucket `i`.
fn value(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / SUB;
    let sub = (i - SUB) % SUB + SUB;
    (sub << shift) + ((1u64 << shift) >> 1)
}

impl Hist {
    pub(crate) fn record(&mut self, ns: u64) {
        self.counts[bucket(ns)] += 1;
        self.n += 1;
        self.max = self.max.max(ns);
    }

    pub(crate) fn merge(&mut self, other: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.n += other.n;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile (0..=1) in nanoseconds; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value(i).min(self.max);
            }
        }
        self.max
    }

    pub(crate) fn max(&self) -> u64 {
        self.max
    }
}

/// Nanoseconds since the Unix epoch: the one clock both processes share,
/// so an append time taken in the server can be compared with a receive
/// time taken in the load generator.
pub(crate) fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A read buffer that is zeroed once and reused: `data[start..end]` holds
/// bytes received and not yet consumed.
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> Self {
        ReadBuf {
            data: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads what the socket has (at least one byte); `Ok(0)` at EOF.
    async fn fill(&mut self, stream: &TcpStream) -> io::Result<usize> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let len = self.data.len();
                self.data.resize(len * 2, 0);
            }
        }
        loop {
            stream.readable().await?;
            match stream.try_read(&mut self.data[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of a header in a raw header block, if present.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    head.split(|b| *b == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|b| *b == b':')?;
        let (key, rest) = line.split_at(colon);
        key.eq_ignore_ascii_case(name.as_bytes())
            .then(|| rest[1..].trim_ascii())
    })
}

/// One keep-alive HTTP/1.1 connection that sends one request at a time.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: ReadBuf,
}

/// A response: status and body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The `Location` of a redirect (`3xx`); not looked for otherwise, so
    /// the other answers cost nothing more.
    pub(crate) location: Option<String>,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: ReadBuf::new(),
        })
    }

    /// A complete request, encoded once and sent many times.
    pub(crate) fn encode(method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(token) = token {
            req.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        let mut req = req.into_bytes();
        req.extend_from_slice(body);
        req
    }

    /// Sends `request` and reads the whole answer (a `Content-Length` body).
    pub(crate) async fn call(&mut self, request: &[u8]) -> Result<Answer, BoxError> {
        write_all(&self.stream, request).await?;
        let (status, head_len, body_len, location) = loop {
            let filled = self.buf.filled();
            if let Some(end) = find(filled, b"\r\n\r\n") {
                let head = &filled[..end];
                let status: u16 =
                    std::str::from_utf8(head.get(9..12).unwrap_or_default())?.parse()?;
                let len = match header(head, "content-length") {
                    Some(v) => std::str::from_utf8(v)?.parse::<usize>()?,
                    None => return Err("an answer without Content-Length".into()),
                };
                let location = match status {
                    300..=399 => {
                        header(head, "location").map(|v| String::from_utf8_lossy(v).into_owned())
                    }
                    _ => None,
                };
                break (status, end + 4, len, location);
            }
            if self.buf.fill(&self.stream).await? == 0 {
                return Err("the server closed the connection".into());
            }
        };
        while self.buf.filled().len() < head_len + body_len {
            if self.buf.fill(&self.stream).await? == 0 {
                return Err("the server closed the connection mid-answer".into());
            }
        }
        let body = self.buf.filled()[head_len..head_len + body_len].to_vec();
        self.buf.consume(head_len + body_len);
        Ok(Answer {
            status,
            body,
            location,
        })
    }
}

/// A closed-loop sender, as a phone is: sends `request` on its own
/// keep-alive connection to `addr`, waits for the `200`, sends again,
/// until `end`; counts and times the answers that fall between `warm_end`
/// and `end`.
pub(crate) async fn send_until(
    addr: SocketAddr,
    request: Vec<u8>,
    warm_end: tokio::time::Instant,
    end: tokio::time::Instant,
) -> Result<(u64, Hist), BoxError> {
    let mut conn = Conn::open(addr).await?;
    let (mut count, mut hist) = (0u64, Hist::default());
    loop {
        let t0 = tokio::time::Instant::now();
        if t0 >= end {
            break;
        }
        let answer = conn.call(&request).await?;
        if answer.status != 200 {
            let body = String::from_utf8_lossy(&answer.body).into_owned();
            return Err(format!("POST answered {}: {body}", answer.status).into());
        }
        let t1 = tokio::time::Instant::now();
        if t0 >= warm_end && t1 <= end {
            count += 1;
            hist.record(u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX));
        }
    }
    Ok((count, hist))
}

/// Creates a session over a fresh connection and returns its token.
pub(crate) async fn create_session(addr: SocketAddr) -> Result<String, BoxError> {
    let mut conn = Conn::open(addr).await?;
    let answer = conn
        .call(&Conn::encode("POST", "/rex/v0/sessions", None, b"{}"))
        .await?;
    if answer.status != 201 {
        return Err(format!("creating a session answered {}", answer.status).into());
    }
    let created: serde_json::Value = serde_json::from_slice(&answer.body)?;
    created["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the session answer has no token".into())
}

/// What every reader of one scenario adds to.
#[derive(Default)]
pub(crate) struct Readers {
    /// Append → receive latency of events that carry an append time.
    pub(crate) hist: Mutex<Hist>,
    pub(crate) deliveries: AtomicU64,
    /// NDJSON bytes received (without chunk framing).
    pub(crate) bytes: AtomicU64,
    /// Readers whose response headers arrived.
    pub(crate) open: AtomicU64,
    /// Readers whose stream the server ended (cleanly): a waiter that
    /// expects more events can stop waiting.
    pub(crate) ended: AtomicU64,
    /// The first thing that went wrong (a lost or repeated event, a cut).
    pub(crate) error: Mutex<Option<String>>,
    /// Woken after every batch a reader takes in.
    pub(crate) progress: Notify,
}

impl Readers {
    pub(crate) fn fail(&self, what: String) {
        let mut error = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        error.get_or_insert(what);
        self.progress.notify_waiters();
    }

    pub(crate) fn error(&self) -> Option<String> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn take_hist(&self) -> Hist {
        std::mem::take(&mut *self.hist.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits until `done` holds for these readers, an error, or `timeout`.
    pub(crate) async fn wait(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Readers) -> bool,
    ) -> Result<(), BoxError> {
        let wait = async {
            loop {
                let notified = self.progress.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(e) = self.error() {
                    return Err(e);
                }
                if done(self) {
                    return Ok(());
                }
                notified.await;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(format!("timed out after {timeout:?} waiting for {what}").into()),
        }
    }
}

/// The `index` of an NDJSON event line (it is the first field).
fn line_index(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"index\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// The append time carried by a bench event: its `text` (the last field)
/// is `t<nanoseconds since the Unix epoch>`.
fn line_stamp(line: &[u8]) -> Option<u64> {
    let rest = line.strip_suffix(b"\"}}")?;
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let (before, number) = rest.split_at(rest.len() - digits);
    if digits == 0 || !before.ends_with(b"\"text\":\"t") {
        return None;
    }
    std::str::from_utf8(number).ok()?.parse().ok()
}

/// Decodes a chunked body into NDJSON lines.
#[derive(Default)]
struct Chunks {
    /// Bytes left in the current chunk; `None` while reading a size line.
    left: Option<usize>,
    /// The chunk's closing CRLF is still to come.
    crlf: bool,
    /// A line cut by a chunk or read boundary.
    partial: Vec<u8>,
}

/// Follows `GET /rex/v0/events?start=…` until the server closes it or the
/// task is aborted, checking every event arrives once and in order.
pub(crate) async fn read_stream(
    addr: SocketAddr,
    start: u64,
    readers: Arc<Readers>,
) -> Result<(), BoxError> {
    let path = format!("/rex/v0/events?start={start}");
    let request = Conn::encode("GET", &path, None, b"");
    read_stream_with(addr, request, start, readers).await
}

/// Like [`read_stream`], for any request that opens a stream starting at
/// `start` (a hosted room's `/r/<code>/rex/v0/events`, with a token).
pub(crate) async fn read_stream_with(
    addr: SocketAddr,
    request: Vec<u8>,
    start: u64,
    readers: Arc<Readers>,
) -> Result<(), BoxError> {
    let result = follow(addr, &request, start, &readers).await;
    match &result {
        Ok(()) => {
            readers.ended.fetch_add(1, Ordering::Relaxed);
            readers.progress.notify_waiters();
        }
        Err(e) => readers.fail(format!("a reader failed: {e}")),
    }
    result
}

async fn follow(
    addr: SocketAddr,
    request: &[u8],
    start: u64,
    readers: &Readers,
) -> Result<(), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    write_all(&stream, request).await?;
    let mut buf = ReadBuf::new();
    loop {
        let filled = buf.filled();
        if let Some(end) = find(filled, b"\r\n\r\n") {
            if filled.get(9..12) != Some(b"200") {
                return Err(format!(
                    "the stream answered {}",
                    String::from_utf8_lossy(&filled[..end])
                )
                .into());
            }
            buf.consume(end + 4);
            break;
        }
        if buf.fill(&stream).await? == 0 {
            return Err("the server closed the stream before answering".into());
        }
    }
    readers.open.fetch_add(1, Ordering::Relaxed);
    readers.progress.notify_waiters();
    let mut chunks = Chunks::default();
    let mut next = start;
    // What follows the headers may hold whole chunks already; after that,
    // whatever the decoder leaves is an incomplete piece: read more.
    let mut decode_first = !buf.filled().is_empty();
    loop {
        if !std::mem::take(&mut decode_first) && buf.fill(&stream).await? == 0 {
            return Ok(());
        }
        let now = wall_ns();
        let (mut count, mut bytes) = (0u64, 0u64);
        let mut stamps: Vec<u64> = Vec::new();
        let mut on_line = |line: &[u8]| -> Result<(), BoxError> {
            if line.is_empty() {
                return Ok(()); // heartbeat
            }
            let index = line_index(line).ok_or("an event line without an index")?;
            if index != next {
                return Err(format!("expected event {next}, got {index}").into());
            }
            next += 1;
            count += 1;
            bytes += line.len() as u64 + 1;
            if let Some(t) = line_stamp(line) {
                stamps.push(now.saturating_sub(t));
            }
            Ok(())
        };
        // Decode every complete piece of the buffer.
        loop {
            let filled = buf.filled();
            match chunks.left {
                None if chunks.crlf => {
                    if filled.len() < 2 {
                        break;
                    }
                    buf.consume(2);
                    chunks.crlf = false;
                }
                None => {
                    let Some(eol) = find(filled, b"\r\n") else {
                        break;
                    };
                    let size = std::str::from_utf8(&filled[..eol])?;
                    let size = usize::from_str_radix(size.split(';').next().unwrap_or(""), 16)?;
                    buf.consume(eol + 2);
                    if size == 0 {
                        return Ok(()); // the server ended the stream
                    }
                    chunks.left = Some(size);
                }
                Some(left) => {
                    if filled.is_empty() {
                        break;
                    }
                    let take = left.min(filled.len());
                    let mut data = &filled[..take];
                    while let Some(nl) = data.iter().position(|b| *b == b'\n') {
                        if chunks.partial.is_empty() {
                            on_line(&data[..nl])?;
                        } else {
                            chunks.partial.extend_from_slice(&data[..nl]);
                            let line = std::mem::take(&mut chunks.partial);
                            on_line(&line)?;
                        }
                        data = &data[nl + 1..];
                    }
                    chunks.partial.extend_from_slice(data);
                    buf.consume(take);
                    if left == take {
                        chunks.left = None;
                        chunks.crlf = true;
                    } else {
                        chunks.left = Some(left - take);
                    }
                }
            }
        }
        if !stamps.is_empty() {
            let mut hist = readers.hist.lock().unwrap_or_else(PoisonError::into_inner);
            for ns in stamps {
                hist.record(ns);
            }
        }
        if count > 0 {
            readers.bytes.fetch_add(bytes, Ordering::Relaxed);
            readers.deliveries.fetch_add(count, Ordering::Relaxed);
            readers.progress.notify_waiters();
        }
    }
}
