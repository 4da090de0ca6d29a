//! A room's record in Redis, shared by every host of a group
//! (`docs/scaling.md`).
//!
//! ```text
//! PREFIX:{KXQF}:meta      hash: format, app, epoch, started, head, oldest,
//!                         clock, state, state_head
//! PREFIX:{KXQF}:log       stream: one entry per event, id `<index>-1`,
//!                         fields `to` (session ids, comma-separated; empty
//!                         for a public event) and `line`
//! PREFIX:{KXQF}:sessions  hash: session id → token hash, name
//! PREFIX:{KXQF}:dedupe    hash: `<session>:<seq % window>` → outcome
//! PREFIX:{KXQF}:lease     string: `<token> <owner's URL>`, expiring
//! ```
//!
//! The braces make every key of a room one Redis Cluster hash slot, so one
//! script may touch them all. An entry id's first part is the event's
//! index; its second is always 1, because Redis refuses the id `0-0`.
//!
//! A batch is one Lua script (`commit.lua`): Redis runs it whole or not at
//! all, and answers only once it is applied (and, with `appendfsync
//! always`, written and synced to its append-only file). The script first
//! checks that the writer still holds the room's lease (the *fence*): a
//! host that lost its lease — paused past it, or cut off from Redis — has
//! its writes refused and stops serving the room, even if it has not yet
//! noticed.

mod codec;

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::{BoxFuture, FutureExt};
use redis::aio::ConnectionManager;
use redis::{Script, Value};
use rex_proto::{EventIndex, RoomCode};

use super::{check_batch, Batch, Loaded, RoomMeta, Store, StoreError, StoredEvent};
use crate::server::dedupe::DEDUPE_WINDOW;
use codec::{decode_loaded, encode_dedupe, encode_session, entries};

static OPEN: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| Script::new(include_str!("open.lua")));
static COMMIT: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| Script::new(include_str!("commit.lua")));

/// How many events one read of the log asks for at a time, so loading a
/// long log does not build one huge reply.
const READ_CHUNK: usize = 4096;

/// The names of one room's keys.
#[derive(Clone, Debug)]
pub(crate) struct RoomKeys {
    pub(crate) meta: String,
    pub(crate) log: String,
    pub(crate) sessions: String,
    pub(crate) dedupe: String,
    pub(crate) lease: String,
    /// What the room was opened with (its name and settings), or that it
    /// ended: written by the host's directory, which claims codes with it.
    pub(crate) record: String,
}

impl RoomKeys {
    pub(crate) fn new(prefix: &str, code: RoomCode) -> RoomKeys {
        let key = |what: &str| format!("{prefix}:{{{code}}}:{what}");
        RoomKeys {
            meta: key("meta"),
            log: key("log"),
            sessions: key("sessions"),
            dedupe: key("dedupe"),
            lease: key("lease"),
            record: key("record"),
        }
    }
}

/// One room's record in Redis. See the [module docs](self).
pub(crate) struct RedisStore {
    conn: ConnectionManager,
    keys: RoomKeys,
    /// The lease token this store writes under; `None` writes unfenced
    /// (a store with a single writer, such as the conformance suite's).
    fence: Option<String>,
    /// Where the server is and which room, for messages.
    place: String,
    /// The head after the last commit, to check a batch before sending it.
    head: Arc<Mutex<Option<EventIndex>>>,
}

impl RedisStore {
    pub(crate) fn new(
        conn: ConnectionManager,
        keys: RoomKeys,
        fence: Option<String>,
        place: String,
    ) -> RedisStore {
        RedisStore {
            conn,
            keys,
            fence,
            place,
            head: Arc::new(Mutex::new(None)),
        }
    }
}

/// What a failed Redis call means for the store.
fn failed(place: &str, error: redis::RedisError) -> StoreError {
    let detail = error.to_string();
    if error.code() == Some("REXFENCED") || detail.contains("REXFENCED") {
        return StoreError::Fenced {
            place: place.to_owned(),
        };
    }
    if detail.contains("REXHEAD") || detail.contains("REXMISSING") {
        return StoreError::Invalid {
            detail: format!("{place}: {detail} (was the room written by another host?)"),
        };
    }
    StoreError::Io {
        place: place.to_owned(),
        detail,
    }
}

