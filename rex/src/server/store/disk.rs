//! A room's record in a data directory: one redb file, `room.redb`.
//!
//! redb gives us atomic, durable write transactions (copy-on-write B-trees
//! and two commit slots: a commit torn by a crash is found by its checksum
//! and the previous one is used) and a file lock. On top of it, four
//! tables:
//!
//! - `meta` (text key → sealed value): `room` (format, epoch, start time,
//!   app id), `oldest` (the oldest index kept), `clock` (the latest log
//!   clock), `state` (the app's state and the head it reflects);
//! - `events` (first index → sealed chunk): the events of one committed
//!   batch back to back ([`codec::encode_chunk`]), so loading a million
//!   events reads a few thousand values, not a million keys;
//! - `sessions` (session id → sealed session: id, token hash, name);
//! - `dedupe` ((session id, `seq % DEDUPE_WINDOW`) → sealed record), so a
//!   session's records stay bounded.
//!
//! Damage is caught twice. At open, redb verifies the checksum of every
//! page reachable from the commit (`set_check_integrity_on_open`: its
//! pages carry a tree of checksums, so a damaged page, a pointer to a
//! stale page or a broken header is found, and redb reports it instead of
//! panicking; about 50–100 ms for a million events). And every value
//! carries our own CRC-32C ([`codec`]), checked on every read, also after
//! the open (redb trusts its pages once open) and to say *where* the
//! damage is: when redb's check fails, the store reads the file again
//! without it to name the chunk or record ([`StoreError::Corrupt`] with
//! the file and the key). A panic inside redb is contained as `Corrupt`.
//!
//! Trimming deletes whole chunks wholly before the trim point and records
//! the new oldest index; a chunk the trim point falls inside is kept, and
//! loads and reads skip its events before the oldest.

mod codec;
mod errors;
// Only the `rex` tool (and the tests) read a directory offline.
#[cfg(any(test, feature = "cli"))]
mod inspect;
#[cfg(test)]
mod tests;

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::{BoxFuture, FutureExt};
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    WriteTransaction,
};
use rex_proto::{EventIndex, SessionId};

use self::codec::Damage;
use self::errors::{contained, corrupt, engine, io, panic_message, panicked};
#[cfg(any(test, feature = "cli"))]
pub(crate) use self::inspect::inspect;
use super::{
    check_batch, Batch, DedupeRecord, Loaded, RoomMeta, SavedState, Store, StoreError, StoredEvent,
    StoredSession, FORMAT_VERSION,
};
use crate::server::dedupe::DEDUPE_WINDOW;

/// The file a data directory holds.
const FILE_NAME: &str = "room.redb";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const SESSIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("sessions");
const DEDUPE: TableDefinition<(u128, u64), &[u8]> = TableDefinition::new("dedupe");

const ROOM: &str = "room";
const OLDEST: &str = "oldest";
const CLOCK: &str = "clock";
const STATE: &str = "state";

/// See the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct DiskStore {
    /// Shared with the blocking tasks each operation runs on, so the
    /// futures are `'static`.
    db: Arc<Database>,
    /// `dir/room.redb`, for messages.
    file: Arc<Path>,
    dir: Arc<Path>,
}

