//! The baseline: the smallest hyper 1.x server that does the same job as
//! REx. `POST /rex/v0/messages` parses the same JSON body, encodes the same
//! NDJSON line and appends it to a `Vec`; `GET /rex/v0/events` replays the
//! `Vec` from `start` and then gets every new line through its own channel
//! (one write per event per reader). `/sessions` and `/info` give constant
//! answers so the typed `rex::Client` can talk to it too; there is no
//! session table, dedupe, actor or private events.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::BoxError;

pub(crate) struct Hub {
    started: Instant,
    /// The uuid written as `from` (and `origin` of posted messages), so the
    /// lines are byte for byte as long as REx's.
    speaker: String,
    epoch: rex::Epoch,
    tokens: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    lines: Vec<Bytes>,
    /// One channel per open stream that has caught up.
    subs: Vec<mpsc::UnboundedSender<Bytes>>,
}

#[derive(Deserialize)]
struct Post {
    kind: String,
    data: Say,
}

#[derive(Deserialize)]
struct Say {
    text: String,
}

#[derive(Serialize)]
struct Line<'a> {
    index: u64,
    time: u64,
    kind: &'a str,
    origin: Option<&'a str>,
    data: LineData<'a>,
}

#[derive(Serialize)]
struct LineData<'a> {
    from: &'a str,
    text: &'a str,
}

impl Hub {
    pub(crate) fn new() -> Arc<Hub> {
        Arc::new(Hub {
            started: Instant::now(),
            speaker: rex::SessionId::new_random().to_string(),
            epoch: rex::Epoch::new_random(),
            tokens: AtomicU64::new(0),
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Encodes one `said` line, appends it and sends it to every stream.
    pub(crate) fn append(&self, posted: bool, text: &str) -> u64 {
        let time = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut state = self.lock();
        let index = state.lines.len() as u64;
        let line = Line {
            index,
            time,
            kind: "said",
            origin: posted.then_some(self.speaker.as_str()),
            data: LineData {
                from: &self.speaker,
                text,
            },
        };
        let mut buf = Vec::with_capacity(160);
        if serde_json::to_writer(&mut buf, &line).is_err() {
            buf.clear();
        }
        buf.push(b'\n');
        let line = Bytes::from(buf);
        state.subs.retain(|tx| tx.send(line.clone()).is_ok());
        state.lines.push(line);
        index
    }

    pub(crate) fn head(&self) -> u64 {
        self.lock().lines.len() as u64
    }
}

/// The body of one event stream: replays from a cursor, then follows its
/// channel.
struct Follow {
    hub: Arc<Hub>,
    cursor: usize,
    rx: Option<mpsc::UnboundedReceiver<Bytes>>,
}

impl http_body::Body for Follow {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.rx.is_none() {
            let mut state = this.hub.lock();
            if let Some(line) = state.lines.get(this.cursor) {
                this.cursor += 1;
                return Poll::Ready(Some(Ok(Frame::data(line.clone()))));
            }
            let (tx, rx) = mpsc::unbounded_channel();
            state.subs.push(tx);
            this.rx = Some(rx);
        }
        match this.rx.as_mut().map(|rx| rx.poll_recv(cx)) {
            Some(Poll::Ready(Some(line))) => Poll::Ready(Some(Ok(Frame::data(line)))),
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(None)) | None => Poll::Ready(None),
        }
    }
}

type Body = Either<Full<Bytes>, Follow>;

fn answer(status: StatusCode, json: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(json))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn serve(req: Request<Incoming>, hub: Arc<Hub>) -> Result<Response<Body>, Infallible> {
    let bad = |reason: &str| {
        answer(
            StatusCode::BAD_REQUEST,
            format!("{{\"error\":\"bad_request\",\"reason\":\"{reason}\"}}").into_bytes(),
        )
    };
    let response = match (req.method(), req.uri().path()) {
        (&Method::POST, "/rex/v0/messages") => {
            if !req.headers().contains_key(hyper::header::AUTHORIZATION) {
                return Ok(answer(StatusCode::UNAUTHORIZED, b"{}".to_vec()));
            }
            match req.into_body().collect().await {
                Ok(body) => match serde_json::from_slice::<Post>(&body.to_bytes()) {
                    Ok(post) if post.kind == "say" => {
                        let first = hub.append(true, &post.data.text);
                        answer(
                            StatusCode::OK,
                            format!("{{\"first\":{first},\"count\":1}}").into_bytes(),
                        )
                    }
                    _ => bad("not a say message"),
                },
                Err(_) => bad("unreadable body"),
            }
        }
        (&Method::GET, "/rex/v0/events") => {
            let start = req
                .uri()
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("start="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut response = Response::new(Either::Right(Follow {
                hub,
                cursor: start,
                rx: None,
            }));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/x-ndjson"),
            );
            response
        }
        (&Method::POST, "/rex/v0/sessions") => {
            let n = hub.tokens.fetch_add(1, Ordering::Relaxed);
            let created = rex::SessionCreated {
                session: rex::SessionId::new_random(),
                token: rex::SessionToken::new(format!("baseline-{n}")),
                epoch: hub.epoch,
                next: hub.head(),
                app: "bench".to_owned(),
            };
            answer(
                StatusCode::CREATED,
                serde_json::to_vec(&created).unwrap_or_default(),
            )
        }
        (&Method::GET, "/rex/v0/info") => {
            let head = hub.head();
            let info = rex::Info {
                app: "bench".to_owned(),
                name: "baseline".to_owned(),
                protocol: rex::PROTOCOL_VERSION,
                epoch: hub.epoch,
                head,
                oldest: 0,
                sessions: hub.tokens.load(Ordering::Relaxed),
                time: 0,
                messages: vec!["say".to_owned()],
                events: vec!["said".to_owned()],
                offers: Vec::new(),
            };
            answer(
                StatusCode::OK,
                serde_json::to_vec(&info).unwrap_or_default(),
            )
        }
        _ => answer(StatusCode::NOT_FOUND, b"{}".to_vec()),
    };
    Ok(response)
}

/// Binds 127.0.0.1:0 and serves in the background.
pub(crate) async fn start() -> Result<(SocketAddr, Arc<Hub>), BoxError> {
    let hub = Hub::new();
    let shared = hub.clone();
    let addr = serve_bare(move |req| serve(req, shared.clone())).await?;
    Ok((addr, hub))
}

/// Binds 127.0.0.1:0 and answers every request with `handle`, in the
/// background, with the same HTTP/1.1 settings REx's `Server::run` uses
/// (hyper's `http1::Builder` with a tokio timer, `TCP_NODELAY`, one task
/// per connection): what every bare-hyper server of the bench shares.
pub(crate) async fn serve_bare<F, Fut, B>(handle: F) -> Result<SocketAddr, BoxError>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = service_fn(handle.clone());
            let conn = http.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    Ok(addr)
}
