//! A host of rooms: any number of independent rooms of one app in one
//! server, each joined by a four-letter code and served under
//! `/r/<code>` (`docs/protocol.md` §15).

mod directory;
#[cfg(feature = "redis")]
mod group;
#[cfg(feature = "redis")]
mod shared;
mod site;
mod storage;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use rex_proto::{CreateRoom, ErrorBody, RoomCode, RoomCreated};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::app::app_id;
use super::app::{AppHandle, Reject, RexApp};
use super::assets::Assets;
use super::bucket::Rate;
use super::durable::Durable;
use super::durable::Persistence;
use super::limits::AddressRate;
use super::listen::{self, Net};
use super::settings::{self, Settings};
use directory::Directory;
#[cfg(feature = "redis")]
use shared::{Shared, SharedConfig};
use site::{Backing, HostLimits, HostSite, HostStorage};
use storage::HostDir;

/// Default cap on rooms open at once on a host: 1,000.
pub const DEFAULT_MAX_ROOMS: usize = 1_000;
/// Default time a hosted room may stay idle (no message, no new session,
/// no open event stream) before it is closed: 30 minutes.
pub const DEFAULT_ROOM_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default time an ended room's URLs answer `410 gone` before they answer
/// `404` and its code may be handed out again: 1 hour.
pub const DEFAULT_ENDED_ROOM_GONE_FOR: Duration = Duration::from_secs(60 * 60);
/// Default rate at which one client address may open rooms: bursts of 10,
/// then one a second.
pub const DEFAULT_ROOM_CREATION_RATE: Rate = Rate::new(1, 10);

/// What a host's room factory is given to make the app of a new room (and
/// again, with the same values, when a durable host restores the room).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewRoom {
    /// The room's code.
    pub code: RoomCode,
    /// The room's display name: the one asked for, or the host's.
    pub name: String,
    /// The fields of the `POST /rex/v0/rooms` body other than `name`: the
    /// app's own settings, not yet checked.
    pub settings: Map<String, Value>,
}

impl NewRoom {
    /// The settings decoded as the app's own type; a refusal that says
    /// what did not fit (the client gets `409 rejected` with it).
    ///
    /// ```
    /// # use rex::{NewRoom, Reject};
    /// #[derive(serde::Deserialize, Default)]
    /// #[serde(default)]
    /// struct QuizSettings { rounds: u32 }
    /// # fn make(room: &NewRoom) -> Result<u32, Reject> {
    /// let settings: QuizSettings = room.settings_as()?;
    /// # Ok(settings.rounds) }
    /// ```
    pub fn settings_as<S: DeserializeOwned>(&self) -> Result<S, Reject> {
        serde_json::from_value(Value::Object(self.settings.clone()))
            .map_err(|e| Reject::new(format!("the room's settings do not fit: {e}")))
    }
}

/// Makes a room's app.
pub(crate) type Factory<A> = Arc<dyn Fn(&NewRoom) -> Result<A, Reject> + Send + Sync>;

/// Makes the pages of a room that are its own.
pub(crate) type RoomPages = Arc<dyn Fn(&NewRoom) -> Assets + Send + Sync>;

/// Configures a [`Host`] before it binds. Made by [`Host::builder`]. Every
/// setting of a [`crate::ServerBuilder`] is here too and applies to each
/// room (sessions, limits, retention, pages) or to the server (timeouts,
/// connections, names it answers to).
#[must_use = "a builder does nothing until `bind` or `listener` is called"]
pub struct HostBuilder<A: RexApp> {
    factory: Factory<A>,
    settings: Settings,
    limits: HostLimits,
    creation_rate: Rate,
    landing: Assets,
    room_pages: Option<RoomPages>,
    storage: Option<(Keep, Persistence<A>)>,
    /// How this host joins a group, if it keeps its rooms in Redis.
    #[cfg(feature = "redis")]
    group: SharedConfig,
}

/// Where a durable host keeps its rooms.
enum Keep {
    Dir(std::path::PathBuf),
    /// A Redis URL.
    #[cfg(feature = "redis")]
    Redis(String),
}

/// Default lease of a room on a host of a group: how long a dead host's
/// rooms wait before another host takes them over. 10 seconds.
#[cfg(feature = "redis")]
pub const DEFAULT_ROOM_LEASE: Duration = Duration::from_secs(10);

