//! Support for the integration tests: a test app that exercises every shape
//! of the protocol, a server on 127.0.0.1:0 that stops cleanly, and a small
//! HTTP client on hyper for requests and event streams.
//!
//! The client is deliberately raw (one connection per request, headers and
//! bodies exactly as given) so tests can send malformed requests; the typed
//! `rex::Client` is tested separately.

#![allow(missing_docs)]

pub mod app;
pub mod browser;
pub mod cli;
pub mod example;
pub mod group;
pub mod host;
pub mod moved;
pub mod probe;
pub mod proxy;
pub mod redis;
pub mod skip;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rex::{RexApp, Server, ServerBuilder, SessionCreated};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use app::TestApp;

/// A running server; `stop` shuts it down gracefully and waits for it.
pub struct TestServer<A: RexApp> {
    pub addr: SocketAddr,
    pub handle: rex::AppHandle<A>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl<A: RexApp> TestServer<A> {
    pub async fn start(builder: ServerBuilder<A>) -> Self {
        let server = builder.bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr();
        let handle = server.handle();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            handle,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn client(&self) -> Http {
        Http { addr: self.addr }
    }

    /// Shuts down gracefully and waits until `run` returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("server did not stop within 20 s")
                .unwrap()
                .unwrap();
        }
    }
}

/// Starts the test app with default settings.
pub async fn start_test_app() -> TestServer<TestApp> {
    TestServer::start(Server::builder(TestApp::default())).await
}

/// A response read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    /// Asserts an error response: status, code, a non-empty reason and the
    /// JSON content type. Returns the reason.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        let body = self.json();
        assert_eq!(self.status.as_u16(), status, "status; body: {body}");
        assert_eq!(body["error"], code, "error code; body: {body}");
        assert_eq!(
            self.headers.get("content-type").unwrap(),
            "application/json"
        );
        let reason = body["reason"]
            .as_str()
            .expect("reason is a string")
            .to_owned();
        assert!(reason.len() > 10, "reason should be a sentence: {reason:?}");
        reason
    }
}

/// One-request-per-connection HTTP/1.1 client.
#[derive(Clone, Copy, Debug)]
pub struct Http {
    pub addr: SocketAddr,
}

/// A request under construction.
pub struct Req {
    http: Http,
    builder: http::request::Builder,
    body: Bytes,
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .raw(serde_json::to_vec(body).unwrap())
    }

    /// A body as given, with no content type added.
    pub fn raw(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    async fn open(self) -> hyper::Response<Incoming> {
        let stream = TcpStream::connect(self.http.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = self
            .builder
            .header("host", self.http.addr.to_string())
            .body(Full::new(self.body))
            .unwrap();
        sender.send_request(req).await.unwrap()
    }

    /// Sends the request and reads the whole response.
    pub async fn send(self) -> Reply {
        let response = tokio::time::timeout(Duration::from_secs(20), async {
            let response = self.open().await;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
        .await;
        response.expect("no complete response within 20 s")
    }

    /// Sends the request and returns the response as a stream to read from.
    pub async fn stream(self) -> Stream {
        let response = self.open().await;
        let (parts, body) = response.into_parts();
        Stream {
            status: parts.status,
            headers: parts.headers,
            body,
            buf: BytesMut::new(),
            ended: false,
        }
    }
}

impl Http {
    pub fn request(&self, method: Method, path: &str) -> Req {
        Req {
            http: *self,
            builder: Request::builder().method(method).uri(path),
            body: Bytes::new(),
        }
    }

    pub fn get(&self, path: &str) -> Req {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req {
        self.request(Method::POST, path)
    }

    /// Creates a session; panics unless it is created.
    pub async fn session(&self, name: &str) -> SessionCreated {
        let reply = self
            .post("/rex/v0/sessions")
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        serde_json::from_slice(&reply.body).unwrap()
    }

    /// Posts a message as `token`; returns the reply whatever its status.
    pub async fn message(&self, token: &str, body: &Value) -> Reply {
        self.post("/rex/v0/messages")
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    /// `GET /info` as JSON.
    pub async fn info(&self) -> Value {
        let reply = self.get("/rex/v0/info").send().await;
        assert_eq!(reply.status, 200);
        reply.json()
    }

    /// Opens `GET /events` with the query given (`"start=3"`), as NDJSON.
    pub async fn events(&self, query: &str, token: Option<&str>) -> Stream {
        let mut req = self.get(&format!("/rex/v0/events?{query}"));
        if let Some(token) = token {
            req = req.bearer(token);
        }
        let stream = req.stream().await;
        assert_eq!(stream.status, 200, "events status");
        stream
    }

    /// Reads every event visible to `token` from 0 up to the current head.
    pub async fn visible_log(&self, token: Option<&str>) -> Vec<Value> {
        let head = self.info().await["head"].as_u64().unwrap();
        let mut stream = self.events("start=0", token).await;
        let mut events = Vec::new();
        loop {
            let last = events
                .last()
                .map(|e: &Value| e["index"].as_u64().unwrap() + 1);
            if last.unwrap_or(0) >= head {
                break;
            }
            match stream.next_line(Duration::from_millis(300)).await {
                Line::Event(e) => events.push(e),
                Line::Heartbeat => {}
                // Only private events of others remain before the head.
                Line::Timeout | Line::End => break,
            }
        }
        events
    }
}

/// What a stream produced next.
#[derive(Debug)]
pub enum Line {
    Event(Value),
    Heartbeat,
    Timeout,
    End,
}

/// An open streaming response, read line by line (NDJSON) or frame by
/// frame (SSE).
pub struct Stream {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Incoming,
    buf: BytesMut,
    pub ended: bool,
}

impl Stream {
    /// Reads until `delimiter`, or returns `None` on timeout or end.
    async fn next_frame(&mut self, delimiter: &[u8], wait: Duration) -> Result<Bytes, Line> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(pos) = self
                .buf
                .windows(delimiter.len())
                .position(|w| w == delimiter)
            {
                let frame = self.buf.split_to(pos + delimiter.len()).freeze();
                return Ok(frame.slice(..pos));
            }
            if self.ended {
                return Err(Line::End);
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Err(Line::Timeout),
                Ok(None) => self.ended = true,
                Ok(Some(Err(e))) => panic!("stream failed: {e}"),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next NDJSON line.
    pub async fn next_line(&mut self, wait: Duration) -> Line {
        match self.next_frame(b"\n", wait).await {
            Ok(line) if line.is_empty() => Line::Heartbeat,
            Ok(line) => Line::Event(
                serde_json::from_slice(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}")),
            ),
            Err(other) => other,
        }
    }

    /// The next event, skipping heartbeats; panics on timeout or end.
    pub async fn next_event(&mut self) -> Value {
        loop {
            match self.next_line(Duration::from_secs(10)).await {
                Line::Event(e) => return e,
                Line::Heartbeat => continue,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// The next Server-Sent Event as its raw text (without the blank line).
    pub async fn next_sse(&mut self, wait: Duration) -> Result<String, Line> {
        self.next_frame(b"\n\n", wait)
            .await
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    /// Reads to the end of the stream, failing if that takes over `wait`.
    /// Returns the events read on the way.
    pub async fn read_to_end(&mut self, wait: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            match self.next_line(wait).await {
                Line::Event(e) => events.push(e),
                Line::Heartbeat => {}
                Line::End => return events,
                Line::Timeout => panic!("stream did not end within {wait:?}"),
            }
        }
    }
}

/// The `index` of an event.
pub fn index(event: &Value) -> u64 {
    event["index"].as_u64().expect("event has an index")
}
