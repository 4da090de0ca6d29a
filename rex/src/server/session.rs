//! The session table: which token proves which session.
//!
//! Written only by the app actor (when a join succeeds), read by every
//! connection task to authenticate requests, hence a read-mostly lock.
//!
//! The table keeps no token, only its SHA-256, as the store does: a copy of
//! a data directory (or of the process's memory) hands out no working
//! token, and a restarted server still recognises every old one.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use rex_proto::SessionId;

use super::store::token_hash;

/// A map keyed by session ids or token digests, looked up on every
/// message: hashed with foldhash (seeded per process) rather than std's
/// SipHash, a few times faster for these short keys. The keys are not the
/// peer's to choose: ids are random and made by the server, and a digest
/// is SHA-256 of whatever a peer sends, only ever looked up.
pub(crate) type SessionMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    by_token: RwLock<SessionMap<[u8; 32], SessionId>>,
}

impl SessionTable {
    /// The session a token belongs to, if any.
    pub(crate) fn authenticate(&self, token: &str) -> Option<SessionId> {
        let hash = token_hash(token);
        let map = self.by_token.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&hash).copied()
    }

    /// Adds a session by the hash of its token ([`token_hash`]).
    pub(crate) fn insert(&self, token_hash: [u8; 32], session: SessionId) {
        let mut map = self
            .by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(token_hash, session);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rex_proto::SessionToken;

    #[test]
    fn tokens_authenticate_their_session_only() {
        let t = SessionTable::default();
        let (token, id) = (SessionToken::new_random(), SessionId::new_random());
        t.insert(token_hash(token.expose()), id);
        assert_eq!(t.authenticate(token.expose()), Some(id));
        assert_eq!(t.authenticate("nope"), None);
        assert_eq!(t.len(), 1);
        t.remove(id);
        assert_eq!(t.authenticate(token.expose()), None);
        assert_eq!(t.len(), 0);
    }
}
