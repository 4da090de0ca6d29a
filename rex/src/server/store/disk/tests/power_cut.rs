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
    /// What reached the file, in order.
    ops: Arc<Mutex<Vec<Op>>>,
}

/// One change to the file, as recorded by [`PowerCut`].
#[derive(Clone, Debug)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
    Sync,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Switch {
    budget: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    ops: Arc<Mutex<Vec<Op>>>,
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
            ops: Arc::clone(&self.ops),
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Cuts the power after `more` further bytes.
    pub(super) fn cut_after(&self, more: u64) {
        self.budget.store(self.written() + more, Ordering::SeqCst);
    }

    fn take_ops(&self) -> Vec<Op> {
        std::mem::take(&mut *self.ops.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl PowerCut {
    fn record(&self, op: Op) {
        self.ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(op);
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
        self.record(Op::SetLen(len));
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(power_is_off());
        }
        self.inner.sync_data()?;
        self.record(Op::Sync);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(power_is_off());
        }
        let len = data.len() as u64;
        let written = self.written.fetch_add(len, Ordering::SeqCst);
        let budget = self.budget.load(Ordering::SeqCst);
        if written + len <= budget {
            self.record(Op::Write(offset, data.to_vec()));
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

/// Builds the room on a power-cut backend and commits the first batches;
/// returns the store, its switch and the file as it stood then.
async fn room_before_the_cut(dir: &Path, before: Vec<Batch>) -> (DiskStore, Switch, Vec<u8>) {
    let switch = Switch::new();
    let file = file_in(dir);
    let store = DiskStore::with_backend(switch.backend(&file), &file).expect("open");
    store.open(room("power")).await.expect("create");
    for batch in before {
        store.commit(batch).await.expect("commit before the cut");
    }
    let image = std::fs::read(&file).expect("read the file");
    switch.take_ops();
    (store, switch, image)
}

/// Commits the first batches, cuts the power after `cut` bytes of the
/// last commit (never, for `None`), and returns whether that commit
/// succeeded, the bytes it wrote and what it did to the file. The store is
/// dropped with the power off, so the file is left as a crash leaves it.
async fn commit_then_cut(
    dir: &Path,
    (before, last): (Vec<Batch>, Batch),
    cut: Option<u64>,
) -> (bool, u64, Vec<Op>) {
    let (store, switch, _) = room_before_the_cut(dir, before).await;
    let start = switch.written();
    if let Some(cut) = cut {
        switch.cut_after(cut);
    }
    let committed = store.commit(last).await.is_ok();
    let wrote = switch.written() - start;
    switch.cut_after(0);
    drop(store);
    (committed, wrote, switch.take_ops())
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

/// The two rooms a cut may leave: without the last batch, and with it.
struct Outcomes {
    without: Loaded,
    with: Loaded,
}

impl Outcomes {
    async fn new((before, last): (Vec<Batch>, Batch)) -> Self {
        let without = expected_after(before.clone()).await;
        let mut all = before;
        all.push(last);
        Outcomes {
            without,
            with: expected_after(all).await,
        }
    }

    /// Which of the two rooms the directory holds after reopening: `true`
    /// for the one with the last batch. Panics (failing the test) on
    /// anything else.
    async fn which(&self, dir: &Path, what: &str) -> bool {
        let store =
            DiskStore::open_dir(dir).unwrap_or_else(|e| panic!("{what}: reopening failed: {e}"));
        let mut loaded = store
            .open(room("power"))
            .await
            .map(normalized)
            .unwrap_or_else(|e| panic!("{what}: loading failed: {e}"));
        // The epoch is the fresh one of each run; the rest must match.
        loaded.meta.epoch = self.with.meta.epoch;
        if loaded == self.with {
            return true;
        }
        loaded.meta.epoch = self.without.meta.epoch;
        assert!(
            loaded == self.without,
            "{what}: the room holds neither the batches before nor all of them: oldest {}, \
             head {}, {} sessions, state {:?}",
            loaded.oldest,
            loaded.head,
            loaded.sessions.len(),
            loaded.state.as_ref().map(|s| s.head),
        );
        false
    }
}

#[tokio::test]
async fn a_power_cut_mid_commit_keeps_exactly_the_batches_before_or_the_whole_last() {
    let batches = power_cut_batches();
    let outcomes = Outcomes::new(batches.clone()).await;

    // Measure what the last commit writes, uncut.
    let dir = tempfile::tempdir().expect("temp dir");
    let (committed, total, ops) = commit_then_cut(dir.path(), batches.clone(), None).await;
    assert!(
        committed && total > 0,
        "the uncut commit writes {total} bytes"
    );
    let writes: Vec<u64> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Write(_, data) => Some(data.len() as u64),
            _ => None,
        })
        .collect();

    // Cut points: the edges and the middle of every write, and a grid.
    let mut cuts = vec![0, 1, total - 1, total];
    let mut at = 0;
    for len in &writes {
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
        let what = format!("cut after {cut} of {total} bytes (commit ok: {committed})");
        if outcomes.which(dir.path(), &what).await {
            kept_last += 1;
        } else {
            assert!(!committed, "{what}: an acknowledged batch was lost");
            kept_before += 1;
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

/// A small deterministic generator for the subsets below.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A disk may persist the writes issued since the last sync in any order,
/// so a power cut can leave any subset of them. Replays the last commit's
/// writes onto the file as it stood before it: every write before the
/// interrupted sync, and a subset of those after it (each one alone, all
/// but each one, none, all, and random subsets).
#[tokio::test]
async fn a_power_cut_keeps_the_batches_before_whatever_subset_of_unsynced_writes_lands() {
    let batches = power_cut_batches();
    let outcomes = Outcomes::new(batches.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, switch, image) = room_before_the_cut(dir.path(), batches.0.clone()).await;
    store.commit(batches.1.clone()).await.expect("commit");
    switch.cut_after(0);
    drop(store);
    let ops = switch.take_ops();

    // Group the writes by the sync that ends them.
    let mut groups: Vec<Vec<usize>> = vec![Vec::new()];
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Write(..) => groups.last_mut().map_or((), |g| g.push(i)),
            Op::Sync => groups.push(Vec::new()),
            Op::SetLen(_) => {}
        }
    }
    let mut trials: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut seed = 0x5eed_u64;
    for (g, group) in groups.iter().enumerate() {
        trials.push((g, Vec::new()));
        trials.push((g, group.clone()));
        for &w in group {
            trials.push((g, vec![w]));
            trials.push((g, group.iter().copied().filter(|&x| x != w).collect()));
        }
        for _ in 0..16 {
            let subset = group
                .iter()
                .copied()
                .filter(|_| xorshift(&mut seed) & 1 == 0)
                .collect();
            trials.push((g, subset));
        }
    }

    let (mut kept_before, mut kept_last) = (0, 0);
    for (g, subset) in &trials {
        let mut file = image.clone();
        let last_synced = groups[..*g].iter().flatten().copied().max();
        for (i, op) in ops.iter().enumerate() {
            let synced = last_synced.is_some_and(|last| i <= last);
            let landed = synced || subset.contains(&i);
            match op {
                Op::SetLen(len) => file.resize(usize::try_from(*len).unwrap_or(0), 0),
                Op::Write(offset, data) if landed => {
                    let at = usize::try_from(*offset).unwrap_or(usize::MAX);
                    if file.len() < at + data.len() {
                        file.resize(at + data.len(), 0);
                    }
                    file[at..at + data.len()].copy_from_slice(data);
                }
                _ => {}
            }
        }
        let trial = tempfile::tempdir().expect("temp dir");
        std::fs::write(file_in(trial.path()), &file).expect("write the image");
        let every_write = *g == groups.len() - 1 && subset.len() == groups[*g].len();
        let what = format!(
            "power cut after sync {g} of {} with writes {subset:?} of {:?} landed",
            groups.len() - 1,
            groups[*g]
        );
        if outcomes.which(trial.path(), &what).await {
            kept_last += 1;
        } else {
            assert!(
                !every_write,
                "{what}: every write landed, yet the batch is gone"
            );
            kept_before += 1;
        }
    }
    eprintln!(
        "unsynced subsets: {} trials over {} syncs (writes per sync: {:?}): {kept_before} \
         rolled back, {kept_last} kept the last batch",
        trials.len(),
        groups.len() - 1,
        groups.iter().map(Vec::len).collect::<Vec<_>>()
    );
}
