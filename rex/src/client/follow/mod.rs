//! Following the log, without I/O: [`Follower`] is the one place that
//! decides where a stream resumes, when it reconnects and after how long,
//! when a silent connection is dead, what a `410 gone` means, and which
//! events were already seen.
//!
//! It reads no socket and no clock. The caller (the I/O shell,
//! [`Pump`](super::pump::Pump)) asks it for the next [`Action`] (connect,
//! wait, read until a deadline, stop), does it, and feeds back what
//! happened as an [`Input`] with the time it happened; the follower answers
//! with [`Item`]s to hand on. NDJSON and SSE are two [`Framing`]s of the
//! same stream, so the typed [`EventStream`](super::EventStream) and
//! `rex tail --sse` share all of this.
//!
//! The rule that matters: an index is yielded at most once and in
//! increasing order. The cursor (the next index wanted) moves only when an
//! event is yielded or when the server says to resync at its head.

mod framing;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rex_proto::{Epoch, EventIndex, EventRecord};

use super::{ClientError, Connection, Resync, ResyncCause, RetryPolicy};
pub(crate) use framing::Framing;

/// The knobs of a follower.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// How reconnects back off.
    pub(crate) retry: RetryPolicy,
    /// How long an open stream may send no byte at all (no event, no
    /// heartbeat) before it is taken as dead.
    pub(crate) idle: Duration,
    /// How the body is framed.
    pub(crate) framing: Framing,
}

/// What the caller should open: `GET /events` with these parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// The first index wanted.
    pub(crate) start: EventIndex,
    /// The epoch `start` belongs to, once known: a server that restarted
    /// then answers `410` instead of serving another log's indexes.
    pub(crate) epoch: Option<Epoch>,
    /// For SSE, the `Last-Event-ID` header, as `EventSource` sends it; it
    /// agrees with `start`.
    pub(crate) last_event_id: Option<EventIndex>,
}

impl Request {
    /// The path and query of the request.
    pub(crate) fn path_and_query(&self) -> String {
        let mut path = format!("{}?start={}", rex_proto::path::EVENTS, self.start);
        if let Some(epoch) = self.epoch {
            path.push_str(&format!("&epoch={epoch}"));
        }
        path
    }
}

/// What happened, fed to [`Follower::handle`].
#[derive(Debug)]
pub(crate) enum Input {
    /// The server answered the request of [`Action::Connect`]: `status`,
    /// the `Rex-Epoch` header if it had one, and for an error status the
    /// whole body (for `200` the body follows as [`Input::Data`]).
    Opened {
        status: u16,
        epoch: Option<Epoch>,
        body: Bytes,
    },
    /// The request got no answer (refused, timed out, answer cut off,
    /// too many redirects), or one not to follow (a redirect out of the
    /// room): the follower retries a transient error and stops at any
    /// other.
    ConnectFailed(ClientError),
    /// Bytes of the open stream's body, as they came.
    Data(Bytes),
    /// The deadline of [`Action::Read`] passed with no byte.
    IdleTimeout,
    /// The server ended the body.
    Ended,
    /// The body was cut by an error.
    Cut(ClientError),
    /// The session the stream reads as changed: reconnect as the new one.
    IdentityChanged,
    /// The wait of [`Action::Wait`] is over.
    Waited,
}

/// What the follower has to say, taken with [`Follower::poll_item`].
#[derive(Debug)]
pub(crate) enum Item {
    /// The next event, never one already yielded.
    Record(EventRecord),
    /// The stream skipped to the server's head.
    Resync(Resync),
    /// The connection opened, or was lost, or another attempt failed.
    Connection(Connection),
    /// Something went wrong and the follower recovers by itself (an invalid
    /// line: it reconnects).
    Error(ClientError),
    /// An answer that retrying will not change: the follower stops.
    Fatal(ClientError),
}

/// What the caller should do next, from [`Follower::action`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Drop any open body and open this request now.
    Connect(Request),
    /// Drop any open body, sleep this long, then feed [`Input::Waited`].
    Wait(Duration),
    /// Read the open body; feed [`Input::IdleTimeout`] if no byte arrives
    /// by `deadline`.
    Read { deadline: Instant },
    /// Nothing more will come.
    Stop,
}

