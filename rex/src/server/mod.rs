//! The REx server: binds a port, runs the app as an actor, serves protocol
//! v0 over HTTP/1.1 (see `docs/protocol.md`), and shuts down gracefully.

pub(crate) mod actor;
mod admission;
pub(crate) mod app;
mod assets;
mod gate;
pub(crate) mod idle;
pub(crate) mod log;
mod routes;
pub(crate) mod session;
mod snapshot;
mod stream;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rex_proto::Epoch;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use app::{AppHandle, AppStopped, Context, Dispatch, EventOf, Reject, RexApp, Scheduled};
pub use assets::{Assets, CLIENT_DTS_PATH, CLIENT_JS_PATH};
pub use log::Retention;
pub use snapshot::Snapshot;

use actor::Actor;
use app::app_id;
use gate::Gate;
use idle::Activity;
use log::EventLog;
use routes::{Config, Shared};
use session::SessionTable;

/// Default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Default heartbeat period of event streams: 15 s.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Default session limit: 10,000.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;
/// Default time `run` waits for open requests after shutdown begins: 10 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How many commands (requests, handle calls, timers) may wait for the app
/// before senders wait in turn: enough to absorb bursts, small enough that a
/// stuck app pushes back on clients instead of queuing without bound.
const COMMAND_QUEUE: usize = 1024;

/// Configures a [`Server`] before it binds. Made by [`Server::builder`].
#[must_use = "a builder does nothing until `bind` or `listener` is called"]
pub struct ServerBuilder<A: RexApp> {
    app: A,
    config: Config,
    retention: Retention,
    max_sessions: usize,
    shutdown_timeout: Duration,
    assets: Assets,
    idle_timeout: Option<Duration>,
}

impl<A: RexApp> ServerBuilder<A> {
    /// Static files to serve next to the protocol (the app's pages). The
    /// JavaScript client is always served at [`CLIENT_JS_PATH`].
    pub fn assets(mut self, assets: Assets) -> Self {
        self.assets = assets;
        self
    }

    /// The room's display name (`/info`, and discovery's instance name).
    /// Defaults to the app id.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Largest request body accepted, in bytes; larger ones get
    /// `413 too_large`. Defaults to [`DEFAULT_BODY_LIMIT`].
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// How long an event stream may be silent before the server sends a
    /// heartbeat. Defaults to [`DEFAULT_HEARTBEAT`].
    pub fn heartbeat(mut self, period: Duration) -> Self {
        self.config.heartbeat = period;
        self
    }

