//! The body of `GET /events`: follows the log from a cursor for as long as
//! the client stays, with heartbeats while nothing happens.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use rex_proto::{EventIndex, SessionId};
use tokio::sync::watch;

use super::log::{Behind, EventLog, Framing};

/// One open stream. Holds no queue: only where it is in the log.
pub(crate) struct Follower {
    pub(crate) log: Arc<EventLog>,
    pub(crate) cursor: EventIndex,
    pub(crate) reader: Option<SessionId>,
    pub(crate) framing: Framing,
    pub(crate) heartbeat: Duration,
    pub(crate) head: watch::Receiver<EventIndex>,
    /// Becomes `true` when the server shuts down: the stream sends what
    /// is left up to the head, then ends cleanly.
    pub(crate) ending: watch::Receiver<bool>,
}

impl Follower {
    /// The next chunk to send, or `None` when the stream should end.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            let ending = *self.ending.borrow();
            let head = *self.head.borrow_and_update();
            if self.cursor < head {
                match self.log.read(self.cursor, self.reader, self.framing) {
                    Ok((chunk, next)) => {
                        self.cursor = next;
                        if !chunk.is_empty() {
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
                changed = self.head.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                changed = self.ending.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = tokio::time::sleep(self.heartbeat) => {
                    return Some(self.framing.heartbeat());
                }
            }
        }
    }

    pub(crate) fn into_body(self) -> UnsyncBoxBody<Bytes, Infallible> {
        let frames = stream::unfold(self, |mut follower| async move {
            let chunk = follower.next_chunk().await?;
            Some((Ok::<_, Infallible>(Frame::data(chunk)), follower))
        });
        StreamBody::new(frames).boxed_unsync()
    }
}
