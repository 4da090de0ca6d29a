//! HTTP routing: one function per endpoint of protocol v0, and the error
//! responses every endpoint shares.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rex_proto::{
    path, CreateSession, DecodeError, Epoch, ErrorBody, ErrorCode, EventIndex, Info, PostMessage,
    Protocol, RexEvent, RexMessage, SessionCreated, SessionId, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::access::{self, Refusal as AccessRefusal};
use super::actor::{CallError, Command};
use super::app::{app_id, EventOf};
use super::assets::{self, Asset, Assets};
use super::body::{self, BodyError};
use super::dedupe::repeat_reason;
use super::gate::Gate;
use super::guard::{self, HostPolicy, Refusal};
use super::hardening;
use super::idle::Activity;
use super::limits::{Admission, Refusal as LimitRefusal, Reservation};
use super::log::{EventLog, Framing};
use super::session::SessionTable;
use super::stream::Follower;
use super::RexApp;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Settings every request handler reads.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) body_limit: usize,
    pub(crate) heartbeat: Duration,
    /// How long a request body may take to arrive (`408` after).
    pub(crate) body_timeout: Duration,
    /// The names the server answers to besides IP literals, `localhost`
    /// and `.local` (DNS rebinding).
    pub(crate) hosts: HostPolicy,
    /// The `Content-Security-Policy` of every response.
    pub(crate) csp: HeaderValue,
    /// The room's PIN: creating a session needs it (`ServerBuilder::pin`).
    pub(crate) pin: Option<String>,
}

/// What every connection task shares.
pub(crate) struct Shared<A: RexApp> {
    pub(crate) log: Arc<EventLog>,
    pub(crate) sessions: Arc<SessionTable>,
    pub(crate) tx: mpsc::Sender<Command<A>>,
    pub(crate) config: Config,
    /// Admits requests until shutdown begins.
    pub(crate) gate: Arc<Gate>,
    /// The app's static files.
    pub(crate) assets: Assets,
    /// Rate limits and per-address quotas.
    pub(crate) admission: Arc<Admission>,
    /// When each session was last active (the idle-session timeout).
    pub(crate) activity: Arc<Activity>,
}

/// An error answer: status from the code, body `{error, reason, …}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    body: ErrorBody,
    allow: Option<&'static str>,
}

impl ApiError {
    fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        ApiError {
            body: ErrorBody::new(code, reason),
            allow: None,
        }
    }

    fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.body.error.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, &self.body);
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.body.error == ErrorCode::RequestTimeout {
            // The rest of the body may still come; the connection cannot
            // carry another request after it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.body.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError::new(refusal.code, refusal.reason)
    }
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    // Our own response types always serialize.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The service: never fails, every problem becomes an error response.
pub(crate) async fn serve<A: RexApp>(
    req: Request<Incoming>,
    shared: Arc<Shared<A>>,
) -> Result<Response<Body>, Infallible> {
    // Kept for the refusal log line; both are cheap clones (a standard
    // method is an enum, a URI shares its bytes).
    let method = req.method().clone();
    let uri = req.uri().clone();
    let mut response = match admit(req, &shared).await {
        Ok(response) => response,
        Err(error) => {
            let path = uri.path();
            tracing::debug!(%method, %path, code = %error.body.error, reason = %error.body.reason, "request refused");
            error.into_response()
        }
    };
    hardening::apply(response.headers_mut(), &shared.config.csp);
    Ok(response)
}

/// The `Host` check of `guard` (DNS rebinding), then routing.
async fn admit<A: RexApp>(
    req: Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    guard::check(
        &shared.config.hosts,
        req.uri(),
        req.version(),
        req.headers(),
    )?;
    route(req, shared).await
}

/// A `POST` the server accepts must come from its own pages and be
/// declared JSON (`guard`): what keeps other sites' pages out.
fn state_changing(req: &Request<Incoming>) -> Result<(), ApiError> {
    guard::check_state_changing(req.uri(), req.version(), req.headers())?;
    Ok(())
}

