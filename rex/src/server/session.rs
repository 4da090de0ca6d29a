//! The session table: which token proves which session.
//!
//! Written only by the app actor (when a join succeeds), read by every
//! connection task to authenticate requests, hence a read-mostly lock.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use rex_proto::{SessionId, SessionToken};

#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    by_token: RwLock<HashMap<String, SessionId>>,
}

impl SessionTable {
    /// The session a token belongs to, if any.
    pub(crate) fn authenticate(&self, token: &str) -> Option<SessionId> {
        let map = self.by_token.read().unwrap_or_else(PoisonError::into_inner);
        map.get(token).copied()
    }

    pub(crate) fn insert(&self, token: &SessionToken, session: SessionId) {
        let mut map = self
            .by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(token.expose().to_owned(), session);
    }

    /// Forgets `session`'s token: an expired session's token answers
    /// `401` from now on. A scan, not a second map: expiry is rare and the
    /// table small, and a reverse map would double what every join stores.
    pub(crate) fn remove(&self, session: SessionId) {
        let mut map = self
            .by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| *s != session);
    }

    pub(crate) fn len(&self) -> usize {
        self.by_token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Outcomes of the last [`DEDUPE_WINDOW`] message ids of one session, so a
/// retried message is answered with its first outcome instead of being
/// handled twice.
#[derive(Debug)]
pub(crate) struct Dedupe<T> {
    outcomes: HashMap<u64, T>,
    /// Ids in arrival order, to forget the oldest first.
    order: std::collections::VecDeque<u64>,
}

/// How many message ids per session the server remembers. A client retries
/// a message within seconds; 1024 ids is far more than any client has in
/// flight, and bounds what a session can make the server hold.
pub(crate) const DEDUPE_WINDOW: usize = 1024;

impl<T> Default for Dedupe<T> {
    fn default() -> Self {
        Dedupe {
            outcomes: HashMap::new(),
            order: std::collections::VecDeque::new(),
        }
    }
}

impl<T: Clone> Dedupe<T> {
    pub(crate) fn get(&self, id: u64) -> Option<T> {
        self.outcomes.get(&id).cloned()
    }

    pub(crate) fn record(&mut self, id: u64, outcome: T) {
        if self.outcomes.insert(id, outcome).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > DEDUPE_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.outcomes.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_remembers_a_bounded_window() {
        let mut d = Dedupe::default();
        for id in 0..(DEDUPE_WINDOW as u64 + 10) {
            d.record(id, id * 2);
        }
        assert_eq!(d.get(5), None);
        assert_eq!(
            d.get(DEDUPE_WINDOW as u64 + 9),
            Some((DEDUPE_WINDOW as u64 + 9) * 2)
        );
        assert_eq!(d.outcomes.len(), DEDUPE_WINDOW);
    }

    #[test]
    fn tokens_authenticate_their_session_only() {
        let t = SessionTable::default();
        let (token, id) = (SessionToken::new_random(), SessionId::new_random());
        t.insert(&token, id);
        assert_eq!(t.authenticate(token.expose()), Some(id));
        assert_eq!(t.authenticate("nope"), None);
        assert_eq!(t.len(), 1);
        t.remove(id);
        assert_eq!(t.authenticate(token.expose()), None);
        assert_eq!(t.len(), 0);
    }
}
