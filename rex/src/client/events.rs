//! [`EventStream`]: the client's view of the log, which reconnects by itself
//! and never yields an index twice or out of order.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::{stream, Stream};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rex_proto::{DecodeError, Epoch, EventIndex, EventRecord, RexEvent, SessionId};
use serde_json::Value;

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

/// One item of an [`EventStream`].
///
/// ```
/// # fn show<E: std::fmt::Debug>(item: rex::StreamItem<E>) {
/// match item {
///     rex::StreamItem::Event(e) => println!("#{} {:?}", e.meta.index, e.event),
///     rex::StreamItem::Unknown { meta, kind, .. } => println!("#{} (newer kind `{kind}`)", meta.index),
///     rex::StreamItem::Resync(r) => println!("missed events ({:?}); now at {}", r.cause, r.head),
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
}

/// A live, resumable stream of the log.
///
/// Yields every event meant for this client (public ones, and private ones
/// for its session) once, in index order, starting where it was asked to.
/// When the connection is cut, stalls past the idle timeout, or the server
/// restarts its stream, it reconnects by itself with backoff and resumes at
/// the next index. Transient failures are not yielded; a `410 gone` is
/// yielded as [`StreamItem::Resync`]; an event that does not decode is
/// yielded as `Err(ClientError::Decode)` and the stream goes on. The stream
/// ends only after yielding an error that will not change by retrying
/// (for example `unauthorized`).
///
/// ```no_run
/// # async fn example<M: rex::RexMessage, E: rex::RexEvent + Send + std::fmt::Debug + 'static>(client: rex::Client<M, E>) {
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
        let follow = Follow::<E> {
            shared,
            cursor: start,
            epoch,
            body: None,
            buf: BytesMut::new(),
            identity: 0,
            retries: 0,
            done: false,
            _event: PhantomData,
        };
        let inner = stream::unfold(follow, |mut follow| async move {
            let item = follow.next().await?;
            Some((item, follow))
        });
        EventStream {
            inner: Box::pin(inner),
        }
    }
}

/// The state of one stream.
struct Follow<E> {
    shared: Arc<Shared>,
    /// The next index wanted.
    cursor: EventIndex,
    /// The epoch `cursor` belongs to; learnt from the first answer if the
    /// caller did not know it.
    epoch: Option<Epoch>,
    body: Option<Incoming>,
    /// Bytes received and not yet a complete line.
    buf: BytesMut,
    /// The session identity the open connection was made with; when the
    /// client rejoins, the stream reconnects to read as the new session.
    identity: u64,
    /// Consecutive failed connection attempts, for backoff.
    retries: u32,
    done: bool,
    _event: PhantomData<fn() -> E>,
}

/// What opening the stream led to.
enum Opened {
    Streaming(Incoming),
    Resync(Resync),
    Retry(ClientError),
    Fatal(ClientError),
}