async fn route<A: RexApp>(
    req: Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    match req.uri().path() {
        path::SESSIONS => {
            allow(&req, &Method::POST, "POST")?;
            state_changing(&req)?;
            create_session(req, shared).await
        }
        path::MESSAGES => {
            allow(&req, &Method::POST, "POST")?;
            state_changing(&req)?;
            post_message(req, shared).await
        }
        path::EVENTS => {
            allow(&req, &Method::GET, "GET")?;
            events(&req, shared)
        }
        path::INFO => {
            allow(&req, &Method::GET, "GET")?;
            Ok(info(shared))
        }
        path::SNAPSHOT => {
            allow(&req, &Method::GET, "GET")?;
            snapshot(&req, shared).await
        }
        path::SCHEMA => {
            allow(&req, &Method::GET, "GET")?;
            schema(&req, shared)
        }
        other => {
            if let Some(asset) = assets::builtin(other) {
                return serve_asset(&req, &asset);
            }
            if let Some(asset) = shared.assets.get(other) {
                return serve_asset(&req, asset);
            }
            Err(not_found(other))
        }
    }
}

fn not_found(other: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no such path `{other}`; REx serves {}, {}, {}, {}, {} and {}",
            path::SESSIONS,
            path::MESSAGES,
            path::EVENTS,
            path::SNAPSHOT,
            path::SCHEMA,
            path::INFO
        ),
    )
}

/// A static file: `GET`/`HEAD`, with `ETag` revalidation.
fn serve_asset(req: &Request<Incoming>, asset: &Asset) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut error = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "{} is a file; use GET or HEAD, not {}",
                req.uri().path(),
                req.method()
            ),
        );
        error.allow = Some("GET, HEAD");
        return Err(error);
    }
    let etag = HeaderValue::from_str(&asset.etag).ok();
    let mut response = if if_none_match(req, &asset.etag) {
        let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Full::new(asset.body.clone()).boxed_unsync());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Whether the request's `If-None-Match` names `etag` (or `*`): the
/// client's copy is current, and `304` answers it.
fn if_none_match(req: &Request<Incoming>, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*")
}

/// `GET /rex/v0/schema`: the protocol in JSON Schema, the same for every
/// reader. It changes only with the program, so within one epoch (one run
/// of the server) it is fixed: the epoch is its `ETag`.
fn schema<A: RexApp>(
    req: &Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    let Some(schema) = <A::Protocol as Protocol>::schema() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "the `{}` app does not publish its protocol's schema (an app opts in with \
                 `#[rex(schema)]` on its protocol enums); /rex/v0/info lists its kinds",
                app_id::<A>()
            ),
        ));
    };
    let epoch = shared.log.epoch();
    let etag = format!("\"{epoch}\"");
    let mut response = if if_none_match(req, &etag) {
        let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        json_response(StatusCode::OK, &schema)
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&epoch.to_string()) {
        headers.insert("rex-epoch", value);
    }
    Ok(response)
}

fn allow(req: &Request<Incoming>, method: &Method, allowed: &'static str) -> Result<(), ApiError> {
    if req.method() == method {
        return Ok(());
    }
    let mut error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not accept {}; use {allowed}",
            req.uri().path(),
            req.method()
        ),
    );
    error.allow = Some(allowed);
    Err(error)
}

/// Reads a JSON body within the size limit and the body timeout. `Ok(None)`
/// for an empty body. (`guard` has checked the declared type.)
async fn read_json<T: DeserializeOwned>(
    req: Request<Incoming>,
    config: &Config,
) -> Result<Option<T>, ApiError> {
    let limit = config.body_limit;
    let too_large = || {
        ApiError::new(
            ErrorCode::TooLarge,
            format!("the request body is larger than this server's limit of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let timeout = config.body_timeout;
    let bytes = match body::collect(req.into_body(), limit, timeout).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return Err(too_large()),
        Err(BodyError::TimedOut) => {
            return Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the request body did not arrive within {timeout:?}; send the whole body \
                     at once (the server's `body_timeout`)"
                ),
            ))
        }
        Err(BodyError::Broken(e)) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("could not read the request body: {e}"),
            ))
        }
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    // Every body of the protocol is an object; serde's derived impls would
    // also take an array of the fields in order, which we refuse.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the body is not valid JSON of the expected shape: expected a JSON object",
        ));
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the body is not valid JSON of the expected shape: {e}"),
        )
    })
}

fn bearer(req: &Request<Incoming>) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn authenticate(sessions: &SessionTable, token: &str) -> Result<SessionId, ApiError> {
    sessions.authenticate(token).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "the token does not belong to any session of this server (a token from before a \
             server restart, or of a session that expired after being idle, is no longer \
             valid); create a session with POST /rex/v0/sessions",
        )
    })
}

