//! An app's room in-process, for the app's unit tests: no socket, no HTTP,
//! and time that moves only when the test says so.
//!
//! A [`TestRoom`] runs the same actor as the real server (the commit rule,
//! dedupe, scheduled work, snapshots taken between two calls), driven step
//! by step: [`join`](TestRoom::join) and [`send`](TestRoom::send) return
//! what that one call emitted (or the app's [`Reject`], with the log
//! unchanged), [`advance`](TestRoom::advance) moves tokio's paused clock
//! and runs the scheduled work that falls due, in order, and the log can be
//! read whole or as one session sees it.
//!
//! Enable the `testing` feature in `[dev-dependencies]`
//! (`rex = { …, features = ["testing"] }`) and run the tests on tokio's
//! paused clock, `#[tokio::test(start_paused = true)]`:
//!
//! ```
//! use std::time::Duration;
//! use rex::testing::TestRoom;
//! use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId};
//!
//! #[derive(Debug, RexMessage)]
//! #[rex(app = "egg-timer", events = Ev)]
//! pub enum Msg {
//!     /// Rings after `secs` seconds.
//!     Set { secs: u64 },
//! }
//!
//! #[derive(Debug, PartialEq, RexEvent)]
//! pub enum Ev {
//!     Set { secs: u64 },
//!     Rang,
//! }
//!
//! #[derive(Default)]
//! struct EggTimer;
//!
//! impl RexApp for EggTimer {
//!     type Protocol = Msg;
//! }
//!
//! impl MsgHandler for EggTimer {
//!     fn set(&mut self, cx: &mut Context<'_, Self>, _from: SessionId, secs: u64) -> Result<(), Reject> {
//!         if secs == 0 {
//!             return Err(Reject::new("set at least one second"));
//!         }
//!         cx.emit(Ev::Set { secs });
//!         cx.after(Duration::from_secs(secs), |_, cx| {
//!             cx.emit(Ev::Rang);
//!         });
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // In a `#[tokio::test(start_paused = true)]`:
//! let mut room = TestRoom::new(EggTimer);
//! let ada = room.join("Ada").unwrap();
//! assert!(room.send(ada, Msg::Set { secs: 0 }).is_err());
//! let set = room.send(ada, Msg::Set { secs: 180 }).unwrap();
//! assert_eq!(set[0].event, Ev::Set { secs: 180 });
//! assert!(room.advance(Duration::from_secs(179)).await.is_empty());
//! let rang = room.advance(Duration::from_secs(1)).await;
//! assert_eq!(rang[0].event, Ev::Rang);
//! assert_eq!(rang[0].time, 180_000);
//! # }
//! ```

#[cfg(feature = "redis")]
mod redis_server;
#[cfg(feature = "redis")]
pub use redis_server::{redis_server_binary, RedisFsync, RedisServer};

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rex_proto::{EventIndex, EventRecord, RexEvent, SessionId, SnapshotRecord};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use futures_util::FutureExt;

use crate::server::actor::{Actor, CallError, Command};
use crate::server::dedupe::repeat_reason;
use crate::server::durable::{open_room, Clock, Durable, Persistence};
use crate::server::idle::StreamLease;
use crate::server::log::{EventLog, Retention};
use crate::server::session::SessionTable;
use crate::server::store::{MemoryStore, Store};
use crate::server::{AppHandle, Context, EventOf, Reject, RexApp, DEFAULT_MAX_SESSIONS};

/// An event of the log, decoded, with where it sits and who it is for.
#[derive(Clone, Debug, PartialEq)]
pub struct Emitted<E> {
    /// Its index in the log.
    pub index: EventIndex,
    /// Milliseconds since the log's epoch began, on the test's clock.
    pub time: u64,
    /// The session whose message or join caused it; `None` for the app's
    /// own work (`start`, scheduled work, [`TestRoom::run`]).
    pub origin: Option<SessionId>,
    /// For a private event, the sessions it is for; `None` if public.
    pub to: Option<Vec<SessionId>>,
    /// The event.
    pub event: E,
}

impl<E> Emitted<E> {
    /// Whether `session` sees this event (it is public, or for them).
    pub fn is_for(&self, session: SessionId) -> bool {
        self.to.as_ref().is_none_or(|to| to.contains(&session))
    }

