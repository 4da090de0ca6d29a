//! The open connections: how many there are in all and per client address,
//! which of them are idle, and closing idle ones to make room.
//!
//! Why: every connection costs a file descriptor, and a process has a fixed
//! number of those. Without a cap, a few hundred connections that never
//! finish a request exhaust them, `accept` fails, and nobody is served.
//! With a cap below the descriptor limit the server always has descriptors
//! left; with a cap per address one client cannot take them all; and
//! because an idle keep-alive connection (or one whose request head has not
//! arrived) is closed to make room for a new one, a client holding the
//! maximum in idle connections does not lock others out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

/// The caps, as configured on the builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Connections open at once, all clients together.
    pub(crate) total: usize,
    /// Connections open at once from one IP address.
    pub(crate) per_address: usize,
}

/// Why a new connection was not admitted: every connection that counts
/// against the cap it hit has a request in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The server holds `Limits::total` busy connections.
    Server(usize),
    /// This address holds `Limits::per_address` busy connections.
    Address(usize),
}

/// The connection table, shared by the accept loop and every connection.
#[derive(Debug)]
pub(crate) struct Registry {
    limits: Limits,
    state: Mutex<State>,
    /// Woken when the last connection closes (for shutdown).
    empty: Notify,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// Bumped each time a connection becomes idle: the oldest idle one is
    /// the one with the smallest stamp.
    clock: u64,
    /// Connections counted against the caps (not those already told to
    /// close).
    total: usize,
    per_address: HashMap<IpAddr, usize>,
    conns: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    address: IpAddr,
    /// Requests in flight (a response body not yet finished counts).
    busy: usize,
    idle_since: u64,
    /// Still counted against the caps; false once told to close.
    counted: bool,
    close: Arc<Notify>,
}

