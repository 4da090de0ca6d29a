//! The disk store's own tests: the conformance suite on a real directory,
//! power cuts in the middle of a commit, damaged bytes, and the lock.

mod damage;
mod power_cut;

use std::path::Path;

use bytes::Bytes;
use rex_proto::{Epoch, SessionId};

use self::power_cut::Switch;
use super::*;
use crate::server::dedupe::FirstOutcome;
use crate::server::store::{conformance, token_hash};

fn room(app: &str) -> RoomMeta {
    RoomMeta {
        app: app.to_owned(),
        epoch: Epoch::new_random(),
        started_unix_ms: 1_700_000_000_000,
    }
}

fn session(name: &str) -> StoredSession {
    StoredSession {
        id: SessionId::new_random(),
        token_hash: token_hash(name),
        name: Some(name.to_owned()),
    }
}

/// An event whose line carries `text`, to find it in the file.
fn marked(index: u64, text: &str) -> StoredEvent {
    StoredEvent {
        index,
        to: vec![],
        line: Bytes::from(format!("{{\"index\":{index},\"data\":\"{text}\"}}\n")),
    }
}

/// Sorts what a load returns in any order, to compare two loads.
fn normalized(mut loaded: Loaded) -> Loaded {
    loaded.sessions.sort_by_key(|s| s.id);
    loaded.dedupe.sort_by_key(|d| (d.session, d.seq));
    loaded.created = false;
    loaded
}

#[tokio::test]
async fn conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory that does not exist yet: `open_dir` creates it.
    let data = dir.path().join("data");
    conformance::run(move || {
        let data = data.clone();
        async move { DiskStore::open_dir(&data).map(|s| Box::new(s) as Box<dyn Store>) }
    })
    .await;
}

#[tokio::test]
async fn a_second_open_of_a_live_directory_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = DiskStore::open_dir(dir.path()).expect("first open");
    first.open(room("locks")).await.expect("create");
    match DiskStore::open_dir(dir.path()) {
        Err(StoreError::Locked { place }) => {
            assert!(place.contains(&dir.path().display().to_string()), "{place}");
        }
        other => panic!("a second open must be refused as Locked, got {other:?}"),
    }
    match inspect(dir.path(), 1) {
        Err(StoreError::Locked { .. }) => {}
        other => panic!("inspecting a live directory must be refused, got {other:?}"),
    }
    drop(first);
    let second = DiskStore::open_dir(dir.path()).expect("open after the first closed");
    let loaded = second.open(room("locks")).await.expect("load");
    assert!(!loaded.created);
}

/// The environment variable that makes [`lock_probe`] a probe.
const PROBE_DIR: &str = "REX_DISK_LOCK_PROBE_DIR";

