//! The gate requests pass through, so shutdown can refuse new work and wait
//! for the work already admitted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Gate {
    closing: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// Held while an admitted request is handled.
#[derive(Debug)]
pub(crate) struct Pass(Arc<Gate>);

impl Gate {
    /// Admits a request, unless the server is shutting down.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<Pass> {
        // Count first, then look: with `close` doing the opposite, either
        // the request sees `closing` or `close` sees the request.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let pass = Pass(self.clone());
        (!self.closing.load(Ordering::SeqCst)).then_some(pass)
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Refuses new requests, then waits until every admitted one is done.
    pub(crate) async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn close_waits_for_admitted_work_and_refuses_new() {
        let gate = Arc::new(Gate::default());
        let pass = gate.enter().expect("open gate admits");
        let closing = tokio::spawn({
            let gate = gate.clone();
            async move { gate.close().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!closing.is_finished(), "close must wait for the pass");
        assert!(gate.enter().is_none(), "a closing gate refuses");
        drop(pass);
        tokio::time::timeout(Duration::from_secs(5), closing)
            .await
            .expect("close returns once the pass is dropped")
            .expect("no panic");
    }
}