    /// Whether the event is private to some sessions.
    pub fn is_private(&self) -> bool {
        self.to.is_some()
    }
}

/// One room of app `A` in the test's process; see the [module
/// docs](self).
///
/// Every call runs to completion before it returns, on the test's task, so
/// there is nothing to wait for. Work the app hands to an
/// [`AppHandle`] from elsewhere (a task it spawned) runs at the start of
/// the room's next call.
pub struct TestRoom<A: RexApp> {
    actor: Actor<A>,
    /// Where `AppHandle`s (from [`TestRoom::handle`] or `Context::handle`)
    /// queue their calls.
    rx: mpsc::Receiver<Command<A>>,
    /// Kept so the actor's stop signal never fires.
    _stop: watch::Sender<bool>,
    /// The room's store, for a [durable](TestRoom::durable) room.
    store: Option<MemoryStore>,
    /// When the app last asked for its room to close (`Context::close_room`),
    /// as a host would schedule it: recorded, since a `TestRoom` has no
    /// host to dispose of it.
    closing: Arc<Mutex<Option<Instant>>>,
}

impl<A: RexApp> fmt::Debug for TestRoom<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bounds = self.actor.log.bounds();
        f.debug_struct("TestRoom")
            .field("app", &crate::server::app::app_id::<A>())
            .field("head", &bounds.head)
            .field("sessions", &self.actor.sessions.len())
            .finish_non_exhaustive()
    }
}

impl<A: RexApp> TestRoom<A> {
    /// A room running `app`, with the server's default session limit; the
    /// app's `start` hook has run.
    pub fn new(app: A) -> Self {
        Self::with_max_sessions(app, DEFAULT_MAX_SESSIONS)
    }

    /// A room that admits at most `max` sessions (as
    /// [`ServerBuilder::max_sessions`](crate::ServerBuilder::max_sessions)).
    pub fn with_max_sessions(app: A, max: usize) -> Self {
        Self::build(app, max, None)
    }

    /// A room whose sessions expire after being idle for `idle` (as
    /// [`ServerBuilder::session_idle_timeout`](crate::ServerBuilder::session_idle_timeout)):
    /// [`advance`](TestRoom::advance) runs the app's `leave` hook for each
    /// session that has sent nothing (and had no [open
    /// stream](TestRoom::open_stream)) for that long, at the instant it
    /// expires, and returns what the hook emitted.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rex::testing::TestRoom;
    /// # use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId};
    /// # #[derive(Debug, RexMessage)] #[rex(app = "lobby", events = Ev)] pub enum Msg { Ping }
    /// # #[derive(Debug, PartialEq, RexEvent)] pub enum Ev { Left { who: SessionId } }
    /// # #[derive(Default)] struct Lobby;
    /// impl RexApp for Lobby {
    ///     type Protocol = Msg;
    ///
    ///     fn leave(&mut self, cx: &mut Context<'_, Self>, session: SessionId) {
    ///         cx.emit(Ev::Left { who: session });
    ///     }
    /// }
    /// # impl MsgHandler for Lobby {
    /// #     fn ping(&mut self, _: &mut Context<'_, Self>, _: SessionId) -> Result<(), Reject> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut room = TestRoom::with_session_idle_timeout(Lobby, Duration::from_secs(60));
    /// let ada = room.join("Ada").unwrap();
    /// assert!(room.advance(Duration::from_secs(59)).await.is_empty());
    /// let left = room.advance(Duration::from_secs(1)).await;
    /// assert_eq!(left[0].event, Ev::Left { who: ada });
    /// assert!(room.send(ada, Msg::Ping).is_err(), "its token no longer works");
    /// # }
    /// ```
    pub fn with_session_idle_timeout(app: A, idle: Duration) -> Self {
        Self::build(app, DEFAULT_MAX_SESSIONS, Some(idle))
    }

    fn build(app: A, max: usize, idle_timeout: Option<Duration>) -> Self {
        let mut room = Self::bare(app, max, idle_timeout);
        room.actor.start();
        room
    }

