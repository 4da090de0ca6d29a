//! How the disk store's failures become [`StoreError`]s, each naming the
//! file: redb's errors, our checksums' findings, and redb's panics.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use super::codec::Damage;
use crate::server::store::StoreError;

/// The position of damage redb found without saying where.
const IN_A_PAGE: &str = "a page of the file (found by redb's page checksums)";
/// The position of damage that made redb panic.
const UNKNOWN: &str = "unknown (the storage engine failed while reading it)";

/// Maps a redb error to ours, with the file it is about.
pub(super) fn engine(file: &Path, e: impl Into<redb::Error>) -> StoreError {
    let place = file.display().to_string();
    match e.into() {
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => {
            StoreError::Locked { place }
        }
        redb::Error::Corrupted(detail) => StoreError::Corrupt {
            place,
            position: IN_A_PAGE.to_owned(),
            detail,
        },
        redb::Error::TableDoesNotExist(table) => StoreError::Corrupt {
            place,
            position: format!("table `{table}`"),
            detail: "the table is missing".to_owned(),
        },
        redb::Error::UpgradeRequired(version) => StoreError::Io {
            place,
            detail: format!(
                "the file is in redb file format {version}, which this version of REx cannot read"
            ),
        },
        other => StoreError::Io {
            place,
            detail: other.to_string(),
        },
    }
}

pub(super) fn io(file: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        place: file.display().to_string(),
        detail: e.to_string(),
    }
}

pub(super) fn corrupt(file: &Path, position: String, damage: Damage) -> StoreError {
    StoreError::Corrupt {
        place: file.display().to_string(),
        position,
        detail: damage.0,
    }
}

/// Runs `work`, turning a panic in redb (possible on a damaged file that
/// it did not expect to check) into [`StoreError::Corrupt`].
pub(super) fn contained<T>(
    file: &Path,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    panic::catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|payload| Err(panicked(file, &panic_message(payload))))
}

pub(super) fn panicked(file: &Path, message: &str) -> StoreError {
    StoreError::Corrupt {
        place: file.display().to_string(),
        position: UNKNOWN.to_owned(),
        detail: message.to_owned(),
    }
}

pub(super) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Whether a [`StoreError::Corrupt`] names where the damage is (a chunk,
/// a record), not only that redb found some.
pub(super) fn is_located(e: &StoreError) -> bool {
    matches!(e, StoreError::Corrupt { position, .. } if position != IN_A_PAGE && position != UNKNOWN)
}
