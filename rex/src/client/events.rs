//! [`EventStream`]: the client's view of the log, which reconnects by itself
//! and never yields an index twice or out of order.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{stream, Stream};
use rex_proto::{DecodeError, Epoch, EventIndex, EventRecord, RexEvent, SessionId};
use serde_json::Value;

use super::follow::{Framing, Item};
use super::pump::Pump;
use super::{ClientError, Shared};

/// Where an event sits in the log and who it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    /// The event's index in the log.
    pub index: EventIndex,
    /// Milliseconds since the log's epoch began.
    pub time: u64,
    /// The session whose message caused the event; `None` when the app
    /// emitted it on its own.
    pub origin: Option<SessionId>,
    /// For a private event, the sessions it is for; `None` if public.
    pub to: Option<Vec<SessionId>>,
}

impl EventMeta {
    /// Whether the event is private to some sessions.
    pub fn is_private(&self) -> bool {
        self.to.is_some()
    }
}

/// A typed event with its place in the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<E> {
    /// Index, time, origin and audience.
    pub meta: EventMeta,
    /// The app's event.
    pub event: E,
}

/// Why the stream had to resync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResyncCause {
    /// The server runs a new log (it restarted): the old session token is
    /// no longer valid; rejoin with [`Client::rejoin`](super::Client::rejoin).
    EpochChanged,
    /// The events after the last one seen were dropped by the server's
    /// retention: state must be rebuilt another way.
    Dropped,
    /// The client had seen indexes beyond the server's head (a log that no
    /// longer exists).
    AheadOfServer,
}

/// The stream could not continue where it was: events were missed (or the
/// log was replaced). It continues from the server's head (`head`); what was
/// in between is not delivered, so the app should refetch its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resync {
    /// Why.
    pub cause: ResyncCause,
    /// The server's epoch now.
    pub epoch: Epoch,
    /// The oldest index the server retains.
    pub oldest: EventIndex,
    /// Where the stream continues.
    pub head: EventIndex,
    /// The server's explanation.
    pub reason: String,
}

/// Whether an [`EventStream`] is connected, for a UI that shows it.
///
/// The stream reports [`Connection::Connected`] each time a connection
/// opens (the first time too), and [`Connection::Reconnecting`] when it is
/// lost and again after each attempt that fails. It reconnects by itself
/// either way: these items are for showing, not for acting on.
///
/// ```
/// # fn show(state: &rex::Connection) -> String {
/// match state {
///     rex::Connection::Connected => "online".to_owned(),
///     rex::Connection::Reconnecting { since, attempts } => {
///         format!("offline for {} s ({attempts} failed attempts)", since.elapsed().as_secs())
///     }
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The stream is open: events arrive as they are appended.
    Connected,
    /// The stream is not open and the client is trying to open it again.
    Reconnecting {
        /// When the connection was lost (or, before it was ever open, when
        /// the first attempt failed). A `std` instant, so a UI can show
        /// `since.elapsed()` without depending on tokio; it is read from
        /// tokio's clock, which is the same clock unless a test pauses it.
        since: Instant,
        /// How many attempts have failed since then: 0 right after the
        /// loss, then 1, 2, ….
        attempts: u32,
    },
}

/// One item of an [`EventStream`].
///
/// ```
/// # fn show<E: std::fmt::Debug>(item: rex::StreamItem<E>) {
/// match item {
///     rex::StreamItem::Event(e) => println!("#{} {:?}", e.meta.index, e.event),
///     rex::StreamItem::Unknown { meta, kind, .. } => println!("#{} (newer kind `{kind}`)", meta.index),
///     rex::StreamItem::Resync(r) => println!("missed events ({:?}); now at {}", r.cause, r.head),
///     rex::StreamItem::Connection(state) => println!("connection: {state:?}"),
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem<E> {
    /// An event of a kind this client knows.
    Event(Event<E>),
    /// An event of a kind this client does not know (a newer server). The
    /// stream goes on; its index counts as seen.
    Unknown {
        /// Where the event sits.
        meta: EventMeta,
        /// Its kind.
        kind: String,
        /// Its payload as JSON.
        data: Option<Value>,
    },
    /// The stream skipped to the server's head; see [`Resync`].
    Resync(Resync),
    /// The connection opened or was lost; see [`Connection`].
    Connection(Connection),
}