    /// How much of the log to keep. Defaults to everything.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How many sessions may exist; creating one more gets
    /// `503 unavailable`. Defaults to [`DEFAULT_MAX_SESSIONS`].
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }

    /// Ends sessions that stay idle for `timeout`, so a room that was
    /// filled (by guests who left, or by someone creating sessions in bulk)
    /// recovers. Idle means no request authenticated with the session's
    /// token (a message, whatever its outcome, or a snapshot) and no event
    /// stream open with it, for the whole `timeout`: a phone that keeps its
    /// event stream open never expires, however quiet its player. An expired
    /// session's token answers `401 unauthorized` and the app's
    /// [`RexApp::leave`] hook runs. Off by default: sessions then live as
    /// long as the server.
    ///
    /// ```no_run
    /// # use rex::{RexApp, Server};
    /// # async fn example<A: RexApp>(app: A) -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let server = Server::builder(app)
    ///     .session_idle_timeout(Duration::from_secs(10 * 60))
    ///     .bind("0.0.0.0:0")
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn session_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Requires `pin` to create a session: a client that sends no PIN or a
    /// wrong one gets `403 forbidden` with a reason that says so. Clients
    /// send it as `pin` in the body of `POST /rex/v0/sessions` or as
    /// `?pin=` in its URL (what a QR code can carry). Reading the public
    /// log (the TV page, spectators) needs no PIN: the PIN keeps strangers
    /// from taking part, not from watching. Leading and trailing spaces a
    /// person may type are ignored.
    pub fn pin(mut self, pin: impl Into<String>) -> Self {
        self.config.pin = Some(pin.into().trim().to_owned());
        self
    }

    /// How long [`Server::run`] waits for open requests to finish once
    /// shutdown begins, before it closes them. Defaults to
    /// [`DEFAULT_SHUTDOWN_TIMEOUT`].
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Binds `addr` (`"127.0.0.1:0"` or `"0.0.0.0:0"` for a random port) and
    /// starts the app. Must be called inside a tokio runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server<A>> {
        let listener = TcpListener::bind(addr).await?;
        self.listener(listener)
    }

    /// Serves on a listener the caller bound, and starts the app. Must be
    /// called inside a tokio runtime.
    pub fn listener(self, listener: TcpListener) -> io::Result<Server<A>> {
        self.assets.check()?;
        let local_addr = listener.local_addr()?;
        let log = EventLog::new(self.retention);
        let sessions = Arc::new(SessionTable::default());
        let activity = Arc::new(Activity::default());
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (stop_tx, stop) = watch::channel(false);
        let actor = Actor {
            app: self.app,
            log: log.clone(),
            sessions: sessions.clone(),
            max_sessions: self.max_sessions,
            dedupe: Default::default(),
            tx: tx.clone(),
            stop,
            timers: Default::default(),
            activity: activity.clone(),
            idle_timeout: self.idle_timeout,
        };
        let actor = tokio::spawn(actor.run(rx));
        let shared = Arc::new(Shared {
            log,
            sessions,
            tx,
            config: self.config,
            gate: Arc::new(Gate::default()),
            assets: self.assets,
            activity,
        });
        Ok(Server {
            listener,
            local_addr,
            shared,
            stop: StopOnDrop(stop_tx),
            actor,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// A bound REx server, ready to [`run`](Server::run).
///
/// ```no_run
/// # use rex::{RexApp, Server};
/// # async fn example<A: RexApp>(app: A) -> std::io::Result<()> {
/// let server = Server::builder(app).name("Living Room").bind("0.0.0.0:0").await?;
/// println!("listening on http://{}", server.local_addr());
/// server.run(async { tokio::signal::ctrl_c().await.ok(); }).await
/// # }
/// ```
pub struct Server<A: RexApp> {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared<A>>,
    stop: StopOnDrop,
    actor: JoinHandle<()>,
    shutdown_timeout: Duration,
}

/// Stops the app actor and its timers when the server goes away, whether
/// `run` finished or the server was dropped without running.
struct StopOnDrop(watch::Sender<bool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl<A: RexApp> Server<A> {
    /// Starts configuring a server for `app`.
    pub fn builder(app: A) -> ServerBuilder<A> {
        ServerBuilder {
            app,
            config: Config {
                name: app_id::<A>().to_owned(),
                body_limit: DEFAULT_BODY_LIMIT,
                heartbeat: DEFAULT_HEARTBEAT,
                pin: None,
            },
            retention: Retention::unlimited(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            assets: Assets::default(),
            idle_timeout: None,
        }
    }

    /// The address the server is bound to (with the real port when bound
    /// to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The epoch of this server's log.
    pub fn epoch(&self) -> Epoch {
        self.shared.log.epoch()
    }

    /// The room's display name, as set by [`ServerBuilder::name`] (what
    /// `/info` reports and discovery advertises).
    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// A handle to the app, for the TV's own input and other tasks.
    pub fn handle(&self) -> AppHandle<A> {
        AppHandle {
            tx: self.shared.tx.clone(),
        }
    }

    /// Serves until `shutdown` completes, then shuts down gracefully: stops
    /// accepting, answers new requests on open connections with
    /// `503 unavailable`, lets requests in flight finish, lets every open
    /// event stream send the events up to the head and end cleanly (all
    /// within the shutdown timeout), then stops the app.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server {
            listener,
            local_addr,
            shared,
            stop,
            actor,
            shutdown_timeout,
        } = self;
        tracing::info!(app = app_id::<A>(), addr = %local_addr, epoch = %shared.log.epoch(), "serving");
        let graceful = GracefulShutdown::new();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new());
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // instead of spinning, and keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Events are small and latency matters more than packet count.
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let service = service_fn(move |req| routes::serve(req, shared.clone()));
            let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!(app = app_id::<A>(), "shutting down");
        // New requests get 503 and idle connections close at once; requests
        // in flight finish; then the open streams send every event up to the
        // head (including what those requests appended) and end.
        let drain = async {
            let streams = async {
                shared.gate.close().await;
                shared.log.end_streams();
            };
            tokio::join!(graceful.shutdown(), streams);
        };
        if tokio::time::timeout(shutdown_timeout, drain).await.is_err() {
            tracing::warn!(
                ?shutdown_timeout,
                "requests still open after the shutdown timeout; closing them"
            );
        }
        drop(stop);
        let _ = actor.await;
        tracing::info!(app = app_id::<A>(), "stopped");
        Ok(())
    }
}