fn stopped() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the server is shutting down; try again when it is back",
    )
}

async fn create_session<A: RexApp>(
    req: Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    let req_addr = client_addr(&req);
    let query = req.uri().query().map(str::to_owned);
    let body: CreateSession = read_json(req, &shared.config).await?.unwrap_or_default();
    // The PIN and the name (its length, no control characters).
    admit_join(&shared.config, &body, query.as_deref())?;
    let reservation = admit_session(&req_addr, shared)?;
    let _pass = shared.gate.enter().ok_or_else(stopped)?;
    let (reply, rx) = oneshot::channel();
    shared
        .tx
        .send(Command::Join {
            name: body.name,
            reply,
        })
        .await
        .map_err(|_| stopped())?;
    match rx.await.map_err(|_| stopped())? {
        Ok(joined) => {
            reservation.commit(joined.session);
            tracing::debug!(session = %joined.session, "session created");
            let created = SessionCreated {
                session: joined.session,
                token: joined.token,
                epoch: shared.log.epoch(),
                next: joined.next,
                app: app_id::<A>().to_owned(),
            };
            Ok(json_response(StatusCode::CREATED, &created))
        }
        Err(error) => Err(call_error(error)),
    }
}

/// The room's access rules (PIN, name) for a session-creation request.
fn admit_join(config: &Config, body: &CreateSession, query: Option<&str>) -> Result<(), ApiError> {
    let refused = |r: AccessRefusal| ApiError::new(r.code, r.reason);
    access::check_pin(config.pin.as_deref(), body, query).map_err(refused)?;
    if let Some(name) = &body.name {
        access::check_name(name).map_err(refused)?;
    }
    Ok(())
}

fn call_error(error: CallError) -> ApiError {
    match error {
        CallError::Rejected(reason) => ApiError::new(ErrorCode::Rejected, reason),
        CallError::Internal(reason) => ApiError::new(
            ErrorCode::Internal,
            format!("the app failed to encode an event, nothing was changed: {reason}"),
        ),
        CallError::Full(limit) => ApiError::new(
            ErrorCode::Unavailable,
            format!("this room has reached its limit of {limit} sessions"),
        ),
        CallError::NoSnapshot => ApiError::new(
            ErrorCode::NotFound,
            "this app does not provide snapshots; read the log from `oldest` (GET /rex/v0/events)",
        ),
        CallError::Repeated { id, code } => ApiError::new(code, repeat_reason(id, code)),
        CallError::Expired => ApiError::new(
            ErrorCode::Unauthorized,
            "the session expired after being idle; create a new one with POST /rex/v0/sessions",
        ),
    }
}

async fn post_message<A: RexApp>(
    req: Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    let token = bearer(&req).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "missing `Authorization: Bearer <token>` header; create a session with \
             POST /rex/v0/sessions to get a token",
        )
    })?;
    let session = authenticate(&shared.sessions, token)?;
    shared.activity.touch(session);
    let body: PostMessage = read_json(req, &shared.config).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the body is empty; send {\"kind\": \"…\", \"data\": …}",
        )
    })?;
    admit_message(shared, session)?;
    let msg = <A::Protocol as RexMessage>::decode(&body.kind, body.data).map_err(|e| match e {
        DecodeError::UnknownKind { .. } => ApiError::new(ErrorCode::UnknownKind, e.to_string()),
        DecodeError::InvalidData { .. } => ApiError::new(ErrorCode::InvalidData, e.to_string()),
    })?;
    let _pass = shared.gate.enter().ok_or_else(stopped)?;
    let (reply, rx) = oneshot::channel();
    let cmd = Command::Message {
        session,
        id: body.id,
        msg,
        reply,
    };
    shared.tx.send(cmd).await.map_err(|_| stopped())?;
    match rx.await.map_err(|_| stopped())? {
        Ok(receipt) => Ok(json_response(StatusCode::OK, &receipt)),
        Err(error) => Err(call_error(error)),
    }
}

