//! The body of `GET /events`: follows the log from a cursor for as long as
//! the client stays, with heartbeats while nothing happens.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use rex_proto::{EventIndex, SessionId};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::idle::StreamLease;
use super::log::{Behind, EventLog, Framing, Signal};
use super::usage::InUse;

/// One open stream. Holds no queue: only where it is in the log.
pub(crate) struct Follower {
    pub(crate) log: Arc<EventLog>,
    pub(crate) cursor: EventIndex,
    pub(crate) reader: Option<SessionId>,
    pub(crate) framing: Framing,
    pub(crate) heartbeat: Duration,
    /// The head and the shutdown flag.
    pub(crate) signal: watch::Receiver<Signal>,
    /// Fires after `heartbeat` without a byte sent. One timer for the life
    /// of the stream, moved forward on every send, rather than a new one on
    /// every wake-up.
    pub(crate) idle: Pin<Box<Sleep>>,
    /// Held for as long as the stream is open: the reader's session does
    /// not expire meanwhile, and a hosted room is not idle. Dropping the
    /// body (the stream closing) lets both go.
    pub(crate) _leases: (Option<StreamLease>, Option<InUse>),
}

impl Follower {
    /// The next chunk to send, or `None` when the stream should end.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            let Signal { head, ending } = *self.signal.borrow_and_update();
            if self.cursor < head {
                match self.log.read(self.cursor, self.reader, self.framing) {
                    Ok((chunk, next)) => {
                        self.cursor = next;
                        if !chunk.is_empty() {
                            self.rearm();
                            return Some(chunk);
                        }
                        // Only private events of other sessions: nothing
                        // to send, look again.
                        continue;
                    }
                    // Retention dropped events this reader had not read
                    // yet. It cannot go on without a gap, so the stream
                    // ends; resuming with `start` gets `410 gone`.
                    Err(Behind) => {
                        tracing::debug!(
                            cursor = self.cursor,
                            "reader fell behind retention; ending its stream"
                        );
                        return None;
                    }
                }
            }
            if ending {
                return None;
            }
            tokio::select! {
                changed = self.signal.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = self.idle.as_mut() => {
                    self.rearm();
                    return Some(self.framing.heartbeat());
                }
            }
        }
    }

    fn rearm(&mut self) {
        let deadline = Instant::now() + self.heartbeat;
        self.idle.as_mut().reset(deadline);
    }

    pub(crate) fn into_body(self) -> UnsyncBoxBody<Bytes, Infallible> {
        let frames = stream::unfold(self, |mut follower| async move {
            let chunk = follower.next_chunk().await?;
            Some((Ok::<_, Infallible>(Frame::data(chunk)), follower))
        });
        StreamBody::new(frames).boxed_unsync()
    }
}