/// Run by [`a_directory_open_in_another_process_is_refused`] in a child
/// process of this test binary; does nothing in a normal run.
#[test]
fn lock_probe() {
    let Some(dir) = std::env::var_os(PROBE_DIR) else {
        return;
    };
    let expect_locked = std::env::var("REX_DISK_LOCK_PROBE_EXPECT").as_deref() == Ok("locked");
    match DiskStore::open_dir(Path::new(&dir)) {
        Err(StoreError::Locked { .. }) if expect_locked => {}
        Ok(_) if !expect_locked => {}
        other => panic!("probe expected locked = {expect_locked}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_directory_open_in_another_process_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The probe's name as the test harness knows it (without the crate).
    let probe_name = format!(
        "{}::lock_probe",
        module_path!().split_once("::").map_or("", |(_, path)| path)
    );
    let probe = |expect: &str| {
        let exe = std::env::current_exe().expect("the test binary");
        std::process::Command::new(exe)
            .args(["--exact", &probe_name, "--quiet"])
            .env(PROBE_DIR, dir.path())
            .env("REX_DISK_LOCK_PROBE_EXPECT", expect)
            .output()
            .expect("run the probe")
    };
    // The probe ran (a renamed test would run none and pass) and passed.
    let ran = |out: &std::process::Output| {
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed")
    };
    let store = DiskStore::open_dir(dir.path()).expect("open");
    store.open(room("locks")).await.expect("create");
    let out = probe("locked");
    assert!(
        ran(&out),
        "another process opened a live directory: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(store);
    let out = probe("open");
    assert!(
        ran(&out),
        "another process could not open a closed directory: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn a_later_format_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = redb::Database::create(file_in(dir.path())).expect("create");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(META).expect("meta");
            meta.insert(ROOM, &codec::encode_room(&room("fmt"), 9)[..])
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    let store = DiskStore::open_dir(dir.path()).expect("open");
    match store.open(room("fmt")).await {
        Err(e @ StoreError::Format { found: 9, .. }) => {
            let message = e.to_string();
            assert!(message.contains("room.redb"), "{message}");
            assert!(message.contains("storage format 9"), "{message}");
        }
        other => panic!("a later format must be refused, got {other:?}"),
    }
    let message = match store.open(room("other")).await {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    assert!(
        message.contains("storage format 9"),
        "the format is checked before the app: {message}"
    );
}

#[tokio::test]
async fn wrong_app_names_both_apps_and_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DiskStore::open_dir(dir.path()).expect("open");
    store.open(room("quiz")).await.expect("create");
    let err = store.open(room("chat")).await.expect_err("another app");
    let message = err.to_string();
    for part in ["`quiz`", "`chat`", "room.redb"] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
}

#[tokio::test]
async fn reads_cross_chunks_and_skip_a_partly_trimmed_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DiskStore::open_dir(dir.path()).expect("open");
    store.open(room("reads")).await.expect("create");
    for (from, to) in [(0, 5), (5, 6), (6, 12)] {
        let batch = Batch {
            events: (from..to).map(|i| conformance::event(i, &[])).collect(),
            ..Batch::default()
        };
        store.commit(batch).await.expect("commit");
    }
    let all: Vec<_> = (0..12).map(|i| conformance::event(i, &[])).collect();
    assert_eq!(store.read(3, 5).await.expect("read"), all[3..8]);
    assert_eq!(store.read(11, 5).await.expect("read"), all[11..]);
    assert!(store.read(12, 5).await.expect("read").is_empty());
    assert!(store.read(0, 0).await.expect("read").is_empty());
    // Trim into the middle of the last chunk: the first two go whole.
    let trim = Batch {
        trim_before: Some(8),
        ..Batch::default()
    };
    store.commit(trim).await.expect("trim");
    assert_eq!(store.read(0, 2).await.expect("read"), all[8..10]);
    let chunks: Vec<u64> = {
        let txn = store.db.begin_read().expect("read txn");
        let events = txn.open_table(EVENTS).expect("events");
        events
            .iter()
            .expect("iter")
            .map(|e| e.expect("entry").0.value())
            .collect()
    };
    assert_eq!(chunks, vec![6], "whole chunks before the trim are deleted");
    drop(store);
    let store = DiskStore::open_dir(dir.path()).expect("reopen");
    let loaded = store.open(room("reads")).await.expect("load");
    assert_eq!((loaded.oldest, loaded.head), (8, 12));
    assert_eq!(loaded.events, all[8..]);
    // Trimming everything leaves an empty log whose head is kept.
    let trim = Batch {
        trim_before: Some(12),
        ..Batch::default()
    };
    store.commit(trim).await.expect("trim all");
    let next = Batch {
        events: vec![conformance::event(12, &[])],
        ..Batch::default()
    };
    store.commit(next).await.expect("append after trimming all");
    drop(store);
    let loaded = DiskStore::open_dir(dir.path())
        .expect("reopen")
        .open(room("reads"))
        .await
        .expect("load");
    assert_eq!((loaded.oldest, loaded.head), (12, 13));
}

#[tokio::test]
async fn inspect_reports_the_room_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ada = session("ada");
    let fresh = room("look");
    {
        let store = DiskStore::open_dir(dir.path()).expect("open");
        store.open(fresh.clone()).await.expect("create");
        let batch = Batch {
            events: (0..10).map(|i| conformance::event(i, &[])).collect(),
            state: Some(SavedState {
                head: 10,
                data: Bytes::from_static(b"{\"n\":10}"),
            }),
            joined: vec![ada.clone()],
            clock_ms: 77,
            ..Batch::default()
        };
        store.commit(batch).await.expect("commit");
    }
    let seen = inspect(dir.path(), 3).expect("inspect");
    assert_eq!(seen.meta, fresh);
    assert_eq!((seen.oldest, seen.head, seen.clock_ms), (0, 10, 77));
    assert_eq!(seen.sessions, vec![(ada.id, ada.name.clone())]);
    assert_eq!(seen.state, Some((10, 8)));
    let indices: Vec<u64> = seen.last.iter().map(|e| e.index).collect();
    assert_eq!(indices, vec![7, 8, 9]);
    // After a crash (the power cut before the file was closed cleanly),
    // inspecting repairs the file and still reads it.
    {
        let switch = Switch::new();
        let file = file_in(dir.path());
        let store = DiskStore::with_backend(switch.backend(&file), &file).expect("open");
        store.open(fresh.clone()).await.expect("load");
        switch.cut_after(0);
        let lost = Batch {
            events: vec![conformance::event(10, &[])],
            ..Batch::default()
        };
        assert!(store.commit(lost).await.is_err(), "the power is off");
    }
    let after_crash = inspect(dir.path(), 3).expect("inspect after a crash");
    assert_eq!(after_crash, seen);
    let missing = inspect(&dir.path().join("nothing"), 3).expect_err("no room there");
    assert!(missing.to_string().contains("room.redb"), "{missing}");
}