impl Registry {
    /// An empty table with these caps.
    pub(crate) fn new(limits: Limits) -> Arc<Registry> {
        Arc::new(Registry {
            limits,
            state: Mutex::default(),
            empty: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every
        // update is a few integer operations.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `address`, closing the longest-idle
    /// connection (of that address when its cap is the one reached) to make
    /// room if needed.
    pub(crate) fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Slot, Full> {
        let mut state = self.lock();
        let from_address = state.per_address.get(&address).copied().unwrap_or(0);
        if from_address >= self.limits.per_address && !state.evict_idle(Some(address)) {
            return Err(Full::Address(self.limits.per_address));
        }
        if state.total >= self.limits.total && !state.evict_idle(None) {
            return Err(Full::Server(self.limits.total));
        }
        let id = state.next_id;
        state.next_id += 1;
        state.clock += 1;
        let close = Arc::new(Notify::new());
        let entry = Entry {
            address,
            busy: 0,
            idle_since: state.clock,
            counted: true,
            close: close.clone(),
        };
        state.conns.insert(id, entry);
        state.total += 1;
        *state.per_address.entry(address).or_default() += 1;
        Ok(Slot {
            registry: self.clone(),
            id,
            close,
        })
    }

    /// Tells every open connection to close gracefully (shutdown): at once
    /// when idle, after its request in flight otherwise. A connection
    /// whose task has not waited yet finds the word when it does.
    pub(crate) fn close_all(&self) {
        for entry in self.lock().conns.values() {
            entry.close.notify_one();
        }
    }

    /// How many connections are open (including those closing).
    pub(crate) fn open(&self) -> usize {
        self.lock().conns.len()
    }

    /// Completes once no connection is open.
    pub(crate) async fn closed(&self) {
        loop {
            let empty = self.empty.notified();
            tokio::pin!(empty);
            empty.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            empty.await;
        }
    }
}

impl State {
    /// Tells the longest-idle connection (of `address`, if given) to close
    /// and stops counting it. False if every candidate is busy.
    fn evict_idle(&mut self, address: Option<IpAddr>) -> bool {
        let victim = self
            .conns
            .iter()
            .filter(|(_, e)| e.counted && e.busy == 0)
            .filter(|(_, e)| address.is_none_or(|a| e.address == a))
            .min_by_key(|(_, e)| e.idle_since)
            .map(|(id, _)| *id);
        let Some(entry) = victim.and_then(|id| self.conns.get_mut(&id)) else {
            return false;
        };
        entry.counted = false;
        entry.close.notify_one();
        let address = entry.address;
        self.uncount(address);
        tracing::debug!(%address, "closing an idle connection to make room");
        true
    }

    fn uncount(&mut self, address: IpAddr) {
        self.total -= 1;
        if let Some(n) = self.per_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
    }
}

/// One admitted connection; dropping it (when the connection ends) frees
/// its place.
#[derive(Debug)]
pub(crate) struct Slot {
    registry: Arc<Registry>,
    id: u64,
    close: Arc<Notify>,
}

impl Slot {
    /// Completes when the registry wants this connection closed: to make
    /// room (it was idle when chosen), or because the server shuts down.
    pub(crate) async fn evicted(&self) {
        self.close.notified().await;
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(crate) fn busy(&self) -> Busy {
        let mut state = self.registry.lock();
        if let Some(entry) = state.conns.get_mut(&self.id) {
            entry.busy += 1;
        }
        Busy {
            registry: self.registry.clone(),
            id: self.id,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        if let Some(entry) = state.conns.remove(&self.id) {
            if entry.counted {
                state.uncount(entry.address);
            }
        }
        if state.conns.is_empty() {
            self.registry.empty.notify_waiters();
        }
    }
}

/// A request in flight on a connection; the connection is idle again when
/// every `Busy` of it is dropped.
#[derive(Debug)]
pub(crate) struct Busy {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        state.clock += 1;
        let clock = state.clock;
        if let Some(entry) = state.conns.get_mut(&self.id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.idle_since = clock;
        }
    }
}

/// A response body that keeps its connection marked busy until it is
/// finished or dropped (an event stream is busy for its whole life).
pub(crate) struct Tracked<B> {
    pub(crate) inner: B,
    pub(crate) _busy: Busy,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn registry(total: usize, per_address: usize) -> Arc<Registry> {
        Registry::new(Limits { total, per_address })
    }

    #[test]
    fn busy_connections_hold_their_places() {
        let registry = registry(2, 2);
        let a = registry.admit(A).unwrap();
        let b = registry.admit(B).unwrap();
        let _busy = (a.busy(), b.busy());
        assert_eq!(registry.admit(B).unwrap_err(), Full::Server(2));
        drop(a);
        assert!(registry.admit(B).is_ok());
    }

    #[test]
    fn the_longest_idle_connection_makes_room() {
        let registry = registry(3, 3);
        let first = registry.admit(A).unwrap();
        let second = registry.admit(A).unwrap();
        let third = registry.admit(B).unwrap();
        // `first` served a request after `second` was opened: `second` has
        // been idle longer.
        drop(first.busy());
        let _busy = third.busy();
        let _new = registry.admit(B).unwrap();
        let evicted = second.close.clone();
        assert!(futures_util::FutureExt::now_or_never(evicted.notified()).is_some());
        assert_eq!(
            registry.open(),
            4,
            "the evicted one is open until it closes"
        );
        drop(second);
        assert_eq!(registry.open(), 3);
    }

    #[test]
    fn the_address_cap_evicts_only_that_addresses_connections() {
        let registry = registry(10, 2);
        let a1 = registry.admit(A).unwrap();
        let a2 = registry.admit(A).unwrap();
        let _b = registry.admit(B).unwrap();
        let _busy = (a1.busy(), a2.busy());
        assert_eq!(registry.admit(A).unwrap_err(), Full::Address(2));
        drop(_busy);
        assert!(registry.admit(A).is_ok());
        assert!(registry.admit(B).is_ok());
    }

    #[tokio::test]
    async fn closed_completes_when_the_last_connection_ends() {
        let registry = registry(4, 4);
        let slot = registry.admit(A).unwrap();
        let closed = tokio::spawn({
            let registry = registry.clone();
            async move { registry.closed().await }
        });
        tokio::task::yield_now().await;
        assert!(!closed.is_finished());
        drop(slot);
        closed.await.unwrap();
    }
}