settings::settings_methods!(HostBuilder);

impl<A: RexApp> HostBuilder<A> {
    /// How many rooms may be open at once; opening one more gets
    /// `503 unavailable`. Defaults to [`DEFAULT_MAX_ROOMS`].
    pub fn max_rooms(mut self, n: usize) -> Self {
        self.limits.max_rooms = n;
        self
    }

    /// Closes a room that has had no message, no new session and no open
    /// event stream for `timeout`. Defaults to
    /// [`DEFAULT_ROOM_IDLE_TIMEOUT`].
    pub fn room_idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// How long an ended room's URLs answer `410 gone` (so its players'
    /// pages can say the game is over) before they answer `404` and the
    /// code may name a new room. Defaults to
    /// [`DEFAULT_ENDED_ROOM_GONE_FOR`].
    pub fn ended_room_gone_for(mut self, period: Duration) -> Self {
        self.limits.gone_for = period;
        self
    }

    /// How fast one client address may open rooms; past it,
    /// `POST /rex/v0/rooms` gets `429 too_many_requests` with
    /// `Retry-After`. Defaults to [`DEFAULT_ROOM_CREATION_RATE`].
    pub fn room_creation_rate(mut self, rate: Rate) -> Self {
        self.creation_rate = rate;
        self
    }

    /// The host's own pages, served at its root (`/`: where a TV opens a
    /// room and a phone types a code). Each room's pages are
    /// [`assets`](Self::assets), served under the room's path.
    pub fn landing(mut self, pages: Assets) -> Self {
        self.landing = pages;
        self
    }

    /// Pages each room has of its own, made from what the room was opened
    /// with (its code, say: a QR code of the room's join URL), served
    /// under the room's path with the shared [`assets`](Self::assets); a
    /// file at the same path as a shared one replaces it in that room.
    /// Called when a room opens, and again when a durable host restores
    /// it. A room whose pages have a bad path is not opened (`500
    /// internal`, naming the path).
    ///
    /// ```no_run
    /// # use rex::{Assets, Host, RexApp};
    /// # async fn example<A: RexApp + Default>() -> std::io::Result<()> {
    /// let host = Host::builder(|_room: &rex::NewRoom| Ok(A::default()))
    ///     .room_assets(|room: &rex::NewRoom| {
    ///         let join = format!("{{\"code\": \"{}\"}}", room.code);
    ///         Assets::new().file("/join.json", join)
    ///     })
    ///     .bind("0.0.0.0:7700")
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn room_assets(
        mut self,
        pages: impl Fn(&NewRoom) -> Assets + Send + Sync + 'static,
    ) -> Self {
        self.room_pages = Some(Arc::new(pages));
        self
    }

    /// Binds `addr` and restores the stored rooms, if the host has a data
    /// directory. Must be called inside a tokio runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<Host<A>> {
        let listener = TcpListener::bind(addr).await?;
        self.listener(listener).await
    }

    /// Serves on a listener the caller bound, and restores the stored
    /// rooms, if the host has a data directory. Must be called inside a
    /// tokio runtime.
    pub async fn listener(self, listener: TcpListener) -> io::Result<Host<A>> {
        let local_addr = listener.local_addr()?;
        let shutdown_timeout = self.settings.shutdown_timeout;
        self.landing.check()?;
        let (config, net, rooms) = self.settings.resolve()?;
        let storage = match self.storage {
            None => None,
            Some((Keep::Dir(dir), persistence)) => Some(HostStorage {
                backing: Backing::Dir(Arc::new(HostDir::open(&dir)?)),
                persistence,
            }),
            #[cfg(feature = "redis")]
            Some((Keep::Redis(url), persistence)) => {
                let shared = SharedConfig { url, ..self.group };
                let public_url = match &shared.public_url {
                    Some(url) => url.trim_end_matches('/').to_owned(),
                    None if local_addr.ip().is_unspecified() => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!(
                                "a host sharing rooms through Redis is bound to {local_addr}, \
                                 which other hosts cannot send clients to: give it its \
                                 public_url (http://<this host's address>:{})",
                                local_addr.port()
                            ),
                        ))
                    }
                    None => format!("http://{local_addr}"),
                };
                let shared = Shared::connect(&shared, public_url).await?;
                shared.heartbeat().await?;
                Some(HostStorage {
                    backing: Backing::Shared(Arc::new(shared)),
                    persistence,
                })
            }
        };
        let site = Arc::new_cyclic(|this| HostSite {
            config,
            rooms,
            limits: self.limits,
            factory: self.factory,
            directory: RwLock::new(Directory::default()),
            creation: AddressRate::new(self.creation_rate),
            landing: self.landing,
            room_pages: self.room_pages,
            storage,
            wake: Arc::new(Notify::new()),
            this: this.clone(),
            adopting: Default::default(),
        });
        restore(&site).await?;
        Ok(Host {
            listener,
            local_addr,
            site,
            shutdown_timeout,
            net,
        })
    }
}