impl DiskStore {
    /// Opens (creating if needed) the data directory `dir` and its file.
    /// Refused with [`StoreError::Locked`] while another handle, in this
    /// process or another, has it open.
    pub(crate) fn open_dir(dir: &Path) -> Result<DiskStore, StoreError> {
        let file = dir.join(FILE_NAME);
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
            place: format!("data directory {}", dir.display()),
            detail: format!("cannot create it: {e}"),
        })?;
        let opened = contained(&file, || {
            redb::Builder::new()
                .set_check_integrity_on_open(true)
                .create(&file)
                .map_err(|e| engine(&file, e))
        });
        match opened {
            Ok(db) => Ok(DiskStore::from_database(db, dir, &file)),
            Err(found @ StoreError::Corrupt { .. }) => Err(locate_damage(&file).unwrap_or(found)),
            Err(e) => Err(e),
        }
    }

    /// A store on another storage backend (the tests' power-cut backend);
    /// `file` is only named in messages.
    #[cfg(test)]
    pub(crate) fn with_backend(
        backend: impl redb::StorageBackend,
        file: &Path,
    ) -> Result<DiskStore, StoreError> {
        let db = contained(file, || {
            redb::Builder::new()
                .set_check_integrity_on_open(true)
                .create_with_backend(backend)
                .map_err(|e| engine(file, e))
        })?;
        let dir = file.parent().unwrap_or(file);
        Ok(DiskStore::from_database(db, dir, file))
    }

    fn from_database(db: Database, dir: &Path, file: &Path) -> DiskStore {
        DiskStore {
            db: Arc::new(db),
            file: file.into(),
            dir: dir.into(),
        }
    }

    /// Runs `work` on a blocking thread with the database and the file
    /// name; a panic inside redb (which it documents for some damaged
    /// files) becomes an error instead of taking the server down.
    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database, &Path) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let db = Arc::clone(&self.db);
        let file = Arc::clone(&self.file);
        let task = tokio::task::spawn_blocking(move || work(&db, &file));
        let file = Arc::clone(&self.file);
        async move {
            match task.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(panicked(&file, &panic_message(e.into_panic()))),
                Err(e) => Err(StoreError::Io {
                    place: file.display().to_string(),
                    detail: format!("the storage task did not finish: {e}"),
                }),
            }
        }
        .boxed()
    }
}

impl Store for DiskStore {
    fn open(&self, fresh: RoomMeta) -> BoxFuture<'static, Result<Loaded, StoreError>> {
        self.blocking(move |db, file| {
            let (meta, created) = create_or_check(db, file, fresh)?;
            let txn = db.begin_read().map_err(|e| engine(file, e))?;
            load(&txn, file, meta, created)
        })
    }

    fn commit(&self, batch: Batch) -> BoxFuture<'static, Result<(), StoreError>> {
        self.blocking(move |db, file| {
            let mut txn = db.begin_write().map_err(|e| engine(file, e))?;
            txn.set_durability(Durability::Immediate)
                .map_err(|e| io(file, e))?;
            // On any error the transaction is dropped, which aborts it:
            // nothing of the batch is written.
            write_batch(&txn, file, &batch)?;
            txn.commit().map_err(|e| engine(file, e))
        })
    }

    fn read(
        &self,
        from: EventIndex,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        self.blocking(move |db, file| {
            let txn = db.begin_read().map_err(|e| engine(file, e))?;
            let meta = txn.open_table(META).map_err(|e| engine(file, e))?;
            let events = txn.open_table(EVENTS).map_err(|e| engine(file, e))?;
            let oldest = get_u64(&meta, file, OLDEST)?;
            read_events(&events, file, from.max(oldest), max)
        })
    }

    fn place(&self) -> String {
        format!("data directory {}", self.dir.display())
    }
}

/// After redb's check found damage in `file`: reads it again read-only,
/// without that check, through our own checksums, which can say which
/// chunk or record is damaged. `None` if they find nothing more precise.
fn locate_damage(file: &Path) -> Option<StoreError> {
    let scan = contained(file, || {
        let db = redb::Builder::new()
            .open_read_only(file)
            .map_err(|e| engine(file, e))?;
        let txn = db.begin_read().map_err(|e| engine(file, e))?;
        let meta = txn.open_table(META).map_err(|e| engine(file, e))?;
        let Some(room) = meta.get(ROOM).map_err(|e| engine(file, e))? else {
            return Ok(());
        };
        let room = decode_room(file, room.value())?;
        load(&txn, file, room, false).map(|_| ())
    });
    match scan {
        Err(e @ StoreError::Corrupt { .. }) if errors::is_located(&e) => Some(e),
        _ => None,
    }
}

