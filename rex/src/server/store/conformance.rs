//! What every [`Store`] must do, as one suite each implementation runs on
//! its own backing (memory, disk, and later networked ones).
//!
//! `open` makes a new handle on the same record each time it is called, as
//! a restarted server would; the suite drops the previous handle first, so
//! a store that locks its record may refuse a second live handle.

use std::future::Future;

use bytes::Bytes;
use rex_proto::{Epoch, ErrorCode, Receipt, SessionId};

use super::*;
use crate::server::dedupe::{FirstOutcome, DEDUPE_WINDOW};

fn meta(app: &str) -> RoomMeta {
    RoomMeta {
        app: app.to_owned(),
        epoch: Epoch::new_random(),
        started_unix_ms: 1_700_000_000_000,
    }
}

pub(crate) fn event(index: u64, to: &[SessionId]) -> StoredEvent {
    let line = format!(
        "{{\"index\":{index},\"time\":{},\"kind\":\"tick\",\"origin\":null,\"data\":{{\"n\":{index}}}}}\n",
        index * 10
    );
    StoredEvent {
        index,
        to: to.to_vec(),
        line: Bytes::from(line),
    }
}

fn session(name: &str) -> StoredSession {
    StoredSession {
        id: SessionId::new_random(),
        token_hash: token_hash(name),
        name: Some(name.to_owned()),
    }
}

fn handled(first: u64) -> FirstOutcome {
    FirstOutcome::Handled(Receipt { first, count: 1 })
}

fn sorted<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort_by_key(key);
    items
}

/// Runs the whole suite. `open` opens a new handle on one backing, empty
/// at the first call; each later call is a "restart".
pub(crate) async fn run<O, F>(open: O)
where
    O: Fn() -> F,
    F: Future<Output = Result<Box<dyn Store>, StoreError>>,
{
    let store = open().await.expect("open a new store");
    let fresh = meta("conformance");
    let loaded = store.open(fresh.clone()).await.expect("create the room");
    assert!(loaded.created, "a new store creates the room");
    assert_eq!(
        loaded.meta, fresh,
        "the room keeps the meta it was created with"
    );
    assert_eq!((loaded.oldest, loaded.head), (0, 0));
    assert!(loaded.events.is_empty() && loaded.sessions.is_empty() && loaded.state.is_none());

    // One batch with a bit of everything.
    let (ada, bob) = (session("ada"), session("bob"));
    let batch = Batch {
        events: vec![event(0, &[]), event(1, &[ada.id]), event(2, &[])],
        state: Some(SavedState {
            head: 3,
            data: Bytes::from_static(b"{\"round\":1}"),
        }),
        joined: vec![ada.clone(), bob.clone()],
        left: vec![],
        dedupe: vec![
            DedupeRecord {
                session: ada.id,
                seq: 0,
                id: 7,
                outcome: handled(1),
            },
            DedupeRecord {
                session: bob.id,
                seq: 0,
                id: 9,
                outcome: FirstOutcome::Refused(ErrorCode::Rejected),
            },
        ],
        trim_before: None,
        clock_ms: 1234,
    };
    store.commit(batch.clone()).await.expect("commit");

    // A batch that does not start at the head is refused, changing nothing.
    let wrong = Batch {
        events: vec![event(5, &[])],
        ..Batch::default()
    };
    let refused = store.commit(wrong).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );

    // Reads: a range, capped; past the head, nothing.
    let read = store.read(1, 1).await.expect("read");
    assert_eq!(read, vec![event(1, &[ada.id])]);
    assert!(store.read(3, 10).await.expect("read at head").is_empty());

    // A restart with another fresh meta keeps the first one.
    drop(store);
    let store = open().await.expect("reopen");
    let again = store
        .open(meta("conformance"))
        .await
        .expect("load the room");
    assert!(!again.created);
    assert_eq!(again.meta, fresh, "epoch and start time survive a restart");
    assert_eq!((again.oldest, again.head), (0, 3));
    assert_eq!(again.events, batch.events);
    assert_eq!(again.state, batch.state);
    assert_eq!(again.clock_ms, 1234);
    assert_eq!(
        sorted(&again.sessions, |s| s.id),
        sorted(&[ada.clone(), bob.clone()], |s| s.id)
    );
    assert_eq!(
        sorted(&again.dedupe, |d| d.session),
        sorted(&batch.dedupe, |d| d.session)
    );

    // Dedupe records wrap at the window; a session that leaves takes its
    // records with it; trimming moves the oldest; the clock never goes
    // back.
    let window = DEDUPE_WINDOW as u64;
    let mut dedupe = Vec::new();
    for seq in 1..=window {
        dedupe.push(DedupeRecord {
            session: ada.id,
            seq,
            id: 100 + seq,
            outcome: handled(3),
        });
    }
    let batch = Batch {
        events: (3..10).map(|i| event(i, &[])).collect(),
        state: Some(SavedState {
            head: 10,
            data: Bytes::from_static(b"{\"round\":2}"),
        }),
        joined: vec![],
        left: vec![bob.id],
        dedupe,
        trim_before: Some(4),
        clock_ms: 1000,
    };
    store.commit(batch).await.expect("commit the second batch");
    let from_trimmed = store.read(0, 2).await.expect("read from before the oldest");
    assert_eq!(from_trimmed, vec![event(4, &[]), event(5, &[])]);
    drop(store);

    let store = open().await.expect("reopen");
    let again = store
        .open(meta("conformance"))
        .await
        .expect("load the room");
    assert_eq!((again.oldest, again.head), (4, 10));
    assert_eq!(
        again.events,
        (4..10).map(|i| event(i, &[])).collect::<Vec<_>>()
    );
    assert_eq!(
        again.state.as_ref().map(|s| &s.data[..]),
        Some(&b"{\"round\":2}"[..])
    );
    assert_eq!(again.clock_ms, 1234, "the clock kept is the latest");
    assert_eq!(again.sessions, vec![ada.clone()], "bob left, ada stays");
    let mut seqs: Vec<u64> = again.dedupe.iter().map(|d| d.seq).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=window).collect::<Vec<_>>(),
        "the window keeps the last {window} records of a session; bob's are gone"
    );
    assert!(again.dedupe.iter().all(|d| d.session == ada.id));

    // A large batch round-trips whole.
    let big = Batch {
        events: (10..10_010).map(|i| event(i, &[])).collect(),
        clock_ms: 5000,
        ..Batch::default()
    };
    store
        .commit(big.clone())
        .await
        .expect("commit a large batch");
    let read = store.read(10, 20_000).await.expect("read it back");
    assert_eq!(read, big.events);
    drop(store);

    // Another app's room is refused.
    let store = open().await.expect("reopen");
    let other = store.open(meta("another-app")).await;
    match other {
        Err(StoreError::WrongApp {
            found, expected, ..
        }) => {
            assert_eq!(
                (found.as_str(), expected.as_str()),
                ("conformance", "another-app")
            );
        }
        other => panic!("another app's room must be refused, got {other:?}"),
    }
}
