//! A host's data directory: one store per room, each in its own
//! directory with the room's record (`room.json`: code, name, settings),
//! so a restarted host makes each room's app again and restores it.
//!
//! ```text
//! DATA/host.lock          held while a host uses DATA
//! DATA/rooms/KXQF/room.json
//! DATA/rooms/KXQF/room.redb
//! ```
//!
//! One store per room rather than one store with rooms as namespaces:
//! the rooms share nothing, so a room's damage, lock or deletion touches
//! no other room; deleting an ended room is removing a directory; and the
//! tested single-room store serves unchanged. What it costs: one open file
//! and one sync per room that writes (see `docs/performance.md`).

use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rex_proto::RoomCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version of `room.json`; a later one is refused, not misread.
const RECORD_FORMAT: u32 = 1;
const RECORD: &str = "room.json";
const ROOMS: &str = "rooms";
/// Prefix of a room directory being deleted: left over if the host died
/// meanwhile, and removed at the next start.
const ENDED_PREFIX: &str = ".ended-";

/// What a room was made with: enough to make its app again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RoomRecord {
    pub(crate) format: u32,
    pub(crate) code: RoomCode,
    pub(crate) name: String,
    pub(crate) settings: Map<String, Value>,
    pub(crate) created_unix_ms: u64,
}

impl RoomRecord {
    pub(crate) fn new(code: RoomCode, name: String, settings: Map<String, Value>) -> RoomRecord {
        let created_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        RoomRecord {
            format: RECORD_FORMAT,
            code,
            name,
            settings,
            created_unix_ms,
        }
    }
}

/// A host's data directory, locked for as long as this value lives.
#[derive(Debug)]
pub(crate) struct HostDir {
    rooms: PathBuf,
    /// Holds the lock.
    _lock: File,
}

impl HostDir {
    /// Opens (creating if needed) the data directory `root`, refused while
    /// another host has it open.
    pub(crate) fn open(root: &Path) -> io::Result<HostDir> {
        let rooms = root.join(ROOMS);
        fs::create_dir_all(&rooms).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create the data directory {}: {e}", rooms.display()),
            )
        })?;
        let lock_path = root.join("host.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "the data directory {} is in use by another running host; stop it \
                         first, or give this one another directory",
                        root.display()
                    ),
                ))
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        Ok(HostDir { rooms, _lock: lock })
    }

    /// Where `code`'s store lives.
    pub(crate) fn room_dir(&self, code: RoomCode) -> PathBuf {
        self.rooms.join(code.as_str())
    }

    /// Writes a new room's record, durably, before its store is created.
    pub(crate) fn create(&self, record: &RoomRecord) -> io::Result<PathBuf> {
        let dir = self.room_dir(record.code);
        fs::create_dir_all(&dir)?;
        let tmp = dir.join("room.json.tmp");
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(RECORD))?;
        sync_dir(&dir)?;
        sync_dir(&self.rooms)?;
        Ok(dir)
    }

    /// Every stored room: its code and its record, or why it cannot be
    /// read. Removes what an interrupted deletion left.
    pub(crate) fn list(&self) -> io::Result<Vec<(RoomCode, Result<RoomRecord, String>)>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.rooms)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(ENDED_PREFIX) {
                if let Err(e) = fs::remove_dir_all(entry.path()) {
                    tracing::warn!(path = %entry.path().display(), error = %e, "could not remove an ended room's data");
                }
                continue;
            }
            let Ok(code) = name.parse::<RoomCode>() else {
                tracing::warn!(path = %entry.path().display(), "not a room's directory; left alone");
                continue;
            };
            found.push((code, read_record(&entry.path(), code)));
        }
        found.sort_by_key(|(code, _)| *code);
        Ok(found)
    }

    /// Deletes an ended room's data: renamed out of the way first (one
    /// atomic step, so a restart never finds half a room), then removed.
    pub(crate) fn remove(&self, code: RoomCode) -> io::Result<()> {
        let dir = self.room_dir(code);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let doomed = self.rooms.join(format!("{ENDED_PREFIX}{code}-{nanos}"));
        fs::rename(&dir, &doomed)?;
        sync_dir(&self.rooms)?;
        fs::remove_dir_all(&doomed)
    }
}

fn read_record(dir: &Path, code: RoomCode) -> Result<RoomRecord, String> {
    let path = dir.join(RECORD);
    let bytes = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let record: RoomRecord = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a room record: {e}", path.display()))?;
    if record.format > RECORD_FORMAT {
        return Err(format!(
            "{} was written by a later version of REx (format {}); this one reads format {RECORD_FORMAT}",
            path.display(),
            record.format
        ));
    }
    if record.code != code {
        return Err(format!(
            "{} names room {}, but it is in the directory of {code}",
            path.display(),
            record.code
        ));
    }
    Ok(record)
}

/// Makes a directory's entries (a new file, a rename) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_deleted_rooms_are_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let host = HostDir::open(tmp.path()).unwrap();
        let code: RoomCode = "KXQF".parse().unwrap();
        let mut settings = Map::new();
        settings.insert("rounds".into(), 3.into());
        let record = RoomRecord::new(code, "Friday".into(), settings);
        let dir = host.create(&record).unwrap();
        fs::write(dir.join("room.redb"), b"data").unwrap();
        let listed = host.list().unwrap();
        assert_eq!(listed, vec![(code, Ok(record))]);
        host.remove(code).unwrap();
        assert!(host.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(tmp.path().join(ROOMS)).unwrap().count(), 0);
    }

    #[test]
    fn a_second_host_on_the_same_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = HostDir::open(tmp.path()).unwrap();
        let second = HostDir::open(tmp.path()).unwrap_err();
        assert!(
            second
                .to_string()
                .contains("in use by another running host"),
            "{second}"
        );
    }

    #[test]
    fn leftovers_and_damage_are_reported_not_misread() {
        let tmp = tempfile::tempdir().unwrap();
        let host = HostDir::open(tmp.path()).unwrap();
        let rooms = tmp.path().join(ROOMS);
        fs::create_dir_all(rooms.join(".ended-CCCC-1")).unwrap();
        fs::create_dir_all(rooms.join("not-a-code")).unwrap();
        fs::create_dir_all(rooms.join("DDDD")).unwrap();
        fs::write(rooms.join("DDDD").join(RECORD), b"{").unwrap();
        fs::create_dir_all(rooms.join("FFFF")).unwrap();
        let moved = RoomRecord::new("GGGG".parse().unwrap(), "x".into(), Map::new());
        fs::write(
            rooms.join("FFFF").join(RECORD),
            serde_json::to_vec(&moved).unwrap(),
        )
        .unwrap();
        let listed = host.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[0]
            .1
            .as_ref()
            .unwrap_err()
            .contains("not a room record"));
        assert!(listed[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("names room GGGG"));
        assert!(!rooms.join(".ended-CCCC-1").exists());
        assert!(rooms.join("not-a-code").exists());
    }
}
