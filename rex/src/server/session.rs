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

#[cfg(test)]
mod tests {
    use super::*;

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
