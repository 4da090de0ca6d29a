//! The trip to the room's app actor and back, the same for every endpoint
//! that needs the app.

use tokio::sync::oneshot;

use super::error::{stopped, ApiError};
use super::Room;
use crate::server::actor::Command;
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
