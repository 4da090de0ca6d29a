//! Power cuts in the middle of a commit: a storage backend that stops
//! writing after a given number of bytes, and the test that cuts the last
//! commit at many points and checks what a reopened room holds.

use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use rex_proto::{ErrorCode, Receipt};

use super::*;

/// A file backend that loses power on demand: once `budget` bytes have
/// been written in total, the write that crosses it reaches the file only
/// in part, and every later write, sync and resize fails without touching
/// the file, as if the machine had stopped.
#[derive(Debug)]
pub(super) struct PowerCut {
    inner: FileBackend,
    budget: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    /// (offset, length) of every write, to pick cut points at their edges.
    writes: Arc<Mutex<Vec<(u64, u64)>>>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Switch {
    budget: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    writes: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Switch {
    pub(super) fn new() -> Self {
        let switch = Switch::default();
        switch.budget.store(u64::MAX, Ordering::SeqCst);
        switch
    }

    pub(super) fn backend(&self, path: &Path) -> PowerCut {
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
    pub(super) fn cut_after(&self, more: u64) {
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
