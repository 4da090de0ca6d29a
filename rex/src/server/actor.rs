//! The app actor: the one task that owns the app and is the log's only
//! writer. Requests, handle calls and timers reach it as [`Command`]s over
//! one channel and run one at a time, in arrival order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rex_proto::{EventIndex, Receipt, SessionId, SessionToken};
use tokio::sync::{mpsc, oneshot, watch};

use super::app::{Context, RexApp, Scheduled};
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
        msg: A::Message,
        reply: oneshot::Sender<Result<Receipt, CallError>>,
    },
    Run(Job<A>),
    Timer(Scheduled, Job<A>),
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
        tracing::debug!(app = A::ID, "app actor stopped");
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
        msg: A::Message,
    ) -> Result<Receipt, CallError> {
        if let Some(id) = id {
            if let Some(first) = self.dedupe.get(&session).and_then(|d| d.get(id)) {
                tracing::debug!(%session, id, "repeated message id; answering with the first outcome");
                return first;
            }
        }
        let outcome = self.call(Some(session), |app, cx| app.message(cx, session, msg));
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
