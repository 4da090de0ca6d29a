//! The disk store's own tests: the conformance suite on a real directory,
//! power cuts in the middle of a commit, damaged bytes, and the lock.

use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use rex_proto::{Epoch, ErrorCode, Receipt, SessionId};

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
    let probe = |expect: &str| {
        let exe = std::env::current_exe().expect("the test binary");
        std::process::Command::new(exe)
            .args([
                "--exact",
                "server::store::disk::tests::lock_probe",
                "--quiet",
            ])
            .env(PROBE_DIR, dir.path())
            .env("REX_DISK_LOCK_PROBE_EXPECT", expect)
            .output()
            .expect("run the probe")
    };
    let store = DiskStore::open_dir(dir.path()).expect("open");
    store.open(room("locks")).await.expect("create");
    let out = probe("locked");
    assert!(
        out.status.success(),
        "another process opened a live directory: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(store);
    let out = probe("open");
    assert!(
        out.status.success(),
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

// ---------------------------------------------------------------------
// Power cuts

/// A file backend that loses power on demand: once `budget` bytes have
/// been written in total, the write that crosses it reaches the file only
/// in part, and every later write, sync and resize fails without touching
/// the file, as if the machine had stopped.
#[derive(Debug)]
struct PowerCut {
    inner: FileBackend,
    budget: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    /// (offset, length) of every write, to pick cut points at their edges.
    writes: Arc<Mutex<Vec<(u64, u64)>>>,
}

#[derive(Clone, Debug, Default)]
struct Switch {
    budget: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    writes: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Switch {
    fn new() -> Self {
        let switch = Switch::default();
        switch.budget.store(u64::MAX, Ordering::SeqCst);
        switch
    }

    fn backend(&self, path: &Path) -> PowerCut {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open the file");
        PowerCut {
            inner: FileBackend::new(file).expect("backend"),
            budget: Arc::clone(&self.budget),
            written: Arc::clone(&self.written),
            dead: Arc::clone(&self.dead),
            writes: Arc::clone(&self.writes),
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Cuts the power after `more` further bytes.
    fn cut_after(&self, more: u64) {
        self.budget.store(self.written() + more, Ordering::SeqCst);
    }

    fn take_writes(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *self.writes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn power_is_off() -> std::io::Error {
    std::io::Error::other("the power is off")
}

impl StorageBackend for PowerCut {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(power_is_off());
        }
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(power_is_off());
        }
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(power_is_off());
        }
        let len = data.len() as u64;
        self.writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((offset, len));
        let written = self.written.fetch_add(len, Ordering::SeqCst);
        let budget = self.budget.load(Ordering::SeqCst);
        if written + len <= budget {
            return self.inner.write(offset, data);
        }
        self.dead.store(true, Ordering::SeqCst);
        let part = usize::try_from(budget.saturating_sub(written)).unwrap_or(0);
        if part > 0 {
            self.inner.write(offset, &data[..part])?;
        }
        Err(power_is_off())
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// The batches of the power-cut test: two that commit, and a last one
/// with a bit of everything (events, state, a session joining and one
/// leaving, dedupe records, a trim, the clock) that the power cut hits.
fn power_cut_batches() -> (Vec<Batch>, Batch) {
    let (ada, bob, cy) = (session("ada"), session("bob"), session("cy"));
    let handled = |first| FirstOutcome::Handled(Receipt { first, count: 1 });
    let record = |s: &StoredSession, seq, outcome| DedupeRecord {
        session: s.id,
        seq,
        id: 1000 + seq,
        outcome,
    };
    let first = Batch {
        events: (0..40).map(|i| marked(i, "before")).collect(),
        state: Some(SavedState {
            head: 40,
            data: Bytes::from_static(b"{\"round\":1}"),
        }),
        joined: vec![ada.clone(), bob.clone()],
        dedupe: vec![record(&ada, 0, handled(0)), record(&bob, 0, handled(1))],
        clock_ms: 100,
        ..Batch::default()
    };
    let second = Batch {
        events: (40..80).map(|i| conformance::event(i, &[ada.id])).collect(),
        state: Some(SavedState {
            head: 80,
            data: Bytes::from_static(b"{\"round\":2}"),
        }),
        dedupe: vec![record(&ada, 1, FirstOutcome::Refused(ErrorCode::Rejected))],
        clock_ms: 200,
        ..Batch::default()
    };
    let last = Batch {
        events: (80..200).map(|i| marked(i, "the last batch")).collect(),
        state: Some(SavedState {
            head: 200,
            data: Bytes::from(vec![b'x'; 3000]),
        }),
        joined: vec![cy.clone()],
        left: vec![bob.id],
        dedupe: vec![record(&cy, 0, handled(80)), record(&ada, 2, handled(81))],
        trim_before: Some(40),
        clock_ms: 300,
    };
    (vec![first, second], last)
}

/// Builds the room on a power-cut backend, commits the first batches, cuts
/// the power after `cut` bytes of the last commit (never, for `None`), and
/// returns whether that commit succeeded and the bytes it wrote.
async fn commit_then_cut(
    dir: &Path,
    (before, last): (Vec<Batch>, Batch),
    cut: Option<u64>,
) -> (bool, u64, Vec<(u64, u64)>) {
    let switch = Switch::new();
    let file = file_in(dir);
    let store = DiskStore::with_backend(switch.backend(&file), &file).expect("open");
    store.open(room("power")).await.expect("create");
    for batch in before {
        store.commit(batch).await.expect("commit before the cut");
    }
    let start = switch.written();
    switch.take_writes();
    if let Some(cut) = cut {
        switch.cut_after(cut);
    }
    let committed = store.commit(last).await.is_ok();
    let wrote = switch.written() - start;
    let writes = switch.take_writes();
    drop(store);
    (committed, wrote, writes)
}

/// What a room holds after the given batches, loaded from a clean run.
async fn expected_after(batches: Vec<Batch>) -> Loaded {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DiskStore::open_dir(dir.path()).expect("open");
    store.open(room("power")).await.expect("create");
    for batch in batches {
        store.commit(batch).await.expect("commit");
    }
    drop(store);
    let store = DiskStore::open_dir(dir.path()).expect("reopen");
    normalized(store.open(room("power")).await.expect("load"))
}

#[tokio::test]
async fn a_power_cut_mid_commit_keeps_exactly_the_batches_before_or_the_whole_last() {
    let batches = power_cut_batches();
    let (before, last) = batches.clone();
    let without = expected_after(before.clone()).await;
    let mut all = before;
    all.push(last);
    let with = expected_after(all).await;
    let same_room = |loaded: Loaded, like: &Loaded| {
        let mut loaded = normalized(loaded);
        // The epoch is the fresh one of each run; the rest must match.
        loaded.meta.epoch = like.meta.epoch;
        loaded == *like
    };

    // Measure what the last commit writes, uncut.
    let dir = tempfile::tempdir().expect("temp dir");
    let (committed, total, writes) = commit_then_cut(dir.path(), batches.clone(), None).await;
    assert!(
        committed && total > 0,
        "the uncut commit writes {total} bytes"
    );

    // Cut points: the edges and the middle of every write, and a grid.
    let mut cuts = vec![0, 1, total - 1, total];
    let mut at = 0;
    for (_, len) in &writes {
        cuts.extend([at, at + 1, at + len / 2, at + len - 1]);
        at += len;
    }
    cuts.extend((0..total).step_by((total / 48).max(1) as usize));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|&c| c <= total);

    let (mut kept_before, mut kept_last) = (0, 0);
    for &cut in &cuts {
        let dir = tempfile::tempdir().expect("temp dir");
        let (committed, _, _) = commit_then_cut(dir.path(), batches.clone(), Some(cut)).await;
        let store = DiskStore::open_dir(dir.path())
            .unwrap_or_else(|e| panic!("cut after {cut} of {total} bytes: reopen failed: {e}"));
        let loaded = store
            .open(room("power"))
            .await
            .unwrap_or_else(|e| panic!("cut after {cut} of {total} bytes: load failed: {e}"));
        if same_room(loaded.clone(), &with) {
            kept_last += 1;
        } else if !committed && same_room(loaded.clone(), &without) {
            kept_before += 1;
        } else {
            panic!(
                "cut after {cut} of {total} bytes (commit {}): the room holds neither the \
                 batches before nor all of them: oldest {}, head {}, {} sessions, state {:?}",
                if committed { "acknowledged" } else { "failed" },
                loaded.oldest,
                loaded.head,
                loaded.sessions.len(),
                loaded.state.as_ref().map(|s| s.head),
            );
        }
    }
    assert!(
        kept_before > 0 && kept_last > 0,
        "{} cut points over {total} bytes: {kept_before} kept the batches before, \
         {kept_last} the last one too",
        cuts.len()
    );
    eprintln!(
        "power cuts: {} cut points over {total} bytes in {} writes: {kept_before} rolled back, \
         {kept_last} kept the last batch",
        cuts.len(),
        writes.len()
    );
}

// ---------------------------------------------------------------------
// Damage

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

    let store = DiskStore::open_dir(dir.path()).expect("open");
    let err = store
        .open(room("damage"))
        .await
        .expect_err("damage is refused");
    match &err {
        StoreError::Corrupt {
            place, position, ..
        } => {
            assert!(place.contains("room.redb"), "{place}");
            assert_eq!(position, "the chunk starting at event index 50");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&file.display().to_string())
            && message.contains("event index 50")
            && message.contains("checksum"),
        "{message}"
    );
    // Reading the range is refused as well; the chunks around it are fine.
    assert!(matches!(
        store.read(60, 5).await,
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(store.read(100, 1).await.expect("read").len(), 1);
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
