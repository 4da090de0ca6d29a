//! Admission limits: how fast one session may send messages, how fast one
//! client address may create sessions, and how many live sessions one
//! address may hold. Checked by the connection tasks before a request
//! reaches the app, so a refused request changes nothing.
//!
//! A "client address" is the TCP peer's IP address. `X-Forwarded-For` and
//! the like are not trusted: on a LAN any phone could write them, and a
//! server behind a proxy sees the proxy as one client (give it higher
//! limits, or none).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rex_proto::SessionId;
use tokio::time::Instant;

use super::bucket::{Bucket, Rate};

/// Default rate of `POST /messages` per session: 20 a second, bursts of 40.
/// A party game sends a few a second at its busiest.
pub const DEFAULT_MESSAGE_RATE: Rate = Rate::new(20, 40);
/// Default rate of `POST /sessions` per client address: bursts of 100 (a
/// class behind one NAT address joins at once), then 5 a second.
pub const DEFAULT_SESSION_RATE: Rate = Rate::new(5, 100);
/// Default number of live sessions one client address may hold: 256.
pub const DEFAULT_SESSIONS_PER_ADDRESS: usize = 256;

/// How many addresses get a bucket of their own. Past this (someone
/// cycling through IPv6 addresses), new addresses share one bucket, so the
/// table stays small (about 64 bytes an address) whatever arrives.
const MAX_TRACKED_ADDRESSES: usize = 4096;

/// The limits a server applies, as set on the builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) message_rate: Rate,
    pub(crate) session_rate: Rate,
    pub(crate) sessions_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_rate: DEFAULT_MESSAGE_RATE,
            session_rate: DEFAULT_SESSION_RATE,
            sessions_per_address: DEFAULT_SESSIONS_PER_ADDRESS,
        }
    }
}

/// Why a request was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too fast; a token is back after this long.
    Rate(Duration),
    /// This address holds its limit of live sessions.
    Quota(usize),
}

/// The state behind [`Limits`], shared by every connection task.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: Limits,
    messages: Mutex<BucketTable<SessionId>>,
    sessions: Mutex<BucketTable<IpAddr>>,
    live: Mutex<LiveSessions>,
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            // Bounded by the session table: one bucket per session at most.
            messages: Mutex::new(BucketTable::new(usize::MAX)),
            sessions: Mutex::new(BucketTable::new(MAX_TRACKED_ADDRESSES)),
            live: Mutex::new(LiveSessions::default()),
        }
    }

    /// Admits one message of `session`, or says how long to wait.
    pub(crate) fn message(&self, session: SessionId) -> Result<(), Refusal> {
        let mut table = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .take(session, self.limits.message_rate, Instant::now())
            .map_err(Refusal::Rate)
    }

    /// Admits one session creation from `addr`: takes a token and reserves
    /// a place in the address's quota, which the caller commits once the
    /// session exists (or drops, and the place is free again).
    pub(crate) fn session(&self, addr: IpAddr) -> Result<Reservation<'_>, Refusal> {
        {
            let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            if live.count(addr) >= self.limits.sessions_per_address {
                return Err(Refusal::Quota(self.limits.sessions_per_address));
            }
            // Check the rate with the quota held, so a refused request
            // neither takes a token nor a place.
            let mut table = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            table
                .take(addr, self.limits.session_rate, Instant::now())
                .map_err(Refusal::Rate)?;
            live.reserve(addr);
        }
        Ok(Reservation {
            admission: self,
            addr,
            committed: false,
        })
    }

    /// A session ended (left or expired): its address may create another,
    /// and its message bucket is forgotten.
    pub(crate) fn session_ended(&self, session: SessionId) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.end(session);
        drop(live);
        let mut table = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
        table.buckets.remove(&session);
    }
}

/// A rate per client address, for one kind of request (a host's room
/// creation).
#[derive(Debug)]
pub(crate) struct AddressRate {
    rate: Rate,
    table: Mutex<BucketTable<IpAddr>>,
}

impl AddressRate {
    pub(crate) fn new(rate: Rate) -> AddressRate {
        AddressRate {
            rate,
            table: Mutex::new(BucketTable::new(MAX_TRACKED_ADDRESSES)),
        }
    }

    /// Admits one request from `addr`, or says how long to wait.
    pub(crate) fn take(&self, addr: IpAddr) -> Result<(), Refusal> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .take(addr, self.rate, Instant::now())
            .map_err(Refusal::Rate)
    }
}

/// A place in an address's quota of live sessions, held while the session
/// is being created.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    admission: &'a Admission,
    addr: IpAddr,
    committed: bool,
}

impl Reservation<'_> {
    /// The session exists: it keeps the place until it ends.
    pub(crate) fn commit(mut self, session: SessionId) {
        self.committed = true;
        let mut live = self
            .admission
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        live.owner.insert(session, self.addr);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let mut live = self
                .admission
                .live
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            live.release(self.addr);
        }
    }
}

