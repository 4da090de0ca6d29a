//! The REx server: binds a port, runs the app as an actor, serves protocol
//! v0 over HTTP/1.1 (see `docs/protocol.md`), and shuts down gracefully.

mod accept;
mod access;
pub(crate) mod actor;
pub(crate) mod app;
mod assets;
mod body;
mod bucket;
mod connection;
mod conns;
pub(crate) mod dedupe;
pub(crate) mod durable;
mod gate;
mod guard;
mod hardening;
pub(crate) mod idle;
mod limits;
pub(crate) mod log;
mod routes;
pub(crate) mod session;
mod snapshot;
mod stall;
pub(crate) mod store;
mod stream;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use rex_proto::Epoch;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

pub use app::{AppHandle, AppStopped, Context, Dispatch, EventOf, Reject, RexApp, Scheduled};
pub use assets::{Assets, CLIENT_DTS_PATH, CLIENT_JS_PATH};
pub use bucket::Rate;
pub use durable::Durable;
pub use hardening::DEFAULT_CONTENT_SECURITY_POLICY;
pub use limits::{DEFAULT_MESSAGE_RATE, DEFAULT_SESSIONS_PER_ADDRESS, DEFAULT_SESSION_RATE};
pub use log::{Retention, DEFAULT_RETENTION_BYTES};
pub use snapshot::Snapshot;

use accept::FailureLog;
use actor::Actor;
use app::app_id;
use conns::{Limits, Registry};
use durable::{Clock, Persistence};
use gate::Gate;
use guard::HostPolicy;
use idle::Activity;
use limits::{Admission, Limits as AdmissionLimits};
use log::EventLog;
use routes::{Config, Shared};
use session::SessionTable;
use store::Store;

/// Default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Default heartbeat period of event streams: 15 s.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Default session limit: 10,000.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;
/// Default time `run` waits for open requests after shutdown begins: 10 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a request body may take to arrive: 10 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a request head (line and headers) may take to arrive: 30 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on connections open at once from one IP address: 256. A
/// phone's browser opens six or so, but a client whose network drops leaves
/// streams the server only notices are dead at its next failed write, and a
/// flapping phone must not lock itself out meanwhile.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// By default, a connection whose client has read nothing for this many
/// heartbeat periods while the server had data to send is closed.
pub const DEFAULT_WRITE_TIMEOUT_HEARTBEATS: u32 = 4;

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
    /// Checked (as a header value) when the server binds.
    csp: String,
    net: NetSettings,
    limits: AdmissionLimits,
    idle_timeout: Option<Duration>,
    /// Where the room is kept; `None`: in memory only.
    storage: Option<Storage<A>>,
}

/// The room's data directory, and how the app's state goes into it.
struct Storage<A: RexApp> {
    dir: std::path::PathBuf,
    persistence: Persistence<A>,
}

/// Durable rooms (see `docs/durability.md`).
impl<A: Durable> ServerBuilder<A> {
    /// Keeps the room in the data directory `dir` (created if missing), so
    /// it survives a crash or a restart: the log, the sessions (by a hash
    /// of their tokens), the outcome of each message id and the app's
    /// [`Durable::state`]. Without it the room lives in memory only.
    ///
    /// A call is answered, and its events shown to readers, only once
    /// what it did is on disk (`fsync`); calls that arrive while a write
    /// is in flight share the next one (group commit). A restarted server
    /// with the same directory has the same epoch, head, sessions, tokens
    /// and app state, so clients resume where they were. A directory of
    /// another app, one another running server has open, or one that is
    /// damaged is refused when the server binds, with an error that says
    /// which and where.
    ///
    /// ```no_run
    /// # use rex::{Durable, Server};
    /// # async fn example<A: Durable>(app: A) -> std::io::Result<()> {
    /// let server = Server::builder(app).data_dir("/var/lib/quiz").bind("0.0.0.0:0").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.storage = Some(Storage {
            dir: dir.into(),
            persistence: Persistence::of(),
        });
        self
    }
}

/// The builder's connection settings (see the `ServerBuilder` methods of
/// the same names); `None` means derived when the server binds.
#[derive(Clone, Debug)]
struct NetSettings {
    header_timeout: Duration,
    write_timeout: Option<Duration>,
    max_connections: Option<usize>,
    max_connections_per_address: usize,
}

/// What `run` needs to accept and serve connections.
struct Net {
    registry: Arc<Registry>,
    header_timeout: Duration,
    write_timeout: Duration,
}

/// Admission limits (see `limits.rs` and `docs/protocol.md` §6.1).
impl<A: RexApp> ServerBuilder<A> {
    /// How fast one session may send messages: past it, `POST /messages`
    /// gets `429 too_many_requests` with `Retry-After`, and the app does
    /// not see the message. Defaults to [`DEFAULT_MESSAGE_RATE`] (20 a
    /// second, bursts of 40); [`Rate::unlimited`] turns it off.
    pub fn message_rate(mut self, rate: Rate) -> Self {
        self.limits.message_rate = rate;
        self
    }