/// Where the follower is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// About to connect, or waiting for the answer to the connect.
    Connect,
    /// Backing off before the next connect.
    Wait(Duration),
    /// Reading a stream that must show a sign of life by `deadline`.
    Open { deadline: Instant },
    /// Done, after a fatal answer.
    Stopped,
}

/// The state of following one log; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Follower {
    config: Config,
    state: State,
    /// The next index wanted: older indexes are never yielded again.
    cursor: EventIndex,
    /// The epoch `cursor` belongs to; learnt from the first answer if the
    /// caller did not know it.
    epoch: Option<Epoch>,
    /// The last index yielded in this epoch, for SSE's `Last-Event-ID`.
    last: Option<EventIndex>,
    /// Bytes received and not yet a complete payload. They belong to one
    /// connection: cleared when it goes.
    buf: BytesMut,
    /// Consecutive failures (attempts that failed, streams that broke
    /// before a byte came), for the backoff. Reset by data, so a server
    /// that accepts and then drops every stream is not hammered.
    retries: u32,
    /// The connection state last reported, so each change is reported
    /// once.
    reported: Option<Connection>,
    /// Items not yet taken.
    items: VecDeque<Item>,
}

impl Follower {
    /// Follows from index `start` of `epoch` (or of whatever epoch the
    /// server runs, if `None`). The first action is to connect.
    pub(crate) fn new(start: EventIndex, epoch: Option<Epoch>, config: Config) -> Follower {
        Follower {
            config,
            state: State::Connect,
            cursor: start,
            epoch,
            last: None,
            buf: BytesMut::new(),
            retries: 0,
            reported: None,
            items: VecDeque::new(),
        }
    }

