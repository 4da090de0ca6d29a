use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The public identity of a session: a random (v4) UUID.
///
/// Session ids appear in events (`origin`, `to`, and in app payloads such as
/// `joined {session}`); they prove nothing. The [`SessionToken`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    /// A fresh random session id.
    pub fn new_random() -> Self {
        SessionId(Uuid::new_v4())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(SessionId)
            .map_err(|_| ParseIdError { what: "session id" })
    }
}

/// Identifies one run of a server's event log.
///
/// A server picks a fresh epoch each time it starts; indexes are only
/// meaningful within one epoch. A client that resumes with an index from
/// another epoch is told `410 gone` so it can resync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(pub Uuid);

impl Epoch {
    /// A fresh random epoch.
    pub fn new_random() -> Self {
        Epoch(Uuid::new_v4())
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for Epoch {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Epoch)
            .map_err(|_| ParseIdError { what: "epoch" })
    }
}

/// The position of an event in the log: 0 for the first event of an epoch,
/// then one more for every event, public or private.
pub type EventIndex = u64;

/// The secret that authenticates a session (`Authorization: Bearer <token>`).
///
/// Opaque to clients. Its `Debug` output is redacted so a token never ends up
/// in a log by accident; use [`SessionToken::expose`] where the secret itself
/// is needed (an `Authorization` header, saved credentials).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionToken(String);

impl SessionToken {
    /// Wraps a token string received from a server or loaded from storage.
    pub fn new(secret: impl Into<String>) -> Self {
        SessionToken(secret.into())
    }

    /// A fresh token with 244 random bits (two v4 UUIDs, from the operating
    /// system's secure random source), as 64 lowercase hex digits.
    pub fn new_random() -> Self {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        SessionToken(format!("{}{}", a.simple(), b.simple()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// A string was not a valid session id or epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseIdError {
    what: &'static str,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}: expected a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8",
            self.what
        )
    }
}

impl std::error::Error for ParseIdError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_round_trips_through_text_and_json() {
        let id = SessionId::new_random();
        assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), id);
        assert!("not-a-uuid".parse::<SessionId>().is_err());
    }

    #[test]
    fn tokens_are_long_distinct_and_redacted() {
        let a = SessionToken::new_random();
        let b = SessionToken::new_random();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