    /// How fast one client address (the TCP peer's IP; forwarding headers
    /// are not trusted) may create sessions: past it, `POST /sessions` gets
    /// `429 too_many_requests` with `Retry-After`. Defaults to
    /// [`DEFAULT_SESSION_RATE`] (bursts of 100, then 5 a second).
    pub fn session_rate(mut self, rate: Rate) -> Self {
        self.limits.session_rate = rate;
        self
    }

    /// How many live sessions one client address may hold; creating one
    /// more gets `429 too_many_requests`. Defaults to
    /// [`DEFAULT_SESSIONS_PER_ADDRESS`] (256).
    pub fn sessions_per_address(mut self, n: usize) -> Self {
        self.limits.sessions_per_address = n;
        self
    }
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

    /// How much of the log to keep. Defaults to the newest
    /// [`DEFAULT_RETENTION_BYTES`] (64 MiB) of encoded events;
    /// [`Retention::unlimited`] keeps everything.
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
        self.listener(listener).await
    }

    /// Serves on a listener the caller bound, and starts the app (opening
    /// its store first, if it has one). Must be called inside a tokio
    /// runtime.
    pub async fn listener(mut self, listener: TcpListener) -> io::Result<Server<A>> {
        self.assets.check()?;
        let local_addr = listener.local_addr()?;
        self.config.csp = HeaderValue::from_str(&self.csp).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the Content-Security-Policy {:?} is not a valid header value",
                    self.csp
                ),
            )
        })?;
        let net = self.net.resolve(self.config.heartbeat);
        let activity = Arc::new(Activity::default());
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (stop_tx, stop) = watch::channel(false);
        // Shared by the request handlers (which admit) and the actor (which
        // ends idle sessions and frees their places).
        let admission = Arc::new(Admission::new(self.limits));
        let mut actor = Actor {
            app: self.app,
            log: EventLog::new(self.retention),
            head: 0,
            commits: None,
            sessions: Arc::new(SessionTable::default()),
            max_sessions: self.max_sessions,
            dedupe: Default::default(),
            tx: tx.clone(),
            stop,
            timers: Default::default(),
            activity: activity.clone(),
            idle_timeout: self.idle_timeout,
            admission: Some(admission.clone()),
        };
        match self.storage {
            None => actor.start(),
            Some(storage) => {
                let store: Arc<dyn Store> = Arc::new(store::DiskStore::open_dir(&storage.dir)?);
                let opened =
                    durable::open_room::<A>(store.as_ref(), self.retention, Clock::Wall).await?;
                actor.begin_durable(store, storage.persistence, opened)?;
            }
        }
        let (log, sessions) = (actor.log.clone(), actor.sessions.clone());
        let actor = tokio::spawn(actor.run(rx));
        let shared = Arc::new(Shared {
            log,
            sessions,
            tx,
            config: self.config,
            gate: Arc::new(Gate::default()),
            assets: self.assets,
            admission,
            activity,
        });
        Ok(Server {
            listener,
            local_addr,
            shared,
            stop: StopOnDrop(stop_tx),
            actor,
            shutdown_timeout: self.shutdown_timeout,
            net,
        })
    }
}

impl NetSettings {
    /// The settings, with the defaults that depend on the machine or on
    /// other settings filled in.
    fn resolve(self, heartbeat: Duration) -> Net {
        let limits = Limits {
            total: self
                .max_connections
                .unwrap_or_else(accept::default_max_connections),
            per_address: self.max_connections_per_address,
        };
        Net {
            registry: Registry::new(limits),
            header_timeout: self.header_timeout,
            write_timeout: self
                .write_timeout
                .unwrap_or(heartbeat * DEFAULT_WRITE_TIMEOUT_HEARTBEATS),
        }
    }
}