    fn bare(app: A, max: usize, idle_timeout: Option<Duration>) -> Self {
        let log = EventLog::new(Retention::unlimited());
        let (tx, rx) = mpsc::channel(64);
        let (stop_tx, stop) = watch::channel(false);
        let closing = Arc::new(Mutex::new(None));
        let record = closing.clone();
        let actor = Actor {
            app,
            head: 0,
            log,
            commits: None,
            sessions: Arc::new(SessionTable::default()),
            max_sessions: max,
            dedupe: Default::default(),
            tx,
            stop,
            timers: Default::default(),
            activity: Default::default(),
            idle_timeout,
            admission: None,
            on_close: Some(Arc::new(move |grace| {
                *record.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(Instant::now() + grace);
            })),
        };
        TestRoom {
            actor,
            rx,
            _stop: stop_tx,
            store: None,
            closing,
        }
    }

    /// Makes what the last calls did durable and visible, as the server's
    /// group commit does before it answers. The memory store writes at
    /// once, so nothing is left in flight.
    fn settle(&mut self) {
        if self.actor.seal().is_some() {
            unreachable!("the memory store finishes every write at once");
        }
    }

    /// The app, to check its state.
    pub fn app(&self) -> &A {
        &self.actor.app
    }

    /// A handle to the app, as the server's [`crate::Server::handle`]
    /// gives; its calls run at the start of the room's next call.
    pub fn handle(&self) -> AppHandle<A> {
        AppHandle {
            tx: self.actor.tx.clone(),
        }
    }

    /// A new session named `name`, as `POST /rex/v0/sessions` makes one;
    /// the app's `join` hook may refuse it.
    pub fn join(&mut self, name: &str) -> Result<SessionId, Reject> {
        self.join_as(Some(name.to_owned()))
    }

    /// A new session with no name.
    pub fn join_unnamed(&mut self) -> Result<SessionId, Reject> {
        self.join_as(None)
    }

    fn join_as(&mut self, name: Option<String>) -> Result<SessionId, Reject> {
        self.drain();
        let joined = self.actor.join(name);
        self.settle();
        match joined {
            Ok(joined) => Ok(joined.session),
            Err(e) => Err(refusal(e)),
        }
    }

    /// `from` sends `msg`, as `POST /rex/v0/messages` without an id: the
    /// events the call appended, or the app's refusal (and then the log,
    /// the app's scheduled work and the app's emitted events are as if
    /// the message never came).
    ///
    /// Panics if an event the app emitted cannot be encoded: a bug in the
    /// app's types, which the server answers with `500 internal`.
    pub fn send(
        &mut self,
        from: SessionId,
        msg: A::Protocol,
    ) -> Result<Vec<Emitted<EventOf<A>>>, Reject> {
        self.send_inner(from, None, msg)
    }

    /// `from` sends `msg` with the message id `id`: a retry with an id the
    /// session used before is not handled again, and returns what the
    /// first one did (its events, or its refusal).
    pub fn send_with_id(
        &mut self,
        from: SessionId,
        id: u64,
        msg: A::Protocol,
    ) -> Result<Vec<Emitted<EventOf<A>>>, Reject> {
        self.send_inner(from, Some(id), msg)
    }

    fn send_inner(
        &mut self,
        from: SessionId,
        id: Option<u64>,
        msg: A::Protocol,
    ) -> Result<Vec<Emitted<EventOf<A>>>, Reject> {
        self.drain();
        // A request with the session's token, as the server counts it.
        self.actor.activity.touch(from);
        let outcome = self.actor.message(from, id, msg);
        self.settle();
        let receipt = outcome.map_err(refusal)?;
        Ok(self.range(receipt.first, receipt.first + receipt.count))
    }

