//! A stand-in for a host of rooms (`docs/protocol.md`, hosted rooms), for
//! testing clients before the real host exists: it answers the host's own
//! endpoints (`GET /rex/v0/host`, `POST /rex/v0/rooms`) from a script, and
//! serves each room `/r/CODE/…` by forwarding to a single-room server with
//! the room's path stripped, the way a reverse proxy does.
//!
//! A room can be ended ([`FakeHost::end`]): its open connections are cut
//! and it answers `410 gone` without `epoch`/`oldest`/`head`, which
//! clients must take as final.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rex::proto::{RoomCode, RoomCreated};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::AbortHandle;

type Body = BoxBody<Bytes, hyper::Error>;

#[derive(Clone, Copy, Debug)]
enum Room {
    Open(SocketAddr),
    Ended,
}

#[derive(Debug)]
struct State {
    app: String,
    name: String,
    max_rooms: u64,
    rooms: HashMap<RoomCode, Room>,
    /// What the next `POST /rooms` opens: a code and the server behind it.
    spare: VecDeque<(RoomCode, SocketAddr)>,
    /// The answer to the next `POST /rooms` instead of opening one.
    refusal: Option<(StatusCode, Value, Option<u64>)>,
    /// The bodies of the `POST /rooms` requests, as received.
    created_with: Vec<Value>,
    /// The paths (on the room's server) of the requests forwarded.
    forwarded: Vec<String>,
}

/// A stand-in host on 127.0.0.1; it stops when dropped.
pub struct FakeHost {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Bumped by `end`: every open connection closes.
    cut: watch::Sender<u64>,
    accept: AbortHandle,
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut.send_modify(|g| *g += 1);
    }
}

impl FakeHost {
    /// A host of `app` named `name`, with no room yet.
    pub async fn start(app: &str, name: &str) -> FakeHost {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            app: app.to_owned(),
            name: name.to_owned(),
            max_rooms: 100,
            rooms: HashMap::new(),
            spare: VecDeque::new(),
            refusal: None,
            created_with: Vec::new(),
            forwarded: Vec::new(),
        }));
        let (cut, _) = watch::channel(0);
        let accept = tokio::spawn(accept_loop(listener, state.clone(), cut.clone())).abort_handle();
        FakeHost {
            addr,
            state,
            cut,
            accept,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The host's base URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Room `code`, open now, served by the single-room server at `target`.
    pub fn add_room(&self, code: &str, target: SocketAddr) {
        let code = code.parse().unwrap();
        self.state
            .lock()
            .unwrap()
            .rooms
            .insert(code, Room::Open(target));
    }

    /// The next `POST /rex/v0/rooms` opens room `code`, served by `target`.
    pub fn offer_room(&self, code: &str, target: SocketAddr) {
        let code = code.parse().unwrap();
        self.state.lock().unwrap().spare.push_back((code, target));
    }

    /// The next `POST /rex/v0/rooms` is answered with `status` and `body`
    /// (and `Retry-After`, if given) instead of opening a room.
    pub fn refuse_next_room(&self, status: u16, body: Value, retry_after: Option<u64>) {
        self.state.lock().unwrap().refusal =
            Some((StatusCode::from_u16(status).unwrap(), body, retry_after));
    }

    /// The bodies `POST /rex/v0/rooms` received, in order.
    pub fn created_with(&self) -> Vec<Value> {
        self.state.lock().unwrap().created_with.clone()
    }

    /// The paths the rooms' servers were asked for, in order, without
    /// the rooms' prefixes or queries (`/rex/v0/events`).
    pub fn forwarded(&self) -> Vec<String> {
        self.state.lock().unwrap().forwarded.clone()
    }

    /// Ends room `code`: open connections are cut, and from now on the
    /// room answers `410 gone` with no bounds.
    pub fn end(&self, code: &str) {
        let code = code.parse().unwrap();
        self.state.lock().unwrap().rooms.insert(code, Room::Ended);
        self.cut.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>, cut: watch::Sender<u64>) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (state, client) = (state.clone(), client.clone());
        let mut cut = cut.subscribe();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (state, client) = (state.clone(), client.clone());
                async move { Ok::<_, Infallible>(handle(req, &state, &client).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = cut.changed() => {}
            }
        });
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(
            Full::new(Bytes::from(body.to_string()))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap()
}

fn error(status: StatusCode, code: &str, reason: &str) -> Response<Body> {
    json_response(status, &json!({"error": code, "reason": reason}))
}

async fn handle(
    req: Request<Incoming>,
    state: &Mutex<State>,
    client: &Client<HttpConnector, Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/rex/v0/host" => {
            let s = state.lock().unwrap();
            let open = s
                .rooms
                .values()
                .filter(|r| matches!(r, Room::Open(_)))
                .count();
            return json_response(
                StatusCode::OK,
                &json!({"app": s.app, "name": s.name, "protocol": 0, "rooms": open, "max_rooms": s.max_rooms}),
            );
        }
        "/rex/v0/rooms" => return create(req, state).await,
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/r/") else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such path on this host",
        );
    };
    let (code, rest) = match rest.char_indices().nth(4) {
        Some((at, _)) => rest.split_at(at),
        None => (rest, ""),
    };
    let room = code
        .parse::<RoomCode>()
        .ok()
        .filter(|_| rest.is_empty() || rest.starts_with('/'))
        .and_then(|code| state.lock().unwrap().rooms.get(&code).copied());
    match room {
        None => error(StatusCode::NOT_FOUND, "not_found", "no room with this code"),
        Some(Room::Ended) => error(StatusCode::GONE, "gone", "this room has ended"),
        Some(Room::Open(target)) => {
            let path = if rest.is_empty() { "/" } else { rest };
            state.lock().unwrap().forwarded.push(path.to_owned());
            forward(req, target, path, client).await
        }
    }
}

async fn create(req: Request<Incoming>, state: &Mutex<State>) -> Response<Body> {
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return error(StatusCode::BAD_REQUEST, "bad_request", "body cut off"),
    };
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(_) => return error(StatusCode::BAD_REQUEST, "bad_request", "not JSON"),
        }
    };
    let mut s = state.lock().unwrap();
    s.created_with.push(body.clone());
    if let Some((status, refusal, retry_after)) = s.refusal.take() {
        let mut response = json_response(status, &refusal);
        if let Some(wait) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, wait.into());
        }
        return response;
    }
    let Some((code, target)) = s.spare.pop_front() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this host runs as many rooms as it may",
        );
    };
    s.rooms.insert(code, Room::Open(target));
    let created = RoomCreated {
        room: code,
        path: code.path(),
        app: s.app.clone(),
        name: body["name"].as_str().unwrap_or(&s.name).to_owned(),
    };
    json_response(StatusCode::CREATED, &serde_json::to_value(created).unwrap())
}

/// The request, with the room's path stripped, to the room's server; its
/// answer streamed back as it comes.
async fn forward(
    req: Request<Incoming>,
    target: SocketAddr,
    path: &str,
    client: &Client<HttpConnector, Incoming>,
) -> Response<Body> {
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let uri: Uri = format!("http://{target}{path}{query}").parse().unwrap();
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    parts
        .headers
        .insert(header::HOST, target.to_string().parse().unwrap());
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the room's server did not answer",
        ),
    }
}