/// `GET /snapshot`: the app's state for the reader (anonymous, or the
/// session of the token), with the index it reflects.
async fn snapshot<A: RexApp>(
    req: &Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    let query = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(key, _)| key == "token")
        .map(|(_, token)| token.into_owned());
    let token = bearer(req).map(str::to_owned).or(query);
    let viewer = match token {
        Some(token) => Some(authenticate(&shared.sessions, &token)?),
        None => None,
    };
    if let Some(viewer) = viewer {
        shared.activity.touch(viewer);
    }
    let _pass = shared.gate.enter().ok_or_else(stopped)?;
    let (reply, rx) = oneshot::channel();
    let cmd = Command::Snapshot { viewer, reply };
    shared.tx.send(cmd).await.map_err(|_| stopped())?;
    match rx.await.map_err(|_| stopped())? {
        Ok(record) => {
            let mut response = json_response(StatusCode::OK, &record);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(value) = HeaderValue::from_str(&record.epoch.to_string()) {
                response.headers_mut().insert("rex-epoch", value);
            }
            Ok(response)
        }
        Err(CallError::Internal(reason)) => Err(ApiError::new(
            ErrorCode::Internal,
            format!("the app failed to encode its snapshot: {reason}"),
        )),
        Err(error) => Err(call_error(error)),
    }
}

/// The parsed query of `GET /events`.
#[derive(Debug, Default)]
struct EventsQuery {
    start: Option<EventIndex>,
    epoch: Option<Epoch>,
    token: Option<String>,
}

fn parse_events_query(query: Option<&str>) -> Result<EventsQuery, ApiError> {
    let mut parsed = EventsQuery::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "start" => {
                let start = value.parse().map_err(|_| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("query `start={value}` is not an event index (a whole number ≥ 0)"),
                    )
                })?;
                parsed.start = Some(start);
            }
            "epoch" => {
                let epoch = value.parse().map_err(|e| {
                    ApiError::new(ErrorCode::BadRequest, format!("query `epoch={value}`: {e}"))
                })?;
                parsed.epoch = Some(epoch);
            }
            "token" => parsed.token = Some(value.into_owned()),
            // Unknown parameters are ignored so newer clients can add some.
            _ => {}
        }
    }
    Ok(parsed)
}

fn events<A: RexApp>(
    req: &Request<Incoming>,
    shared: &Shared<A>,
) -> Result<Response<Body>, ApiError> {
    let query = parse_events_query(req.uri().query())?;
    let framing = if accepts_event_stream(req) {
        Framing::Sse
    } else {
        Framing::Ndjson
    };
    let mut start = query.start.unwrap_or(0);
    if let Some(last) = req.headers().get("last-event-id") {
        let last: EventIndex = last
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    "header `Last-Event-ID` is not an event index",
                )
            })?;
        start = last.saturating_add(1);
    }
    if shared.gate.is_closing() {
        return Err(stopped());
    }
    // Subscribe before looking at the bounds so no append is missed between.
    let head_rx = shared.log.subscribe();
    let bounds = shared.log.bounds();
    let epoch = shared.log.epoch();
    let gone = |reason: String| {
        let mut error = ApiError::new(ErrorCode::Gone, reason);
        error.body.epoch = Some(epoch);
        error.body.oldest = Some(bounds.oldest);
        error.body.head = Some(bounds.head);
        error
    };
    if let Some(asked) = query.epoch {
        if asked != epoch {
            return Err(gone(format!(
                "epoch {asked} is over (the server restarted with a new log, epoch {epoch}); resync from `oldest`"
            )));
        }
    }
    if start < bounds.oldest {
        return Err(gone(format!(
            "event {start} is no longer retained; the oldest is {}; resync from there",
            bounds.oldest
        )));
    }
    if start > bounds.head {
        return Err(gone(format!(
            "event {start} is beyond the head ({}) of epoch {epoch}: that log no longer exists; resync",
            bounds.head
        )));
    }
    // Authenticate after the bounds: a reader resuming from before a
    // restart holds a token of the old epoch, and what it needs to hear is
    // `410 gone` (resync), not that its token is unknown.
    let token = bearer(req).map(str::to_owned).or(query.token);
    let reader = match token {
        Some(token) => Some(authenticate(&shared.sessions, &token)?),
        None => None,
    };
    // An open stream keeps its session from expiring, until it closes.
    let lease = match reader {
        Some(session) => Some(
            shared
                .activity
                .open_stream(session)
                .ok_or_else(|| call_error(CallError::Expired))?,
        ),
        None => None,
    };
    let follower = Follower {
        log: shared.log.clone(),
        cursor: start,
        reader,
        framing,
        heartbeat: shared.config.heartbeat,
        signal: head_rx,
        idle: Box::pin(tokio::time::sleep(shared.config.heartbeat)),
    };
    let body = follower.into_body().map_frame(move |frame| {
        // The body owns the lease; dropping the body closes the stream.
        let _ = &lease;
        frame
    });
    let mut response = Response::new(body.boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match framing {
            Framing::Ndjson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
        }),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&epoch.to_string()) {
        headers.insert("rex-epoch", value);
    }
    Ok(response)
}

