//! HTTP routing. A request passes the `Host` check (`guard`), then goes to
//! its site — one room at the root (`Server`) or a host of rooms
//! (`Host`) — which finds the room and the endpoint. Each endpoint of
//! protocol v0 has its own file that parses its request and applies it;
//! they share the error answer (`error`), request reading (`request`), the
//! trip to the room's actor (`call`) and the resume rule (`resume`).

mod call;
pub(crate) mod error;
mod events;
pub(crate) mod files;
mod info;
mod messages;
pub(crate) mod request;
mod resume;
mod schema;
mod sessions;
mod snapshot;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use rex_proto::{path, ErrorCode};
use tokio::sync::mpsc;

pub(crate) use error::ApiError;
pub(crate) use request::ClientAddr;

use super::actor::{ActorCell, Command};
use super::app::RexApp;
use super::assets::{self, Assets};
use super::gate::Gate;
use super::guard::{self, HostPolicy};
use super::hardening;
use super::idle::Activity;
use super::limits::Admission;
use super::log::EventLog;
use super::session::SessionTable;
use super::usage::Usage;
use request::allow;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Settings of the whole server, which every request handler reads.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) body_limit: usize,
    pub(crate) heartbeat: Duration,
    /// How long a request body may take to arrive (`408` after).
    pub(crate) body_timeout: Duration,
    /// The names the server answers to besides IP literals, `localhost`
    /// and `.local` (DNS rebinding).
    pub(crate) hosts: HostPolicy,
    /// The `Content-Security-Policy` of every response.
    pub(crate) csp: HeaderValue,
}

/// One room as its request handlers see it: what they read directly and
/// the channel to its app actor.
pub(crate) struct Room<A: RexApp> {
    pub(crate) log: Arc<EventLog>,
    pub(crate) sessions: Arc<SessionTable>,
    pub(crate) tx: mpsc::Sender<Command<A>>,
    /// The actor itself, for a call that can run in the request's own
    /// poll (`ActorCell::try_now`).
    pub(crate) actor: Arc<ActorCell<A>>,
    /// Admits requests until the server shuts down or the room closes.
    pub(crate) gate: Arc<Gate>,
    /// The app's static files (shared by every room of a host).
    pub(crate) assets: Arc<Assets>,
    /// Files of this room alone (`HostBuilder::room_assets`), served ahead
    /// of the shared ones.
    pub(crate) own_assets: Option<Assets>,
    /// Rate limits and per-address quotas.
    pub(crate) admission: Arc<Admission>,
    /// When each session was last active (the idle-session timeout).
    pub(crate) activity: Arc<Activity>,
    /// Whether the room is in use, for a host's idle-room timeout; `None`
    /// for a `Server`'s room, which is never closed as idle (so its
    /// message path keeps no such count).
    pub(crate) usage: Option<Arc<Usage>>,
    /// The room's display name (`/info`).
    pub(crate) name: String,
    /// The room's PIN: creating a session needs it (`ServerBuilder::pin`).
    pub(crate) pin: Option<String>,
}

/// What a server serves: one room, or a host of rooms.
pub(crate) trait Site: Send + Sync + 'static {
    /// The server-wide settings.
    fn config(&self) -> &Config;

    /// Answers a request that passed the `Host` check.
    fn route(
        &self,
        req: Request<Incoming>,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;

    /// Shutdown: refuses new work in every room, waits for the requests in
    /// flight, then ends every open event stream once it has sent what
    /// the log holds.
    fn drain(&self) -> impl Future<Output = ()> + Send;
}

/// The service: never fails, every problem becomes an error response.
pub(crate) async fn serve<S: Site>(
    req: Request<Incoming>,
    site: Arc<S>,
) -> Result<Response<Body>, Infallible> {
    // Kept for the refusal log line; both are cheap clones (a standard
    // method is an enum, a URI shares its bytes).
    let method = req.method().clone();
    let uri = req.uri().clone();
    let config = site.config();
    let checked = guard::check(&config.hosts, req.uri(), req.version(), req.headers());
    let answer = match checked {
        Ok(()) => site.route(req).await,
        Err(refusal) => Err(refusal.into()),
    };
    let mut response = answer.unwrap_or_else(|error| {
        let path = uri.path();
        tracing::debug!(%method, %path, code = %error.body.error, reason = %error.body.reason, "request refused");
        error.into_response()
    });
    hardening::apply(response.headers_mut(), &site.config().csp);
    Ok(response)
}

/// Routes a request to one of `room`'s endpoints. `path` is the request's
/// path within the room (`/rex/v0/events`, `/play`): the whole path for
/// the room of a `Server`, the rest after `/r/KXQF` on a host.
pub(crate) async fn route_room<A: RexApp>(
    req: Request<Incoming>,
    path: &str,
    room: &Room<A>,
    config: &Config,
) -> Result<Response<Body>, ApiError> {
    match path {
        // Boxed: a request's future is as large as its largest
        // endpoint's, and it is moved into place for every request;
        // creating a session is not on the message path and has the
        // largest.
        path::SESSIONS => {
            request::post(&req)?;
            Box::pin(sessions::create(req, room, config)).await
        }
        path::MESSAGES => {
            request::post(&req)?;
            messages::post(req, room, config).await
        }
        path::EVENTS => {
            allow(&req, &Method::GET, "GET")?;
            events::get(&req, room, config)
        }
        path::INFO => {
            allow(&req, &Method::GET, "GET")?;
            Ok(info::get(room))
        }
        path::SNAPSHOT => {
            allow(&req, &Method::GET, "GET")?;
            snapshot::get(&req, room).await
        }
        path::SCHEMA => {
            allow(&req, &Method::GET, "GET")?;
            schema::get(&req, room)
        }
        other => {
            if let Some(asset) = assets::builtin(other) {
                return files::serve(&req, &asset);
            }
            let own = room.own_assets.as_ref().and_then(|own| own.get(other));
            if let Some(asset) = own.or_else(|| room.assets.get(other)) {
                return files::serve(&req, asset);
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

/// The one room of a [`super::Server`], at the root of its URLs.
pub(crate) struct SingleRoom<A: RexApp> {
    pub(crate) config: Config,
    pub(crate) room: Room<A>,
}

impl<A: RexApp> Site for SingleRoom<A> {
    fn config(&self) -> &Config {
        &self.config
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        // A clone of a URI shares its bytes; the request moves on.
        let uri = req.uri().clone();
        route_room(req, uri.path(), &self.room, &self.config).await
    }

    async fn drain(&self) {
        self.room.gate.close().await;
        self.room.log.end_streams();
    }
}
