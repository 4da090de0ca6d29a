//! A "wrong host" of a room group (`docs/protocol.md` §16) on 127.0.0.1,
//! for tests of clients that follow `307 moved`: a small real HTTP server
//! that answers every request under `/r/…` with `307 Temporary Redirect`,
//! a `Location` and the `{"error":"moved",…}` body, the way a host that is
//! not the room's owner does. It records every request it gets.
//!
//! By default the `Location` is the owner's base URL followed by the
//! request's path and query ([`Redirector::point_at`]); a test that needs
//! another one (a Location out of the room) sets a rule of its own
//! ([`Redirector::rewrite`]), and one that needs a host that is shutting
//! down makes it answer `503` ([`Redirector::unavailable`]).
//! `GET /rex/v0/host` answers a host's description whose `peers` a test
//! sets ([`Redirector::set_peers`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};

/// The `Location` for a request's path and query (`/r/KXQF/rex/v0/info`).
type Rule = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// One request the redirector got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `GET`, `POST`.
    pub method: String,
    /// The path and query, as sent (`/r/KXQF/rex/v0/events?start=3`).
    pub path: String,
    /// Whether it carried an `Authorization` header.
    pub authorized: bool,
}

#[derive(Default)]
struct State {
    /// `None`: answer `503 unavailable`.
    rule: Option<Rule>,
    peers: Vec<String>,
    seen: Vec<Seen>,
}

/// A running redirector; it stops (its port refusing connections, its
/// open connections closed) on [`Redirector::stop`] or when dropped.
pub struct Redirector {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Told after each request is recorded.
    seen: Arc<Notify>,
    accept: AbortHandle,
}

impl Redirector {
    /// Listens on 127.0.0.1:0 and sends every room request to `owner`
    /// (a base URL without a path, `http://127.0.0.1:7700`).
    pub async fn start(owner: &str) -> Redirector {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("redirector: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("redirector: local address");
        let state = Arc::new(Mutex::new(State::default()));
        let seen = Arc::new(Notify::new());
        let accept =
            tokio::spawn(accept_loop(listener, state.clone(), seen.clone())).abort_handle();
        let redirector = Redirector {
            addr,
            state,
            seen,
            accept,
        };
        redirector.point_at(owner);
        redirector
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on room requests go to `owner`: `Location` is `owner`
    /// followed by the request's path and query.
    pub fn point_at(&self, owner: &str) {
        let owner = owner.trim_end_matches('/').to_owned();
        self.rewrite(move |path| format!("{owner}{path}"));
    }

    /// From now on `Location` is `rule(path and query)`.
    pub fn rewrite(&self, rule: impl Fn(&str) -> String + Send + Sync + 'static) {
        self.state.lock().unwrap().rule = Some(Arc::new(rule));
    }

    /// From now on every room request answers `503 unavailable`, as a
    /// host that is shutting down does.
    pub fn unavailable(&self) {
        self.state.lock().unwrap().rule = None;
    }

    /// The `peers` its `GET /rex/v0/host` lists.
    pub fn set_peers(&self, peers: Vec<String>) {
        self.state.lock().unwrap().peers = peers;
    }

    /// Every request it got so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The paths of the requests it got so far, as `"GET /r/…"`.
    pub fn seen_paths(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }

    /// Waits until it has got a request `which` accepts, and returns it;
    /// panics after 30 s saying what it waited for.
    pub async fn wait_for(&self, what: &str, which: impl Fn(&Seen) -> bool) -> Seen {
        let wait = async {
            loop {
                let notified = self.seen.notified();
                if let Some(found) = self.seen().into_iter().find(&which) {
                    return found;
                }
                notified.await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| {
                panic!("timed out after 30 s waiting for the redirector to get {what}")
            })
    }

    /// Stops listening and closes every open connection: from now on its
    /// port refuses connections, as a host that died.
    pub fn stop(&self) {
        // Dropping the accept task drops its listener and its `JoinSet`,
        // which aborts every connection task.
        self.accept.abort();
    }
}

impl Drop for Redirector {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>, seen: Arc<Notify>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (state, seen) = (state.clone(), seen.clone());
        connections.spawn(async move {
            let service = service_fn(move |req| {
                let answer = answer(&state, &req);
                seen.notify_waiters();
                async move { Ok::<_, Infallible>(answer) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap the connections that are done.
        while connections.try_join_next().is_some() {}
    }
}

fn answer(state: &Mutex<State>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let mut state = state.lock().unwrap();
    state.seen.push(Seen {
        method: req.method().to_string(),
        path: path.clone(),
        authorized: req.headers().contains_key(http::header::AUTHORIZATION),
    });
    let json = |status: StatusCode, body: serde_json::Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    if req.uri().path() == "/rex/v0/host" {
        return json(
            StatusCode::OK,
            json!({
                "app": "test", "name": "Wrong host", "protocol": 0, "rooms": 0,
                "max_rooms": 1000, "peers": state.peers,
            }),
        );
    }
    if !path.starts_with("/r/") {
        return json(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "reason": "the redirector serves only rooms"}),
        );
    }
    let Some(rule) = &state.rule else {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "unavailable", "reason": "this host is shutting down; try again"}),
        );
    };
    let location = rule(&path);
    let mut moved = json(
        StatusCode::TEMPORARY_REDIRECT,
        json!({"error": "moved", "reason": format!("the room is served by another host; follow the Location header ({location})")}),
    );
    moved
        .headers_mut()
        .insert("location", location.parse().unwrap());
    moved
}
