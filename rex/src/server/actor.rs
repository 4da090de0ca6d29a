//! The app actor: the one task that owns the app and is the log's only
//! writer. Requests, handle calls and timers reach it as [`Command`]s over
//! one channel and run one at a time, in arrival order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rex_proto::{EventIndex, Receipt, SessionId, SessionToken, SnapshotRecord};
use tokio::sync::{mpsc, oneshot, watch};

use super::app::{app_id, Context, Dispatch, RexApp, Scheduled};
use super::log::{Entry, EventLog};
use super::session::{Dedupe, SessionTable};

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
    Timer(Scheduled, Job<A>),
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
    pub(crate) dedupe: HashMap<SessionId, Dedupe<Result<Receipt, CallError>>>,
    /// A sender for contexts to hand out as [`super::AppHandle`]s and for
    /// timers to report back on.
    pub(crate) tx: mpsc::Sender<Command<A>>,
    /// Becomes `true` when the server stops; the actor and its timers end.
    pub(crate) stop: watch::Receiver<bool>,
}

impl<A: RexApp> Actor<A> {
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command<A>>) {
        let _ = self.call(None, |app, cx| {
            app.start(cx);
            Ok(())
        });
        loop {
            let cmd = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => None,
                cmd = rx.recv() => cmd,
            };
            let Some(cmd) = cmd else { break };
            self.dispatch(cmd);
        }
        tracing::debug!(app = app_id::<A>(), "app actor stopped");
    }

    fn dispatch(&mut self, cmd: Command<A>) {
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
            Command::Timer(scheduled, job) => {
                if !scheduled.is_cancelled() {
                    let _ = self.call(None, |app, cx| {
                        job(app, cx);
                        Ok(())
                    });
                }
            }
        }
    }

    /// The app's state for `viewer`, with the head it reflects. Taken here,
    /// between two calls, so no event can be appended between reading the
    /// state and reading the head.
    fn snapshot(&self, viewer: Option<SessionId>) -> Result<SnapshotRecord, CallError> {
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

    fn join(&mut self, name: Option<String>) -> Result<Joined, CallError> {
        if self.sessions.len() >= self.max_sessions {
            return Err(CallError::Full(self.max_sessions));
        }
        let session = SessionId::new_random();
        let receipt = self.call(Some(session), |app, cx| app.join(cx, session, name))?;
        let token = SessionToken::new_random();
        self.sessions.insert(&token, session);
        Ok(Joined {
            session,
            token,
            next: receipt.first,
        })
    }

    fn message(
        &mut self,
        session: SessionId,
        id: Option<u64>,
        msg: A::Protocol,
    ) -> Result<Receipt, CallError> {
        if let Some(id) = id {
            if let Some(first) = self.dedupe.get(&session).and_then(|d| d.get(id)) {
                tracing::debug!(%session, id, "repeated message id; answering with the first outcome");
                return first;
            }
        }
        let outcome = self.call(Some(session), |app, cx| msg.dispatch(app, cx, session));
        if let Some(id) = id {
            self.dedupe
                .entry(session)
                .or_default()
                .record(id, outcome.clone());
        }
        outcome
    }

    /// Runs one call on the app and commits what it emitted if it succeeded.
    fn call(
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
        for (delay, scheduled, job) in pending.timers {
            self.spawn_timer(delay, scheduled, job);
        }
        Ok(receipt)
    }

    fn spawn_timer(&self, delay: Duration, scheduled: Scheduled, job: Job<A>) {
        let tx = self.tx.clone();
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            let due = tokio::select! {
                () = tokio::time::sleep(delay) => true,
                _ = stop.wait_for(|stop| *stop) => false,
            };
            if due && !scheduled.is_cancelled() {
                let _ = tx.send(Command::Timer(scheduled, job)).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::log::{Framing, Retention};
    use crate::server::{AppHandle, Reject};
    use serde_json::Value;

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

    struct Harness {
        log: Arc<EventLog>,
        handle: AppHandle<App>,
        stop: watch::Sender<bool>,
        session: SessionId,
    }

    fn start() -> Harness {
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
        };
        tokio::spawn(actor.run(rx));
        Harness {
            log,
            handle: AppHandle { tx },
            stop: stop_tx,
            session: SessionId::new_random(),
        }
    }

    impl Harness {
        async fn send(&self, go: Msg, id: Option<u64>) -> Result<Receipt, CallError> {
            let (reply, rx) = oneshot::channel();
            let cmd = Command::Message {
                session: self.session,
                id,
                msg: go,
                reply,
            };
            self.handle.tx.send(cmd).await.unwrap();
            rx.await.unwrap()
        }

        async fn join(&self) -> Result<Joined, CallError> {
            let (reply, rx) = oneshot::channel();
            self.handle
                .tx
                .send(Command::Join { name: None, reply })
                .await
                .unwrap();
            rx.await.unwrap()
        }

        fn kinds(&self) -> Vec<String> {
            let (chunk, _) = self.log.read(0, None, Framing::Ndjson).unwrap();
            chunk
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    serde_json::from_slice::<Value>(l).unwrap()["data"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect()
        }
    }

    fn go(emit: u32) -> Msg {
        Msg::Go {
            emit,
            reject: false,
            timer_ms: None,
        }
    }

    #[tokio::test]
    async fn start_hook_runs_first_and_receipts_are_consecutive() {
        let h = start();
        assert_eq!(
            h.send(go(2), None).await,
            Ok(Receipt { first: 1, count: 2 })
        );
        assert_eq!(
            h.send(go(0), None).await,
            Ok(Receipt { first: 3, count: 0 })
        );
        assert_eq!(h.kinds(), ["started", "go", "go"]);
    }

    #[tokio::test]
    async fn rejected_calls_append_nothing_and_schedule_nothing() {
        tokio::time::pause();
        let h = start();
        let rejected = Msg::Go {
            emit: 3,
            reject: true,
            timer_ms: Some(10),
        };
        assert_eq!(
            h.send(rejected, None).await,
            Err(CallError::Rejected("no".into()))
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(h.kinds(), ["started"]);
        assert!(h.handle.run(|app, _| app.fired.is_empty()).await.unwrap());
    }

    #[tokio::test]
    async fn scheduled_work_runs_after_its_delay_unless_cancelled() {
        tokio::time::pause();
        let h = start();
        let timed = Msg::Go {
            emit: 0,
            reject: false,
            timer_ms: Some(5_000),
        };
        h.send(timed, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(4_900)).await;
        assert_eq!(h.kinds(), ["started"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The timer's command is queued; a round trip through the actor
        // makes sure it ran.
        h.handle.run(|_, _| ()).await.unwrap();
        assert_eq!(h.kinds(), ["started", "timer"]);

        let scheduled = h
            .handle
            .run(|_, cx| {
                cx.after(Duration::from_secs(1), |_, cx| {
                    cx.emit(note("cancelled"));
                })
            })
            .await
            .unwrap();
        scheduled.cancel();
        tokio::time::sleep(Duration::from_secs(2)).await;
        h.handle.run(|_, _| ()).await.unwrap();
        assert_eq!(h.kinds(), ["started", "timer"]);
    }

    #[tokio::test]
    async fn retried_ids_return_the_first_outcome_including_rejections() {
        let h = start();
        let first = h.send(go(1), Some(9)).await;
        assert_eq!(
            h.send(go(5), Some(9)).await,
            first,
            "same id, first outcome"
        );
        let rejected = h
            .send(
                Msg::Go {
                    emit: 1,
                    reject: true,
                    timer_ms: None,
                },
                Some(10),
            )
            .await;
        assert_eq!(h.send(go(1), Some(10)).await, rejected);
        assert_eq!(h.kinds(), ["started", "go"]);
    }

    #[tokio::test]
    async fn session_limit_and_stop() {
        let h = start();
        h.join().await.unwrap();
        h.join().await.unwrap();
        assert!(matches!(h.join().await, Err(CallError::Full(2))));
        h.stop.send_replace(true);
        let stopped = h.handle.run(|_, _| ()).await;
        assert_eq!(stopped, Err(crate::server::AppStopped));
    }
}