/// Durable hosts (see `docs/durability.md`).
impl<A: Durable> HostBuilder<A> {
    /// Keeps every room in the data directory `dir` (created if missing),
    /// each in its own store under `dir/rooms/<code>`, with the same
    /// guarantees as [`crate::ServerBuilder::data_dir`]. A restarted host
    /// brings every room back with its code, epoch, head, sessions and
    /// state (its app made again by the factory, then restored); an ended
    /// room's data is deleted. A directory another running host uses is
    /// refused when the host binds.
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.storage = Some((Keep::Dir(dir.into()), Persistence::of()));
        self
    }

    /// Keeps every room in the Redis at `url` (`redis://127.0.0.1:6379/`),
    /// shared with every other host given the same Redis and
    /// [`redis_prefix`](Self::redis_prefix): a group of hosts
    /// (`docs/scaling.md`, `docs/protocol.md` §16).
    ///
    /// Each room is served by one host of the group at a time, which holds
    /// its lease; a request for it at another host answers `307` to that
    /// host's [`public_url`](Self::public_url). When a host dies, its
    /// rooms are taken over by the host the next request for each reaches,
    /// after the [lease](Self::room_lease) runs out: loaded with the same
    /// epoch, head, sessions and state, their scheduled work re-armed.
    /// Replaces [`data_dir`](Self::data_dir). Run Redis with
    /// `appendonly yes`; a host warns at start when it is not.
    ///
    /// ```no_run
    /// # use rex::{Durable, Host};
    /// # async fn example<A: Durable + Default>() -> std::io::Result<()> {
    /// let host = Host::builder(|_room: &rex::NewRoom| Ok(A::default()))
    ///     .redis("redis://10.0.0.2:6379/")
    ///     .public_url("http://10.0.0.5:7700")
    ///     .bind("0.0.0.0:7700")
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.storage = Some((Keep::Redis(url.into()), Persistence::of()));
        self
    }
}

/// Hosts of a group (see [`HostBuilder::redis`]).
#[cfg(feature = "redis")]
impl<A: RexApp> HostBuilder<A> {
    /// The prefix of every Redis key of the group (default `rex`): hosts
    /// with different prefixes on one Redis are separate groups.
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.group.prefix = prefix.into();
        self
    }

    /// The base URL clients reach this host at (`http://10.0.0.5:7700`),
    /// where the other hosts of the group send the clients of its rooms.
    /// Defaults to `http://` and the bound address, which must then not be
    /// `0.0.0.0` or `[::]`. It identifies the host in the group: a host
    /// restarted with the same URL takes its rooms back at once, without
    /// waiting for their leases.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.group.public_url = Some(url.into());
        self
    }

    /// How long a room's lease lasts unless renewed (every third of it):
    /// how long a dead host's rooms wait before another host takes them
    /// over, and how long a host cut off from Redis keeps serving. Defaults
    /// to [`DEFAULT_ROOM_LEASE`]; at least one second.
    pub fn room_lease(mut self, lease: Duration) -> Self {
        self.group.lease = lease.max(Duration::from_secs(1));
        self
    }
}