    /// Runs `f` on the app as an [`AppHandle::run`] call would (the TV's own
    /// input, say): what it returns, and the events it appended.
    pub fn run<R>(
        &mut self,
        f: impl FnOnce(&mut A, &mut Context<'_, A>) -> R,
    ) -> (R, Vec<Emitted<EventOf<A>>>) {
        self.drain();
        let head = self.head();
        let mut out = None;
        let _ = self.actor.call(None, |app, cx| {
            out = Some(f(app, cx));
            Ok(())
        });
        self.settle();
        let Some(out) = out else {
            // `call` runs its closure before anything can fail.
            unreachable!("the call ran its closure");
        };
        (out, self.since(head))
    }

    /// Moves tokio's clock forward by `by`, running the scheduled work that
    /// falls due on the way, soonest first, each at its own instant (so the
    /// events' times are exact). Returns the events that work appended.
    ///
    /// Needs tokio's clock paused (`#[tokio::test(start_paused = true)]`):
    /// tokio panics with "time is not frozen" otherwise.
    pub async fn advance(&mut self, by: Duration) -> Vec<EventOfEmitted<A>> {
        self.drain();
        let head = self.head();
        let until = Instant::now() + by;
        while let Some(due) = self.actor.next_due().filter(|due| *due <= until) {
            self.advance_clock_to(due).await;
            self.actor.run_due(due);
            self.settle();
            self.drain();
        }
        self.advance_clock_to(until).await;
        self.drain();
        self.since(head)
    }

    async fn advance_clock_to(&self, to: Instant) {
        let now = Instant::now();
        if to > now {
            tokio::time::advance(to - now).await;
        }
    }

    /// `session` opens an event stream, as `GET /rex/v0/events` with its
    /// token does: until the returned guard is dropped, the session does
    /// not expire, however long it stays quiet. `None` if the session does
    /// not exist (any more).
    pub fn open_stream(&mut self, session: SessionId) -> Option<OpenStream> {
        let lease = self.actor.activity.open_stream(session)?;
        Some(OpenStream { _lease: lease })
    }

    /// How long from now until the room would close on a host of rooms
    /// ([`crate::Host`]): the grace period the app's last successful
    /// [`Context::close_room`] call gave, less the time since (zero once it
    /// is due); `None` if the app never asked. A later call replaces an
    /// earlier one, as on a host. The `TestRoom` itself stays open.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rex::testing::TestRoom;
    /// # use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId};
    /// # #[derive(Debug, RexMessage)] #[rex(app = "one-shot", events = Ev)] pub enum Msg { Done }
    /// # #[derive(Debug, PartialEq, RexEvent)] pub enum Ev { Over }
    /// # #[derive(Default)] struct OneShot;
    /// # impl RexApp for OneShot { type Protocol = Msg; }
    /// impl MsgHandler for OneShot {
    ///     fn done(&mut self, cx: &mut Context<'_, Self>, _: SessionId) -> Result<(), Reject> {
    ///         cx.emit(Ev::Over);
    ///         cx.close_room(Duration::from_secs(600));
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut room = TestRoom::new(OneShot);
    /// let ada = room.join("Ada").unwrap();
    /// assert_eq!(room.closes_in(), None);
    /// room.send(ada, Msg::Done).unwrap();
    /// room.advance(Duration::from_secs(60)).await;
    /// assert_eq!(room.closes_in(), Some(Duration::from_secs(540)));
    /// # }
    /// ```
    pub fn closes_in(&self) -> Option<Duration> {
        let at = *self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        at.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether `session` exists: it joined and has not expired.
    pub fn is_live(&self, session: SessionId) -> bool {
        self.actor.activity.contains(session)
    }

    /// How long the room has run, on the log's clock (the `time` of its
    /// events).
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.actor.log.now_ms())
    }

    /// The index the next event will get.
    pub fn head(&self) -> EventIndex {
        self.actor.log.bounds().head
    }

    /// The log's epoch; a [restarted](TestRoom::restart) durable room keeps
    /// it.
    pub fn epoch(&self) -> rex_proto::Epoch {
        self.actor.log.epoch()
    }

    /// The whole log, private events included.
    pub fn log(&self) -> Vec<EventOfEmitted<A>> {
        self.since(0)
    }

    /// The log as a reader sees it: every public event, and the private
    /// ones for `viewer` (none for an anonymous reader, `None`).
    pub fn seen_by(&self, viewer: Option<SessionId>) -> Vec<EventOfEmitted<A>> {
        self.log()
            .into_iter()
            .filter(|e| match viewer {
                Some(viewer) => e.is_for(viewer),
                None => !e.is_private(),
            })
            .collect()
    }

    /// The snapshot `GET /rex/v0/snapshot` would answer for `viewer`, taken
    /// between two calls as the server takes it: `None` if the app keeps
    /// no snapshots. Its `index` is the first event it does not reflect.
    ///
    /// Panics if the app's snapshot cannot be encoded (the server answers
    /// `500 internal`).
    pub fn snapshot(&mut self, viewer: Option<SessionId>) -> Option<SnapshotRecord> {
        self.drain();
        match self.actor.snapshot(viewer) {
            Ok(record) => Some(record),
            Err(CallError::NoSnapshot) => None,
            Err(e) => panic!("the app's snapshot failed: {e:?}"),
        }
    }

