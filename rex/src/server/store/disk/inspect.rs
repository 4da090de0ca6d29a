//! Reading a data directory offline, for the `rex` tool: what the room
//! is, who is in it and its last events, without a server.

use std::path::Path;

use redb::{ReadTransaction, ReadableDatabase};
use rex_proto::{EventIndex, SessionId};

use super::errors::{contained, engine};
use super::{
    decode_room, get_state, get_u64, load_sessions, read_events, stored_head, CLOCK, EVENTS,
    FILE_NAME, META, OLDEST, ROOM,
};
use crate::server::store::{RoomMeta, StoreError, StoredEvent};

/// What [`inspect`] finds in a data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inspection {
    /// The app id, epoch and start time.
    pub(crate) meta: RoomMeta,
    /// The oldest index kept.
    pub(crate) oldest: EventIndex,
    /// The index the next event would get.
    pub(crate) head: EventIndex,
    /// Every session's id and name.
    pub(crate) sessions: Vec<(SessionId, Option<String>)>,
    /// The latest log clock committed (milliseconds since the epoch
    /// began).
    pub(crate) clock_ms: u64,
    /// The head the app's state reflects and its size in bytes, if the
    /// app saved one.
    pub(crate) state: Option<(EventIndex, usize)>,
    /// The last events kept, oldest first.
    pub(crate) last: Vec<StoredEvent>,
}

/// Reads a data directory offline: its room, its sessions and its `last`
/// events, without changing it (unless the last run crashed, when redb
/// must repair the file first). Refused with [`StoreError::Locked`] while
/// a server has it open.
pub(crate) fn inspect(dir: &Path, last: usize) -> Result<Inspection, StoreError> {
    let file = dir.join(FILE_NAME);
    if !file.is_file() {
        return Err(StoreError::Io {
            place: format!("data directory {}", dir.display()),
            detail: format!("it holds no {FILE_NAME}; is it a REx data directory?"),
        });
    }
    contained(&file, || match redb::Builder::new().open_read_only(&file) {
        Ok(db) => inspect_txn(&db.begin_read().map_err(|e| engine(&file, e))?, &file, last),
        // Not shut down cleanly: a read-only open cannot repair it, so open
        // it for writing (which repairs it) and keep it open while reading.
        Err(redb::DatabaseError::RepairAborted) => {
            let db = redb::Builder::new()
                .open(&file)
                .map_err(|e| engine(&file, e))?;
            inspect_txn(&db.begin_read().map_err(|e| engine(&file, e))?, &file, last)
        }
        Err(e) => Err(engine(&file, e)),
    })
}

fn inspect_txn(txn: &ReadTransaction, file: &Path, last: usize) -> Result<Inspection, StoreError> {
    let meta_table = txn.open_table(META).map_err(|e| engine(file, e))?;
    let Some(room) = meta_table.get(ROOM).map_err(|e| engine(file, e))? else {
        return Err(StoreError::Io {
            place: file.display().to_string(),
            detail: "it holds no room yet".to_owned(),
        });
    };
    let meta = decode_room(file, room.value())?;
    let oldest = get_u64(&meta_table, file, OLDEST)?;
    let events = txn.open_table(EVENTS).map_err(|e| engine(file, e))?;
    let head = stored_head(&events, file, oldest)?;
    let from = head.saturating_sub(last as u64).max(oldest);
    Ok(Inspection {
        oldest,
        head,
        sessions: load_sessions(txn, file)?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect(),
        clock_ms: get_u64(&meta_table, file, CLOCK)?,
        state: get_state(&meta_table, file)?.map(|s| (s.head, s.data.len())),
        last: read_events(&events, file, from, last)?,
        meta,
    })
}
