//! The app actor: the one owner of the app and the log's only writer.
//! Requests and handle calls reach it as [`Command`]s over one channel and
//! run one at a time, in arrival order; scheduled work waits in the
//! actor's own queue, ordered by when it is due. A request to a room kept
//! in memory may run its call itself when the actor is free and nothing
//! is queued (`task.rs`).
//!
//! The same `Actor` runs behind the HTTP server (`ActorCell::run`, a task) and inside
//! [`crate::testing`] (driven step by step on a paused clock), so a test of
//! an app exercises the real commit rule, dedupe and timers.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures_util::FutureExt;
use rex_proto::{ErrorCode, EventIndex, Receipt, SessionId, SessionToken, SnapshotRecord};
use tokio::sync::{mpsc, oneshot, watch};

use super::app::{app_id, Context, Dispatch, RexApp, Scheduled};
use super::dedupe::{Dedupe, FirstOutcome};
use super::idle::Activity;
use super::log::{Entry, EventLog};
use super::session::{SessionMap, SessionTable};
use super::store::{token_hash, Batch, DedupeRecord, SavedState, Store, StoreError, StoredSession};

mod task;

pub(crate) use task::ActorCell;

/// A closure run on the app (scheduled work).
pub(crate) type Job<A> = Box<dyn FnOnce(&mut A, &mut Context<'_, A>) + Send>;

/// What answers a call once it is durable: sends the reply.
pub(crate) type Deliver = Box<dyn FnOnce() + Send>;

/// A closure run on the app for an [`super::AppHandle`]: it returns how to
/// deliver its result, which waits for the commit like any answer.
pub(crate) type RunJob<A> = Box<dyn FnOnce(&mut A, &mut Context<'_, A>) -> Deliver + Send>;

/// What a room does when its app asks to close it (`Context::close_room`),
/// given the grace period: a host schedules the room's disposal.
pub(crate) type Closer = Arc<dyn Fn(Duration) + Send + Sync>;

/// How the app's state is saved to a store: the `Durable` implementation,
/// captured where the bound is known.
pub(crate) type SaveState<A> = fn(&A) -> Result<Vec<u8>, String>;

/// The group commit: what the actor writes to its store, and the answers
/// that wait for it.
pub(crate) struct Commits<A: RexApp> {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) save: SaveState<A>,
    /// Calls since the last batch was sealed.
    open: Open,
    /// The sealed batch being written, if any: its events become visible
    /// and its answers go out when the write is durable.
    flight: Option<Open>,
    /// The oldest index the store keeps; the log's retention moves it.
    pub(crate) stored_oldest: EventIndex,
    /// The write that failed: the room stops.
    pub(crate) failed: Option<StoreError>,
    /// When the write in flight was started.
    sealed_at: Instant,
    /// After a write that answered several clients: how many answers the
    /// next batch waits to gather, and until when (see `ready_to_seal`).
    gather: Option<(usize, Instant)>,
}

/// The longest a batch waits for clients to come back (see
/// `Actor::ready_to_seal`): a small part of a write on any disk.
const MAX_GATHER: Duration = Duration::from_millis(2);

/// The calls of one batch: their writes, their events (to show readers)
/// and their answers.
#[derive(Default)]
struct Open {
    batch: Batch,
    entries: Vec<Entry>,
    answers: Vec<Deliver>,
    /// Whether any call changed something (there is something to write).
    changed: bool,
}

impl<A: RexApp> Commits<A> {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        save: SaveState<A>,
        stored_oldest: EventIndex,
    ) -> Self {
        Commits {
            store,
            save,
            open: Open::default(),
            flight: None,
            stored_oldest,
            failed: None,
            sealed_at: Instant::now(),
            gather: None,
        }
    }

    /// Whether an answer given now could reflect something not yet durable.
    fn pending(&self) -> bool {
        self.open.changed || self.flight.is_some()
    }
}

