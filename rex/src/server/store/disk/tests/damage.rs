//! Damaged files: a flipped byte in a chunk is refused with where it is,
//! and a flipped byte anywhere else is refused or changes nothing.

use std::path::Path;

use bytes::Bytes;
use rex_proto::Receipt;

use super::*;

/// A room with a distinctive chunk, closed cleanly; returns its load.
async fn damaged_room_fixture(dir: &Path) -> Loaded {
    let ada = session("ada");
    let store = DiskStore::open_dir(dir).expect("open");
    store.open(room("damage")).await.expect("create");
    let batches = [
        Batch {
            events: (0..50).map(|i| conformance::event(i, &[])).collect(),
            joined: vec![ada.clone()],
            clock_ms: 5,
            ..Batch::default()
        },
        Batch {
            events: (50..100).map(|i| marked(i, "needle-in-the-log")).collect(),
            state: Some(SavedState {
                head: 100,
                data: Bytes::from_static(b"{\"score\":3}"),
            }),
            dedupe: vec![DedupeRecord {
                session: ada.id,
                seq: 0,
                id: 9,
                outcome: FirstOutcome::Handled(Receipt {
                    first: 50,
                    count: 50,
                }),
            }],
            clock_ms: 9,
            ..Batch::default()
        },
        Batch {
            events: (100..150)
                .map(|i| conformance::event(i, &[ada.id]))
                .collect(),
            clock_ms: 12,
            ..Batch::default()
        },
    ];
    for batch in batches {
        store.commit(batch).await.expect("commit");
    }
    drop(store);
    let store = DiskStore::open_dir(dir).expect("reopen");
    let loaded = normalized(store.open(room("damage")).await.expect("load"));
    assert_eq!(loaded.head, 150);
    loaded
}

fn positions_of(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn a_damaged_chunk_is_refused_naming_the_file_and_the_chunk() {
    let dir = tempfile::tempdir().expect("temp dir");
    damaged_room_fixture(dir.path()).await;
    let file = file_in(dir.path());
    let mut bytes = std::fs::read(&file).expect("read the file");
    // Copy-on-write may have left older copies of the chunk's page in
    // free space: damage every copy, so the live one is hit.
    let needle = b"{\"index\":75,\"data\":\"needle-in-the-log\"}";
    let found = positions_of(&bytes, needle);
    assert!(!found.is_empty(), "the chunk's bytes are in the file");
    for at in found {
        bytes[at + 12] ^= 0x01;
    }
    std::fs::write(&file, &bytes).expect("write the damage");

    // redb's page checksums find it at open; our own say where.
    let err = DiskStore::open_dir(dir.path()).expect_err("damage is refused");
    let located = |err: &StoreError| match err {
        StoreError::Corrupt {
            place, position, ..
        } => {
            assert!(place.contains("room.redb"), "{place}");
            assert_eq!(position, "the chunk starting at event index 50");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    };
    located(&err);
    let message = err.to_string();
    assert!(
        message.contains(&file.display().to_string())
            && message.contains("event index 50")
            && message.contains("checksum"),
        "{message}"
    );
    // Reading without redb's check (the offline reader) hits our checksum
    // when it reaches the chunk, and reads the intact chunk after it.
    located(&inspect(dir.path(), 60).expect_err("the damaged chunk is refused"));
    let last = inspect(dir.path(), 50).expect("the chunk after it is intact");
    assert_eq!(last.last.first().map(|e| e.index), Some(100));
}

#[tokio::test]
async fn a_flipped_byte_anywhere_errors_or_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let intact = damaged_room_fixture(dir.path()).await;
    let file = file_in(dir.path());
    let pristine = std::fs::read(&file).expect("read the file");
    let len = pristine.len();
    let positions: Vec<usize> = (0..64).map(|i| i * len / 64 + 7).collect();
    let (mut refused, mut unchanged, mut engine_failures) = (0, 0, 0);
    for &at in &positions {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&file, &bytes).expect("write the damage");
        let outcome = match DiskStore::open_dir(dir.path()) {
            Err(e) => Err(e),
            Ok(store) => store.open(room("damage")).await,
        };
        match outcome {
            Ok(loaded) => {
                assert_eq!(
                    normalized(loaded),
                    intact,
                    "a flip at byte {at} of {len} changed what the room holds"
                );
                unchanged += 1;
            }
            Err(StoreError::Corrupt { position, .. }) => {
                if position.starts_with("unknown") {
                    engine_failures += 1;
                }
                refused += 1;
            }
            Err(StoreError::Io { .. }) => refused += 1,
            Err(other) => panic!("a flip at byte {at} of {len}: unexpected {other:?}"),
        }
    }
    eprintln!(
        "flips: {} positions over {len} bytes: {refused} refused ({engine_failures} by a \
         contained redb panic), {unchanged} loaded unchanged",
        positions.len()
    );
}

#[tokio::test]
async fn a_flipped_bit_in_the_file_header_errors_or_changes_nothing() {
    // redb's super-header (magic, god byte, two commit slots) is where a
    // flip could select another commit: try every byte of it, and each bit
    // of the god byte that picks the primary slot.
    let dir = tempfile::tempdir().expect("temp dir");
    let intact = damaged_room_fixture(dir.path()).await;
    let file = file_in(dir.path());
    let pristine = std::fs::read(&file).expect("read the file");
    let mut flips: Vec<(usize, u8)> = (0..320).map(|at| (at, 0x01)).collect();
    flips.extend((0..8).map(|bit| (9, 1u8 << bit)));
    let (mut refused, mut unchanged) = (0, 0);
    for (at, mask) in flips {
        let mut bytes = pristine.clone();
        bytes[at] ^= mask;
        std::fs::write(&file, &bytes).expect("write the damage");
        let outcome = match DiskStore::open_dir(dir.path()) {
            Err(e) => Err(e),
            Ok(store) => store.open(room("damage")).await,
        };
        match outcome {
            Ok(loaded) => {
                assert_eq!(
                    normalized(loaded),
                    intact,
                    "flipping {mask:#04x} at byte {at} changed what the room holds"
                );
                unchanged += 1;
            }
            Err(StoreError::Corrupt { .. } | StoreError::Io { .. }) => refused += 1,
            Err(other) => panic!("flipping {mask:#04x} at byte {at}: unexpected {other:?}"),
        }
    }
    eprintln!("header flips: {refused} refused, {unchanged} loaded unchanged");
}
