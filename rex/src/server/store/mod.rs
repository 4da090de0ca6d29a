//! Where a room's durable record lives: the storage boundary.
//!
//! The app actor keeps everything a room knows in memory (the retained
//! log, the session table, the dedupe windows, the app itself) and serves
//! from there. A [`Store`] holds the durable copy: the actor hands it one
//! [`Batch`] per group commit (every call that finished while the previous
//! write was in flight), and a call's answer and its events' visibility
//! wait until that batch is durable. At start the actor [opens](Store::open)
//! the store and gets everything back.
//!
//! The interface is the smallest a networked backend (Redis Streams) can
//! implement as well as a local one: open-and-load, one atomic batch
//! (append events, replace the app's state, add and remove sessions,
//! record dedupe outcomes, trim the front), and read a range of events.
//! Nothing in it names a file.
//!
//! Implementations: [`MemoryStore`] (in the process; survives a "restart"
//! of a room within it, for `rex::testing` and the conformance tests) and
//! `DiskStore` (redb, in a data directory).

mod disk;
#[cfg(any(test, feature = "testing"))]
mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::fmt;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use rex_proto::{Epoch, EventIndex, SessionId};

#[cfg(feature = "cli")]
pub(crate) use disk::inspect;
pub(crate) use disk::DiskStore;
#[cfg(any(test, feature = "testing"))]
pub(crate) use memory::MemoryStore;
#[cfg(feature = "redis")]
pub(crate) use redis::{RedisStore, RoomKeys};

use super::dedupe::FirstOutcome;

/// The version of what a store holds; a store written by a later,
/// incompatible version is refused.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// What identifies a room's record: written when the room is created,
/// checked each time it is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RoomMeta {
    /// The app id ([`rex_proto::Protocol::APP`]); a store of another app is
    /// refused.
    pub(crate) app: String,
    /// The log's epoch, for the life of the store.
    pub(crate) epoch: Epoch,
    /// When the epoch began, in milliseconds since the Unix epoch: the log
    /// clock (each event's `time`) continues from it across restarts.
    pub(crate) started_unix_ms: u64,
}

/// One event as stored: its index, who may read it, and its wire line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    pub(crate) index: EventIndex,
    /// Empty for a public event; otherwise the only sessions that may read
    /// it (sorted, no repeats).
    pub(crate) to: Vec<SessionId>,
    /// Exactly one NDJSON line: the event's wire JSON object and `\n`.
    pub(crate) line: Bytes,
}

/// A session as stored: never its token, only a hash of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredSession {
    pub(crate) id: SessionId,
    /// SHA-256 of the token.
    pub(crate) token_hash: [u8; 32],
    /// The name the client gave when it joined, if any.
    pub(crate) name: Option<String>,
}

/// One remembered message outcome of a session's dedupe window.
///
/// `seq` counts the session's recorded ids from 0; the window keeps the
/// last [`DEDUPE_WINDOW`](super::dedupe::DEDUPE_WINDOW), and record `seq`
/// replaces record `seq - DEDUPE_WINDOW` (a store may key records by
/// `seq % DEDUPE_WINDOW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DedupeRecord {
    pub(crate) session: SessionId,
    pub(crate) seq: u64,
    pub(crate) id: u64,
    pub(crate) outcome: FirstOutcome,
}

/// The app's state, as its `Durable` implementation encoded it (JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SavedState {
    /// The head the state reflects: every event before it, none after.
    pub(crate) head: EventIndex,
    pub(crate) data: Bytes,
}

/// Everything one group commit changed, written atomically: after a crash
/// a store holds all of a batch or none of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Batch {
    /// New events, consecutive, starting at the store's head.
    pub(crate) events: Vec<StoredEvent>,
    /// The app's state after the batch (its `head` is the head after the
    /// batch); `None` leaves the stored state as it was.
    pub(crate) state: Option<SavedState>,
    /// Sessions created.
    pub(crate) joined: Vec<StoredSession>,
    /// Sessions ended (idle expiry); their dedupe records go with them.
    pub(crate) left: Vec<SessionId>,
    /// Dedupe outcomes recorded.
    pub(crate) dedupe: Vec<DedupeRecord>,
    /// Drop every event before this index (retention). Never past the head
    /// after the batch.
    pub(crate) trim_before: Option<EventIndex>,
    /// The log clock (milliseconds since the epoch began) when the batch
    /// was sealed: a restart never lets the clock run backwards past it.
    pub(crate) clock_ms: u64,
}

/// A room's whole record, as [`Store::open`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loaded {
    pub(crate) meta: RoomMeta,
    /// Whether the room was created by this open (nothing was stored).
    pub(crate) created: bool,
    /// The oldest index kept; `events` starts there.
    pub(crate) oldest: EventIndex,
    /// The index the next event gets.
    pub(crate) head: EventIndex,
    /// Every event from `oldest` to `head`, in order.
    pub(crate) events: Vec<StoredEvent>,
    pub(crate) sessions: Vec<StoredSession>,
    /// Every session's kept dedupe records, in any order.
    pub(crate) dedupe: Vec<DedupeRecord>,
    pub(crate) state: Option<SavedState>,
    /// The latest `clock_ms` committed (0 for a new room).
    pub(crate) clock_ms: u64,
}