/// Brings back the rooms a durable host stored. A room that cannot be
/// loaded keeps its code and data and answers `503` saying why; the other
/// rooms are served.
async fn restore<A: RexApp>(site: &Arc<HostSite<A>>) -> io::Result<()> {
    let Some(storage) = &site.storage else {
        return Ok(());
    };
    let dir = match &storage.backing {
        Backing::Dir(dir) => dir.clone(),
        // A group's rooms are taken over when asked for, not at start.
        #[cfg(feature = "redis")]
        Backing::Shared(_) => return Ok(()),
    };
    let stored = tokio::task::spawn_blocking(move || dir.list())
        .await
        .map_err(|e| io::Error::other(format!("listing the stored rooms failed: {e}")))??;
    for (code, record) in stored {
        site.write().reserve_code(code);
        let opened = match record {
            Ok(record) => {
                let new = NewRoom {
                    code,
                    name: record.name,
                    settings: record.settings,
                };
                site.open(&new, false, None)
                    .await
                    .map_err(|e| e.body.reason)
            }
            Err(why) => Err(why),
        };
        match opened {
            Ok(hosted) => {
                site.write().fill(code, hosted);
                tracing::info!(room = %code, "room restored");
            }
            Err(why) => {
                tracing::error!(room = %code, %why, "a stored room could not be loaded; its data is kept");
                site.write().fail(code, why);
            }
        }
    }
    Ok(())
}

/// A bound host of rooms, ready to [`run`](Host::run).
///
/// ```no_run
/// # use rex::{Host, RexApp};
/// # async fn example<A: RexApp + Default>() -> std::io::Result<()> {
/// let host = Host::builder(|_room: &rex::NewRoom| Ok(A::default()))
///     .name("Quiz night")
///     .bind("0.0.0.0:7700")
///     .await?;
/// println!("open a room: POST http://{}/rex/v0/rooms", host.local_addr());
/// host.run(async { tokio::signal::ctrl_c().await.ok(); }).await
/// # }
/// ```
pub struct Host<A: RexApp> {
    listener: TcpListener,
    local_addr: SocketAddr,
    site: Arc<HostSite<A>>,
    shutdown_timeout: Duration,
    net: Net,
}

impl<A: RexApp> Host<A> {
    /// Starts configuring a host whose rooms' apps `factory` makes. It is
    /// called for each new room with what the room was asked for (its
    /// code, name and settings); a [`Reject`] refuses the room, and the
    /// client gets `409 rejected` with its reason.
    pub fn builder(
        factory: impl Fn(&NewRoom) -> Result<A, Reject> + Send + Sync + 'static,
    ) -> HostBuilder<A> {
        HostBuilder {
            factory: Arc::new(factory),
            settings: Settings::new(app_id::<A>()),
            limits: HostLimits {
                max_rooms: DEFAULT_MAX_ROOMS,
                idle_timeout: DEFAULT_ROOM_IDLE_TIMEOUT,
                gone_for: DEFAULT_ENDED_ROOM_GONE_FOR,
            },
            creation_rate: DEFAULT_ROOM_CREATION_RATE,
            landing: Assets::default(),
            room_pages: None,
            storage: None,
            #[cfg(feature = "redis")]
            group: SharedConfig {
                url: String::new(),
                prefix: "rex".to_owned(),
                public_url: None,
                lease: DEFAULT_ROOM_LEASE,
            },
        }
    }

    /// The address the host is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The host's display name (`GET /rex/v0/host`, discovery).
    pub fn name(&self) -> &str {
        &self.site.rooms.name
    }

    /// A handle to the host's rooms, to open, reach and close them from
    /// the server's own code while it runs. Cheap to clone.
    pub fn control(&self) -> HostControl<A> {
        HostControl {
            site: Arc::downgrade(&self.site),
        }
    }

    /// Serves until `shutdown` completes, then shuts down gracefully: stops
    /// accepting, lets requests in flight finish, lets every room's open
    /// streams send what the log holds and end, then stops every room's
    /// app (a durable room's last writes land first). Rooms stay stored.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Host {
            listener,
            local_addr,
            site,
            shutdown_timeout,
            net,
        } = self;
        tracing::info!(app = app_id::<A>(), addr = %local_addr, rooms = site.read_open(), "hosting");
        let reaper = tokio::spawn(reap(Arc::downgrade(&site)));
        #[cfg(feature = "redis")]
        let keeper = site
            .shared()
            .map(|shared| tokio::spawn(group::keep_leases(Arc::downgrade(&site), shared)));
        let failed = listen::serve(
            listener,
            site.clone(),
            net,
            shutdown_timeout,
            shutdown,
            std::future::pending(),
        )
        .await;
        reaper.abort();
        #[cfg(feature = "redis")]
        if let Some(keeper) = keeper {
            keeper.abort();
        }
        tracing::info!(app = app_id::<A>(), "shutting down");
        let broken = site.stop_all().await;
        if let Some(failed) = failed {
            return Err(failed);
        }
        if let Some((code, error)) = broken.into_iter().next() {
            tracing::error!(room = %code, %error, "a room's store failed while stopping");
            return Err(error.into());
        }
        tracing::info!(app = app_id::<A>(), "stopped");
        Ok(())
    }
}