fn accepts_event_stream(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/event-stream")
        })
}

fn info<A: RexApp>(shared: &Shared<A>) -> Response<Body> {
    let bounds = shared.log.bounds();
    let info = Info {
        app: app_id::<A>().to_owned(),
        name: shared.config.name.clone(),
        protocol: PROTOCOL_VERSION,
        epoch: shared.log.epoch(),
        head: bounds.head,
        oldest: bounds.oldest,
        sessions: shared.sessions.len() as u64,
        time: shared.log.now_ms(),
        messages: <A::Protocol as RexMessage>::KINDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        events: <EventOf<A> as RexEvent>::KINDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        offers: offers::<A>(),
    };
    json_response(StatusCode::OK, &info)
}

/// `/info`'s `offers`: the optional parts of the protocol this app has.
fn offers<A: RexApp>() -> Vec<String> {
    // Building the schema takes tens of microseconds, and `/info` is not
    // a hot path: no cache to keep.
    let has_schema = <A::Protocol as Protocol>::schema().is_some();
    if has_schema {
        vec!["schema".to_owned()]
    } else {
        Vec::new()
    }
}

// Admission limits (`limits.rs`): who may create sessions and send
// messages how fast. Checked after the body is read (so an answer never
// leaves an unread body behind) and before the app sees anything, so a
// refused request changes nothing.

/// The TCP peer's IP address, put on every request by the accept loop.
/// Forwarding headers are not trusted: any phone on the LAN could write
/// them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub(crate) std::net::IpAddr);

fn client_addr(req: &Request<Incoming>) -> std::net::IpAddr {
    // Always set by the accept loop; unspecified would put every client in
    // one bucket, which errs on the side of refusing.
    req.extensions()
        .get::<ClientAddr>()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.0)
}

fn admit_session<'a, A: RexApp>(
    addr: &std::net::IpAddr,
    shared: &'a Shared<A>,
) -> Result<Reservation<'a>, ApiError> {
    shared.admission.session(*addr).map_err(|refusal| {
        let what = format!("this address ({addr}) creates sessions");
        too_many(refusal, &what)
    })
}

fn admit_message<A: RexApp>(shared: &Shared<A>, session: SessionId) -> Result<(), ApiError> {
    shared
        .admission
        .message(session)
        .map_err(|refusal| too_many(refusal, "this session sends messages"))
}

/// How long a client is told to wait when its address holds its quota of
/// live sessions: a place frees only when one of them ends, so retrying
/// sooner is pointless.
const QUOTA_RETRY_AFTER_SECS: u64 = 30;

fn too_many(refusal: LimitRefusal, what: &str) -> ApiError {
    let (reason, secs) = match refusal {
        LimitRefusal::Rate(wait) => {
            let secs = super::bucket::retry_after_secs(wait);
            (
                format!(
                    "{what} faster than this server allows; nothing was done; try again in {secs} s"
                ),
                secs,
            )
        }
        LimitRefusal::Quota(max) => (
            format!(
                "this address already holds {max} live sessions, the most this server allows \
                 one address; nothing was created; reuse a session you have"
            ),
            QUOTA_RETRY_AFTER_SECS,
        ),
    };
    let mut error = ApiError::new(ErrorCode::TooManyRequests, reason);
    error.body.retry_after = Some(secs);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_accepts_known_keys_and_ignores_others() {
        let q = parse_events_query(Some("start=5&foo=bar&token=a%2Bb")).unwrap();
        assert_eq!(q.start, Some(5));
        assert_eq!(q.token.as_deref(), Some("a+b"));
        assert!(parse_events_query(Some("start=-1")).is_err());
        assert!(parse_events_query(Some("epoch=nope")).is_err());
        assert_eq!(parse_events_query(None).unwrap().start, None);
    }
}