pub(crate) enum Command<A: RexApp> {
    Join {
        name: Option<String>,
        reply: oneshot::Sender<Result<Joined, CallError>>,
    },
    Message {
        session: SessionId,
        id: Option<u64>,
        msg: A::Protocol,
        reply: oneshot::Sender<Result<Receipt, CallError>>,
    },
    Run(RunJob<A>),
    Snapshot {
        viewer: Option<SessionId>,
        reply: oneshot::Sender<Result<SnapshotRecord, CallError>>,
    },
}

/// A session the app accepted.
#[derive(Debug)]
pub(crate) struct Joined {
    pub(crate) session: SessionId,
    pub(crate) token: SessionToken,
    pub(crate) next: EventIndex,
}

/// Why a join or message did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallError {
    /// The app refused, with its reason.
    Rejected(String),
    /// An event the app emitted could not be encoded.
    Internal(String),
    /// The session limit is reached.
    Full(usize),
    /// The app does not provide snapshots.
    NoSnapshot,
    /// The session expired after being idle (between the request's
    /// authentication and its turn on the app).
    Expired,
    /// The message repeats id `id`, which was refused with `code` the first
    /// time; the first reason is not kept (see `dedupe.rs`).
    Repeated { id: u64, code: ErrorCode },
}

impl CallError {
    /// The protocol code this error is answered with.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            CallError::Rejected(_) => ErrorCode::Rejected,
            CallError::Internal(_) => ErrorCode::Internal,
            CallError::Full(_) => ErrorCode::Unavailable,
            CallError::NoSnapshot => ErrorCode::NotFound,
            CallError::Repeated { code, .. } => *code,
            CallError::Expired => ErrorCode::Unauthorized,
        }
    }
}

/// What a call has emitted and scheduled so far; committed only if the call
/// succeeds.
pub(crate) struct Pending<A: RexApp> {
    pub(crate) log: Arc<EventLog>,
    /// The head when the call began: the index of its first event.
    base: EventIndex,
    pub(crate) entries: Vec<Entry>,
    pub(crate) timers: Vec<(Duration, Scheduled, Job<A>)>,
    /// The first encoding failure, which fails the whole call.
    pub(crate) failure: Option<String>,
    /// `Context::close_room`: close the room after this grace period.
    pub(crate) close: Option<Duration>,
}

impl<A: RexApp> Pending<A> {
    pub(crate) fn next_index(&self) -> EventIndex {
        self.base + self.entries.len() as u64
    }
}

pub(crate) struct Actor<A: RexApp> {
    pub(crate) app: A,
    pub(crate) log: Arc<EventLog>,
    /// The index the next event gets. Ahead of the log's head while a
    /// batch is being made durable (its events are not visible yet).
    pub(crate) head: EventIndex,
    /// The store and the group commit; `None`: the room lives in memory
    /// only, and a call is visible and answered as soon as it returns.
    pub(crate) commits: Option<Commits<A>>,
    pub(crate) sessions: Arc<SessionTable>,
    pub(crate) max_sessions: usize,
    pub(crate) dedupe: SessionMap<SessionId, Dedupe>,
    /// A sender for contexts to hand out as [`super::AppHandle`]s and for
    /// timers to report back on.
    pub(crate) tx: mpsc::Sender<Command<A>>,
    /// Becomes `true` when the server stops; the actor and its timers end.
    pub(crate) stop: watch::Receiver<bool>,
    /// Scheduled work, soonest first.
    pub(crate) timers: Timers<A>,
    /// When each session was last active, for the idle timeout.
    pub(crate) activity: Arc<Activity>,
    /// How long a session may stay idle before it expires; `None` (the
    /// default): sessions live as long as the server.
    pub(crate) idle_timeout: Option<Duration>,
    /// The server's per-address limits, told when a session ends so its
    /// address may create another; `None` in `rex::testing`.
    pub(crate) admission: Option<Arc<super::limits::Admission>>,
    /// Told when the app closes its room; `None`: the room lives as long
    /// as its server (a `Server`'s one room).
    pub(crate) on_close: Option<Closer>,
}

