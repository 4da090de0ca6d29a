//! The application side of the server: the [`RexApp`] trait, the
//! [`Context`] a handler emits through, and the [`AppHandle`] other tasks
//! use to reach the app.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rex_proto::{Epoch, EventIndex, Protocol, RexEvent, SessionId};
use tokio::sync::{mpsc, oneshot};

use super::actor::{Command, Deliver, Pending, RunJob};
use super::log::{Audience, Entry};
use super::Snapshot;

/// A REx application: the state behind one room, and how it answers.
///
/// The server runs the app as an actor: every hook and handler runs on one
/// task, one at a time, in the order the calls arrived, so the app's state
/// needs no locks. A handler answers by emitting events through its
/// [`Context`]; they are appended to the log only if it returns `Ok`, so a
/// rejected message leaves the log unchanged.
///
/// An app names its protocol once ([`RexApp::Protocol`]: the message enum,
/// which carries the app id and the event enum) and handles messages in
/// the handler trait the derive generates (`{Msg}Handler`, one method per
/// kind); the derive routes each message to its method, so the app writes
/// no routing. The hooks here all have defaults: implement only what the
/// app decides.
///
/// ```
/// use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId};
///
/// #[derive(RexMessage)]
/// #[rex(app = "counter", events = Evt)]
/// pub enum Msg {
///     /// Add to the shared total.
///     Add(i64),
/// }
///
/// #[derive(RexEvent)]
/// pub enum Evt {
///     /// The new total.
///     Total(i64),
/// }
///
/// /// A shared counter: every phone adds to it, the TV shows the total.
/// #[derive(Default)]
/// struct Counter {
///     total: i64,
/// }
///
/// impl RexApp for Counter {
///     type Protocol = Msg;
/// }
///
/// impl MsgHandler for Counter {
///     fn add(&mut self, cx: &mut Context<'_, Self>, _from: SessionId, n: i64) -> Result<(), Reject> {
///         if n == 0 {
///             return Err(Reject::new("adding 0 changes nothing"));
///         }
///         self.total += n;
///         cx.emit(Evt::Total(self.total));
///         Ok(())
///     }
/// }
/// ```
pub trait RexApp: Send + Sized + 'static {
    /// The app's protocol: its message enum, which names the app id and
    /// the event enum (`#[rex(app = "…", events = …)]` on the derive), and
    /// routes each message to this app ([`Dispatch`], generated for apps
    /// that implement the derive's `{Msg}Handler` trait).
    type Protocol: Protocol + Dispatch<Self>;

    /// Runs once, before the server handles any request: emit the initial
    /// state or schedule work here.
    fn start(&mut self, cx: &mut Context<'_, Self>) {
        let _ = cx;
    }

    /// A client created a session (`POST /sessions`). Emit what the room
    /// should know (a `joined` event); return `Err` to refuse the session
    /// (the room is full), in which case nothing is created or appended.
    fn join(
        &mut self,
        cx: &mut Context<'_, Self>,
        session: SessionId,
        name: Option<String>,
    ) -> Result<(), Reject> {
        let _ = (cx, session, name);
        Ok(())
    }

    /// A session has ended: it stayed idle for the server's
    /// [idle-session timeout](crate::ServerBuilder::session_idle_timeout)
    /// (no request and no open event stream with its token for that
    /// long), so its token no longer works. Emit what the room should know
    /// (a `left` event, a seat that is free again); the events have the
    /// session as their origin. It cannot be refused: the session is
    /// already gone. The default does nothing. Never called when the
    /// timeout is off (the default).
    fn leave(&mut self, cx: &mut Context<'_, Self>, session: SessionId) {
        let _ = (cx, session);
    }

    /// The app's state as `viewer` may see it (`None`: an anonymous
    /// reader), for a reader that arrives late: `GET /rex/v0/snapshot`
    /// returns it with the index of the log it reflects, and the reader
    /// follows the log from there. Leave out what `viewer` must not see (the
    /// other players' hands), as private events would.
    ///
    /// The server calls it on the app's task between two calls, so the
    /// state reflects exactly the events appended before. The default, for
    /// apps whose readers replay the log instead, is `None`: the endpoint
    /// answers `404 not_found`.
    ///
    /// ```
    /// # use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId, Snapshot};
    /// # #[derive(RexMessage)] #[rex(app = "counter", events = Evt)] pub enum Msg { Add(i64) }
    /// # #[derive(RexEvent)] pub enum Evt { Total(i64) }
    /// #[derive(Default)]
    /// struct Counter {
    ///     total: i64,
    /// }
    ///
    /// impl RexApp for Counter {
    ///     type Protocol = Msg;
    ///
    ///     fn snapshot(&self, _viewer: Option<SessionId>) -> Option<Snapshot> {
    ///         Some(Snapshot::new(&self.total))
    ///     }
    /// }
    /// # impl MsgHandler for Counter {
    /// #     fn add(&mut self, cx: &mut Context<'_, Self>, _: SessionId, n: i64) -> Result<(), Reject> {
    /// #         self.total += n;
    /// #         cx.emit(Evt::Total(self.total));
    /// #         Ok(())
    /// #     }
    /// # }
    /// ```
    fn snapshot(&self, viewer: Option<SessionId>) -> Option<Snapshot> {
        let _ = viewer;
        None
    }
}

