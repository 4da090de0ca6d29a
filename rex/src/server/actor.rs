//! The app actor: the one task that owns the app and is the log's only
//! writer. Requests and handle calls reach it as [`Command`]s over one
//! channel and run one at a time, in arrival order; scheduled work waits in
//! the actor's own queue, ordered by when it is due.
//!
//! The same `Actor` runs behind the HTTP server (`run`, a task) and inside
//! [`crate::testing`] (driven step by step on a paused clock), so a test of
//! an app exercises the real commit rule, dedupe and timers.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use rex_proto::{ErrorCode, EventIndex, Receipt, SessionId, SessionToken, SnapshotRecord};
use tokio::sync::{mpsc, oneshot, watch};

use super::app::{app_id, Context, Dispatch, RexApp, Scheduled};
use super::dedupe::{Dedupe, FirstOutcome};
use super::idle::Activity;
use super::log::{Entry, EventLog};
use super::session::SessionTable;

/// A closure run on the app.
pub(crate) type Job<A> = Box<dyn FnOnce(&mut A, &mut Context<'_, A>) + Send>;

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
    Run(Job<A>),
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
}

impl<A: RexApp> Pending<A> {
    pub(crate) fn next_index(&self) -> EventIndex {
        self.base + self.entries.len() as u64
    }
}

pub(crate) struct Actor<A: RexApp> {
    pub(crate) app: A,
    pub(crate) log: Arc<EventLog>,
    pub(crate) sessions: Arc<SessionTable>,
    pub(crate) max_sessions: usize,
    pub(crate) dedupe: HashMap<SessionId, Dedupe>,
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
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command<A>>) {
        self.start();
        let mut stop = self.stop.clone();
        // Cloned once, not per command: the loop below is the message path.
        let activity = self.activity.clone();
        loop {
            // Far in the future when nothing is scheduled: the branch is
            // then never taken.
            let due = self
                .next_due()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => break,
                // Due work first: a steady stream of requests must not
                // starve a question's deadline.
                () = tokio::time::sleep_until(due) => {
                    self.run_due(Instant::now());
                }
                // A stream closed: a session may now expire sooner than
                // `due`; go round to recompute it.
                () = activity.changed(), if self.idle_timeout.is_some() => {}
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.dispatch(cmd),
                    None => break,
                },
            }
        }
        tracing::debug!(app = app_id::<A>(), "app actor stopped");
    }

    /// Runs the app's `start` hook: once, before anything else.
    pub(crate) fn start(&mut self) {
        let _ = self.call(None, |app, cx| {
            app.start(cx);
            Ok(())
        });
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
                let _ = reply.send(self.join(name));
            }
            Command::Message {
                session,
                id,
                msg,
                reply,
            } => {
                let _ = reply.send(self.message(session, id, msg));
            }
            Command::Run(job) => {
                let _ = self.call(None, |app, cx| {
                    job(app, cx);
                    Ok(())
                });
            }
            Command::Snapshot { viewer, reply } => {
                let _ = reply.send(self.snapshot(viewer));
            }
        }
    }

    /// The app's state for `viewer`, with the head it reflects. Taken here,
    /// between two calls, so no event can be appended between reading the
    /// state and reading the head.
    pub(crate) fn snapshot(&self, viewer: Option<SessionId>) -> Result<SnapshotRecord, CallError> {
        let snapshot = self.app.snapshot(viewer).ok_or(CallError::NoSnapshot)?;
        let data = snapshot.into_data().map_err(|reason| {
            tracing::error!(error = %reason, "the app's snapshot could not be encoded");
            CallError::Internal(reason)
        })?;
        Ok(SnapshotRecord {
            epoch: self.log.epoch(),
            index: self.log.bounds().head,
            time: self.log.now_ms(),
            data,
        })
    }

    pub(crate) fn join(&mut self, name: Option<String>) -> Result<Joined, CallError> {
        if self.sessions.len() >= self.max_sessions {
            return Err(CallError::Full(self.max_sessions));
        }
        let session = SessionId::new_random();
        let receipt = self.call(Some(session), |app, cx| app.join(cx, session, name))?;
        let token = SessionToken::new_random();
        self.activity.insert(session);
        self.sessions.insert(&token, session);
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
            self.dedupe.entry(session).or_default().record(id, first);
        }
        outcome
    }

    /// Runs one call on the app and commits what it emitted if it succeeded.
    pub(crate) fn call(
        &mut self,
        origin: Option<SessionId>,
        f: impl FnOnce(&mut A, &mut Context<'_, A>) -> Result<(), super::Reject>,
    ) -> Result<Receipt, CallError> {
        let mut pending = Pending {
            log: self.log.clone(),
            base: self.log.bounds().head,
            entries: Vec::new(),
            timers: Vec::new(),
            failure: None,
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
        self.log.append(pending.entries);
        let now = Instant::now();
        for (delay, scheduled, job) in pending.timers {
            self.timers.push(now + delay, scheduled, job);
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

    /// The loop the server spawns: due work runs on its own, in order with
    /// requests, and stopping ends the actor.
    #[tokio::test(start_paused = true)]
    async fn the_task_loop_runs_due_work_and_stops() {
        let log = EventLog::new(Retention::unlimited());
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, stop) = watch::channel(false);
        let actor = Actor {
            app: App::default(),
            log: log.clone(),
            sessions: Arc::new(SessionTable::default()),
            max_sessions: 2,
            dedupe: HashMap::new(),
            tx: tx.clone(),
            stop,
            timers: Default::default(),
            activity: Default::default(),
            idle_timeout: None,
            admission: None,
        };
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
        let kinds: Vec<String> = log
            .lines_from(0)
            .iter()
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["data"].to_string())
            .collect();
        assert_eq!(kinds, [r#""started""#, r#""first""#, r#""second""#]);
        stop_tx.send_replace(true);
        task.await.unwrap();
        assert_eq!(handle.run(|_, _| ()).await, Err(crate::server::AppStopped));
    }
}
