//! The room's app as its task and its request handlers share it.
//!
//! The actor is the one owner of the app and the log's only writer. It
//! lives in an [`ActorCell`]: a lock around it, taken for one call at a
//! time. The room's task (`ActorCell::run`) takes commands from the
//! channel, runs due work and lands durable writes. A request handler of
//! a room kept in memory may also run its call itself
//! ([`ActorCell::try_now`]), in the poll that read the request, when the
//! actor is free and nothing is queued before it: the answer is then
//! written in the same poll, without a trip through the channel, a wake of
//! the room's task and a second poll of the connection (issue 19: that
//! trip was most of what a message cost beyond bare hyper).
//!
//! Calls still run one at a time and see each other's effects in the
//! order they ran; a call that cannot run at once (the actor is busy, a
//! command is queued, the room is durable) goes through the channel as
//! before, so no request waits on the lock.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use super::{Actor, Command};
use crate::server::app::{app_id, RexApp};
use crate::server::store::StoreError;

/// How many queued commands the actor handles per wake-up before it seals
/// a batch: enough to share one write among a burst, few enough that a
/// due timer is not kept waiting behind a flood.
const DRAIN: usize = 256;

/// The actor behind its lock, with what its task is waiting for.
pub(crate) struct ActorCell<A: RexApp> {
    inner: Mutex<Inner<A>>,
    /// Wakes the task when a call run by a request handler scheduled work
    /// sooner than the task's timer.
    rearm: Notify,
}

struct Inner<A: RexApp> {
    actor: Actor<A>,
    /// The instant the task's timer is set for; `None` while the task
    /// is not waiting on one.
    armed: Option<Instant>,
}

impl<A: RexApp> ActorCell<A> {
    /// Puts `actor` behind its lock; `run` then serves it.
    pub(crate) fn new(actor: Actor<A>) -> Arc<Self> {
        Arc::new(ActorCell {
            inner: Mutex::new(Inner { actor, armed: None }),
            rearm: Notify::new(),
        })
    }