/// Creates the room's record in a new file, or checks the stored one is
/// this app's and in our format. Returns the stored meta and whether the
/// room was created.
fn create_or_check(
    db: &Database,
    file: &Path,
    fresh: RoomMeta,
) -> Result<(RoomMeta, bool), StoreError> {
    let mut txn = db.begin_write().map_err(|e| engine(file, e))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| io(file, e))?;
    let stored = {
        let mut meta = txn.open_table(META).map_err(|e| engine(file, e))?;
        let stored = meta
            .get(ROOM)
            .map_err(|e| engine(file, e))?
            .map(|v| v.value().to_vec());
        if stored.is_none() {
            meta.insert(ROOM, &codec::encode_room(&fresh, FORMAT_VERSION)[..])
                .map_err(|e| engine(file, e))?;
        }
        stored
    };
    let Some(stored) = stored else {
        // Create every table now, so readers (and `inspect`) find them.
        create_tables(&txn, file)?;
        txn.commit().map_err(|e| engine(file, e))?;
        return Ok((fresh, true));
    };
    txn.abort().map_err(|e| engine(file, e))?;
    let meta = decode_room(file, &stored)?;
    if meta.app != fresh.app {
        return Err(StoreError::WrongApp {
            place: file.display().to_string(),
            found: meta.app,
            expected: fresh.app,
        });
    }
    Ok((meta, false))
}

fn create_tables(txn: &WriteTransaction, file: &Path) -> Result<(), StoreError> {
    txn.open_table(EVENTS).map_err(|e| engine(file, e))?;
    txn.open_table(SESSIONS).map_err(|e| engine(file, e))?;
    txn.open_table(DEDUPE).map_err(|e| engine(file, e))?;
    Ok(())
}

/// The room record, after its checksum and format.
fn decode_room(file: &Path, value: &[u8]) -> Result<RoomMeta, StoreError> {
    let position = || "the room record (meta table)".to_owned();
    let payload = codec::unseal(value).map_err(|d| corrupt(file, position(), d))?;
    let format = codec::room_format(payload).map_err(|d| corrupt(file, position(), d))?;
    if format != FORMAT_VERSION {
        return Err(StoreError::Format {
            place: file.display().to_string(),
            found: format,
        });
    }
    codec::decode_room(payload).map_err(|d| corrupt(file, position(), d))
}

/// Everything stored, checked as it is read.
fn load(
    txn: &ReadTransaction,
    file: &Path,
    meta: RoomMeta,
    created: bool,
) -> Result<Loaded, StoreError> {
    let meta_table = txn.open_table(META).map_err(|e| engine(file, e))?;
    let oldest = get_u64(&meta_table, file, OLDEST)?;
    let clock_ms = get_u64(&meta_table, file, CLOCK)?;
    let state = get_state(&meta_table, file)?;
    let events_table = txn.open_table(EVENTS).map_err(|e| engine(file, e))?;
    let events = read_events(&events_table, file, oldest, usize::MAX)?;
    let head = stored_head(&events_table, file, oldest)?;
    if events.first().map_or(head, |e| e.index) != oldest || oldest + events.len() as u64 != head {
        return Err(StoreError::Corrupt {
            place: file.display().to_string(),
            position: format!("event index {oldest}"),
            detail: format!(
                "the log from {oldest} to {head} holds {} events; some are missing",
                events.len()
            ),
        });
    }
    Ok(Loaded {
        meta,
        created,
        oldest,
        head,
        events,
        sessions: load_sessions(txn, file)?,
        dedupe: load_dedupe(txn, file)?,
        state,
        clock_ms,
    })
}

fn load_sessions(txn: &ReadTransaction, file: &Path) -> Result<Vec<StoredSession>, StoreError> {
    let table = txn.open_table(SESSIONS).map_err(|e| engine(file, e))?;
    let mut sessions = Vec::new();
    for entry in table.iter().map_err(|e| engine(file, e))? {
        let (key, value) = entry.map_err(|e| engine(file, e))?;
        let key = key.value();
        let position = || format!("session {}", SessionId(uuid::Uuid::from_u128(key)));
        let session = codec::unseal(value.value())
            .and_then(codec::decode_session)
            .map_err(|d| corrupt(file, position(), d))?;
        if session.id.0.as_u128() != key {
            return Err(corrupt(
                file,
                position(),
                Damage(format!("the record is of session {}", session.id)),
            ));
        }
        sessions.push(session);
    }
    Ok(sessions)
}