impl<E: RexEvent> Follow<E> {
    async fn next(&mut self) -> Option<Result<StreamItem<E>, ClientError>> {
        loop {
            if self.done {
                return None;
            }
            if self.body.is_some() && self.identity != self.shared.identity_version() {
                tracing::debug!("session changed; reconnecting the event stream");
                self.disconnect();
            }
            if let Some(line) = self.take_line() {
                match self.decode_line(&line) {
                    Some(item) => return Some(item),
                    None => continue,
                }
            }
            let Some(body) = self.body.as_mut() else {
                if self.retries > 0 {
                    let wait = self.shared.transport.config.retry.backoff(self.retries - 1);
                    tokio::time::sleep(wait).await;
                }
                match self.open().await {
                    Opened::Streaming(body) => self.body = Some(body),
                    Opened::Resync(resync) => {
                        self.retries = 0;
                        return Some(Ok(StreamItem::Resync(resync)));
                    }
                    Opened::Retry(e) => {
                        tracing::debug!(error = %e, "event stream unavailable; retrying");
                        self.retries = self.retries.saturating_add(1);
                    }
                    Opened::Fatal(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                continue;
            };
            let idle = self.shared.transport.config.idle_timeout;
            match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => {
                    tracing::debug!(?idle, "event stream silent for too long; reconnecting");
                    self.disconnect();
                }
                Ok(None) => {
                    tracing::debug!("event stream ended by the server; reconnecting");
                    self.disconnect();
                    self.retries = self.retries.saturating_add(1);
                }
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "event stream cut; reconnecting");
                    self.disconnect();
                    self.retries = self.retries.saturating_add(1);
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                        self.retries = 0;
                    }
                }
            }
        }
    }

    fn disconnect(&mut self) {
        self.body = None;
        // A partial line belongs to the cut connection; the event will come
        // again on the next one, since the cursor did not move.
        self.buf.clear();
    }

    fn take_line(&mut self) -> Option<BytesMut> {
        let end = self.buf.iter().position(|b| *b == b'\n')?;
        let mut line = self.buf.split_to(end + 1);
        line.truncate(end);
        Some(line)
    }

    /// Turns one NDJSON line into an item; `None` for heartbeats and
    /// events already seen.
    fn decode_line(&mut self, line: &[u8]) -> Option<Result<StreamItem<E>, ClientError>> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let record: EventRecord = match serde_json::from_slice(line) {
            Ok(record) => record,
            Err(e) => {
                // Not an event line: this connection cannot be trusted to
                // be in step; reconnect from the cursor.
                self.disconnect();
                self.retries = self.retries.saturating_add(1);
                return Some(Err(ClientError::Protocol {
                    reason: format!("an event line is not valid: {e}"),
                }));
            }
        };
        if record.index < self.cursor {
            return None;
        }
        self.cursor = record.index + 1;
        if let Some(epoch) = self.epoch {
            self.shared.saw(epoch, record.index);
        }
        let meta = EventMeta {
            index: record.index,
            time: record.time,
            origin: record.origin,
            to: record.to,
        };
        // The payload goes to the decoder; keep a copy only when the kind is
        // not one this client declares, where it may come back as
        // `Unknown` (a type with open-ended kinds, like `Dynamic`, lists
        // none and pays for the copy).
        let spare = if E::KINDS.contains(&record.kind.as_str()) {
            None
        } else {
            record.data.clone()
        };
        let item = match E::decode(&record.kind, record.data) {
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
        };
        Some(item)
    }

    async fn open(&mut self) -> Opened {
        let (token, identity, session_epoch) = self.shared.identity();
        // Read as the session only while it belongs to the log being read;
        // after an epoch change the old token would be refused.
        let token = token.filter(|_| self.epoch.is_none() || self.epoch == session_epoch);
        let mut path = format!("{}?start={}", rex_proto::path::EVENTS, self.cursor);
        if let Some(epoch) = self.epoch {
            path.push_str(&format!("&epoch={epoch}"));
        }
        let response = match self.shared.transport.open(&path, token.as_ref()).await {
            Ok(response) => response,
            Err(e) => return Opened::Retry(e),
        };
        self.identity = identity;
        let status = response.status();
        if status == StatusCode::OK {
            if self.epoch.is_none() {
                self.epoch = response
                    .headers()
                    .get("rex-epoch")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok());
            }
            return Opened::Streaming(response.into_body());
        }
        let body = match tokio::time::timeout(
            self.shared.transport.config.request_timeout,
            response.into_body().collect(),
        )
        .await
        {
            Ok(Ok(body)) => body.to_bytes(),
            Ok(Err(e)) => {
                return Opened::Retry(ClientError::transport("the answer was cut off", e))
            }
            Err(_) => return Opened::Retry(ClientError::Timeout),
        };
        match ClientError::from_response(status.as_u16(), &body) {
            ClientError::Gone {
                reason,
                epoch: Some(epoch),
                oldest: Some(oldest),
                head: Some(head),
            } => {
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
                Opened::Resync(Resync {
                    cause,
                    epoch,
                    oldest,
                    head,
                    reason,
                })
            }
            e if e.is_transient() => Opened::Retry(e),
            e => Opened::Fatal(e),
        }
    }
}