/// Work scheduled with `Context::after`, due at an instant.
pub(crate) struct Timer<A: RexApp> {
    pub(crate) due: Instant,
    /// Arrival order, so work due at the same instant runs in the order it
    /// was scheduled.
    seq: u64,
    scheduled: Scheduled,
    job: Job<A>,
}

impl<A: RexApp> PartialEq for Timer<A> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl<A: RexApp> Eq for Timer<A> {}

impl<A: RexApp> PartialOrd for Timer<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<A: RexApp> Ord for Timer<A> {
    /// Reversed, so the max-heap pops the soonest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// The queue of scheduled work.
pub(crate) struct Timers<A: RexApp> {
    heap: BinaryHeap<Timer<A>>,
    next_seq: u64,
}

impl<A: RexApp> Default for Timers<A> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<A: RexApp> Timers<A> {
    fn push(&mut self, due: Instant, scheduled: Scheduled, job: Job<A>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Timer {
            due,
            seq,
            scheduled,
            job,
        });
    }

    /// When the soonest work is due, if any is scheduled. Cancelled work is
    /// dropped here rather than waited for.
    pub(crate) fn next_due(&mut self) -> Option<Instant> {
        while self.heap.peek()?.scheduled.is_cancelled() {
            self.heap.pop();
        }
        self.heap.peek().map(|t| t.due)
    }

    /// The soonest work, if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Timer<A>> {
        if self.next_due()? <= now {
            self.heap.pop()
        } else {
            None
        }
    }
}

impl<A: RexApp> Actor<A> {
    /// Serves this actor from its own task alone (no request handler
    /// shares it): see [`ActorCell::run`].
    #[cfg(test)]
    pub(crate) async fn run(self, rx: mpsc::Receiver<Command<A>>) -> Result<(), StoreError> {
        ActorCell::new(self).run(rx).await
    }

    /// Whether to seal the next batch now, or let it gather a little.
    ///
    /// Clients that wait for their answer before sending again split into
    /// two groups under group commit: those answered by the write that
    /// just landed, and those whose calls arrived while it was in flight.
    /// Sealing at once would write only the second group, and the two would
    /// take turns, each write carrying half of them. So after a write that
    /// answered several clients, the next batch waits until as many calls
    /// as were then answered or waiting have arrived again, but never
    /// longer than half the last write took (and [`MAX_GATHER`]): one
    /// client alone never waits, and a burst that ended costs little.
    fn ready_to_seal(&self, now: Instant) -> bool {
        let Some(commits) = self.commits.as_ref() else {
            return false;
        };
        match commits.gather {
            None => true,
            Some((expect, until)) => commits.open.answers.len() >= expect || now >= until,
        }
    }

    /// Until when the next batch gathers, if it does.
    fn gather_until(&self) -> Option<Instant> {
        let commits = self.commits.as_ref()?;
        commits.gather.map(|(_, until)| until)
    }

    fn failure(&self) -> Option<StoreError> {
        self.commits.as_ref().and_then(|c| c.failed.clone())
    }

    /// Runs the app's `start` hook: once, before anything else, in a room
    /// that has nothing stored.
    pub(crate) fn start(&mut self) {
        let _ = self.call(None, |app, cx| {
            app.start(cx);
            Ok(())
        });
    }