/// Buckets by key, forgetting the ones that refilled (a full bucket is the
/// same as a new one) so the table holds only recently busy keys.
#[derive(Debug)]
struct BucketTable<K> {
    buckets: HashMap<K, Bucket>,
    /// Shared by keys that arrive while the table is at `max_keys`.
    overflow: Option<Bucket>,
    max_keys: usize,
    /// Prune when the table reaches this size; doubles with what survives.
    prune_at: usize,
}

/// The smallest table that is pruned: below it, pruning is not worth it.
const MIN_PRUNE: usize = 64;

impl<K: Hash + Eq + Copy> BucketTable<K> {
    fn new(max_keys: usize) -> Self {
        BucketTable {
            buckets: HashMap::new(),
            overflow: None,
            max_keys,
            prune_at: MIN_PRUNE,
        }
    }

    fn take(&mut self, key: K, rate: Rate, now: Instant) -> Result<(), Duration> {
        if let Some(bucket) = self.buckets.get_mut(&key) {
            return bucket.take(rate, now);
        }
        if self.buckets.len() >= self.prune_at.min(self.max_keys) {
            self.buckets.retain(|_, b| !b.is_full(now));
            self.prune_at = (self.buckets.len() * 2).max(MIN_PRUNE);
        }
        if self.buckets.len() >= self.max_keys {
            return self
                .overflow
                .get_or_insert_with(|| Bucket::new(now))
                .take(rate, now);
        }
        let mut bucket = Bucket::new(now);
        let taken = bucket.take(rate, now);
        // A refused first take (a burst of 0 cannot happen) would leave a
        // full bucket, which need not be kept.
        if !bucket.is_full(now) {
            self.buckets.insert(key, bucket);
        }
        taken
    }
}

/// Live sessions per address.
#[derive(Debug, Default)]
struct LiveSessions {
    /// Sessions (and reservations) per address; no zero entries.
    per_address: HashMap<IpAddr, usize>,
    /// Which address created each live session.
    owner: HashMap<SessionId, IpAddr>,
}

impl LiveSessions {
    fn count(&self, addr: IpAddr) -> usize {
        self.per_address.get(&addr).copied().unwrap_or(0)
    }

    fn reserve(&mut self, addr: IpAddr) {
        *self.per_address.entry(addr).or_insert(0) += 1;
    }

    fn release(&mut self, addr: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&addr);
            }
        }
    }

    fn end(&mut self, session: SessionId) {
        if let Some(addr) = self.owner.remove(&session) {
            self.release(addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    fn admission(per_second: u32, burst: u32, quota: usize) -> Admission {
        Admission::new(Limits {
            message_rate: Rate::new(per_second, burst),
            session_rate: Rate::new(per_second, burst),
            sessions_per_address: quota,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn each_session_has_its_own_bucket() {
        let a = admission(1, 2, 10);
        let (alice, bob) = (SessionId::new_random(), SessionId::new_random());
        assert!(a.message(alice).is_ok() && a.message(alice).is_ok());
        assert!(matches!(a.message(alice), Err(Refusal::Rate(_))));
        assert!(a.message(bob).is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(a.message(alice).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_quota_counts_live_sessions_and_reservations() {
        let a = admission(100, 100, 2);
        let first = a.session(ip(1)).unwrap();
        let second = a.session(ip(1)).unwrap();
        assert_eq!(a.session(ip(1)).unwrap_err(), Refusal::Quota(2));
        assert!(a.session(ip(2)).is_ok(), "another address is not affected");
        // A creation that failed frees its place.
        drop(second);
        let s = SessionId::new_random();
        a.session(ip(1)).unwrap().commit(s);
        first.commit(SessionId::new_random());
        assert_eq!(a.session(ip(1)).unwrap_err(), Refusal::Quota(2));
        a.session_ended(s);
        assert!(a.session(ip(1)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_creation_takes_no_token_and_no_place() {
        let a = admission(1, 1, 5);
        a.session(ip(1)).unwrap().commit(SessionId::new_random());
        for _ in 0..10 {
            assert!(matches!(a.session(ip(1)), Err(Refusal::Rate(_))));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        a.session(ip(1)).unwrap().commit(SessionId::new_random());
        let live = a.live.lock().unwrap();
        assert_eq!(live.count(ip(1)), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_address_table_stays_bounded() {
        let mut table = BucketTable::new(100);
        let rate = Rate::new(1, 1);
        let now = Instant::now();
        for n in 0..100_000 {
            let _ = table.take(ip(n), rate, now);
        }
        assert!(table.buckets.len() <= 100);
        // Past the cap, the newcomers share one bucket.
        assert!(table.take(ip(u32::MAX), rate, now).is_err());
        // Refilled buckets are forgotten on the next prune.
        let later = now + Duration::from_secs(2);
        for n in 0..(MIN_PRUNE as u32) {
            let _ = table.take(ip(1_000_000 + n), rate, later);
        }
        assert!(
            table.buckets.len() <= MIN_PRUNE + 1,
            "{}",
            table.buckets.len()
        );
    }
}