fn load_dedupe(txn: &ReadTransaction, file: &Path) -> Result<Vec<DedupeRecord>, StoreError> {
    let table = txn.open_table(DEDUPE).map_err(|e| engine(file, e))?;
    let mut records = Vec::new();
    for entry in table.iter().map_err(|e| engine(file, e))? {
        let (key, value) = entry.map_err(|e| engine(file, e))?;
        let (session, slot) = key.value();
        let position = || {
            format!(
                "dedupe record {slot} of session {}",
                SessionId(uuid::Uuid::from_u128(session))
            )
        };
        let record = codec::unseal(value.value())
            .and_then(codec::decode_dedupe)
            .map_err(|d| corrupt(file, position(), d))?;
        if record.session.0.as_u128() != session || record.seq % DEDUPE_WINDOW as u64 != slot {
            return Err(corrupt(
                file,
                position(),
                Damage("the record does not belong at its key".to_owned()),
            ));
        }
        records.push(record);
    }
    Ok(records)
}

/// A sealed number of the meta table; 0 when absent (a new room).
fn get_u64(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    file: &Path,
    key: &str,
) -> Result<u64, StoreError> {
    let Some(value) = table.get(key).map_err(|e| engine(file, e))? else {
        return Ok(0);
    };
    codec::unseal(value.value())
        .and_then(codec::decode_u64)
        .map_err(|d| corrupt(file, format!("`{key}` (meta table)"), d))
}

fn get_state(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    file: &Path,
) -> Result<Option<SavedState>, StoreError> {
    let Some(value) = table.get(STATE).map_err(|e| engine(file, e))? else {
        return Ok(None);
    };
    codec::unseal(value.value())
        .and_then(codec::decode_state)
        .map(Some)
        .map_err(|d| corrupt(file, "the app's state (meta table)".to_owned(), d))
}

/// The index after the last stored event: the end of the last chunk, or
/// the oldest when every chunk has been trimmed away.
fn stored_head(
    events: &impl ReadableTable<u64, &'static [u8]>,
    file: &Path,
    oldest: EventIndex,
) -> Result<EventIndex, StoreError> {
    let Some((key, value)) = events.last().map_err(|e| engine(file, e))? else {
        return Ok(oldest);
    };
    let (first, count) = chunk_span(file, key.value(), value.value())?;
    Ok((first + count).max(oldest))
}

/// A chunk's span from its header, checked against its key.
fn chunk_span(file: &Path, key: u64, value: &[u8]) -> Result<(EventIndex, u64), StoreError> {
    let (first, count) =
        codec::chunk_span(value).map_err(|d| corrupt(file, chunk_position(key), d))?;
    if first != key || first.checked_add(count).is_none() {
        return Err(corrupt(
            file,
            chunk_position(key),
            Damage(format!("its header says it starts at {first}")),
        ));
    }
    Ok((first, count))
}

fn chunk_position(key: u64) -> String {
    format!("the chunk starting at event index {key}")
}