impl Store for RedisStore {
    fn open(&self, fresh: RoomMeta) -> BoxFuture<'static, Result<Loaded, StoreError>> {
        let mut conn = self.conn.clone();
        let keys = self.keys.clone();
        let fence = self.fence.clone().unwrap_or_default();
        let place = self.place.clone();
        let head = self.head.clone();
        async move {
            let created: i64 = OPEN
                .key(&keys.meta)
                .key(&keys.lease)
                .arg(&fence)
                .arg(super::FORMAT_VERSION)
                .arg(&fresh.app)
                .arg(fresh.epoch.to_string())
                .arg(fresh.started_unix_ms)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| failed(&place, e))?;
            // One transaction, so the parts agree with each other (only
            // the lease holder writes, but a reader is never torn).
            let (meta, sessions, dedupe): (Value, Value, Value) = redis::pipe()
                .atomic()
                .cmd("HGETALL")
                .arg(&keys.meta)
                .cmd("HGETALL")
                .arg(&keys.sessions)
                .cmd("HGETALL")
                .arg(&keys.dedupe)
                .query_async(&mut conn)
                .await
                .map_err(|e| failed(&place, e))?;
            let mut loaded = decode_loaded(&place, meta, sessions, dedupe, created == 1)?;
            if loaded.meta.app != fresh.app {
                return Err(StoreError::WrongApp {
                    place,
                    found: loaded.meta.app,
                    expected: fresh.app,
                });
            }
            loaded.events = read_all(&mut conn, &keys.log, &place, loaded.oldest).await?;
            *head.lock().unwrap_or_else(PoisonError::into_inner) = Some(loaded.head);
            Ok(loaded)
        }
        .boxed()
    }

    fn commit(&self, batch: Batch) -> BoxFuture<'static, Result<(), StoreError>> {
        let mut conn = self.conn.clone();
        let keys = self.keys.clone();
        let fence = self.fence.clone().unwrap_or_default();
        let place = self.place.clone();
        let head = self.head.clone();
        async move {
            let Some(before) = *head.lock().unwrap_or_else(PoisonError::into_inner) else {
                return Err(StoreError::Invalid {
                    detail: "commit before open".to_owned(),
                });
            };
            check_batch(before, &batch)?;
            let mut call = COMMIT.prepare_invoke();
            call.key(&keys.meta)
                .key(&keys.log)
                .key(&keys.sessions)
                .key(&keys.dedupe)
                .key(&keys.lease)
                .arg(&fence)
                .arg(before)
                .arg(batch.events.len())
                .arg(batch.joined.len())
                .arg(batch.left.len())
                .arg(batch.dedupe.len())
                .arg(batch.trim_before.map(|t| t.to_string()).unwrap_or_default())
                .arg(batch.clock_ms);
            match &batch.state {
                Some(state) => call.arg("1").arg(state.data.as_ref()),
                None => call.arg("0").arg(""),
            };
            call.arg(DEDUPE_WINDOW);
            for event in &batch.events {
                call.arg(event.index)
                    .arg(to_field(&event.to))
                    .arg(event.line.as_ref());
            }
            for session in &batch.joined {
                call.arg(session.id.to_string())
                    .arg(encode_session(session));
            }
            for session in &batch.left {
                call.arg(session.to_string());
            }
            for record in &batch.dedupe {
                let (field, value) = encode_dedupe(record);
                call.arg(field).arg(value);
            }
            let after: u64 = call
                .invoke_async(&mut conn)
                .await
                .map_err(|e| failed(&place, e))?;
            *head.lock().unwrap_or_else(PoisonError::into_inner) = Some(after);
            Ok(())
        }
        .boxed()
    }

    fn read(
        &self,
        from: EventIndex,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let mut conn = self.conn.clone();
        let log = self.keys.log.clone();
        let place = self.place.clone();
        async move {
            let reply: Value = redis::cmd("XRANGE")
                .arg(&log)
                .arg(format!("{from}-0"))
                .arg("+")
                .arg("COUNT")
                .arg(max)
                .query_async(&mut conn)
                .await
                .map_err(|e| failed(&place, e))?;
            entries(&place, reply)
        }
        .boxed()
    }

    fn place(&self) -> String {
        self.place.clone()
    }
}

/// Every event of the log from `oldest` on, read in chunks.
async fn read_all(
    conn: &mut ConnectionManager,
    log: &str,
    place: &str,
    oldest: EventIndex,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut events: Vec<StoredEvent> = Vec::new();
    let mut from = oldest;
    loop {
        let reply: Value = redis::cmd("XRANGE")
            .arg(log)
            .arg(format!("{from}-0"))
            .arg("+")
            .arg("COUNT")
            .arg(READ_CHUNK)
            .query_async(conn)
            .await
            .map_err(|e| failed(place, e))?;
        let chunk = entries(place, reply)?;
        let Some(last) = chunk.last() else {
            return Ok(events);
        };
        from = last.index + 1;
        let full = chunk.len() == READ_CHUNK;
        events.extend(chunk);
        if !full {
            return Ok(events);
        }
    }
}

/// The `to` field of an event: its readers, comma-separated.
fn to_field(to: &[rex_proto::SessionId]) -> String {
    to.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