    /// The actor, or `None` if a call panicked while it held the lock:
    /// the app may be half-changed, so the room takes no more work.
    fn lock(&self) -> Option<MutexGuard<'_, Inner<A>>> {
        self.inner.lock().ok()
    }

    /// Runs `call` on the actor now, in the caller's poll, if that keeps
    /// every guarantee of the channel: the room is kept in memory (an
    /// answer needs no write first), the room is not stopping, no command
    /// is queued ahead (`queue` is the room's channel), and nobody holds
    /// the actor. Work that fell due runs first, as the task would have
    /// run it. Gives `input` back when the call must go through the
    /// channel instead.
    pub(crate) fn try_now<T, R>(
        &self,
        queue: &mpsc::Sender<Command<A>>,
        input: T,
        call: impl FnOnce(&mut Actor<A>, T) -> R,
    ) -> Result<R, T> {
        if queue.capacity() != queue.max_capacity() {
            return Err(input);
        }
        let mut inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => return Err(input),
        };
        let actor = &mut inner.actor;
        if actor.commits.is_some() || *actor.stop.borrow() {
            return Err(input);
        }
        if actor.timers.next_due().is_some() {
            let now = Instant::now();
            if actor.next_due().is_some_and(|due| due <= now) {
                actor.run_due(now);
            }
        }
        let result = call(actor, input);
        let sooner = match (inner.actor.next_due(), inner.armed) {
            (Some(due), Some(armed)) => due < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        drop(inner);
        if sooner {
            self.rearm.notify_one();
        }
        Ok(result)
    }

    /// The room's task: handles commands one at a time in arrival order,
    /// runs scheduled work when it is due, and with a store seals batches
    /// and answers them once durable. Ends when the server stops (after
    /// making what was handled durable), when every sender is gone, or
    /// when the store fails.
    pub(crate) async fn run(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<Command<A>>,
    ) -> Result<(), StoreError> {
        let Some((mut stop, activity, idle)) = self.lock().map(|inner| {
            let actor = &inner.actor;
            (
                actor.stop.clone(),
                actor.activity.clone(),
                actor.idle_timeout.is_some(),
            )
        }) else {
            return Ok(());
        };
        let mut flight = self.lock().and_then(|mut inner| inner.actor.seal());
        loop {
            let Some(armed) = self.arm() else {
                tracing::error!(
                    app = app_id::<A>(),
                    "the app panicked during a call; its room takes no more work"
                );
                return Ok(());
            };
            let (due, gather_until) = armed?;
            let mut landed = None;
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => break,
                // A durable write first: its answers have waited longest.
                result = landing(&mut flight), if flight.is_some() => landed = Some(result),
                // The next batch has gathered long enough.
                () = tokio::time::sleep_until(gather_until.unwrap_or(due)), if flight.is_none() && gather_until.is_some() => {}
                // Due work next: a steady stream of requests must not
                // starve a question's deadline.
                () = tokio::time::sleep_until(due) => {
                    if let Some(mut inner) = self.lock() {
                        inner.actor.run_due(Instant::now());
                    }
                }
                // A call run by a request scheduled work sooner than `due`.
                () = self.rearm.notified() => {}
                // A stream closed: a session may now expire sooner than
                // `due`; go round to recompute it.
                () = activity.changed(), if idle => {}
                cmd = rx.recv() => match cmd {
                    Some(cmd) => if !self.dispatch(cmd, &mut rx) {
                        break;
                    },
                    None => break,
                },
            }
            if let Some(mut inner) = self.lock() {
                if let Some(result) = landed {
                    flight = None;
                    inner.actor.landed(result);
                }
                if flight.is_none() && inner.actor.ready_to_seal(Instant::now()) {
                    flight = inner.actor.seal();
                }
            }
        }
        // Stopping: what was handled is made durable and answered before
        // the actor ends, so a graceful stop loses nothing.
        while let Some(rx) = flight.take() {
            let result = landing(&mut Some(rx)).await;
            flight = self.lock().and_then(|mut inner| {
                inner.actor.landed(result);
                inner.actor.seal()
            });
        }
        tracing::debug!(app = app_id::<A>(), "app actor stopped");
        match self.lock().and_then(|inner| inner.actor.failure()) {
            Some(failed) => Err(failed),
            None => Ok(()),
        }
    }
}

impl<A: RexApp> ActorCell<A> {
    /// Before the task waits: the store's failure, or when its timers are
    /// due (scheduled work, and the next batch if it gathers), noting the
    /// first as what the task's timer is set for. `None`: the lock is
    /// poisoned.
    fn arm(&self) -> Option<Result<(Instant, Option<Instant>), StoreError>> {
        let mut inner = self.lock()?;
        if let Some(failed) = inner.actor.failure() {
            return Some(Err(failed));
        }
        // Far in the future when nothing is scheduled: the branch is
        // then never taken.
        let due = inner
            .actor
            .next_due()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        inner.armed = Some(due);
        Some(Ok((due, inner.actor.gather_until())))
    }

    /// Handles `cmd` and everything already queued behind it, so they
    /// join one batch. `false`: the lock is poisoned.
    fn dispatch(&self, cmd: Command<A>, rx: &mut mpsc::Receiver<Command<A>>) -> bool {
        let Some(mut inner) = self.lock() else {
            return false;
        };
        inner.actor.dispatch(cmd);
        for _ in 0..DRAIN {
            match rx.try_recv() {
                Ok(cmd) => inner.actor.dispatch(cmd),
                Err(_) => break,
            }
        }
        true
    }
}

/// Waits for the write in flight, if any (the select branch is off when
/// there is none).
async fn landing(
    flight: &mut Option<oneshot::Receiver<Result<(), StoreError>>>,
) -> Result<(), StoreError> {
    match flight {
        Some(rx) => rx.await.unwrap_or_else(|_| {
            Err(StoreError::Io {
                place: "the store".to_owned(),
                detail: "the write task ended without an answer".to_owned(),
            })
        }),
        None => std::future::pending().await,
    }
}