    /// Seals the calls made since the last batch and starts writing them,
    /// if there are any and no write is in flight. A store that finishes at
    /// once (the memory store) lands here; otherwise the returned receiver
    /// resolves when the write is durable.
    pub(crate) fn seal(&mut self) -> Option<oneshot::Receiver<Result<(), StoreError>>> {
        let commits = self.commits.as_mut()?;
        if commits.flight.is_some() || commits.failed.is_some() {
            return None;
        }
        // Gathering ends here, whether or not there is anything to write.
        commits.gather = None;
        if !commits.open.changed {
            // Answers that only waited for the previous write.
            for answer in commits.open.answers.drain(..) {
                answer();
            }
            return None;
        }
        let mut open = std::mem::take(&mut commits.open);
        match (commits.save)(&self.app) {
            Ok(data) => {
                open.batch.state = Some(SavedState {
                    head: self.head,
                    data: data.into(),
                });
            }
            Err(reason) => {
                tracing::error!(error = %reason, "the app's state could not be saved; stopping the room");
                commits.failed = Some(StoreError::Invalid {
                    detail: format!("the app's state could not be encoded: {reason}"),
                });
                return None;
            }
        }
        let oldest = self.log.bounds().oldest;
        if oldest > commits.stored_oldest {
            open.batch.trim_before = Some(oldest);
        }
        open.batch.clock_ms = self.log.now_ms();
        commits.sealed_at = Instant::now();
        let write = commits.store.commit(std::mem::take(&mut open.batch));
        commits.flight = Some(open);
        let mut write = write;
        if let Some(result) = (&mut write).now_or_never() {
            self.landed(result);
            return self.seal();
        }
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(write.await);
        });
        Some(rx)
    }

    /// The write in flight finished: on success its events become visible
    /// and its answers go out; on failure the room stops (what the app
    /// holds is ahead of what is durable, and it cannot be taken back).
    pub(crate) fn landed(&mut self, result: Result<(), StoreError>) {
        let Some(commits) = self.commits.as_mut() else {
            return;
        };
        let Some(flight) = commits.flight.take() else {
            return;
        };
        match result {
            Ok(()) => {
                let oldest = self.log.bounds().oldest;
                commits.stored_oldest = commits.stored_oldest.max(oldest);
                let clients = flight.answers.len() + commits.open.answers.len();
                if clients >= 2 {
                    let wait = (commits.sealed_at.elapsed() / 2).min(MAX_GATHER);
                    commits.gather = Some((clients, Instant::now() + wait));
                }
                self.log.append(flight.entries);
                for answer in flight.answers {
                    answer();
                }
            }
            Err(error) => {
                tracing::error!(%error, place = %commits.store.place(), "a write to the store failed; stopping the room");
                // The answers are dropped: their requests get `503`.
                commits.failed = Some(error);
            }
        }
    }

    /// Sends an answer now, or once everything it may reflect is durable.
    fn answer(&mut self, deliver: impl FnOnce() + Send + 'static) {
        match self.commits.as_mut() {
            Some(commits) if commits.pending() => commits.open.answers.push(Box::new(deliver)),
            _ => deliver(),
        }
    }

    /// When the soonest scheduled work or session expiry is due, if any.
    pub(crate) fn next_due(&mut self) -> Option<Instant> {
        let expiry = self
            .idle_timeout
            .and_then(|idle| self.activity.next_expiry(idle));
        match (self.timers.next_due(), expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every piece of scheduled work due at `now`, soonest first, and
    /// expires the sessions idle for the whole timeout by then; work that
    /// becomes due by then while these run (a timer that schedules another
    /// for 0 s) runs too. Returns how many timers ran and sessions expired.
    pub(crate) fn run_due(&mut self, now: Instant) -> usize {
        let mut ran = self.run_timers(now);
        ran += self.expire_idle(now);
        ran
    }

    /// Ends every session idle for the whole timeout at `now`: its token
    /// stops working (`401`), its dedupe window is dropped, and the app's
    /// `leave` hook runs, with the session as the origin of what it emits.
    fn expire_idle(&mut self, now: Instant) -> usize {
        let Some(idle) = self.idle_timeout else {
            return 0;
        };
        let expired = self.activity.expired(now, idle);
        for &session in &expired {
            // Token first: once `leave` has run, nothing may act as it.
            self.sessions.remove(session);
            self.activity.remove(session);
            self.dedupe.remove(&session);
            if let Some(admission) = &self.admission {
                admission.session_ended(session);
            }
            if let Some(commits) = self.commits.as_mut() {
                commits.open.batch.left.push(session);
                commits.open.changed = true;
            }
            tracing::debug!(%session, ?idle, "session expired after being idle");
            let _ = self.call(Some(session), |app, cx| {
                app.leave(cx, session);
                Ok(())
            });
        }
        expired.len()
    }

    fn run_timers(&mut self, now: Instant) -> usize {
        let mut ran = 0;
        while let Some(timer) = self.timers.pop_due(now) {
            let job = timer.job;
            let _ = self.call(None, |app, cx| {
                job(app, cx);
                Ok(())
            });
            ran += 1;
        }
        ran
    }

    pub(crate) fn dispatch(&mut self, cmd: Command<A>) {
        match cmd {
            Command::Join { name, reply } => {
                let joined = self.join(name);
                self.answer(move || {
                    let _ = reply.send(joined);
                });
            }
            Command::Message {
                session,
                id,
                msg,
                reply,
            } => {
                let outcome = self.message(session, id, msg);
                self.answer(move || {
                    let _ = reply.send(outcome);
                });
            }
            Command::Run(job) => {
                let mut deliver = None;
                let _ = self.call(None, |app, cx| {
                    deliver = Some(job(app, cx));
                    Ok(())
                });
                if let Some(deliver) = deliver {
                    self.answer(deliver);
                }
            }
            Command::Snapshot { viewer, reply } => {
                let snapshot = self.snapshot(viewer);
                self.answer(move || {
                    let _ = reply.send(snapshot);
                });
            }
        }
    }

    /// The app's state for `viewer`, with the head it reflects. Taken here,
    /// between two calls, so no event can be appended between reading the
    /// state and reading the head (with a store, the answer waits until
    /// that head is durable and visible).
    pub(crate) fn snapshot(&self, viewer: Option<SessionId>) -> Result<SnapshotRecord, CallError> {
        let snapshot = self.app.snapshot(viewer).ok_or(CallError::NoSnapshot)?;
        let data = snapshot.into_data().map_err(|reason| {
            tracing::error!(error = %reason, "the app's snapshot could not be encoded");
            CallError::Internal(reason)
        })?;
        Ok(SnapshotRecord {
            epoch: self.log.epoch(),
            index: self.head,
            time: self.log.now_ms(),
            data,
        })
    }

    pub(crate) fn join(&mut self, name: Option<String>) -> Result<Joined, CallError> {
        if self.sessions.len() >= self.max_sessions {
            return Err(CallError::Full(self.max_sessions));
        }
        let session = SessionId::new_random();
        let stored_name = self.commits.as_ref().and(name.clone());
        let receipt = self.call(Some(session), |app, cx| app.join(cx, session, name))?;
        let token = SessionToken::new_random();
        let hash = token_hash(token.expose());
        self.activity.insert(session);
        self.sessions.insert(hash, session);
        if let Some(commits) = self.commits.as_mut() {
            commits.open.batch.joined.push(StoredSession {
                id: session,
                token_hash: hash,
                name: stored_name,
            });
            commits.open.changed = true;
        }
        Ok(Joined {
            session,
            token,
            next: receipt.first,
        })
    }

    pub(crate) fn message(
        &mut self,
        session: SessionId,
        id: Option<u64>,
        msg: A::Protocol,
    ) -> Result<Receipt, CallError> {
        if self.idle_timeout.is_some() && !self.activity.contains(session) {
            return Err(CallError::Expired);
        }
        if let Some(id) = id {
            if let Some(first) = self.dedupe.get(&session).and_then(|d| d.get(id)) {
                tracing::debug!(%session, id, "repeated message id; answering with the first outcome");
                return match first {
                    FirstOutcome::Handled(receipt) => Ok(receipt),
                    FirstOutcome::Refused(code) => Err(CallError::Repeated { id, code }),
                };
            }
        }
        let outcome = self.call(Some(session), |app, cx| msg.dispatch(app, cx, session));
        if let Some(id) = id {
            let first = match &outcome {
                Ok(receipt) => FirstOutcome::Handled(*receipt),
                Err(error) => FirstOutcome::Refused(error.code()),
            };
            let seq = self.dedupe.entry(session).or_default().record(id, first);
            if let (Some(seq), Some(commits)) = (seq, self.commits.as_mut()) {
                commits.open.batch.dedupe.push(DedupeRecord {
                    session,
                    seq,
                    id,
                    outcome: first,
                });
                commits.open.changed = true;
            }
        }
        outcome
    }

    /// Runs one call on the app and commits what it emitted if it
    /// succeeded: at once in memory, or into the next batch with a store.
    pub(crate) fn call(
        &mut self,
        origin: Option<SessionId>,
        f: impl FnOnce(&mut A, &mut Context<'_, A>) -> Result<(), super::Reject>,
    ) -> Result<Receipt, CallError> {
        let mut pending = Pending {
            log: self.log.clone(),
            base: self.head,
            entries: Vec::new(),
            timers: Vec::new(),
            failure: None,
            close: None,
        };
        let result = {
            let mut cx = Context {
                pending: &mut pending,
                origin,
                tx: &self.tx,
            };
            f(&mut self.app, &mut cx)
        };
        if let Some(reason) = pending.failure {
            return Err(CallError::Internal(reason));
        }
        if let Err(reject) = result {
            return Err(CallError::Rejected(reject.reason().to_owned()));
        }
        let receipt = Receipt {
            first: pending.base,
            count: pending.entries.len() as u64,
        };
        self.head += receipt.count;
        match self.commits.as_mut() {
            None => self.log.append(pending.entries),
            Some(commits) => {
                let open = &mut commits.open;
                // Every successful call may have changed the app's state.
                open.changed = true;
                for (i, entry) in pending.entries.iter().enumerate() {
                    open.batch
                        .events
                        .push(entry.to_stored(receipt.first + i as u64));
                }
                open.entries.extend(pending.entries);
            }
        }
        let now = Instant::now();
        for (delay, scheduled, job) in pending.timers {
            self.timers.push(now + delay, scheduled, job);
        }
        if let Some(grace) = pending.close {
            match &self.on_close {
                Some(close) => close(grace),
                None => tracing::info!(
                    app = app_id::<A>(),
                    "the app asked to close its room; a server's one room lives as long as \
                     the server, so it stays open"
                ),
            }
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    //! The actor through `rex::testing`, which drives this very code, plus
    //! the task loop the server spawns (`run`), on tokio's paused clock.

    use super::*;
    use crate::server::log::Retention;
    use crate::server::{AppHandle, Reject};
    use crate::testing::TestRoom;

    /// Says how many events to emit, whether to schedule work, whether to
    /// reject.
    #[derive(crate::RexMessage)]
    #[rex(app = "unit", events = Ev)]
    enum Msg {
        Go {
            emit: u32,
            reject: bool,
            timer_ms: Option<u64>,
        },
    }

    #[derive(Debug, PartialEq, crate::RexEvent)]
    enum Ev {
        Note(String),
    }

    #[derive(Default)]
    struct App {
        fired: Vec<&'static str>,
    }

    impl RexApp for App {
        type Protocol = Msg;

        fn start(&mut self, cx: &mut Context<'_, Self>) {
            cx.emit(note("started"));
        }
    }

    impl MsgHandler for App {
        fn go(
            &mut self,
            cx: &mut Context<'_, Self>,
            _: SessionId,
            emit: u32,
            reject: bool,
            timer_ms: Option<u64>,
        ) -> Result<(), Reject> {
            for _ in 0..emit {
                cx.emit(note("go"));
            }
            if let Some(ms) = timer_ms {
                cx.after(Duration::from_millis(ms), |app, cx| {
                    app.fired.push("timer");
                    cx.emit(note("timer"));
                });
            }
            if reject {
                return Err(Reject::new("no"));
            }
            Ok(())
        }
    }

    fn note(text: &str) -> Ev {
        Ev::Note(text.to_owned())
    }

    fn go(emit: u32) -> Msg {
        Msg::Go {
            emit,
            reject: false,
            timer_ms: None,
        }
    }

    fn notes(room: &TestRoom<App>) -> Vec<String> {
        room.log()
            .into_iter()
            .map(|e| match e.event {
                Ev::Note(text) => text,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn start_hook_runs_first_and_receipts_are_consecutive() {
        let mut room = TestRoom::new(App::default());
        let me = room.join("me").unwrap();
        let two = room.send(me, go(2)).unwrap();
        assert_eq!(two.iter().map(|e| e.index).collect::<Vec<_>>(), [1, 2]);
        assert!(room.send(me, go(0)).unwrap().is_empty());
        assert_eq!(room.head(), 3);
        assert_eq!(notes(&room), ["started", "go", "go"]);
    }

    #[tokio::test(start_paused = true)]
    async fn rejected_calls_append_nothing_and_schedule_nothing() {
        let mut room = TestRoom::new(App::default());
        let me = room.join("me").unwrap();
        let rejected = Msg::Go {
            emit: 3,
            reject: true,
            timer_ms: Some(10),
        };
        assert_eq!(room.send(me, rejected), Err(Reject::new("no")));
        assert!(room.advance(Duration::from_secs(1)).await.is_empty());
        assert_eq!(notes(&room), ["started"]);
        assert!(room.app().fired.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn scheduled_work_runs_after_its_delay_unless_cancelled() {
        let mut room = TestRoom::new(App::default());
        let me = room.join("me").unwrap();
        let timed = Msg::Go {
            emit: 0,
            reject: false,
            timer_ms: Some(5_000),
        };
        room.send(me, timed).unwrap();
        assert!(room.advance(Duration::from_millis(4_999)).await.is_empty());
        let fired = room.advance(Duration::from_millis(1)).await;
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].time, fired[0].origin), (5_000, None));

        let (scheduled, _) = room.run(|_, cx| {
            cx.after(Duration::from_secs(1), |_, cx| {
                cx.emit(note("cancelled"));
            })
        });
        scheduled.cancel();
        assert!(room.advance(Duration::from_secs(2)).await.is_empty());
        assert_eq!(notes(&room), ["started", "timer"]);
    }

    #[tokio::test(start_paused = true)]
    async fn retried_ids_return_the_first_outcome_including_rejections() {
        let mut room = TestRoom::new(App::default());
        let me = room.join("me").unwrap();
        let first = room.send_with_id(me, 9, go(1));
        assert_eq!(
            room.send_with_id(me, 9, go(5)),
            first,
            "same id, first outcome"
        );
        let reject = Msg::Go {
            emit: 1,
            reject: true,
            timer_ms: None,
        };
        assert_eq!(room.send_with_id(me, 10, reject), Err(Reject::new("no")));
        // The retry is refused too, without the app: only the code of the
        // first refusal is kept, so the reason says it is a repeat.
        let again = room.send_with_id(me, 10, go(1)).unwrap_err();
        assert!(again.reason().contains("id 10 was already sent"), "{again}");
        assert_eq!(notes(&room), ["started", "go"]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_session_limit_refuses_a_join() {
        let mut room = TestRoom::with_max_sessions(App::default(), 2);
        room.join("a").unwrap();
        room.join("b").unwrap();
        let full = room.join("c").unwrap_err();
        assert!(full.reason().contains("full"), "{full}");
    }

    /// An actor for the task-loop tests, with the ends of its channel and
    /// its stop switch.
    struct TaskActor {
        actor: Actor<App>,
        tx: mpsc::Sender<Command<App>>,
        rx: mpsc::Receiver<Command<App>>,
        stop_tx: watch::Sender<bool>,
    }

    fn task_actor() -> TaskActor {
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, stop) = watch::channel(false);
        let actor = Actor {
            app: App::default(),
            head: 0,
            commits: None,
            log: EventLog::new(Retention::unlimited()),
            sessions: Arc::new(SessionTable::default()),
            max_sessions: 2,
            dedupe: Default::default(),
            tx: tx.clone(),
            stop,
            timers: Default::default(),
            activity: Default::default(),
            idle_timeout: None,
            admission: None,
            on_close: None,
        };
        TaskActor {
            actor,
            tx,
            rx,
            stop_tx,
        }
    }

    fn kinds(log: &EventLog) -> Vec<String> {
        log.lines_from(0)
            .iter()
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["data"].to_string())
            .collect()
    }

    /// A call run in the request's own poll (`try_now`) while the task
    /// sleeps: work it schedules sooner than the task's timer still runs
    /// on time, and work that fell due runs before the call.
    #[tokio::test(start_paused = true)]
    async fn calls_run_in_place_keep_the_order_of_due_work() {
        let TaskActor {
            mut actor,
            tx,
            rx,
            stop_tx,
        } = task_actor();
        actor.start();
        let log = actor.log.clone();
        let cell = ActorCell::new(actor);
        let task = tokio::spawn(cell.clone().run(rx));
        // Let the task reach its wait (nothing is scheduled: a far timer).
        tokio::task::yield_now().await;
        let ran = cell.try_now(&tx, (), |actor, ()| {
            actor.call(None, |_, cx| {
                cx.after(Duration::from_secs(1), |_, cx| {
                    cx.emit(note("soon"));
                });
                cx.after(Duration::from_secs(5), |_, cx| {
                    cx.emit(note("due"));
                });
                Ok(())
            })
        });
        assert!(
            ran.is_ok(),
            "a free actor of a room in memory runs the call in place"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(kinds(&log), [r#""started""#, r#""soon""#]);
        // Past the second timer's instant, before the task wakes for it:
        // a call in place runs the due work first.
        tokio::time::advance(Duration::from_secs(4)).await;
        let order = cell
            .try_now(&tx, (), |actor, ()| {
                actor.call(None, |_, cx| {
                    cx.emit(note("call"));
                    Ok(())
                })
            })
            .unwrap();
        assert!(order.is_ok());
        assert_eq!(
            kinds(&log),
            [r#""started""#, r#""soon""#, r#""due""#, r#""call""#]
        );
        // A command queued ahead: the call waits its turn in the channel.
        let permit = tx.try_reserve().unwrap();
        assert!(cell.try_now(&tx, (), |_, ()| ()).is_err());
        drop(permit);
        stop_tx.send_replace(true);
        task.await.unwrap().unwrap();
        assert!(
            cell.try_now(&tx, (), |_, ()| ()).is_err(),
            "a stopped room runs nothing in place"
        );
    }

    /// The loop the server spawns: due work runs on its own, in order with
    /// requests, and stopping ends the actor.
    #[tokio::test(start_paused = true)]
    async fn the_task_loop_runs_due_work_and_stops() {
        let TaskActor {
            mut actor,
            tx,
            rx,
            stop_tx,
        } = task_actor();
        let log = actor.log.clone();
        actor.start();
        let task = tokio::spawn(actor.run(rx));
        let handle = AppHandle { tx };
        handle
            .run(|_, cx| {
                cx.after(Duration::from_secs(2), |_, cx| {
                    cx.emit(note("second"));
                });
                cx.after(Duration::from_secs(1), |_, cx| {
                    cx.emit(note("first"));
                });
            })
            .await
            .unwrap();
        // The paused clock jumps to each deadline once the actor waits.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let fired = handle.run(|app, _| app.fired.len()).await.unwrap();
        assert_eq!(fired, 0);
        assert_eq!(kinds(&log), [r#""started""#, r#""first""#, r#""second""#]);
        stop_tx.send_replace(true);
        task.await.unwrap().unwrap();
        assert_eq!(handle.run(|_, _| ()).await, Err(crate::server::AppStopped));
    }
}