/// Security and resource limits: what a client on the network (or a web
/// page in a phone's browser) may cost the server. See the "Security"
/// section of `docs/protocol.md`.
impl<A: RexApp> ServerBuilder<A> {
    /// How long a request body may take to arrive once its head has; a
    /// slower one gets `408 request_timeout` and its connection is closed.
    /// Defaults to [`DEFAULT_BODY_TIMEOUT`].
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_timeout = timeout;
        self
    }

    /// How long a request head (request line and headers) may take to
    /// arrive; after it the connection is closed. Defaults to
    /// [`DEFAULT_HEADER_TIMEOUT`].
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.net.header_timeout = timeout;
        self
    }

    /// How long a connection may go without the client reading a byte
    /// while the server has something to send (an event stream of a client
    /// that stopped reading); after it the connection is closed and the
    /// client resumes from its last index when it reads again. Defaults to
    /// [`DEFAULT_WRITE_TIMEOUT_HEARTBEATS`] heartbeat periods.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.net.write_timeout = Some(timeout);
        self
    }

    /// How many connections may be open at once. When all are taken, the
    /// connection idle the longest is closed to make room; when all are
    /// busy, a new one gets `503 unavailable`. Defaults to seven eighths of
    /// the open-files limit (which the server raises to its hard limit when
    /// it binds), so the server never runs out of descriptors.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.net.max_connections = Some(n.max(1));
        self
    }

    /// How many connections one IP address may have open at once; past it,
    /// that address's longest-idle connection is closed to make room, or,
    /// when all are busy, the new one gets `429 too_many_requests`.
    /// Defaults to [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`].
    pub fn max_connections_per_address(mut self, n: usize) -> Self {
        self.net.max_connections_per_address = n.max(1);
        self
    }

    /// Also answers requests whose `Host` is `name` (`"tv.example.org"`),
    /// or, with a leading dot (`".example.org"`), that domain and every
    /// name under it. Without it the server answers only to IP addresses,
    /// `localhost` and `.local` names, and refuses other names with
    /// `403 forbidden`: a web page that rebinds its own name to the
    /// server's address (DNS rebinding) cannot read or write the room.
    pub fn allow_host(mut self, name: impl AsRef<str>) -> Self {
        self.config.hosts.allow(name.as_ref());
        self
    }

    /// Answers requests whatever their `Host` (turns the DNS-rebinding
    /// guard of [`allow_host`](Self::allow_host) off). For a server behind
    /// a reverse proxy that checks names itself.
    pub fn allow_any_host(mut self) -> Self {
        self.config.hosts.any = true;
        self
    }

    /// The `Content-Security-Policy` header of every response. Defaults to
    /// [`DEFAULT_CONTENT_SECURITY_POLICY`] (only the server's own scripts
    /// and styles, nothing inline, no framing). A policy that is not a
    /// valid header value is an error when the server binds.
    pub fn content_security_policy(mut self, policy: impl Into<String>) -> Self {
        self.csp = policy.into();
        self
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
    actor: JoinHandle<Result<(), store::StoreError>>,
    shutdown_timeout: Duration,
    net: Net,
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
                body_timeout: DEFAULT_BODY_TIMEOUT,
                hosts: HostPolicy::default(),
                csp: HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY),
                pin: None,
            },
            retention: Retention::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            assets: Assets::default(),
            csp: DEFAULT_CONTENT_SECURITY_POLICY.to_owned(),
            net: NetSettings {
                header_timeout: DEFAULT_HEADER_TIMEOUT,
                write_timeout: None,
                max_connections: None,
                max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            },
            limits: AdmissionLimits::default(),
            idle_timeout: None,
            storage: None,
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
            net,
        } = self;
        tracing::info!(app = app_id::<A>(), addr = %local_addr, epoch = %shared.log.epoch(), "serving");
        let (closing_tx, closing) = watch::channel(false);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(net.header_timeout);
        let mut failures = FailureLog::new(Duration::from_secs(1));
        let refusing = Arc::new(Semaphore::new(accept::MAX_REFUSING));
        tokio::pin!(shutdown);
        let mut actor = actor;
        // Set when the app stopped on its own: its store failed.
        let mut failed: Option<io::Error> = None;
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // instead of spinning, and keep serving.
                        failures.failed(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
                ended = &mut actor => {
                    failed = Some(match ended {
                        Ok(Err(e)) => e.into(),
                        Ok(Ok(())) => io::Error::other("the app stopped"),
                        Err(e) => io::Error::other(format!("the app's task failed: {e}")),
                    });
                    break;
                }
            };
            match net.registry.admit(peer.ip()) {
                Ok(slot) => {
                    tokio::spawn(connection::serve(
                        stream,
                        peer,
                        slot,
                        shared.clone(),
                        http.clone(),
                        net.write_timeout,
                        closing.clone(),
                    ));
                }
                Err(full) => {
                    tracing::debug!(%peer, ?full, "no room for a connection; refusing it");
                    // Past the few refusals answered at once, close at
                    // once: answering must not use up descriptors itself.
                    if let Ok(permit) = refusing.clone().try_acquire_owned() {
                        tokio::spawn(async move {
                            accept::refuse(stream, full).await;
                            drop(permit);
                        });
                    }
                }
            }
        }
        drop(listener);
        tracing::info!(app = app_id::<A>(), "shutting down");
        // New requests get 503 and idle connections close at once; requests
        // in flight finish; then the open streams send every event up to the
        // head (including what those requests appended) and end.
        closing_tx.send_replace(true);
        let drain = async {
            let streams = async {
                shared.gate.close().await;
                shared.log.end_streams();
            };
            tokio::join!(net.registry.closed(), streams);
        };
        if tokio::time::timeout(shutdown_timeout, drain).await.is_err() {
            tracing::warn!(
                ?shutdown_timeout,
                "requests still open after the shutdown timeout; closing them"
            );
        }
        drop(stop);
        if let Some(failed) = failed {
            tracing::error!(error = %failed, "stopped: the room's store failed");
            return Err(failed);
        }
        match actor.await {
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the room's store failed while stopping");
                return Err(e.into());
            }
            Err(e) => return Err(io::Error::other(format!("the app's task failed: {e}"))),
            Ok(Ok(())) => {}
        }
        tracing::info!(app = app_id::<A>(), "stopped");
        Ok(())
    }
}