    /// Runs the calls `AppHandle`s queued, in order.
    fn drain(&mut self) {
        while let Ok(cmd) = self.rx.try_recv() {
            self.actor.dispatch(cmd);
            self.settle();
        }
    }

    fn since(&self, from: EventIndex) -> Vec<EventOfEmitted<A>> {
        self.range(from, EventIndex::MAX)
    }

    fn range(&self, from: EventIndex, to: EventIndex) -> Vec<EventOfEmitted<A>> {
        self.actor
            .log
            .lines_from(from)
            .iter()
            .map(|line| decode::<EventOf<A>>(line))
            .take_while(|e| e.index < to)
            .collect()
    }
}

/// Durable rooms: the room keeps its record in a store in memory, saved at
/// every call as the server's store would save it, and can be restarted
/// from it to check the app's [`Durable`] implementation.
impl<A: Durable> TestRoom<A> {
    /// A room of a [`Durable`] app with a store: every call saves the
    /// app's state with what it did, as a server with a data directory
    /// does, and [`restart`](TestRoom::restart) brings the room back
    /// from it.
    ///
    /// ```
    /// # use rex::testing::TestRoom;
    /// # use rex::{Context, Durable, Reject, RexApp, RexEvent, RexMessage, SessionId};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, RexMessage)] #[rex(app = "tally", events = Ev)] pub enum Msg { Add }
    /// # #[derive(Debug, PartialEq, RexEvent)] pub enum Ev { Total(u32) }
    /// #[derive(Default)]
    /// struct Tally {
    ///     total: u32,
    /// }
    ///
    /// impl RexApp for Tally {
    ///     type Protocol = Msg;
    /// }
    ///
    /// impl Durable for Tally {
    ///     type State = u32;
    ///     fn state(&self) -> &u32 {
    ///         &self.total
    ///     }
    ///     fn restore(&mut self, _: &mut Context<'_, Self>, total: u32) {
    ///         self.total = total;
    ///     }
    /// }
    /// # impl MsgHandler for Tally {
    /// #     fn add(&mut self, cx: &mut Context<'_, Self>, _: SessionId) -> Result<(), Reject> {
    /// #         self.total += 1;
    /// #         cx.emit(Ev::Total(self.total));
    /// #         Ok(())
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut room = TestRoom::durable(Tally::default());
    /// let ada = room.join("Ada").unwrap();
    /// room.send(ada, Msg::Add).unwrap();
    /// // As if the server was killed and started again with a new app value:
    /// let mut room = room.restart(Tally::default());
    /// assert_eq!(room.app().total, 1);
    /// let more = room.send(ada, Msg::Add).unwrap();
    /// assert_eq!(more[0].event, Ev::Total(2), "the same session, the same count");
    /// # }
    /// ```
    pub fn durable(app: A) -> Self {
        Self::open(app, MemoryStore::new(), DEFAULT_MAX_SESSIONS, None, 0)
    }

    /// A durable room whose sessions expire after being idle for `idle`
    /// (see [`TestRoom::with_session_idle_timeout`]).
    pub fn durable_with_session_idle_timeout(app: A, idle: Duration) -> Self {
        Self::open(app, MemoryStore::new(), DEFAULT_MAX_SESSIONS, Some(idle), 0)
    }

    /// The room after its server was killed and started again at once with
    /// `app` (a new value, as a new process would build it): the store's
    /// log, sessions, message outcomes and epoch, and the app's state put
    /// back by [`Durable::restore`], which re-arms scheduled work. The log
    /// clock goes on from where it was. Work scheduled in the old room and
    /// not re-armed by `restore` is gone, as in a real restart.
    ///
    /// Panics if the room is not [durable](TestRoom::durable), or if the
    /// saved state does not read back as `A::State` (a bug in its
    /// serialization).
    pub fn restart(self, app: A) -> Self {
        self.restart_after(app, Duration::ZERO)
    }

