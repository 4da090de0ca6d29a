//! The REx server: binds a port, runs the app as an actor, serves protocol
//! v0 over HTTP/1.1 (see `docs/protocol.md`), and shuts down gracefully.
//! A [`Server`] serves one room at the root of its URLs; a [`Host`] serves
//! any number of rooms of one app, each under `/r/<code>`.

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
mod host;
pub(crate) mod idle;
mod launch;
mod limits;
mod listen;
pub(crate) mod log;
mod routes;
pub(crate) mod session;
mod settings;
mod snapshot;
mod stall;
pub(crate) mod store;
mod stream;
mod usage;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rex_proto::Epoch;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;

pub use app::{AppHandle, AppStopped, Context, Dispatch, EventOf, Reject, RexApp, Scheduled};
pub use assets::{Assets, CLIENT_DTS_PATH, CLIENT_JS_PATH};
pub use bucket::Rate;
pub use durable::Durable;
pub use hardening::DEFAULT_CONTENT_SECURITY_POLICY;
#[cfg(feature = "redis")]
pub use host::DEFAULT_ROOM_LEASE;
pub use host::{
    Host, HostBuilder, HostControl, NewRoom, DEFAULT_ENDED_ROOM_GONE_FOR, DEFAULT_MAX_ROOMS,
    DEFAULT_ROOM_CREATION_RATE, DEFAULT_ROOM_IDLE_TIMEOUT,
};
pub use limits::{DEFAULT_MESSAGE_RATE, DEFAULT_SESSIONS_PER_ADDRESS, DEFAULT_SESSION_RATE};
pub use log::{Retention, DEFAULT_RETENTION_BYTES};
pub use settings::{
    DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_HEARTBEAT,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_SESSIONS, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT_HEARTBEATS,
};
pub use snapshot::Snapshot;

use app::app_id;
use durable::Persistence;
use launch::{Hooks, Kept, StopOnDrop};
use listen::Net;
use routes::SingleRoom;
use settings::Settings;

/// Configures a [`Server`] before it binds. Made by [`Server::builder`].
#[must_use = "a builder does nothing until `bind` or `listener` is called"]
pub struct ServerBuilder<A: RexApp> {
    app: A,
    settings: Settings,
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

settings::settings_methods!(ServerBuilder);

impl<A: RexApp> ServerBuilder<A> {
    /// Binds `addr` (`"127.0.0.1:0"` or `"0.0.0.0:0"` for a random port) and
    /// starts the app. Must be called inside a tokio runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Server<A>> {
        let listener = TcpListener::bind(addr).await?;
        self.listener(listener).await
    }

    /// Serves on a listener the caller bound, and starts the app (opening
    /// its store first, if it has one). Must be called inside a tokio
    /// runtime.
    pub async fn listener(self, listener: TcpListener) -> io::Result<Server<A>> {
        let local_addr = listener.local_addr()?;
        let shutdown_timeout = self.settings.shutdown_timeout;
        let (config, net, rooms) = self.settings.resolve()?;
        let kept = match self.storage {
            None => None,
            Some(storage) => Some(Kept {
                store: Arc::new(store::DiskStore::open_dir(&storage.dir)?),
                persistence: storage.persistence,
            }),
        };
        let launched = launch::launch(self.app, &rooms, kept, Hooks::default()).await?;
        let site = Arc::new(SingleRoom {
            config,
            room: launched.room,
        });
        Ok(Server {
            listener,
            local_addr,
            site,
            stop: launched.stop,
            actor: launched.actor,
            shutdown_timeout,
            net,
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
    site: Arc<SingleRoom<A>>,
    stop: StopOnDrop,
    actor: JoinHandle<Result<(), store::StoreError>>,
    shutdown_timeout: Duration,
    net: Net,
}

impl<A: RexApp> Server<A> {
    /// Starts configuring a server for `app`.
    pub fn builder(app: A) -> ServerBuilder<A> {
        ServerBuilder {
            app,
            settings: Settings::new(app_id::<A>()),
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
        self.site.room.log.epoch()
    }

    /// The room's display name, as set by [`ServerBuilder::name`] (what
    /// `/info` reports and discovery advertises).
    pub fn name(&self) -> &str {
        &self.site.room.name
    }

    /// A handle to the app, for the TV's own input and other tasks.
    pub fn handle(&self) -> AppHandle<A> {
        AppHandle {
            tx: self.site.room.tx.clone(),
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
            site,
            stop,
            mut actor,
            shutdown_timeout,
            net,
        } = self;
        tracing::info!(app = app_id::<A>(), addr = %local_addr, epoch = %site.room.log.epoch(), "serving");
        // The app's task ends on its own only when its store failed.
        let app_failed = async {
            match (&mut actor).await {
                Ok(Err(e)) => e.into(),
                Ok(Ok(())) => io::Error::other("the app stopped"),
                Err(e) => io::Error::other(format!("the app's task failed: {e}")),
            }
        };
        let failed =
            listen::serve(listener, site, net, shutdown_timeout, shutdown, app_failed).await;
        tracing::info!(app = app_id::<A>(), "shutting down");
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
