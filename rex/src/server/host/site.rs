//! The host as a site: its own endpoints (`POST /rex/v0/rooms`, `GET
//! /rex/v0/host`, its landing pages) and each room under `/r/<code>`;
//! opening, restoring and disposing of rooms.

use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rex_proto::{path, CreateRoom, ErrorCode, HostInfo, RoomCode, RoomCreated, PROTOCOL_VERSION};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::directory::{Directory, Found, Full as NoRoom};
#[cfg(feature = "redis")]
use super::shared::{Claim, Shared};
use super::storage::{HostDir, RoomRecord};
use super::{Factory, NewRoom, RoomPages};
use crate::server::access;
use crate::server::app::app_id;
use crate::server::app::RexApp;
use crate::server::assets::{self, Assets};
use crate::server::durable::Persistence;
use crate::server::launch::{self, Hooks, Kept, StopOnDrop};
use crate::server::limits::AddressRate;
use crate::server::routes::error::{json_response, too_many};
use crate::server::routes::request::{self, allow, client_addr, read_json};
use crate::server::routes::{files, route_room, ApiError, Body, Config, Room, Site};
use crate::server::settings::RoomSettings;
use crate::server::store::{DiskStore, StoreError};

/// The host's limits and timeouts, as set on its builder.
#[derive(Clone, Debug)]
pub(crate) struct HostLimits {
    pub(crate) max_rooms: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) gone_for: Duration,
}

/// The lease under which a host of a group serves a room.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Lease {
    /// What the room's store writes under (the fence).
    pub(crate) token: String,
    /// Until when this host may serve the room without hearing from
    /// Redis again: a renewal sent at `t` is good until `t` + the lease
    /// time, less a margin for clocks that run at slightly different
    /// speeds.
    pub(crate) valid_until: Mutex<Instant>,
}

impl Lease {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn valid(&self, now: Instant) -> bool {
        now < *self
            .valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// An open room of the host.
pub(crate) struct Hosted<A: RexApp> {
    pub(crate) room: Room<A>,
    /// On a host of a group: the room's lease.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) lease: Option<Lease>,
    /// When the app asked for the room to close (`Context::close_room`).
    pub(crate) close_at: Mutex<Option<Instant>>,
    /// Taken when the room is disposed.
    stop: Mutex<Option<StopOnDrop>>,
    actor: Mutex<Option<JoinHandle<Result<(), StoreError>>>>,
}

impl<A: RexApp> Hosted<A> {
    /// Lets requests in flight finish and ends the room's streams (after
    /// they send what the log holds).
    pub(crate) async fn close(&self) {
        self.room.gate.close().await;
        self.room.log.end_streams();
    }