/// Why a store could not do what was asked. Each says where (the file or
/// address) and what, for a person running the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// Reading or writing failed.
    Io { place: String, detail: String },
    /// What is stored fails its checksum or cannot be decoded: the store
    /// refuses to serve it.
    Corrupt {
        place: String,
        position: String,
        detail: String,
    },
    /// The store holds another app's room.
    WrongApp {
        place: String,
        found: String,
        expected: String,
    },
    /// Another live process has the store open.
    Locked { place: String },
    /// Written by an incompatible (later) version of REx.
    Format { place: String, found: u32 },
    /// This server no longer holds the room (a shared store's lease was
    /// taken by another host, after this one paused or lost its Redis
    /// longer than the lease): the write was refused, nothing changed,
    /// and the room must stop being served here.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Fenced { place: String },
    /// A batch that does not fit the store (events not starting at its
    /// head): a bug in the caller, refused before anything is written.
    Invalid { detail: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { place, detail } => write!(f, "{place}: {detail}"),
            StoreError::Corrupt {
                place,
                position,
                detail,
            } => write!(
                f,
                "{place} is damaged at {position}: {detail}; refusing to serve a wrong log \
                 (restore the data directory from a backup, or move it away to start afresh)"
            ),
            StoreError::WrongApp {
                place,
                found,
                expected,
            } => write!(
                f,
                "{place} holds a room of app `{found}`, not `{expected}`; \
                 give this app its own data directory"
            ),
            StoreError::Locked { place } => write!(
                f,
                "{place} is already open in another running process; \
                 stop that server first, or give this one its own data directory"
            ),
            StoreError::Format { place, found } => write!(
                f,
                "{place} was written in storage format {found}, which this version of REx \
                 (format {FORMAT_VERSION}) cannot read"
            ),
            StoreError::Invalid { detail } => write!(f, "invalid write refused: {detail}"),
            StoreError::Fenced { place } => write!(
                f,
                "{place}: another host has taken the room over (this one lost its lease); \
                 the write was refused and this host stops serving the room"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for std::io::Error {
    fn from(e: StoreError) -> Self {
        let kind = match e {
            StoreError::Locked { .. } => std::io::ErrorKind::AddrInUse,
            StoreError::Corrupt { .. } | StoreError::Format { .. } => {
                std::io::ErrorKind::InvalidData
            }
            StoreError::WrongApp { .. } | StoreError::Invalid { .. } => {
                std::io::ErrorKind::InvalidInput
            }
            StoreError::Io { .. } => std::io::ErrorKind::Other,
            StoreError::Fenced { .. } => std::io::ErrorKind::PermissionDenied,
        };
        std::io::Error::new(kind, e)
    }
}

/// A room's durable record. See the [module docs](self).
///
/// Every method returns a `'static` future, so the actor can keep handling
/// calls while a write is in flight.
pub(crate) trait Store: Send + Sync + 'static {
    /// Opens the room: creates it with `fresh` when nothing is stored, or
    /// loads everything stored after checking it belongs to `fresh.app`.
    /// An incomplete last write (a crash mid-write) is dropped here; any
    /// other damage is an error.
    fn open(&self, fresh: RoomMeta) -> BoxFuture<'static, Result<Loaded, StoreError>>;

    /// Writes `batch` atomically and durably: when the future resolves
    /// `Ok`, the batch survives a crash or power cut (to the extent the
    /// medium keeps its promises); if the process dies first, the store
    /// holds all of it or none of it. Batches are committed one at a time,
    /// in order.
    fn commit(&self, batch: Batch) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Up to `max` stored events from `from` on, in order (fewer at the
    /// head; none if `from` is past it). Events before the oldest kept are
    /// not returned: the first returned may then be later than `from`.
    // The server keeps the retained log in memory and reads it from there;
    // this is for readers of a store itself (the conformance suite, a
    // backend shared by several servers).
    #[cfg_attr(not(test), allow(dead_code))]
    fn read(
        &self,
        from: EventIndex,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>>;

    /// Where the store is, for messages ("data directory /srv/quiz").
    fn place(&self) -> String;
}

/// SHA-256 of a session token, as stored and as looked up.
pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}

/// Checks that `batch` can follow a store whose head is `head`, so an
/// implementation refuses a malformed batch before writing anything.
pub(crate) fn check_batch(head: EventIndex, batch: &Batch) -> Result<(), StoreError> {
    for (i, event) in batch.events.iter().enumerate() {
        if event.index != head + i as u64 {
            return Err(StoreError::Invalid {
                detail: format!(
                    "event {} of the batch has index {}, expected {}",
                    i,
                    event.index,
                    head + i as u64
                ),
            });
        }
        if event.line.last() != Some(&b'\n') {
            return Err(StoreError::Invalid {
                detail: format!("event {} does not end its line", event.index),
            });
        }
    }
    let new_head = head + batch.events.len() as u64;
    if let Some(state) = &batch.state {
        if state.head != new_head {
            return Err(StoreError::Invalid {
                detail: format!(
                    "the state reflects head {} but the batch ends at {new_head}",
                    state.head
                ),
            });
        }
    }
    if let Some(trim) = batch.trim_before {
        if trim > new_head {
            return Err(StoreError::Invalid {
                detail: format!("trim before {trim} is past the head {new_head}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod conformance;
