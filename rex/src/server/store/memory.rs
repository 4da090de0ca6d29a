//! A store in the process's memory: what a room would keep on disk, kept in
//! a map instead. A clone is the same store, so a room "restarted" with a
//! clone (`rex::testing`'s round-trip, the conformance tests) gets back
//! exactly what was committed. It survives nothing else.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::{self, BoxFuture, FutureExt};
use rex_proto::{EventIndex, SessionId};

use super::{
    check_batch, Batch, DedupeRecord, Loaded, RoomMeta, SavedState, Store, StoreError, StoredEvent,
    StoredSession,
};
use crate::server::dedupe::DEDUPE_WINDOW;

/// See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub(crate) struct MemoryStore {
    room: Arc<Mutex<Option<Room>>>,
}

#[derive(Debug)]
struct Room {
    meta: RoomMeta,
    oldest: EventIndex,
    events: VecDeque<StoredEvent>,
    sessions: BTreeMap<SessionId, StoredSession>,
    /// Keyed by session and `seq % DEDUPE_WINDOW`, as a networked store
    /// would key them, so a session's records stay bounded.
    dedupe: HashMap<(SessionId, u64), DedupeRecord>,
    state: Option<SavedState>,
    clock_ms: u64,
}

impl Room {
    fn head(&self) -> EventIndex {
        self.oldest + self.events.len() as u64
    }

    fn apply(&mut self, batch: Batch) {
        self.events.extend(batch.events);
        if let Some(state) = batch.state {
            self.state = Some(state);
        }
        for session in batch.joined {
            self.sessions.insert(session.id, session);
        }
        for record in batch.dedupe {
            let slot = record.seq % DEDUPE_WINDOW as u64;
            self.dedupe.insert((record.session, slot), record);
        }
        for gone in batch.left {
            self.sessions.remove(&gone);
            self.dedupe.retain(|(session, _), _| *session != gone);
        }
        if let Some(trim) = batch.trim_before {
            while self.oldest < trim && self.events.pop_front().is_some() {
                self.oldest += 1;
            }
        }
        self.clock_ms = self.clock_ms.max(batch.clock_ms);
    }
}

impl MemoryStore {
    /// An empty store.
    pub(crate) fn new() -> Self {
        MemoryStore::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Option<Room>) -> R) -> R {
        let mut room = self.room.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut room)
    }
}

impl Store for MemoryStore {
    fn open(&self, fresh: RoomMeta) -> BoxFuture<'static, Result<Loaded, StoreError>> {
        let place = self.place();
        let loaded = self.with(|room| {
            let created = room.is_none();
            let room = room.get_or_insert_with(|| Room {
                meta: fresh.clone(),
                oldest: 0,
                events: VecDeque::new(),
                sessions: BTreeMap::new(),
                dedupe: HashMap::new(),
                state: None,
                clock_ms: 0,
            });
            if room.meta.app != fresh.app {
                return Err(StoreError::WrongApp {
                    place,
                    found: room.meta.app.clone(),
                    expected: fresh.app,
                });
            }
            Ok(Loaded {
                meta: room.meta.clone(),
                created,
                oldest: room.oldest,
                head: room.head(),
                events: room.events.iter().cloned().collect(),
                sessions: room.sessions.values().cloned().collect(),
                dedupe: room.dedupe.values().copied().collect(),
                state: room.state.clone(),
                clock_ms: room.clock_ms,
            })
        });
        future::ready(loaded).boxed()
    }

    fn commit(&self, batch: Batch) -> BoxFuture<'static, Result<(), StoreError>> {
        let result = self.with(|room| {
            let Some(room) = room.as_mut() else {
                return Err(StoreError::Invalid {
                    detail: "commit before open".to_owned(),
                });
            };
            check_batch(room.head(), &batch)?;
            room.apply(batch);
            Ok(())
        });
        future::ready(result).boxed()
    }

    fn read(
        &self,
        from: EventIndex,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let events = self.with(|room| {
            let Some(room) = room.as_ref() else {
                return Vec::new();
            };
            let skip = usize::try_from(from.saturating_sub(room.oldest)).unwrap_or(usize::MAX);
            room.events.iter().skip(skip).take(max).cloned().collect()
        });
        future::ready(Ok(events)).boxed()
    }

    fn place(&self) -> String {
        "the in-memory store".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conforms() {
        let store = MemoryStore::new();
        super::super::conformance::run(move || {
            let store = store.clone();
            async move { Ok::<_, StoreError>(Box::new(store) as Box<dyn Store>) }
        })
        .await;
    }
}