    /// The epoch being followed, once known.
    pub(crate) fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }

    /// What to do next. Asking again without feeding an input gives the
    /// same answer.
    pub(crate) fn action(&self) -> Action {
        match self.state {
            State::Connect => Action::Connect(Request {
                start: self.cursor,
                epoch: self.epoch,
                last_event_id: self.last.filter(|_| self.config.framing == Framing::Sse),
            }),
            State::Wait(backoff) => Action::Wait(backoff),
            State::Open { deadline } => Action::Read { deadline },
            State::Stopped => Action::Stop,
        }
    }

    /// The next item to hand on, if any. Take them all before acting.
    pub(crate) fn poll_item(&mut self) -> Option<Item> {
        self.items.pop_front()
    }

    /// Feeds what happened at `now`. An input that does not fit the state
    /// (data after the stream was dropped, a late timeout) is ignored.
    pub(crate) fn handle(&mut self, input: Input, now: Instant) {
        match (self.state, input) {
            (
                State::Connect,
                Input::Opened {
                    status,
                    epoch,
                    body,
                },
            ) => self.opened(status, epoch, &body, now),
            // No answer that retrying may change: a redirect to somewhere
            // that is not this room (`docs/protocol.md` §16), a request
            // that cannot be made.
            (State::Connect, Input::ConnectFailed(error)) if !error.is_transient() => {
                self.state = State::Stopped;
                self.items.push_back(Item::Fatal(error));
            }
            (State::Connect, Input::ConnectFailed(error)) => self.failed(error, now),
            (State::Wait(_), Input::Waited) => self.state = State::Connect,
            (State::Open { .. }, Input::Data(data)) => self.data(&data, now),
            (State::Open { deadline }, Input::IdleTimeout) if now >= deadline => {
                tracing::debug!(idle = ?self.config.idle, "event stream silent for too long; reconnecting");
                self.lost(now, false);
            }
            (State::Open { .. }, Input::Ended) => {
                tracing::debug!("event stream ended by the server; reconnecting");
                self.lost(now, true);
            }
            (State::Open { .. }, Input::Cut(error)) => {
                tracing::debug!(%error, "event stream cut; reconnecting");
                self.lost(now, true);
            }
            (State::Open { .. }, Input::IdentityChanged) => {
                tracing::debug!("session changed; reconnecting the event stream");
                self.lost(now, false);
            }
            (state, input) => tracing::trace!(?state, ?input, "input ignored in this state"),
        }
    }

    fn opened(&mut self, status: u16, epoch: Option<Epoch>, body: &[u8], now: Instant) {
        if status == 200 {
            // A server asked for another epoch answers 410, so a 200 is
            // always for ours; learn it if we did not know it.
            self.epoch = self.epoch.or(epoch);
            self.buf.clear();
            self.state = State::Open {
                deadline: now + self.config.idle,
            };
            self.report(Connection::Connected);
            return;
        }
        match ClientError::from_response(status, body) {
            ClientError::Gone {
                reason,
                epoch: Some(epoch),
                oldest: Some(oldest),
                head: Some(head),
            } => self.resync(reason, epoch, oldest, head),
            error if error.is_transient() => self.failed(error, now),
            error => {
                self.state = State::Stopped;
                self.items.push_back(Item::Fatal(error));
            }
        }
    }

    /// A `410 gone`: continue at the server's head, and say why.
    fn resync(&mut self, reason: String, epoch: Epoch, oldest: EventIndex, head: EventIndex) {
        let cause = if self.epoch.is_some_and(|e| e != epoch) {
            ResyncCause::EpochChanged
        } else if self.cursor > head {
            ResyncCause::AheadOfServer
        } else {
            ResyncCause::Dropped
        };
        tracing::info!(?cause, %epoch, head, "event stream resyncs at the server's head");
        self.epoch = Some(epoch);
        self.cursor = head;
        self.last = None;
        // The server answered: nothing to back off from.
        self.retries = 0;
        self.state = State::Connect;
        self.items.push_back(Item::Resync(Resync {
            cause,
            epoch,
            oldest,
            head,
            reason,
        }));
    }

    /// An attempt failed: report it and back off.
    fn failed(&mut self, error: ClientError, now: Instant) {
        tracing::debug!(%error, "event stream unavailable; retrying");
        let (since, attempts) = match self.reported {
            Some(Connection::Reconnecting { since, attempts }) => (since, attempts + 1),
            _ => (now, 1),
        };
        self.report(Connection::Reconnecting { since, attempts });
        self.back_off();
    }

    /// The open stream is gone; `back_off` unless the stream was healthy
    /// and we chose to drop it (idle, new identity).
    fn lost(&mut self, now: Instant, back_off: bool) {
        // A partial line belongs to the lost connection; the event comes
        // again on the next one, since the cursor did not move.
        self.buf.clear();
        self.report(Connection::Reconnecting {
            since: now,
            attempts: 0,
        });
        if back_off {
            self.back_off();
        } else {
            self.state = State::Connect;
        }
    }

    fn back_off(&mut self) {
        self.retries = self.retries.saturating_add(1);
        self.state = State::Wait(self.config.retry.backoff(self.retries - 1));
    }

    fn report(&mut self, connection: Connection) {
        if self.reported != Some(connection) {
            self.reported = Some(connection);
            self.items.push_back(Item::Connection(connection));
        }
    }

    fn data(&mut self, data: &[u8], now: Instant) {
        if data.is_empty() {
            return;
        }
        self.state = State::Open {
            deadline: now + self.config.idle,
        };
        self.retries = 0;
        self.buf.extend_from_slice(data);
        while let Some(payload) = self.config.framing.take(&mut self.buf) {
            self.payload(&payload, now);
            if !matches!(self.state, State::Open { .. }) {
                break;
            }
        }
    }

    /// One line (NDJSON) or frame's data (SSE).
    fn payload(&mut self, payload: &[u8], now: Instant) {
        if payload.iter().all(u8::is_ascii_whitespace) {
            return; // a heartbeat
        }
        let record = serde_json::from_slice::<EventRecord>(payload)
            .map_err(|e| format!("an event line is not valid: {e}"))
            .and_then(|r| match r.index.checked_add(1) {
                Some(next) => Ok((r, next)),
                None => Err(format!("an event has the index {}, past the last", r.index)),
            });
        match record {
            Ok((record, _)) if record.index < self.cursor => {} // seen already
            Ok((record, next)) => {
                self.cursor = next;
                self.last = Some(record.index);
                self.items.push_back(Item::Record(record));
            }
            Err(reason) => {
                // This connection cannot be trusted to be in step:
                // reconnect from the cursor.
                self.items
                    .push_back(Item::Error(ClientError::Protocol { reason }));
                self.lost(now, true);
            }
        }
    }
}
