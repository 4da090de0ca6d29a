//! Starting a room: its log, sessions and limits, its app actor (started
//! fresh, or restored from its store), and what its request handlers
//! share. The same for the one room of a `Server` and each room of a
//! `Host`.

use std::io;
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::actor::{Actor, ActorCell, Closer};
use super::app::RexApp;
use super::durable::{self, Clock, Persistence};
use super::gate::Gate;
use super::idle::Activity;
use super::limits::Admission;
use super::log::EventLog;
use super::routes::Room;
use super::session::SessionTable;
use super::settings::RoomSettings;
use super::store::{Store, StoreError};
use super::usage::Usage;

/// How many commands (requests, handle calls, timers) may wait for the app
/// before senders wait in turn: enough to absorb bursts, small enough that a
/// stuck app pushes back on clients instead of queuing without bound.
const COMMAND_QUEUE: usize = 1024;

/// Where a durable room is kept, and how its app's state goes there.
pub(crate) struct Kept<A: RexApp> {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) persistence: Persistence<A>,
}

/// What else a room is told.
#[derive(Default)]
pub(crate) struct Hooks {
    /// Woken when the room may have become idle (a host's reaper); with
    /// it, the room counts its use (`usage.rs`).
    pub(crate) wake: Option<Arc<Notify>>,
    /// Called when the app closes the room.
    pub(crate) on_close: Option<Closer>,
}

/// A started room.
pub(crate) struct Launched<A: RexApp> {
    pub(crate) room: Room<A>,
    /// The app actor's task; it ends when `stop` is dropped (or its store
    /// fails).
    pub(crate) actor: JoinHandle<Result<(), StoreError>>,
    pub(crate) stop: StopOnDrop,
}

/// Stops the app actor and its timers when dropped, whether the server
/// ran and shut down or was dropped without running.
pub(crate) struct StopOnDrop(watch::Sender<bool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Starts a room of `app`: restored from `kept`'s store if it holds one,
/// started fresh (`RexApp::start`) otherwise. Must be called inside a
/// tokio runtime.
pub(crate) async fn launch<A: RexApp>(
    app: A,
    settings: &RoomSettings,
    kept: Option<Kept<A>>,
    hooks: Hooks,
) -> io::Result<Launched<A>> {
    let activity = Arc::new(Activity::default());
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (stop_tx, stop) = watch::channel(false);
    // Shared by the request handlers (which admit) and the actor (which
    // ends idle sessions and frees their places).
    let admission = Arc::new(Admission::new(settings.limits));
    let mut actor = Actor {
        app,
        log: EventLog::new(settings.retention),
        head: 0,
        commits: None,
        sessions: Arc::new(SessionTable::default()),
        max_sessions: settings.max_sessions,
        dedupe: Default::default(),
        tx: tx.clone(),
        stop,
        timers: Default::default(),
        activity: activity.clone(),
        idle_timeout: settings.idle_timeout,
        admission: Some(admission.clone()),
        on_close: hooks.on_close,
    };
    match kept {
        None => actor.start(),
        Some(kept) => {
            let opened =
                durable::open_room::<A>(kept.store.as_ref(), settings.retention, Clock::Wall)
                    .await?;
            actor.begin_durable(kept.store, kept.persistence, opened)?;
        }
    }
    let log = actor.log.clone();
    let sessions = actor.sessions.clone();
    let cell = ActorCell::new(actor);
    let room = Room {
        log,
        sessions,
        tx,
        actor: cell.clone(),
        gate: Arc::new(Gate::default()),
        assets: settings.assets.clone(),
        own_assets: settings.own_assets.clone(),
        admission,
        activity,
        usage: hooks.wake.map(Usage::new),
        name: settings.name.clone(),
        pin: settings.pin.clone(),
    };
    let actor = tokio::spawn(cell.run(rx));
    Ok(Launched {
        room,
        actor,
        stop: StopOnDrop(stop_tx),
    })
}