/// Routes a message of the protocol to the app `A`: the server calls it for
/// every message a session sends, on the app's task.
///
/// `#[derive(RexMessage)]` implements it for every app that implements the
/// generated `{Msg}Handler` trait. A message type that is not derived (or
/// an app that wants one place to see every message) implements it by
/// hand:
///
/// ```
/// use rex::{Context, Dispatch, Reject, RexApp, RexEvent, RexMessage, SessionId};
///
/// #[derive(RexMessage)]
/// #[rex(app = "tally", events = Evt)]
/// pub enum Msg {
///     /// Count one.
///     Count,
/// }
///
/// #[derive(RexEvent)]
/// pub enum Evt {
///     /// How many so far.
///     Counted(u64),
/// }
///
/// #[derive(Default)]
/// struct Tally(u64);
///
/// impl RexApp for Tally {
///     type Protocol = Msg;
/// }
///
/// impl Dispatch<Tally> for Msg {
///     fn dispatch(self, app: &mut Tally, cx: &mut Context<'_, Tally>, _from: SessionId) -> Result<(), Reject> {
///         match self {
///             Msg::Count => {
///                 app.0 += 1;
///                 cx.emit(Evt::Counted(app.0));
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Dispatch<A: RexApp>: Sized {
    /// Handles `self`, sent by `from`: emit through `cx`, or return `Err`
    /// to refuse it (the client gets `409 rejected` with the reason, and
    /// what was emitted is discarded).
    fn dispatch(self, app: &mut A, cx: &mut Context<'_, A>, from: SessionId) -> Result<(), Reject>;
}

/// The event type of app `A`'s protocol: what [`Context::emit`] takes.
pub type EventOf<A> = <<A as RexApp>::Protocol as Protocol>::Event;

/// The id of app `A` (its protocol's [`Protocol::APP`]).
pub(crate) fn app_id<A: RexApp>() -> &'static str {
    <A::Protocol as Protocol>::APP
}

/// The app refused a message or a join. The reason goes to the client as is,
/// so write it for a person ("the question is closed", not "state != Open").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    reason: String,
}

impl Reject {
    /// A refusal with a reason for the client.
    pub fn new(reason: impl Into<String>) -> Self {
        Reject {
            reason: reason.into(),
        }
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Reject {}

impl From<&str> for Reject {
    fn from(reason: &str) -> Self {
        Reject::new(reason)
    }
}

impl From<String> for Reject {
    fn from(reason: String) -> Self {
        Reject::new(reason)
    }
}

/// What a hook or handler can do while it runs: emit events, schedule work,
/// and learn about the call.
///
/// Events emitted through a context get their indexes at once (the app is
/// the log's only writer, so they are known), but are appended only when the
/// call succeeds.
pub struct Context<'a, A: RexApp> {
    pub(super) pending: &'a mut Pending<A>,
    pub(super) origin: Option<SessionId>,
    pub(super) tx: &'a mpsc::Sender<Command<A>>,
}

impl<A: RexApp> Context<'_, A> {
    /// Appends `event` for everyone. Returns the index it will have.
    pub fn emit(&mut self, event: EventOf<A>) -> EventIndex {
        self.push(Audience::Public, event)
    }

    /// Appends `event` for the given sessions only. It takes an index in the
    /// one log like any other event, but only readers authenticated as one of
    /// `to` receive it.
    pub fn emit_to(
        &mut self,
        to: impl IntoIterator<Item = SessionId>,
        event: EventOf<A>,
    ) -> EventIndex {
        let mut to: Vec<SessionId> = to.into_iter().collect();
        to.sort_unstable();
        to.dedup();
        self.push(Audience::Private(to.into_boxed_slice()), event)
    }

    fn push(&mut self, audience: Audience, event: EventOf<A>) -> EventIndex {
        let index = self.pending.next_index();
        let kind = event.kind();
        let time = self.pending.log.now_ms();
        match Entry::encode(index, time, kind, self.origin, audience, |out| {
            event.write_data(out)
        }) {
            Ok(entry) => self.pending.entries.push(entry),
            // The app's own type cannot be encoded: a bug in the app. The
            // call fails as a whole (500 to the client), nothing is appended.
            Err(e) => {
                tracing::error!(error = %e, "event could not be encoded; the call is discarded");
                self.pending.failure.get_or_insert(e.to_string());
            }
        }
        index
    }