    /// Like [`restart`](TestRoom::restart), with the server down for
    /// `downtime` first: the log clock moves on by that much, and
    /// deadlines that passed meanwhile are due at once.
    pub fn restart_after(self, app: A, downtime: Duration) -> Self {
        let Some(store) = self.store.clone() else {
            panic!("TestRoom::restart needs a room made with TestRoom::durable");
        };
        let now = self.actor.log.now_ms();
        let (max, idle) = (self.actor.max_sessions, self.actor.idle_timeout);
        drop(self);
        let downtime_ms = u64::try_from(downtime.as_millis()).unwrap_or(u64::MAX);
        Self::open(app, store, max, idle, now.saturating_add(downtime_ms))
    }

    fn open(
        app: A,
        store: MemoryStore,
        max: usize,
        idle_timeout: Option<Duration>,
        clock_ms: u64,
    ) -> Self {
        let opened = open_room::<A>(&store, Retention::unlimited(), Clock::At(clock_ms))
            .now_or_never()
            .unwrap_or_else(|| unreachable!("the memory store opens at once"));
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) => panic!("the room's store could not be opened: {e}"),
        };
        let mut room = Self::bare(app, max, idle_timeout);
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        if let Err(e) = room.actor.begin_durable(shared, Persistence::of(), opened) {
            panic!("the room could not be restored: {e}");
        }
        room.settle();
        room.store = Some(store);
        room
    }
}

/// An event stream a session holds open in a [`TestRoom`]
/// ([`TestRoom::open_stream`]); dropping it closes the stream.
#[derive(Debug)]
pub struct OpenStream {
    _lease: StreamLease,
}

/// The emitted events of app `A`.
pub type EventOfEmitted<A> = Emitted<EventOf<A>>;

/// An event line of the log, decoded; the log holds only what the app's
/// own encoder wrote, so a line that does not decode is a bug in the app's
/// types (an encoding its decoder refuses) and fails the test.
fn decode<E: RexEvent>(line: &[u8]) -> Emitted<E> {
    let record: EventRecord = match serde_json::from_slice(line) {
        Ok(record) => record,
        Err(e) => panic!("a log line is not an event record ({e}): {line:?}"),
    };
    let event = match E::decode(&record.kind, record.data) {
        Ok(event) => event,
        Err(e) => panic!(
            "event {} of kind `{}` does not decode as the app's own event type: {e}",
            record.index, record.kind
        ),
    };
    Emitted {
        index: record.index,
        time: record.time,
        origin: record.origin,
        to: record.to,
        event,
    }
}