/// Up to `max` events from `from` (not before the oldest) on, each chunk
/// checked whole and against the one before it.
fn read_events(
    events: &impl ReadableTable<u64, &'static [u8]>,
    file: &Path,
    from: EventIndex,
    max: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    // The chunk holding `from` starts at or before it.
    let start = match events
        .range(..=from)
        .map_err(|e| engine(file, e))?
        .next_back()
    {
        Some(entry) => entry.map_err(|e| engine(file, e))?.0.value(),
        None => from,
    };
    let mut expected: Option<EventIndex> = None;
    for entry in events.range(start..).map_err(|e| engine(file, e))? {
        let (key, value) = entry.map_err(|e| engine(file, e))?;
        let key = key.value();
        let position = || chunk_position(key);
        if expected.is_some_and(|next| next != key) {
            return Err(corrupt(
                file,
                position(),
                Damage(format!(
                    "the chunk before it ends at {}",
                    expected.unwrap_or_default()
                )),
            ));
        }
        let chunk = codec::unseal(value.value())
            .and_then(codec::decode_chunk)
            .map_err(|d| corrupt(file, position(), d))?;
        if chunk.first().is_some_and(|e| e.index != key) {
            return Err(corrupt(
                file,
                position(),
                Damage("its header names another index".to_owned()),
            ));
        }
        expected = Some(key + chunk.len() as u64);
        for event in chunk {
            if event.index >= from {
                out.push(event);
                if out.len() == max {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Writes `batch` into `txn` after checking it fits the stored head.
fn write_batch(txn: &WriteTransaction, file: &Path, batch: &Batch) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META).map_err(|e| engine(file, e))?;
    if meta.get(ROOM).map_err(|e| engine(file, e))?.is_none() {
        return Err(StoreError::Invalid {
            detail: "commit before open".to_owned(),
        });
    }
    let mut oldest = get_u64(&meta, file, OLDEST)?;
    let mut events = txn.open_table(EVENTS).map_err(|e| engine(file, e))?;
    let head = stored_head(&events, file, oldest)?;
    check_batch(head, batch)?;

    if let Some(first) = batch.events.first() {
        events
            .insert(first.index, &codec::encode_chunk(&batch.events)[..])
            .map_err(|e| engine(file, e))?;
    }
    if let Some(state) = &batch.state {
        meta.insert(STATE, &codec::encode_state(state)[..])
            .map_err(|e| engine(file, e))?;
    }
    let mut sessions = txn.open_table(SESSIONS).map_err(|e| engine(file, e))?;
    for session in &batch.joined {
        sessions
            .insert(session.id.0.as_u128(), &codec::encode_session(session)[..])
            .map_err(|e| engine(file, e))?;
    }
    let mut dedupe = txn.open_table(DEDUPE).map_err(|e| engine(file, e))?;
    for record in &batch.dedupe {
        let slot = record.seq % DEDUPE_WINDOW as u64;
        dedupe
            .insert(
                (record.session.0.as_u128(), slot),
                &codec::encode_dedupe(record)[..],
            )
            .map_err(|e| engine(file, e))?;
    }
    for gone in &batch.left {
        let id = gone.0.as_u128();
        sessions.remove(id).map_err(|e| engine(file, e))?;
        dedupe
            .retain_in(session_slots(id), |_, _| false)
            .map_err(|e| engine(file, e))?;
    }
    if let Some(trim) = batch.trim_before {
        if trim > oldest {
            trim_chunks(&mut events, file, trim)?;
            oldest = trim;
            meta.insert(OLDEST, &codec::encode_u64(oldest)[..])
                .map_err(|e| engine(file, e))?;
        }
    }
    let clock = get_u64(&meta, file, CLOCK)?;
    if batch.clock_ms > clock {
        meta.insert(CLOCK, &codec::encode_u64(batch.clock_ms)[..])
            .map_err(|e| engine(file, e))?;
    }
    Ok(())
}

/// Every dedupe key of one session.
fn session_slots(id: u128) -> RangeInclusive<(u128, u64)> {
    (id, 0)..=(id, DEDUPE_WINDOW as u64 - 1)
}

/// Deletes the chunks wholly before `trim`.
fn trim_chunks(
    events: &mut redb::Table<'_, u64, &'static [u8]>,
    file: &Path,
    trim: EventIndex,
) -> Result<(), StoreError> {
    let mut gone = Vec::new();
    for entry in events.range(..trim).map_err(|e| engine(file, e))? {
        let (key, value) = entry.map_err(|e| engine(file, e))?;
        let (first, count) = chunk_span(file, key.value(), value.value())?;
        if first + count <= trim {
            gone.push(first);
        }
    }
    for key in gone {
        events.remove(key).map_err(|e| engine(file, e))?;
    }
    Ok(())
}

/// The path of the file a data directory keeps its room in.
#[cfg(test)]
pub(crate) fn file_in(dir: &Path) -> std::path::PathBuf {
    dir.join(FILE_NAME)
}
