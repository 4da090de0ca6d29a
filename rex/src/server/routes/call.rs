//! The trip to the room's app actor and back, the same for every endpoint
//! that needs the app, and the short way for a call that can run in the
//! request's own poll.

use tokio::sync::oneshot;

use super::error::{stopped, ApiError};
use super::Room;
use crate::server::actor::{Actor, Command};
use crate::server::app::RexApp;

/// Hands the command `make` builds to the room's actor and waits for its
/// answer. The request holds a pass through the room's gate meanwhile, so
/// a shutdown (or the room closing) waits for it; a room that no longer
/// takes work answers `503 unavailable`.
pub(crate) async fn call<A: RexApp, T>(
    room: &Room<A>,
    make: impl FnOnce(oneshot::Sender<T>) -> Command<A>,
) -> Result<T, ApiError> {
    let _pass = room.gate.enter().ok_or_else(stopped)?;
    let (reply, rx) = oneshot::channel();
    room.tx.send(make(reply)).await.map_err(|_| stopped())?;
    rx.await.map_err(|_| stopped())
}

/// Runs `now` on the room's actor in this poll when it can
/// (`ActorCell::try_now`: a room in memory, a free actor, nothing queued
/// ahead); otherwise hands the command `make` builds from the same input
/// to the actor, as [`call`] does. The gate is passed either way.
pub(crate) async fn call_or_run<A: RexApp, I, T>(
    room: &Room<A>,
    input: I,
    now: impl FnOnce(&mut Actor<A>, I) -> T,
    make: impl FnOnce(I, oneshot::Sender<T>) -> Command<A>,
) -> Result<T, ApiError> {
    let input = {
        let _pass = room.gate.enter().ok_or_else(stopped)?;
        match room.actor.try_now(&room.tx, input, now) {
            Ok(done) => return Ok(done),
            Err(input) => input,
        }
    };
    call(room, |reply| make(input, reply)).await
}