    /// Stops the room's app and waits until it has stopped, its last
    /// writes landed: what its task ended with, or `None` if it was
    /// already stopped.
    pub(crate) async fn stop_app(
        &self,
    ) -> Option<Result<Result<(), StoreError>, tokio::task::JoinError>> {
        drop(
            self.stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let actor = self
            .actor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(actor.await)
    }
}

/// Where a durable host keeps its rooms.
pub(crate) struct HostStorage<A: RexApp> {
    pub(crate) backing: Backing,
    pub(crate) persistence: Persistence<A>,
}

/// A data directory of its own, or a Redis shared with other hosts.
pub(crate) enum Backing {
    Dir(Arc<HostDir>),
    #[cfg(feature = "redis")]
    Shared(Arc<Shared>),
}

pub(crate) struct HostSite<A: RexApp> {
    pub(crate) config: Config,
    pub(crate) rooms: RoomSettings,
    pub(crate) limits: HostLimits,
    pub(crate) factory: Factory<A>,
    pub(crate) directory: RwLock<Directory<Arc<Hosted<A>>>>,
    pub(crate) creation: AddressRate,
    pub(crate) landing: Assets,
    /// Each room's own pages, added to the shared ones.
    pub(crate) room_pages: Option<RoomPages>,
    pub(crate) storage: Option<HostStorage<A>>,
    /// Wakes the reaper: a room may have become idle, or been closed.
    pub(crate) wake: Arc<Notify>,
    /// This site, for the hooks rooms call back through.
    pub(crate) this: Weak<HostSite<A>>,
    /// Rooms being opened or asked about, one at a time each.
    pub(crate) adopting: Turns,
}

/// A room code's turn, held.
pub(crate) type Turn = tokio::sync::OwnedMutexGuard<()>;

/// One turn at a time per room code: opening a room, or asking the group
/// about it.
#[derive(Default)]
pub(crate) struct Turns(Mutex<std::collections::HashMap<RoomCode, Weak<tokio::sync::Mutex<()>>>>);

impl Turns {
    /// The lock of `code`'s turn; it lives while someone holds it.
    pub(crate) fn turn(&self, code: RoomCode) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        turns.retain(|_, turn| turn.strong_count() > 0);
        if let Some(turn) = turns.get(&code).and_then(Weak::upgrade) {
            return turn;
        }
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        turns.insert(code, Arc::downgrade(&turn));
        turn
    }
}

impl<A: RexApp> HostSite<A> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Directory<Arc<Hosted<A>>>> {
        self.directory
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Directory<Arc<Hosted<A>>>> {
        self.directory
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The open room `code`, if there is one.
    pub(crate) fn live(&self, code: &RoomCode) -> Option<Arc<Hosted<A>>> {
        match self.read().get(code) {
            Found::Live(room) => Some(room.clone()),
            _ => None,
        }
    }

    /// Opens a new room: a free code, the app from the factory, its store
    /// (on a durable host), its actor.
    pub(crate) async fn create(&self, body: CreateRoom) -> Result<RoomCreated, ApiError> {
        let name = match body.name {
            Some(name) => {
                access::check_name(&name).map_err(|r| ApiError::new(r.code, r.reason))?;
                name
            }
            None => self.rooms.name.clone(),
        };
        let (code, lease, _turn) = self.reserve_new(&name, &body.settings).await?;
        let new = NewRoom {
            code,
            name,
            settings: body.settings,
        };
        match self.open(&new, true, lease).await {
            Ok(hosted) => {
                self.write().fill(code, hosted);
                self.wake.notify_one();
                tracing::info!(room = %code, "room opened");
                Ok(RoomCreated {
                    room: code,
                    path: code.path(),
                    app: app_id::<A>().to_owned(),
                    name: new.name,
                })
            }
            Err(error) => {
                self.write().cancel(code);
                #[cfg(feature = "redis")]
                if let Some(shared) = self.shared() {
                    shared.unclaim(code).await;
                }
                Err(error)
            }
        }
    }

    /// Takes a free code for a new room: free on this host and, on a host
    /// of a group, claimed in Redis with the room's record (so no other
    /// host hands it out) and leased to this host.
    // Without Redis the first free code is the room's: the loop ends at once.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables, clippy::never_loop))]
    async fn reserve_new(
        &self,
        name: &str,
        settings: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(RoomCode, Option<Taken>, Turn), ApiError> {
        // Codes other hosts of the group hold are skipped as well.
        for _ in 0..CLAIM_TRIES {
            let code = self
                .write()
                .reserve(self.limits.max_rooms, RoomCode::new_random)
                .map_err(|full| match full {
                    NoRoom::Rooms(max) => ApiError::new(
                        ErrorCode::Unavailable,
                        format!(
                            "this host has {max} rooms open, the most it allows; try again when a \
                             game has ended"
                        ),
                    ),
                    NoRoom::Codes => no_free_code(),
                })?;
            // Held until the room is open (or given up): a request for the
            // code meanwhile waits, instead of asking the group and taking
            // this host's own lease again under the opening room's feet.
            let turn = self.adopting.turn(code).lock_owned().await;
            #[cfg(feature = "redis")]
            if let Some(shared) = self.shared() {
                let record = RoomRecord::new(code, name.to_owned(), settings.clone());
                let claimed = shared.claim_code(&record).await;
                if !matches!(claimed, Ok(true)) {
                    self.write().cancel(code);
                }
                match claimed {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Err(redis_unavailable(e)),
                }
                let asked = Instant::now();
                return match shared.claim(code).await {
                    Ok(Claim::Mine(token, _)) => Ok((code, Some(Taken { token, asked }), turn)),
                    other => {
                        self.write().cancel(code);
                        shared.unclaim(code).await;
                        Err(match other {
                            Err(e) => redis_unavailable(e),
                            Ok(_) => ApiError::new(
                                ErrorCode::Internal,
                                format!("room {code} was taken by another host while it opened"),
                            ),
                        })
                    }
                };
            }
            return Ok((code, None, turn));
        }
        Err(no_free_code())
    }

    /// Makes the app of `new` and starts its room: a fresh one (`fresh`),
    /// or one restored from its store.
    pub(crate) async fn open(
        &self,
        new: &NewRoom,
        fresh: bool,
        taken: Option<Taken>,
    ) -> Result<Arc<Hosted<A>>, ApiError> {
        let app = (self.factory)(new).map_err(|reject| {
            ApiError::new(
                ErrorCode::Rejected,
                format!("the room was not opened: {}", reject.reason()),
            )
        })?;
        let kept = match &self.storage {
            None => None,
            Some(storage) => Some(self.keep(storage, new, fresh, taken.as_ref()).await?),
        };
        let code = new.code;
        let this = self.this.clone();
        let wake = self.wake.clone();
        let on_close = Arc::new(move |grace: Duration| {
            let Some(site) = this.upgrade() else { return };
            if let Some(hosted) = site.live(&code) {
                let at = Instant::now() + grace;
                *hosted
                    .close_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(at);
                tracing::info!(room = %code, ?grace, "the app closes its room");
                wake.notify_one();
            }
        });
        let mut settings = self.rooms.clone();
        settings.name = new.name.clone();
        if let Some(pages) = &self.room_pages {
            let own = pages(new);
            own.check().map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("room {code}'s own pages are not served: {e}"),
                )
            })?;
            settings.own_assets = Some(own);
        }
        let hooks = Hooks {
            wake: Some(self.wake.clone()),
            on_close: Some(on_close),
        };
        let launched = launch::launch(app, &settings, kept, hooks)
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("room {code} could not be opened: {e}"),
                )
            })?;
        let lease = taken.map(|taken| Lease {
            valid_until: Mutex::new(taken.asked + self.lease_margin()),
            token: taken.token,
        });
        Ok(Arc::new(Hosted {
            room: launched.room,
            lease,
            close_at: Mutex::new(None),
            stop: Mutex::new(Some(launched.stop)),
            actor: Mutex::new(Some(launched.actor)),
        }))
    }

    /// The store of a room of a durable host: its record written first
    /// for a new room, then its store opened; or, on a host of a group,
    /// its store in Redis under the room's lease.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    async fn keep(
        &self,
        storage: &HostStorage<A>,
        new: &NewRoom,
        fresh: bool,
        taken: Option<&Taken>,
    ) -> Result<Kept<A>, ApiError> {
        let code = new.code;
        let dir = match &storage.backing {
            Backing::Dir(dir) => dir.clone(),
            #[cfg(feature = "redis")]
            Backing::Shared(shared) => {
                let token = taken.map(|t| t.token.clone()).ok_or_else(|| {
                    ApiError::new(ErrorCode::Internal, format!("room {code} has no lease"))
                })?;
                return Ok(Kept {
                    store: Arc::new(shared.store(code, token)),
                    persistence: storage.persistence,
                });
            }
        };
        let record =
            fresh.then(|| RoomRecord::new(new.code, new.name.clone(), new.settings.clone()));
        // Files and fsync: off the async threads.
        let opened = tokio::task::spawn_blocking(move || {
            if let Some(record) = record {
                dir.create(&record)?;
            }
            DiskStore::open_dir(&dir.room_dir(code)).map_err(std::io::Error::from)
        })
        .await;
        let store = flatten(opened).map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("room {code} could not be stored: {e}"),
            )
        })?;
        Ok(Kept {
            store: Arc::new(store),
            persistence: storage.persistence,
        })
    }

    /// Ends room `code`: it answers `410 gone` at once, its requests in
    /// flight finish, its streams send what the log holds and end, its app
    /// stops, and its stored data is deleted.
    pub(crate) fn dispose(&self, code: RoomCode, why: &str) {
        let until = Instant::now() + self.limits.gone_for;
        let Some(hosted) = self.write().end(code, until) else {
            return;
        };
        tracing::info!(room = %code, why, "room closed");
        self.wake.notify_one();
        let this = self.this.clone();
        tokio::spawn(async move {
            hosted.close().await;
            match hosted.stop_app().await {
                None | Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    tracing::error!(room = %code, error = %e, "the room's store failed")
                }
                Some(Err(e)) => tracing::error!(room = %code, error = %e, "the room's task failed"),
            }
            let Some(site) = this.upgrade() else { return };
            match site.storage.as_ref().map(|s| &s.backing) {
                None => {}
                Some(Backing::Dir(dir)) => {
                    let dir = dir.clone();
                    let removed = tokio::task::spawn_blocking(move || dir.remove(code)).await;
                    if let Err(e) = flatten(removed) {
                        tracing::warn!(room = %code, error = %e, "could not delete the ended room's data");
                    }
                }
                #[cfg(feature = "redis")]
                Some(Backing::Shared(shared)) => {
                    if let Some(lease) = &hosted.lease {
                        shared.end(code, &lease.token, site.limits.gone_for).await;
                    }
                }
            }
        });
    }

    /// How long after a lease was asked for (or renewed) this host still
    /// serves the room: the lease time less a tenth, for clocks that run at
    /// slightly different speeds.
    fn lease_margin(&self) -> Duration {
        #[cfg(feature = "redis")]
        if let Some(shared) = self.shared() {
            return shared.serves_for();
        }
        Duration::ZERO
    }

    /// `POST /rex/v0/rooms`.
    async fn post_rooms(&self, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let addr = client_addr(&req);
        let body: CreateRoom = read_json(req, &self.config).await?.unwrap_or_default();
        self.creation
            .take(addr)
            .map_err(|refusal| too_many(refusal, &format!("this address ({addr}) opens rooms")))?;
        let created = self.create(body).await?;
        let mut response = json_response(StatusCode::CREATED, &created);
        if let Ok(location) = HeaderValue::from_str(&created.path) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }

    async fn host_info(&self) -> Response<Body> {
        #[cfg(feature = "redis")]
        let peers = match self.shared() {
            Some(shared) => shared.peers().await,
            None => Vec::new(),
        };
        #[cfg(not(feature = "redis"))]
        let peers = Vec::new();
        let info = HostInfo {
            app: app_id::<A>().to_owned(),
            name: self.rooms.name.clone(),
            protocol: PROTOCOL_VERSION,
            rooms: self.read().open() as u64,
            max_rooms: self.limits.max_rooms as u64,
            peers,
        };
        json_response(StatusCode::OK, &info)
    }

    /// A request under `/r/`: `rest` is what follows the prefix.
    async fn in_room(
        &self,
        req: Request<Incoming>,
        rest: &str,
    ) -> Result<Response<Body>, ApiError> {
        let (text, inner) = match rest.find('/') {
            Some(slash) => (&rest[..slash], Some(&rest[slash..])),
            None => (rest, None),
        };
        let code: RoomCode = text.parse().map_err(|e| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("{e}; check the code on the TV"),
            )
        })?;
        let hosted = match self.local(code) {
            Ok(Some(hosted)) => hosted,
            Ok(None) => self.elsewhere(&req, code).await?,
            Err(error) => return Err(error),
        };
        let Some(inner) = inner else {
            // `/r/KXQF`: the room's pages use relative URLs, which need
            // the trailing slash.
            return Ok(redirect(&req, &format!("{}/", code.path())));
        };
        if hosted.room.tx.is_closed() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("room {code} stopped because its storage failed; the host's log says why"),
            ));
        }
        route_room(req, inner, &hosted.room, &self.config).await
    }

    /// Room `code` as this host knows it: open here (`Some`), or not known
    /// here (`None`: on a host of a group, ask the group), or an answer.
    /// An open room whose lease lapsed or whose store failed is let go
    /// first, on a host of a group: the group knows who serves it now.
    pub(super) fn local(&self, code: RoomCode) -> Result<Option<Arc<Hosted<A>>>, ApiError> {
        let hosted = match self.read().get(&code) {
            Found::Live(hosted) => hosted.clone(),
            Found::Unknown | Found::Opening => return Ok(None),
            Found::Ended => {
                // No epoch or bounds: nothing to resync to, the room ended.
                return Err(ApiError::new(
                    ErrorCode::Gone,
                    format!("room {code} has ended; ask for the code of the next game"),
                ));
            }
            Found::Failed(why) => {
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("room {code} could not be loaded from storage ({why}); the host's operator must look at it"),
                ))
            }
        };
        #[cfg(feature = "redis")]
        if let Some(lease) = &hosted.lease {
            if !lease.valid(Instant::now()) {
                self.relinquish(code, "its lease ran out before this host could renew it");
                return Ok(None);
            }
            if hosted.room.tx.is_closed() {
                self.relinquish(code, "its store refused a write or failed");
                return Ok(None);
            }
        }
        Ok(Some(hosted))
    }

    /// Room `code`, not open here: on a host of a group, the owner the
    /// group knows (`307 moved`), or the room taken over by this host when
    /// nobody serves it; otherwise unknown.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    async fn elsewhere(
        &self,
        req: &Request<Incoming>,
        code: RoomCode,
    ) -> Result<Arc<Hosted<A>>, ApiError> {
        let unknown = || {
            ApiError::new(
                ErrorCode::NotFound,
                format!("no room {code}; check the code on the TV"),
            )
        };
        #[cfg(feature = "redis")]
        if let Some(shared) = self.shared() {
            return self
                .take_over(req, code, &shared)
                .await?
                .ok_or_else(unknown);
        }
        Err(unknown())
    }
}

