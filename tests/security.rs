//! The server's defences against hostile clients and web pages, over real
//! TCP on 127.0.0.1 (`docs/protocol.md`, "Security"): slow bodies, too many
//! connections, foreign `Host`s (DNS rebinding), cross-site posts, streams
//! that never read, and the hardening headers. Each attack runs with short,
//! configured timeouts and small caps, and each test checks that a
//! legitimate client is still served while it runs.

use std::net::SocketAddr;
use std::time::Duration;

use rex::Server;
use rex_tests::{start_test_app, TestApp, TestServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long anything the test waits for may take on a busy machine.
const GENEROUS: Duration = Duration::from_secs(20);

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
    /// The server closed the connection after the response.
    closed: bool,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) -> String {
        let body = self.json();
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(body["error"], code, "{body}");
        assert!(
            self.head.contains("content-type: application/json"),
            "{}",
            self.head
        );
        body["reason"].as_str().unwrap().to_owned()
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// Sends `request` on a new connection and keeps the connection.
async fn send_raw(addr: SocketAddr, request: &str) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Reads one response (head and `Content-Length` body), then whether the
/// server closes the connection right after.
async fn read_response(stream: &mut TcpStream, waiting_for: &str) -> Raw {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            assert!(
                n > 0,
                "connection closed before a response head ({waiting_for})"
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed inside the body ({waiting_for})");
            body.extend_from_slice(&chunk[..n]);
        }
        let closed = head.contains("connection: close");
        Raw {
            status,
            head,
            body,
            closed,
        }
    };
    tokio::time::timeout(GENEROUS, read)
        .await
        .unwrap_or_else(|_| panic!("no response within {GENEROUS:?}: {waiting_for}"))
}

/// Waits until the server closes `stream` (EOF or reset), reading and
/// discarding whatever comes first.
async fn wait_closed(stream: &mut TcpStream, waiting_for: &str) {
    let mut chunk = [0u8; 64 * 1024];
    let closed = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(GENEROUS, closed)
        .await
        .unwrap_or_else(|_| panic!("server did not close within {GENEROUS:?}: {waiting_for}"));
}

/// `GET /info` as a legitimate client: answered 200 within the deadline.
async fn assert_served(addr: SocketAddr, during: &str) {
    let reply = tokio::time::timeout(GENEROUS, async {
        let mut stream = send_raw(addr, &get("/rex/v0/info", addr)).await;
        read_response(&mut stream, during).await
    })
    .await
    .unwrap_or_else(|_| {
        panic!("a legitimate GET /info was not served within {GENEROUS:?} {during}")
    });
    assert_eq!(
        reply.status, 200,
        "legitimate GET /info {during}: {reply:?}"
    );
}

/// Opens a `POST /sessions` whose body never completes, and returns once
/// the server is handling it: hyper answers `100 Continue` only when the
/// handler starts reading the body, so the connection is surely busy.
async fn hold_slow_body(addr: SocketAddr) -> TcpStream {
    let head = post_head(
        "/rex/v0/sessions",
        addr,
        "content-length: 100\r\nexpect: 100-continue\r\n",
    );
    let mut stream = send_raw(addr, &head).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    let continued = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before 100 Continue");
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(GENEROUS, continued)
        .await
        .expect("no 100 Continue for a slow body");
    assert!(
        buf.starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    stream.write_all(b"0123456789").await.unwrap();
    stream
}

fn get(path: &str, addr: SocketAddr) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n")
}

fn post_head(path: &str, addr: SocketAddr, extra: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{extra}\r\n")
}

async fn start(builder: rex::ServerBuilder<TestApp>) -> TestServer<TestApp> {
    TestServer::start(builder).await
}

// ---- 1. Slow request bodies -------------------------------------------

#[tokio::test]
async fn slow_bodies_get_408_and_are_closed_while_others_are_served() {
    let server =
        start(Server::builder(TestApp::default()).body_timeout(Duration::from_millis(300))).await;
    let addr = server.addr;
    let token = server
        .client()
        .session("legit")
        .await
        .token
        .expose()
        .to_owned();
    let attacks = [
        (
            "a session body shorter than its Content-Length",
            format!(
                "{}0123456789",
                post_head("/rex/v0/sessions", addr, "content-length: 100\r\n")
            ),
        ),
        (
            "a message body shorter than its Content-Length",
            format!(
                "{}{{\"kind\":",
                post_head(
                    "/rex/v0/messages",
                    addr,
                    &format!("authorization: Bearer {token}\r\ncontent-length: 100\r\n")
                )
            ),
        ),
        (
            "a chunked body without its last chunk",
            format!(
                "{}5\r\n{{\"nam\r\n",
                post_head("/rex/v0/sessions", addr, "transfer-encoding: chunked\r\n")
            ),
        ),
    ];
    let mut open = Vec::new();
    for (what, request) in &attacks {
        open.push((*what, send_raw(addr, request).await));
    }
    assert_served(addr, "while slow bodies are open").await;
    for (what, mut stream) in open {
        let reply = read_response(&mut stream, what).await;
        let reason = reply.assert_error(408, "request_timeout");
        assert!(reason.contains("body_timeout"), "{reason}");
        assert!(reply.closed, "{what}: the 408 should close: {}", reply.head);
        wait_closed(&mut stream, what).await;
    }
    server.stop().await;
}

