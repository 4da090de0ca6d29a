//! Session activity, for the opt-in idle-session timeout
//! ([`ServerBuilder::session_idle_timeout`](super::ServerBuilder::session_idle_timeout)).
//!
//! A session is *active* while at least one event stream authenticated
//! with its token is open. Otherwise it is idle since the latest of: its
//! creation, its last authenticated request (a message, whatever its
//! outcome, or a snapshot), and the moment its last stream closed. A
//! session idle for the whole timeout expires: the app's `leave` hook runs
//! and its token stops working.
//!
//! Connection tasks record activity here without going through the app
//! actor (a lock held for a map update); the actor alone decides what has
//! expired, so `leave` runs on the app's task like every other hook.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rex_proto::SessionId;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::session::SessionMap;

/// What is known about one session's use.
#[derive(Clone, Copy, Debug)]
struct Use {
    /// When the session was last seen doing something, or when its last
    /// stream closed.
    last_seen: Instant,
    /// Event streams open with its token; while any is, it never expires.
    streams: usize,
}

/// Every live session's use, and a cheap bound on when the first may
/// expire.
#[derive(Debug, Default)]
struct Inner {
    sessions: SessionMap<SessionId, Use>,
    /// No session without a stream has been quiet since before this: a
    /// lower bound, kept in O(1) as sessions come and streams close, made
    /// exact by each scan ([`Activity::expired`]). The actor asks for the
    /// next expiry after every call, so a scan there would cost O(sessions)
    /// per message; waking at a bound that a later request pushed back
    /// costs one scan that finds nothing. `None`: no session can expire.
    quiet_since: Option<Instant>,
}

impl Inner {
    fn quiet_from(&mut self, at: Instant) {
        self.quiet_since = Some(self.quiet_since.map_or(at, |q| q.min(at)));
    }
}

/// The activity of every live session.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    inner: Mutex<Inner>,
    /// Wakes the actor when a stream closes: that session's expiry moves
    /// from "never" to a deadline the actor may not be waiting for yet.
    changed: Notify,
}

impl Activity {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session, active as of now.
    pub(crate) fn insert(&self, session: SessionId) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.sessions.insert(
            session,
            Use {
                last_seen: now,
                streams: 0,
            },
        );
        inner.quiet_from(now);
    }

    /// Whether `session` is live (has not expired).
    pub(crate) fn contains(&self, session: SessionId) -> bool {
        self.lock().sessions.contains_key(&session)
    }

    /// `session` did something (an authenticated request). It only moves
    /// the session's expiry later, so the bound stays a bound.
    pub(crate) fn touch(&self, session: SessionId) {
        if let Some(u) = self.lock().sessions.get_mut(&session) {
            u.last_seen = Instant::now();
        }
    }

    /// `session` opened an event stream; it stays active until the
    /// returned lease is dropped. `None` if the session no longer exists
    /// (it expired between authentication and now).
    pub(crate) fn open_stream(self: &Arc<Self>, session: SessionId) -> Option<StreamLease> {
        let mut inner = self.lock();
        let u = inner.sessions.get_mut(&session)?;
        u.streams += 1;
        u.last_seen = Instant::now();
        Some(StreamLease {
            activity: self.clone(),
            session,
        })
    }

    fn close_stream(&self, session: SessionId) {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(u) = inner.sessions.get_mut(&session) {
            u.streams = u.streams.saturating_sub(1);
            u.last_seen = now;
            if u.streams == 0 {
                inner.quiet_from(now);
            }
        }
        drop(inner);
        self.changed.notify_one();
    }

    /// Forgets `session` (it expired).
    pub(crate) fn remove(&self, session: SessionId) {
        self.lock().sessions.remove(&session);
    }

    /// When the next session may expire, if any could: not before this
    /// (later, if a scan then finds the session busy since). O(1).
    pub(crate) fn next_expiry(&self, idle: Duration) -> Option<Instant> {
        self.lock().quiet_since.map(|q| q + idle)
    }

    /// The sessions idle for at least `idle` at `now`, oldest first (so
    /// `leave` hooks run in the order the sessions went quiet). Scans every
    /// session, and makes the bound of [`Activity::next_expiry`] exact for
    /// those that remain.
    pub(crate) fn expired(&self, now: Instant, idle: Duration) -> Vec<SessionId> {
        let mut inner = self.lock();
        let mut expired = Vec::new();
        let mut quiet_since: Option<Instant> = None;
        for (id, u) in inner.sessions.iter().filter(|(_, u)| u.streams == 0) {
            if u.last_seen + idle <= now {
                expired.push((u.last_seen, *id));
            } else {
                quiet_since = Some(quiet_since.map_or(u.last_seen, |q| q.min(u.last_seen)));
            }
        }
        inner.quiet_since = quiet_since;
        expired.sort_unstable();
        expired.into_iter().map(|(_, id)| id).collect()
    }

    /// Completes when a stream closed since the last call.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Keeps a session active while an event stream of it is open.
#[derive(Debug)]
pub(crate) struct StreamLease {
    activity: Arc<Activity>,
    session: SessionId,
}

impl Drop for StreamLease {
    fn drop(&mut self) {
        self.activity.close_stream(self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_quiet_session_expires_after_the_idle_time_and_not_before() {
        let a = Arc::new(Activity::default());
        let s = SessionId::new_random();
        a.insert(s);
        let start = Instant::now();
        assert_eq!(a.next_expiry(IDLE), Some(start + IDLE));
        assert!(a
            .expired(start + IDLE - Duration::from_millis(1), IDLE)
            .is_empty());
        assert_eq!(a.expired(start + IDLE, IDLE), [s]);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_push_expiry_back_and_open_streams_prevent_it() {
        let a = Arc::new(Activity::default());
        let s = SessionId::new_random();
        a.insert(s);
        let start = Instant::now();
        tokio::time::advance(Duration::from_secs(30)).await;
        a.touch(s);
        // A touch leaves the bound where it was; the scan at the bound
        // finds nothing and makes it exact.
        assert_eq!(a.next_expiry(IDLE), Some(start + IDLE));
        assert!(a.expired(start + IDLE, IDLE).is_empty());
        assert_eq!(a.next_expiry(IDLE), Some(Instant::now() + IDLE));
        let lease = a.open_stream(s).unwrap();
        let second = a.open_stream(s).unwrap();
        tokio::time::advance(IDLE * 10).await;
        assert!(a.expired(Instant::now(), IDLE).is_empty());
        assert_eq!(
            a.next_expiry(IDLE),
            None,
            "a session with a stream never expires"
        );
        drop(lease);
        assert_eq!(a.next_expiry(IDLE), None, "one stream is still open");
        drop(second);
        // The idle time counts from when the last stream closed.
        assert_eq!(a.next_expiry(IDLE), Some(Instant::now() + IDLE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_session_cannot_open_a_stream() {
        let a = Arc::new(Activity::default());
        let s = SessionId::new_random();
        a.insert(s);
        a.remove(s);
        assert!(a.open_stream(s).is_none());
        assert!(a.expired(Instant::now() + IDLE, IDLE).is_empty());
        assert_eq!(a.next_expiry(IDLE), None);
    }
}