/// How many codes a new room tries before giving up.
const CLAIM_TRIES: usize = 16;

/// A lease just taken, and when it was asked for (its time counts from
/// then, not from the answer).
pub(crate) struct Taken {
    pub(crate) token: String,
    pub(crate) asked: Instant,
}

fn no_free_code() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "this host found no free room code; try again in a minute",
    )
}

#[cfg(feature = "redis")]
pub(super) fn redis_unavailable(e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("the rooms' shared store cannot be reached ({e}); try again shortly"),
    )
}

fn flatten<T>(joined: Result<std::io::Result<T>, tokio::task::JoinError>) -> std::io::Result<T> {
    joined.unwrap_or_else(|e| Err(std::io::Error::other(format!("the file task failed: {e}"))))
}

/// `308 Permanent Redirect` to `to`, with the request's query.
fn redirect(req: &Request<Incoming>, to: &str) -> Response<Body> {
    let location = match req.uri().query() {
        Some(query) => format!("{to}?{query}"),
        None => to.to_owned(),
    };
    let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no such path `{path}`; this host serves rooms under {}<code>, opens one with \
             POST {} and describes itself at {}",
            path::ROOM_PREFIX,
            path::ROOMS,
            path::HOST
        ),
    )
}

impl<A: RexApp> Site for HostSite<A> {
    fn config(&self) -> &Config {
        &self.config
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let uri = req.uri().clone();
        let path = uri.path();
        if let Some(rest) = path.strip_prefix(path::ROOM_PREFIX) {
            return self.in_room(req, rest).await;
        }
        match path {
            path::ROOMS => {
                request::post(&req)?;
                self.post_rooms(req).await
            }
            path::HOST => {
                allow(&req, &Method::GET, "GET")?;
                Ok(self.host_info().await)
            }
            other => {
                if let Some(asset) = assets::builtin(other) {
                    return files::serve(&req, &asset);
                }
                if let Some(asset) = self.landing.get(other) {
                    return files::serve(&req, asset);
                }
                Err(not_found(other))
            }
        }
    }

    async fn drain(&self) {
        let rooms: Vec<Arc<Hosted<A>>> = self.read().live().map(|(_, r)| r.clone()).collect();
        let closing = rooms.iter().map(|hosted| hosted.close());
        futures_util::future::join_all(closing).await;
    }
}

impl<A: RexApp> HostSite<A> {
    /// Stops every room's app after a drain, waiting for each to make
    /// what it handled durable. Returns the rooms whose store failed.
    pub(crate) async fn stop_all(&self) -> Vec<(RoomCode, StoreError)> {
        let rooms: Vec<(RoomCode, Arc<Hosted<A>>)> =
            self.read().live().map(|(c, r)| (*c, r.clone())).collect();
        let mut failed = Vec::new();
        for (code, hosted) in rooms {
            if let Some(Ok(Err(e))) = hosted.stop_app().await {
                failed.push((code, e));
            }
            // Its last writes have landed: another host of the group may
            // take it over at once.
            #[cfg(feature = "redis")]
            if let (Some(shared), Some(lease)) = (self.shared(), &hosted.lease) {
                shared.release(code, &lease.token).await;
            }
        }
        #[cfg(feature = "redis")]
        if let Some(shared) = self.shared() {
            shared.leave().await;
        }
        failed
    }
}