// ---- 2. Connection caps -----------------------------------------------

#[tokio::test]
async fn idle_connections_make_room_for_new_clients() {
    let server = start(
        Server::builder(TestApp::default())
            .max_connections(4)
            .max_connections_per_address(100),
    )
    .await;
    let addr = server.addr;
    // The attacker holds every place with idle keep-alive connections.
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut stream = send_raw(addr, &get("/rex/v0/info", addr)).await;
        let reply = read_response(&mut stream, "an attacker's first request").await;
        assert_eq!(reply.status, 200);
        idle.push(stream);
    }
    assert_served(addr, "while idle connections hold the maximum").await;
    // The longest-idle one was closed to make room.
    wait_closed(&mut idle[0], "the longest-idle connection").await;
    server.stop().await;
}

#[tokio::test]
async fn busy_connections_at_the_cap_get_503_then_others_are_served() {
    let server = start(
        Server::builder(TestApp::default())
            .max_connections(3)
            .max_connections_per_address(100)
            .body_timeout(Duration::from_secs(2)),
    )
    .await;
    let addr = server.addr;
    let mut attackers = Vec::new();
    for _ in 0..3 {
        attackers.push(hold_slow_body(addr).await);
    }
    // Every place is busy: a newcomer is told so, in JSON.
    let mut stream = send_raw(addr, &get("/rex/v0/info", addr)).await;
    let reply = read_response(&mut stream, "a connection beyond the cap").await;
    if reply.status != 200 {
        // (200 only if the machine was so slow that a body timed out.)
        reply.assert_error(503, "unavailable");
        assert_eq!(reply.json()["retry_after"], 1);
        assert!(reply.head.contains("retry-after: 1"), "{}", reply.head);
    }
    // The body timeout frees the places; a client that retries is served.
    let served = async {
        loop {
            let mut stream = send_raw(addr, &get("/rex/v0/info", addr)).await;
            if read_response(&mut stream, "a retry").await.status == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(GENEROUS, served)
        .await
        .expect("a retrying client was not served after the slow bodies timed out");
    server.stop().await;
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_cap() {
    let server = start(
        Server::builder(TestApp::default())
            .max_connections_per_address(2)
            .body_timeout(Duration::from_secs(60)),
    )
    .await;
    let addr = server.addr;
    // Both are busy (their handlers wait for the body), so neither can be
    // closed to make room.
    let _held = [hold_slow_body(addr).await, hold_slow_body(addr).await];
    let mut third = send_raw(addr, &get("/rex/v0/info", addr)).await;
    let reply = read_response(&mut third, "a third connection from one address").await;
    let reason = reply.assert_error(429, "too_many_requests");
    assert!(reason.contains("max_connections_per_address"), "{reason}");
    server.stop().await;
}

// ---- 6. Host check (DNS rebinding) ------------------------------------

async fn info_with_host(addr: SocketAddr, host: &str) -> Raw {
    let request = format!("GET /rex/v0/info HTTP/1.1\r\nhost: {host}\r\n\r\n");
    let mut stream = send_raw(addr, &request).await;
    read_response(&mut stream, &format!("GET /info with Host {host}")).await
}

#[tokio::test]
async fn foreign_hosts_are_forbidden_and_rebind_proof_ones_are_served() {
    let server = start(Server::builder(TestApp::default()).allow_host("tv.example.org")).await;
    let addr = server.addr;
    let port = addr.port();
    for host in ["evil.example".to_owned(), format!("1.2.3.4.nip.io:{port}")] {
        let reply = info_with_host(addr, &host).await;
        let reason = reply.assert_error(403, "forbidden");
        assert!(reason.contains("allow_host"), "{reason}");
        assert!(reason.contains("--allow-host"), "{reason}");
    }
    for host in [
        addr.to_string(),
        format!("localhost:{port}"),
        format!("living-room.local:{port}"),
        format!("[::1]:{port}"),
        format!("tv.example.org:{port}"),
    ] {
        assert_eq!(info_with_host(addr, &host).await.status, 200, "Host {host}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_missing_or_repeated_host_is_a_bad_request() {
    let server = start_test_app().await;
    let addr = server.addr;
    for (what, request) in [
        ("no Host", "GET /rex/v0/info HTTP/1.1\r\n\r\n".to_owned()),
        (
            "two Hosts",
            format!("GET /rex/v0/info HTTP/1.1\r\nhost: {addr}\r\nhost: {addr}\r\n\r\n"),
        ),
    ] {
        let mut stream = send_raw(addr, &request).await;
        let reply = read_response(&mut stream, what).await;
        let reason = reply.assert_error(400, "bad_request");
        assert!(reason.contains("Host"), "{what}: {reason}");
    }
    server.stop().await;
}

#[tokio::test]
async fn allow_any_host_turns_the_check_off() {
    let server = start(Server::builder(TestApp::default()).allow_any_host()).await;
    assert_eq!(
        info_with_host(server.addr, "evil.example").await.status,
        200
    );
    server.stop().await;
}

// ---- 5. Cross-site requests -------------------------------------------

#[tokio::test]
async fn cross_site_posts_are_forbidden() {
    let server = start_test_app().await;
    let http = server.client();
    let own = format!("http://{}", server.addr);
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let reply = http
            .post("/rex/v0/sessions")
            .header(name, value)
            .json(&json!({}))
            .send()
            .await;
        let reason = reply.assert_error(403, "forbidden");
        assert!(reason.contains("another site"), "{name}: {reason}");
    }
    // The room's own pages may post.
    let reply = http
        .post("/rex/v0/sessions")
        .header("origin", &own)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_served(server.addr, "after the refusals").await;
    server.stop().await;
}

#[tokio::test]
async fn every_post_must_declare_json_even_when_empty() {
    let server = start_test_app().await;
    let http = server.client();
    let empty = http.post("/rex/v0/sessions").send().await;
    let reason = empty.assert_error(415, "unsupported_media_type");
    assert!(reason.contains("application/json"), "{reason}");
    let form = http
        .post("/rex/v0/sessions")
        .header("content-type", "application/x-www-form-urlencoded")
        .raw("name=x")
        .send()
        .await;
    form.assert_error(415, "unsupported_media_type");
    let token = http.session("p").await.token.expose().to_owned();
    let plain = http
        .post("/rex/v0/messages")
        .bearer(&token)
        .header("content-type", "text/plain")
        .raw(r#"{"kind":"noop"}"#)
        .send()
        .await;
    plain.assert_error(415, "unsupported_media_type");
    // An empty body declared as JSON is still a valid session request.
    let declared = http
        .post("/rex/v0/sessions")
        .header("content-type", "application/json")
        .send()
        .await;
    assert_eq!(declared.status, 201);
    server.stop().await;
}

#[tokio::test]
async fn no_cors_is_granted() {
    let server = start_test_app().await;
    let reply = server
        .client()
        .request(http::Method::OPTIONS, "/rex/v0/messages")
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await;
    assert!(reply.status.is_client_error(), "{:?}", reply.status);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    server.stop().await;
}

// ---- 9. Streams that never read ---------------------------------------

#[tokio::test]
async fn a_stream_that_never_reads_is_closed() {
    let server = start(
        Server::builder(TestApp::default())
            .heartbeat(Duration::from_millis(50))
            .write_timeout(Duration::from_millis(200)),
    )
    .await;
    let addr = server.addr;
    // A reader with a small receive window that then never reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = socket.connect(addr).await.unwrap();
    reader
        .write_all(get("/rex/v0/events?start=0", addr).as_bytes())
        .await
        .unwrap();
    // Far more events than the socket buffers on both sides hold.
    let http = server.client();
    let token = http.session("writer").await.token.expose().to_owned();
    for _ in 0..4 {
        let reply = http
            .message(&token, &json!({"kind": "burst", "data": 50_000}))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    assert_served(addr, "while a stream is stalled").await;
    // Much longer than the write timeout, so the server has given up
    // before this reader starts to drain; a stream that was not closed
    // would go on with heartbeats for ever and fail below.
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_closed(&mut reader, "the stalled event stream").await;
    server.stop().await;
}

#[tokio::test]
async fn a_quiet_stream_that_reads_stays_open() {
    let server = start(
        Server::builder(TestApp::default())
            .heartbeat(Duration::from_millis(20))
            .write_timeout(Duration::from_millis(100)),
    )
    .await;
    let mut stream = server.client().events("start=0", None).await;
    for _ in 0..20 {
        match stream.next_line(GENEROUS).await {
            rex_tests::Line::Heartbeat | rex_tests::Line::Event(_) => {}
            other => panic!("a reading stream ended: {other:?}"),
        }
    }
    server.stop().await;
}

// ---- Hardening headers ------------------------------------------------

#[tokio::test]
async fn pages_and_the_client_carry_hardening_headers() {
    let server = start_test_app().await;
    // A page's files: the app's policy and every header.
    for path in ["/rex/v0/client.js", "/rex/v0/client.d.ts"] {
        let reply = server.client().get(path).send().await;
        let headers = &reply.headers;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
    }
    // Data answers, errors included: nothing may load, run or frame them.
    for path in ["/rex/v0/info", "/nowhere"] {
        let reply = server.client().get(path).send().await;
        let headers = &reply.headers;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_invalid_content_security_policy_is_refused_at_bind() {
    let result = Server::builder(TestApp::default())
        .content_security_policy("default-src 'self'\n")
        .bind("127.0.0.1:0")
        .await;
    let error = result.err().expect("bind should refuse the policy");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