    /// Runs `job` on the app after `delay` (a question's deadline, a tick).
    /// The job is scheduled only if this call succeeds; cancel it with the
    /// returned [`Scheduled`].
    pub fn after(
        &mut self,
        delay: Duration,
        job: impl FnOnce(&mut A, &mut Context<'_, A>) + Send + 'static,
    ) -> Scheduled {
        let scheduled = Scheduled {
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        self.pending
            .timers
            .push((delay, scheduled.clone(), Box::new(job)));
        scheduled
    }

    /// The session whose message or join is being handled; `None` in
    /// [`RexApp::start`], scheduled work and [`AppHandle`] calls.
    pub fn origin(&self) -> Option<SessionId> {
        self.origin
    }

    /// The index the next emitted event will get.
    pub fn head(&self) -> EventIndex {
        self.pending.next_index()
    }

    /// The epoch of the log.
    pub fn epoch(&self) -> Epoch {
        self.pending.log.epoch()
    }

    /// Time since the epoch began, as the `time` of events counts it.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.pending.log.now_ms())
    }

    /// Closes this room `after` a grace period, if the call succeeds (after
    /// the final standings, say, so the screens can show them a while).
    ///
    /// On a host of rooms ([`crate::Host`]) the room is then disposed: its
    /// event streams end cleanly after sending what the log holds, its
    /// URLs answer `410 gone` for a while and then `404`, and its stored
    /// data is deleted. A later call replaces the grace period. The one
    /// room of a [`crate::Server`] lives as long as its server: there the
    /// call is logged and changes nothing.
    pub fn close_room(&mut self, after: Duration) {
        self.pending.close = Some(after);
    }

    /// A handle to this app, for tasks the app starts itself.
    pub fn handle(&self) -> AppHandle<A> {
        AppHandle {
            tx: self.tx.clone(),
        }
    }
}

/// Work scheduled with [`Context::after`]; [`Scheduled::cancel`] stops it
/// from running if it has not run yet.
#[derive(Clone, Debug)]
pub struct Scheduled {
    pub(super) cancelled: Arc<AtomicBool>,
}

impl Scheduled {
    /// Cancels the scheduled work. Cancelling work that already ran, or
    /// cancelling twice, does nothing.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether [`Scheduled::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

/// Reaches the app from other tasks: the TV's own input, a timer task, a
/// test. Cheap to clone. Every call runs on the app's actor, in order with
/// client messages.
pub struct AppHandle<A: RexApp> {
    pub(crate) tx: mpsc::Sender<Command<A>>,
}

impl<A: RexApp> Clone for AppHandle<A> {
    fn clone(&self) -> Self {
        AppHandle {
            tx: self.tx.clone(),
        }
    }
}

impl<A: RexApp> fmt::Debug for AppHandle<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppHandle")
            .field("app", &app_id::<A>())
            .finish()
    }
}

/// The app has stopped (the server shut down), so the call did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppStopped;

impl fmt::Display for AppStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the app has stopped because its server shut down")
    }
}

impl std::error::Error for AppStopped {}

impl<A: RexApp> AppHandle<A> {
    /// Runs `f` on the app and returns what it returns. Events it emits are
    /// appended when it returns; with a store, the result comes back once
    /// they (and the app's new state) are durable.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut A, &mut Context<'_, A>) -> R + Send + 'static,
    ) -> Result<R, AppStopped> {
        let (reply, rx) = oneshot::channel();
        // The result goes back once what the call did is durable, like the
        // answer to a message.
        let job: RunJob<A> = Box::new(move |app, cx| {
            let out = f(app, cx);
            let deliver: Deliver = Box::new(move || {
                let _ = reply.send(out);
            });
            deliver
        });
        self.tx
            .send(Command::Run(job))
            .await
            .map_err(|_| AppStopped)?;
        rx.await.map_err(|_| AppStopped)
    }

    /// Appends `event` for everyone; returns its index.
    pub async fn emit(&self, event: EventOf<A>) -> Result<EventIndex, AppStopped> {
        self.run(move |_, cx| cx.emit(event)).await
    }

    /// Appends `event` for the given sessions only; returns its index.
    pub async fn emit_to(
        &self,
        to: Vec<SessionId>,
        event: EventOf<A>,
    ) -> Result<EventIndex, AppStopped> {
        self.run(move |_, cx| cx.emit_to(to, event)).await
    }
}
