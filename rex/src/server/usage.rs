//! Whether a room is in use: when it last had a message or a new session,
//! and how many event streams it has open. A host closes a room that has
//! been idle (no stream, nothing new) for its idle timeout.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Usage {
    /// What `last_ms` counts from: an atomic is cheaper on the message
    /// path than a lock around an `Instant`.
    base: Instant,
    /// Milliseconds from `base` to the last activity.
    last_ms: AtomicU64,
    /// Event streams open now.
    streams: AtomicUsize,
    /// Told when a stream closes: the room may become idle, and whoever
    /// watches for idle rooms (a host's reaper) must look again.
    wake: Arc<Notify>,
}

/// Held by an open event stream: the room is in use until it is dropped.
#[derive(Debug)]
pub(crate) struct InUse(Arc<Usage>);

impl Usage {
    /// A room in use from now on, watched by whoever `wake` wakes.
    pub(crate) fn new(wake: Arc<Notify>) -> Arc<Usage> {
        Arc::new(Usage {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            streams: AtomicUsize::new(0),
            wake,
        })
    }

    /// Something happened in the room now.
    pub(crate) fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// A stream opened; the room is in use while the result lives.
    pub(crate) fn open_stream(self: &Arc<Self>) -> InUse {
        self.streams.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InUse(self.clone())
    }

    /// Since when the room has been idle; `None` while a stream is open.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        if self.streams.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let ms = self.last_ms.load(Ordering::Relaxed);
        Some(self.base + std::time::Duration::from_millis(ms))
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.touch();
        self.0.streams.fetch_sub(1, Ordering::SeqCst);
        self.0.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_room_is_idle_from_its_last_activity_and_never_while_streaming() {
        let wake = Arc::new(Notify::new());
        let usage = Usage::new(wake.clone());
        let born = Instant::now();
        assert_eq!(usage.idle_since(), Some(born));
        tokio::time::advance(Duration::from_secs(5)).await;
        usage.touch();
        assert_eq!(usage.idle_since(), Some(born + Duration::from_secs(5)));
        let stream = usage.open_stream();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(usage.idle_since(), None);
        let notified = wake.notified();
        drop(stream);
        // Closing the stream is the last activity, and it says so.
        assert_eq!(usage.idle_since(), Some(born + Duration::from_secs(65)));
        tokio::time::timeout(Duration::from_secs(1), notified)
            .await
            .expect("closing a stream wakes the reaper");
    }
}