/// A refused call as the app's reason; a full room reads as the server's
/// `503` reason would.
fn refusal(error: CallError) -> Reject {
    match error {
        CallError::Rejected(reason) => Reject::new(reason),
        CallError::Full(max) => Reject::new(format!("the room is full: it admits {max} sessions")),
        CallError::Internal(reason) => {
            panic!("the app emitted an event that cannot be encoded: {reason}")
        }
        CallError::NoSnapshot => Reject::new("the app keeps no snapshots"),
        CallError::Repeated { id, code } => Reject::new(repeat_reason(id, code)),
        CallError::Expired => Reject::new("the session expired after being idle"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snapshot;

    #[derive(Debug, crate::RexMessage)]
    #[rex(app = "room-test", events = Ev)]
    enum Msg {
        /// Schedules `label` after `ms`.
        Later { ms: u64, label: String },
        /// Emits a note for `to` only.
        Secret { to: SessionId },
        /// Emits, then refuses.
        Refuse,
        /// Asks for the room to close after `secs`; then refuses if
        /// `refuse`.
        Close { secs: u64, refuse: bool },
    }

    #[derive(Debug, PartialEq, crate::RexEvent)]
    enum Ev {
        Joined { who: SessionId },
        Fired { label: String },
        Secret { to: SessionId },
        Shown,
        Left { who: SessionId },
    }

    #[derive(Default)]
    struct App {
        fired: Vec<String>,
    }

    impl RexApp for App {
        type Protocol = Msg;

        fn join(
            &mut self,
            cx: &mut Context<'_, Self>,
            session: SessionId,
            name: Option<String>,
        ) -> Result<(), Reject> {
            if name.as_deref() == Some("nobody") {
                return Err(Reject::new("no nobodies"));
            }
            cx.emit(Ev::Joined { who: session });
            Ok(())
        }

        fn snapshot(&self, viewer: Option<SessionId>) -> Option<Snapshot> {
            Some(Snapshot::new(&(self.fired.len(), viewer)))
        }

        fn leave(&mut self, cx: &mut Context<'_, Self>, session: SessionId) {
            cx.emit(Ev::Left { who: session });
        }
    }

    impl MsgHandler for App {
        fn later(
            &mut self,
            cx: &mut Context<'_, Self>,
            _from: SessionId,
            ms: u64,
            label: String,
        ) -> Result<(), Reject> {
            cx.after(Duration::from_millis(ms), move |app, cx| {
                app.fired.push(label.clone());
                cx.emit(Ev::Fired { label });
            });
            Ok(())
        }

        fn secret(
            &mut self,
            cx: &mut Context<'_, Self>,
            _from: SessionId,
            to: SessionId,
        ) -> Result<(), Reject> {
            cx.emit_to([to], Ev::Secret { to });
            Ok(())
        }

        fn refuse(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
            cx.emit(Ev::Shown);
            Err(Reject::new("refused after emitting"))
        }

        fn close(
            &mut self,
            cx: &mut Context<'_, Self>,
            _from: SessionId,
            secs: u64,
            refuse: bool,
        ) -> Result<(), Reject> {
            cx.close_room(Duration::from_secs(secs));
            if refuse {
                return Err(Reject::new("not closing after all"));
            }
            Ok(())
        }
    }

    fn later(ms: u64, label: &str) -> Msg {
        Msg::Later {
            ms,
            label: label.to_owned(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn scheduled_work_fires_in_order_each_at_its_time() {
        let mut room = TestRoom::new(App::default());
        let ada = room.join("Ada").unwrap();
        room.send(ada, later(300, "c")).unwrap();
        room.send(ada, later(100, "a")).unwrap();
        room.send(ada, later(200, "b1")).unwrap();
        room.send(ada, later(200, "b2")).unwrap();
        // Nothing is due yet; then everything, in order, each at its time.
        assert!(room.advance(Duration::from_millis(99)).await.is_empty());
        let fired = room.advance(Duration::from_secs(1)).await;
        let seen: Vec<(String, u64)> = fired
            .into_iter()
            .map(|e| match e.event {
                Ev::Fired { label } => (label, e.time),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("a".to_owned(), 100),
                ("b1".to_owned(), 200),
                ("b2".to_owned(), 200),
                ("c".to_owned(), 300)
            ]
        );
        assert_eq!(room.elapsed(), Duration::from_millis(1_099));
        assert_eq!(room.app().fired, ["a", "b1", "b2", "c"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_close_is_recorded_when_its_call_succeeds_and_the_last_one_counts() {
        let mut room = TestRoom::new(App::default());
        let ada = room.join("Ada").unwrap();
        let close = |secs, refuse| Msg::Close { secs, refuse };
        room.send(ada, close(60, true)).unwrap_err();
        assert_eq!(room.closes_in(), None, "a refused call closes nothing");
        room.send(ada, close(600, false)).unwrap();
        assert_eq!(room.closes_in(), Some(Duration::from_secs(600)));
        room.advance(Duration::from_secs(100)).await;
        assert_eq!(room.closes_in(), Some(Duration::from_secs(500)));
        room.send(ada, close(60, false)).unwrap();
        assert_eq!(room.closes_in(), Some(Duration::from_secs(60)));
        room.advance(Duration::from_secs(90)).await;
        assert_eq!(room.closes_in(), Some(Duration::ZERO), "due, and past");
        assert!(room.is_live(ada), "the test room itself stays open");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_leaves_the_log_and_the_app_as_they_were() {
        let mut room = TestRoom::new(App::default());
        let ada = room.join("Ada").unwrap();
        let before = room.log();
        assert_eq!(
            room.send(ada, Msg::Refuse),
            Err(Reject::new("refused after emitting"))
        );
        assert_eq!(room.log(), before);
        assert_eq!(room.join("nobody"), Err(Reject::new("no nobodies")));
        assert_eq!(room.log(), before, "a refused join appends nothing either");
    }

    #[tokio::test(start_paused = true)]
    async fn private_events_reach_only_their_audience() {
        let mut room = TestRoom::new(App::default());
        let ada = room.join("Ada").unwrap();
        let bob = room.join("Bob").unwrap();
        let sent = room.send(ada, Msg::Secret { to: bob }).unwrap();
        assert_eq!(sent[0].to, Some(vec![bob]));
        assert_eq!(sent[0].origin, Some(ada));
        let secret =
            |view: Vec<Emitted<Ev>>| view.iter().any(|e| matches!(e.event, Ev::Secret { .. }));
        assert!(secret(room.seen_by(Some(bob))));
        assert!(!secret(room.seen_by(Some(ada))), "not even the sender's");
        assert!(!secret(room.seen_by(None)));
        assert!(secret(room.log()));
    }

    #[tokio::test(start_paused = true)]
    async fn snapshots_handles_and_retries_behave_as_on_the_server() {
        let mut room = TestRoom::new(App::default());
        let ada = room.join("Ada").unwrap();
        // A handle's call runs before the room's next one.
        let handle = room.handle();
        let call = tokio::spawn(async move { handle.emit(Ev::Shown).await });
        tokio::task::yield_now().await;
        let snapshot = room.snapshot(Some(ada)).unwrap();
        assert_eq!(snapshot.index, 2, "Joined and Shown are in it");
        assert_eq!(snapshot.data, serde_json::json!([0, ada]));
        assert_eq!(call.await.unwrap(), Ok(1));
        // A retried id is answered with the first outcome, not handled again.
        let first = room.send_with_id(ada, 7, later(10, "once")).unwrap();
        let again = room.send_with_id(ada, 7, later(10, "twice")).unwrap();
        assert_eq!(first, again);
        assert_eq!(room.advance(Duration::from_millis(10)).await.len(), 1);
        assert_eq!(room.app().fired, ["once"]);
    }

    const IDLE: Duration = Duration::from_secs(600);

    fn left(events: &[Emitted<Ev>]) -> Vec<(SessionId, u64, Option<SessionId>)> {
        events
            .iter()
            .filter_map(|e| match e.event {
                Ev::Left { who } => Some((who, e.time, e.origin)),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn idle_sessions_expire_each_at_its_own_time_and_lose_their_token() {
        let mut room = TestRoom::with_session_idle_timeout(App::default(), IDLE);
        let ada = room.join("Ada").unwrap();
        room.advance(Duration::from_secs(100)).await;
        let bob = room.join("Bob").unwrap();
        // Ada speaks at 300 s: her idle time starts again.
        room.advance(Duration::from_secs(200)).await;
        room.send(ada, later(1, "x")).unwrap();
        let gone = room.advance(Duration::from_secs(1_000)).await;
        assert_eq!(
            left(&gone),
            [(bob, 700_000, Some(bob)), (ada, 900_000, Some(ada))],
            "each leaves exactly when idle for the timeout, as the origin of its event"
        );
        assert!(!room.is_live(ada) && !room.is_live(bob));
        assert!(room.send(ada, Msg::Refuse).is_err());
        assert!(room.open_stream(bob).is_none());
        // The room is usable again: a newcomer joins and is live.
        let cy = room.join("Cy").unwrap();
        assert!(room.is_live(cy));
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_stream_keeps_a_quiet_session_alive_until_it_closes() {
        let mut room = TestRoom::with_session_idle_timeout(App::default(), IDLE);
        let ada = room.join("Ada").unwrap();
        let stream = room.open_stream(ada).unwrap();
        assert!(left(&room.advance(IDLE * 5).await).is_empty());
        drop(stream);
        assert!(left(&room.advance(IDLE - Duration::from_secs(1)).await).is_empty());
        let gone = room.advance(Duration::from_secs(1)).await;
        assert_eq!(left(&gone), [(ada, 3_600_000, Some(ada))]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_timeout_sessions_never_expire() {
        let mut room = TestRoom::new(App::default());
        let ada = room.join("Ada").unwrap();
        assert!(left(&room.advance(Duration::from_secs(86_400 * 30)).await).is_empty());
        assert!(room.is_live(ada));
        room.send(ada, later(1, "still here")).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_room_recovers_when_its_sessions_expire() {
        let mut room = TestRoom::build(App::default(), 2, Some(IDLE));
        room.join("a").unwrap();
        room.join("b").unwrap();
        assert!(room.join("c").is_err(), "full");
        room.advance(IDLE).await;
        room.join("c").expect("the idle sessions made room");
    }
}