/// A live, resumable stream of the log.
///
/// Yields every event meant for this client (public ones, and private ones
/// for its session) once, in index order, starting where it was asked to.
/// When the connection is cut, stalls past the idle timeout, or the server
/// restarts its stream, it reconnects by itself with backoff and resumes at
/// the next index. Transient failures are not yielded as errors; the
/// connection's state is yielded as [`StreamItem::Connection`]
/// (`Connected` when a connection opens, the first time too;
/// `Reconnecting` when it is lost and after each failed attempt). A
/// `410 gone` is yielded as [`StreamItem::Resync`]; an event that does not
/// decode is yielded as `Err(ClientError::Decode)` and the stream goes on;
/// a line that is not an event at all is yielded as
/// `Err(ClientError::Protocol)` and the stream reconnects. The stream ends
/// only after yielding an error that will not change by retrying (for
/// example `unauthorized`).
///
/// ```no_run
/// # async fn example<P: rex::Protocol>(client: rex::Client<P>) where P::Event: std::fmt::Debug {
/// use futures_util::StreamExt;
///
/// let mut events = client.events();
/// while let Some(item) = events.next().await {
///     match item {
///         Ok(item) => println!("{item:?}"),
///         // A payload that does not decode: reported, and the stream goes on.
///         Err(rex::ClientError::Decode { index, error }) => eprintln!("event {index}: {error}"),
///         // Anything else ends the stream.
///         Err(e) => eprintln!("stream ended: {e}"),
///     }
/// }
/// # }
/// ```
pub struct EventStream<E> {
    inner: Pin<Box<dyn Stream<Item = Result<StreamItem<E>, ClientError>> + Send>>,
}

impl<E> fmt::Debug for EventStream<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl<E> Stream for EventStream<E> {
    type Item = Result<StreamItem<E>, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<E: RexEvent + Send + 'static> EventStream<E> {
    pub(crate) fn new(shared: Arc<Shared>, start: EventIndex, epoch: Option<Epoch>) -> Self {
        let pump = Pump::new(shared, start, epoch, Framing::Ndjson);
        let inner = stream::unfold(pump, |mut pump| async move {
            let item = match pump.next().await? {
                Item::Record(record) => decode(record),
                Item::Resync(resync) => Ok(StreamItem::Resync(resync)),
                Item::Connection(state) => Ok(StreamItem::Connection(state)),
                Item::Error(e) | Item::Fatal(e) => Err(e),
            };
            Some((item, pump))
        });
        EventStream {
            inner: Box::pin(inner),
        }
    }
}

/// The typed item of a record: its event, or `Unknown` for a kind this
/// client does not know, or `Err(Decode)` for a payload that does not fit.
pub(crate) fn decode<E: RexEvent>(record: EventRecord) -> Result<StreamItem<E>, ClientError> {
    let meta = EventMeta {
        index: record.index,
        time: record.time,
        origin: record.origin,
        to: record.to,
    };
    // The payload goes to the decoder; keep a copy only when the kind is
    // not one this client declares, where it may come back as `Unknown` (a
    // type with open-ended kinds, like `Dynamic`, lists none and pays for
    // the copy).
    let spare = if E::KINDS.contains(&record.kind.as_str()) {
        None
    } else {
        record.data.clone()
    };
    match E::decode(&record.kind, record.data) {
        Ok(event) => Ok(StreamItem::Event(Event { meta, event })),
        Err(DecodeError::UnknownKind { .. }) => Ok(StreamItem::Unknown {
            meta,
            kind: record.kind,
            data: spare,
        }),
        Err(error) => Err(ClientError::Decode {
            index: record.index,
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, rex::RexEvent)]
    enum Ev {
        Said { text: String },
    }

    fn record(kind: &str, data: Value) -> EventRecord {
        EventRecord {
            index: 7,
            time: 5,
            kind: kind.to_owned(),
            origin: None,
            to: None,
            data: Some(data),
        }
    }

    #[test]
    fn a_known_kind_decodes_to_its_event() {
        let item = decode::<Ev>(record("said", json!({"text": "hi"}))).unwrap();
        let StreamItem::Event(e) = item else {
            panic!("{item:?}")
        };
        assert_eq!((e.meta.index, e.event), (7, Ev::Said { text: "hi".into() }));
    }

    #[test]
    fn an_unknown_kind_is_yielded_as_unknown_with_its_payload() {
        let item = decode::<Ev>(record("waved", json!({"hand": "left"}))).unwrap();
        assert_eq!(
            item,
            StreamItem::Unknown {
                meta: EventMeta {
                    index: 7,
                    time: 5,
                    origin: None,
                    to: None
                },
                kind: "waved".into(),
                data: Some(json!({"hand": "left"})),
            }
        );
    }

    #[test]
    fn a_payload_that_does_not_fit_is_a_decode_error() {
        let result = decode::<Ev>(record("said", json!({"text": 3})));
        assert!(
            matches!(result, Err(ClientError::Decode { index: 7, .. })),
            "{result:?}"
        );
    }
}