/// Reaches a running [`Host`]'s rooms: lists, opens and closes them, and
/// hands out their apps' [`AppHandle`]s. Made by [`Host::control`].
///
/// It does not keep the host alive: once [`Host::run`] has returned (and
/// the host's data directory is free again), it finds no rooms and opens
/// none.
pub struct HostControl<A: RexApp> {
    site: Weak<HostSite<A>>,
}

impl<A: RexApp> Clone for HostControl<A> {
    fn clone(&self) -> Self {
        HostControl {
            site: self.site.clone(),
        }
    }
}

impl<A: RexApp> std::fmt::Debug for HostControl<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostControl")
            .field("app", &app_id::<A>())
            .field("running", &(self.site.strong_count() > 0))
            .finish()
    }
}

impl<A: RexApp> HostControl<A> {
    /// The codes of the open rooms, in no particular order.
    pub fn rooms(&self) -> Vec<RoomCode> {
        let Some(site) = self.site.upgrade() else {
            return Vec::new();
        };
        let directory = site
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        directory.live().map(|(code, _)| *code).collect()
    }

    /// Opens a room, as `POST /rex/v0/rooms` does (without its rate limit).
    pub async fn open_room(&self, request: CreateRoom) -> Result<RoomCreated, ErrorBody> {
        let Some(site) = self.site.upgrade() else {
            return Err(ErrorBody::new(
                rex_proto::ErrorCode::Unavailable,
                "the host has stopped",
            ));
        };
        site.create(request).await.map_err(|e| e.body)
    }

    /// A handle to the app of open room `code`.
    pub fn room(&self, code: RoomCode) -> Option<AppHandle<A>> {
        let hosted = self.site.upgrade()?.live(&code)?;
        Some(AppHandle {
            tx: hosted.room.tx.clone(),
        })
    }

    /// Closes open room `code` now, as if its app had closed it with no
    /// grace period. `false` if no such room is open.
    pub fn close_room(&self, code: RoomCode) -> bool {
        let Some(site) = self.site.upgrade() else {
            return false;
        };
        if site.live(&code).is_none() {
            return false;
        }
        site.dispose(code, "closed by the host");
        true
    }
}

/// Closes rooms when they are due: idle for the idle timeout, or past the
/// grace period their app gave; and forgets ended rooms after their `410`
/// period. Sleeps until the next such moment, or until woken (a room
/// opened, a stream closed, an app closed its room).
async fn reap<A: RexApp>(site: Weak<HostSite<A>>) {
    loop {
        let Some(strong) = site.upgrade() else { return };
        let wake = strong.wake.clone();
        let woken = wake.notified();
        tokio::pin!(woken);
        // Registered before looking, so a wake-up meanwhile is not lost.
        woken.as_mut().enable();
        let next = strong.sweep(Instant::now());
        drop(strong);
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = &mut woken => {}
                }
            }
            None => woken.await,
        }
    }
}

impl<A: RexApp> HostSite<A> {
    /// Closes the rooms due at `now`; returns when the next thing is due.
    fn sweep(&self, now: Instant) -> Option<Instant> {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        {
            let directory = self
                .directory
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for (code, hosted) in directory.live() {
                let closing = *hosted
                    .close_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let idle = hosted
                    .room
                    .usage
                    .as_ref()
                    .and_then(|usage| usage.idle_since())
                    .map(|since| since + self.limits.idle_timeout);
                let (at, why) = match (closing, idle) {
                    (Some(c), Some(i)) if i < c => (i, "idle"),
                    (Some(c), _) => (c, "closed by its app"),
                    (None, Some(i)) => (i, "idle"),
                    (None, None) => continue,
                };
                if at <= now {
                    due.push((*code, why));
                } else {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        for (code, why) in due {
            self.dispose(code, why);
        }
        let ended = self.write().forget_ended(now);
        match (next, ended) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn read_open(&self) -> usize {
        self.directory
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .open()
    }
}
